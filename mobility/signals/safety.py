"""Safety validation of signal plans, shared by everything that produces or accepts a plan.

The junction model (:class:`SignalModel`) comes from the SUMO network: which movement each signal
index controls and which pairs of movements conflict (the junction's foe matrix, ``<request foes=...
response=...>``). :func:`validate_plan` checks a :class:`~mobility.signals.SignalPlan` against it:

- ``link_count``: the plan has one signal per link of the junction;
- ``conflict``: no two conflicting movements green together, unless one of them is a permissive
  (``g``) turn that the network makes yield to the other (a permissive through only against a movement from a
  nearly opposite approach, more than 120 degrees apart), or the two are compatible as a conflict monitor
  has them (:func:`compatible`: movements of one approach; opposing left turns);
- ``yellow``: at least ``min_yellow_s`` (3 s) of yellow whenever a vehicle movement loses its green
  (pedestrian crossings clear without yellow);
- ``all_red``: all-red time >= 0;
- ``min_green``: each stage's green at least its minimum (and the minimum not above the maximum);
- ``cycle``: the stage times sum to the cycle;
- ``offset``: 0 <= offset < cycle;
- ``coverage``: every signalled movement gets green in some stage (except the plan's ``closed_links``, which a
  city's program may keep red throughout).

:func:`check_plan` raises :class:`UnsafePlanError` carrying every violation; each names the junction,
the stage and the movements, and has a machine-readable form (:meth:`Violation.as_dict`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .._errors import InputError, missing_file
from .._io import cached_by_file, open_maybe_gzip
from .plan import SignalPlan

__all__ = ["Movement", "SignalModel", "UnsafePlanError", "Violation", "check_plan", "check_states", "compatible",
           "overlapping_plans",
           "signal_models", "validate_plan", "validity_overlaps"]

ViolationKind = Literal["link_count", "conflict", "yellow", "all_red", "min_green", "cycle", "offset", "coverage",
                        "overlap", "actuation", "max_red"]


@dataclass(frozen=True)
class Movement:
    """What one signal index controls: its connections (from lane -> to lane) at one junction."""

    index: int
    node: str
    from_edge: str
    to_edge: str
    direction: str
    from_lanes: tuple[str, ...]
    to_lanes: tuple[str, ...]
    lane_pairs: tuple[tuple[str, str], ...] = ()
    approach_deg: float = float("nan")

    @property
    def pedestrian(self) -> bool:
        """A pedestrian crossing's signal (SUMO links from a walking area ``:J_w*`` to a crossing ``:J_c*``)."""
        return self.from_edge.startswith(":") or self.to_edge.startswith(":")

    def angle_to(self, other: Movement) -> float:
        """Angle between the two movements' approach headings, degrees in [0, 180] (NaN without geometry)."""
        return abs((self.approach_deg - other.approach_deg + 180.0) % 360.0 - 180.0)

    def label(self) -> str:
        return f"{self.index} ({self.from_edge}->{self.to_edge}, {_DIRS.get(self.direction, self.direction)})"


_DIRS = {"s": "through", "l": "left", "r": "right", "t": "u-turn", "L": "partly left", "R": "partly right"}


@dataclass(frozen=True)
class SignalModel:
    """The controller model of one traffic light: its movements and their conflicts.

    Attributes
    ----------
    tls : str
    n_links : int
    movements : dict of int to Movement
        Signal index -> movement (indices with no connection are absent).
    foes : bool array (n_links, n_links)
        ``foes[i, j]``: the movements cross or merge.
    yields : bool array (n_links, n_links)
        ``yields[i, j]``: movement ``i`` must give way to ``j`` when both are green.
    position : tuple of float, m, optional
        Where the signal stands (mean of its junctions' coordinates in the network), for maps.
    """

    tls: str
    n_links: int
    movements: dict[int, Movement]
    foes: np.ndarray = field(repr=False)
    yields: np.ndarray = field(repr=False)
    position: tuple[float, float] | None = None

    def label(self, i: int) -> str:
        m = self.movements.get(i)
        return m.label() if m else str(i)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (conflicts as index pairs), read back by :meth:`from_dict`."""
        pairs = lambda a: [[int(i), int(j)] for i, j in zip(*np.nonzero(a), strict=True)]
        return {"tls": self.tls, "n_links": self.n_links,
                "movements": [{"index": m.index, "node": m.node, "from_edge": m.from_edge, "to_edge": m.to_edge,
                               "direction": m.direction, "from_lanes": list(m.from_lanes), "to_lanes": list(m.to_lanes),
                               "lane_pairs": [list(p) for p in m.lane_pairs],
                               **({"approach_deg": m.approach_deg} if np.isfinite(m.approach_deg) else {})}
                              for _, m in sorted(self.movements.items())],
                "foes": pairs(self.foes), "yields": pairs(self.yields),
                **({"position": [round(self.position[0], 2), round(self.position[1], 2)]} if self.position else {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignalModel:
        n = int(d["n_links"])
        mats = {}
        for name in ("foes", "yields"):
            a = np.zeros((n, n), dtype=bool)
            for i, j in d.get(name, []):
                a[int(i), int(j)] = True
            mats[name] = a
        movements = {int(m["index"]): Movement(int(m["index"]), m["node"], m["from_edge"], m["to_edge"], m["direction"],
                                               tuple(m["from_lanes"]), tuple(m["to_lanes"]),
                                               tuple(tuple(p) for p in m.get("lane_pairs", [])),
                                               float(m.get("approach_deg", float("nan"))))
                     for m in d["movements"]}
        pos = d.get("position")
        return cls(tls=str(d["tls"]), n_links=n, movements=movements, **mats,
                   position=(float(pos[0]), float(pos[1])) if pos else None)

    def incoming_lanes(self) -> list[str]:
        """Approach lanes, in signal-index order of their first movement."""
        seen: dict[str, None] = {}
        for i in sorted(self.movements):
            for ln in self.movements[i].from_lanes:
                seen.setdefault(ln)
        return list(seen)


@dataclass(frozen=True)
class Violation:
    """One broken safety rule."""

    kind: ViolationKind
    junction: str
    stage: int | None
    movements: tuple[int, ...]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "junction": self.junction, "stage": self.stage,
                "movements": list(self.movements), "message": self.message}

    def __str__(self) -> str:
        return self.message


class UnsafePlanError(InputError):
    """A plan broke one or more safety rules; ``violations`` lists them all."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        head = violations[0].message
        more = f" (and {len(violations) - 1} more violation(s))" if len(violations) > 1 else ""
        super().__init__(f"unsafe signal plan: {head}{more}")


@cached_by_file
def signal_models(net_file: str | Path) -> dict[str, SignalModel]:
    """The controller model of every traffic light in a SUMO network, ``{tls id: SignalModel}``.

    Parameters
    ----------
    net_file : path
        A SUMO ``.net.xml``.

    Returns
    -------
    dict of str to SignalModel
    """
    path = Path(net_file)
    if not path.is_file():
        raise missing_file(path, "SUMO network")
    from .._sumoxml import check_network_file

    check_network_file(path)  # linkIndex, request index and every other attribute read below, typed
    edge_to: dict[str, str] = {}
    conns: list[dict[str, str]] = []
    junctions: dict[str, dict[str, Any]] = {}
    state_len: dict[str, int] = {}
    heading: dict[str, float] = {}
    try:
        fh = open_maybe_gzip(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the network ({exc})") from None
    try:
        for _, el in ET.iterparse(fh, events=("end",)):
            tag = el.tag
            if tag == "lane":
                heading[el.get("id", "")] = _end_heading(el.get("shape", ""))
            elif tag == "edge" and el.get("function") != "internal":
                edge_to[el.get("id", "")] = el.get("to", "")
                el.clear()
            elif tag == "connection":
                if el.get("tl"):
                    conns.append(dict(el.attrib))
            elif tag == "junction":
                reqs = {int(r.get("index", -1)): (r.get("foes", ""), r.get("response", "")) for r in el.iter("request")}
                junctions[el.get("id", "")] = {"int": el.get("intLanes", "").split(), "inc": el.get("incLanes", "").split(),
                                               "req": reqs, "xy": (_coord(el.get("x")), _coord(el.get("y")))}
                el.clear()
            elif tag == "tlLogic":
                ph = el.find("phase")
                if ph is not None:
                    state_len.setdefault(el.get("id", ""), len(ph.get("state", "")))
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(f"{path}:{line}:{col}: broken network XML ({exc.msg}); regenerate it with netconvert") from None
    except EOFError as exc:
        raise InputError(f"{path}: the compressed network is truncated ({exc}); regenerate it with netconvert") from None
    finally:
        fh.close()

    # junction request index of each connection: position of its first internal lane in intLanes,
    # or (networks built without internal links) its rank among the junction's connections
    rank: dict[int, int] = {}
    by_node_lane: dict[str, dict[str, list[int]]] = {}
    for k, c in enumerate(conns):
        node = edge_to.get(c["from"], "")
        by_node_lane.setdefault(node, {}).setdefault(f"{c['from']}_{c['fromLane']}", []).append(k)
    for node, lanes in by_node_lane.items():
        j = junctions.get(node)
        if j is None:
            continue
        r = 0
        for lane in j["inc"]:
            for k in lanes.get(lane, []):
                rank[k] = r
                r += 1

    per_tls: dict[str, list[tuple[int, str, int, dict[str, str]]]] = {}
    for k, c in enumerate(conns):
        node = edge_to.get(c["from"], "")
        j = junctions.get(node, {"int": [], "req": {}})
        via = c.get("via", "")
        req = j["int"].index(via) if via and via in j["int"] else rank.get(k, -1)
        per_tls.setdefault(c["tl"], []).append((int(c["linkIndex"]), node, req, c))

    models: dict[str, SignalModel] = {}
    for tls, items in per_tls.items():
        n = max(state_len.get(tls, 0), max(i for i, *_ in items) + 1)
        grouped: dict[int, list[tuple[str, int, dict[str, str]]]] = {}
        for i, node, req, c in items:
            grouped.setdefault(i, []).append((node, req, c))
        movements = {}
        for i, cs in grouped.items():
            c0 = cs[0][2]
            movements[i] = Movement(
                index=i, node=cs[0][0], from_edge=c0["from"], to_edge=c0["to"], direction=c0.get("dir", ""),
                from_lanes=tuple(dict.fromkeys(f"{c['from']}_{c['fromLane']}" for _, _, c in cs)),
                to_lanes=tuple(dict.fromkeys(f"{c['to']}_{c['toLane']}" for _, _, c in cs)),
                lane_pairs=tuple(dict.fromkeys((f"{c['from']}_{c['fromLane']}", f"{c['to']}_{c['toLane']}") for _, _, c in cs)),
                approach_deg=heading.get(f"{c0['from']}_{c0['fromLane']}", float("nan")))
        foes = np.zeros((n, n), dtype=bool)
        yields = np.zeros((n, n), dtype=bool)
        for i, ci in grouped.items():
            for j, cj in grouped.items():
                if i == j:
                    continue
                for node_a, ra, _ in ci:
                    for node_b, rb, _ in cj:
                        if node_a != node_b or ra < 0 or rb < 0:
                            continue
                        f, resp = junctions[node_a]["req"].get(ra, ("", ""))
                        if f and len(f) > rb and f[len(f) - 1 - rb] == "1":
                            foes[i, j] = True
                        if resp and len(resp) > rb and resp[len(resp) - 1 - rb] == "1":
                            yields[i, j] = True
        foes |= foes.T
        xy = np.array([junctions[nd]["xy"] for nd in {m.node for m in movements.values()} if nd in junctions]).reshape(-1, 2)
        xy = xy[np.isfinite(xy).all(axis=1)]
        position = (float(xy[:, 0].mean()), float(xy[:, 1].mean())) if len(xy) else None
        models[tls] = SignalModel(tls=tls, n_links=n, movements=movements, foes=foes, yields=yields, position=position)
    return models


def _coord(text: str | None) -> float:
    """A junction coordinate, NaN where it is missing or not a number (it only places the signal on maps)."""
    try:
        return float(text) if text is not None else float("nan")
    except ValueError:
        return float("nan")


def _end_heading(shape: str) -> float:
    """Direction (degrees, 0 = east, counter-clockwise) of a lane's last segment; NaN without a shape."""
    try:
        pts = [tuple(map(float, p.split(",")[:2])) for p in shape.split()]
    except ValueError:
        return float("nan")
    for k in range(len(pts) - 1, 0, -1):  # the last segment of non-zero length
        (x0, y0), (x1, y1) = pts[k - 1], pts[k]
        if (x1 - x0) ** 2 + (y1 - y0) ** 2 > 1e-6:
            return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)) % 360.0)
    return float("nan")


def compatible(model: SignalModel, a: int, b: int) -> bool:
    """Whether two movements that SUMO's foe matrix marks as foes may still be green together, as a conflict
    monitor's compatibility table has them (the NEMA dual ring):

    - the movements of one approach: a protected left beside a protected through, two left-turn lanes merging
      into one receiving lane (SUMO marks these as foes at joined junctions and where lanes merge, and cities
      run them together);
    - movements of opposite approaches (headings within 30 degrees of opposite) into different roads, unless
      one turns left (or makes a u-turn) across the other's through: opposing throughs (phases 2 + 6),
      opposing lefts (1 + 5), a right beside the opposing through.

    Movements of perpendicular approaches, movements into the same road (merging), and a left across the
    opposing through stay conflicts (a permissive left that yields is allowed by the caller)."""
    ma, mb = model.movements.get(a), model.movements.get(b)
    if ma is None or mb is None:
        return False
    if ma.from_edge == mb.from_edge:
        return True
    if ma.to_edge == mb.to_edge:
        return False
    if not ma.angle_to(mb) >= 150.0:  # NaN (no geometry) is not opposite
        return False
    across = ma.direction[:1] in "lLt"
    across_b = mb.direction[:1] in "lLt"
    return not ((across and mb.direction == "s") or (across_b and ma.direction == "s"))


def _clear_time(model: SignalModel, plan: SignalPlan, i: int, k: int) -> float:
    """Seconds from the end of stage ``k``'s green, when movement ``i`` loses its green, until a movement in
    conflict with it gets green (infinite when none ever does)."""
    stages = plan.stages
    t = stages[k].yellow_s + stages[k].all_red_s
    for step in range(1, len(stages) + 1):
        st = stages[(k + step) % len(stages)]
        if any(model.foes[i, j] and not compatible(model, i, j) for j in st.served if j != i):
            return t
        t += st.duration_s
    return float("inf")


def validate_plan(plan: SignalPlan, model: SignalModel | None = None, *, min_yellow_s: float = 3.0,
                  tolerance_s: float = 0.01) -> list[Violation]:
    """Every safety rule ``plan`` breaks (an empty list for a safe plan).

    Without ``model`` only the timing rules are checked (yellow, all-red, minimum green, cycle, offset).

    Parameters
    ----------
    plan : SignalPlan
    model : SignalModel, optional
    min_yellow_s : float, s
        Shortest yellow accepted.
    tolerance_s : float, s
        Slack on time comparisons.

    Returns
    -------
    list of Violation
    """
    j = plan.junction
    out: list[Violation] = []

    def add(kind: ViolationKind, stage: int | None, movements: tuple[int, ...], msg: str) -> None:
        where = f"junction {j}" + (f", stage {stage}" + (f" ({plan.stages[stage].name!r})" if plan.stages[stage].name else "")
                                   if stage is not None else "")
        out.append(Violation(kind, j, stage, movements, f"{where}: {msg}"))

    label = model.label if model is not None else str

    def may_yield(i: int, j: int) -> bool:
        # turning movements may run permissive against a conflicting green; a through only against a movement
        # from a nearly opposite approach (more than 120 degrees apart: at five-arm and skewed junctions the
        # "throughs" cross at a shallow angle, as an opposing left does); crossing throughs never do
        m = model.movements.get(i) if model is not None else None
        if m is None:
            return False
        if m.direction != "s":
            return True
        o = model.movements.get(j)
        return o is not None and m.angle_to(o) > 120.0

    if model is not None and plan.n_links != model.n_links:
        add("link_count", None, (), f"the plan has {plan.n_links} signals but the junction has {model.n_links}; "
            "give one signal per link of the junction's traffic light")
        return out
    stages = plan.stages
    served = [st.served for st in stages]
    for k, st in enumerate(stages):
        if model is not None:
            s = sorted(served[k])
            perm = set(st.permissive)
            for a_i, a in enumerate(s):
                for b in s[a_i + 1:]:
                    if not model.foes[a, b] or compatible(model, a, b):
                        continue
                    if (a in perm and model.yields[a, b] and may_yield(a, b)) or (b in perm and model.yields[b, a] and may_yield(b, a)):
                        continue
                    how = "both protected" if a not in perm and b not in perm else "and neither permissive movement yields to the other"
                    add("conflict", k, (a, b), f"conflicting movements {label(a)} and {label(b)} are green together ({how}); "
                        "serve them in different stages, or make the minor one permissive ('g') where the network lets it yield")
        nxt = stages[(k + 1) % len(stages)]
        # a movement losing its green, or its protection (G -> g), needs a yellow
        losing = tuple(sorted((served[k] - nxt.served) | (set(st.green) & set(nxt.permissive))))
        if model is not None:  # pedestrian signals clear with flashing "don't walk", not yellow (SUMO has none)
            losing = tuple(i for i in losing if i in model.movements and not model.movements[i].pedestrian)
        if losing and st.yellow_s < min_yellow_s - 1e-9 and model is not None:
            # a movement may also end without its yellow when none of its conflicting movements gets green
            # within min_yellow_s: the intergreen time that European practice times (RiLSA)
            losing = tuple(i for i in losing if _clear_time(model, plan, i, k) < min_yellow_s - 1e-9)
        if losing and st.yellow_s < min_yellow_s - 1e-9:
            add("yellow", k, losing, f"yellow is {st.yellow_s:g} s but movements {', '.join(label(i) for i in losing)} lose "
                f"their green; give at least {min_yellow_s:g} s of yellow")
        if st.all_red_s < 0:
            add("all_red", k, (), f"all-red is {st.all_red_s:g} s; it must be >= 0")
        if st.green_s < st.min_green_s - 1e-9:
            add("min_green", k, tuple(sorted(served[k])), f"green is {st.green_s:g} s, below the minimum green of "
                f"{st.min_green_s:g} s; lengthen the green")
        if st.min_green_s > st.max_green_s + 1e-9:
            add("min_green", k, (), f"minimum green {st.min_green_s:g} s exceeds maximum green {st.max_green_s:g} s")
    if plan.actuation is not None:
        _check_actuation(plan, add)
    total = sum(st.duration_s for st in stages)
    if abs(total - plan.cycle_s) > tolerance_s:
        add("cycle", None, (), f"stage times sum to {total:g} s but the cycle is {plan.cycle_s:g} s; "
            "make green + yellow + all-red of all stages add up to the cycle")
    if not (0 <= plan.offset_s < plan.cycle_s):
        add("offset", None, (), f"offset {plan.offset_s:g} s is outside [0, cycle {plan.cycle_s:g} s); "
            "take it modulo the cycle")
    if model is not None:
        moving = set().union(*served) | {i for st in stages for i in st.stop}
        missing = tuple(i for i in sorted(model.movements)
                        if i not in moving and i not in plan.off_links and i not in plan.closed_links)
        if missing:
            add("coverage", None, missing, f"movements {', '.join(label(i) for i in missing)} never get green; "
                "serve each in at least one stage")
        if plan.actuation is not None and plan.actuation.skip and plan.actuation.jam_threshold_s <= 0:
            for lane, links in sorted(uncallable_lanes(plan, model).items()):
                add("actuation", None, links, f"lane {lane} can never call a green (no stage gives all its movements "
                    "a protected green, so its detector is not used) and a stage-skipping plan would leave it "
                    "waiting; set actuation.jam_threshold_s > 0 so every lane's detector calls, or add a stage")
    return out


def uncallable_lanes(plan: SignalPlan, model: SignalModel) -> dict[str, tuple[int, ...]]:
    """Approach lanes whose detector SUMO's actuated control would not use: no stage gives every movement from
    the lane a protected green (``G``). ``{lane: its movements}``."""
    by_lane: dict[str, set[int]] = {}
    for i, m in model.movements.items():
        if m.pedestrian or i in plan.off_links or i in plan.closed_links:
            continue
        for ln in m.from_lanes:
            by_lane.setdefault(ln, set()).add(i)
    return {ln: tuple(sorted(links)) for ln, links in by_lane.items()
            if not any(links <= set(st.green) for st in plan.stages)}


#: Shortest minimum green an actuated stage may have, s (a field controller's floor for vehicle phases).
MIN_ACTUATED_GREEN_S = 3.0


def _check_actuation(plan: SignalPlan, add: Callable[..., None]) -> None:
    """The timing rules of actuated and coordinated-actuated plans."""
    act = plan.actuation
    assert act is not None
    stages = plan.stages
    for k, st in enumerate(stages):
        if st.min_green_s < MIN_ACTUATED_GREEN_S - 1e-9:
            add("actuation", k, (), f"minimum green {st.min_green_s:g} s is below {MIN_ACTUATED_GREEN_S:g} s; an "
                "actuated stage may end after its minimum green, so give it at least that")
        if st.max_green_s < st.min_green_s - 1e-9:
            add("actuation", k, (), f"maximum green {st.max_green_s:g} s is shorter than the minimum green "
                f"{st.min_green_s:g} s; make the maximum at least the minimum")
        elif not st.min_green_s - 1e-9 <= st.green_s <= st.max_green_s + 1e-9:
            add("actuation", k, (), f"green {st.green_s:g} s lies outside [minimum {st.min_green_s:g}, maximum "
                f"{st.max_green_s:g}] s; an actuated stage's nominal green must lie between them")
    if act.skip:  # any stage may follow any other: each stage's clearance must hold for every successor
        for k, st in enumerate(stages):
            losing = set(st.served) - set().union(*(set(o.served) for j, o in enumerate(stages) if j != k) or [set()])
            ends_somewhere = any(set(st.served) - set(o.served) for j, o in enumerate(stages) if j != k)
            if ends_somewhere and st.yellow_s < 3.0 - 1e-9:
                add("actuation", k, tuple(sorted(losing)), f"yellow is {st.yellow_s:g} s; a stage that may be followed "
                    "by any other (stage skipping) needs at least 3 s of yellow")
    if act.coordinated:
        c = act.coordinated_stage
        others = sum(st.min_green_s + st.yellow_s + st.all_red_s for k, st in enumerate(stages) if k != c)
        own = stages[c].yellow_s + stages[c].all_red_s
        if others + own + stages[c].min_green_s > plan.cycle_s + 1e-6:
            add("actuation", None, (), f"the stages' minimum greens and clearances take {others + own + stages[c].min_green_s:g} s, "
                f"more than the cycle of {plan.cycle_s:g} s: a coordinated plan cannot keep its cycle; lengthen the "
                "cycle or shorten minimum greens")
        need = plan.cycle_s - others - own
        if stages[c].max_green_s < need - 1e-6:
            add("actuation", c, (), f"the coordinated stage's maximum green {stages[c].max_green_s:g} s cannot reach its "
                f"yield point when the other stages gap out at their minimum (up to {need:g} s of green); raise it "
                f"to at least {need:g} s")


def check_plan(plan: SignalPlan, model: SignalModel | None = None, **kwargs: Any) -> SignalPlan:
    """Return ``plan`` if it is safe; raise :class:`UnsafePlanError` naming every violation otherwise.

    Parameters
    ----------
    plan : SignalPlan
    model : SignalModel, optional
        The junction's controller model (without it, the timing rules only).
    **kwargs
        :func:`validate_plan`'s settings.

    Returns
    -------
    SignalPlan
        ``plan`` itself.

    Raises
    ------
    UnsafePlanError
    """
    v = validate_plan(plan, model, **kwargs)
    if v:
        raise UnsafePlanError(v)
    return plan


def validity_overlaps(a: SignalPlan, b: SignalPlan) -> bool:
    """Whether two plans' validity periods share a moment (a day in common and overlapping times of day)."""
    va, vb = a.validity, b.validity
    return bool(set(va.days) & set(vb.days)) and va.start_s < vb.end_s and vb.start_s < va.end_s


def overlapping_plans(plans: list[SignalPlan]) -> list[Violation]:
    """Violations for plans of one junction whose validity periods overlap: only one plan may be in force at a
    time (the service and ``mobility signals validate`` share this check)."""
    out = []
    by_junction: dict[str, list[SignalPlan]] = {}
    for p in plans:
        by_junction.setdefault(p.junction, []).append(p)
    for j, ps in by_junction.items():
        for a_i, a in enumerate(ps):
            for b in ps[a_i + 1:]:
                if validity_overlaps(a, b):
                    out.append(Violation("overlap", j, None, (), (
                        f"junction {j}: plans {a.plan_id} v{a.version} and {b.plan_id} v{b.version} are both in force on "
                        f"{','.join(d for d in a.validity.days if d in b.validity.days)} between "
                        f"{max(a.validity.start_s, b.validity.start_s):g} and {min(a.validity.end_s, b.validity.end_s):g} s; "
                        "give each time of day one plan (validity days, start_s, end_s)")))
    return out


def check_states(log: list[tuple[float, str]], model: SignalModel, *, min_yellow_s: float = 3.0,
                 min_clear_s: float = 0.0, min_green_s: float = 0.0, max_red_s: float | None = None) -> list[Violation]:
    """Check the states a signal showed over time, as a conflict monitor would: no two conflicting movements
    green at once (a permissive ``g`` beside a protected conflict yields and is allowed where SUMO's program
    has it that way: only two protected ``G`` in conflict are refused), every green ends through yellow of at
    least ``min_yellow_s``, and a movement in conflict with one that just lost its yellow gets green no sooner
    than ``min_clear_s`` after; every green that ends lasted at least ``min_green_s``, and no red that ends
    lasted longer than ``max_red_s``.

    Parameters
    ----------
    log : list of (time s, SUMO state string)
        Each state from the time it was set until the next entry.
    model : SignalModel
    min_yellow_s : float, s
    min_clear_s : float, s
        All-red the conflicting movements get after a yellow.
    min_green_s : float, s
        Shortest green a movement may get (a green still showing at the end of the log is not judged).
    max_red_s : float, s, optional
        Longest red (from the end of its yellow to its next green) a movement may wait.

    Returns
    -------
    list of Violation
        Empty when every state is safe.
    """
    out: list[Violation] = []
    n = model.n_links
    yellow_since: list[float | None] = [None] * n
    red_since: list[float | None] = [None] * n
    green_since: list[float | None] = [None] * n
    prev = None
    for t, state in log:
        if len(state) < n:
            out.append(Violation("link_count", model.tls, None, (), f"{t:g} s: state {state!r} has "
                                 f"{len(state)} links, the signal has {n}"))
            continue
        prot = [i for i in range(n) if state[i] == "G" and i in model.movements]
        for a_i, a in enumerate(prot):
            for b in prot[a_i + 1:]:
                if model.foes[a, b] and not compatible(model, a, b):
                    out.append(Violation("conflict", model.tls, None, (a, b),
                                         f"{t:g} s: movements {model.label(a)} and {model.label(b)} are green together"))
        for i in range(n):
            s, p = state[i], (prev[i] if prev is not None else None)
            if p is not None and p in "Gg" and s in "rs":
                out.append(Violation("yellow", model.tls, None, (i,),
                                     f"{t:g} s: movement {i} goes from green to red without yellow"))
            if p is not None and p == "y" and s != "y" and yellow_since[i] is not None \
                    and t - yellow_since[i] < min_yellow_s - 1e-9:
                out.append(Violation("yellow", model.tls, None, (i,),
                                     f"{t:g} s: movement {i}'s yellow lasted {t - yellow_since[i]:g} s "
                                     f"(< {min_yellow_s:g} s)"))
            if s in "Gg" and (p is None or p not in "Gg"):
                for j in range(n):
                    if j != i and red_since[j] is not None and model.foes[i, j] and not compatible(model, i, j) \
                            and t - red_since[j] < min_clear_s - 1e-9:
                        out.append(Violation("all_red", model.tls, None, (j, i),
                                             f"{t:g} s: movement {i} gets green {t - red_since[j]:g} s after "
                                             f"conflicting movement {j} lost its yellow (< {min_clear_s:g} s)"))
            if s in "Gg" and p is not None and p not in "Gg":
                if max_red_s is not None and red_since[i] is not None and t - red_since[i] > max_red_s + 1e-9:
                    out.append(Violation("max_red", model.tls, None, (i,), f"{t:g} s: movement {i} waited "
                                         f"{t - red_since[i]:g} s on red (> {max_red_s:g} s)"))
                green_since[i] = t
            if p is not None and p in "Gg" and s not in "Gg" and green_since[i] is not None \
                    and t - green_since[i] < min_green_s - 1e-9:
                out.append(Violation("min_green", model.tls, None, (i,), f"{t:g} s: movement {i}'s green lasted "
                                     f"{t - green_since[i]:g} s (< {min_green_s:g} s)"))
            if s == "y" and p != "y":
                yellow_since[i] = t
            if p == "y" and s in "rs":
                red_since[i] = t
        prev = state
    return out
