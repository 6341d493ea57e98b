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
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError, SimulationError
from .control import ADAPTIVE, CONTROLLERS, AdaptiveSettings
from .plan import SignalPlan

if TYPE_CHECKING:
    import xarray as xr

    from ..scenario import Scenario

__all__ = ["TUNING_SEED_BASE", "controller_plans", "evaluate", "recommend_plans", "summary_table"]

#: Tuning runs use seeds ``TUNING_SEED_BASE + k``, apart from the seeds of an evaluation.
TUNING_SEED_BASE = 900_000
Progress = Callable[[int, int, str], None]
KPI_VARS = {
    "mean_delay_s": ("s", "mean delay per scheduled vehicle (timeLoss + departDelay; never-departed wait to the end)"),
    "mean_travel_time_s": ("s", "mean trip time of arrived vehicles"),
    "mean_waiting_time_s": ("s", "mean halting time of arrived vehicles"),
    "mean_queue_veh": ("veh", "halting vehicles on the signals' approaches, time mean"),
    "throughput_veh_h": ("veh/h", "arrived vehicles per hour"),
    "unfinished": ("veh", "vehicles still driving at the end"),
    "never_departed": ("veh", "vehicles never inserted (waiting to depart at the end)"),
}


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One simulation in a fresh process: scenario, controller, seed, plans -> KPIs and queues."""
    from ..results import kpis
    from ..scenario import Scenario
    from .control import run_controlled

    sc = Scenario.model_validate(job["scenario"])
    plans = [SignalPlan.model_validate(p) for p in job["plans"]] if job.get("plans") else None
    settings = AdaptiveSettings(**job["settings"]) if job.get("settings") else None
    t0 = time.perf_counter()
    ds = run_controlled(sc, job["controller"], seed=job["seed"], plans=plans, settings=settings)
    k = kpis(ds)
    q = ds["tls_queue"].values if "tls_queue" in ds else np.zeros((0, 0))
    return {
        "key": job["key"], "kpis": k, "queue": q.tolist(),
        "junctions": [str(x) for x in ds["junction"].values] if "junction" in ds.coords else [],
        "time": [float(x) for x in ds["time"].values] if "time" in ds.coords else [],
        "sumo_version": ds.attrs.get("sumo_version", ""), "seconds": time.perf_counter() - t0,
    }


def _run_all(jobs: list[dict[str, Any]], processes: int, progress: Progress | None) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    processes = max(1, processes)  # even one worker is a separate process: libsumo keeps global state
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx, max_tasks_per_child=1) as ex:
        futures = {ex.submit(_run_job, j): j for j in jobs}
        for n, f in enumerate(as_completed(futures), 1):
            j = futures[f]
            try:
                r = f.result()
            except InputError:
                for other in futures:
                    other.cancel()
                raise
            except Exception as exc:
                for other in futures:
                    other.cancel()
                raise SimulationError(f"{j['controller']} on seed {j['seed']} failed: {exc}") from exc
            out[r["key"]] = r
            if progress is not None:
                progress(n, len(jobs), f"{j['controller']} seed {j['seed']}")
    return out


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="json")


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
    """
    from .timing import movement_flows, optimise_plans

    seeds = list(tuning_seeds) if tuning_seeds is not None else [TUNING_SEED_BASE, TUNING_SEED_BASE + 1]
    if not saturations_veh_h:
        raise InputError("saturations_veh_h: give at least one saturation flow")
    flows = movement_flows(scenario)
    scj = _scenario_json(scenario)
    tried: list[dict[str, Any]] = []
    cands: dict[str, list[SignalPlan]] = {}
    scores: dict[str, float] = {}

    def measure(new: dict[str, list[SignalPlan]]) -> None:
        new = {k: v for k, v in new.items() if k not in scores}
        jobs = [{"key": (name, s), "scenario": scj, "controller": "fixed", "seed": s,
                 "plans": [p.model_dump(mode="json") for p in plans]} for name, plans in new.items() for s in seeds]
        res = _run_all(jobs, processes, progress)
        for name in new:
            d = [res[(name, s)]["kpis"]["mean_delay_s"] for s in seeds]
            nd = [res[(name, s)]["kpis"]["vehicles_never_departed"] for s in seeds]
            scores[name] = float(np.mean(d))
            tried.append({"candidate": name, "mean_delay_s": scores[name], "never_departed": float(np.mean(nd))})
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

    def swapped(junctions: set[str]) -> list[SignalPlan]:
        return [p for p in plans if p.junction not in junctions] + [today[j] for j in sorted(junctions) if j in today]

    trial = {f"{best}_keep{k}": swapped(set(g)) for k, g in enumerate(groups)}
    measure(trial)
    better = [set(groups[k]) for k, name in enumerate(trial) if scores[name] < scores[best]]
    if len(better) > 1:
        measure({f"{best}_keep_all": swapped(set().union(*better))})
    return min((best, *trial, *([f"{best}_keep_all"] if len(better) > 1 else [])), key=scores.__getitem__)


def controller_plans(scenario: Scenario, controller: str, **options: Any) -> list[SignalPlan] | None:
    """The fixed-time plans a controller runs (None for the network's own programs and adaptive control)."""
    from .timing import webster_plans

    if controller == "webster":
        return webster_plans(scenario, **{k: v for k, v in options.items() if k in ("saturation_veh_h", "permissive_credit")})
    if controller == "optimised":
        return recommend_plans(scenario, **options)
    return None


def evaluate(
    scenario: Scenario,
    controllers: Sequence[str] = ("fixed", "actuated", "webster", "maxpressure", "optimised"),
    *,
    seeds: Sequence[int] = (1, 2, 3, 4, 5),
    processes: int = 2,
    settings: AdaptiveSettings | None = None,
    plans: dict[str, list[SignalPlan]] | None = None,
    progress: Progress | None = None,
    optimise_options: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Run every controller on every seed and return the KPIs as a Dataset (see the module docstring).

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
    """
    import xarray as xr

    plans = dict(plans or {})
    unknown = [c for c in controllers if c not in CONTROLLERS and c not in plans]
    if unknown:
        raise InputError(f"unknown controller(s) {unknown}; choose from {', '.join(CONTROLLERS)} or pass their plans")
    if not seeds:
        raise InputError("give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"seeds must be distinct, got {list(seeds)}")
    for c in controllers:
        if c in ("webster", "optimised") and c not in plans:
            opts = dict(optimise_options or {})
            if c == "optimised":
                opts.setdefault("processes", processes)
                opts.setdefault("progress", progress)
            plans[c] = controller_plans(scenario, c, **opts) or []
    scj = _scenario_json(scenario)
    st = settings.__dict__ if settings is not None else None
    jobs = []
    for c in controllers:
        run_as = c if c in ("fixed", "actuated", *ADAPTIVE) and c not in plans else "fixed"
        for s in seeds:
            jobs.append({"key": (c, int(s)), "scenario": scj, "controller": run_as, "seed": int(s), "settings": st,
                         "plans": [p.model_dump(mode="json") for p in plans[c]] if c in plans else None})
    t0 = time.perf_counter()
    res = _run_all(jobs, processes, progress)
    ctl, sd = list(controllers), [int(s) for s in seeds]
    data: dict[str, Any] = {}
    for name, (units, ln) in KPI_VARS.items():
        arr = np.full((len(ctl), len(sd)), np.nan)
        for i, c in enumerate(ctl):
            for j, s in enumerate(sd):
                r = res[(c, s)]
                k = r["kpis"]
                q = np.asarray(r["queue"], dtype=float)
                value = {"unfinished": k["vehicles_unfinished"], "never_departed": k["vehicles_never_departed"],
                         "mean_queue_veh": float(q.sum(axis=0).mean()) if q.size else np.nan}.get(name, k.get(name))
                arr[i, j] = np.nan if value is None else value
        if name in ("unfinished", "never_departed"):
            arr = arr.astype(np.int64)
        data[name] = (("controller", "seed"), arr, {"units": units, "long_name": ln})
    first = res[(ctl[0], sd[0])]
    coords: dict[str, Any] = {"controller": ctl, "seed": sd}
    if first["junctions"] and first["time"]:
        coords["junction"] = first["junctions"]
        coords["time"] = ("time", np.asarray(first["time"]), {"units": "s", "long_name": "start of the interval"})
        queue = np.full((len(ctl), len(sd), len(first["junctions"]), len(first["time"])), np.nan)
        for i, c in enumerate(ctl):
            for j, s in enumerate(sd):
                q = np.asarray(res[(c, s)]["queue"], dtype=float)
                if q.shape == queue.shape[2:]:
                    queue[i, j] = q
        data["queue"] = (("controller", "seed", "junction", "time"), queue,
                         {"units": "veh", "long_name": "mean halting vehicles on the signal's approaches"})
    from ..results import _toolkit_version

    attrs = {
        "title": f"signal controllers on scenario {scenario.name}",
        "scenario_name": scenario.name, "scenario_hash": scenario.spec_hash,
        "scenario_file": str(scenario.source_file or ""), "toolkit_version": _toolkit_version(),
        "sumo_version": first["sumo_version"], "seeds": json.dumps(sd),
        "adaptive_settings": json.dumps(st or AdaptiveSettings().__dict__),
        "plans_json": json.dumps({c: [p.model_dump(mode="json") for p in ps] for c, ps in plans.items()}),
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "delay_definition": "RESCO: sum(timeLoss + departDelay) / (trips + never departed); never-departed vehicles wait until the end",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def summary_table(ds: xr.Dataset) -> list[dict[str, Any]]:
    """One row per controller: seed means (and the delay's standard deviation) of every KPI."""
    rows = []
    for c in ds["controller"].values:
        sub = ds.sel(controller=c)
        row: dict[str, Any] = {"controller": str(c)}
        for name in KPI_VARS:
            row[name] = float(sub[name].mean())
        row["mean_delay_sd_s"] = float(sub["mean_delay_s"].std(ddof=1)) if sub.sizes["seed"] > 1 else 0.0
        rows.append(row)
    return rows
