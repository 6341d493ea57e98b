"""Route choice of the dynamic user equilibrium: experienced and loaded route times, the cheapest new routes, the
relative gap and the route swap (the loops in :mod:`numba_kernels.dta_routes`).

Route shares are a dense ``(departure interval, route)`` matrix over every route of the :class:`RouteTable`;
a route's column is zero in the intervals its pair does not use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._dta_paths import RouteTable, TurnGraph, route_costs

#: Share of a route's flow moved per unit of relative excess cost at the first iteration (3 / sqrt(n) at the n-th).
SWAP_RATE = 3.0


@dataclass(frozen=True)
class OriginGroups:
    """Pairs with route choice grouped by their origin edges (one search serves a group), in CSR form."""

    grp_ptr: np.ndarray
    grp_origins: np.ndarray
    grp_pair_ptr: np.ndarray
    grp_pairs: np.ndarray
    dest_ptr: np.ndarray
    dests: np.ndarray
    n_pairs: int


def origin_groups(demand: Any) -> OriginGroups:
    """The :class:`OriginGroups` of ``demand``'s pairs that have no fixed route."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for od in range(demand.n_pairs):
        if od not in demand.fixed_routes:
            groups.setdefault(tuple(demand.origins[od]), []).append(od)
    keys = list(groups)
    grp_ptr = np.concatenate([[0], np.cumsum([len(k) for k in keys])]).astype(np.int64)
    grp_origins = np.array([e for k in keys for e in k], dtype=np.int64)
    grp_pair_ptr = np.concatenate([[0], np.cumsum([len(groups[k]) for k in keys])]).astype(np.int64)
    grp_pairs = np.array([p for k in keys for p in groups[k]], dtype=np.int64)
    dest_ptr = np.concatenate([[0], np.cumsum([len(d) for d in demand.destinations])]).astype(np.int64)
    dests = np.array([e for d in demand.destinations for e in d], dtype=np.int64)
    return OriginGroups(grp_ptr, grp_origins, grp_pair_ptr, grp_pairs, dest_ptr, dests, demand.n_pairs)


def cheapest(tg: TurnGraph, cost: np.ndarray, groups: OriginGroups) -> tuple[np.ndarray, np.ndarray]:
    """Every grouped pair's cheapest route on edge costs ``cost`` (s): ``(ptr, links)``, pair ``p``'s route
    ``links[ptr[p]:ptr[p + 1]]`` (empty where none joins its origin and destination, and for fixed pairs)."""
    from numba_kernels.dta_routes import cheapest_routes

    return cheapest_routes(tg.indptr, tg.succ, np.ascontiguousarray(cost, dtype=np.float64), groups.grp_ptr,
                           groups.grp_origins, groups.grp_pair_ptr, groups.grp_pairs, groups.dest_ptr, groups.dests,
                           groups.n_pairs)


def entry_cost(ld: Any, free_tt: np.ndarray) -> np.ndarray:
    """Cost of entering each edge, by the interval a vehicle comes to it: the mean time vehicles waited to get in
    (at the end of the edge before, or at their origin), plus the edge's free-flow time. Queues are charged to
    the turn that causes them, so a route that turns elsewhere does not pay for them."""
    with np.errstate(invalid="ignore", divide="ignore"):
        wait = np.where(ld.wait_n > 1e-9, ld.wait_sum / np.maximum(ld.wait_n, 1e-12), 0.0)
    return free_tt[None, :] + wait


def link_times(ld: Any) -> np.ndarray:
    """Mean travel time by the interval vehicles entered each edge (NaN where none entered, or none has left)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ld.tt_n > 1e-9, ld.tt_sum / np.maximum(ld.tt_n, 1e-12), np.nan)


def experienced(ld: Any, n_intervals: int, n_routes: int, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Flow (veh) and mean experienced travel time (s) per (departure interval, route); a vehicle still on its
    way counts the time until the end (a lower bound); vehicles pooled into a packet of their route take that
    packet's time in their own departure interval."""
    flow = np.zeros((n_intervals, n_routes))
    tts = np.zeros((n_intervals, n_routes))
    tt = np.where(np.isnan(ld.p_arrive), t_end, ld.p_arrive) - ld.dep_time
    c_route, c_interval, c_veh, c_packet, pooled = ld.carry
    whole = ~pooled
    # the route it left on (a diversion may have changed it on the way); a pooled packet's vehicles count in
    # the intervals they belong to
    np.add.at(flow, (ld.dep_interval[whole], ld.dep_route[whole]), ld.dep_size[whole])
    np.add.at(tts, (ld.dep_interval[whole], ld.dep_route[whole]), (ld.dep_size * tt)[whole])
    np.add.at(flow, (c_interval, c_route), c_veh)
    np.add.at(tts, (c_interval, c_route), c_veh * tt[c_packet])
    with np.errstate(invalid="ignore", divide="ignore"):
        return flow, np.where(flow > 0, tts / np.maximum(flow, 1e-12), np.nan)


def equilibrate(ld: Any, demand: Any, table: RouteTable, shares: np.ndarray, tg: TurnGraph, groups: OriginGroups,
                free_tt: np.ndarray, t_end: float, interval_s: float, it: int, max_routes: int, *,
                swap: bool = True) -> tuple[float, np.ndarray]:
    """The relative gap of the loading ``ld``, and the route shares moved towards the cheaper routes.

    Each route's cost is its experienced travel time where it carried vehicles, else its time on the loaded
    link costs; each pair's cheapest route on the loaded costs of each departure interval joins its route set
    (at no flow) when it is cheaper than every route of the set. The gap is
    ``sum f (c - c_min) / sum f c`` over pairs, departure intervals and routes.
    """
    from numba_kernels.dta_routes import pair_minima, swap_shares

    K = demand.n_intervals
    T = demand.interval_s
    step_k = max(1, int(round(T / interval_s)))
    depart = demand.t0 + (np.arange(K) + 0.5) * T
    _, exp_tt = experienced(ld, K, len(table.all), t_end)
    link = entry_cost(ld, free_tt)
    loaded = route_costs(table.csr(), depart, link, demand.t0, interval_s, free_tt)
    seen = np.full_like(loaded, np.nan)
    seen[:, :exp_tt.shape[1]] = exp_tt
    cost = np.where((shares > 1e-9) & np.isfinite(seen), seen, loaded)
    pair_ptr, pair_routes = table.pair_csr(demand.n_pairs)
    best = np.empty((demand.n_pairs, K))
    pair_minima(pair_ptr, pair_routes, cost, best)
    least_loaded = np.empty((demand.n_pairs, K))
    pair_minima(pair_ptr, pair_routes, loaded, least_loaded)
    veh = demand.rates * T / 3600.0
    # the cheapest route of every pair and departure interval on that interval's loaded costs
    joins: list[tuple[int, np.ndarray]] = []
    for k in range(K):
        if not (veh[:, k] > 0).any() or groups.grp_pairs.size == 0:
            continue
        ptr, links = cheapest(tg, link[min(k * step_k, link.shape[0] - 1)], groups)
        c_new = route_costs((ptr, links), depart[k:k + 1], link, demand.t0, interval_s, free_tt)[0]
        found = np.diff(ptr) > 0
        cheaper = found & (c_new < best[:, k] - 1e-6) & (veh[:, k] > 0)
        for p in np.flatnonzero(cheaper):   # a route of the set found again is no new route
            r = links[ptr[p]:ptr[p + 1]]
            if c_new[p] < least_loaded[p, k] - 1e-6 or table.find(int(p), r) is None:
                best[p, k] = c_new[p]
                joins.append((int(p), r.copy()))
    if swap:
        before = len(table.all)
        for p, r in joins:
            if len(table.ids[p]) < max_routes:
                table.add(p, r)
        if len(table.all) > before:   # new routes: no share yet, their loaded costs
            ptr_all, links_all = table.csr()
            extra = (ptr_all[before:] - ptr_all[before], links_all[ptr_all[before]:])
            c_extra = route_costs(extra, depart, link, demand.t0, interval_s, free_tt)
            cost = np.concatenate([cost, c_extra], axis=1)
            shares = np.concatenate([shares, np.zeros((K, len(table.all) - before))], axis=1)
            pair_ptr, pair_routes = table.pair_csr(demand.n_pairs)
    frozen = np.array([(not swap) or (p in demand.fixed_routes) for p in range(demand.n_pairs)], dtype=np.bool_)
    shares = np.ascontiguousarray(shares)
    num, den = swap_shares(pair_ptr, pair_routes, veh, shares, np.ascontiguousarray(cost), best,
                           SWAP_RATE / math.sqrt(max(it, 1)), frozen)
    return (num / den if den > 0 else 0.0), shares
