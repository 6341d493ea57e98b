"""One-to-all shortest paths on a CSR graph (Dijkstra with an indexed binary heap).

Graph arrays (as :class:`mobility.RoadNetwork` holds them): ``indptr`` (int32, N+1), ``head`` (int32, E),
``cost`` (float64, E, non-negative). Nodes ``0..zone_count-1`` are zone centroids: a path may start or
end at one but never pass through it (TNTP ``<FIRST THRU NODE>``).
"""

from __future__ import annotations

import numpy as np

from ._config import njit


@njit
def _sift_up(heap, pos, key, i):
    node = heap[i]
    k = key[node]
    while i > 0:
        parent = (i - 1) >> 1
        pn = heap[parent]
        if key[pn] <= k:
            break
        heap[i] = pn
        pos[pn] = i
        i = parent
    heap[i] = node
    pos[node] = i


@njit
def _sift_down(heap, pos, key, i, size):
    node = heap[i]
    k = key[node]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        cn = heap[child]
        right = child + 1
        if right < size and key[heap[right]] < key[cn]:
            child = right
            cn = heap[right]
        if key[cn] >= k:
            break
        heap[i] = cn
        pos[cn] = i
        i = child
    heap[i] = node
    pos[node] = i


@njit
def work_arrays(n):
    """``(dist, pred, order, heap, pos)`` work arrays for :func:`dijkstra` on ``n`` nodes."""
    return (np.empty(n), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32),
            np.empty(n, dtype=np.int32))


@njit
def dijkstra(indptr, head, cost, origin, zone_count, dist, pred, order, heap, pos):
    """Fill ``dist`` (cost from ``origin``), ``pred`` (edge into each node, -1 at the origin and for
    unreached nodes) and ``order`` (nodes in the order they were settled); return how many were settled.

    ``heap`` and ``pos`` are int32 work arrays of length N. Ties are broken by settling order, so the
    tree is deterministic. Zones other than the origin are leaves: they take their distance from the
    edges into them but never enter the heap (on TNTP networks this skips up to half of the heap work),
    and they come last in ``order``.
    """
    n = indptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        pred[i] = -1
        pos[i] = -1  # -1 never queued, -2 settled, >=0 index in heap
    dist[origin] = 0.0
    heap[0] = origin
    pos[origin] = 0
    size = 1
    settled = 0
    while size > 0:
        u = heap[0]
        size -= 1
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _sift_down(heap, pos, dist, 0, size)
        pos[u] = -2
        order[settled] = u
        settled += 1
        if u < zone_count and u != origin:
            continue  # zones are path ends, never through-nodes
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            pv = pos[v]
            if pv == -2:
                continue
            nd = du + cost[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = e
                if v < zone_count:
                    continue  # a zone is a leaf: it never needs the heap, it is settled below
                if pv == -1:
                    heap[size] = v
                    pos[v] = size
                    size += 1
                    _sift_up(heap, pos, dist, size - 1)
                else:
                    _sift_up(heap, pos, dist, pv)
    for v in range(zone_count):  # reached zones other than the origin: leaves, so last in the order
        if v != origin and pos[v] == -1 and dist[v] < np.inf:
            pos[v] = -2
            order[settled] = v
            settled += 1
    return settled


def shortest_path_tree(indptr, head, cost, origin, zone_count=0):
    """Shortest-path tree from ``origin``: ``(dist, pred)`` arrays (``pred`` holds the edge into each node)."""
    indptr = np.ascontiguousarray(indptr, dtype=np.int32)
    head = np.ascontiguousarray(head, dtype=np.int32)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    n = indptr.shape[0] - 1
    if cost.shape != head.shape:
        raise ValueError(f"cost has {cost.shape[0]} entries but the graph has {head.shape[0]} edges")
    if not 0 <= origin < n:
        raise ValueError(f"origin {origin} outside 0..{n - 1}")
    if cost.size and (not np.all(np.isfinite(cost)) or cost.min() < 0):
        raise ValueError("Dijkstra needs finite, non-negative edge costs")
    dist, pred, order, heap, pos = work_arrays(n)
    dijkstra(indptr, head, cost, int(origin), int(zone_count), dist, pred, order, heap, pos)
    return dist, pred


def path_edges(pred, tail, target):
    """Edges of the tree path ending at ``target``, first to last (empty at the origin or if unreached)."""
    out = []
    v = int(target)
    while pred[v] >= 0:
        e = int(pred[v])
        out.append(e)
        v = int(tail[e])
    return np.asarray(out[::-1], dtype=np.int64)
