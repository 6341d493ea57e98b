"""Dynamic traffic: dynamic network loading and dynamic user equilibrium on the toolkit's numba engine.

``mb.dta(network, demand)`` answers time-of-day questions on a whole city in seconds: where queues form and
spill back, how long a closure takes to clear, what a diversion does to the peak.

- **Loading** (:func:`numba_kernels.dnl.dnl`): a link transmission model (triangular fundamental diagram per
  edge: free speed and capacity from the network, jam density ``jam_density_veh_km`` per lane) moving vehicle
  packets along their routes, first in first out on every edge, through a node model that shares the
  receiving edges' supply among the incoming edges in proportion to their capacity. Fixed-time signals run
  phase by phase (a turn moves in its green only), actuated ones as each turn's capacity times its green share
  over the cycle. Vehicles are conserved exactly.
- **Route choice**: routes are searched on the turn graph (SUMO's turn restrictions hold). ``method="due"``
  iterates to a dynamic user equilibrium: per origin-destination pair and departure interval, each used route's
  experienced travel time against the cheapest route's; flow moves from costlier to cheaper routes (a swap in
  proportion to the excess cost, shrinking with the iterations) and new cheapest routes join the route sets,
  until the time-dependent relative gap ``sum f (c - c_min) / sum f c`` falls below ``gap``. ``method="dnl"``
  loads the demand once on its cheapest free-flow routes.
- **What-if inputs, one argument each**: ``incidents`` (an edge's capacity times a factor over a time window:
  a lane closed on a two-lane road is 0.5) and ``diversions`` (a share of the vehicles reaching a decision edge
  take another route from there, avoiding given edges).

Results: an :class:`xarray.Dataset` on ``(time, edge)`` (inflow and outflow in veh/h, density in veh/km, mean
travel time in s, queue in veh), the vehicle balance per step, route flows and travel times per
``(route, departure)`` and the gap per iteration, stamped with provenance.

Example
-------
>>> ds = mb.dta(net, demand, method="due", gap=0.01, horizon_s=7200)     # doctest: +SKIP
>>> ds["travel_time_s"].sel(edge="A0A1").plot()                         # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._dta_equilibrium import cheapest, equilibrate, experienced, link_times, origin_groups
from ._dta_paths import RouteTable, shortest_routes, turn_graph_of
from ._dta_signals import signal_green_shares, signal_states, windowed_states
from ._errors import DemandError, InputError

if TYPE_CHECKING:
    import xarray as xr

    from .network import RoadNetwork

__all__ = ["DynamicDemand", "Diversion", "Incident", "dta", "demand_from_scenario", "demand_from_od",
           "signal_green_shares", "signal_states"]

#: Jam density per lane, veh/km (7.5 m a vehicle at standstill, as SUMO's default cars and gap take).
JAM_DENSITY_VEH_KM = 133.0
Progress = Callable[[int, float, str], None]


@dataclass(frozen=True)
class Incident:
    """A capacity drop: ``edge``'s capacity times ``capacity_factor`` from ``begin_s`` to ``end_s`` (a lane
    closed on a two-lane road: 0.5)."""

    edge: str
    begin_s: float
    end_s: float
    capacity_factor: float = 0.5


@dataclass(frozen=True)
class Diversion:
    """Guidance at a decision point: from ``begin_s`` to ``end_s``, ``share`` of the vehicles reaching
    ``at_edge`` take, from there, the quickest free-flow route to their destination that avoids ``avoid``."""

    at_edge: str
    avoid: tuple[str, ...]
    share: float
    begin_s: float
    end_s: float


@dataclass
class DynamicDemand:
    """Time-dependent demand between edge sets.

    Attributes
    ----------
    origins, destinations : list of list of int
        Per origin-destination pair, the edges its trips may start and end on.
    rates : array (pairs, intervals), veh/h
        Departure rate per pair and departure interval.
    t0 : float, s
        Start of the first departure interval.
    interval_s : float, s
        Length of the departure intervals.
    labels : list of str
        A name per pair.
    fixed_routes : dict of int to array, optional
        Pairs whose vehicles follow one given route (no route choice).
    """

    origins: list[list[int]]
    destinations: list[list[int]]
    rates: np.ndarray
    t0: float
    interval_s: float
    labels: list[str] = field(default_factory=list)
    fixed_routes: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return len(self.origins)

    @property
    def n_intervals(self) -> int:
        return int(self.rates.shape[1])

    def total_veh(self) -> float:
        """Vehicles the demand sends in all."""
        return float(self.rates.sum() * self.interval_s / 3600.0)


def demand_from_od(network: RoadNetwork, od: Any, *, horizon_s: float = 3600.0, interval_s: float = 300.0,
                   profile: Sequence[float] | None = None) -> DynamicDemand:
    """Dynamic demand from a zone matrix (:class:`~mobility.tntp.ODMatrix`, flows per hour) on a network whose
    zones are nodes (TNTP): trips start on the edges leaving the origin zone and end on those entering the
    destination zone.

    Parameters
    ----------
    network : RoadNetwork
    od : ODMatrix
        Zone-to-zone demand, veh/h.
    horizon_s : float, s
        Length of the departure window.
    interval_s : float, s
        Departure interval.
    profile : list of float, optional
        Multiplier per departure interval (default: 1 throughout, a stationary demand).

    Returns
    -------
    DynamicDemand
    """
    n_int = max(1, int(round(horizon_s / interval_s)))
    mult = np.ones(n_int) if profile is None else np.asarray(profile, dtype=np.float64)
    if mult.shape != (n_int,) or not np.all(np.isfinite(mult)) or (mult < 0).any():
        raise InputError(f"profile: give {n_int} finite multipliers >= 0 (one per {interval_s:g} s interval)")
    nodes = {str(n): i for i, n in enumerate(network.node_ids)}
    out_edges = {i: list(range(network.indptr[i], network.indptr[i + 1])) for i in range(network.n_nodes)}
    into: dict[int, list[int]] = {}
    for e in range(network.n_edges):
        into.setdefault(int(network.head[e]), []).append(e)
    origins, dests, rates, labels = [], [], [], []
    flows = np.asarray(od.flows, dtype=np.float64)
    for i, zi in enumerate(od.zone_ids):
        for j, zj in enumerate(od.zone_ids):
            if i == j or flows[i, j] <= 0:
                continue
            a, b = nodes.get(str(zi)), nodes.get(str(zj))
            if a is None or b is None:
                raise DemandError(f"zone {zi if a is None else zj!r} of the OD matrix is not a node of {network.name}")
            origins.append(out_edges[a])
            dests.append(into.get(b, []))
            rates.append(flows[i, j] * mult)
            labels.append(f"{zi}>{zj}")
    if not origins:
        raise DemandError("the OD matrix holds no trips between distinct zones")
    return DynamicDemand(origins, dests, np.array(rates), 0.0, float(interval_s), labels)


def demand_from_scenario(scenario: Any, network: RoadNetwork, *, interval_s: float = 300.0) -> DynamicDemand:
    """Dynamic demand of a SUMO scenario: its OD pairs (edge to edge) and zone matrix, random trips (drawn with
    its seed, counted per pair and interval), route flows (each on its fixed route) or its own route files
    (vehicles with routes keep them, trips choose theirs; a ``.sumocfg``'s as it is), over its window.

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
    interval_s : float, s

    Returns
    -------
    DynamicDemand
    """
    from .demand import demand_windows, random_trips
    from .scenario import ODDemand, RandomDemand, RouteDemand, RouteFileDemand

    b, e = scenario.begin_s, scenario.end_s
    n_int = max(1, int(math.ceil((e - b) / interval_s)))
    ei = network.edge_index
    d = scenario.demand
    pairs: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray] = {}
    fixed: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray] = {}

    def add(o: Sequence[int], t: Sequence[int], lo: float, hi: float, veh_h: float, route: np.ndarray | None = None
            ) -> None:
        key = (tuple(o), tuple(t)) if route is None else ((-1,), tuple(route))  # one row per fixed route
        row = pairs.setdefault(key, np.zeros(n_int))
        if route is not None:
            fixed[key] = route
        for k in range(n_int):  # the share of each departure interval the window covers
            s0, s1 = b + k * interval_s, b + (k + 1) * interval_s
            overlap = max(0.0, min(hi, s1) - max(lo, s0))
            row[k] += veh_h * overlap / interval_s

    if isinstance(d, ODDemand):
        for p in d.pairs:
            for lo, hi, s in demand_windows(scenario, p.begin_s, p.end_s):
                add([ei[p.origin]], [ei[p.destination]], lo, hi, p.flow_veh_h * s)
        for o, row in d.matrix.items():
            for t, flow in row.items():
                for lo, hi, s in demand_windows(scenario, None, None):
                    add([ei[x] for x in d.zones[o]], [ei[x] for x in d.zones[t]], lo, hi, flow * s)
    elif isinstance(d, RouteDemand):
        for f in d.flows:
            route = np.array([ei[x] for x in f.edges], dtype=np.int64)
            for lo, hi, s in demand_windows(scenario, f.begin_s, f.end_s):
                add([], [], lo, hi, f.flow_veh_h * s, route=route)
    elif isinstance(d, RandomDemand):
        for t, o, dest, _ in random_trips(scenario, network):
            k = min(int((t - b) // interval_s), n_int - 1)
            add([ei[o]], [ei[dest]], b + k * interval_s, b + (k + 1) * interval_s, 3600.0 / interval_s)
    elif isinstance(d, RouteFileDemand):
        from ._routefiles import timed_trips

        files = [*scenario.additional_files, *d.files]
        for t0, t1, o, dest, edges, n in timed_trips(files, None, begin_s=b, end_s=e):
            missing = [x for x in (edges or [o, dest]) if x not in ei]
            if missing:
                raise InputError(f"{', '.join(str(f) for f in files)}: a vehicle from {o} to {dest} uses edge "
                                 f"{missing[0]!r}, which is not in the network {network.name}: give the route files "
                                 f"of this network")
            if t1 <= t0:  # one vehicle at one time: its departure interval
                k = min(int((t0 - b) // interval_s), n_int - 1)
                t0, t1 = b + k * interval_s, b + (k + 1) * interval_s
            route = np.array([ei[x] for x in edges], dtype=np.int64) if edges else None
            add([ei[o]], [ei[dest]], t0, t1, n * 3600.0 / (t1 - t0), route=route)
    else:
        raise InputError(f"the dynamic engine takes OD, route, random or route-file demand; this scenario's "
                         f"demand is '{d.kind}'")
    keys = list(pairs)
    origins = [list(k[0]) if k not in fixed else [int(fixed[k][0])] for k in keys]
    dests = [list(k[1]) if k not in fixed else [int(fixed[k][-1])] for k in keys]
    labels = [f"{network.edge_ids[o[0]]}>{network.edge_ids[t[0]]}" for o, t in zip(origins, dests, strict=True)]
    fixed_routes = {i: fixed[k] for i, k in enumerate(keys) if k in fixed}
    return DynamicDemand(origins, dests, np.array([pairs[k] for k in keys]), b, float(interval_s), labels, fixed_routes)


# ---- the network as the kernel's arrays ------------------------------------------------------------------
def _kernel_network(network: RoadNetwork, jam_density_veh_km: float, green: dict[tuple[int, int], float] | None,
                    link_model: str = "ltm", rate_tau_s: float = 600.0,
                    phases: dict[tuple[int, int], np.ndarray] | None = None) -> dict[str, Any]:
    """The network as the kernel's arrays: lengths in m, speeds in m/s, capacities in veh/s (a TNTP network's
    free-flow times are read as minutes and its capacities as veh/h, at a nominal 15 m/s), jam densities in veh/m
    over all lanes."""
    if network.units.get("length") == "m":
        lengths = np.asarray(network.length, dtype=np.float64)
        vf = np.maximum(np.asarray(network.free_speed, dtype=np.float64), 0.1)
    else:
        fft_s = np.asarray(network.free_flow_time, dtype=np.float64) * 60.0
        vf = np.full_like(fft_s, 15.0)
        lengths = np.maximum(fft_s, 0.5) * vf
    cap = np.maximum(np.asarray(network.capacity, dtype=np.float64), 1e-6) / 3600.0
    # lanes: the network's, or as many as its capacity needs at 1800 veh/h a lane where it says fewer (TNTP
    # networks give one lane to every link)
    lanes = np.maximum(np.maximum(np.asarray(network.lanes, dtype=np.float64), 1.0), cap * 3600.0 / 1800.0)
    kj = lanes * jam_density_veh_km / 1000.0
    kj = np.maximum(kj, 1.05 * cap / vf)  # the jam density must lie above the critical density
    n_nodes = network.n_nodes
    order = np.argsort(network.head, kind="stable")
    node_in_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.add.at(node_in_ptr, np.asarray(network.head, dtype=np.int64) + 1, 1)
    node_in_ptr = np.cumsum(node_in_ptr)
    turn_ptr = np.zeros(network.n_edges + 1, dtype=np.int64)
    turn_to: list[int] = []
    turn_green: list[float] = []
    sig_ptr = [0]
    states: list[np.ndarray] = []
    phases = phases or {}
    for (a, b_), g in sorted((green or {}).items()):
        turn_ptr[a + 1] += 1
        turn_to.append(b_)
        turn_green.append(g)
        st = phases.get((a, b_))
        if st is not None:
            states.append(np.asarray(st, dtype=np.float64))
        sig_ptr.append(sig_ptr[-1] + (len(st) if st is not None else 0))
    turn_ptr = np.cumsum(turn_ptr)
    E = network.n_edges
    bpr_b = np.asarray(network.extra.get("b", np.full(E, 0.15)), dtype=np.float64)
    bpr_p = np.asarray(network.extra.get("power", np.full(E, 4.0)), dtype=np.float64)
    return {"tail": np.asarray(network.tail, dtype=np.int64), "head": np.asarray(network.head, dtype=np.int64),
            "length": lengths, "vf": vf, "cap": cap, "kj": kj, "node_in_ptr": node_in_ptr,
            "node_in": order.astype(np.int64), "lookahead": np.where(lanes >= 2, 400, 0).astype(np.int64),
            "turn_ptr": turn_ptr, "turn_to": np.array(turn_to, dtype=np.int64),
            "turn_green": np.array(turn_green, dtype=np.float64), "sig_ptr": np.array(sig_ptr, dtype=np.int64),
            "sig_state": np.concatenate(states) if states else np.zeros(0), "link_model": 1 if link_model == "bpr" else 0,
            "bpr_b": bpr_b, "bpr_p": bpr_p, "rate_tau_s": float(rate_tau_s)}


# ---- loading -----------------------------------------------------------------------------------------------
@dataclass
class _Load:
    """One dynamic network loading's outputs."""

    inflow: np.ndarray
    outflow: np.ndarray
    occupancy: np.ndarray
    tt_sum: np.ndarray
    tt_n: np.ndarray
    wait_sum: np.ndarray
    wait_n: np.ndarray
    p_enter: np.ndarray
    p_arrive: np.ndarray
    p_route: np.ndarray
    balance: np.ndarray
    dep_time: np.ndarray
    dep_route: np.ndarray
    dep_size: np.ndarray
    dep_pair: np.ndarray
    dep_interval: np.ndarray
    #: pooled packets: (route, departure interval, vehicles, packet) for each interval's vehicles of a route
    #: with less than a packet in that interval, and the packet that carries them; and which packets are pooled
    carry: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _departures(demand: DynamicDemand, shares: np.ndarray, route_pair: np.ndarray, packet_veh: float
                ) -> tuple[np.ndarray, ...]:
    """Packets of at most ``packet_veh`` vehicles per route and departure interval, spread evenly over the
    interval; a route with less than a packet in an interval joins those vehicles to its other such intervals'
    (a packet leaves as the route's cumulative departures pass its middle vehicle), so a city's many small
    flows do not make one small packet each. Returns the packets' departure times, routes, sizes, pairs and
    departure intervals (sorted by time), and the pooled vehicles' carrying packets (``_Load.carry``)."""
    T = demand.interval_s
    K = demand.n_intervals
    v = (demand.rates * T / 3600.0)[route_pair] * shares.T                   # (routes, intervals) vehicles
    v = np.where(v > 1e-12, v, 0.0)
    big = v >= packet_veh
    # whole packets: per route and interval, evenly over the interval
    r_a, k_a = np.nonzero(big)
    v_a = v[r_a, k_a]
    n = np.ceil(v_a / packet_veh - 1e-9).astype(np.int64)
    g = np.repeat(np.arange(n.size), n)
    pos = np.arange(g.size) - np.repeat(np.cumsum(n) - n, n)
    t1, r1, s1, k1 = demand.t0 + k_a[g] * T + (pos + 0.5) * T / n[g], r_a[g], (v_a / n)[g], k_a[g]
    # the rest: by the route's cumulative departures over its small intervals
    small = np.where(big, 0.0, v)
    total = small.sum(axis=1)
    used = np.flatnonzero(total > 1e-9)
    n = np.maximum(1, np.ceil(total[used] / packet_veh - 1e-9)).astype(np.int64)
    size = total[used] / n
    g = np.repeat(np.arange(used.size), n)
    pos = np.arange(g.size) - np.repeat(np.cumsum(n) - n, n)
    level = (pos + 0.5) * size[g]                                            # each packet's middle vehicle
    cum = np.concatenate([np.zeros((used.size, 1)), np.cumsum(small[used], axis=1)], axis=1)
    k2 = np.minimum((cum[g, 1:] < level[:, None]).sum(axis=1), K - 1) if g.size else g
    rate = small[used[g], k2]
    t2 = demand.t0 + k2 * T + np.clip((level - cum[g, k2]) / np.maximum(rate, 1e-12), 0.0, 1.0) * T
    t = np.concatenate([t1, t2])
    r = np.concatenate([r1, used[g]]).astype(np.int64)
    size_all = np.concatenate([s1, size[g]])
    k = np.concatenate([k1, k2]).astype(np.int64)
    order = np.argsort(t, kind="stable")
    # each small interval's vehicles ride the packet holding the middle of their share of the cumulative
    cu, ck = np.nonzero(small[used] > 0)
    mid = cum[cu, ck] + 0.5 * small[used[cu], ck]
    first = np.cumsum(n) - n
    packet = t1.size + first[cu] + np.minimum((mid / size[cu]).astype(np.int64), n[cu] - 1)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    carry = (used[cu].astype(np.int64), ck.astype(np.int64), small[used[cu], ck], rank[packet], order >= t1.size)
    return t[order], r[order], size_all[order], route_pair[r[order]].astype(np.int64), k[order], carry


def _load(net: dict[str, np.ndarray], table: RouteTable, demand: DynamicDemand, shares: np.ndarray,
          events: dict[str, np.ndarray], *, dt: float, t_end: float, interval_s: float, packet_veh: float) -> _Load:
    from numba_kernels.dnl import dnl

    dep = _departures(demand, shares, np.asarray(table.pair, dtype=np.int64), packet_veh)
    route_ptr, route_links = table.csr()
    n_steps = int(math.ceil((t_end - demand.t0) / dt))
    per = max(1, int(round(interval_s / dt)))
    n_int = int(math.ceil(n_steps / per))
    E = net["tail"].shape[0]
    out = {name: np.zeros((n_int, E)) for name in ("inflow", "outflow", "occupancy", "tt_sum", "tt_n", "wait_sum",
                                                   "wait_n")}
    n_pk = dep[0].shape[0]
    p_enter, p_arrive, p_route = np.empty(n_pk), np.empty(n_pk), np.empty(n_pk, dtype=np.int64)
    balance = np.zeros((n_steps, 4))
    dnl(net["tail"], net["head"], net["length"], net["vf"], net["cap"], net["kj"], net["lookahead"],
        net["node_in_ptr"], net["node_in"],
        net["turn_ptr"], net["turn_to"], net["turn_green"], net["sig_ptr"], net["sig_state"], route_ptr, route_links, dep[0], dep[1], dep[2],
        events["drop_link"], events["drop_t0"], events["drop_t1"], events["drop_factor"],
        events["div_link"], events["div_t0"], events["div_t1"], events["div_from"], events["div_to"],
        events["div_share"], events["div_pos"], int(net["link_model"]), net["bpr_b"], net["bpr_p"],
        float(net["rate_tau_s"]), float(demand.t0), float(dt), n_steps, per,
        out["inflow"], out["outflow"], out["occupancy"], out["tt_sum"], out["tt_n"], out["wait_sum"], out["wait_n"],
        p_enter, p_arrive, p_route, balance)
    return _Load(out["inflow"], out["outflow"], out["occupancy"], out["tt_sum"], out["tt_n"], out["wait_sum"],
                 out["wait_n"], p_enter, p_arrive, p_route, balance, *dep)


def _events(network: RoadNetwork, table: RouteTable, incidents: Sequence[Incident], diversions: Sequence[Diversion],
            tg: Any, free_tt: np.ndarray) -> dict[str, np.ndarray]:
    ei = network.edge_index

    def edge(name: str, what: str) -> int:
        if name not in ei:
            raise InputError(f"{what}: unknown edge {name!r} in {network.name}")
        return ei[name]

    for x in incidents:
        if not (0 <= x.capacity_factor <= 1) or not x.end_s > x.begin_s:
            raise InputError(f"incident on {x.edge}: capacity_factor must lie in [0, 1] and end_s after begin_s")
    ev: dict[str, list[Any]] = {k: [] for k in ("drop_link", "drop_t0", "drop_t1", "drop_factor", "div_link", "div_t0",
                                                 "div_t1", "div_from", "div_to", "div_share", "div_pos")}
    for x in incidents:
        ev["drop_link"].append(edge(x.edge, "incident"))
        ev["drop_t0"].append(x.begin_s)
        ev["drop_t1"].append(x.end_s)
        ev["drop_factor"].append(x.capacity_factor)
    for dv in diversions:
        if not 0 <= dv.share <= 1 or not dv.end_s > dv.begin_s:
            raise InputError(f"diversion at {dv.at_edge}: share must lie in [0, 1] and end_s after begin_s")
        at = edge(dv.at_edge, "diversion")
        avoid = [edge(a, "diversion avoid") for a in dv.avoid]
        cost = free_tt.copy()
        cost[avoid] = 1e9
        for rid, r in list(enumerate(table.all)):
            hit = np.flatnonzero(r == at)
            if hit.size == 0 or not np.isin(r[hit[0] + 1:], avoid).any():
                continue
            rest = shortest_routes(tg, cost, [at], [[int(r[-1])]])[0]
            if rest is None or np.isin(rest, avoid).any():
                continue  # no way round from here
            alt = np.concatenate([r[:hit[0]], rest])
            od = next(o for o, ids in enumerate(table.ids) if rid in ids)
            new = table.add(od, alt)
            ev["div_link"].append(at)
            ev["div_t0"].append(dv.begin_s)
            ev["div_t1"].append(dv.end_s)
            ev["div_from"].append(rid)
            ev["div_to"].append(new)
            ev["div_share"].append(dv.share)
            ev["div_pos"].append(int(hit[0]))
    ints = ("drop_link", "div_link", "div_from", "div_to", "div_pos")
    return {k: np.asarray(v, dtype=np.int64 if k in ints else np.float64) for k, v in ev.items()}


# ---- the engine --------------------------------------------------------------------------------------------
def dta(
    network: RoadNetwork,
    demand: DynamicDemand,
    *,
    method: Literal["due", "dnl"] = "due",
    gap: float = 0.01,
    max_iter: int = 40,
    dt: float = 1.0,
    interval_s: float = 60.0,
    horizon_s: float | None = None,
    packet_veh: float = 2.0,
    jam_density_veh_km: float = JAM_DENSITY_VEH_KM,
    link_model: Literal["ltm", "bpr"] = "ltm",
    signals: bool | Literal["phases", "average"] = True,
    incidents: Sequence[Incident] = (),
    diversions: Sequence[Diversion] = (),
    signal_plans: Sequence[tuple[dict[str, Any], float, float]] = (),
    max_routes: int = 8,
    vclass: str = "passenger",
    measure_gap: bool = True,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Dynamic network loading, or dynamic user equilibrium, of ``demand`` on ``network``.

    Parameters
    ----------
    network : RoadNetwork
    demand : DynamicDemand
        From :func:`demand_from_scenario` or :func:`demand_from_od`.
    method : {"due", "dnl"}
        Equilibrate route choice, or load once on the free-flow cheapest routes.
    gap : float
        Stop when the time-dependent relative gap falls below this.
    max_iter : int
        Most loadings of the equilibrium.
    dt : float, s
        Time step of the loading.
    interval_s : float, s
        Output interval (time dim of the Dataset).
    horizon_s : float, s, optional
        Simulated time after the first departure interval starts (default: the departure window plus an hour).
    packet_veh : float, veh
        Most vehicles in a packet.
    jam_density_veh_km : float, veh/km per lane
    link_model : {"ltm", "bpr"}
        The link transmission model (queues, spill-back), or delay functions (each edge's BPR function of its
        smoothed inflow rate, with the network's ``b`` and ``power`` where it has them: no queue, the bridge to
        the static equilibrium).
    signals : {"phases", "average"} or bool
        SUMO networks' signals: ``"phases"`` (or True) runs fixed-time programs phase by phase (a turn moves at
        full capacity in its green, not at all in red; actuated programs by their cycle-average green share),
        ``"average"`` scales every signalised turn's capacity by its green share, False ignores signals.
    incidents : list of Incident
        Capacity drops.
    diversions : list of Diversion
        Guidance at decision points.
    signal_plans : list of (dict of str to SignalPlan, float, float)
        Fixed-time programs in force over a window ``(plans by junction, begin s, end s)`` (signals retimed
        around an incident); outside their windows the network's own programs run.
    max_routes : int
        Most routes per origin-destination pair.
    vclass : str
        SUMO vehicle class whose edges and turns routes use.
    measure_gap : bool
        With ``method="dnl"``, measure the loading's relative gap (a route search per departure interval); False
        skips it (``gap`` NaN), for loadings whose route choice is given, as the live loop's and what-ifs are.
    progress : callable, optional
        ``progress(iteration, gap, message)`` after every loading.

    Returns
    -------
    xarray.Dataset
        ``inflow_veh_h``, ``outflow_veh_h``, ``density_veh_km``, ``vehicles``, ``travel_time_s`` on
        ``(time, edge)``; ``balance_*`` on ``step_time``; ``route_flow_veh`` and ``route_time_s`` on
        ``(departure, route)`` with ``route_pair`` and ``route_edges``; ``gap`` on ``iteration``; provenance.

    Raises
    ------
    InputError
        Bad settings, unknown edges, or demand between edges no route joins.
    """
    from .provenance import stamp

    if method not in ("due", "dnl"):
        raise InputError(f"method must be 'due' or 'dnl', got {method!r}")
    for name, v in (("gap", gap), ("dt", dt), ("interval_s", interval_s), ("packet_veh", packet_veh),
                    ("jam_density_veh_km", jam_density_veh_km)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise InputError(f"{name} must be a positive number, got {v!r}")
    if not 1 <= max_iter <= 10_000 or not 1 <= max_routes <= 100:
        raise InputError("max_iter must lie in 1..10000 and max_routes in 1..100")
    if demand.n_pairs == 0 or demand.total_veh() <= 0:
        raise DemandError("the demand sends no vehicle")
    t0 = time.perf_counter()
    window = demand.n_intervals * demand.interval_s
    t_end = demand.t0 + (horizon_s if horizon_s is not None else window + 3600.0)
    if t_end < demand.t0 + window:
        raise InputError(f"horizon_s {horizon_s:g} s ends before the last departure interval ({window:g} s)")
    if link_model not in ("ltm", "bpr"):
        raise InputError(f"link_model must be 'ltm' or 'bpr', got {link_model!r}")
    if signals not in (True, False, "phases", "average"):
        raise InputError(f"signals must be 'phases', 'average', True or False, got {signals!r}")
    phases = signal_states(network) if signals in (True, "phases") else None
    if signal_plans:
        if phases is None:
            raise InputError("signal_plans run phase by phase: use signals='phases'")
        phases = windowed_states(phases, [(signal_states(network, p), b, e) for p, b, e in signal_plans], t_end)
    net = _kernel_network(network, jam_density_veh_km, signal_green_shares(network) if signals else None, link_model,
                          phases=phases)
    free_tt = net["length"] / net["vf"]
    tg = turn_graph_of(network, vclass)
    table = RouteTable()
    # initial routes: the free-flow cheapest (one search per distinct origin set)
    groups = origin_groups(demand)
    ptr, links = cheapest(tg, free_tt, groups)
    for od in range(demand.n_pairs):
        if od in demand.fixed_routes:
            table.add(od, np.asarray(demand.fixed_routes[od], dtype=np.int64))
        elif ptr[od + 1] == ptr[od]:
            raise DemandError(f"pair {demand.labels[od] if demand.labels else od}: no route joins its origin and "
                              "destination edges by the turns the network permits")
        else:
            table.add(od, links[ptr[od]:ptr[od + 1]])
    events = _events(network, table, incidents, diversions, tg, free_tt)
    # every pair on its first route; a diversion's routes carry no flow at departure
    shares = np.zeros((demand.n_intervals, len(table.all)))
    shares[:, [ids[0] for ids in table.ids]] = 1.0
    gaps: list[float] = []
    ld = _load(net, table, demand, shares, events, dt=dt, t_end=t_end, interval_s=interval_s, packet_veh=packet_veh)
    for it in range(1, max_iter + 1 if method == "due" else 1):
        g, shares = equilibrate(ld, demand, table, shares, tg, groups, free_tt, t_end, interval_s, it, max_routes)
        gaps.append(g)
        if progress is not None:
            progress(it, g, f"iteration {it}: relative gap {g:.4f}, {len(table.all)} routes")
        if g < gap:
            break
        ld = _load(net, table, demand, shares, events, dt=dt, t_end=t_end, interval_s=interval_s, packet_veh=packet_veh)
    if method == "dnl":
        g = equilibrate(ld, demand, table, shares, tg, groups, free_tt, t_end, interval_s, 0, max_routes,
                        swap=False)[0] if measure_gap else math.nan
        gaps.append(g)
    ds = _dataset(network, demand, table, ld, net, gaps, dt=dt, interval_s=interval_s, t_end=t_end, method=method)
    ds.attrs.update(seconds=time.perf_counter() - t0, converged=int(bool(gaps) and gaps[-1] < gap), target_gap=gap)
    return stamp(ds, sumo=False)


def _dataset(network: RoadNetwork, demand: DynamicDemand, table: RouteTable, ld: _Load, net: dict[str, np.ndarray],
             gaps: list[float], *, dt: float, interval_s: float, t_end: float, method: str) -> xr.Dataset:
    import xarray as xr

    n_int = ld.inflow.shape[0]
    times = demand.t0 + np.arange(n_int) * interval_s
    hours = interval_s / 3600.0
    lengths_km = net["length"] / 1000.0
    free_s = net["length"] / net["vf"]
    link_tt = link_times(ld)
    flow, exp_tt = experienced(ld, demand.n_intervals, len(table.all), t_end)
    route_pair = np.zeros(len(table.all), dtype=np.int64)
    for od, ids in enumerate(table.ids):
        route_pair[ids] = od
    steps = demand.t0 + (np.arange(ld.balance.shape[0]) + 1) * dt
    edges = np.asarray(network.edge_ids, dtype=str)
    ds = xr.Dataset(
        {
            "inflow_veh_h": (("time", "edge"), ld.inflow / hours, {"units": "veh/h", "long_name": "vehicles entering"}),
            "outflow_veh_h": (("time", "edge"), ld.outflow / hours, {"units": "veh/h", "long_name": "vehicles leaving"}),
            "vehicles": (("time", "edge"), ld.occupancy, {"units": "veh", "long_name": "vehicles on the edge (mean)"}),
            "density_veh_km": (("time", "edge"), ld.occupancy / lengths_km,
                               {"units": "veh/km", "long_name": "density (all lanes)"}),
            "travel_time_s": (("time", "edge"), link_tt,
                              {"units": "s", "long_name": "mean travel time of the vehicles that entered the edge"}),
            "queue_veh": (("time", "edge"), np.maximum(ld.occupancy - ld.inflow * free_s / interval_s, 0.0),
                          {"units": "veh", "long_name": "vehicles on the edge beyond those its inflow puts there at "
                                                         "free speed (the queue)"}),
            "balance_departed": (("step_time",), ld.balance[:, 0], {"units": "veh", "long_name": "vehicles departed"}),
            "balance_on_edges": (("step_time",), ld.balance[:, 1], {"units": "veh", "long_name": "vehicles on edges"}),
            "balance_waiting": (("step_time",), ld.balance[:, 2],
                                {"units": "veh", "long_name": "vehicles waiting to enter their first edge"}),
            "balance_arrived": (("step_time",), ld.balance[:, 3], {"units": "veh", "long_name": "vehicles arrived"}),
            "route_flow_veh": (("departure", "route"), flow, {"units": "veh", "long_name": "vehicles leaving on the route"}),
            "route_time_s": (("departure", "route"), exp_tt,
                             {"units": "s", "long_name": "mean experienced travel time (to the end if not arrived)"}),
            "route_pair": (("route",), route_pair, {"units": "1", "long_name": "origin-destination pair of the route"}),
            "route_edges": (("route",), np.array([" ".join(edges[r]) for r in table.all], dtype=object),
                            {"units": "1", "long_name": "edges of the route"}),
            "edge_length_m": (("edge",), net["length"], {"units": "m", "long_name": "edge length"}),
            "gap": (("iteration",), np.asarray(gaps, dtype=np.float64),
                    {"units": "1", "long_name": "time-dependent relative gap sum f (c - c_min) / sum f c"}),
        },
        coords={"time": ("time", times, {"units": "s", "long_name": "start of the interval"}),
                "edge": ("edge", edges), "step_time": ("step_time", steps, {"units": "s"}),
                "departure": ("departure", demand.t0 + np.arange(demand.n_intervals) * demand.interval_s,
                              {"units": "s", "long_name": "start of the departure interval"}),
                "route": ("route", np.arange(len(table.all))), "iteration": ("iteration", np.arange(1, len(gaps) + 1)),
                "pair": ("pair", np.asarray(demand.labels or [str(i) for i in range(demand.n_pairs)], dtype=str))},
        attrs={"network": network.name, "method": method, "dt_s": dt, "interval_s": interval_s,
               "departure_interval_s": demand.interval_s, "demand_veh": demand.total_veh(),
               "arrived_veh": float(ld.balance[-1, 3]) if ld.balance.size else 0.0,
               "gap_final": gaps[-1] if gaps else float("nan"),
               "conservation_error": float(np.max(np.abs(ld.balance[:, 0] - ld.balance[:, 1] - ld.balance[:, 2]
                                                         - ld.balance[:, 3]))) if ld.balance.size else 0.0},
    )
    return ds
