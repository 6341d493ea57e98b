"""One transit run: the study's buses in its traffic scenario under its signal controller, with or without priority.

The Dataset of a run holds, per bus trip (``trip``) and stop call (``call``): the scheduled and actual arrival,
departure, arrival delay, dwell and headway; per trip its delay at signals and travel time; per trip and
sample time (``ts_time``) its distance along the route (time-space diagrams); and the scalars of the study's
table: bus delay at signals, schedule adherence, bunching (headway coefficient of variation), car delay,
priority actions and safety violations (which must be none).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .._io import write_text_atomic
from .priority import PRIORITY_OPTIONS, BusTracker, PriorityAdaptive, ProgramPriority, StateLog
from .spec import BusTrip, TransitSpec, bus_chargers, bus_trips, transit_scenario
from .sumo import read_stop_output, transit_additional

if TYPE_CHECKING:
    import xarray as xr

    from ..study import Study

__all__ = ["SAMPLE_S", "run_transit", "program_bounds"]

#: Sampling period of the buses' positions for time-space diagrams, s.
SAMPLE_S = 5.0


def program_bounds(states: list[str], min_s: np.ndarray, max_s: np.ndarray) -> tuple[float, float]:
    """The shortest green and the longest red a signal program gives any movement.

    Parameters
    ----------
    states : list of str
        SUMO states of the program's phases.
    min_s, max_s : array of float, s
        Shortest and longest duration of each phase.

    Returns
    -------
    tuple of float
        ``(shortest green s, longest red s)`` over the movements (a red counts from the end of the yellow).
    """
    n = len(states)
    shortest, longest = np.inf, 0.0
    for i in range(len(states[0])):
        green = [states[k][i] in "Gg" for k in range(n)]
        red = [states[k][i] in "rs" for k in range(n)]
        if not any(green):
            continue
        for flags, bound, agg in ((green, min_s, "min"), (red, max_s, "max")):
            if all(flags):
                continue
            k0 = next(k for k in range(n) if not flags[k])
            run = 0.0
            for step in range(1, n + 1):
                k = (k0 + step) % n
                if flags[k]:
                    run += float(bound[k])
                elif run > 0:
                    if agg == "min":
                        shortest = min(shortest, run)
                    else:
                        longest = max(longest, run)
                    run = 0.0
    return float(shortest), float(longest)


def run_transit(study: TransitSpec | Study, option: str, *, seed: int, workdir: str | Path | None = None,
                payload: dict[str, Any] | None = None, backend: str = "libsumo") -> xr.Dataset:
    """Run the transit study with priority option ``option`` and SUMO seed ``seed``.

    Parameters
    ----------
    study : TransitSpec or Study
        The study (a resolved :class:`~mobility.study.Study` is not read again).
    option : str
        One of :data:`~mobility.transit.priority.PRIORITY_OPTIONS`.
    seed : int
        SUMO seed; dwells and loads are drawn from its sub-streams.
    workdir : str or Path, optional
        Folder for SUMO's files (a temporary folder, removed after the run, when omitted).
    payload : dict, optional
        The signal controller as :func:`~mobility.signals.control.controller_payload` gives it (optimised
        plans); default: the study's ``controller`` on the scenario's programs.
    backend : {"libsumo", "traci"}

    Returns
    -------
    xarray.Dataset
        See the module docstring; ``attrs`` hold the option, controller and seed.
    """
    import traci.constants as tc

    from ..signals.control import ADAPTIVE, AdaptiveSettings, with_programs
    from ..signals.current import current_plans
    from ..signals.plan import SignalPlan
    from ..signals.safety import check_states, signal_models
    from ..simulation import Simulation
    from ..study import Study

    if option not in PRIORITY_OPTIONS:
        raise InputError(f"unknown priority option {option!r}; choose from {', '.join(PRIORITY_OPTIONS)}")
    if isinstance(study, Study):
        sc, net, spec = study.scenario, study.network, study.spec
    else:
        sc, net = transit_scenario(study)
        spec = study
    sc = sc.with_seed(seed)
    payload = payload or {"controller": spec.controller, "plans": None, "settings": None}
    controller = str(payload["controller"])
    if controller == "optimised":
        raise InputError("controller 'optimised' needs its plans: run the study through mobility.compare")
    plans = [SignalPlan.model_validate(p) for p in payload["plans"]] if payload.get("plans") else None
    adaptive = AdaptiveSettings(**payload["settings"]) if payload.get("settings") else AdaptiveSettings()
    trips = bus_trips(spec, net, seed=seed, end_s=sc.end_s)
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="mobility-transit-")) if own else Path(workdir)  # type: ignore[arg-type]
    wd.mkdir(parents=True, exist_ok=True)
    try:
        models = signal_models(sc.network)
        sc = with_programs(sc, controller, plans, wd, models)
        chargers = bus_chargers(spec, net, trips)
        add = write_text_atomic(wd / "transit.add.xml", transit_additional(trips, chargers))
        sc = sc.model_copy(update={
            "additional_files": [*sc.additional_files, add.resolve()],
            "outputs": sc.outputs.model_copy(update={"trips": True}),
            "sumo": sc.sumo.model_copy(update={"extra_args": [*sc.sumo.extra_args, "--stop-output",
                                                              str((wd / "stops.xml").resolve())]}),
        })
        tls_ids = sorted(models)
        n_samples = int(np.ceil((sc.end_s - sc.begin_s) / SAMPLE_S)) + 1
        index = {t.id: k for k, t in enumerate(trips)}
        traj = np.full((len(trips), n_samples), np.nan)
        sim = Simulation(sc, backend=backend, workdir=wd, network=net)  # type: ignore[arg-type]
        with sim:
            api = sim.api
            dt = float(api.simulation.getDeltaT())
            api.simulation.subscribe([tc.VAR_DEPARTED_VEHICLES_IDS, tc.VAR_ARRIVED_VEHICLES_IDS])
            slog = StateLog(api, tls_ids)
            tracker = BusTracker(api, trips, spec.priority, option)
            ctl: Any = None
            prog: ProgramPriority | None = None
            if controller in ADAPTIVE:
                ctl = PriorityAdaptive(api, sc.network, controller, settings=adaptive, models=models,
                                       plans=current_plans(sc), priority=spec.priority, option=option)
            else:
                prog = ProgramPriority(api, tls_ids, spec.priority, option)
            started = False
            now = sim.time
            while now < sc.end_s - 1e-9:
                now = sim.step()
                r = api.simulation.getSubscriptionResults()
                for vid in r[tc.VAR_DEPARTED_VEHICLES_IDS]:
                    tracker.depart(vid)
                for vid in r[tc.VAR_ARRIVED_VEHICLES_IDS]:
                    tracker.arrive(vid, now)
                tracker.update(now, dt)
                res = slog.record(now)
                if prog is not None:
                    if not started:
                        prog.start(now, res)
                        started = True
                    prog.step(now, res, tracker)
                else:
                    ctl.requests = {t: reqs[0] for t in tracker.requests if (reqs := tracker.served(t))}
                    ctl.step(now)
                k = (now - sc.begin_s) / SAMPLE_S
                if abs(k - round(k)) < 1e-6:
                    for vid, b in tracker.buses.items():
                        traj[index[vid], int(round(k))] = b.odo
            bounds = {}
            if prog is not None:
                for t, p in prog.programs.items():
                    mins, maxs = p.own_min, p.own_max
                    g, red = program_bounds(p.states, mins, maxs)
                    bounds[t] = (min(g, spec.priority.min_green_s), max(red, spec.priority.max_red_s))
            else:
                for jn in ctl.junctions:
                    bounds[jn.id] = (adaptive.min_green_s, jn.max_red_s + max(jn.yellow) + max(jn.all_red) + 2 * dt)
        events = prog.events if prog is not None else ctl.events
        drift = prog.drift_s(now) if prog is not None else {}
        ds = sim.results()
        stops = read_stop_output(wd / "stops.xml")
        battery = _battery(wd / "tripinfo.xml", {t.id: t for t in trips if t.bus.electric})
        violations = []
        for t in tls_ids:
            mg, mr = bounds.get(t, (0.0, None))
            violations += check_states(slog.states[t], models[t], min_yellow_s=_min_yellow(slog.states[t]),
                                       min_green_s=mg, max_red_s=mr)
    finally:
        if own:
            shutil.rmtree(wd, ignore_errors=True)
    out = _dataset(ds, net, spec, trips, tracker, stops, traj, sc, option, controller, seed, events, violations)
    links = _line_signal_links(net, trips, models)
    times, shown = _signal_states(links, slog.states, sc.begin_s, sc.end_s, dt)
    out = out.assign_coords(line_signal=[f"{ln}@{tls}:{i}" for ln, _, tls, i in links], sig_time=times)
    out["line_signal_line"] = ("line_signal", np.array([ln for ln, *_ in links], dtype=str),
                               {"units": "1", "long_name": "line passing the signal"})
    out["line_signal_pos_m"] = ("line_signal", np.array([p for _, p, *_ in links], dtype=float),
                                {"units": "m", "long_name": "signal's distance along the line's route"})
    out["signal_shown"] = (("line_signal", "sig_time"), shown,
                           {"units": "1", "long_name": "what the signal showed the line's movement: 0 red, 1 amber, 2 green"})
    if battery:
        _add_energy(out, trips, battery)
    out["cycle_drift_s"] = ((), max((abs(v) for v in drift.values()), default=0.0),
                            {"units": "s", "long_name": "largest distance of a fixed-time program from its cycle at the end"})
    return out


def _battery(path: Path, trips: dict[str, BusTrip]) -> dict[str, dict[str, float]]:
    """The battery device's totals of the electric buses, from the tripinfo output."""
    from ..results import iter_tripinfo

    out: dict[str, dict[str, float]] = {}
    if not trips:
        return out
    for vid, _, kids in iter_tripinfo(path):
        b = kids.get("battery")
        if vid in trips and b is not None:
            out[vid] = {"final": float(b["actualBatteryCapacity"]), "capacity": trips[vid].bus.battery_kwh * 1000.0,
                        "consumed": float(b["totalEnergyConsumed"]), "regen": float(b["totalEnergyRegenerated"])}
    return out


def _add_energy(out: xr.Dataset, trips: list[BusTrip], battery: dict[str, dict[str, float]]) -> None:
    """Per trip energy used and charged and the state of charge at the end; fleet summaries."""
    used = np.full(len(trips), np.nan)
    charged = np.full(len(trips), np.nan)
    soc = np.full(len(trips), np.nan)
    for k, t in enumerate(trips):
        b = battery.get(t.id)
        if b is None:
            continue
        start = t.soc0 * b["capacity"]
        used[k] = (b["consumed"] - b["regen"]) / 1000.0
        charged[k] = max(b["final"] - start + b["consumed"] - b["regen"], 0.0) / 1000.0
        soc[k] = b["final"] / b["capacity"]
    out["trip_energy_kwh"] = ("trip", used, {"units": "kWh", "long_name": "net energy drawn from the battery"})
    out["trip_charged_kwh"] = ("trip", charged, {"units": "kWh", "long_name": "energy charged at stops"})
    out["trip_final_soc"] = ("trip", soc, {"units": "1", "long_name": "state of charge at the end"})
    fin = np.isfinite(soc)
    for name, v, u, ln in (("bus_energy_kwh", float(np.nanmean(used)) if fin.any() else np.nan, "kWh", "mean net energy per trip"),
                           ("bus_charged_kwh", float(np.nanmean(charged)) if fin.any() else np.nan, "kWh",
                            "mean energy charged per trip"),
                           ("bus_min_final_soc", float(np.nanmin(soc)) if fin.any() else np.nan, "1",
                            "lowest state of charge at a trip's end")):
        out[name] = ((), v, {"units": u, "long_name": ln})


def _min_yellow(log: list[tuple[float, str]]) -> float:
    """The shortest yellow the signal's own program shows (the validator's floor): 3 s, or less where it is."""
    short = 3.0
    for (t0, s0), (t1, _) in zip(log, log[1:], strict=False):
        if "y" in s0:
            short = min(short, t1 - t0)
    return max(short, 1.0)


def _line_signal_links(net: Any, trips: list[BusTrip], models: dict[str, Any]) -> list[tuple[str, float, str, int]]:
    """Each signal a line passes: ``(line, distance along its route m, tls, signal index of the line's movement)``."""
    by_pair = {(m.from_edge, m.to_edge): (t, m.index) for t, model in sorted(models.items())
               for m in model.movements.values() if not m.pedestrian}
    out, seen = [], set()
    for t in trips:
        if t.line in seen:
            continue
        seen.add(t.line)
        pos = 0.0
        for a, b in zip(t.route[:-1], t.route[1:]):
            pos += float(net.length[net.edge_index[a]])
            if (a, b) in by_pair:
                out.append((t.line, round(pos, 1), *by_pair[(a, b)]))
    return out


#: What the time-space diagram draws of a signal index: SUMO's state letters to red (0), amber (1), green (2).
_SHOWN = {"r": 0, "y": 1, "Y": 1, "u": 1}


def _signal_states(links: list[tuple[str, float, str, int]], states: dict[str, list[tuple[float, str]]],
                   begin_s: float, end_s: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """What each line's signal showed the line's movement in each second ``[t, t + 1)``: (line signal, second)
    of 0/1/2. A state logged at ``t`` (``StateLog``) was shown in the step ``(t - dt, t]``."""
    times = begin_s + np.arange(int(np.floor(end_s - begin_s)), dtype=float)  # the seconds [begin_s, end_s)
    out = np.full((len(links), times.size), 2, dtype=np.int8)
    for k, (_, _, tls, idx) in enumerate(links):
        log = states.get(tls, [])
        if not log:
            continue
        at = np.array([t for t, _ in log])
        codes = np.array([_SHOWN.get(st[idx], 2) if idx < len(st) else 2 for _, st in log], dtype=np.int8)
        j = np.searchsorted(at, times + dt + 1e-9, side="right") - 1
        out[k] = codes[np.maximum(j, 0)]
    return times, out


def _dataset(ds: xr.Dataset, net: Any, spec: TransitSpec, trips: list[BusTrip], tracker: BusTracker,
             stops: dict[str, list[tuple[str, float, float]]], traj: np.ndarray, sc: Any, option: str,
             controller: str, seed: int, events: list[tuple[float, str, str, str]], violations: list[Any]
             ) -> xr.Dataset:
    import xarray as xr

    n_call = max(len(t.stops) for t in trips) if trips else 0
    shape = (len(trips), n_call)
    sched = np.full(shape, np.nan)
    arr = np.full(shape, np.nan)
    dep = np.full(shape, np.nan)
    stop_id = np.full(shape, "", dtype=object)
    stop_pos = np.full(shape, np.nan)
    for k, t in enumerate(trips):
        stop_pos[k, :len(t.stops)] = [s.route_pos_m for s in t.stops]
        got = stops.get(t.id, [])
        for c, s in enumerate(t.stops):
            sched[k, c] = t.arrival_s[c]
            stop_id[k, c] = s.id
            if c < len(got) and got[c][0] == s.id:
                arr[k, c], dep[k, c] = got[c][1], got[c][2]
    headway = np.full(shape, np.nan)
    lines = np.array([t.line for t in trips], dtype=object)
    for ln in sorted(set(lines.tolist())):
        rows = np.flatnonzero(lines == ln)
        for c in range(n_call):
            a = arr[rows, c]
            order = np.argsort(np.where(np.isnan(a), np.inf, a), kind="stable")
            a_sorted = a[order]
            h = np.diff(a_sorted)
            headway[rows[order[1:]], c] = h
    buses = tracker.all_buses()
    sig_delay = np.array([sum(p[3] for p in buses[t.id].passages) if t.id in buses else np.nan for t in trips])
    sig_stops = np.array([float(len(buses[t.id].passages)) if t.id in buses else np.nan for t in trips])
    bus_types = {f"mobility_bus_{t.line}" for t in trips}
    travel = np.full(len(trips), np.nan)
    trip_ix = {t.id: k for k, t in enumerate(trips)}
    car_loss = np.array([])
    undeparted = 0
    if "trip_vtype" in ds:
        vt = ds["trip_vtype"].values.astype(str)
        is_bus = np.isin(vt, sorted(bus_types))
        arrived = ds["trip_arrived"].values.astype(bool)
        for vid, d in zip(ds["vehicle"].values[is_bus & arrived], ds["trip_duration"].values[is_bus & arrived], strict=True):
            if str(vid) in trip_ix:
                travel[trip_ix[str(vid)]] = float(d)
        departed = ds["trip_departed"].values.astype(bool)
        car_loss = ds["trip_time_loss"].values[~is_bus & departed]
        undeparted = int((~is_bus & ~departed).sum())
    delay = arr - sched
    dwell = dep - arr
    cv = []
    for ln in sorted(set(lines.tolist())):
        rows = np.flatnonzero(lines == ln)
        for c in range(n_call):
            h = headway[rows, c]
            h = h[np.isfinite(h)]
            if h.size >= 3 and h.mean() > 0:
                cv.append(float(h.std() / h.mean()))
    n_ts = traj.shape[1]
    out = xr.Dataset(
        {
            "line": ("trip", lines.astype(str), {"units": "1", "long_name": "bus line"}),
            "passengers": ("trip", np.array([t.passengers for t in trips]), {"units": "1", "long_name": "on-board load"}),
            "stop": (("trip", "call"), stop_id.astype(str), {"units": "1", "long_name": "bus stop of the call"}),
            "stop_pos_m": (("trip", "call"), stop_pos, {"units": "m", "long_name": "stop's distance along the route"}),
            "scheduled_arrival_s": (("trip", "call"), sched, {"units": "s", "long_name": "scheduled arrival"}),
            "arrival_s": (("trip", "call"), arr, {"units": "s", "long_name": "arrival at the stop"}),
            "departure_s": (("trip", "call"), dep, {"units": "s", "long_name": "departure from the stop"}),
            "arrival_delay_s": (("trip", "call"), delay, {"units": "s", "long_name": "arrival against the timetable"}),
            "dwell_s": (("trip", "call"), dwell, {"units": "s", "long_name": "time at the stop"}),
            "headway_s": (("trip", "call"), headway, {"units": "s", "long_name": "time since the line's previous bus"}),
            "trip_signal_delay_s": ("trip", sig_delay, {"units": "s", "long_name": "bus delay at signals on the trip"}),
            "trip_signals": ("trip", sig_stops, {"units": "1", "long_name": "signals passed"}),
            "trip_travel_time_s": ("trip", travel, {"units": "s", "long_name": "bus travel time (finished trips)"}),
            "route_pos_m": (("trip", "ts_time"), traj, {"units": "m", "long_name": "distance along the route"}),
        },
        coords={"trip": [t.id for t in trips], "call": np.arange(n_call),
                "ts_time": sc.begin_s + SAMPLE_S * np.arange(n_ts)},
    )
    done = np.isfinite(sig_delay) & np.isfinite(travel)
    scal = {
        "bus_signal_delay_s": (float(np.nanmean(sig_delay[done])) if done.any() else np.nan, "s",
                               "mean bus delay at signals per finished trip"),
        "bus_delay_per_signal_s": (float(sig_delay[done].sum() / max(sig_stops[done].sum(), 1)) if done.any() else np.nan,
                                   "s", "mean bus delay per signal passed"),
        "bus_travel_time_s": (float(np.nanmean(travel)) if np.isfinite(travel).any() else np.nan, "s",
                              "mean bus travel time"),
        "mean_arrival_delay_s": (float(np.nanmean(delay)) if np.isfinite(delay).any() else np.nan, "s",
                                 "mean arrival delay at stops"),
        "on_time_share": (float(np.mean((delay[np.isfinite(delay)] >= -60) & (delay[np.isfinite(delay)] <= 300)))
                          if np.isfinite(delay).any() else np.nan, "1", "stop arrivals 1 min early to 5 min late"),
        "headway_cv": (float(np.mean(cv)) if cv else np.nan, "1", "headway coefficient of variation (bunching)"),
        "car_delay_s": (float(np.nanmean(car_loss)) if car_loss.size else np.nan, "s", "mean time loss of other vehicles"),
        "cars_undeparted": (float(undeparted), "veh", "other vehicles never inserted"),
        "bus_trips_finished": (float(np.isfinite(travel).sum()), "1", "bus trips finished"),
        "priority_requests": (float(sum(1 for e in tracker.log if e[3] == "checkin")), "1", "priority requests"),
        "priority_actions": (float(len({(e[1], e[2], e[3]) for e in events if e[2]})), "1",
                             "distinct priority actions (signal, bus, kind)"),
        "safety_violations": (float(len(violations)), "1", "states the safety validator refused"),
    }
    for name, (v, u, ln) in scal.items():
        out[name] = ((), v, {"units": u, "long_name": ln})
    out.attrs.update(ds.attrs)
    out.attrs.update(priority=option, controller=controller, seed=int(seed), transit_study=spec.name,
                     violations="; ".join(str(v) for v in violations[:20]),
                     priority_log=json.dumps([[t, j, v, e] for t, j, v, e in sorted(tracker.log + events)[:5000]]))
    return out
