"""Routes for the dynamic traffic engine: the turn graph, shortest routes between edge sets, route tables.

Routes are sequences of edges; they are searched on the turn graph (one node per edge, one arc per permitted
turn), so SUMO's turn restrictions and vehicle classes hold, and a TNTP zone centroid is never passed through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from numba_kernels.paths import dijkstra, work_arrays

__all__ = ["RouteTable", "TurnGraph", "turn_graph_of", "shortest_routes"]


@dataclass(frozen=True)
class TurnGraph:
    """The turn graph of a network: ``succ[indptr[e]:indptr[e+1]]`` are the edges that may follow edge ``e``.

    Node ``E`` (one past the last edge) is a virtual origin whose arcs are set per search.
    """

    indptr: np.ndarray
    succ: np.ndarray
    n_edges: int


def turn_graph_of(network, vclass: str = "passenger") -> TurnGraph:
    """The turn graph of ``network`` for ``vclass`` (permitted turns; every edge leaving the head node when the
    network records none; no turn through a zone centroid).

    Parameters
    ----------
    network : RoadNetwork
    vclass : str
        SUMO vehicle class whose permitted edges and turns count.

    Returns
    -------
    TurnGraph
    """
    from .access import turn_graph

    m = turn_graph(network, vclass).tocsr()
    indptr = m.indptr.astype(np.int64)
    succ = m.indices.astype(np.int64)
    if network.zone_count:
        keep = np.repeat(network.head >= network.zone_count, np.diff(indptr))  # no through-trips over centroids
        succ = succ[keep]
        counts = np.diff(indptr) * (network.head >= network.zone_count)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return TurnGraph(indptr, succ, int(network.n_edges))


def shortest_routes(tg: TurnGraph, cost: np.ndarray, origins: Sequence[int], destinations: Sequence[Sequence[int]]
                    ) -> list[np.ndarray | None]:
    """Cheapest routes from any of the edges ``origins`` to any edge of each destination set.

    Parameters
    ----------
    tg : TurnGraph
    cost : array (E,), s
        Cost of driving each edge (entering it and reaching its end).
    origins : list of int
        Edges a route may start on.
    destinations : list of list of int
        For each destination, the edges a route may end on.

    Returns
    -------
    list of array or None
        Per destination, the route's edges (``None`` where unreachable).
    """
    E = tg.n_edges
    # graph: nodes 0..E-1 are edges, node E the virtual origin (arcs to the origin edges)
    indptr = np.concatenate([tg.indptr, [tg.indptr[-1] + len(origins)]]).astype(np.int32)
    head = np.concatenate([tg.succ, np.asarray(origins, dtype=np.int64)]).astype(np.int32)
    arc_cost = cost[head].astype(np.float64)  # entering an edge costs driving it
    dist, pred, order, heap, pos = work_arrays(E + 1)
    dijkstra(indptr, head, arc_cost, E, 0, dist, pred, order, heap, pos)
    src = np.concatenate([np.repeat(np.arange(E, dtype=np.int64), np.diff(tg.indptr)),
                          np.full(len(origins), E, dtype=np.int64)])
    out: list[np.ndarray | None] = []
    for dests in destinations:
        d = np.asarray(dests, dtype=np.int64)
        if d.size == 0 or not np.isfinite(dist[d]).any():
            out.append(None)
            continue
        v = int(d[np.argmin(dist[d])])
        edges = [v]
        while True:
            a = int(pred[v])
            if a < 0:
                break
            u = int(src[a])
            if u == E:
                break
            edges.append(u)
            v = u
        out.append(np.asarray(edges[::-1], dtype=np.int64))
    return out


class RouteTable:
    """Routes by origin-destination pair: ``routes[od]`` a list of edge arrays, with one global id each
    (``ids[od]``); ``pair[r]`` is route ``r``'s pair. Every route's edges are also kept in one growing buffer,
    so :meth:`csr` costs nothing."""

    def __init__(self) -> None:
        self.routes: list[list[np.ndarray]] = []
        self.ids: list[list[int]] = []
        self.all: list[np.ndarray] = []
        self.pair: list[int] = []
        self._index: dict[tuple[int, bytes], int] = {}
        self._links = np.empty(1024, dtype=np.int64)
        self._ptr: list[int] = [0]

    def find(self, od: int, edges: np.ndarray) -> int | None:
        """Global id of ``edges`` as a route of ``od``, or ``None``."""
        return self._index.get((od, np.asarray(edges, dtype=np.int64).tobytes()))

    def add(self, od: int, edges: np.ndarray) -> int:
        """Add ``edges`` as a route of ``od`` (if new); return its global id."""
        edges = np.asarray(edges, dtype=np.int64)
        while len(self.routes) <= od:
            self.routes.append([])
            self.ids.append([])
        key = (od, edges.tobytes())
        if key in self._index:
            return self._index[key]
        rid = len(self.all)
        self._index[key] = rid
        self.routes[od].append(edges)
        self.ids[od].append(rid)
        self.all.append(edges)
        self.pair.append(od)
        end = self._ptr[-1] + edges.size
        if end > self._links.size:
            grown = np.empty(max(2 * self._links.size, end), dtype=np.int64)
            grown[:self._ptr[-1]] = self._links[:self._ptr[-1]]
            self._links = grown
        self._links[self._ptr[-1]:end] = edges
        self._ptr.append(end)
        return rid

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """``(route_ptr, route_links)`` of every route, by global id."""
        return np.asarray(self._ptr, dtype=np.int64), self._links[:self._ptr[-1]]

    def pair_csr(self, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
        """``(pair_ptr, pair_routes)``: the routes of pair ``p`` are ``pair_routes[pair_ptr[p]:pair_ptr[p + 1]]``."""
        ids = self.ids + [[] for _ in range(n_pairs - len(self.ids))]
        counts = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n_pairs)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        routes = np.fromiter((r for x in ids for r in x), dtype=np.int64, count=int(ptr[-1]))
        return ptr, routes


def route_costs(routes: Sequence[np.ndarray] | tuple[np.ndarray, np.ndarray], depart_s: np.ndarray,
                link_tt: np.ndarray, t0: float, interval_s: float, free_tt: np.ndarray) -> np.ndarray:
    """Time-dependent travel time of each route for vehicles leaving at each of ``depart_s``: each edge costs what
    entering and driving it cost in the interval the vehicle comes to it (``link_tt``: the wait to get in plus
    the free-flow time; free-flow time where nobody came).

    Parameters
    ----------
    routes : list of array of int, or (ptr, links)
        The routes' edges, or the routes in CSR form.
    depart_s : array (K,), s
    link_tt : array (intervals, E), s
        Cost of entering and driving each edge, by the interval one comes to it.
    t0, interval_s : float, s
        Start and length of the intervals.
    free_tt : array (E,), s

    Returns
    -------
    array (K, routes), s
    """
    from numba_kernels.dnl import route_times

    if isinstance(routes, tuple):
        ptr, links = routes
    else:
        ptr = np.concatenate([[0], np.cumsum([len(r) for r in routes])]).astype(np.int64)
        links = np.concatenate(routes).astype(np.int64) if routes else np.zeros(0, dtype=np.int64)
    depart = np.atleast_1d(np.asarray(depart_s, dtype=np.float64))
    out = np.empty((depart.shape[0], ptr.shape[0] - 1))
    if out.size:
        route_times(ptr, links, depart, np.ascontiguousarray(link_tt, dtype=np.float64), float(t0),
                    float(interval_s), np.asarray(free_tt, dtype=np.float64), out)
    return out
