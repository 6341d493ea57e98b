"""Comparing signal controllers over seeds, and plans refined by simulation in the loop.

:func:`evaluate` runs each controller on each seed, one SUMO per process (libsumo allows one
simulation per process), and gathers the KPIs into one Dataset with dims ``controller`` and ``seed``:

- ``mean_delay_s``: RESCO's delay, ``timeLoss + departDelay`` averaged over every vehicle scheduled in
  the window, never-departed vehicles counted as waiting from their scheduled departure to the end;
- ``mean_travel_time_s``, ``mean_waiting_time_s`` (arrived vehicles), ``throughput_veh_h``;
- ``mean_queue_veh``: halting vehicles on the signals' approaches, averaged over time;
- ``unfinished`` (still driving at the end) and ``never_departed``;
- ``queue`` on ``(controller, seed, junction, time)``.

:func:`recommend_plans` produces the ``optimised`` controller's plans: the CP-SAT model is solved for
a few saturation-flow assumptions and cycle scalings, each candidate is measured in SUMO on tuning
seeds that are not the evaluation seeds, and the best measured candidate is returned with its
measured delay in the plans' metadata.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any


from .._errors import InputError
from .control import AdaptiveSettings
from .plan import SignalPlan

if TYPE_CHECKING:
    import xarray as xr

    from ..scenario import Scenario
    from ..study import Study

__all__ = ["TUNING_SEED_BASE", "controller_plans", "evaluate", "recommend_plans", "summary_table"]

#: Tuning runs use seeds ``TUNING_SEED_BASE + k``, apart from the seeds of an evaluation.
TUNING_SEED_BASE = 900_000
Progress = Callable[[int, int, str], None]


def _study(scenario: Scenario) -> Study:
    from ..study import Study, get_kind

    return scenario if isinstance(scenario, Study) else get_kind("signals").resolve(scenario)


def recommend_plans(
    scenario: Scenario,
    *,
    tuning_seeds: Sequence[int] | None = None,
    saturations_veh_h: Sequence[float] = (1800.0, 1400.0, 1000.0),
    cycle_scales: Sequence[float] = (0.85, 1.2),
    max_rounds: int = 3,
    processes: int = 2,
    time_limit_s: float = 10.0,
    progress: Progress | None = None,
    keep_current_groups: bool = True,
    **options: Any,
) -> list[SignalPlan]:
    """Optimised fixed-time plans for ``scenario``, refined by simulation in the loop.

    The CP-SAT model (:func:`~mobility.signals.timing.optimise_plans`) needs the saturation flow SUMO's
    drivers achieve, which depends on the vehicle types, lane use and permissive turns; the search
    measures it instead of assuming it:

    1. solve for each saturation flow in ``saturations_veh_h``; while the best lies at the edge of the
       values tried, try one more step beyond it (up to ``max_rounds`` steps);
    2. re-solve the best with its cycles fixed at each of ``cycle_scales`` times the optimum, again
       stepping outward while the edge wins;
    3. re-solve with each group's cycle fixed at that of its current plans;
    4. with ``keep_current_groups``, for each coordinated group of the best candidate, measure it with
       that group's junctions back on their current plans, and keep every swap that lowers the delay
       (then measure the swaps together). The model assumes undersaturated, well-behaved junctions; where
       SUMO disagrees (clustered junctions, blocking between close junctions) today's plan stays.

    Every candidate runs in SUMO on ``tuning_seeds`` (default ``TUNING_SEED_BASE`` and the next one,
    never the seeds of an evaluation); the lowest mean delay wins. The plans' metadata records every
    candidate's measured delay, and the delay of the network's current plans on the same seeds
    (``current_mean_delay_s``, ``improvement_vs_current``): a negative improvement means the model
    found nothing better than today's plans.

    Parameters
    ----------
    scenario : Scenario
    tuning_seeds : list of int, optional
        Seeds the candidates are measured on.
    saturations_veh_h : list of float, veh/h
        Saturation flows tried first.
    cycle_scales : list of float
        Cycle multipliers tried on the best.
    max_rounds : int
        Steps beyond the edge of the values tried.
    processes : int
        Simulations run in parallel.
    time_limit_s : float, s
        CP-SAT time limit per solve.
    progress : callable, optional
    keep_current_groups : bool
        Try each coordinated group back on its current plans (step 4).
    **options
        Passed to :func:`~mobility.signals.timing.optimise_plans`.

    Returns
    -------
    list of SignalPlan
        One per signal, the measured candidates in the metadata.
    """
    from .timing import movement_flows, optimise_plans

    seeds = list(tuning_seeds) if tuning_seeds is not None else [TUNING_SEED_BASE, TUNING_SEED_BASE + 1]
    if not saturations_veh_h:
        raise InputError("saturations_veh_h: give at least one saturation flow")
    flows = movement_flows(scenario)
    study = _study(scenario)
    tried: list[dict[str, Any]] = []
    cands: dict[str, list[SignalPlan]] = {}
    scores: dict[str, float] = {}
    never: dict[str, float] = {}
    seen_payloads: dict[str, str] = {}

    def measure(new: dict[str, list[SignalPlan]]) -> None:
        from ..study import compare
        from .control import controller_payload

        new = {k: v for k, v in new.items() if k not in scores}
        # candidates with the same plans (e.g. every junction kept on its current plan) run once
        run: dict[str, dict[str, Any]] = {}
        same: dict[str, str] = {}
        for name, plans in new.items():
            payload = controller_payload("fixed", plans=plans)
            key = json.dumps(payload, sort_keys=True, default=str)
            if key in seen_payloads:
                same[name] = seen_payloads[key]
            else:
                seen_payloads[key] = name
                run[name] = payload
        if run:
            ds = compare(study, run, seeds=seeds, workers=processes, progress=progress)
            for name in run:
                scores[name] = float(ds["mean_delay_s"].sel(controller=name).mean())
                never[name] = float(ds["never_departed"].sel(controller=name).mean())
        for name in new:
            if name in same:
                scores[name], never[name] = scores[same[name]], never[same[name]]
            tried.append({"candidate": name, "mean_delay_s": scores[name], "never_departed": never[name],
                          **({"same_plans_as": same[name]} if name in same else {})})
        cands.update(new)

    def search(values: list[float], make: Callable[[float], list[SignalPlan]], label: Callable[[float], str],
               step: Callable[[float, float], float]) -> float:
        measure({label(v): make(v) for v in values if label(v) not in scores})
        for _ in range(max_rounds):
            best = min(values, key=lambda v: scores[label(v)])
            lo, hi = min(values), max(values)
            if best not in (lo, hi) or len(values) < 2:
                return best
            nxt = step(best, lo if best == hi else hi)
            if nxt is None or nxt in values:
                return best
            values.append(nxt)
            measure({label(nxt): make(nxt)})
        return min(values, key=lambda v: scores[label(v)])

    def sat_plans(v: float) -> list[SignalPlan]:
        return optimise_plans(scenario, flows=flows, saturation_veh_h=v, time_limit_s=time_limit_s, **options)

    sats = sorted(float(x) for x in saturations_veh_h)
    # beyond the edge by the spacing of the values tried, never below 300 veh/h per lane
    sat = search(sats, sat_plans, lambda v: f"sat{v:g}",
                 lambda best, other: max(best + (best - other) / max(len(sats) - 1, 1), 300.0) if best != other else None)
    best_sat = f"sat{sat:g}"
    if cycle_scales:
        scales = sorted({1.0, *(float(c) for c in cycle_scales)})
        cands_for_one = {1.0: cands[best_sat]}

        def scaled(c: float) -> list[SignalPlan]:
            if c in cands_for_one:
                return cands_for_one[c]
            return optimise_plans(scenario, flows=flows, saturation_veh_h=sat, cycle_scale=c, time_limit_s=time_limit_s,
                                  **options)

        def scale_label(c: float) -> str:
            return best_sat if c == 1.0 else f"{best_sat}_x{c:g}"

        search(scales, scaled, scale_label, lambda best, other: round(best + (best - other) / 2, 3) if 0.4 <= best <= 2.5 else None)
    # the current plans' cycle with optimised splits and offsets (the saturation flow scales every
    # flow ratio alike, so at a fixed cycle it hardly matters)
    measure({"base_cycle": optimise_plans(scenario, flows=flows, saturation_veh_h=sat, base_cycle=True,
                                          time_limit_s=time_limit_s, **options)})
    best = min(scores, key=scores.__getitem__)
    # today's plans on the same seeds: the recommendation says how much it saves, and the last step
    # keeps today's plans for any coordinated group where the model's plans measure worse
    from .plan import plans_from_net

    today = plans_from_net(scenario.network)
    measure({"current": list(today.values())})
    current = scores.pop("current")
    if keep_current_groups:
        best = _keep_current_groups(best, cands, scores, today, measure)
    meta = {"tuning_seeds": seeds, "candidates": tried, "chosen": best, "measured_mean_delay_s": scores[best],
            "current_mean_delay_s": current, "improvement_vs_current": 1.0 - scores[best] / current if current > 0 else 0.0}
    return [p.model_copy(update={"metadata": {**p.metadata, "refinement": meta}}) for p in cands[best]]


def _keep_current_groups(best: str, cands: dict[str, list[SignalPlan]], scores: dict[str, float],
                         today: dict[str, SignalPlan], measure: Callable[[dict[str, list[SignalPlan]]], None]) -> str:
    """Step 4 of :func:`recommend_plans`: put coordinated groups back on today's plans where that measures better."""
    plans = cands[best]
    groups = sorted({tuple(sorted(p.metadata.get("group", [p.junction]))) for p in plans})
    if len(groups) < 2:
        return best  # one group back on today's plans is today's plans, measured already

    why = ("measured in SUMO on the tuning seeds: with this coordinated group on its current plans the network's "
           "delay was lower than with the model's plans (the model assumes undersaturated, independent junctions)")

    def swapped(junctions: set[str]) -> list[SignalPlan]:
        return [p for p in plans if p.junction not in junctions] + [
            today[j].model_copy(update={"metadata": {**today[j].metadata, "method": "kept_current", "kept_current": True,
                                                     "reason": why}}) for j in sorted(junctions) if j in today]

    trial = {f"{best}_keep{k}": swapped(set(g)) for k, g in enumerate(groups)}
    measure(trial)
    better = [set(groups[k]) for k, name in enumerate(trial) if scores[name] < scores[best]]
    if len(better) > 1:
        measure({f"{best}_keep_all": swapped(set().union(*better))})
    return min((best, *trial, *([f"{best}_keep_all"] if len(better) > 1 else [])), key=scores.__getitem__)


def controller_plans(scenario: Scenario, controller: str, **options: Any) -> list[SignalPlan] | None:
    """The plans a controller runs (None for the scenario's own programs and adaptive control).

    ``optimised`` runs :func:`~mobility.signals.actuated.recommend_actuated` (actuated-coordinated plans
    checked against the current program on seeds they were not chosen on); ``webster`` Webster's plans.
    Plans that keep a junction's current program (``kept_current``) are left out: that junction runs the
    program of the scenario itself.
    """
    from .actuated import recommend_actuated
    from .timing import webster_plans

    if controller == "webster":
        return webster_plans(scenario, **{k: v for k, v in options.items() if k in ("saturation_veh_h", "permissive_credit")})
    if controller == "optimised":
        known = ("training_seeds", "check_seeds", "passages_s", "max_green_factor", "saturation_veh_h", "min_gain",
                 "processes", "time_limit_s", "network", "progress")
        plans = recommend_actuated(scenario, **{k: v for k, v in options.items() if k in known})
        return [p for p in plans if not p.metadata.get("kept_current")]
    return None


def evaluate(
    scenario: Scenario,
    controllers: Sequence[str] = ("fixed", "actuated", "maxpressure", "adaptive", "optimised"),
    *,
    seeds: Sequence[int] = (1, 2, 3, 4, 5),
    processes: int = 2,
    settings: AdaptiveSettings | None = None,
    plans: dict[str, list[SignalPlan]] | None = None,
    progress: Progress | None = None,
    optimise_options: dict[str, Any] | None = None,
    **executor: Any,
) -> xr.Dataset:
    """Run every controller on every seed and return the KPIs as a Dataset (see the module docstring):
    :func:`mobility.compare` on the signals study of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
    controllers : list of str
        Names from :data:`~mobility.signals.control.CONTROLLERS`, or any name given in ``plans``.
    seeds : list of int
        SUMO seeds, recorded in the ``seed`` coordinate.
    processes : int
        Simulations run in parallel, one process each.
    settings : AdaptiveSettings, optional
        Rules of the greedy and max-pressure controllers.
    plans : dict of str to list of SignalPlan, optional
        Ready plans per controller name (skips computing Webster or optimised plans, or adds
        controllers of your own that run as fixed time).
    progress : callable, optional
        ``progress(done, total, label)`` after each simulation.
    optimise_options : dict, optional
        Options of :func:`recommend_actuated` for the ``optimised`` controller (``training_seeds``,
        ``check_seeds``, ``passages_s``, ``time_limit_s``...), and of Webster's plans for ``webster``.
    **executor
        :func:`mobility.compare`'s ``client``, ``time_limit_s``, ``retries`` and ``workdir``.

    Returns
    -------
    xarray.Dataset
        KPIs with dims ``controller`` and ``seed``.
    """
    from ..study import compare

    return compare(_study(scenario), list(controllers), seeds=seeds, workers=processes, progress=progress,
                   plans=plans, settings=settings, optimise_options=optimise_options, plan_workers=processes,
                   plan_progress=progress,
                   **executor)


def summary_table(ds: xr.Dataset) -> list[dict[str, Any]]:
    """One row per controller: seed means (and the delay's standard deviation) of every KPI of the signal
    study's table (:func:`mobility.study_table` gives the same as a DataFrame).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`evaluate` or :func:`mobility.compare` on a signals study.

    Returns
    -------
    list of dict
        One row per controller.
    """
    from ..study import get_kind

    rows = []
    for c in ds["controller"].values:
        sub = ds.sel(controller=c)
        row: dict[str, Any] = {"controller": str(c)}
        for col in get_kind("signals").table:
            row[col.var] = float(sub[col.var].mean())
        row["mean_delay_sd_s"] = float(sub["mean_delay_s"].std(ddof=1)) if sub.sizes["seed"] > 1 else 0.0
        rows.append(row)
    return rows
