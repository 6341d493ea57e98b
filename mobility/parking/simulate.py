"""One guidance strategy in SUMO: parking-seeking vehicles steered to SUMO parkingAreas through TraCI.

Every seeker drives from the boundary towards its destination. The first edge it enters whose middle lies
within ``decision_radius_m`` of the destination is its decision point: there its search starts (search
time and cruising distance are counted from there to the moment it parks). What it does then depends on
the strategy:

``none``
    The driver heads for the parking area with the lowest generalised cost (drive time from where it is +
    ``walk_weight`` x walking time to the destination) without knowing occupancy. An area is found full only
    on reaching its street; the driver then tries the next best area it has not yet tried, and so on.
``static``
    Signs lead to the nearest off-street lot (same cost); a full lot sends the driver to the next lot;
    with every lot tried it searches as under ``none``.
``realtime``
    Guidance sends the driver to the best area with free spaces, read from SUMO every step through
    parkingArea subscriptions; every ``guidance_period_s`` a driver whose area has filled is sent to the
    best free one. Reservations are not known: two drivers may be sent to the last space.
``optimised``
    Every ``guidance_period_s`` an OR-Tools min-cost assignment (``optimise.parking_assignment``) sends
    the searching drivers, and those within ``horizon_s`` of their decision point, to areas within the
    predicted free capacity (free spaces less the vehicles already committed to each area), minimising
    drive time + weighted walking time, with ``switch_penalty_s`` for changing a driver's area.

A share ``1 - compliance`` of drivers (drawn per vehicle from the seed) ignores guidance and searches as
under ``none``. A driver still searching after ``max_search_s`` gives up and leaves (a failed parking).

Occupancy of each area comes from SUMO every step; searching vehicles' positions and odometers from
vehicle subscriptions; parking events from the simulation's parking-start subscription, cross-checked by
the tests against SUMO's stop output.
"""

from __future__ import annotations

import time as _time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._errors import InputError
from .._io import session_tempdir, write_text_atomic
from ..seeds import rng
from .._paths import costs_to, edge_point, walking_costs
from .spec import (
    ParkingArea,
    ParkingSpec,
    Seeker,
    parking_areas,
    parking_scenario,
    seekers,
)

if TYPE_CHECKING:
    import xarray as xr

    from ..study import Study

__all__ = ["STRATEGIES", "parking_additional", "run_parking", "stop_output_parkings"]

STRATEGIES = ("none", "static", "realtime", "optimised")
SEEKER_TYPE = "seeker"
_MARGIN_M = 25.0  # an area closer than this ahead on the vehicle's own edge cannot be stopped at in time


@dataclass
class _Seeker:
    trip: Seeker
    dest: int
    complier: bool
    decided: float = np.nan
    odo0: float = np.nan
    target: int = -1
    parked: float = np.nan
    left: float = np.nan
    area: int = -1
    odo_park: float = np.nan
    failed: float = np.nan
    fail_reason: str = ""
    reroutes: int = 0
    tried: set[int] = field(default_factory=set)


def parking_additional(areas: list[ParkingArea], trips: list[Seeker], *, sigma: float = 0.5, speed_dev: float = 0.1
                       ) -> str:
    """SUMO additional XML: the parking areas, the seekers' vehicle type and their trips.

    Parameters
    ----------
    areas : list of ParkingArea
    trips : list of Seeker
    sigma : float
        Driver imperfection (Krauss sigma) of the seekers.
    speed_dev : float
        Spread of the seekers' speed factor.

    Returns
    -------
    str
        The file's text.
    """
    lines = ["<additional>"]
    for a in areas:
        lane = f"{a.edge}_{a.lane}"
        lines.append(f'    <parkingArea id="{a.id}" lane="{lane}" startPos="{a.start_m:.2f}" endPos="{a.end_m:.2f}" '
                     f'roadsideCapacity="{a.capacity}" onRoad="false" friendlyPos="true" name="{a.kind}"/>')
    lines.append(f'    <vType id="{SEEKER_TYPE}" vClass="passenger" length="5" minGap="2.5" accel="2.6" decel="4.5" '
                 f'sigma="{sigma:g}" speedFactor="1" speedDev="{speed_dev:g}" color="1,0.6,0"/>')
    for t in trips:
        lines.append(f'    <trip id="{t.id}" type="{SEEKER_TYPE}" depart="{t.depart_s:.1f}" from="{t.origin}" '
                     f'to="{t.destination}" departLane="best" departSpeed="max"/>')
    lines.append("</additional>")
    return "\n".join(lines) + "\n"


class _Geometry:
    """Drive times to every area, walking distances from every area, destination areas (decision points)."""

    def __init__(self, spec: ParkingSpec, net, areas: list[ParkingArea]) -> None:
        ei = net.edge_index
        self.net = net
        self.edge = np.array([ei[a.edge] for a in areas])
        self.start = np.array([a.start_m for a in areas])
        self.pos = np.array([a.pos_m for a in areas])
        self.cap = np.array([a.capacity for a in areas], dtype=np.int64)
        self.lot = np.array([a.kind == "lot" for a in areas])
        self.speed = np.maximum(np.asarray(net.free_speed, dtype=float), 0.1)
        tt = np.asarray(net.length, dtype=float) / self.speed  # costs_to drives only where cars may
        self.to_area = costs_to(net, net.tail[self.edge], tt) + (self.pos / self.speed[self.edge])[:, None]
        # walking: from the area's middle along its edge to either end, across the street graph, to the middle
        # of the destination edge (the same street either way: straight along the kerb)
        wk = walking_costs(net, np.arange(net.n_nodes))  # (nodes, nodes), symmetric
        L = np.asarray(net.length, dtype=float)
        ends_a = [(net.tail[self.edge], self.pos), (net.head[self.edge], L[self.edge] - self.pos)]
        ends_d = [(net.tail, 0.5 * L), (net.head, 0.5 * L)]
        walk = np.full((len(areas), net.n_edges), np.inf)
        for na, da in ends_a:
            for nd, dd in ends_d:
                walk = np.minimum(walk, da[:, None] + wk[np.ix_(na, nd)] + dd[None, :])
        same = (net.tail[self.edge][:, None] == net.tail[None, :]) & (net.head[self.edge][:, None] == net.head[None, :])
        rev = (net.tail[self.edge][:, None] == net.head[None, :]) & (net.head[self.edge][:, None] == net.tail[None, :])
        walk = np.where(same, np.abs(self.pos[:, None] - 0.5 * L[None, :]), walk)
        walk = np.where(rev, np.abs(L[self.edge][:, None] - self.pos[:, None] - 0.5 * L[None, :]), walk)
        self.walk_m = walk
        self.walk_s = walk / spec.walk_speed_m_s
        mx = 0.5 * (net.node_x[net.tail] + net.node_x[net.head])
        my = 0.5 * (net.node_y[net.tail] + net.node_y[net.head])
        self.mid = np.stack([mx, my], axis=1)
        self.radius = spec.decision_radius_m
        self._area: dict[int, np.ndarray] = {}

    def in_area(self, dest: int) -> np.ndarray:
        a = self._area.get(dest)
        if a is None:
            a = np.hypot(*(self.mid - self.mid[dest]).T) <= self.radius
            a[dest] = True
            self._area[dest] = a
        return a

    def drive_s(self, e: int, x: float) -> np.ndarray:
        """Free-flow drive time (s) from position ``x`` on edge ``e`` to every area."""
        net = self.net
        t = (float(net.length[e]) - x) / self.speed[e] + self.to_area[:, net.head[e]]
        here = self.edge == e
        ahead = here & (self.start > x + _MARGIN_M)
        return np.where(ahead, (self.pos - x) / self.speed[e], t)


def run_parking(spec: ParkingSpec | Study, strategy: str, *, seed: int, workdir: str | Path | None = None,
                backend: str = "libsumo", bin_s: float = 60.0) -> xr.Dataset:
    """Run the study (a spec, or a resolved :class:`~mobility.study.Study`) with one guidance ``strategy`` and
    ``seed``; KPIs as a Dataset.

    Scalars: ``seekers``, ``parked``, ``failed_parkings``, ``mean_search_time_s``, ``p95_search_time_s``,
    ``mean_cruising_m``, ``mean_walking_m``, ``mean_delay_s`` (all vehicles), ``reroutes_mean`` ...;
    ``occupancy(area, time)`` (mean vehicles parked per ``bin_s``), ``peak_occupancy(area)``,
    ``capacity(area)``; per seeker (``vehicle``): ``search_time_s``, ``cruising_m``, ``walking_m``.

    Parameters
    ----------
    spec : ParkingSpec or Study
    strategy : str
        ``none``, ``static``, ``realtime`` or ``optimised``.
    seed : int
        SUMO seed; it also draws the seekers and who complies.
    workdir : str or Path, optional
        Folder for SUMO's files (a temporary one when omitted).
    backend : {"libsumo", "traci"}
    bin_s : float, s
        Interval of the occupancy series.

    Returns
    -------
    xarray.Dataset
    """
    from traci import constants as tc

    from ..simulation import Simulation

    from ..study import Study

    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if isinstance(spec, Study):  # resolved once: the scenario and network are not read again
        sc, net, spec = spec.scenario, spec.network, spec.spec
    else:
        sc, net = parking_scenario(spec)
    sc = sc.with_seed(seed)
    areas = parking_areas(spec, net)
    trips = seekers(spec, net, seed)
    geo = _Geometry(spec, net, areas)
    wd = Path(workdir) if workdir is not None else session_tempdir("mobility-parking-")
    wd.mkdir(parents=True, exist_ok=True)
    add = write_text_atomic(wd / "parking.add.xml", parking_additional(areas, trips, sigma=spec.seeker_sigma,
                                                                       speed_dev=spec.seeker_speed_dev))
    # stop output of the stops that ended; SUMO 1.28 can crash while writing unfinished stops at the end
    # (a seeker re-sent while leaving a space), so the study records who is still parked itself (left_s NaN)
    extra = ["--stop-output", str((wd / "stops.xml").resolve())]
    sc = sc.model_copy(update={
        "additional_files": [*sc.additional_files, add.resolve()],
        "outputs": sc.outputs.model_copy(update={"trips": True}),
        "sumo": sc.sumo.model_copy(update={"extra_args": [*sc.sumo.extra_args, *extra]}),
    })
    ei = net.edge_index
    by_id = {t.id: t for t in trips}
    state: dict[str, _Seeker] = {}
    # searching vehicles in order of departure: a dict, so every run of a seed makes its decisions in one order
    active: dict[str, None] = {}
    committed = np.zeros(len(areas), dtype=np.int64)   # searching vehicles heading to each area
    n_steps = round(sc.duration_s / sc.step_length_s)
    occ_steps = np.zeros((n_steps, len(areas)), dtype=np.int32)
    period = max(1, round(spec.guidance_period_s / sc.step_length_s))
    solves: list[tuple[str, float, int]] = []
    ctl = _Control(spec, strategy, geo, areas, state, committed, solves)
    t0 = _time.perf_counter()
    sim = Simulation(sc, backend=backend, workdir=wd, network=net)  # type: ignore[arg-type]
    with sim:
        api = sim.api
        ctl.api = api
        api.simulation.subscribe([tc.VAR_DEPARTED_VEHICLES_IDS, tc.VAR_ARRIVED_VEHICLES_IDS,
                                  tc.VAR_PARKING_STARTING_VEHICLES_IDS, tc.VAR_PARKING_ENDING_VEHICLES_IDS])
        for a in areas:
            api.parkingarea.subscribe(a.id, [tc.VAR_STOP_STARTING_VEHICLES_NUMBER])
        pa_index = {a.id: k for k, a in enumerate(areas)}
        step = 0
        while step < n_steps:
            api.simulationStep()
            now = sim.time
            res = api.simulation.getSubscriptionResults()
            occ = np.zeros(len(areas), dtype=np.int64)
            for pid, r in api.parkingarea.getAllSubscriptionResults().items():
                occ[pa_index[pid]] = r[tc.VAR_STOP_STARTING_VEHICLES_NUMBER]
            occ_steps[step] = occ
            ctl.occ = occ
            for vid in res[tc.VAR_DEPARTED_VEHICLES_IDS]:
                t = by_id.get(vid)
                if t is None:
                    continue
                state[vid] = _Seeker(t, ei[t.destination], bool(rng(seed, "parking", "compliance", vid).random() < spec.compliance)
                                     if strategy in ("realtime", "optimised") else False)
                active[vid] = None
                api.vehicle.subscribe(vid, [tc.VAR_ROAD_ID, tc.VAR_LANEPOSITION, tc.VAR_DISTANCE])
            veh = api.vehicle.getAllSubscriptionResults()
            for vid in res[tc.VAR_PARKING_STARTING_VEHICLES_IDS]:
                s = state.get(vid)
                if s is None or vid not in active:
                    continue
                s.parked, s.area = now, s.target
                r = veh.get(vid)
                s.odo_park = float(r[tc.VAR_DISTANCE]) if r else np.nan
                committed[s.target] -= 1
                active.pop(vid, None)
                api.vehicle.unsubscribe(vid)
            for vid in res[tc.VAR_PARKING_ENDING_VEHICLES_IDS]:
                s = state.get(vid)
                if s is not None and s.area >= 0 and np.isnan(s.left):
                    s.left = now
            for vid in res[tc.VAR_ARRIVED_VEHICLES_IDS]:
                s = state.get(vid)
                if s is not None and vid in active:  # reached the end of its route without parking
                    ctl.fail(vid, now, "lost", remove=False)
                    active.pop(vid, None)
            ctl.step(now, veh, active, guidance=(step % period == 0))
            step += 1
    wall = _time.perf_counter() - t0
    try:
        ds = _kpis(spec, strategy, sc, net, wd, areas, state, occ_steps, geo, seed=seed, bin_s=bin_s, wall_s=wall,
                   sumo_version=sim.sumo_version, solves=solves)
        return ds
    finally:
        if workdir is None:
            sim.cleanup()


class _Control:
    """The strategies' decisions for one run."""

    def __init__(self, spec: ParkingSpec, strategy: str, geo: _Geometry, areas: list[ParkingArea],
                 state: dict[str, _Seeker], committed: np.ndarray, solves: list) -> None:
        self.spec, self.strategy, self.geo, self.areas = spec, strategy, geo, areas
        self.state, self.committed, self.solves = state, committed, solves
        self.api = None
        self.occ = np.zeros(len(areas), dtype=np.int64)

    # -- choices --------------------------------------------------------------------------------------
    def cost(self, s: _Seeker, e: int, x: float) -> np.ndarray:
        return self.geo.drive_s(e, x) + self.spec.walk_weight * self.geo.walk_s[:, s.dest]

    def choose(self, s: _Seeker, e: int, x: float, *, exclude: int = -1) -> int:
        c = self.cost(s, e, x)
        if exclude >= 0:
            c[exclude] = np.inf
        guided = s.complier
        if guided and self.strategy == "realtime":
            free = np.where(self.occ < self.geo.cap, c, np.inf)
            if np.isfinite(free).any():
                return int(np.argmin(free))
        if guided and self.strategy == "optimised":
            left = self.geo.cap - self.occ - self.committed + (np.arange(len(c)) == s.target)
            free = np.where(left > 0, c, np.inf)
            if np.isfinite(free).any():
                return int(np.argmin(free))
        if self.strategy == "static":
            lots = np.where(self.geo.lot, c, np.inf)
            lots[list(s.tried)] = np.inf
            if np.isfinite(lots).any():
                return int(np.argmin(lots))
        c[list(s.tried)] = np.inf
        if not np.isfinite(c).any():  # every area tried: search again, from the nearest
            s.tried.clear()
            c = self.cost(s, e, x)
            if exclude >= 0:
                c[exclude] = np.inf
        return int(np.argmin(c))

    # -- actions --------------------------------------------------------------------------------------
    def send(self, vid: str, s: _Seeker, k: int, road: str, x: float) -> bool:
        """Route the vehicle to area ``k`` and set its parking stop there (replacing any other)."""
        from traci.exceptions import TraCIException

        api, net, a = self.api, self.geo.net, self.areas[k]
        if k == s.target:
            return True
        e = net.edge_index[road]
        try:
            if s.target >= 0:
                api.vehicle.replaceStop(vid, 0, "")
                self.committed[s.target] -= 1
                s.target = -1
                s.reroutes += 1
            if road == a.edge and a.start_m > x + _MARGIN_M:
                to_area = [road]
            elif road == a.edge:  # behind it on its own street: round the block
                outs = range(net.indptr[net.head[e]], net.indptr[net.head[e] + 1])
                nxt = min(outs, key=lambda o: self.geo.to_area[k, net.head[o]] + net.length[o] / self.geo.speed[o]
                          if net.head[o] != net.tail[e] else np.inf)
                to_area = [road, *api.simulation.findRoute(str(net.edge_ids[nxt]), a.edge).edges]
            else:
                to_area = list(api.simulation.findRoute(road, a.edge).edges)
            onward = list(api.simulation.findRoute(a.edge, s.trip.exit).edges)
            if len(to_area) < 1 or to_area[0] != road or not onward:
                s.tried.add(k)
                return False
            api.vehicle.setRoute(vid, to_area + onward[1:])
            api.vehicle.setParkingAreaStop(vid, a.id, duration=s.trip.dwell_s)
        except TraCIException:
            s.tried.add(k)
            return False
        s.target = k
        self.committed[k] += 1
        return True

    def fail(self, vid: str, now: float, reason: str, *, remove: bool = True, road: str = "") -> None:
        from traci.exceptions import TraCIException

        s = self.state[vid]
        s.failed, s.fail_reason = now, reason
        if s.target >= 0:
            self.committed[s.target] -= 1
        if remove:
            try:
                if s.target >= 0:
                    self.api.vehicle.replaceStop(vid, 0, "")
                self.api.vehicle.changeTarget(vid, s.trip.exit)
            except TraCIException:
                pass
            self.api.vehicle.unsubscribe(vid)
        s.target = -1

    # -- every step -----------------------------------------------------------------------------------
    def step(self, now: float, veh: dict, active: dict[str, None], *, guidance: bool) -> None:
        from traci import constants as tc

        geo, net = self.geo, self.geo.net
        ei = net.edge_index
        approaching: dict[int, list[tuple[float, str]]] = {}
        pos: dict[str, tuple[str, float]] = {}
        for vid in list(active):
            r = veh.get(vid)
            if not r:
                continue
            s = self.state[vid]
            road, x = r[tc.VAR_ROAD_ID], float(r[tc.VAR_LANEPOSITION])
            if road.startswith(":") or road not in ei:
                continue
            if np.isnan(s.decided):
                pos[vid] = (road, x)
                if not geo.in_area(s.dest)[ei[road]]:
                    continue
                s.decided, s.odo0 = now, float(r[tc.VAR_DISTANCE])
            elif now - s.decided > self.spec.max_search_s:
                self.fail(vid, now, "gave up")
                active.pop(vid, None)
                continue
            pos[vid] = (road, x)
            if s.target < 0:
                self.send(vid, s, self.choose(s, ei[road], x), road, x)
            if s.target >= 0 and road == self.areas[s.target].edge:
                approaching.setdefault(s.target, []).append((x, vid))
        # on the area's street: a driver sees whether a space is left for it (those ahead take them first)
        for k, vs in approaching.items():
            free = int(self.geo.cap[k] - self.occ[k])
            for rank, (x, vid) in enumerate(sorted(vs, reverse=True)):
                if rank < free:
                    continue
                s = self.state[vid]
                road = pos[vid][0]
                s.tried.add(k)
                self.send(vid, s, self.choose(s, ei[road], x, exclude=k), road, x)
        if not guidance:
            return
        if self.strategy == "realtime":
            free = self.occ < geo.cap
            for vid, (road, x) in pos.items():
                s = self.state[vid]
                # a driver whose area has filled is sent on, if guidance has a free area to offer
                if (s.complier and s.target >= 0 and not free[s.target] and not np.isnan(s.decided)
                        and free.any()):
                    self.send(vid, s, self.choose(s, ei[road], x, exclude=s.target), road, x)
        elif self.strategy == "optimised":
            self._assign(now, pos)

    def _assign(self, now: float, pos: dict[str, tuple[str, float]]) -> None:
        from optimise import parking_assignment

        geo, net, spec = self.geo, self.geo.net, self.spec
        ei = net.edge_index
        locked = np.zeros(len(self.areas), dtype=np.int64)
        plan: list[str] = []
        for vid, (road, x) in pos.items():
            s = self.state[vid]
            if not s.complier:
                continue
            if s.target >= 0 and road == self.areas[s.target].edge:
                locked[s.target] += 1
            elif not np.isnan(s.decided):
                plan.append(vid)
            else:  # not yet at its decision point: plan for it if it is close
                d = np.hypot(*(geo.mid[ei[road]] - geo.mid[s.dest])) - geo.radius
                if d / geo.speed[ei[road]] <= spec.horizon_s:
                    plan.append(vid)
        if not plan:
            return
        # capacity left for the planned vehicles: free spaces less those committed and not re-planned
        replanned = np.zeros(len(self.areas), dtype=np.int64)
        for vid in plan:
            if self.state[vid].target >= 0:
                replanned[self.state[vid].target] += 1
        cap = geo.cap - self.occ - (self.committed - replanned)
        cost = np.empty((len(plan), len(self.areas)))
        for i, vid in enumerate(plan):
            s = self.state[vid]
            road, x = pos[vid]
            c = self.cost(s, ei[road], x)
            if s.target >= 0:
                c = c + spec.switch_penalty_s * (np.arange(c.size) != s.target)
            cost[i] = c
        r = parking_assignment(cost, cap, unassigned_cost=2.0 * spec.max_search_s + float(np.nanmax(cost[np.isfinite(cost)])))
        self.solves.append((r.status, r.solve_time_s, len(plan)))
        if r.status != "OPTIMAL":
            return
        for i, vid in enumerate(plan):
            s = self.state[vid]
            if np.isnan(s.decided) or r.lot[i] < 0:
                continue
            road, x = pos[vid]
            self.send(vid, s, int(r.lot[i]), road, x)


def _kpis(spec, strategy, sc, net, wd: Path, areas, state: dict[str, _Seeker], occ_steps: np.ndarray, geo, *,
          seed: int, bin_s: float, wall_s: float, sumo_version: str, solves) -> xr.Dataset:
    import xarray as xr

    from ..provenance import stamp
    from ..results import iter_tripinfo

    loss, loss_bg = [], []
    for vid, trip, _ in iter_tripinfo(wd / "tripinfo.xml"):
        tl = float(trip.get("timeLoss", "nan"))
        loss.append(tl)
        if vid not in state:
            loss_bg.append(tl)
    ids = sorted(state)
    S = [state[v] for v in ids]
    parked = np.array([not np.isnan(s.parked) for s in S], dtype=bool)
    search = np.array([s.parked - s.decided for s in S])
    cruise = np.array([s.odo_park - s.odo0 for s in S])
    walk = np.array([geo.walk_m[s.area, s.dest] if s.area >= 0 else np.nan for s in S])
    gave_up = sum(s.fail_reason == "gave up" for s in S)
    lost = sum(s.fail_reason == "lost" for s in S)
    searching = sum(1 for s in S if np.isnan(s.parked) and np.isnan(s.failed) and not np.isnan(s.decided))
    steps = occ_steps.shape[0]
    nb = int(np.ceil(steps * sc.step_length_s / bin_s))
    per = max(1, round(bin_s / sc.step_length_s))
    occ_bins = np.array([occ_steps[i * per:(i + 1) * per].mean(axis=0) for i in range(nb)]).T
    times = sc.begin_s + np.arange(nb) * bin_s
    cap = np.array([a.capacity for a in areas], dtype=float)

    def stat(a: np.ndarray, f) -> float:
        a = a[np.isfinite(a)]
        return float(f(a)) if a.size else float("nan")

    sp = search[parked]
    scalars = {
        "seekers": (len(S), "1", "parking-seeking vehicles that departed"),
        "parked": (int(parked.sum()), "1", "seekers that parked"),
        "failed_parkings": (gave_up + lost + searching, "1",
                            "seekers that gave up, left without parking, or were still searching at the end"),
        "gave_up": (gave_up, "1", f"seekers that gave up after {spec.max_search_s:g} s"),
        "still_searching": (searching, "1", "seekers still searching at the end"),
        "mean_search_time_s": (stat(sp, np.mean), "s", "mean time from the decision point to parking"),
        "median_search_time_s": (stat(sp, np.median), "s", "median search time"),
        "p95_search_time_s": (stat(sp, lambda a: np.percentile(a, 95)), "s", "95th percentile search time"),
        "mean_cruising_m": (stat(cruise[parked], np.mean), "m", "mean distance driven from the decision point to parking"),
        "mean_walking_m": (stat(walk[parked], np.mean), "m", "mean walk from the parking area to the destination"),
        "reroutes_mean": (stat(np.array([s.reroutes for s in S], dtype=float), np.mean), "1",
                          "mean changes of target area per seeker"),
        "lot_share": (stat(np.array([geo.lot[s.area] for s in S if s.area >= 0], dtype=float), np.mean), "1",
                      "share of parked seekers that parked in an off-street lot"),
        "mean_delay_s": (stat(np.array(loss), np.mean), "s", "mean time loss of every vehicle that finished its trip"),
        "background_delay_s": (stat(np.array(loss_bg), np.mean), "s", "mean time loss of the other traffic"),
        "peak_occupancy_share": (float((occ_steps.max(axis=0) / cap).max()), "1", "highest occupancy/capacity of any area"),
        "assignment_solves": (len(solves), "1", "optimised: assignment models solved"),
        "assignment_not_optimal": (sum(st != "OPTIMAL" for st, _, _ in solves), "1", "optimised: solves not proven optimal"),
        "assignment_max_solve_s": (max((t for _, t, _ in solves), default=0.0), "s", "optimised: slowest solve"),
        "wall_time_s": (wall_s, "s", "wall time of the simulation"),
    }
    ds = xr.Dataset({k: ((), v, {"units": u, "long_name": d}) for k, (v, u, d) in scalars.items()})
    ds["capacity"] = ("area", cap, {"units": "1", "long_name": "spaces"})
    ds["peak_occupancy"] = ("area", occ_steps.max(axis=0).astype(float), {"units": "1", "long_name": "most vehicles parked at once"})
    ds["occupancy"] = (("area", "time"), occ_bins, {"units": "1", "long_name": "vehicles parked (mean over the bin)"})
    ds["search_time_s"] = ("vehicle", np.where(parked, search, np.nan), {"units": "s", "long_name": "search time (parked seekers)"})
    ds["cruising_m"] = ("vehicle", np.where(parked, cruise, np.nan), {"units": "m", "long_name": "cruising distance"})
    ds["walking_m"] = ("vehicle", walk, {"units": "m", "long_name": "walk to the destination"})
    ds["decided_s"] = ("vehicle", [s.decided for s in S], {"units": "s", "long_name": "time of the decision point"})
    ds["parked_s"] = ("vehicle", [s.parked for s in S], {"units": "s", "long_name": "time parked (NaN: never)"})
    ds["left_s"] = ("vehicle", [s.left for s in S], {"units": "s", "long_name": "time the space was left (NaN: never parked or still parked at the end)"})
    ds["parked_area"] = ("vehicle", [areas[s.area].id if s.area >= 0 else "" for s in S])
    xy = np.array([edge_point(net, a.edge, a.pos_m, side_m=25.0) for a in areas])
    ds = ds.assign_coords(area=[a.id for a in areas], time=times, vehicle=ids,
                          kind=("area", [a.kind for a in areas]), edge=("area", [a.edge for a in areas]),
                          x=("area", xy[:, 0]), y=("area", xy[:, 1]))
    ds["time"].attrs.update(units="s", long_name="start of the bin")
    centre = _centre(spec, net)
    if centre is not None:
        mid = np.array([edge_point(net, a.edge, a.pos_m) for a in areas])
        ds = ds.assign_coords(centre_m=("area", np.hypot(mid[:, 0] - centre[0], mid[:, 1] - centre[1])))
        ds["centre_m"].attrs.update(units="m", long_name="straight-line distance from the seekers' centre")
        ds.attrs["centre_radius_m"] = float(spec.decision_radius_m)
    return stamp(ds, seeds=int(seed), spec_hash=sc.spec_hash, strategy=strategy, scenario=sc.name,
                 scenario_hash=sc.spec_hash, parking_study=spec.name, compliance=spec.compliance)


def _centre(spec: ParkingSpec, net) -> tuple[float, float] | None:
    from .spec import SeekerGen

    g = spec.seekers
    if not isinstance(g, SeekerGen):
        return None
    if isinstance(g.centre, str):
        k = net.node_index[g.centre]
        return float(net.node_x[k]), float(net.node_y[k])
    return float(g.centre[0]), float(g.centre[1])


def stop_output_parkings(path: str | Path) -> list[tuple[str, str, float, float]]:
    """(vehicle, parkingArea, started, ended) for every parking stop in SUMO's stop output.

    The studies write the stops that ended (``ended`` is then the time the space was left); a stop output
    written with ``--stop-output.write-unfinished`` also lists the stops still in progress (``ended`` -1).

    Parameters
    ----------
    path : str or Path
        SUMO's ``--stop-output`` file.

    Returns
    -------
    list of tuple
        ``(vehicle, parkingArea, started s, ended s)``.
    """
    out = []
    for _, el in ET.iterparse(path):
        if el.tag == "stopinfo" and el.get("parkingArea") and float(el.get("started", "-1")) > 0:
            out.append((el.get("id"), el.get("parkingArea"), float(el.get("started")), float(el.get("ended", "-1"))))
            el.clear()
    return out
