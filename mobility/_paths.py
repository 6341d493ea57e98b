"""Node-to-node shortest-path costs on a RoadNetwork through the numba kernels (forward, reverse, undirected),
and points along an edge for maps."""

from __future__ import annotations

import numpy as np

__all__ = ["costs_from", "costs_to", "edge_costs", "edge_point", "walking_costs"]


def _run(indptr: np.ndarray, head: np.ndarray, weight: np.ndarray, zone_count: int, sources: np.ndarray) -> np.ndarray:
    from numba_kernels.aon import shortest_costs

    out = np.empty((sources.size, indptr.size - 1))
    shortest_costs(indptr.astype(np.int32), head.astype(np.int32), np.ascontiguousarray(weight, dtype=np.float64),
                   zone_count, np.asarray(sources, dtype=np.int32), out)
    return out


def _csr(tail: np.ndarray, head: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(tail, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])
    return indptr, head[order], weight[order]


def _drive(network, weight: np.ndarray | None, vclass: str | None) -> np.ndarray:
    """Edge weights (``weight``, else length) with the edges ``vclass`` may not use at infinity."""
    from .access import allowed

    w = np.asarray(network.length if weight is None else weight, dtype=float)
    return w if vclass is None else np.where(allowed(network, vclass), w, np.inf)


def costs_from(network, origins: np.ndarray, weight: np.ndarray | None = None, *,
               vclass: str | None = "passenger") -> np.ndarray:
    """``(len(origins), nodes)``: cost of the shortest path from each origin node to every node, driving on
    the edges ``vclass`` may use (``None``: every edge); ``inf`` where no such path exists."""
    return _run(network.indptr, network.head, _drive(network, weight, vclass), network.zone_count, origins)


def costs_to(network, targets: np.ndarray, weight: np.ndarray | None = None, *,
             vclass: str | None = "passenger") -> np.ndarray:
    """``(len(targets), nodes)``: cost of the shortest path from every node to each target node, driving on
    the edges ``vclass`` may use (``None``: every edge); ``inf`` where no such path exists."""
    w = _drive(network, weight, vclass)
    indptr, head, wr = _csr(network.head, network.tail, np.asarray(w, dtype=float), network.n_nodes)
    return _run(indptr, head, wr, network.zone_count, targets)


def edge_costs(network, weight: np.ndarray | None = None, *, vclass: str = "passenger") -> np.ndarray:
    """``(edges, edges)``: cost of driving from the end of edge ``e`` to the end of edge ``f`` (the weights of
    the edges after ``e`` up to and including ``f``) by the turns ``vclass`` may make; ``inf`` where it cannot,
    0 on the diagonal."""
    from .access import turn_graph

    g = turn_graph(network, vclass).tocsr()
    w = np.asarray(network.length if weight is None else weight, dtype=float)
    return _run(g.indptr, g.indices, w[g.indices], 0, np.arange(network.n_edges))


def walking_costs(network, origins: np.ndarray) -> np.ndarray:
    """``(len(origins), nodes)``: walking distance (m) on the street graph taken both ways."""
    tail = np.concatenate([network.tail, network.head])
    head = np.concatenate([network.head, network.tail])
    w = np.concatenate([network.length, network.length]).astype(float)
    indptr, h, ww = _csr(tail, head, w, network.n_nodes)
    return _run(indptr, h, ww, 0, origins)


def edge_point(network, edge: str, pos: float, side_m: float = 0.0) -> tuple[float, float]:
    """Map coordinates ``pos`` metres along ``edge`` (along its shape when the network has shapes),
    ``side_m`` to the right of it (so kerbside sites on the two sides of a street stay apart on maps)."""
    e = network.edge_index[edge]
    if network.edge_shapes is not None:
        shape = np.asarray(network.edge_shapes[e], dtype=float)
    else:
        shape = np.array([[network.node_x[network.tail[e]], network.node_y[network.tail[e]]],
                          [network.node_x[network.head[e]], network.node_y[network.head[e]]]], dtype=float)
    seg = np.hypot(*np.diff(shape, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    f = min(max(pos / max(float(network.length[e]), 1e-9), 0.0), 1.0) * cum[-1]
    x, y = float(np.interp(f, cum, shape[:, 0])), float(np.interp(f, cum, shape[:, 1]))
    if side_m:
        k = min(int(np.searchsorted(cum, f, side="right")) - 1, len(seg) - 1)
        d = shape[k + 1] - shape[k]
        n = max(float(np.hypot(*d)), 1e-9)
        x, y = x + side_m * d[1] / n, y - side_m * d[0] / n
    return x, y
