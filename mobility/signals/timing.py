"""Fixed-time plans from movement flows: Webster's method and the OR-Tools optimiser.

1. :func:`movement_flows` turns a scenario's demand into flows per signal movement and time-of-day
   period: SUMO's ``duarouter`` routes every trip and flow of the demand, and each route's turns at
   signalised junctions are counted at the time the vehicle reaches them (free-flow travel times).
   These are demand flows, not capped by the capacity of today's plan.
2. :func:`timing_problem` builds a junction's lane groups: flow ratio ``y = q / s`` per approach
   lane (saturation flow ``s`` per lane), and each stage's service of each lane (1 for protected
   movements, ``permissive_credit`` for permissive ones), in proportion to the lane's movement flows.
3. :func:`webster_plans` gives each junction Webster's cycle and equisaturation splits (isolated).
4. :func:`optimise_plans` solves the CP-SAT model of :mod:`optimise.signal_timing` for each group of
   junctions linked by signalised roads (a common cycle, splits and offsets for progression), per
   period, and returns plans with validity periods and the model's objective, status and gap in
   their metadata.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .._io import session_tempdir
from .._sumo import run_tool
from .plan import SignalPlan, plans_from_net
from .safety import SignalModel, check_plan, signal_models

if TYPE_CHECKING:
    from optimise.signal_timing import JunctionTiming

    from ..network import RoadNetwork
    from ..scenario import Scenario

__all__ = ["MovementFlows", "demand_periods", "movement_flows", "optimise_plans", "timing_problem",
           "webster_plans", "write_plan_files"]


@dataclass(frozen=True)
class MovementFlows:
    """Demand flow of every signal movement, per period.

    Attributes
    ----------
    periods : list of (float, float)
        ``(start_s, end_s)`` of each period.
    flows : dict of str to array (n_periods, n_links), veh/h
        Per traffic light, the flow of each signal index.
    edge_flows : dict of str to array (n_periods,), veh/h
        Flow entering each edge (used to weigh coordination).
    """

    periods: list[tuple[float, float]]
    flows: dict[str, np.ndarray]
    edge_flows: dict[str, np.ndarray]


def demand_periods(scenario: Scenario, *, min_length_s: float = 900.0) -> list[tuple[float, float]]:
    """Time-of-day periods over which demand is roughly constant: the steps of the scenario's demand
    profile (merged when shorter than ``min_length_s``), else the whole window."""
    b, e = scenario.begin_s, scenario.end_s
    steps = [(max(p.begin_s, b), min(p.end_s, e)) for p in scenario.demand.profile if min(p.end_s, e) > max(p.begin_s, b)]
    if not steps:
        return [(b, e)]
    cuts = sorted({b, e, *(x for s in steps for x in s)})
    periods = [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]
    merged: list[tuple[float, float]] = []
    for lo, hi in periods:
        if merged and (hi - lo < min_length_s or merged[-1][1] - merged[-1][0] < min_length_s):
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


_EXP = re.compile(r"exp\(([^)]*)\)")


def _flow_count(el: ET.Element, b: float, e: float) -> float:
    """Expected number of vehicles of a ``<flow>`` element."""
    lo, hi = float(el.get("begin", b)), float(el.get("end", e))
    dur = max(hi - lo, 0.0)
    if el.get("number"):
        return float(el.get("number", 0))
    if el.get("vehsPerHour"):
        return float(el.get("vehsPerHour", 0)) * dur / 3600.0
    per = el.get("period", "")
    m = _EXP.match(per)
    if m:
        return float(m.group(1)) * dur
    if per:
        return dur / float(per)
    if el.get("probability"):
        return float(el.get("probability", 0)) * dur
    return 0.0


def movement_flows(
    scenario: Scenario,
    *,
    periods: Sequence[tuple[float, float]] | None = None,
    network: RoadNetwork | None = None,
    models: dict[str, SignalModel] | None = None,
) -> MovementFlows:
    """Demand flow of every signal movement per period (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
    periods : list of (start_s, end_s), optional
        Default :func:`demand_periods`.
    network : RoadNetwork, optional
        The scenario's network, if already loaded.
    models : dict of str to SignalModel, optional
        The network's signals, if already read.

    Returns
    -------
    MovementFlows
    """
    from ..demand import write_routes, write_zones
    from ..load import load_network
    from ..scenario import ODDemand, RouteFileDemand

    net = network or load_network(scenario.network)
    models = models if models is not None else signal_models(scenario.network)
    periods = list(periods) if periods is not None else demand_periods(scenario)
    folder = session_tempdir("mobility-flows-")
    routes = [folder / "demand.rou.xml"]
    write_routes(scenario, net, routes[0])
    if isinstance(scenario.demand, RouteFileDemand):
        routes = [*scenario.demand.files, *routes]
    zones = write_zones(scenario, folder / "zones.add.xml")
    out = folder / "routed.rou.xml"
    args = ["-n", str(net.net_file or scenario.network), "-r", ",".join(str(r) for r in routes), "-o", str(out),
            "--begin", f"{scenario.begin_s:g}", "--end", f"{scenario.end_s:g}", "--ignore-errors", "true",
            "--no-step-log", "true", "--no-warnings", "true", "--seed", str(scenario.seed), "--write-trips", "false"]
    if zones is not None or (isinstance(scenario.demand, ODDemand) and scenario.demand.zones):
        args += ["--additional-files", str(zones), "--with-taz", "true"]
    run_tool("duarouter", args, what=f"routing the demand of scenario {scenario.name}")

    eidx = net.edge_index
    ff = net.free_flow_time
    turn_links: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for tls, m in models.items():
        for i, mv in m.movements.items():
            turn_links.setdefault((mv.from_edge, mv.to_edge), []).append((tls, i))
    flows = {tls: np.zeros((len(periods), m.n_links)) for tls, m in models.items()}
    edge_flows: dict[str, np.ndarray] = {}
    bounds = np.array([p[0] for p in periods] + [periods[-1][1]])
    hours = np.diff(bounds) / 3600.0

    def add(edges: list[str], t0: float, count: float) -> None:
        t = t0
        for a, b in itertools.pairwise(edges):
            t += float(ff[eidx[a]]) if a in eidx else 0.0
            k = int(np.searchsorted(bounds, t, side="right")) - 1
            if not 0 <= k < len(periods):
                continue
            ef = edge_flows.setdefault(b, np.zeros(len(periods)))
            ef[k] += count / hours[k]
            links = turn_links.get((a, b))
            if links:
                share = count / hours[k] / len(links)
                for tls, i in links:
                    flows[tls][k, i] += share

    named: dict[str, list[str]] = {}
    for _, el in ET.iterparse(out, events=("end",)):
        if el.tag == "route" and el.get("id"):
            named[el.get("id", "")] = el.get("edges", "").split()
        elif el.tag in ("vehicle", "flow"):
            r = el.find("route")
            edges = r.get("edges", "").split() if r is not None else named.get(el.get("route", ""), [])
            if not edges:
                continue
            if el.tag == "vehicle":
                add(edges, float(el.get("depart", 0)), 1.0)
            else:  # spread a flow's vehicles over its window in one-minute slices
                lo, hi = float(el.get("begin", scenario.begin_s)), float(el.get("end", scenario.end_s))
                n = _flow_count(el, scenario.begin_s, scenario.end_s)
                slices = max(int((hi - lo) // 60), 1)
                for s in range(slices):
                    add(edges, lo + (s + 0.5) * (hi - lo) / slices, n / slices)
            el.clear()
    return MovementFlows(periods=periods, flows=flows, edge_flows=edge_flows)


def timing_problem(
    plan: SignalPlan,
    model: SignalModel,
    link_flow: np.ndarray,
    *,
    saturation_veh_h: float = 1800.0,
    permissive_credit: float = 0.5,
    shared_lane_credit: float = 0.5,
    min_green_s: float | None = None,
    max_green_s: float | None = None,
) -> JunctionTiming:
    """The lane-group timing problem of one junction (see :mod:`optimise.signal_timing`).

    Parameters
    ----------
    link_flow : array (n_links,), veh/h
    saturation_veh_h : float, veh/h per lane
    permissive_credit : float
        Share of a permissive (``g``) movement's flow a stage serves, against 1 for protected.
    shared_lane_credit : float
        Factor on a stage's service of a shared lane when only some of the lane's movements are green
        (the others' vehicles block the lane).
    min_green_s, max_green_s : float, optional
        Override the plan's stage bounds.
    """
    from optimise.signal_timing import JunctionTiming

    if saturation_veh_h <= 0:
        raise InputError(f"saturation_veh_h must be positive, got {saturation_veh_h}")
    lanes = model.incoming_lanes()
    li = {ln: k for k, ln in enumerate(lanes)}
    n_k = len(plan.stages)
    part = np.zeros((len(lanes), plan.n_links))
    member = np.zeros((len(lanes), plan.n_links))
    for i, mv in model.movements.items():
        for ln in mv.from_lanes:
            part[li[ln], i] += link_flow[i] / len(mv.from_lanes)
            member[li[ln], i] = 1.0
    q = part.sum(axis=1)
    # each stage serves a lane in proportion to the flow of its movements (equal shares on empty lanes)
    share = np.where(q[:, None] > 0, part / np.maximum(q[:, None], 1e-12), member / np.maximum(member.sum(axis=1, keepdims=True), 1))
    credit = np.zeros((plan.n_links, n_k))
    for k, st in enumerate(plan.stages):
        credit[list(st.green), k] = 1.0
        credit[list(st.permissive), k] = permissive_credit
    serve = share @ credit
    # a shared lane is first in, first out: while some of its movements are red, a vehicle waiting for
    # one of them blocks those behind it, so a stage serving only part of the lane gets partial credit
    lane_links = member > 0
    whole = np.array([[bool(np.all(credit[lane_links[ell], k] > 0)) for k in range(n_k)] for ell in range(len(lanes))])
    serve = np.where(whole | (serve == 0), serve, serve * shared_lane_credit)
    y = q / saturation_veh_h
    lost = np.array([st.yellow_s + st.all_red_s for st in plan.stages])
    mn = np.array([st.min_green_s if min_green_s is None else min_green_s for st in plan.stages])
    mx = np.array([st.max_green_s if max_green_s is None else max(max_green_s, m) for st, m in zip(plan.stages, mn, strict=True)])
    return JunctionTiming(y=y, serve=serve, flow_veh_h=q,
                          lost_s=lost, min_green_s=mn, max_green_s=mx)


def _base(scenario: Scenario, plans: dict[str, SignalPlan] | None) -> tuple[dict[str, SignalPlan], dict[str, SignalModel]]:
    base = plans if plans is not None else plans_from_net(scenario.network)
    models = signal_models(scenario.network)
    if not base:
        raise InputError(f"{scenario.network}: the network has no traffic lights with a static program")
    return base, models


def _period_plan(p: SignalPlan, period: tuple[float, float], k: int, n: int, name: str) -> dict[str, Any]:
    start, end = period
    if n == 1:
        return {"plan_id": name}
    return {"plan_id": f"{name}_p{k}", "validity": p.validity.model_copy(update={"start_s": start % 86400.0 if k else 0.0,
                                                                                "end_s": end if k < n - 1 else 86400.0})}


def webster_plans(
    scenario: Scenario,
    *,
    flows: MovementFlows | None = None,
    base: dict[str, SignalPlan] | None = None,
    cycle_bounds_s: tuple[float, float] = (30.0, 150.0),
    **problem: Any,
) -> list[SignalPlan]:
    """Webster plans (own implementation) for every signal and period of ``scenario``.

    Each junction is timed on its own: cycle ``(1.5 L + 5) / (1 - Y)`` and greens in proportion to the
    stage critical ratios (see :func:`optimise.signal_timing.critical_ratios`); offsets stay 0.

    Parameters
    ----------
    scenario : Scenario
        The signalised scenario.
    flows : MovementFlows, optional
        Movement flows per signal and period, veh/h (default: measured from the scenario's demand).
    base : dict of str to SignalPlan, optional
        Current plans by signal id (default: the network's own programs).
    cycle_bounds_s : (float, float)
        Shortest and longest cycle, s.
    **problem
        Passed to :func:`timing_problem` (saturation flow, lost time, ...).

    Returns
    -------
    list of SignalPlan
        One plan per signal and period.
    """
    from optimise.signal_timing import webster_timing

    base_plans, models = _base(scenario, base)
    flows = flows or movement_flows(scenario, models=models)
    out = []
    for tls, p in sorted(base_plans.items()):
        for k, period in enumerate(flows.periods):
            jt = timing_problem(p, models[tls], flows.flows[tls][k], **problem)
            r = webster_timing(jt, bounds=cycle_bounds_s)
            meta = {"method": "webster", "period_s": list(period), "cycle_webster_s": float(r.webster_cycle_s[0]),
                    "critical_ratio": float(r.critical_ratio[0]), "lost_time_s": float(jt.lost_s.sum())}
            plan = p.with_timing(r.greens_s[0], offset_s=0.0, metadata=meta,
                                 **_period_plan(p, period, k, len(flows.periods), "webster"))
            out.append(check_plan(plan, models[tls]))
    return out


def _coordination(
    ids: list[str], plans: dict[str, SignalPlan], models: dict[str, SignalModel], link_flow: dict[str, np.ndarray],
    net: RoadNetwork, *, min_flow_veh_h: float, max_length_m: float,
) -> list[tuple[int, int, int, int, float, float]]:
    """Signalised roads worth coordinating: ``(up, up_stage, down, down_stage, travel_s, flow)``."""
    pos = {t: k for k, t in enumerate(ids)}
    into: dict[str, list[tuple[str, int]]] = {}
    outof: dict[str, list[tuple[str, int]]] = {}
    for t in ids:
        for i, mv in models[t].movements.items():
            into.setdefault(mv.to_edge, []).append((t, i))
            outof.setdefault(mv.from_edge, []).append((t, i))
    eidx = net.edge_index
    links = []
    for edge, ups in into.items():
        downs = outof.get(edge, [])
        if not downs or edge not in eidx:
            continue
        e = eidx[edge]
        if float(net.length[e]) > max_length_m:
            continue
        for tu in sorted({t for t, _ in ups}):
            for td in sorted({t for t, _ in downs}):
                if tu == td:
                    continue
                fu = np.zeros(plans[tu].n_links)
                for t, i in ups:
                    if t == tu:
                        fu[i] = link_flow[tu][i]
                fd = np.zeros(plans[td].n_links)
                for t, i in downs:
                    if t == td:
                        fd[i] = link_flow[td][i]
                flow = float(fu.sum())
                if flow < min_flow_veh_h:
                    continue
                su = int(np.argmax([fu[list(st.green)].sum() for st in plans[tu].stages]))
                sd = int(np.argmax([fd[list(st.green)].sum() for st in plans[td].stages]))
                links.append((pos[tu], su, pos[td], sd, float(net.free_flow_time[e]), flow))
    return links


def _groups(n: int, links: list[tuple[int, int, int, int, float, float]]) -> list[list[int]]:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, _, d, _, _, _ in links:
        parent[find(u)] = find(d)
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return list(groups.values())


def optimise_plans(
    scenario: Scenario,
    *,
    flows: MovementFlows | None = None,
    base: dict[str, SignalPlan] | None = None,
    network: RoadNetwork | None = None,
    cycle_bounds_s: tuple[float, float] = (30.0, 150.0),
    cycle_scale: float | None = None,
    base_cycle: bool = False,
    coordinate: bool = True,
    min_coordination_flow_veh_h: float = 150.0,
    max_coordination_length_m: float = 800.0,
    time_limit_s: float = 10.0,
    seed: int = 0,
    name: str = "optimised",
    max_critical_ratio: float = 0.95,
    **problem: Any,
) -> list[SignalPlan]:
    """Optimised fixed-time plans (cycle, splits, offsets) for every signal and period, by CP-SAT.

    Where the fixed-time model does not hold, the junction keeps its current plan for that period and the
    plan's metadata says why (``kept_current``: ``reason``): its lane groups cannot be built, it is
    oversaturated (critical flow ratio ``Y >= max_critical_ratio``: no cycle serves the demand, and the
    model's delay formula has no meaning there) or the solver found no plan for its group. The rest of the
    network is timed; a network is never refused as a whole.

    Junctions joined by signalised roads shorter than ``max_coordination_length_m`` carrying at least
    ``min_coordination_flow_veh_h`` share a cycle and get offsets for progression; the others are timed
    alone. ``cycle_scale`` fixes each group's cycle at that multiple of its optimum (used to explore
    around it); ``base_cycle`` fixes it at the longest cycle of the group's current plans (the
    splits and offsets are still optimised). Each plan's ``metadata`` holds the model's status, objective, bound, gap and solve time.

    Parameters
    ----------
    scenario : Scenario
        The signalised scenario.
    flows : MovementFlows, optional
        Movement flows per signal and period, veh/h (default: measured from the scenario's demand).
    base : dict of str to SignalPlan, optional
        Current plans by signal id (default: the network's own programs).
    network : RoadNetwork, optional
        The scenario's network, if already loaded.
    cycle_bounds_s : (float, float)
        Shortest and longest cycle, s.
    cycle_scale, base_cycle
        Fix each group's cycle (see above).
    coordinate : bool
        Coordinate neighbouring junctions (shared cycle, offsets).
    min_coordination_flow_veh_h : float
        Least flow on a link between two signals for them to be coordinated, veh/h.
    max_coordination_length_m : float
        Longest link between two coordinated signals, m.
    time_limit_s : float
        CP-SAT time limit per junction group, s.
    seed : int
        CP-SAT seed.
    name : str
        Name given to the plans.
    max_critical_ratio : float
        Junctions at or above this critical flow ratio keep their current plan.
    **problem
        Passed to :func:`timing_problem`.

    Returns
    -------
    list of SignalPlan
        One plan per signal and period; kept ones say why in ``metadata``.
    """
    from optimise.signal_timing import CoordinationLink, critical_ratios, optimise_timing

    from ..load import load_network

    net = network or load_network(scenario.network)
    base_plans, models = _base(scenario, base)
    flows = flows or movement_flows(scenario, network=net, models=models)
    ids = sorted(base_plans)
    out: list[SignalPlan] = []
    for k, period in enumerate(flows.periods):
        lf = {t: flows.flows[t][k] for t in ids}
        links = _coordination(ids, base_plans, models, lf, net, min_flow_veh_h=min_coordination_flow_veh_h,
                              max_length_m=max_coordination_length_m) if coordinate else []
        def keep(tls: str, reason: str) -> None:
            p = base_plans[tls]
            out.append(p.model_copy(update={**_period_plan(p, period, k, len(flows.periods), name),
                                            "metadata": {**p.metadata, "method": "kept_current", "kept_current": True,
                                                         "reason": reason, "period_s": list(period)}}))

        for whole in _groups(len(ids), links):
            group, probs = [], []
            for g in whole:
                try:
                    prob = timing_problem(base_plans[ids[g]], models[ids[g]], lf[ids[g]], **problem)
                except InputError as e:
                    keep(ids[g], f"no lane-group model: {e}")
                    continue
                y_crit = float(critical_ratios(prob.y, prob.serve).sum())
                if y_crit >= max_critical_ratio:
                    keep(ids[g], f"oversaturated: critical flow ratio Y = {y_crit:.2f} >= {max_critical_ratio:g}")
                    continue
                group.append(g)
                probs.append(prob)
            if not group:
                continue
            local = {g: n for n, g in enumerate(group)}
            glinks = [CoordinationLink(local[u], su, local[d], sd, tt, f) for u, su, d, sd, tt, f in links
                      if u in local and d in local]
            try:
                res = optimise_timing(probs, glinks, cycle_bounds_s=cycle_bounds_s, time_limit_s=time_limit_s, seed=seed)
            except (RuntimeError, ValueError, InputError) as e:
                for g in group:
                    keep(ids[g], f"no plan from the solver: {e}")
                continue
            fixed = None
            if base_cycle:
                fixed = max(base_plans[ids[g]].cycle_s for g in group)
            elif cycle_scale is not None:
                fixed = res.cycle_s * cycle_scale
            if fixed is not None:
                # a cycle every member's minimum and maximum greens can fill
                lo = max(p.min_green_s.sum() + p.lost_s.sum() for p in probs)
                hi = min(p.max_green_s.sum() + p.lost_s.sum() for p in probs)
                fixed = float(np.clip(fixed, max(cycle_bounds_s[0], lo), max(min(cycle_bounds_s[1], hi), lo)))
                try:
                    res = optimise_timing(probs, glinks, cycle_bounds_s=cycle_bounds_s, cycle_s=fixed,
                                          time_limit_s=time_limit_s, seed=seed)
                except (RuntimeError, ValueError):  # no plan at that cycle (greens cannot fill it): the free optimum stands
                    fixed = None
            for n, g in enumerate(group):
                tls = ids[g]
                p = base_plans[tls]
                meta = {"method": "cp-sat", "status": res.status, "objective": res.objective, "bound": res.bound,
                        "gap": res.gap, "solve_time_s": res.solve_time_s, "period_s": list(period),
                        "group": [ids[x] for x in group], "cycle_webster_s": float(res.webster_cycle_s[n]),
                        "critical_ratio": float(res.critical_ratio[n]), "coordinated_links": len(glinks), **res.details}
                if fixed is not None:
                    meta["cycle_fixed_s"] = fixed
                # offsets from the model refer to stage 0's green start
                plan = p.model_copy(update={"offset_reference": p.offset_reference.model_copy(update={"stage": 0})})
                plan = plan.with_timing(res.greens_s[n], offset_s=float(res.offsets_s[n]), metadata=meta,
                                        **_period_plan(p, period, k, len(flows.periods), name))
                out.append(check_plan(plan, models[tls]))
    return out


def write_plan_files(plans: Sequence[SignalPlan], stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.add.xml`` (atomically).

    Parameters
    ----------
    plans : sequence of SignalPlan
        The plans to write.
    stem : str or Path
        Path without suffix.

    Returns
    -------
    (Path, Path)
        The JSON file and the SUMO additional file.
    """
    from .plan import plans_to_sumo, save_plans

    stem = Path(stem)
    js = stem.with_name(stem.name + ".json")
    xml = stem.with_name(stem.name + ".add.xml")
    save_plans(plans, js)
    plans_to_sumo(plans, xml, provenance="mobility signal plans")
    return js, xml
