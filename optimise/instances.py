"""Generated location instances: capacitated ones in the style of Cornuejols, Sridharan & Thizy (1991) and
city-scale p-median / maximal covering ones on a generated street grid.

Both are drawn from a seed, so a test or benchmark regenerates the same instance instead of storing it; the
optima recorded for them live in ``benchmarks/data/location_optima.json``
(``benchmarks/record_location_optima.py`` writes it with long plain MIP runs).

- :func:`cst_instance`: ``m`` sites and ``n`` customers uniform in the unit square; demand ``U[5, 35]``;
  capacities ``U[10, 160]`` then scaled so that total capacity is ``ratio`` times total demand; fixed cost
  ``U[0, 90] + U[100, 110] * sqrt(capacity)`` on the capacity as drawn (before scaling); serving all of customer ``j`` from
  site ``i`` costs ``10 * distance * demand_j`` (OR-Library's convention, as :func:`~optimise.capacitated_facility_location`
  takes it).
- :func:`city_instance`: a ``side x side`` street grid (about 100 m blocks, a share of streets missing, speeds
  varying by street), demand at every node, candidate sites at ``m`` nodes drawn from it; costs are
  network distances in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CapacitatedInstance", "CityInstance", "city_instance", "cst_instance"]


@dataclass(frozen=True)
class CapacitatedInstance:
    """A capacitated facility location instance.

    Attributes
    ----------
    name : str
    cost : array (sites, customers)
        Cost of serving all of a customer's demand from a site.
    demand : array (customers,)
    capacity : array (sites,)
    fixed_cost : array (sites,)
    """

    name: str
    cost: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    fixed_cost: np.ndarray


def cst_instance(m: int, n: int, ratio: float, seed: int) -> CapacitatedInstance:
    """A capacitated instance in the style of Cornuejols, Sridharan & Thizy (1991).

    Parameters
    ----------
    m : int
        Candidate sites.
    n : int
        Customers.
    ratio : float
        Total capacity over total demand (CST use 3, 5, 10); at least 1.
    seed : int
        Random seed; the same arguments give the same instance.

    Returns
    -------
    CapacitatedInstance
        Named ``cst{m}x{n}-r{ratio}-s{seed}``.
    """
    if m < 1 or n < 1:
        raise ValueError(f"need at least one site and one customer, got m={m}, n={n}")
    if not ratio >= 1.0:
        raise ValueError(f"ratio (total capacity / total demand) must be at least 1, got {ratio}")
    rng = np.random.default_rng(seed)
    sites = rng.random((m, 2))
    customers = rng.random((n, 2))
    demand = rng.uniform(5.0, 35.0, n)
    capacity = rng.uniform(10.0, 160.0, m)
    fixed = rng.uniform(0.0, 90.0, m) + rng.uniform(100.0, 110.0, m) * np.sqrt(capacity)
    capacity *= ratio * demand.sum() / capacity.sum()
    dist = np.sqrt(((sites[:, None, :] - customers[None, :, :]) ** 2).sum(axis=2))
    cost = 10.0 * dist * demand[None, :]
    name = f"cst{m}x{n}-r{ratio:g}-s{seed}"
    return CapacitatedInstance(name, cost, demand, capacity, fixed)


@dataclass(frozen=True)
class CityInstance:
    """Demand at the nodes of a generated street grid and candidate sites at some of them.

    Attributes
    ----------
    name : str
    cost : array (demand points, sites)
        Network distance, m (``inf`` where a node cannot reach a site).
    weights : array (demand points,)
        Demand at each node (trips ending there per hour).
    xy : array (nodes, 2)
        Node coordinates, m.
    site_nodes : array (sites,)
        The node of each candidate site.
    """

    name: str
    cost: np.ndarray
    weights: np.ndarray
    xy: np.ndarray
    site_nodes: np.ndarray


def city_instance(side: int = 100, m: int = 1000, seed: int = 0, *, block_m: float = 100.0,
                  missing: float = 0.1) -> CityInstance:
    """A city-scale location instance: a ``side x side`` street grid with demand at every node.

    Parameters
    ----------
    side : int
        Nodes per side (``side**2`` demand points; 100 gives 10,000).
    m : int
        Candidate sites, drawn among the nodes without repetition.
    seed : int
        Random seed; the same arguments give the same instance.
    block_m : float
        Mean block length, m; node positions are jittered by up to a quarter of it.
    missing : float
        Share of grid streets left out (the grid stays connected: a street is only removed where both its
        ends keep another street).
    Returns
    -------
    CityInstance
        Costs are shortest-path lengths in metres from every node to every site (streets two-way); demand is
        heavier towards the centre (a gentle density gradient plus noise), as in a city.
    """
    from numba_kernels.aon import shortest_costs

    if side < 2 or not 1 <= m <= side * side:
        raise ValueError(f"need side >= 2 and 1 <= m <= side^2, got side={side}, m={m}")
    if not 0.0 <= missing < 0.5:
        raise ValueError(f"missing must be in [0, 0.5), got {missing}")
    rng = np.random.default_rng(seed)
    nn = side * side
    gx, gy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1) * block_m
    xy = xy + rng.uniform(-0.25, 0.25, (nn, 2)) * block_m
    node = np.arange(nn).reshape(side, side)
    a = np.concatenate([node[:-1, :].ravel(), node[:, :-1].ravel()])
    b = np.concatenate([node[1:, :].ravel(), node[:, 1:].ravel()])
    degree = np.bincount(np.concatenate([a, b]), minlength=nn)
    keep = np.ones(len(a), dtype=bool)
    for e in rng.permutation(len(a))[: int(missing * len(a))]:
        if degree[a[e]] > 2 and degree[b[e]] > 2:
            keep[e] = False
            degree[a[e]] -= 1
            degree[b[e]] -= 1
    a, b = a[keep], b[keep]
    length = np.hypot(*(xy[a] - xy[b]).T)
    # detour factor of the street (1 to 1.3): the network distance is not the straight line
    length = length * rng.uniform(1.0, 1.3, len(a))
    tail = np.concatenate([a, b]).astype(np.int32)
    head = np.concatenate([b, a]).astype(np.int32)
    cost = np.concatenate([length, length])
    order = np.argsort(tail, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    indptr = np.zeros(nn + 1, dtype=np.int32)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr).astype(np.int32)
    site_nodes = np.sort(rng.choice(nn, m, replace=False)).astype(np.int32)
    out = np.full((m, nn), np.inf)
    shortest_costs(indptr, head, cost, 0, site_nodes, out)  # two-way streets: site -> node = node -> site
    centre = xy.mean(axis=0)
    r = np.hypot(*(xy - centre).T) / (side * block_m / 2.0)
    weights = np.round(rng.gamma(2.0, 1.0, nn) * (2.0 - np.minimum(r, 1.0)) * 5.0, 1)
    name = f"city{side}x{side}-m{m}-s{seed}"
    return CityInstance(name, np.ascontiguousarray(out.T), weights, xy, site_nodes)

