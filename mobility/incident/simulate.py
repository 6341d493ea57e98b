"""An incident and a response plan in SUMO: one run, its KPIs.

The incident's closures and slow lanes go in as an additional file (:func:`~mobility.incident.spec.with_incident`),
blocked lanes with capacity left and the plan's metering through :class:`Gate`, its detour messages through
:class:`~mobility.incident.response.GuidanceRunner`, both stepping with the simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

    from ..network import RoadNetwork
    from ..scenario import Scenario
    from ..simulation import Simulation
    from .response import ResponsePlan
    from .spec import IncidentSpec

__all__ = ["Gate", "affected_edges", "incident_kpis", "priority_kpis", "run_incident", "uninformed"]


def affected_edges(spec: IncidentSpec, network: RoadNetwork, *, hops: int = 2) -> list[str]:
    """The incident's edges and those up to ``hops`` edges upstream of them: where its queue stands.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork
    hops : int
        How far upstream, in edges.

    Returns
    -------
    list of str
    """
    from .spec import upstream_layers

    found = {network.edge(ev.edge) for ev in spec.events()}
    found |= {e for layer in upstream_layers(network, found, hops) for e in layer}
    return sorted(str(network.edge_ids[e]) for e in found)


class Gate:
    """Vehicles let past a point one at a time at a rate over a window (an incident's blocked lanes with capacity
    left, a metered approach): a vehicle coming within ``zone_m`` of the end of a gated lane is stopped, and the
    one nearest the end is let go each ``3600 / rate`` s. Lanes are watched through subscriptions (the lanes'
    vehicles, then each such vehicle's position); the lanes' speed limits stay as they are, so routers do not
    see the gate.

    Parameters
    ----------
    sim : Simulation
        A started simulation.
    gates : list of (lane ids, rate veh/h, begin s, end s)
    zone_m : float, m
        Where vehicles wait: this far before the end of the lane (at most 90% of its length).
    """

    def __init__(self, sim: Simulation, gates: list[tuple[tuple[str, ...], float, float, float]], *,
                 zone_m: float = 60.0) -> None:
        from traci import constants as tc

        self.sim = sim
        self.gates = gates
        self._ids, self._pos = tc.LAST_STEP_VEHICLE_ID_LIST, tc.VAR_LANEPOSITION
        self.zone = {lane: min(zone_m, 0.9 * float(sim.api.lane.getLength(lane))) for g in gates for lane in g[0]}
        self.length = {lane: float(sim.api.lane.getLength(lane)) for lane in self.zone}
        self.held: list[set[str]] = [set() for _ in gates]
        self.passed: list[set[str]] = [set() for _ in gates]
        self.last_release = [-np.inf for _ in gates]
        self.watched: set[str] = set()
        for lane in self.zone:
            sim.api.lane.subscribe(lane, [self._ids])

    def windows(self) -> list[tuple[float, float]]:
        """``(begin s, end s)`` of every gate."""
        return [(b, e) for _, _, b, e in self.gates]

    def _release(self, vid: str) -> None:
        try:
            self.sim.api.vehicle.setSpeed(vid, -1.0)
        except Exception:  # noqa: BLE001  it has left the network: nothing to release
            pass

    def step(self) -> None:
        """Stop the vehicles that reached a gate; let the front one go when its headway has passed."""
        api = self.sim.api
        now = self.sim.time
        for i, (lanes, rate, b, e) in enumerate(self.gates):
            active = b <= now < e
            waiting: list[tuple[float, str]] = []
            present: set[str] = set()
            for lane in lanes:
                for vid in (api.lane.getSubscriptionResults(lane) or {}).get(self._ids, ()):
                    present.add(vid)
                    if vid not in self.watched:
                        api.vehicle.subscribe(vid, [self._pos])
                        self.watched.add(vid)
                        continue
                    pos = (api.vehicle.getSubscriptionResults(vid) or {}).get(self._pos)
                    if active and pos is not None and pos >= self.length[lane] - self.zone[lane] \
                            and vid not in self.passed[i]:
                        waiting.append((float(pos), vid))
            for vid in self.held[i] - present:   # left the lanes (or the network)
                self._release(vid)
            self.held[i] &= present
            self.passed[i] &= present
            if not active:
                for vid in self.held[i]:
                    self._release(vid)
                self.held[i] = set()
                continue
            waiting.sort(reverse=True)
            if waiting and now - self.last_release[i] >= 3600.0 / max(rate, 1e-9):
                _, vid = waiting.pop(0)
                self._release(vid)
                self.held[i].discard(vid)
                self.passed[i].add(vid)
                self.last_release[i] = now
            for _, vid in waiting:
                if vid not in self.held[i]:
                    api.vehicle.setSpeed(vid, 0.0)
                    self.held[i].add(vid)


def uninformed(scenario: Scenario) -> Scenario:
    """``scenario`` with drivers who know of an incident only from the response: SUMO routes trips at insertion
    on free-flow times (its adaptation of edge weights to the traffic it sees is switched off), unless the
    scenario sets that adaptation itself.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    Scenario
    """
    args = scenario.sumo.extra_args
    if any(a.lstrip("-").startswith("device.rerouting.adaptation") for a in args):
        return scenario
    sumo = scenario.sumo.model_copy(update={"extra_args": [*args, "--device.rerouting.adaptation-interval", "0"]})
    return scenario.model_copy(update={"sumo": sumo})


def run_incident(scenario: Scenario, incident: IncidentSpec | None, plan: ResponsePlan | None = None, *,
                 seed: int, workdir: str | Path, informed: bool = False) -> xr.Dataset:
    """Run ``scenario`` in SUMO with the incident (None: without it) and the response plan (None: no response).

    Closed lanes and roads go in as SUMO rerouters; blocked lanes with capacity left and metered approaches let
    their vehicles past one at a time at what is left (:class:`Gate`); retimed signals run their new program over
    its window (a WAUT switches to it and back); detour messages are given by
    :class:`~mobility.incident.response.GuidanceRunner`. SUMO steps one by one while any of these is active,
    in chunks otherwise.

    Parameters
    ----------
    scenario : Scenario
    incident : IncidentSpec or None
    plan : ResponsePlan, optional
    seed : int
        SUMO's seed; the detour compliance draws use it too.
    workdir : path
        An existing folder for SUMO's files.
    informed : bool
        Let SUMO route trips at insertion on the travel times it sees (drivers with navigation that knows the
        incident); by default they know only what the response tells them (:func:`uninformed`).

    Returns
    -------
    xarray.Dataset
        The run's results (:func:`mobility.run_scenario`'s) with ``guidance_asked`` and ``guidance_followed``
        (vehicles that saw a message and would have used an avoided edge; those that took the way round).
    """
    from ..scenario import scenario_network
    from ..simulation import Simulation
    from .priority import Preemption, priority_additional
    from .response import GuidanceRunner, check_response, metering_gates, retiming_additional
    from .spec import incident_gates, with_incident

    w = Path(workdir)
    network = scenario_network(scenario)
    scenario = scenario if informed else uninformed(scenario)
    sc = with_incident(scenario, incident, w) if incident is not None else scenario
    gates = incident_gates(incident, network) if incident is not None else []
    if plan is not None:
        current = None
        if plan.retiming:
            from ..signals.current import current_plans

            current = current_plans(scenario)
        check_response(plan, network, current=current)
        gates += metering_gates(plan, network)
        if current is not None:
            retimed = retiming_additional(plan, network, current, w / f"retiming_{plan.id}.add.xml")
            sc = sc.model_copy(update={"additional_files": [*sc.additional_files, retimed]})
        extra = priority_additional(plan, network, w / f"priority_{plan.id}.add.xml")
        if extra is not None:
            sumo = sc.sumo.model_copy(update={"extra_args": [*sc.sumo.extra_args, "--vehroute-output",
                                                             "vehroutes.xml"]})
            sc = sc.model_copy(update={"additional_files": [*sc.additional_files, extra], "sumo": sumo})
    sim = Simulation(sc, seed=seed, workdir=w, network=network)
    guide: GuidanceRunner | None = None
    pre: Preemption | None = None
    try:
        with sim:
            runners: list[Any] = []
            if gates:
                runners.append(Gate(sim, gates))
            if plan is not None and plan.detours:
                guide = GuidanceRunner(sim, plan, seed)
                runners.append(guide)
            if plan is not None and plan.priority:
                pre = Preemption(sim, plan, network)
                runners.append(pre)
            now, end = sim.time, sc.end_s
            # one step at a time while a runner's window is open (and one step after the last closes, to release)
            while runners and now < end - 1e-9:
                windows = [w_ for r in runners for w_ in r.windows()]
                if any(b <= now <= e for b, e in windows):
                    now = sim.step()
                    for r in runners:
                        r.step()
                else:
                    nxt = [b for b, _ in windows if b > now]
                    if not nxt:
                        break
                    now = sim.step(min(min(nxt), end))
            sim.run()
        ds = sim.results()
    finally:
        sim.cleanup()
    ds.attrs.update(incident=incident.id if incident is not None else "", response=plan.id if plan is not None else "",
                    guidance_asked=int(guide.asked) if guide else 0,
                    guidance_followed=int(guide.followed) if guide else 0)
    if pre is not None:
        _priority_results(ds, plan, pre, network, w / "vehroutes.xml")
    return ds


def _priority_results(ds: xr.Dataset, plan: ResponsePlan, pre: Any, network: RoadNetwork, vehroutes: Path) -> None:
    """The emergency vehicles' longest stops, the signals pre-empted and what they showed (checked by the safety
    rules), and which other vehicles crossed their routes at the signals on them."""
    from ..signals.safety import check_states, signal_models
    from .._sumoxml import walk

    ids = [p.vehicle for p in plan.priority]
    ds.attrs.update(emergency_vehicles=",".join(ids), preemptions=int(pre.preemptions),
                    emergency_longest_stop_s=",".join(f"{pre.longest_stop.get(v, float('nan')):g}" for v in ids))
    models = signal_models(network.net_file) if network.net_file is not None else {}
    problems = []
    for tls, stretches in pre.trace.items():
        for trace in stretches if tls in models else []:
            problems += [str(v) for v in check_states(trace, models[tls],
                                                      min_clear_s=pre.program_all_red.get(tls, 0.0))]
    ds.attrs["preemption_safety"] = "; ".join(problems[:20]) if problems else "ok"
    ds.attrs["preempted_signals"] = ",".join(sorted(pre.trace))
    on_route = {e for p in plan.priority for e in p.route}
    signals = {tls for sig in pre.signals.values() for _, tls, _ in sig}   # on the routes, pre-empted or not
    cross = {m.from_edge for tls in signals if tls in models for m in models[tls].movements.values()
             if not m.pedestrian} - on_route
    crossing: set[str] = set()
    if vehroutes.is_file():
        def start(name: str, a: dict[str, str], line: int, _v: list[str] = [""]) -> None:  # noqa: B006
            if name == "vehicle":
                _v[0] = a.get("id", "")
            elif name == "route" and _v[0] and set(a.get("edges", "").split()) & cross:
                crossing.add(_v[0])
        walk(vehroutes, kind="routes", what="SUMO route output", start=start)
    ds.attrs["cross_street_vehicles"] = len(crossing)
    vid = [str(v) for v in ds["vehicle"].values]
    ds["trip_cross_street"] = ("vehicle", [v in crossing for v in vid],
                               {"units": "1", "long_name": "crossed an emergency vehicle's route at a signal on it"})


def priority_kpis(ds: xr.Dataset) -> dict[str, float]:
    """A run's emergency-vehicle KPIs (NaN where the run had no emergency vehicle).

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`run_incident`'s results.

    Returns
    -------
    dict
        ``emergency_travel_time_s`` (mean over the emergency vehicles that arrived, s), ``emergency_longest_stop_s``
        (the longest time one stood still, s), ``cross_street_delay_s`` (mean time loss of the other vehicles
        that crossed their routes at a signal on them, s), ``preemption_violations`` (unsafe states shown).
    """
    nan = float("nan")
    ids = [x for x in str(ds.attrs.get("emergency_vehicles", "")).split(",") if x]
    if not ids:
        return {"emergency_travel_time_s": nan, "emergency_longest_stop_s": nan, "cross_street_delay_s": nan,
                "preemption_violations": nan}
    vid = np.array([str(v) for v in ds["vehicle"].values])
    ev = np.isin(vid, ids)
    arrived = ds["trip_arrived"].values.astype(bool)
    cross = ds["trip_cross_street"].values.astype(bool) & ~ev & arrived if "trip_cross_street" in ds else ~ev & False
    stops = [float(x) for x in str(ds.attrs.get("emergency_longest_stop_s", "")).split(",") if x]
    safety = str(ds.attrs.get("preemption_safety", "ok"))
    return {"emergency_travel_time_s": float(np.mean(ds["trip_duration"].values[ev & arrived])) if (ev & arrived).any()
            else nan,
            "emergency_longest_stop_s": max(stops) if stops else nan,
            "cross_street_delay_s": float(np.mean(ds["trip_time_loss"].values[cross])) if cross.any() else nan,
            "preemption_violations": 0.0 if safety == "ok" else float(safety.count(";") + 1)}


def incident_kpis(ds: xr.Dataset, edges: list[str], incident: IncidentSpec | None = None,
                  network: RoadNetwork | None = None) -> dict[str, float]:
    """A run's incident KPIs.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`run_incident`'s results.
    edges : list of str
        Where the incident's queue stands (:func:`affected_edges`).
    incident : IncidentSpec, optional
        For the spill-back figure (NaN without it).
    network : RoadNetwork, optional
        For the spill-back figure: the storage of the incident's edge (lanes x length / 7.5 m).

    Returns
    -------
    dict
        ``vehicle_hours`` (veh h in the network or waiting to enter it, over the run), ``mean_delay_s``
        (time loss per finished trip, s), ``arrived`` (veh), ``left_over`` (veh still driving or never
        inserted at the end), ``max_queue_veh`` (halting vehicles on ``edges``, the highest interval mean),
        ``guidance_followed`` (veh), ``spillback_s`` (time the incident's edge stood at least 60% full of halting
        vehicles, at the edge data's interval: its queue reaching back to the junction before it).
    """
    nan = float("nan")
    t = np.asarray(ds["sim_time"].values, dtype=float)
    period = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    vh = float((ds["network_running"].sum() + ds["network_waiting"].sum()) * period / 3600.0)
    arrived = ds["trip_arrived"].values.astype(bool)
    loss = np.asarray(ds["trip_time_loss"].values, dtype=float)[arrived]
    known = set(ds["edge"].values.tolist())
    present = [e for e in edges if e in known]
    queue = ds["edge_halting"].sel(edge=present).sum("edge") if present else ds["edge_halting"].isel(edge=[]).sum("edge")
    spill = nan
    if incident is not None and network is not None:
        own = [e for e in dict.fromkeys(ev.edge for ev in incident.events()) if e in known]
        if own and ds["edge_halting"].sizes.get("time", 0) > 0:
            times = np.asarray(ds["edge_halting"]["time"].values, dtype=float)
            step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
            k = [network.edge(e) for e in own]
            storage = np.asarray(network.lanes[k] * network.length[k] / 7.5)
            full = ds["edge_halting"].sel(edge=own).values >= 0.6 * storage[None, :]
            spill = float(full.any(axis=1).sum() * step)
    return {"vehicle_hours": vh, "mean_delay_s": float(loss.mean()) if loss.size else nan,
            "arrived": float(arrived.sum()),
            "left_over": float(int(ds["vehicles_unfinished"]) + int(ds["vehicles_never_departed"])),
            "max_queue_veh": float(queue.max()) if queue.size else 0.0,
            "guidance_followed": float(ds.attrs.get("guidance_followed", 0)),
            "spillback_s": spill}
