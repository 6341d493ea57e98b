"""Simulating a toll plaza in SUMO: booth choice by shortest queue, payment stops, per-booth KPIs.

Each vehicle picks its booth when it enters the ``decision`` edge, as a driver who sees the booths
does: among the allowed booths within ``reach`` lanes of its own, the one with the fewest vehicles
committed to it and not yet through it (the nearest on a tie, then at random, seeded; all allowed booths
when none is within reach). Its route is set through that booth, and if it pays there it gets a stop at the
booth's service point for its own payment time. Vehicles entering and leaving the booth area are read
through edge subscriptions, once per step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ..seeds import rng as sub_rng
from .plaza import TAGGED, UNTAGGED, PlazaSpec, build_plaza, plaza_demand

__all__ = ["period_delays", "run_plaza"]

_VTYPES = (f'  <vType id="{TAGGED}" vClass="custom1" guiShape="passenger" length="5" minGap="2.5" accel="2.6" '
           f'decel="4.5" sigma="{{sigma}}" speedDev="{{speed_dev}}"/>\n'
           f'  <vType id="{UNTAGGED}" vClass="passenger" length="5" minGap="2.5" accel="2.6" decel="4.5" '
           f'sigma="{{sigma}}" speedDev="{{speed_dev}}"/>\n')


def _routes(spec: PlazaSpec, demand: dict[str, np.ndarray], path: Path, sigma: float, speed_dev: float,
            layouts: list[tuple[float, PlazaSpec]]) -> None:
    """Vehicles round-robin over the approach lanes, each routed first to an allowed booth that its lane
    leads to (under the layout in force when it departs); the booth is chosen again at the decision edge."""
    rows = ['<?xml version="1.0" encoding="UTF-8"?>\n<routes>\n', _VTYPES.format(sigma=sigma, speed_dev=speed_dev)]
    n, a = len(spec.booths), spec.approach_lanes
    feeds = np.array([min(a - 1, j * a // n) for j in range(n)])  # approach lane feeding decision lane (booth) j
    starts = np.array([t for t, _ in layouts])
    for i, (t, tag) in enumerate(zip(demand["depart_s"], demand["tagged"], strict=True)):
        cur = layouts[max(0, int(np.searchsorted(starts, t, side="right")) - 1)][1]
        ok = np.array(cur.allowed(bool(tag)))
        lane = i % a
        mine = ok[feeds[ok] == lane]
        if mine.size == 0:
            mine = ok[np.abs(feeds[ok] - lane) == np.abs(feeds[ok] - lane).min()]
        k = int(mine[(i // a) % mine.size])
        rows.append(f'  <vehicle id="v{i}" type="{TAGGED if tag else UNTAGGED}" depart="{t:.2f}" departLane="{lane}" '
                    f'departSpeed="max">\n    <route edges="approach decision fan_{k} booth_{k} merge_{k} departure"/>\n'
                    f'  </vehicle>\n')
    rows.append("</routes>\n")
    path.write_text("".join(rows))


def run_plaza(
    spec: PlazaSpec,
    *,
    seed: int = 1,
    drain_s: float = 1200.0,
    interval_s: float = 60.0,
    sigma: float = 0.5,
    speed_dev: float = 0.1,
    schedule: Sequence[tuple[float, Sequence[str]]] | None = None,
    reach: int = 3,
    workdir: str | Path | None = None,
) -> Any:
    """Simulate ``spec`` with SUMO seed ``seed`` (also the demand's seed); returns an xarray Dataset.

    The Dataset holds the usual run variables (trips, edges, summary) and:

    - per vehicle: ``trip_tagged``, ``trip_booth``, ``trip_service_s`` (payment time, 0 when passing
      at ETC speed), ``trip_plaza_time_s`` (decision edge entry to booth exit);
    - per booth and interval: ``booth_queue`` (mean halting vehicles on the booth and its fan-out lane),
      ``booth_throughput_veh_h``; ``booth_type``;
    - ``approach_queue`` (mean halting vehicles on the approach and decision edges: spill-back);
    - attrs: the plaza spec as JSON.

    ``schedule`` switches the booth types during the run: ``[(start_s, booths), ...]`` (a
    :meth:`TollPlazaConfig.schedule`); booth lanes then admit both vehicle kinds in SUMO and the booth
    choice keeps each kind to the booths it may use at the moment it decides.

    Parameters
    ----------
    spec : PlazaSpec
    seed : int
        SUMO seed and the demand's seed.
    drain_s : float, s
        Simulated time after the last period, for queues to clear.
    interval_s : float, s
        Interval of the booth series.
    sigma : float
        Driver imperfection (Krauss sigma).
    speed_dev : float
        Spread of the speed factor.
    schedule : list of (start_s, booths), optional
        Booth types over the day.
    reach : int
        A driver chooses among the allowed booths within this many lanes of its own.
    workdir : str or Path, optional
        Folder for SUMO's files (a temporary one when omitted).

    Returns
    -------
    xarray.Dataset
    """

    from .._io import session_tempdir
    from ..scenario import scenario_from_dict
    from ..simulation import Simulation

    folder = Path(workdir) if workdir is not None else session_tempdir("mobility-plaza-")
    if not folder.is_dir():
        raise InputError(f"run_plaza: workdir {folder} does not exist")
    steps = sorted((float(t), tuple(b)) for t, b in (schedule or []))
    for _, b in steps:
        if len(b) != len(spec.booths):
            raise InputError(f"run_plaza: a schedule entry has {len(b)} booths, the plaza has {len(spec.booths)}")
    plan = spec
    if steps:
        spec = spec.model_copy(update={"booths": ("mixed",) * len(spec.booths)})  # the network admits both kinds
    net = build_plaza(spec, folder)
    spec = plan
    demand = plaza_demand(spec, seed)
    rou = folder / "plaza.rou.xml"
    layouts = [(spec.begin_s, spec)] + [(t, spec.model_copy(update={"booths": b})) for t, b in steps]
    _routes(spec, demand, rou, sigma, speed_dev, layouts)
    sc = scenario_from_dict({"name": spec.name, "network": str(net), "begin_s": spec.begin_s,
                             "end_s": spec.end_s + drain_s, "seed": seed,
                             "demand": {"kind": "files", "files": [str(rou)]},
                             "outputs": {"interval_s": interval_s, "summary_period_s": interval_s, "signals": False},
                             "sumo": {"time_to_teleport_s": -1}})
    n = len(spec.booths)
    rng = sub_rng(seed, "tolling", "booth choice")
    allowed = {True: np.array(spec.allowed(True)), False: np.array(spec.allowed(False))}
    booth_len = spec.booth_length_m
    committed = np.zeros(n, dtype=int)
    nveh = demand["depart_s"].size
    booth_of = np.full(nveh, -1)
    t_decision = np.full(nveh, np.nan)
    t_exit = np.full(nveh, np.nan)
    pay_start = np.full(nveh, np.nan)
    pay_end = np.full(nveh, np.nan)
    service = np.zeros(nveh)
    on_decision: set[str] = set()
    on_merge: list[set[str]] = [set() for _ in range(n)]
    booth_types: list[tuple[float, tuple[str, ...]]] = [(spec.begin_s, spec.booths)]
    sumo_dir = None
    if workdir is not None:
        sumo_dir = folder / "sumo"
        sumo_dir.mkdir(exist_ok=True)
    sim = Simulation(sc, seed=seed, workdir=sumo_dir)
    try:
        with sim:
            api = sim.api
            from traci import constants as tc

            api.edge.subscribe("decision", [tc.LAST_STEP_VEHICLE_ID_LIST])
            for k in range(n):
                api.edge.subscribe(f"merge_{k}", [tc.LAST_STEP_VEHICLE_ID_LIST])
            now = sim.time
            end = sc.end_s
            current = spec
            while now < end - 1e-9:
                now = sim.step()
                while steps and steps[0][0] <= now:
                    current = spec.model_copy(update={"booths": steps.pop(0)[1]})
                    allowed = {True: np.array(current.allowed(True)), False: np.array(current.allowed(False))}
                    booth_types.append((now, current.booths))
                res = api.edge.getAllSubscriptionResults()
                cur = set(res.get("decision", {}).get(tc.LAST_STEP_VEHICLE_ID_LIST, ()))
                for vid in sorted(cur - on_decision, key=lambda v: int(v[1:])):
                    i = int(vid[1:])
                    tag = bool(demand["tagged"][i])
                    ok = allowed[tag]
                    # the booths a driver can still reach from its lane (decision lane j leads to booth j);
                    # among them the shortest queue, the nearest on a tie
                    lane = api.vehicle.getLaneIndex(vid)
                    near = ok[np.abs(ok - lane) <= reach]
                    ok = near if near.size else ok
                    q = committed[ok]
                    best = ok[q == q.min()]
                    dist = np.abs(best - lane)
                    best = best[dist == dist.min()]
                    k = int(best[rng.integers(best.size)]) if best.size > 1 else int(best[0])
                    committed[k] += 1
                    booth_of[i] = k
                    t_decision[i] = now
                    api.vehicle.setRoute(vid, ["decision", f"fan_{k}", f"booth_{k}", f"merge_{k}", "departure"])
                    if current.stops(k, tag):
                        service[i] = float(demand["service_s"][i])
                        api.vehicle.setStop(vid, f"booth_{k}", pos=booth_len - 1.0, laneIndex=0, duration=service[i])
                on_decision = cur
                for vid in api.simulation.getStopStartingVehiclesIDList():
                    pay_start[int(vid[1:])] = now
                for vid in api.simulation.getStopEndingVehiclesIDList():
                    pay_end[int(vid[1:])] = now
                for k in range(n):
                    m = set(res.get(f"merge_{k}", {}).get(tc.LAST_STEP_VEHICLE_ID_LIST, ()))
                    for vid in m - on_merge[k]:
                        i = int(vid[1:])
                        committed[k] -= 1
                        t_exit[i] = now
                    on_merge[k] = m
                if now >= spec.end_s and api.simulation.getMinExpectedNumber() == 0:
                    break
        ds = sim.results()
    finally:
        sim.cleanup()
    out = _assemble(ds, spec, demand, booth_of, service, t_decision, t_exit, pay_start, pay_end, interval_s)
    out.attrs["booth_schedule"] = json.dumps([[t, list(b)] for t, b in booth_types])
    return out


def _assemble(ds: Any, spec: PlazaSpec, demand: dict[str, np.ndarray], booth_of: np.ndarray, service: np.ndarray,
              t_decision: np.ndarray, t_exit: np.ndarray, pay_start: np.ndarray, pay_end: np.ndarray,
              interval_s: float) -> Any:

    n = len(spec.booths)
    ids = [str(v) for v in ds["vehicle"].values]
    idx = np.array([int(v[1:]) for v in ids])
    ds["trip_tagged"] = ("vehicle", demand["tagged"][idx], {"units": "1", "long_name": "vehicle has an ETC tag"})
    ds["trip_booth"] = ("vehicle", booth_of[idx], {"units": "1", "long_name": "booth used (-1: never reached the decision edge)"})
    ds["trip_service_s"] = ("vehicle", service[idx], {"units": "s", "long_name": "payment stop duration (0: passed at ETC speed)"})
    ds["trip_pay_start_s"] = ("vehicle", pay_start[idx], {"units": "s", "long_name": "time the payment stop began (NaN: no stop)"})
    ds["trip_pay_end_s"] = ("vehicle", pay_end[idx], {"units": "s", "long_name": "time the payment stop ended"})
    ds["trip_booth_exit_s"] = ("vehicle", t_exit[idx], {"units": "s", "long_name": "time the vehicle left its booth"})
    ds["trip_plaza_time_s"] = ("vehicle", t_exit[idx] - t_decision[idx],
                               {"units": "s", "long_name": "time from entering the decision edge to leaving the booth"})
    edges = {str(e): j for j, e in enumerate(ds["edge"].values)}
    halting = ds["edge_halting"].transpose("edge", "time").values
    entered = ds["edge_entered"].transpose("edge", "time").values
    q = np.zeros((n, ds.sizes["time"]))
    thr = np.zeros((n, ds.sizes["time"]))
    for k in range(n):
        q[k] = halting[edges[f"fan_{k}"]] + halting[edges[f"booth_{k}"]]
        thr[k] = entered[edges[f"merge_{k}"]] * 3600.0 / interval_s
    out = ds.assign_coords(booth=("booth", np.arange(n)))
    out["booth_type"] = ("booth", np.array(spec.booths, dtype=str), {"units": "1", "long_name": "etc, mtc or mixed"})
    out["booth_queue"] = (("booth", "time"), q, {"units": "veh", "long_name": "mean halting vehicles on the booth and its fan-out lane"})
    out["booth_throughput_veh_h"] = (("booth", "time"), thr, {"units": "veh/h", "long_name": "vehicles through the booth per hour"})
    out["approach_queue"] = ("time", halting[edges["approach"]] + halting[edges["decision"]],
                             {"units": "veh", "long_name": "mean halting vehicles on the approach and decision edges (spill-back)"})
    out.attrs["plaza"] = spec.model_dump_json()
    out.attrs["interval_s"] = float(interval_s)
    return out


def period_delays(ds: Any, spec: PlazaSpec) -> Any:
    """Mean delay per vehicle (time loss + payment + insertion delay) by demand period and payment kind.

    Parameters
    ----------
    ds : xarray.Dataset
        One plaza run (:func:`run_plaza`), with its per-trip variables.
    spec : PlazaSpec
        The plaza, for its demand periods.

    Returns
    -------
    xarray.Dataset
        On ``period``: ``delay_s``, ``delay_tagged_s``, ``delay_untagged_s`` (s) and ``vehicles``.
    """
    import xarray as xr

    dep = ds["trip_depart"].values
    d = ds["trip_time_loss"].values + ds["trip_service_s"].values + ds["trip_depart_delay"].values
    tag = ds["trip_tagged"].values.astype(bool)
    rows = {"delay_s": [], "delay_tagged_s": [], "delay_untagged_s": [], "vehicles": []}
    for p in spec.demand:
        sel = (dep >= p.begin_s) & (dep < p.end_s)
        rows["delay_s"].append(float(np.nanmean(d[sel])) if sel.any() else np.nan)
        rows["delay_tagged_s"].append(float(np.nanmean(d[sel & tag])) if (sel & tag).any() else np.nan)
        rows["delay_untagged_s"].append(float(np.nanmean(d[sel & ~tag])) if (sel & ~tag).any() else np.nan)
        rows["vehicles"].append(int(sel.sum()))
    coords = {"period_start_s": ("period", [p.begin_s for p in spec.demand]),
              "period_end_s": ("period", [p.end_s for p in spec.demand])}
    return xr.Dataset({k: ("period", np.array(v), {"units": "veh" if k == "vehicles" else "s"}) for k, v in rows.items()},
                      coords=coords)
