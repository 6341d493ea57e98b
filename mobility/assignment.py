"""Static user-equilibrium traffic assignment on a :class:`RoadNetwork` (numba kernels underneath).

>>> net = mb.network_from_tntp("SiouxFalls_net.tntp")        # doctest: +SKIP
>>> ds = mb.assign(net, mb.od_from_tntp("SiouxFalls_trips.tntp"), rgap=1e-8)   # doctest: +SKIP
>>> ds.flow.to_series().head()                                # doctest: +SKIP

Link costs are BPR functions ``t = fft * (1 + b (x / capacity) ** power)`` plus the network's
flow-independent generalized-cost term ``toll_weight * toll + distance_weight * length``. TNTP networks carry
``b`` and ``power`` per link; other networks use ``b=0.15, power=4`` unless given.

The relative gap is ``(TSTT - SPTT) / TSTT`` where ``TSTT = sum_a x_a c_a`` (total generalized cost at
the current flows) and ``SPTT = sum_od q_od * shortest path cost`` at the same costs; it is 0 exactly at
user equilibrium. The Beckmann objective is ``sum_a integral_0^x_a c_a(w) dw``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ._errors import DemandError, InputError
from .network import RoadNetwork
from .tntp import ODMatrix

METHODS = {
    "gp": "path-based gradient projection (Jayakrishnan et al. 1994), Gauss-Seidel over origins",
    "bfw": "bi-conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013), exact line search",
    "cfw": "conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013), exact line search",
    "fw": "Frank-Wolfe, exact line search",
}
GAP_DEFINITION = "(TSTT - SPTT) / TSTT with generalized costs"


def _problem(network: RoadNetwork, demand: ODMatrix, b: float | None, power: float | None):
    from numba_kernels.equilibrium import AssignmentProblem

    if not isinstance(network, RoadNetwork):
        raise InputError(f"network must be a RoadNetwork, got {type(network).__name__}")
    if not isinstance(demand, ODMatrix):
        raise InputError(f"demand must be an ODMatrix (see mobility.od_from_tntp), got {type(demand).__name__}")
    index = network.node_index
    missing = [z for z in demand.zone_ids if str(z) not in index]
    if missing:
        raise DemandError(f"{len(missing)} zone(s) of the OD matrix are not nodes of network {network.name!r}, "
                          f"first {missing[0]!r}; zone ids must be the network's node ids")
    zone_node = np.array([index[str(z)] for z in demand.zone_ids], dtype=np.int32)
    E = network.n_edges
    bb = network.extra.get("b") if b is None else None
    pp = network.extra.get("power") if power is None else None
    b_arr = np.full(E, 0.15 if b is None else b) if bb is None else np.asarray(bb, dtype=np.float64)
    p_arr = np.full(E, 4.0 if power is None else power) if pp is None else np.asarray(pp, dtype=np.float64)
    fixed = network.generalized_cost(np.zeros(E))
    try:
        return AssignmentProblem.build(network.indptr, network.tail, network.head, zone_node, demand.flows,
                                       network.free_flow_time, network.capacity, b_arr, p_arr, fixed,
                                       network.zone_count), zone_node
    except ValueError as exc:
        raise InputError(_name_link(str(exc), network)) from None


def _name_link(msg: str, network: RoadNetwork) -> str:
    if msg.startswith("link "):
        e = int(msg.split()[1].rstrip(":"))
        return (f"{network.name}: edge {network.edge_ids[e]} ({network.node_ids[network.tail[e]]} -> "
                f"{network.node_ids[network.head[e]]}){msg[len(f'link {e}'):]}")
    return f"{network.name}: {msg}"


def assign(
    network: RoadNetwork,
    demand: ODMatrix,
    *,
    method: str = "gp",
    rgap: float = 1e-6,
    max_iter: int | None = None,
    threads: int | None = None,
    b: float | None = None,
    power: float | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> xr.Dataset:
    """User-equilibrium assignment of ``demand`` on ``network``.

    Parameters
    ----------
    network : RoadNetwork
        The road network, with capacities and free-flow times (BPR link costs).
    demand : ODMatrix
        Trips per hour between zones (the network's zone node ids).
    method : {"gp", "bfw", "cfw", "fw"}
        ``gp`` (default) reaches very small gaps fast; the Frank-Wolfe family is there for comparison.
    rgap : float
        Stop at this relative gap (see the module docstring for the definition).
    max_iter : int, optional
        Iteration cap (default 500 for ``gp``, 10000 otherwise); the result says whether it converged.
    threads : int, optional
        Threads for the all-or-nothing kernel (default: numba's setting, all cores).
    b, power : float, optional
        BPR parameters for networks that do not carry their own (TNTP networks do).
    progress : callable, optional
        ``progress(iteration, rgap, objective)`` after every iteration.

    Returns
    -------
    xarray.Dataset
        ``flow`` (veh/h, the demand's units per hour), ``cost``, ``travel_time``, ``volume_capacity`` on
        ``edge`` (coordinates ``from_node``/``to_node`` hold the network's node ids); ``rgap``,
        ``objective`` and ``seconds`` on ``iteration``; attrs ``rgap``, ``objective`` (Beckmann), ``method``,
        ``converged``, ``iterations`` and provenance.
    """
    import numba

    from numba_kernels.equilibrium import UnreachableDemand, solve

    if method not in METHODS:
        raise InputError(f"unknown assignment method {method!r}; choose one of {', '.join(METHODS)}")
    if not (isinstance(rgap, (int, float)) and rgap > 0):
        raise InputError(f"rgap must be a positive number, got {rgap!r}")
    between = np.asarray(demand.flows, dtype=np.float64).copy()
    np.fill_diagonal(between, 0.0)
    if not (between > 0).any():
        raise DemandError(f"the demand matrix holds no trips between distinct zones ({len(demand.zone_ids)} zones, "
                          f"{demand.total:g} trips in all, intra-zonal ones are not loaded); give an OD matrix with "
                          "flow between zones")
    problem, _ = _problem(network, demand, b, power)
    old = numba.get_num_threads()
    if threads is not None:
        if not 1 <= int(threads) <= numba.config.NUMBA_NUM_THREADS:
            raise InputError(f"threads must be in 1..{numba.config.NUMBA_NUM_THREADS}, got {threads}")
        numba.set_num_threads(int(threads))
    try:
        res = solve(problem, method, rgap=float(rgap), max_iter=max_iter, callback=progress)
    except UnreachableDemand as exc:
        o, d = exc.pairs[0]
        raise DemandError(f"{network.name}: {len(exc.pairs)} OD pair(s) with demand have no path, first zone "
                          f"{demand.zone_ids[o]} -> {demand.zone_ids[d]} ({demand.flows[o, d]:g} trips); check "
                          "one-way edges and zone connectors") from None
    finally:
        numba.set_num_threads(old)
    return _dataset(network, demand, problem, res, threads or old)


def _dataset(network: RoadNetwork, demand: ODMatrix, problem: Any, res: Any, threads: int) -> xr.Dataset:
    from .provenance import stamp

    fft = problem.free_flow_time
    time_ = res.cost - problem.fixed
    vc = np.divide(res.flow, problem.capacity, out=np.full(res.flow.shape, np.nan), where=problem.capacity > 0)
    tu = network.units.get("free_flow_time", "")
    edge = {"edge": np.asarray(network.edge_ids, dtype=str)}
    coords = {
        **edge,
        "from_node": ("edge", np.asarray(network.node_ids[network.tail], dtype=str)),
        "to_node": ("edge", np.asarray(network.node_ids[network.head], dtype=str)),
        "iteration": np.asarray(res.history["iteration"], dtype=np.int64),
    }

    def var(values: np.ndarray, dims: str, units: str, long_name: str) -> xr.Variable:
        return xr.Variable((dims,), values, {"units": units, "long_name": long_name})

    data = {
        "flow": var(res.flow, "edge", "veh/h", "equilibrium link flow"),
        "cost": var(res.cost, "edge", f"{tu} (generalized)", "generalized link cost at equilibrium"),
        "travel_time": var(time_, "edge", tu, "BPR travel time at equilibrium"),
        "free_flow_time": var(fft, "edge", tu, "free-flow travel time"),
        "capacity": var(problem.capacity, "edge", "veh/h", "link capacity"),
        "volume_capacity": var(vc, "edge", "1", "flow / capacity"),
        "rgap": var(np.asarray(res.history["rgap"]), "iteration", "1", "relative gap " + GAP_DEFINITION),
        "objective": var(np.asarray(res.history["objective"]), "iteration", "", "Beckmann objective"),
        "seconds": var(np.asarray(res.history["seconds"]), "iteration", "s", "wall time since the start"),
    }
    tstt = float(np.dot(res.flow, res.cost))
    attrs = {
        "title": f"user-equilibrium assignment of {network.name}",
        "method": res.method,
        "method_description": METHODS[res.method],
        "rgap": float(res.rgap),
        "rgap_definition": GAP_DEFINITION,
        "objective": float(res.objective),
        "tstt": tstt,
        "converged": int(res.converged),
        "iterations": int(res.iterations),
        "seconds": float(res.seconds),
        "threads": int(threads),
        "paths": int(res.paths),
        "cost_function": "BPR: fft * (1 + b (x/capacity)^power) + toll_weight*toll + distance_weight*length",
        "toll_weight": float(network.toll_weight),
        "distance_weight": float(network.distance_weight),
        "network": network.name,
        "network_source": str(network.source),
        "zones": int(len(demand.zone_ids)),
        "demand_total": float(demand.total),
    }
    return stamp(xr.Dataset(data, coords=coords, attrs=attrs), sumo=False)


def compare_flows(ds: xr.Dataset, from_node: np.ndarray, to_node: np.ndarray, volume: np.ndarray) -> dict[str, float]:
    """Compare an assignment with reference link volumes keyed by end nodes (e.g. a TNTP ``*_flow.tntp``).

    Returns the largest and mean absolute difference; parallel links are compared as their sum.

    Parameters
    ----------
    ds : xarray.Dataset
        An assignment's results (:func:`mobility.assign`).
    from_node, to_node : array of int
        End nodes of the reference links (the source's node numbers).
    volume : array of float
        Reference volumes.

    Returns
    -------
    dict of str to float
        ``max_abs_diff``, ``mean_abs_diff`` (volume units) and ``links`` compared.
    """
    ours: dict[tuple[str, str], float] = {}
    for f, t, x in zip(ds.from_node.values, ds.to_node.values, ds.flow.values):
        ours[(str(f), str(t))] = ours.get((str(f), str(t)), 0.0) + float(x)
    ref: dict[tuple[str, str], float] = {}
    for f, t, x in zip(from_node, to_node, volume):
        ref[(str(f), str(t))] = ref.get((str(f), str(t)), 0.0) + float(x)
    if set(ours) != set(ref):
        extra = sorted(set(ours) ^ set(ref))[:3]
        raise InputError(f"the reference links do not match the network's (first differences: {extra})")
    diff = np.array([abs(ours[k] - ref[k]) for k in ref])
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "links": int(diff.size)}

