"""Route choice kernels of the dynamic equilibrium: cheapest routes for many pairs at once, and the route swap.

Routes are sequences of edges searched on the turn graph (one node per edge, an arc per permitted turn; the
cost of an arc is the cost of the edge it enters). A virtual node ``E`` starts every search: its arcs lead to the
origin edges of one origin group. Route shares are a dense ``(departure interval, route)`` matrix; the routes of
pair ``p`` are ``pair_routes[pair_ptr[p]:pair_ptr[p + 1]]``.
"""

from __future__ import annotations

import numpy as np

from ._config import njit
from .paths import dijkstra

__all__ = ["cheapest_routes", "pair_minima", "swap_shares"]


@njit
def cheapest_routes(t_indptr: np.ndarray, t_succ: np.ndarray, cost: np.ndarray, grp_ptr: np.ndarray,
                    grp_origins: np.ndarray, grp_pair_ptr: np.ndarray, grp_pairs: np.ndarray, dest_ptr: np.ndarray,
                    dests: np.ndarray, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest route of every pair of every origin group, on edge costs ``cost`` (s).

    Group ``g`` starts on the edges ``grp_origins[grp_ptr[g]:grp_ptr[g + 1]]`` and serves the pairs
    ``grp_pairs[grp_pair_ptr[g]:grp_pair_ptr[g + 1]]``; pair ``p`` may end on any edge of
    ``dests[dest_ptr[p]:dest_ptr[p + 1]]``. Returns ``(ptr, links)``: pair ``p``'s route is
    ``links[ptr[p]:ptr[p + 1]]`` (empty where no route joins them).
    """
    E = t_indptr.shape[0] - 1
    n_t = t_succ.shape[0]
    max_o = 0
    for g in range(grp_ptr.shape[0] - 1):
        max_o = max(max_o, grp_ptr[g + 1] - grp_ptr[g])
    indptr = np.empty(E + 2, dtype=np.int32)
    indptr[:E + 1] = t_indptr
    head = np.empty(n_t + max_o, dtype=np.int32)
    head[:n_t] = t_succ
    src = np.empty(n_t + max_o, dtype=np.int64)
    for u in range(E):
        for a in range(t_indptr[u], t_indptr[u + 1]):
            src[a] = u
    arc = np.empty(n_t + max_o)
    for a in range(n_t):
        arc[a] = cost[t_succ[a]]
    dist = np.empty(E + 1)
    pred = np.empty(E + 1, dtype=np.int32)
    order = np.empty(E + 1, dtype=np.int32)
    heap = np.empty(E + 1, dtype=np.int32)
    pos = np.empty(E + 1, dtype=np.int32)
    length = np.zeros(n_pairs, dtype=np.int64)
    end = np.full(n_pairs, -1, dtype=np.int64)
    ptr = np.zeros(n_pairs + 1, dtype=np.int64)
    cap = 1 << 16
    links = np.empty(cap, dtype=np.int64)
    used = 0
    start = np.empty(n_pairs, dtype=np.int64)
    for g in range(grp_ptr.shape[0] - 1):
        n_o = grp_ptr[g + 1] - grp_ptr[g]
        for i in range(n_o):
            o = grp_origins[grp_ptr[g] + i]
            head[n_t + i] = o
            src[n_t + i] = E
            arc[n_t + i] = cost[o]
        indptr[E + 1] = n_t + n_o
        dijkstra(indptr, head, arc, E, 0, dist, pred, order, heap, pos)
        for q in range(grp_pair_ptr[g], grp_pair_ptr[g + 1]):
            p = grp_pairs[q]
            best = -1
            for x in range(dest_ptr[p], dest_ptr[p + 1]):
                d = dests[x]
                if dist[d] < np.inf and (best < 0 or dist[d] < dist[best]):
                    best = d
            if best < 0:
                continue
            n = 0
            v = best
            while v != E:
                n += 1
                v = src[pred[v]]
            while used + n > cap:
                cap *= 2
                bigger = np.empty(cap, dtype=np.int64)
                bigger[:used] = links[:used]
                links = bigger
            v = best
            i = used + n - 1
            while v != E:
                links[i] = v
                i -= 1
                v = src[pred[v]]
            start[p] = used
            length[p] = n
            end[p] = best
            used += n
    out = np.empty(used, dtype=np.int64)
    k = 0
    for p in range(n_pairs):
        ptr[p] = k
        for i in range(length[p]):
            out[k] = links[start[p] + i]
            k += 1
    ptr[n_pairs] = k
    return ptr, out


@njit
def pair_minima(pair_ptr: np.ndarray, pair_routes: np.ndarray, cost: np.ndarray, out: np.ndarray) -> None:
    """``out[p, k]``: the least ``cost[k, r]`` over pair ``p``'s routes (inf where it has none)."""
    for p in range(pair_ptr.shape[0] - 1):
        for k in range(cost.shape[0]):
            m = np.inf
            for i in range(pair_ptr[p], pair_ptr[p + 1]):
                c = cost[k, pair_routes[i]]
                if c < m:
                    m = c
            out[p, k] = m


@njit
def swap_shares(pair_ptr: np.ndarray, pair_routes: np.ndarray, veh: np.ndarray, shares: np.ndarray, cost: np.ndarray,
                best: np.ndarray, step: float, frozen: np.ndarray) -> tuple[float, float]:
    """The relative gap's numerator and denominator (``sum f (c - best)`` and ``sum f c`` over pairs, intervals and
    routes, ``f`` = ``veh[p, k] * shares[k, r]``), then, for every pair not ``frozen``, each route gives up
    ``min(step * (c - c_min) / c, 1)`` of its share to the pair's cheapest route (``shares`` updated in place)."""
    num = 0.0
    den = 0.0
    for p in range(pair_ptr.shape[0] - 1):
        a, b = pair_ptr[p], pair_ptr[p + 1]
        if b == a:
            continue
        for k in range(veh.shape[1]):
            v = veh[p, k]
            if v <= 0.0:
                continue
            j = pair_routes[a]
            for i in range(a, b):
                r = pair_routes[i]
                c = cost[k, r]
                num += v * shares[k, r] * max(c - best[p, k], 0.0)
                den += v * shares[k, r] * c
                if c < cost[k, j]:
                    j = r
            if frozen[p]:
                continue
            cj = cost[k, j]
            moved = 0.0
            total = 0.0
            for i in range(a, b):
                r = pair_routes[i]
                if r == j:
                    continue
                c = cost[k, r]
                x = shares[k, r] * min(step * max(c - cj, 0.0) / max(c, 1e-9), 1.0)
                shares[k, r] -= x
                moved += x
            shares[k, j] += moved
            for i in range(a, b):
                total += shares[k, pair_routes[i]]
            if total > 0:
                for i in range(a, b):
                    shares[k, pair_routes[i]] /= total
    return num, den
