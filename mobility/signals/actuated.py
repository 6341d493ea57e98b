"""Signal plans a city can deploy: actuated-coordinated plans, chosen in SUMO and checked on other seeds.

:func:`recommend_actuated` is what ``mobility signals optimise`` recommends by default and what the
``optimised`` controller runs:

1. **Timing.** The toolkit's timing model (:func:`~mobility.signals.timing.optimise_plans`: CP-SAT, demand per
   movement from the scenario's routes) gives each coordinated group of junctions a common cycle and splits,
   starting from the program the scenario runs (:func:`~mobility.signals.current.current_plans`). Along an
   arterial (a group whose junctions form a chain) the offsets are the MAXBAND green wave
   (:func:`optimise.bandwidth.maxband`); elsewhere the model's progression offsets stay.
2. **Actuation.** Each plan becomes a field controller's timing sheet (:class:`~mobility.signals.plan.Actuation`):
   minimum greens, a passage time, detectors (the scenario's own induction loops where they sit on an approach
   lane, else SUMO's, 2 s before the stop line); coordinated groups keep their cycle, splits and offsets
   (force-offs, yield point), isolated junctions extend greens up to ``max_green_factor`` times their split.
3. **Candidates, measured in SUMO on training seeds**: the program the scenario runs (always), SUMO's default
   actuated control on its stages (always), the current stages with other actuation (a 2 s passage time,
   detectors on every lane, and stages skipped when no detector calls for them, as field controllers skip a
   phase without a call), the optimised fixed-time plans, the actuated-coordinated plans at each passage time,
   the optimised splits with free actuation (with and without skipping), and the combination that takes, per
   coordinated group, the candidate whose junctions queued least. The best (fewest vehicles never departed, then least mean delay) is chosen, so on the training
   seeds the result is never worse than what the city runs.
   A new plan must save at least ``min_gain`` of the better baseline's delay, and at least the seed-to-seed
   spread of either's delay, to be chosen over it (a lead within the noise is no lead; where some seeds gridlock,
   the noise is large).
4. **Check on other seeds.** The chosen candidate, the current program and SUMO's actuated control run again on
   seeds the choice never saw (four more where one of those runs gridlocks: stranded vehicles). SUMO's actuated
   control replaces a new plan that does not keep its lead over it there. The result is recommended only if
   its delay is lower than the current program's, with no more vehicles stranded and no more seeds
   gridlocked; otherwise every junction keeps its current program, and the plans' metadata says
   why with the figures.

A junction where the timing model does not hold keeps its current program (``kept_current`` and ``reason``
in its metadata, as :func:`~mobility.signals.timing.optimise_plans` decides); a network is never refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .current import current_plans
from .plan import Actuation, SignalPlan
from .safety import MIN_ACTUATED_GREEN_S, SignalModel, check_plan, signal_models

if TYPE_CHECKING:
    from ..network import RoadNetwork
    from ..scenario import Scenario

__all__ = ["ALL_LANES_JAM_S", "TRAINING_SEEDS", "CHECK_SEEDS", "actuated_from", "arterial_offsets", "beats",
           "callable_lanes", "choose", "recommend_actuated"]

#: Seeds the candidates are chosen on, and the seeds the choice is checked on: apart from each other and from
#: the seeds of an evaluation (1, 2, 3, ...).
TRAINING_SEEDS = (900_000, 900_001)
CHECK_SEEDS = (910_000, 910_001)
#: Seeds the check extends to when a run of it strands vehicles (a gridlock seen: its odds need more seeds).
EXTRA_CHECK_SEEDS = (910_002, 910_003, 910_004, 910_005)
Progress = Callable[[int, int, str], None]


# ---- step 1: a green wave along each arterial -------------------------------------------------------------
def _chain(members: Sequence[str], links: Sequence[tuple[str, int, str, int, float, float]]) -> list[str] | None:
    """The junctions of a group in arterial order, when the group's signalised roads form a chain."""
    nbrs: dict[str, set[str]] = {m: set() for m in members}
    for u, _, d, _, _, _ in links:
        if u in nbrs and d in nbrs:
            nbrs[u].add(d)
            nbrs[d].add(u)
    if len(members) < 2 or any(len(v) > 2 for v in nbrs.values()):
        return None
    ends = [m for m, v in nbrs.items() if len(v) == 1]
    if len(ends) != 2:
        return None  # a ring, or not connected
    order, prev = [ends[0]], None
    while len(order) < len(members):
        nxt = [x for x in nbrs[order[-1]] if x != prev]
        if not nxt:
            return None
        prev = order[-1]
        order.append(nxt[0])
    return order


def arterial_offsets(plans: Mapping[str, SignalPlan], links: Sequence[tuple[str, int, str, int, float, float]], *,
                     time_limit_s: float = 10.0) -> dict[str, SignalPlan]:
    """Green-wave offsets for every coordinated group whose junctions form a chain (an arterial).

    Parameters
    ----------
    plans : dict of str to SignalPlan
        Plans of one cycle per group (the timing model's), by junction.
    links : list of (up, up_stage, down, down_stage, travel_s, flow_veh_h)
        Signalised roads between the junctions: the stage that sends the platoon, the stage that receives
        it, the free-flow travel time (s) and the flow (veh/h).
    time_limit_s : float, s

    Returns
    -------
    dict of str to SignalPlan
        The plans of the arterials' junctions with MAXBAND offsets (the reference stage the outbound
        arterial stage, the bands and the solver's status in the metadata); other junctions as given.
    """
    from optimise.bandwidth import maxband

    out = dict(plans)
    groups: dict[tuple[str, ...], list[str]] = {}
    for j, p in plans.items():
        groups.setdefault(tuple(sorted(p.metadata.get("group", [j]))), []).append(j)
    for members in groups.values():
        order = _chain(members, links)
        if order is None or len({plans[j].cycle_s for j in order}) != 1:
            continue
        by_pair = {(u, d): (su, sd, tt, f) for u, su, d, sd, tt, f in links}
        fwd = [by_pair.get((a, b)) for a, b in zip(order, order[1:], strict=False)]
        back = [by_pair.get((b, a)) for a, b in zip(order, order[1:], strict=False)]
        if any(x is None for x in fwd):
            if all(x is not None for x in back):  # one-way the other way round
                order, fwd, back = order[::-1], back[::-1], fwd[::-1]
            else:
                continue
        flow_f = sum(x[3] for x in fwd if x)
        flow_b = sum(x[3] for x in back if x)
        if flow_b > flow_f and all(x is not None for x in back):
            order, fwd, back = order[::-1], back[::-1], fwd[::-1]
            flow_f, flow_b = flow_b, flow_f
        cycle = plans[order[0]].cycle_s
        # outbound stage at each junction: the one sending the platoon on (the last: the one receiving it)
        out_stage = [x[0] for x in fwd] + [fwd[-1][1]]  # type: ignore[index]
        # inbound stage: the one sending the platoon back (the first junction: the one receiving it)
        two_way = all(x is not None for x in back)
        in_stage = [back[0][1]] + [x[0] for x in back] if two_way else out_stage  # type: ignore[index]
        starts = {j: plans[j].stage_starts() for j in order}
        green = [plans[j].stages[k].green_s for j, k in zip(order, out_stage, strict=True)]
        green_in = [plans[j].stages[k].green_s for j, k in zip(order, in_stage, strict=True)]
        shift = [(starts[j][ki] - starts[j][ko]) % cycle for j, ki, ko in zip(order, in_stage, out_stage, strict=True)]
        travel = [x[2] for x in fwd]  # type: ignore[index]
        travel_in = [x[2] for x in back] if two_way else travel  # type: ignore[index]
        try:
            res = maxband(cycle, green, travel, green_in_s=green_in, travel_in_s=travel_in, inbound_shift_s=shift,
                          inbound_weight=(flow_b / flow_f) if flow_f > 0 and two_way else 0.0,
                          time_limit_s=time_limit_s)
        except (RuntimeError, ValueError):
            continue  # the model's offsets stay
        for j, k, theta in zip(order, out_stage, res.offsets_s, strict=True):
            p = plans[j]
            meta = {**p.metadata, "offsets": "maxband", "arterial": order, "band_outbound_s": res.outbound_s,
                    "band_inbound_s": res.inbound_s, "band_status": res.status, "band_gap": res.gap}
            out[j] = p.model_copy(update={"offset_reference": p.offset_reference.model_copy(update={"stage": k}),
                                          "offset_s": round(float(theta % cycle), 1) % cycle,
                                          "metadata": meta})
    return out


# ---- step 2: timing sheets ---------------------------------------------------------------------------------
def _coordinated_stage(p: SignalPlan) -> int:
    if p.metadata.get("offsets") == "maxband":
        return p.offset_reference.stage
    return int(np.argmax([st.green_s for st in p.stages]))


def actuated_from(plans: Sequence[SignalPlan], models: Mapping[str, SignalModel], *, passage_s: float = 3.0,
                  max_green_factor: float = 1.5, detectors: Mapping[str, str] | None = None,
                  plan_id: str = "actuated") -> list[SignalPlan]:
    """Fixed-time plans as actuated timing sheets (see the module docstring, step 2).

    Parameters
    ----------
    plans : list of SignalPlan
        Fixed-time plans; those with ``kept_current`` in their metadata are returned as they are.
    models : dict of str to SignalModel
    passage_s : float, s
        Passage (gap) time.
    max_green_factor : float
        Isolated junctions: maximum green as a multiple of the stage's split.
    detectors : dict of str to str, optional
        The scenario's induction loops by the lane they sit on (lane id -> loop id).

    Returns
    -------
    list of SignalPlan
        Each checked by the safety rules of actuated plans.
    """
    out = []
    for p in plans:
        if p.metadata.get("kept_current"):
            out.append(p)
            continue
        grouped = len(p.metadata.get("group", [p.junction])) > 1
        lanes = {ln for m in models[p.junction].movements.values() for ln in m.from_lanes}
        own = {ln: det for ln, det in (detectors or {}).items() if ln in lanes}
        stages = []
        for st in p.stages:
            mn = min(max(st.min_green_s, MIN_ACTUATED_GREEN_S), st.green_s)
            stages.append(st.model_copy(update={"min_green_s": mn, "max_green_s": max(st.green_s * max_green_factor, mn)}))
        if grouped:
            c = _coordinated_stage(p)
            others = sum(s.min_green_s + s.yellow_s + s.all_red_s for k, s in enumerate(stages) if k != c)
            need = p.cycle_s - others - stages[c].yellow_s - stages[c].all_red_s
            stages = [s.model_copy(update={"max_green_s": max(need, s.green_s)}) if k == c else
                      s.model_copy(update={"max_green_s": s.green_s}) for k, s in enumerate(stages)]
            act = Actuation(passage_s=passage_s, coordinated=True, coordinated_stage=c, detectors=own)
        else:
            act = Actuation(passage_s=passage_s, detectors=own)
        period = p.plan_id.split("_p")[-1] if "_p" in p.plan_id else ""  # one plan per time-of-day period
        plan = p.model_copy(update={"stages": tuple(stages), "actuation": act,
                                    "plan_id": f"{plan_id}_p{period}" if period.isdigit() else plan_id,
                                    "metadata": {**p.metadata, "kind": "actuated-coordinated" if grouped else "actuated",
                                                 "passage_s": passage_s}})
        out.append(check_plan(plan, models[p.junction]))
    return out


#: Jam threshold that makes SUMO use every approach lane's detector (a vehicle standing on one this long stops
#: extending the green), s.
ALL_LANES_JAM_S = 120.0


def callable_lanes(plan: SignalPlan, model: SignalModel) -> SignalPlan:
    """A stage-skipping plan whose every approach lane can call its green: where some lane's movements never all
    get a protected green in one stage (SUMO would not use its detector), the plan counts every lane's detector
    (jam threshold :data:`ALL_LANES_JAM_S`). Other plans are returned as they are.

    Parameters
    ----------
    plan : SignalPlan
    model : SignalModel

    Returns
    -------
    SignalPlan
    """
    from .safety import uncallable_lanes

    act = plan.actuation
    if act is None or not act.skip or act.jam_threshold_s > 0 or not uncallable_lanes(plan, model):
        return plan
    return plan.model_copy(update={"actuation": act.model_copy(update={"jam_threshold_s": ALL_LANES_JAM_S})})


def _scenario_loops(scenario: Scenario) -> dict[str, str]:
    from ..sumocfg import scenario_detectors

    return {d.lanes[0]: d.id for d in scenario_detectors(scenario) if d.kind == "e1" and d.lanes}


# ---- steps 3 and 4: candidates in SUMO, the choice checked on other seeds -----------------------------------
#: Candidates that are what a city runs or can switch on at once: a new plan must beat the better of them.
BASELINES = ("current", "sumo_actuated")


def choose(scores: Mapping[str, tuple[float, float]], *, min_gain: float = 0.0,
           spread: Mapping[str, float] | None = None) -> str:
    """The candidate to check (``scores``: name -> (vehicles stranded, mean delay s); ``current`` among them).

    Among the candidates that strand no more vehicles than the current program, the baselines
    (:data:`BASELINES`) compete on delay; a new plan is taken only if its delay is below the better baseline's by
    at least ``min_gain`` and by at least the seed-to-seed spread of either (``spread``: name -> (largest -
    smallest) / mean delay over the seeds): a lead within the noise is no lead, and where some seeds gridlock
    the noise is large.

    Parameters
    ----------
    scores : dict of str to (float, float)
    min_gain : float
        Share of the better baseline's delay a new plan must save at the least.
    spread : dict of str to float, optional
        Relative spread of each candidate's delay over the seeds.

    Returns
    -------
    str
    """
    if "current" not in scores:
        raise InputError("the current program must be among the candidates")
    base = scores["current"][0]
    eligible = [n for n in scores if scores[n][0] <= base + 1e-9]
    key = lambda n: (scores[n][1], scores[n][0], n != "current")  # noqa: E731
    bases = [n for n in eligible if n in BASELINES]
    new = [n for n in eligible if n not in BASELINES]
    best_base = min(bases, key=key)
    if not new:
        return best_base
    best_new = min(new, key=key)
    need = max(min_gain, (spread or {}).get(best_base, 0.0), (spread or {}).get(best_new, 0.0))
    return best_new if scores[best_new][1] < (1.0 - need) * scores[best_base][1] else best_base


def beats(new: tuple[float, ...], current: tuple[float, ...]) -> bool:
    """Whether a candidate's (vehicles stranded, mean delay s[, seeds that stranded vehicles]) on the check seeds
    beats the current program's: less delay, no more vehicles stranded, and no more seeds with a gridlock."""
    more_gridlocks = len(new) > 2 and len(current) > 2 and new[2] > current[2]
    return new[1] < current[1] and new[0] <= current[0] and not more_gridlocks


def _check_scores(ds: Any, name: str) -> tuple[float, float, float]:
    """(vehicles stranded, mean delay s, seeds that stranded any) of a candidate on the check seeds."""
    var = "stranded" if "stranded" in ds else "never_departed"
    stranded, delay = _score(ds, name)
    return stranded, delay, float((ds[var].sel(controller=name).values > 0).sum())


def _pooled(a: tuple[float, float, float], n_a: int, b: tuple[float, float, float], n_b: int) -> tuple[float, ...]:
    """Check scores over two sets of seeds (means weighted by their seeds, gridlocked seeds added)."""
    n = n_a + n_b
    return ((a[0] * n_a + b[0] * n_b) / n, (a[1] * n_a + b[1] * n_b) / n, a[2] + b[2])


def _spread(ds: Any, name: str) -> float:
    """(largest - smallest) / mean of a candidate's delay over the seeds."""
    d = ds["mean_delay_s"].sel(controller=name).values
    return float((d.max() - d.min()) / max(d.mean(), 1e-9)) if d.size > 1 else 0.0


def _score(ds: Any, name: str) -> tuple[float, float]:
    """(vehicles stranded, mean delay s): never inserted after waiting a minute or more (one scheduled in the
    run's last minute says nothing of the control), and RESCO's delay."""
    var = "stranded" if "stranded" in ds else "never_departed"
    return (float(ds[var].sel(controller=name).mean()), float(ds["mean_delay_s"].sel(controller=name).mean()))


def recommend_actuated(
    scenario: Scenario,
    *,
    training_seeds: Sequence[int] = TRAINING_SEEDS,
    check_seeds: Sequence[int] = CHECK_SEEDS,
    extra_check_seeds: Sequence[int] = EXTRA_CHECK_SEEDS,
    passages_s: Sequence[float] = (3.0,),
    max_green_factor: float = 1.5,
    saturation_veh_h: float = 1800.0,
    min_gain: float = 0.03,
    processes: int = 2,
    time_limit_s: float = 10.0,
    network: RoadNetwork | None = None,
    progress: Progress | None = None,
) -> list[SignalPlan]:
    """Actuated-coordinated plans for ``scenario`` that beat the program it runs, or that program kept.

    Parameters
    ----------
    scenario : Scenario
    training_seeds, check_seeds : list of int
        SUMO seeds the candidates are chosen on and the choice is checked on (never an evaluation's).
    extra_check_seeds : list of int
        Seeds the check extends to when one of its runs strands vehicles (a gridlock); ``()`` never extends.
    passages_s : list of float, s
        Passage times tried for the actuated-coordinated plans.
    max_green_factor : float
        Isolated junctions' maximum green as a multiple of their split.
    saturation_veh_h : float, veh/h per lane
        The timing model's saturation flow.
    min_gain : float
        Share of delay a new plan must save against the better of the current program and SUMO's actuated
        control on the training seeds to be checked (see :func:`choose`).
    processes : int
        SUMO runs in parallel, one process each.
    time_limit_s : float, s
        CP-SAT and MAXBAND time limit per group.
    network : RoadNetwork, optional
        The scenario's network, if already loaded (saves reading it again).
    progress : callable, optional
        ``progress(done, total, label)`` after each SUMO run.

    Returns
    -------
    list of SignalPlan
        One per signal. A recommended plan carries ``metadata["recommendation"]`` with every candidate's
        training figures, the check figures and the decision; where the current program stays, the plan is
        that program with ``kept_current`` and ``reason`` (the decision in figures).
    """
    from ..load import load_network
    from ..study import compare, get_kind
    from .control import controller_payload, sumo_actuated
    from .timing import _coordination, movement_flows, optimise_plans

    if set(training_seeds) & (set(check_seeds) | set(extra_check_seeds)):
        raise InputError(f"training_seeds {list(training_seeds)} and check_seeds {list(check_seeds)} "
                         f"(extra {list(extra_check_seeds)}) must differ")
    if not passages_s:
        raise InputError("passages_s: give at least one passage time")
    net = network or load_network(scenario.network)
    models = signal_models(scenario.network)
    current = current_plans(scenario)
    if not current:
        raise InputError(f"{scenario.network}: the scenario has no traffic light with a stage-based program to improve")
    study = get_kind("signals").resolve(scenario)
    flows = movement_flows(scenario, network=net, models=models)
    fixed = optimise_plans(scenario, flows=flows, base=current, network=net, saturation_veh_h=saturation_veh_h,
                           time_limit_s=time_limit_s, name="optimised")
    ids = sorted(current)
    lf = {t: flows.flows[t][0] for t in ids}
    links = [(ids[u], su, ids[d], sd, tt, f) for u, su, d, sd, tt, f in
             _coordination(ids, current, models, lf, net, min_flow_veh_h=150.0, max_length_m=800.0)]
    waved: dict[tuple[str, str], SignalPlan] = {}
    for pid in sorted({p.plan_id for p in fixed if not p.metadata.get("kept_current")}):  # one wave per period
        period = {p.junction: p for p in fixed if p.plan_id == pid and not p.metadata.get("kept_current")}
        waved.update({(j, pid): q for j, q in arterial_offsets(period, links, time_limit_s=time_limit_s).items()})
    fixed = [waved.get((p.junction, p.plan_id), p) for p in fixed]
    loops = _scenario_loops(scenario)
    on_current = sumo_actuated(current_plans(scenario, default_max_green_s=50.0))
    cands: dict[str, list[SignalPlan] | None] = {
        "current": None,
        "sumo_actuated": on_current,
        "fixed_optimised": [p for p in fixed if not p.metadata.get("kept_current")],
    }
    # the current program's stages with other actuation: passage times, detectors that count every lane (jam
    # threshold 30 s: SUMO then also uses lanes whose movements only get a permissive green), and stages skipped
    # when nobody waits for them (a field controller's "no call, no green")
    for label, change in (("p2", {"passage_s": 2.0}), ("skip", {"skip": True}),
                          ("skip_p2", {"skip": True, "passage_s": 2.0}),
                          ("skip_all", {"skip": True, "jam_threshold_s": ALL_LANES_JAM_S}),
                          ("skip_p2_all", {"skip": True, "passage_s": 2.0, "jam_threshold_s": ALL_LANES_JAM_S})):
        cands[f"current_{label}"] = [callable_lanes(p.model_copy(update={
            "plan_id": f"current_{label}", "actuation": (p.actuation or Actuation()).model_copy(
                update={**change, "coordinated": False})}), models[p.junction]) for p in on_current]
    for g in passages_s:
        cands[f"actuated_p{g:g}"] = [p for p in actuated_from(fixed, models, passage_s=g, max_green_factor=max_green_factor,
                                                              detectors=loops)
                                     if not p.metadata.get("kept_current")]
    # the optimised splits with free actuation (no coordination), for networks where waves do not hold
    free = [p.model_copy(update={"metadata": {**p.metadata, "group": [p.junction]}}) for p in fixed]
    cands["actuated_free"] = [p for p in actuated_from(free, models, passage_s=max(passages_s), detectors=loops,
                                                       max_green_factor=max(max_green_factor, 2.0), plan_id="free")
                              if not p.metadata.get("kept_current")]
    cands["skip_free"] = [callable_lanes(p.model_copy(update={"plan_id": f"skip_{p.plan_id}", "actuation": p.actuation.model_copy(
        update={"skip": True})}), models[p.junction]) for p in cands["actuated_free"] if p.actuation is not None]

    def payloads(names: Sequence[str]) -> dict[str, Any]:
        return {n: controller_payload("fixed", plans=cands[n] or None) for n in names}

    train = compare(study, payloads(list(cands)), seeds=list(training_seeds), workers=processes, progress=progress)
    scores = {n: _score(train, n) for n in cands}
    spread = {n: _spread(train, n) for n in cands}
    # per coordinated group, the candidate whose junctions queued least
    mix = _mixed(train, cands, fixed)
    if mix:
        cands["mixed"] = mix
        more = compare(study, payloads(["mixed"]), seeds=list(training_seeds), workers=processes, progress=progress)
        scores["mixed"] = _score(more, "mixed")
        spread["mixed"] = _spread(more, "mixed")
    best = choose(scores, min_gain=min_gain, spread=spread)
    record: dict[str, Any] = {
        "training_seeds": list(training_seeds), "check_seeds": list(check_seeds), "min_gain": min_gain,
        "candidates": {n: {"mean_delay_s": s[1], "stranded": s[0], "spread": spread[n]} for n, s in scores.items()},
        "chosen": best,
    }
    if best == "current":
        return _keep(current, {**record, "decision": "kept",
                               "reason": "no candidate measured better than the current program on the training seeds "
                                         f"(current {scores['current'][1]:.1f} s mean delay)"})
    # the check: the choice, the current program and SUMO's actuated control, on seeds the choice never saw
    names = list(dict.fromkeys(["current", best, "sumo_actuated"]))
    check = compare(study, payloads(names), seeds=list(check_seeds), workers=processes, progress=progress)
    got = {n: _check_scores(check, n) for n in names}
    if extra_check_seeds and any(v[2] > 0 for v in got.values()):
        # a run gridlocked: two seeds cannot tell which program gridlocks more often, so the check takes more
        more = compare(study, payloads(names), seeds=list(extra_check_seeds), workers=processes, progress=progress)
        got = {n: _pooled(got[n], len(check_seeds), _check_scores(more, n), len(extra_check_seeds)) for n in names}
        record["check_seeds"] = list(check_seeds) + list(extra_check_seeds)
    record["check"] = {n: {"mean_delay_s": v[1], "stranded": v[0], "gridlocked_seeds": v[2]} for n, v in got.items()}
    cur, new = got["current"], got[best]
    if best != "sumo_actuated" and beats(got["sumo_actuated"], new):
        best, new = "sumo_actuated", got["sumo_actuated"]  # the new plans did not hold their lead over SUMO's
        record["chosen"] = best
    if not beats(new, cur):
        return _keep(current, {**record, "decision": "kept",
                               "reason": f"{best} was best on the training seeds but not on the check seeds: "
                                         f"{new[1]:.1f} s mean delay, {new[0]:g} stranded, {new[2]:g} seeds gridlocked "
                                         f"against the current program's {cur[1]:.1f} s, {cur[0]:g} and {cur[2]:g}"})
    record.update(decision="recommended", improvement_vs_current=1.0 - new[1] / cur[1] if cur[1] > 0 else 0.0)
    chosen = {p.junction: p for p in (cands[best] or [])}
    out = []
    for j in ids:
        if j in chosen:
            p = chosen[j]
            out.append(p.model_copy(update={"metadata": {**p.metadata, "recommendation": record}}))
        else:
            reason = next((p.metadata.get("reason") for p in fixed if p.junction == j and p.metadata.get("reason")),
                          f"the chosen candidate ({best}) keeps this junction on its current program")
            out.append(_kept(current[j], reason, record))
    return out


def _kept(p: SignalPlan, reason: str, record: dict[str, Any]) -> SignalPlan:
    return p.model_copy(update={"metadata": {**p.metadata, "method": "kept_current", "kept_current": True,
                                             "reason": reason, "recommendation": record}})


def _keep(current: Mapping[str, SignalPlan], record: dict[str, Any]) -> list[SignalPlan]:
    return [_kept(p, record["reason"], record) for _, p in sorted(current.items())]


def _mixed(ds: Any, cands: Mapping[str, list[SignalPlan] | None], fixed: Sequence[SignalPlan]) -> list[SignalPlan] | None:
    """Per coordinated group, the plans of the candidate whose junctions queued least on the training seeds
    (``None`` when one candidate wins everywhere: nothing new to measure)."""
    if "queue" not in ds:
        return None
    q = ds["queue"].mean(("seed", "time"))
    groups = sorted({tuple(sorted(p.metadata.get("group", [p.junction]))) for p in fixed})
    chosen: dict[tuple[str, ...], str] = {}
    for g in groups:
        members = [j for j in g if j in q["junction"].values]
        if not members:
            continue
        per = {n: float(q.sel(controller=n, junction=members).sum()) for n in cands}
        chosen[g] = min(per, key=per.__getitem__)
    if len(set(chosen.values())) < 2:
        return None
    out = []
    for g, name in chosen.items():
        plans = {p.junction: p for p in (cands[name] or [])}
        out += [plans[j] for j in g if j in plans]  # "current" leaves the group on its own program
    return out
