"""Booth layouts and schedules compared in SUMO over seeds, and delay against ETC penetration.

Each run is one SUMO in its own spawned process (libsumo allows one simulation per process).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

from .._errors import InputError, SimulationError
from .mix import layout, surrogate_delay
from .plaza import DemandPeriod, PlazaSpec

__all__ = ["compare_mixes", "penetration_curve"]

Schedule = list[tuple[float, tuple[str, ...]]]


def _job(args: tuple[str, dict[str, Any], int, Schedule | None]) -> tuple[str, int, dict[str, list[float]]]:
    from . import period_delays
    from .simulate import run_plaza

    name, spec_json, seed, schedule = args
    spec = PlazaSpec.model_validate(spec_json)
    ds = run_plaza(spec, seed=seed, schedule=schedule)
    pdl = period_delays(ds, spec)
    arr = ds["trip_arrived"].values.astype(bool)
    d = ds["trip_time_loss"].values + ds["trip_service_s"].values + ds["trip_depart_delay"].values
    out = {k: [float(x) for x in pdl[k].values] for k in ("delay_s", "delay_tagged_s", "delay_untagged_s", "vehicles")}
    out["total"] = [float(np.nanmean(d)), float(arr.sum()), float(int(ds["vehicles_unfinished"]) + int(ds["vehicles_never_departed"])),
                    float(ds["approach_queue"].max())]
    return name, seed, out


def compare_mixes(spec: PlazaSpec, mixes: dict[str, Schedule | None], *, seeds: Sequence[int] = (1, 2, 3),
                  processes: int = 2, progress: Callable[[int, int, str], None] | None = None) -> Any:
    """Run every booth schedule on every seed; a Dataset with dims ``mix``, ``seed`` and ``period``.

    ``mixes`` maps a name to a schedule (``[(start_s, booths), ...]``) or ``None`` for the plaza's own booths.
    Variables: ``delay_s`` (mean over the day), ``period_delay_s``, ``period_delay_tagged_s``,
    ``period_delay_untagged_s`` (on ``period``), ``arrived``, ``left_over`` (still queued or never inserted
    at the end), ``max_approach_queue``.
    """
    import xarray as xr

    if not mixes or not seeds:
        raise InputError("compare_mixes: give at least one mix and one seed")
    jobs = [(name, spec.model_dump(mode="json"), int(s), sched) for name, sched in mixes.items() for s in seeds]
    res: dict[tuple[str, int], dict[str, list[float]]] = {}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, processes), mp_context=ctx, max_tasks_per_child=1) as ex:
        futs = {ex.submit(_job, j): j for j in jobs}
        for n, f in enumerate(as_completed(futs), 1):
            j = futs[f]
            try:
                name, seed, out = f.result()
            except InputError:
                raise
            except Exception as exc:
                raise SimulationError(f"toll plaza run {j[0]} seed {j[2]} failed: {exc}") from exc
            res[(name, seed)] = out
            if progress is not None:
                progress(n, len(jobs), f"{name} seed {seed}")
    names, sds = list(mixes), list(seeds)
    n_p = len(spec.demand)

    def grid(key: str, i: int | None = None) -> np.ndarray:
        if i is None:
            return np.array([[res[(m, s)][key] for s in sds] for m in names])
        return np.array([[res[(m, s)]["total"][i] for s in sds] for m in names])

    ds = xr.Dataset(
        {"delay_s": (("mix", "seed"), grid("total", 0), {"units": "s", "long_name": "mean delay per vehicle over the day"}),
         "arrived": (("mix", "seed"), grid("total", 1), {"units": "veh"}),
         "left_over": (("mix", "seed"), grid("total", 2), {"units": "veh", "long_name": "still queued or never inserted at the end"}),
         "max_approach_queue": (("mix", "seed"), grid("total", 3), {"units": "veh"}),
         "period_delay_s": (("mix", "seed", "period"), grid("delay_s"), {"units": "s"}),
         "period_delay_tagged_s": (("mix", "seed", "period"), grid("delay_tagged_s"), {"units": "s"}),
         "period_delay_untagged_s": (("mix", "seed", "period"), grid("delay_untagged_s"), {"units": "s"}),
         "period_vehicles": (("mix", "seed", "period"), grid("vehicles"), {"units": "veh"})},
        coords={"mix": names, "seed": sds, "period": np.arange(n_p),
                "period_start_s": ("period", [p.begin_s for p in spec.demand]),
                "period_flow_veh_h": ("period", [p.flow_veh_h for p in spec.demand])},
        attrs={"plaza": spec.model_dump_json(), "delay": "time loss + payment stop + insertion delay, per vehicle"})
    return ds


def penetration_curve(spec: PlazaSpec, flow_veh_h: float, penetrations: Sequence[float], *, seeds: Sequence[int] = (1,),
                      duration_s: float = 3600.0, processes: int = 2) -> Any:
    """Mean delay against ETC penetration at one flow, each at its best fixed mix (chosen by the surrogate)
    and measured in SUMO: a Dataset on ``penetration`` with ``delay_s`` (SUMO, mean over seeds),
    ``surrogate_delay_s`` and the mix (``etc``, ``mtc``, ``mixed``; -1 and NaN delays where no mix keeps up)."""
    import xarray as xr

    from .mix import configurations

    n = len(spec.booths)
    rows = []
    for pen in penetrations:
        best, best_d = None, np.inf
        for c in configurations(n, pen):
            d, ok = surrogate_delay(tuple(int(v) for v in c), flow_veh_h, pen, spec.mtc_service)
            if ok and d < best_d:
                best, best_d = tuple(int(v) for v in c), d
        rows.append((pen, best if best is not None else (-1, -1, -1), best_d))  # (-1, -1, -1): no mix keeps up
    if all(b[0] < 0 for _, b, _ in rows):
        raise InputError(f"no booth mix of {n} booths keeps up with {flow_veh_h:g} veh/h at any of the penetrations given")
    specs = {}
    for pen, best, _ in rows:
        if best[0] < 0:
            continue
        s = spec.model_copy(update={"booths": layout(best), "etc_penetration": pen,
                                    "demand": (DemandPeriod(begin_s=0, end_s=duration_s, flow_veh_h=flow_veh_h),)})
        specs[f"{pen:g}"] = PlazaSpec.model_validate(s.model_dump())
    measured = {}
    for key, s in specs.items():
        ds = compare_mixes(s, {key: None}, seeds=seeds, processes=processes)
        measured[key] = float(ds["delay_s"].mean())
    return xr.Dataset(
        {"delay_s": ("penetration", [measured.get(f"{p:g}", np.nan) for p, _, _ in rows],
                     {"units": "s", "long_name": "SUMO mean delay (NaN: no mix keeps up)"}),
         "surrogate_delay_s": ("penetration", [d for _, _, d in rows], {"units": "s"}),
         "etc": ("penetration", [b[0] for _, b, _ in rows]), "mtc": ("penetration", [b[1] for _, b, _ in rows]),
         "mixed": ("penetration", [b[2] for _, b, _ in rows])},
        coords={"penetration": [p for p, _, _ in rows]}, attrs={"flow_veh_h": flow_veh_h, "booths": n})
