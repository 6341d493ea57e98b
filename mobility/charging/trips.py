"""Round trips of an OD matrix on a road network, for the flow-refuelling models.

Paths come from the numba shortest-path kernels (one tree per origin, all origins in one parallel call);
each OD pair's path is turned into a :class:`optimise.RoundTrip` over the candidate sites it passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimise import RoundTrip, round_trip

from ..network import RoadNetwork

__all__ = ["od_round_trips"]


def od_round_trips(network: RoadNetwork, flows: np.ndarray, *, zone_nodes: Sequence[int] | np.ndarray | None = None,
                   site_nodes: Sequence[int] | np.ndarray | None = None, weight: str = "length",
                   symmetric: bool = True) -> tuple[list[RoundTrip], np.ndarray, np.ndarray]:
    """One round trip per OD pair with flow, on the shortest paths by ``weight``.

    Parameters
    ----------
    network : RoadNetwork
    flows : array (Z, Z)
        OD flows between zones (TNTP: zone ``i`` is node ``i``).
    zone_nodes : int array (Z,), optional
        Node index of each zone (default: node ``i`` for zone ``i``).
    site_nodes : int array (S,), optional
        Node index of each candidate site (default: every node, site ``k`` at node ``k``).
    weight : str
        Edge attribute measuring distance along a path (``length`` or ``free_flow_time``).
    symmetric : bool
        Count the pairs ``(i, j)`` and ``(j, i)`` as one round trip with their summed flow (Kuby & Lim's
        convention: a round trip from ``i`` to ``j`` and back is the same trip from either end).

    Returns
    -------
    trips : list of RoundTrip
    trip_flows : array (len(trips),)
    pairs : int array (len(trips), 2)
        Origin and destination zone of each trip.
    """
    from numba_kernels.aon import shortest_trees

    f = np.asarray(flows, dtype=float)
    z = f.shape[0]
    if f.shape != (z, z):
        raise ValueError(f"flows must be a square zone matrix, got shape {f.shape}")
    zn = np.arange(z) if zone_nodes is None else np.asarray(zone_nodes, dtype=np.int64)
    sn = np.arange(network.n_nodes) if site_nodes is None else np.asarray(site_nodes, dtype=np.int64)
    site_at = np.full(network.n_nodes, -1, dtype=np.int64)
    site_at[sn] = np.arange(sn.size)
    cost = np.ascontiguousarray(getattr(network, weight), dtype=np.float64)
    origins = np.ascontiguousarray(zn, dtype=np.int32)
    dist = np.empty((z, network.n_nodes))
    pred = np.empty((z, network.n_nodes), dtype=np.int32)
    shortest_trees(network.indptr, network.head, cost, network.zone_count, origins, dist, pred)
    g = f + f.T if symmetric else f
    trips, tf, pairs = [], [], []
    for i in range(z):
        for j in range(i + 1 if symmetric else 0, z):
            if i == j or g[i, j] <= 0:
                continue
            if not np.isfinite(dist[i, zn[j]]):
                raise ValueError(f"zone {j} cannot be reached from zone {i}; the OD pair has no path")
            nodes = [int(zn[j])]
            while pred[i, nodes[-1]] >= 0:
                nodes.append(int(network.tail[pred[i, nodes[-1]]]))
            nodes.reverse()
            pos = dist[i, nodes]
            trips.append(round_trip(site_at[nodes], pos, float(dist[i, zn[j]])))
            tf.append(g[i, j])
            pairs.append((i, j))
    return trips, np.asarray(tf), np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
