"""All-or-nothing loading of an OD matrix, parallel over origins.

Each thread owns a row of the ``(threads, E)`` flow buffer and a set of Dijkstra work arrays, so
accumulation needs no atomics; the rows are summed afterwards. Flow is loaded by walking each tree once in
reverse settling order (every node passes its accumulated flow to its predecessor edge), which costs
O(N) per origin instead of one walk per destination.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._config import njit, pjit
from .paths import dijkstra, work_arrays


@njit
def load_tree(tail, pred, order, settled, node_flow, flows):
    """Push ``node_flow`` (demand ending at each node) down the tree into ``flows``; zero ``node_flow``."""
    for k in range(settled - 1, 0, -1):
        u = order[k]
        q = node_flow[u]
        if q != 0.0:
            e = pred[u]
            flows[e] += q
            node_flow[tail[e]] += q
            node_flow[u] = 0.0
    node_flow[order[0]] = 0.0


@njit
def aon_origins(indptr, tail, head, cost, zone_count, zone_node, demand, first, step, flows):
    """Serial AON for origin zones ``first, first + step, ...`` adding into ``flows`` (1-D, length E).

    Returns ``(sptt, unreached)`` for those origins.
    """
    n = indptr.shape[0] - 1
    nz = zone_node.shape[0]
    dist, pred, order, heap, pos = work_arrays(n)
    node_flow = np.zeros(n)
    s = 0.0
    miss = 0.0
    for oz in range(first, nz, step):
        row = demand[oz]
        has = False
        for dz in range(nz):
            if row[dz] > 0.0 and dz != oz:
                has = True
                break
        if not has:
            continue
        settled = dijkstra(indptr, head, cost, zone_node[oz], zone_count, dist, pred, order, heap, pos)
        for dz in range(nz):
            q = row[dz]
            if q > 0.0 and dz != oz:
                dn = zone_node[dz]
                if dist[dn] == np.inf:
                    miss += q
                else:
                    node_flow[dn] += q
                    s += q * dist[dn]
        load_tree(tail, pred, order, settled, node_flow, flows)
    return s, miss


@pjit
def aon_load(indptr, tail, head, cost, zone_count, zone_node, demand, flows):
    """Load ``demand`` (Z x Z, zone ``i`` at node ``zone_node[i]``) all-or-nothing on ``cost``.

    ``flows`` is a ``(T, E)`` buffer, one row per thread, overwritten; origins are dealt to the rows in
    turn. Returns ``(sptt, unreached)``: the shortest-path total cost ``sum(demand * dist)`` and the demand
    that has no path. Intra-zonal demand (the diagonal) is not loaded.
    """
    nt = flows.shape[0]
    sptt = np.zeros(nt)
    lost = np.zeros(nt)
    for t in prange(nt):
        flows[t, :] = 0.0
        s, miss = aon_origins(indptr, tail, head, cost, zone_count, zone_node, demand, t, nt, flows[t])
        sptt[t] = s
        lost[t] = miss
    return sptt.sum(), lost.sum()


@pjit
def shortest_costs(indptr, head, cost, zone_count, origins, out):
    """Distance from each node in ``origins`` to every node: ``out`` is ``(len(origins), N)``."""
    n = indptr.shape[0] - 1
    for i in prange(origins.shape[0]):
        _, pred, order, heap, pos = work_arrays(n)
        dijkstra(indptr, head, cost, origins[i], zone_count, out[i], pred, order, heap, pos)


@pjit
def shortest_trees(indptr, head, cost, zone_count, origins, dist, pred):
    """Shortest-path trees from each node in ``origins``: ``dist`` (float64) and ``pred`` (int32, the edge
    into each node, -1 at the origin and where unreached), both ``(len(origins), N)``."""
    n = indptr.shape[0] - 1
    for i in prange(origins.shape[0]):
        _, _, order, heap, pos = work_arrays(n)
        dijkstra(indptr, head, cost, origins[i], zone_count, dist[i], pred[i], order, heap, pos)
