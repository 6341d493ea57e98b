"""Count-location proportions of an equilibrium assignment, for origin-destination matrix estimation.

At a user equilibrium the flow on a counted location ``l`` (a link, or a turn from one link into the next)
is ``v_l = sum_od P[l, od] q_od``: ``P[l, od]`` is the share of the OD pair's trips that pass ``l``. The
estimator fits ``q`` to counts through ``P`` and re-assigns, so ``P`` must match the assignment that made
the flows:

* gradient projection keeps its paths: ``P[l, od] = sum_paths(od) f_p / q_od [p passes l]``
  (:func:`path_store_proportions`);
* the Frank-Wolfe family ends at a convex combination ``x = sum_k w_k y_k`` of all-or-nothing loadings
  ``y_k`` on the costs ``c_k`` of iteration ``k``, so ``P[l, od] = sum_k w_k [shortest path of od on c_k
  passes l]`` (:func:`tree_proportions`, one origin at a time).

Count locations are given as ``link_loc`` (location of each link, -1 for none) and the turns as a CSR
over the ``from`` link: ``turn_ptr[a]..turn_ptr[a+1]`` hold ``turn_to`` (the next link) and
``turn_loc``. Outputs are COO triplets ``(loc, od, value)``; duplicates are summed by the caller.
"""

from __future__ import annotations

import numpy as np

from ._config import njit
from .paths import dijkstra, work_arrays


@njit
def _turn(a, b, turn_ptr, turn_to, turn_loc):
    for i in range(turn_ptr[a], turn_ptr[a + 1]):
        if turn_to[i] == b:
            return turn_loc[i]
    return -1


@njit
def _emit(loc, k, w, n, rows, cols, vals):
    """Write triplet ``n`` when ``loc`` is a location and there is room; the count of triplets after it."""
    if loc < 0:
        return n
    if n < rows.shape[0]:
        rows[n] = loc
        cols[n] = k
        vals[n] = w
    return n + 1


@njit
def path_store_proportions(od_head, p_next, p_start, p_len, p_flow, p_links, od_demand, link_loc, turn_ptr,
                           turn_to, turn_loc, rows, cols, vals):
    """Fill ``rows/cols/vals`` with ``(loc, od, f_p / q_od)`` for every counted location on every path.

    Returns the number of triplets written, or ``-needed`` when the arrays are too short.
    """
    n = 0
    cap = rows.shape[0]
    for k in range(od_head.shape[0]):
        q = od_demand[k]
        if q <= 0.0:
            continue
        p = od_head[k]
        while p >= 0:
            f = p_flow[p]
            if f > 0.0:
                w = f / q
                s = p_start[p]
                prev = -1
                for i in range(s, s + p_len[p]):
                    a = p_links[i]
                    n = _emit(link_loc[a], k, w, n, rows, cols, vals)
                    if prev >= 0:
                        n = _emit(_turn(prev, a, turn_ptr, turn_to, turn_loc), k, w, n, rows, cols, vals)
                    prev = a
            p = p_next[p]
    return n if n <= cap else -n


@njit
def tree_proportions(indptr, tail, head, zone_count, origin_node, dest_nodes, costs, weights, link_loc, turn_ptr,
                     turn_to, turn_loc, block):
    """Location shares of one origin's OD pairs over a weighted set of shortest-path trees.

    ``costs`` is ``(K, E)``, one cost vector per all-or-nothing loading, ``weights`` its weight in the final
    flows; ``block`` is ``(len(dest_nodes), n_loc)`` and receives ``block[j, l] = sum_k w_k [the shortest
    path to dest_nodes[j] on costs[k] passes l]``. Destinations without a path are left at zero.
    """
    n = indptr.shape[0] - 1
    dist, pred, order, heap, pos = work_arrays(n)
    block[:, :] = 0.0
    for k in range(costs.shape[0]):
        w = weights[k]
        if w <= 0.0:
            continue
        dijkstra(indptr, head, costs[k], origin_node, zone_count, dist, pred, order, heap, pos)
        for j in range(dest_nodes.shape[0]):
            v = dest_nodes[j]
            if dist[v] == np.inf:
                continue
            nxt = -1
            while v != origin_node:
                a = pred[v]
                loc = link_loc[a]
                if loc >= 0:
                    block[j, loc] += w
                if nxt >= 0:
                    loc = _turn(a, nxt, turn_ptr, turn_to, turn_loc)
                    if loc >= 0:
                        block[j, loc] += w
                nxt = a
                v = tail[a]
