"""Path-based user equilibrium: gradient projection (Jayakrishnan et al. 1994) with Gauss-Seidel updates.

Every OD pair keeps the set of paths it uses. One sweep visits the origins in turn: a Dijkstra tree on the
current costs adds each pair's shortest path to its set if it is new, then flow moves from every costlier
path of the pair to the cheapest one by a Newton step ``(c_p - c_b) / sum of cost derivatives over the
links the two paths do not share``, costs being updated at once. Paths that lose all their flow are
dropped. This reaches relative gaps many orders of magnitude below what Frank-Wolfe methods reach.

Storage is flat: a path is ``p_links[p_start[p] : p_start[p] + p_len[p]]`` with flow ``p_flow[p]``;
the paths of OD pair ``k`` form a linked list from ``od_head[k]`` through ``p_next``. ``meta`` holds
``[paths stored, link slots used, link slots of dropped paths]``. When the store is full the sweep stops
and returns the origin to resume at; the caller grows the arrays (:func:`grow`) and calls again.
"""

from __future__ import annotations

import numpy as np

from ._config import njit
from .links import _ratio_pow
from .paths import dijkstra, work_arrays

FULL_PATHS = 1
FULL_LINKS = 2


@njit
def _update_link(a, x, c, dc, fft, cap, b, power, fixed):
    xa = x[a]
    if xa < 0.0:
        xa = 0.0
    ba = b[a]
    if ba == 0.0:
        c[a] = fft[a] + fixed[a]
        dc[a] = 0.0
        return
    p = power[a]
    c[a] = fft[a] * (1.0 + ba * _ratio_pow(xa, cap[a], p)) + fixed[a]
    if p == 1.0:
        dc[a] = fft[a] * ba / cap[a]
    elif xa == 0.0 or p == 0.0:
        dc[a] = 0.0
    else:
        dc[a] = fft[a] * ba * p * _ratio_pow(xa, cap[a], p - 1.0) / cap[a]


@njit
def update_costs(x, c, dc, fft, cap, b, power, fixed):
    """Costs and cost derivatives of every link at flows ``x``."""
    for a in range(x.shape[0]):
        _update_link(a, x, c, dc, fft, cap, b, power, fixed)


@njit
def link_flows_from_paths(od_head, p_next, p_start, p_len, p_flow, p_links, x):
    """Link flows ``x`` as the sum of path flows (clears drift from incremental updates)."""
    x[:] = 0.0
    for k in range(od_head.shape[0]):
        p = od_head[k]
        while p >= 0:
            f = p_flow[p]
            s = p_start[p]
            for i in range(s, s + p_len[p]):
                x[p_links[i]] += f
            p = p_next[p]


@njit
def _path_cost(p, p_start, p_len, p_links, c):
    s = p_start[p]
    total = 0.0
    for i in range(s, s + p_len[p]):
        total += c[p_links[i]]
    return total


@njit
def _equilibrate_od(k, demand, od_head, p_next, p_start, p_len, p_flow, p_links, meta, mark, stamp,
                    x, c, dc, fft, cap, b, power, fixed):
    best = -1
    best_cost = np.inf
    p = od_head[k]
    while p >= 0:
        cp = _path_cost(p, p_start, p_len, p_links, c)
        if cp < best_cost:
            best_cost = cp
            best = p
        p = p_next[p]
    if best < 0 or p_next[od_head[k]] < 0:
        return stamp
    stamp += 1
    bs = p_start[best]
    be = bs + p_len[best]
    for i in range(bs, be):
        mark[p_links[i]] = stamp
    tiny = 1e-13 * demand
    prev = -1
    p = od_head[k]
    while p >= 0:
        nxt = p_next[p]
        if p != best:
            s = p_start[p]
            e = s + p_len[p]
            cp = 0.0
            d_own = 0.0
            d_shared = 0.0
            for i in range(s, e):
                a = p_links[i]
                cp += c[a]
                if mark[a] == stamp:
                    d_shared += dc[a]
                else:
                    d_own += dc[a]
            cb = 0.0
            d_best = 0.0
            for i in range(bs, be):
                a = p_links[i]
                cb += c[a]
                d_best += dc[a]
            excess = cp - cb
            if excess > 0.0:
                denom = d_own + d_best - d_shared
                f = p_flow[p]
                if denom <= 0.0:
                    delta = f
                else:
                    delta = excess / denom
                    if delta > f or f - delta <= tiny:
                        delta = f
                if delta > 0.0:
                    for i in range(s, e):
                        a = p_links[i]
                        x[a] -= delta
                        _update_link(a, x, c, dc, fft, cap, b, power, fixed)
                    for i in range(bs, be):
                        a = p_links[i]
                        x[a] += delta
                        _update_link(a, x, c, dc, fft, cap, b, power, fixed)
                    p_flow[p] = f - delta
                    p_flow[best] += delta
            if p_flow[p] <= 0.0:
                p_flow[p] = 0.0
                if prev < 0:
                    od_head[k] = nxt
                else:
                    p_next[prev] = nxt
                meta[2] += p_len[p]
                p = nxt
                continue
        prev = p
        p = nxt
    return stamp


@njit
def gp_sweep(indptr, tail, head, zone_count, zone_node, od_ptr, od_dest, od_demand,
             fft, cap, b, power, fixed, x, c, dc,
             od_head, p_next, p_start, p_len, p_flow, p_links, meta, mark,
             start_zone, inner):
    """One gradient-projection sweep over origin zones ``start_zone..``; see the module docstring.

    ``od_ptr`` (Z+1) gives each origin zone's OD pairs ``od_ptr[o]:od_ptr[o+1]`` with destination zones
    ``od_dest`` and demands ``od_demand``. ``inner`` extra passes re-balance an origin's pairs on their
    existing paths after the new shortest paths are added. Returns ``(status, zone)``: ``(0, Z)`` when the
    sweep finished, else :data:`FULL_PATHS` or :data:`FULL_LINKS` and the zone to resume at.
    """
    n = indptr.shape[0] - 1
    nz = zone_node.shape[0]
    dist, pred, order, heap, pos = work_arrays(n)
    buf = np.empty(n, dtype=np.int32)
    stamp = mark.max()
    for oz in range(start_zone, nz):
        k0 = od_ptr[oz]
        k1 = od_ptr[oz + 1]
        if k0 == k1:
            continue
        o = zone_node[oz]
        dijkstra(indptr, head, c, o, zone_count, dist, pred, order, heap, pos)
        need_links = 0
        for k in range(k0, k1):
            v = zone_node[od_dest[k]]
            if dist[v] == np.inf:
                return -1 - k, oz  # unreachable pair; the caller reports it
            while pred[v] >= 0:
                need_links += 1
                v = tail[pred[v]]
        if meta[0] + (k1 - k0) > p_flow.shape[0]:
            return FULL_PATHS, oz
        if meta[1] + need_links > p_links.shape[0]:
            return FULL_LINKS, oz
        for k in range(k0, k1):
            v = zone_node[od_dest[k]]
            length = 0
            while pred[v] >= 0:
                buf[length] = pred[v]
                length += 1
                v = tail[pred[v]]
            found = False
            p = od_head[k]
            while p >= 0:
                if p_len[p] == length:
                    s = p_start[p]
                    same = True
                    for i in range(length):
                        if p_links[s + i] != buf[length - 1 - i]:
                            same = False
                            break
                    if same:
                        found = True
                        break
                p = p_next[p]
            if not found:
                q = meta[0]
                s = meta[1]
                for i in range(length):
                    p_links[s + i] = buf[length - 1 - i]
                p_start[q] = s
                p_len[q] = length
                if od_head[k] < 0:
                    p_flow[q] = od_demand[k]  # first path of the pair carries all its demand
                    for i in range(length):
                        a = buf[i]
                        x[a] += od_demand[k]
                        _update_link(a, x, c, dc, fft, cap, b, power, fixed)
                else:
                    p_flow[q] = 0.0
                p_next[q] = od_head[k]
                od_head[k] = q
                meta[0] = q + 1
                meta[1] = s + length
            stamp = _equilibrate_od(k, od_demand[k], od_head, p_next, p_start, p_len, p_flow, p_links, meta,
                                    mark, stamp, x, c, dc, fft, cap, b, power, fixed)
        for _ in range(inner):
            for k in range(k0, k1):
                stamp = _equilibrate_od(k, od_demand[k], od_head, p_next, p_start, p_len, p_flow, p_links, meta,
                                        mark, stamp, x, c, dc, fft, cap, b, power, fixed)
    return 0, nz


@njit
def rescale_paths(od_head, p_next, p_flow, od_demand):
    """Scale each OD pair's path flows to its (new) demand, keeping the split: a warm start for new demand."""
    for k in range(od_head.shape[0]):
        total = 0.0
        p = od_head[k]
        while p >= 0:
            total += p_flow[p]
            p = p_next[p]
        if total > 0.0:
            f = od_demand[k] / total
            p = od_head[k]
            while p >= 0:
                p_flow[p] *= f
                p = p_next[p]


@njit
def rebalance(od_demand, od_head, p_next, p_start, p_len, p_flow, p_links, meta, mark,
              x, c, dc, fft, cap, b, power, fixed, passes):
    """``passes`` Newton shifts over every OD pair on its current paths (no shortest-path search)."""
    stamp = mark.max()
    for _ in range(passes):
        for k in range(od_head.shape[0]):
            stamp = _equilibrate_od(k, od_demand[k], od_head, p_next, p_start, p_len, p_flow, p_links, meta,
                                    mark, stamp, x, c, dc, fft, cap, b, power, fixed)


@njit
def compact(od_head, p_next, p_start, p_len, p_flow, p_links, meta, new_next, new_start, new_len, new_flow,
            new_links):
    """Copy the live paths into fresh arrays (dropping the slots of removed paths); update ``od_head``."""
    q = 0
    s = 0
    for k in range(od_head.shape[0]):
        p = od_head[k]
        prev = -1
        while p >= 0:
            ps = p_start[p]
            L = p_len[p]
            for i in range(L):
                new_links[s + i] = p_links[ps + i]
            new_start[q] = s
            new_len[q] = L
            new_flow[q] = p_flow[p]
            new_next[q] = -1
            if prev < 0:
                od_head[k] = q
            else:
                new_next[prev] = q
            prev = q
            q += 1
            s += L
            p = p_next[p]
    meta[0] = q
    meta[1] = s
    meta[2] = 0


class PathStore:
    """Growable flat path storage for :func:`gp_sweep` (a plain holder of numpy arrays)."""

    def __init__(self, n_od: int, paths: int, links: int):
        self.od_head = np.full(n_od, -1, dtype=np.int32)
        self.meta = np.zeros(3, dtype=np.int64)
        self._alloc(max(paths, 16), max(links, 64))

    def _alloc(self, paths: int, links: int) -> None:
        self.p_next = np.full(paths, -1, dtype=np.int32)
        self.p_start = np.zeros(paths, dtype=np.int64)
        self.p_len = np.zeros(paths, dtype=np.int32)
        self.p_flow = np.zeros(paths)
        self.p_links = np.zeros(links, dtype=np.int32)

    def arrays(self):
        return self.od_head, self.p_next, self.p_start, self.p_len, self.p_flow, self.p_links

    def grow(self, status: int) -> None:
        """Make room after a full-store return: compact if over half is garbage, else double the full array."""
        old = (self.p_next, self.p_start, self.p_len, self.p_flow, self.p_links)
        paths = old[0].shape[0] * (2 if status == FULL_PATHS else 1)
        links = old[4].shape[0] * (2 if status == FULL_LINKS else 1)
        if self.meta[2] * 2 > self.meta[1]:
            paths, links = old[0].shape[0], old[4].shape[0]
        self._alloc(paths, links)
        compact(self.od_head, old[0], old[1], old[2], old[3], old[4], self.meta, self.p_next, self.p_start,
                self.p_len, self.p_flow, self.p_links)

    @property
    def n_paths(self) -> int:
        """Paths in use (live ones; dropped ones are only counted until the next compaction)."""
        return int(self.meta[0])
