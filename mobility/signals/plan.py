"""Stage-based signal plans: the form traffic command platforms exchange, and their SUMO form.

A :class:`SignalPlan` describes one intersection's fixed-time plan the way controllers and command
platforms do (GA/T 1049.2 PlanParam/StageTiming, NTCIP 1202 pattern/split): a cycle, an offset with its
reference point (the begin of green of a coordinated stage), and an ordered list of stages, each with
the SUMO link indices it serves and its green, yellow and all-red times.

Conversions:

- :func:`plans_from_net` reads every ``tlLogic`` of a SUMO network as plans (one per signal);
- :func:`plans_to_sumo` writes plans as a SUMO additional file (``tlLogic`` per plan, and a ``WAUT``
  switching between the plans of a signal that has several validity periods in a day);
- :func:`plans_from_sumo` reads such a file back (plan -> XML -> plan gives the same plan);
- :func:`save_plans` / :func:`load_plans` keep plans as JSON.

Times are simulation seconds counted from midnight (SUMO's clock in every shipped and RESCO scenario):
a plan valid 07:00-09:00 is active from ``25200`` to ``32400``.
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from xml.sax.saxutils import quoteattr

from pydantic import Field, ValidationError, model_validator

from .._errors import InputError, missing_file
from .._spec import Spec
from .._io import cached_by_file, write_text_atomic, open_maybe_gzip
from ._phases import GREEN, _actuation_params, _clearance_state, _green_state, _phase_lines, phase_states

__all__ = [
    "Actuation",
    "OffsetReference",
    "SignalPlan",
    "Stage",
    "Validity",
    "load_plans",
    "phase_states",
    "plans_from_net",
    "plans_from_sumo",
    "plans_to_sumo",
    "save_plans",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Most stages a plan may have, and the largest metadata it may carry (JSON bytes).
MAX_STAGES = 32
MAX_METADATA_BYTES = 256 * 1024
#: Clearance states: a phase showing any of them (and no other change) closes the stage before it.
YELLOW = frozenset("yYu")


_Model = Spec


class Stage(_Model):
    """One stage of a plan: the movements it serves and its timing.

    Attributes
    ----------
    green : tuple of int
        SUMO link indices with protected green (``G``).
    permissive : tuple of int
        Link indices with permissive green (``g``): they move but yield to conflicting traffic.
    stop : tuple of int
        Link indices showing ``s`` (stop, then go when clear: right turn on red).
    green_s, yellow_s, all_red_s : float, s
        Green time, then the yellow and all-red clearance that close the stage.
    min_green_s, max_green_s : float, s
        Bounds an optimiser or an adaptive controller must keep.
    """

    name: str = Field("", max_length=200)
    green: tuple[Annotated[int, Field(ge=0)], ...] = Field((), max_length=1024)
    permissive: tuple[Annotated[int, Field(ge=0)], ...] = Field((), max_length=1024)
    stop: tuple[Annotated[int, Field(ge=0)], ...] = Field((), max_length=1024)
    green_s: float = Field(gt=0, le=86400, description="s; up to a day (programs switched by hand or by a WAUT hold a phase for hours)")
    yellow_s: float = Field(3.0, ge=0, le=60)
    all_red_s: float = Field(0.0, ge=0, le=60)
    min_green_s: float = Field(5.0, ge=0, le=86400)
    max_green_s: float = Field(90.0, gt=0, le=86400)
    passage_s: float | None = Field(None, gt=0, le=10, description="actuated plans: this stage's passage (gap) "
                                    "time, s (default: the plan's)")

    @property
    def served(self) -> frozenset[int]:
        """Links that may move in this stage (protected or permissive green)."""
        return frozenset(self.green) | frozenset(self.permissive)

    @property
    def duration_s(self) -> float:
        """Green + yellow + all-red, s."""
        return self.green_s + self.yellow_s + self.all_red_s

    @model_validator(mode="after")
    def _disjoint(self) -> Stage:
        sets = {"green": set(self.green), "permissive": set(self.permissive), "stop": set(self.stop)}
        for a, b in (("green", "permissive"), ("green", "stop"), ("permissive", "stop")):
            both = sorted(sets[a] & sets[b])
            if both:
                raise ValueError(f"stage {self.name!r}: links {both} are listed in both {a} and {b}")
        if any(i < 0 for s in sets.values() for i in s):
            raise ValueError(f"stage {self.name!r}: link indices must be >= 0")
        return self


class Validity(_Model):
    """When a plan is in force: days of the week and a time-of-day window ``[start_s, end_s)``."""

    ordered_fields = (("start_s", "end_s"),)

    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = DAYS
    start_s: float = Field(0.0, ge=0, le=86400)
    end_s: float = Field(86400.0, ge=0, le=86400)


class Actuation(_Model):
    """How an actuated plan extends its greens, as a field controller's timing sheet gives it.

    A stage's green runs at least ``min_green_s``; it is extended while vehicles keep crossing its detectors
    no more than ``passage_s`` apart (the passage or gap time; a stage's own ``passage_s`` overrides the
    plan's), and at most to ``max_green_s``. With ``coordinated``, the plan keeps its cycle, splits and
    offset as a coordinated-actuated controller does: every other stage is forced off at the end of its
    split, and the coordinated stage holds its green to the end of its split (its yield point), taking the
    time the others gave up by gapping out early.

    Attributes
    ----------
    passage_s : float, s
        Passage (gap) time: the largest gap between vehicles at a detector that keeps a green.
    detector_gap_s : float, s
        Detector placement: its distance from the stop line in seconds of travel at the lane's speed.
    detector_length_m : float, m
        Detection zone length (0: a point detector).
    jam_threshold_s : float, s
        A vehicle standing on a detector this long no longer extends the green (-1: off).
    coordinated : bool
        Hold the plan's cycle, splits and offset (force-offs and the coordinated stage's yield point).
    coordinated_stage : int
        The stage that carries the coordination (the main street's through movements).
    skip : bool
        Skip a stage nobody waits for (no detector call) and go on to the next that has one, as field
        controllers do; with no call anywhere the stages run in their order. Not with ``coordinated``.
    detectors : dict of str to str
        Detectors of the scenario to use instead of generated ones: approach lane id -> induction loop id.
    """

    passage_s: float = Field(3.0, gt=0, le=10)
    detector_gap_s: float = Field(2.0, ge=0, le=20)
    detector_length_m: float = Field(0.0, ge=0, le=100)
    jam_threshold_s: float = Field(-1.0, ge=-1, le=3600)
    coordinated: bool = False
    coordinated_stage: int = Field(0, ge=0)
    skip: bool = Field(False, description="skip stages nobody waits for (no call), as field controllers do")
    detectors: dict[str, str] = Field(default_factory=dict, max_length=1024)

    @model_validator(mode="after")
    def _one_mode(self) -> Actuation:
        if self.skip and self.coordinated:
            raise ValueError("a plan either skips stages without calls or keeps a coordinated cycle, not both")
        return self


class OffsetReference(_Model):
    """The point of the cycle the offset refers to: the begin of green of stage ``stage``."""

    stage: int = Field(0, ge=0)
    event: Literal["begin_of_green"] = "begin_of_green"


class SignalPlan(_Model):
    """A stage-based fixed-time plan for one signalised junction (one SUMO traffic-light id).

    Attributes
    ----------
    junction : str
        SUMO traffic-light id.
    plan_id : str
        Plan name; becomes the SUMO ``programID``.
    version : int
    n_links : int
        Number of signal indices (length of SUMO's state string).
    cycle_s : float, s
        Must equal the sum of the stages' green + yellow + all-red times.
    offset_s : float, s
        Time, from midnight modulo the cycle, at which the reference event happens.
    stages : tuple of Stage
    off_links : tuple of int
        Links whose signal is switched off (``O``) throughout.
    closed_links : tuple of int
        Links kept red throughout (movements the network's own program never serves).
    validity : Validity
    """

    junction: str = Field(min_length=1, max_length=200)
    plan_id: str = Field("mobility", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    version: int = Field(1, ge=1, le=2**62)
    n_links: int = Field(gt=0, le=1024, description="signal links (SUMO's state string length)")
    cycle_s: float = Field(gt=0, le=7 * 86400, description="cycle time, s (at most a week: some programs hold phases for hours)")
    offset_s: float = Field(0.0, ge=-7 * 86400, le=7 * 86400)
    offset_reference: OffsetReference = Field(default_factory=OffsetReference)
    stages: tuple[Stage, ...] = Field(min_length=1, max_length=MAX_STAGES)
    off_links: tuple[int, ...] = Field((), max_length=1024)
    closed_links: tuple[int, ...] = Field((), max_length=1024, description="links kept red throughout (closed "
                                          "movements a city's program never serves)")
    validity: Validity = Field(default_factory=Validity)
    actuation: Actuation | None = Field(None, description="actuated (and coordinated) control; None: fixed time")
    metadata: dict[str, Any] = Field(default_factory=dict, description="provenance, KPIs, model status")

    @model_validator(mode="after")
    def _indices(self) -> SignalPlan:
        size = len(json.dumps(self.metadata, default=str))
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata of {size:,} bytes is more than {MAX_METADATA_BYTES:,}; keep it to provenance, "
                             "KPIs and the model's status")
        for k, st in enumerate(self.stages):
            bad = sorted(i for i in (*st.green, *st.permissive, *st.stop) if i >= self.n_links)
            if bad:
                raise ValueError(f"junction {self.junction}, stage {k} ({st.name!r}): link indices {bad} "
                                 f"out of range (the signal has {self.n_links} links, 0..{self.n_links - 1})")
        bad = sorted(i for i in (*self.off_links, *self.closed_links) if not 0 <= i < self.n_links)
        if bad:
            raise ValueError(f"junction {self.junction}: off_links/closed_links {bad} out of range (the signal has "
                             f"{self.n_links} links, 0..{self.n_links - 1})")
        if self.offset_reference.stage >= len(self.stages):
            raise ValueError(f"junction {self.junction}: offset_reference.stage {self.offset_reference.stage} "
                             f"does not exist (the plan has {len(self.stages)} stages)")
        if self.actuation is not None and self.actuation.coordinated_stage >= len(self.stages):
            raise ValueError(f"junction {self.junction}: actuation.coordinated_stage {self.actuation.coordinated_stage} "
                             f"does not exist (the plan has {len(self.stages)} stages)")
        return self

    @property
    def kind(self) -> str:
        """``fixed``, ``actuated`` or ``actuated-coordinated``."""
        if self.actuation is None:
            return "fixed"
        return "actuated-coordinated" if self.actuation.coordinated else "actuated"

    def green_ends(self) -> list[float]:
        """Per stage, the end of its green in the cycle (s after the program's start, modulo the cycle): for a
        coordinated plan the force-off of every other stage and the yield point of the coordinated stage."""
        starts = self.stage_starts()
        return [round((starts[k] + st.green_s) % self.cycle_s, 3) for k, st in enumerate(self.stages)]

    # ---- derived timing ----------------------------------------------------------------------
    def stage_starts(self) -> list[float]:
        """Begin of green of each stage within the program (stage 0 starts at 0), s."""
        out, t = [], 0.0
        for st in self.stages:
            out.append(t)
            t += st.duration_s
        return out

    @property
    def sumo_offset_s(self) -> float:
        """SUMO's ``offset``: SUMO starts the program (stage 0's green) at times ``offset + k * cycle``."""
        start = self.stage_starts()[self.offset_reference.stage]
        return _mod(self.offset_s - start, self.cycle_s)

    def with_timing(self, greens_s: Sequence[float], *, offset_s: float | None = None, **changes: Any) -> SignalPlan:
        """A copy with new green times (and offset); the cycle follows."""
        if len(greens_s) != len(self.stages):
            raise InputError(f"junction {self.junction}: {len(greens_s)} green times given for {len(self.stages)} stages")
        stages = tuple(st.model_copy(update={"green_s": float(g)}) for st, g in zip(self.stages, greens_s, strict=True))
        cycle = sum(st.duration_s for st in stages)
        off = self.offset_s if offset_s is None else offset_s
        return self.model_copy(update={"stages": stages, "cycle_s": cycle, "offset_s": _mod(off, cycle), **changes})

    def state(self, stage: int) -> str:
        """SUMO state string of a stage's green."""
        return _green_state(self, self.stages[stage])


def _mod(x: float, m: float) -> float:
    r = round(x % m, 6)
    return 0.0 if r >= m else r


def _is_clearance(state: str) -> bool:
    return any(c in YELLOW for c in state) or not any(c in GREEN for c in state)


def plan_from_phases(
    junction: str,
    phases: Sequence[dict[str, Any]],
    *,
    plan_id: str = "mobility",
    offset: float = 0.0,
    where: str = "",
    default_max_green_s: float = 90.0,
    **fields: Any,
) -> SignalPlan:
    """Build a plan from SUMO phases (dicts with ``state``, ``duration`` and optional ``minDur``,
    ``maxDur``, ``name``): each green phase opens a stage, the yellow and all-red phases after it close it.

    ``offset`` is SUMO's program offset. Raises :class:`InputError` for programs that are not
    stage-based (no green at all, or phases of different lengths).
    """
    where = where or f"tlLogic {junction!r}"
    if not phases:
        raise InputError(f"{where}: the program has no phases")
    n = len(phases[0]["state"])
    if any(len(p["state"]) != n for p in phases):
        raise InputError(f"{where}: phases have state strings of different lengths; each must have one letter per link")
    first = next((i for i, p in enumerate(phases) if not _is_clearance(p["state"])), None)
    if first is None:
        raise InputError(f"{where}: no phase shows green ('G' or 'g'); it cannot be read as a stage-based plan")
    order = list(phases[first:]) + list(phases[:first])
    stages: list[dict[str, Any]] = []
    lead = sum(float(p["duration"]) for p in phases[:first])
    for p in order:
        state, dur = p["state"], float(p["duration"])
        if not _is_clearance(state):
            g = tuple(i for i, c in enumerate(state) if c == "G")
            pm = tuple(i for i, c in enumerate(state) if c == "g")
            sp = tuple(i for i, c in enumerate(state) if c == "s")
            mn = float(p["minDur"]) if p.get("minDur") not in (None, "") else min(5.0, dur)
            mx = float(p["maxDur"]) if p.get("maxDur") not in (None, "") else max(default_max_green_s, dur)
            stages.append({"name": p.get("name") or "", "green": g, "permissive": pm, "stop": sp, "green_s": dur,
                           "yellow_s": 0.0, "all_red_s": 0.0, "min_green_s": min(mn, dur), "max_green_s": max(mx, dur)})
        elif any(c in YELLOW for c in state):
            stages[-1]["yellow_s"] += dur
        else:
            stages[-1]["all_red_s"] += dur
    off_links = tuple(i for i in range(n) if all(p["state"][i] == "O" for p in phases))
    closed = tuple(i for i in range(n) if i not in off_links and not any(p["state"][i] in "Ggs" for p in phases))
    cycle = sum(float(p["duration"]) for p in phases)
    # SUMO starts phase 0 at ``offset``; stage 0 is phase ``first``, which begins ``lead`` seconds later
    ref = int(fields.pop("reference_stage", 0))
    start = sum(s["green_s"] + s["yellow_s"] + s["all_red_s"] for s in stages[:ref])
    try:
        return SignalPlan(
            junction=junction, plan_id=plan_id, n_links=n, cycle_s=cycle,
            offset_s=_mod(offset + lead + start, cycle),
            offset_reference=OffsetReference(stage=ref), stages=tuple(Stage(**s) for s in stages),
            off_links=off_links, closed_links=closed, **fields,
        )
    except ValidationError as exc:
        raise InputError(f"{where}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    loc = ".".join(str(x) for x in e["loc"])
    return f"{loc + ': ' if loc else ''}{e['msg'].removeprefix('Value error, ')}"


def _parse_xml(path: Path, what: str) -> ET.Element:
    if not path.is_file():
        raise missing_file(path, what)
    try:
        with open_maybe_gzip(path) as fh:
            return ET.parse(fh).getroot()
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the file ({exc})") from None
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(f"{path}:{line}:{col}: broken XML ({exc.msg}); fix or regenerate the file") from None


def _phases(tl: ET.Element) -> list[dict[str, Any]]:
    """The phases of a program; the clearances only a stage-skipping program uses (between stages that are not
    next to each other) are left out: the stages and their order are the plan."""
    return [dict(p.attrib) for p in tl.iter("phase") if not p.get("name", "").startswith("mobility.skip")]


@cached_by_file
def plans_from_net(net_file: str | Path, *, plan_id: str | None = None,
                   default_max_green_s: float = 90.0) -> dict[str, SignalPlan]:
    """The network's own program of every traffic light, as plans (``{tls id: plan}``).

    ``plan_id`` defaults to SUMO's ``programID``; a phase without ``maxDur`` gets ``default_max_green_s``
    (at least its duration) as its maximum green.

    Parameters
    ----------
    net_file : path
        A SUMO ``.net.xml``.
    plan_id : str, optional
    default_max_green_s : float, s

    Returns
    -------
    dict of str to SignalPlan
    """
    path = Path(net_file)
    root = _parse_xml(path, "SUMO network")
    out: dict[str, SignalPlan] = {}
    for tl in root.iter("tlLogic"):
        tid = tl.get("id", "")
        if tid in out:
            continue  # SUMO uses the first program of a signal unless told otherwise
        out[tid] = plan_from_phases(
            tid, _phases(tl), plan_id=plan_id or _safe_id(tl.get("programID", "0")),
            offset=float(tl.get("offset", 0)), where=f"{path}: tlLogic {tid!r}", default_max_green_s=default_max_green_s,
        )
    return out


def _safe_id(program: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in program) or "0"


# ---- writing SUMO programs ------------------------------------------------------------------------
def _sumo_program_id(plan: SignalPlan) -> str:
    return f"{plan.plan_id}.v{plan.version}"


def plans_to_sumo(plans: Iterable[SignalPlan], path: str | Path | None = None, *, provenance: str = "") -> str:
    """SUMO additional XML for ``plans`` (written atomically to ``path`` when given); returns the XML.

    Each plan becomes a ``tlLogic`` (``programID`` = ``<plan_id>.v<version>``) whose green phases carry
    ``minDur``/``maxDur`` and the stage names. A signal with several plans gets a ``WAUT`` that switches
    to each plan at the start of its validity period; the plan in force at midnight starts.

    Parameters
    ----------
    plans : iterable of SignalPlan
    path : path, optional
        Write the XML there too.
    provenance : str
        A comment put at the top.

    Returns
    -------
    str
        The XML.
    """
    plans = list(plans)
    if not plans:
        raise InputError("no plans to write")
    by_junction: dict[str, list[SignalPlan]] = {}
    for p in plans:
        by_junction.setdefault(p.junction, []).append(p)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    if provenance:
        lines.append(f"<!-- {provenance.replace('--', '-')} -->")
    lines.append("<additional>")
    for p in plans:
        act = p.actuation
        lines.append(f'    <tlLogic id={quoteattr(p.junction)} type="{"static" if act is None else "actuated"}" '
                     f'programID={quoteattr(_sumo_program_id(p))} offset="{p.sumo_offset_s:g}">')
        if act is not None:
            lines += _actuation_params(p, act)
        lines += _phase_lines(p)
        if act is not None:
            meta_act = act.model_dump(mode="json")
            lines.append(f'        <param key="mobility.actuation" value={quoteattr(json.dumps(meta_act, sort_keys=True))}/>')
        meta = {"plan_id": p.plan_id, "version": p.version, "offset_s": p.offset_s,
                "offset_reference_stage": p.offset_reference.stage, "days": ",".join(p.validity.days),
                "start_s": p.validity.start_s, "end_s": p.validity.end_s}
        for k, v in meta.items():
            lines.append(f'        <param key="mobility.{k}" value={quoteattr(repr(v) if isinstance(v, float) else str(v))}/>')
        if p.metadata:
            lines.append(f'        <param key="mobility.metadata" value={quoteattr(json.dumps(p.metadata, sort_keys=True))}/>')
        lines.append("    </tlLogic>")
    for junction, ps in by_junction.items():
        if len(ps) < 2:
            continue
        ps = sorted(ps, key=lambda q: q.validity.start_s)
        _check_day_cover(junction, ps)
        first = next((q for q in ps if q.validity.start_s <= 0 < q.validity.end_s), ps[-1])
        wid = f"mobility_{junction}"
        lines.append(f'    <WAUT id={quoteattr(wid)} refTime="0" startProg={quoteattr(_sumo_program_id(first))}>')
        for q in ps:
            if q.validity.start_s > 0:
                lines.append(f'        <wautSwitch time="{q.validity.start_s:g}" to={quoteattr(_sumo_program_id(q))}/>')
        lines.append("    </WAUT>")
        lines.append(f'    <wautJunction wautID={quoteattr(wid)} junctionID={quoteattr(junction)}/>')
    lines.append("</additional>")
    xml = "\n".join(lines) + "\n"
    if path is not None:
        write_text_atomic(path, xml)
    return xml


def _check_day_cover(junction: str, ps: list[SignalPlan]) -> None:
    for a, b in itertools.pairwise(ps):
        if b.validity.start_s < a.validity.end_s:
            raise InputError(f"junction {junction}: plans {a.plan_id} ({a.validity.start_s:g}-{a.validity.end_s:g} s) "
                             f"and {b.plan_id} ({b.validity.start_s:g}-{b.validity.end_s:g} s) overlap; "
                             "give each time of day one plan")


def plans_from_sumo(path: str | Path) -> list[SignalPlan]:
    """Read the plans of a SUMO additional (or network) file written by :func:`plans_to_sumo`.

    ``tlLogic`` elements without the toolkit's parameters are read like :func:`plans_from_net` does.

    Parameters
    ----------
    path : path

    Returns
    -------
    list of SignalPlan
    """
    path = Path(path)
    root = _parse_xml(path, "SUMO additional file")
    out = []
    for tl in root.iter("tlLogic"):
        params = {p.get("key", "")[len("mobility."):]: p.get("value", "") for p in tl.iter("param")
                  if p.get("key", "").startswith("mobility.")}
        tid = tl.get("id", "")
        where = f"{path}: tlLogic {tid!r}"
        try:
            fields: dict[str, Any] = {}
            if params:
                fields = {"version": int(params.get("version", 1)),
                          "validity": Validity(days=tuple(d for d in params.get("days", ",".join(DAYS)).split(",") if d),  # type: ignore[misc]
                                               start_s=float(params.get("start_s", 0)), end_s=float(params.get("end_s", 86400))),
                          "reference_stage": int(params.get("offset_reference_stage", 0))}
                if "metadata" in params:
                    fields["metadata"] = json.loads(params["metadata"])
                if "actuation" in params:
                    fields["actuation"] = Actuation.model_validate(json.loads(params["actuation"]))
            offset = float(tl.get("offset", 0))
            exact = float(params["offset_s"]) if "offset_s" in params else None
            if "actuation" not in fields and tl.get("type") == "actuated":
                fields["actuation"] = _actuation_from_sumo(tl)
        except (ValueError, ValidationError) as exc:
            msg = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
            raise InputError(f"{where}: a mobility parameter or the offset is not valid ({msg}); "
                             "write numbers where numbers belong, or regenerate the file") from None
        plan = plan_from_phases(tid, _phases(tl), plan_id=params.get("plan_id") or _safe_id(tl.get("programID", "0")),
                                offset=offset, where=where, **fields)
        if exact is not None:  # the exact offset, free of the rounding in SUMO's attribute
            plan = plan.model_copy(update={"offset_s": exact})
        out.append(plan)
    if not out:
        raise InputError(f"{path}: no tlLogic element found; is this a SUMO additional file with signal programs?")
    return out


def _actuation_from_sumo(tl: ET.Element) -> Actuation:
    """The actuation of a SUMO actuated tlLogic not written by the toolkit (SUMO's defaults where unset)."""
    params = {p.get("key", ""): p.get("value", "") for p in tl.iter("param")}
    named = {"max-gap", "detector-gap", "detector-length", "jam-threshold", "coordinated", "cycleTime", "file", "freq",
             "vTypes", "show-detectors", "passing-time", "inactive-threshold"}
    detectors = {k: v for k, v in params.items() if k not in named and ":" not in k and not k.startswith("mobility.")}
    return Actuation(passage_s=float(params.get("max-gap", 3.0)), detector_gap_s=float(params.get("detector-gap", 2.0)),
                     detector_length_m=float(params.get("detector-length", 0.0)),
                     jam_threshold_s=float(params.get("jam-threshold", -1.0)),
                     coordinated=params.get("coordinated", "false").lower() == "true", detectors=detectors)


# ---- JSON -----------------------------------------------------------------------------------------
def save_plans(plans: Iterable[SignalPlan], path: str | Path) -> Path:
    """Write plans as a JSON document ``{"plans": [...]}`` atomically.

    Parameters
    ----------
    plans : iterable of SignalPlan
    path : path

    Returns
    -------
    Path
    """
    doc = {"format": "mobility.signal_plans", "format_version": 1,
           "plans": [p.model_dump(mode="json") for p in plans]}
    return write_text_atomic(path, json.dumps(doc, indent=1) + "\n")


def load_plans(path: str | Path) -> list[SignalPlan]:
    """Read plans written by :func:`save_plans` (or a bare JSON list of plans).

    Parameters
    ----------
    path : path

    Returns
    -------
    list of SignalPlan
    """
    from .._spec import read_document, validate

    path = Path(path)
    doc, root = read_document(path, what="signal plan file")
    items = doc.get("plans") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: a plan file holds a non-empty list 'plans' of signal plans (mobility signals "
                         "optimise writes one); this one has none")
    out = []
    for k, item in enumerate(items):
        node = root.value[k] if root is not None and isinstance(doc, list) and k < len(root.value) else None
        out.append(validate(item, SignalPlan, source=f"{path}: plans.{k}", root=node))
    return out
