"""The toolkit's taxi dispatcher (``assignment``): idle taxis matched to open ride requests by an optimal
assignment every dispatch period, and, for battery fleets, charging planned at a layout's stations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["AssignmentDispatcher"]

TAXI_TYPE = "mobility_taxi"


class AssignmentDispatcher:
    """The toolkit's dispatcher (``assignment``): idle taxis matched to open requests by an optimal assignment.

    Parameters
    ----------
    api : module or traci.Connection
    net : RoadNetwork
    taxis : list of str
        Fleet vehicle ids.
    age_weight : float
        Weight of a request's waiting so far against pickup drive time (0: pure pickup-time minimisation,
        which serves the most requests per hour when the fleet is short).
    electric : ElectricFleet, optional (:class:`~mobility.transit.taxi.ElectricFleet`)
        Battery taxis: an idle taxi below ``threshold_soc`` is sent to charge (and not dispatched) until it
        reaches ``target_soc`` or its charging time is up.
    stations : list of Station
        The charging layout's stations (electric fleets).
    """

    def __init__(self, api: Any, net: Any, taxis: Sequence[str], *, age_weight: float = 0.0,
                 electric: Any = None, stations: Sequence[Any] = ()) -> None:
        import traci.constants as tc

        from .._paths import edge_costs

        self.api = api
        self.net = net
        self.speed = np.maximum(np.asarray(net.free_speed, dtype=float), 0.1)
        self.tt = np.asarray(net.length, dtype=float) / self.speed
        self.edge_tt = edge_costs(net, self.tt, vclass="taxi")   # turn by turn, as SUMO routes
        from ..access import turn_graph

        g = turn_graph(net, "taxi").tocsr()   # from the end of an edge round to its end again
        loop = np.full(net.n_edges, np.inf)
        for e in range(net.n_edges):
            nxt = g.indices[g.indptr[e]:g.indptr[e + 1]]
            if nxt.size:
                loop[e] = float(np.min(self.edge_tt[nxt, e]))
        np.fill_diagonal(self.edge_tt, loop)
        self.taxis = list(taxis)
        self.age_weight = float(age_weight)
        self.electric = electric
        self.stations = list(stations)
        self.charge: dict[str, float] = {}
        self.charging: dict[str, tuple[int, float]] = {}
        self.visits = 0
        self.depleted: set[str] = set()
        self.solves: list[tuple[float, int, int, str]] = []
        self._vars = [tc.VAR_ROAD_ID, tc.VAR_LANEPOSITION]
        self._subscribed: set[str] = set()

    def subscribe(self, vid: str) -> None:
        """Follow taxi ``vid`` (call when it departs)."""
        self.api.vehicle.subscribe(vid, self._vars)
        if self.electric is not None:
            self.api.vehicle.subscribeParameterWithKey(vid, "device.battery.chargeLevel")
        self._subscribed.add(vid)

    def dispatch(self, now: float) -> None:
        """Match the idle taxis to the open requests and send them."""
        import traci.constants as tc

        from optimise.parking import parking_assignment

        api = self.api
        open_res = list(api.person.getTaxiReservations(3))   # new or seen before, not yet dispatched
        if not open_res:
            if self.electric is not None:
                self._battery(now, api.vehicle.getAllSubscriptionResults(),
                              [v for v in api.vehicle.getTaxiFleet(0) if v in self._subscribed])
            return
        pos = api.vehicle.getAllSubscriptionResults()
        idle = [v for v in api.vehicle.getTaxiFleet(0) if v in self._subscribed]
        if self.electric is not None:
            idle = self._battery(now, pos, idle)
        if not idle:
            return
        cost = np.full((len(open_res), len(idle)), np.inf)
        ages = np.array([now - float(r.reservationTime) for r in open_res])
        for j, v in enumerate(idle):
            road, lane_pos = str(pos[v][tc.VAR_ROAD_ID]), float(pos[v][tc.VAR_LANEPOSITION])
            for i, r in enumerate(open_res):
                if r.fromEdge in self.net.edge_index:  # inf for a taxi on a junction: next period
                    cost[i, j] = self._pickup_cost(road, lane_pos, r.fromEdge, float(r.departPos))
        cost += self.age_weight * (ages.max() - ages)[:, None]
        finite = np.isfinite(cost)
        if not finite.any():
            return
        big = 10.0 * float(cost[finite].max()) + 1.0
        sol = parking_assignment(cost, np.ones(len(idle), dtype=np.int64), unassigned_cost=big)
        self.solves.append((now, len(open_res), len(idle), sol.status))
        for i, j in enumerate(sol.lot.tolist()):
            if j >= 0:
                api.vehicle.dispatchTaxi(idle[j], [open_res[i].id])


    def _pickup_cost(self, road: str, lane_pos: float, edge: str, pos_m: float) -> float:
        """Drive time from ``lane_pos`` on ``road`` to ``pos_m`` on ``edge`` (turn by turn), s."""
        ei = self.net.edge_index
        e, f = ei.get(road), ei[edge]
        if e is None:
            return np.inf
        if f == e and pos_m >= lane_pos:
            return (pos_m - lane_pos) / self.speed[e]
        rest = (float(self.net.length[e]) - lane_pos) / self.speed[e]
        return max(rest + self.edge_tt[e, f] - self.tt[f] + pos_m / self.speed[f], 0.0)

    def _battery(self, now: float, pos: dict[str, Any], idle: list[str]) -> list[str]:
        """Read the taxis' charge, send low idle taxis to charge; the idle taxis that may be dispatched."""
        import traci.constants as tc
        from traci.exceptions import TraCIException

        ev = self.electric
        assert ev is not None
        cap = ev.battery_kwh * 1000.0
        for v, r in pos.items():
            if v in self._subscribed and tc.VAR_PARAMETER_WITH_KEY in r:
                self.charge[v] = float(r[tc.VAR_PARAMETER_WITH_KEY][1])
                if self.charge[v] <= 0.01 * cap:
                    self.depleted.add(v)
        for v, (_, until) in list(self.charging.items()):
            if self.charge.get(v, 0.0) >= ev.target_soc * cap or now >= until:
                del self.charging[v]
        load = np.bincount([k for k, _ in self.charging.values()], minlength=len(self.stations))
        free = []
        for v in idle:
            if v in self.charging:
                continue
            if self.charge.get(v, cap) >= ev.threshold_soc * cap or not self.stations:
                free.append(v)
                continue
            road, lane_pos = str(pos[v][tc.VAR_ROAD_ID]), float(pos[v][tc.VAR_LANEPOSITION])
            cost = np.array([self._pickup_cost(road, lane_pos, st.edge, st.pos_m) for st in self.stations])
            cost = np.where(load < np.array([st.points for st in self.stations]), cost, cost + 1e6)
            k = int(np.argmin(cost))
            if not np.isfinite(cost[k]):
                continue
            st = self.stations[k]
            need = max(ev.target_soc * cap - self.charge.get(v, 0.0), 0.0)
            duration = float(np.clip(need / (st.power_kw * 1000.0 * 0.95) * 3600.0, 300.0, ev.max_charge_s))
            try:
                route = self.api.simulation.findRoute(road, st.edge, vType=TAXI_TYPE)
                if not route.edges:
                    continue
                self.api.vehicle.setRoute(v, list(route.edges))
                self.api.vehicle.setParkingAreaStop(v, st.parking_id, duration=duration)
                self.api.vehicle.resume(v)
            except TraCIException:
                continue  # on a junction or too close to stop: next period
            self.charging[v] = (k, now + float(cost[k] % 1e6) + duration)
            load[k] += 1
            self.visits += 1
        return free
