"""Origin-destination matrix estimation from counts on the toolkit's own equilibrium assignment.

For each counting period the estimator solves the bi-level problem

    min_q  1/2 sum_l (v_l(q) - c_l)^2 / max(c_l, 1)  +  mu/2 sum_od (q_od - s_od)^2 / max(s_od, floor)
    s.t.   q >= 0,  v(q) = the user-equilibrium link (or turn) flows of q

by the iterative linearisation of Yang et al. (1992): assign ``q`` to equilibrium (``gp`` or ``bfw``), read
off the shares ``P[l, od]`` of each OD pair's trips that pass each counted location (gp: its paths; bfw: the
weighted shortest-path trees its flows are made of, :mod:`numba_kernels.odme`), solve the convex problem with
``v = P q`` held fixed (semismooth Newton on its dual, one variable per count), and step towards its
solution, halving the step until the true objective (re-assigned) goes down. The first term is close to the sum of squared GEH values; the second
keeps ``q`` near the seed matrix ``s`` where the counts do not decide it (``mu`` = ``regularisation``). Where
costs do not depend on flows the linearisation is exact and one step reaches the optimum.

Without a seed the start is uniform over every connected zone pair, scaled to the counts, and the
regularisation pulls towards that uniform matrix.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._errors import InputError
from ..network import RoadNetwork
from ..tntp import ODMatrix
from .counts import Counts, CountsError
from .fit import fit_dataset

__all__ = ["estimate_od", "od_matrix", "ODME_METHODS"]

ODME_METHODS = ("gp", "bfw")
#: demand given to the assignment on a pair the estimate holds at zero, veh/h (keeps its paths alive)
_ALIVE = 1e-6


@dataclass(frozen=True)
class _Locations:
    names: list[str]
    link_loc: np.ndarray
    turn_ptr: np.ndarray
    turn_to: np.ndarray
    turn_loc: np.ndarray


def _locations(network: RoadNetwork, counts: Counts) -> tuple[_Locations, np.ndarray]:
    """Count locations as kernel arrays, and each count row's location index."""
    index = network.edge_index
    names = counts.locations
    loc_of = {n: i for i, n in enumerate(names)}
    link_loc = np.full(network.n_edges, -1, dtype=np.int32)
    turns: dict[int, list[tuple[int, int]]] = {}
    first: dict[int, str] = {}
    for name, kind, edges, src in zip(counts.location, counts.kind, counts.edges, counts.source, strict=True):
        missing = [e for e in edges if e not in index]
        if missing:
            raise CountsError(f"{src}: location {name!r}: edge {missing[0]!r} is not in network {network.name!r}")
        l = loc_of[name]
        if kind == "turn":
            a, b = index[edges[0]], index[edges[1]]
            if (b, l) not in turns.setdefault(a, []):
                turns[a].append((b, l))
            continue
        a = index[edges[0]]
        if link_loc[a] >= 0 and link_loc[a] != l:
            raise CountsError(f"{src}: location {name!r} counts edge {edges[0]!r}, which location {first[a]!r} "
                              "counts too; keep one count per edge and interval")
        link_loc[a] = l
        first[a] = name
    ptr = np.zeros(network.n_edges + 1, dtype=np.int64)
    for a, lst in turns.items():
        ptr[a + 1] = len(lst)
    ptr = np.cumsum(ptr)
    to = np.zeros(int(ptr[-1]), dtype=np.int32)
    tl = np.zeros(int(ptr[-1]), dtype=np.int32)
    for a, lst in turns.items():
        for j, (b, l) in enumerate(lst):
            to[ptr[a] + j] = b
            tl[ptr[a] + j] = l
    row_loc = np.array([loc_of[n] for n in counts.location], dtype=np.int64)
    return _Locations(names, link_loc, ptr, to, tl), row_loc


def _proportions(problem: Any, result: Any, locs: _Locations, pair_o: np.ndarray, pair_d: np.ndarray) -> Any:
    """``P`` (locations x variables, scipy CSR) of the assignment ``result``."""
    import scipy.sparse as sp

    from numba_kernels import odme
    from numba_kernels.equilibrium import od_pairs

    Z = problem.zone_node.shape[0]
    var = np.full((Z, Z), -1, dtype=np.int64)
    var[pair_o, pair_d] = np.arange(pair_o.size)
    n_loc = len(locs.names)
    if result.store is not None:
        st = result.store
        od_ptr, od_dest, od_demand = od_pairs(problem.demand)
        od_origin = np.repeat(np.arange(Z), np.diff(od_ptr))
        cap = max(1024, 4 * n_loc * 8)
        while True:
            rows = np.empty(cap, dtype=np.int64)
            cols = np.empty(cap, dtype=np.int64)
            vals = np.empty(cap)
            n = odme.path_store_proportions(st.od_head, st.p_next, st.p_start, st.p_len, st.p_flow, st.p_links,
                                            od_demand, locs.link_loc, locs.turn_ptr, locs.turn_to, locs.turn_loc,
                                            rows, cols, vals)
            if n >= 0:
                break
            cap = -n
        cols = var[od_origin[cols[:n]], od_dest[cols[:n]]]
        keep = cols >= 0
        return sp.csr_matrix((vals[:n][keep], (rows[:n][keep], cols[keep])), shape=(n_loc, pair_o.size))
    costs, weights = result.directions
    R, C, V = [], [], []
    order = np.argsort(pair_o, kind="stable")
    starts = np.searchsorted(pair_o[order], np.arange(Z + 1))
    for o in range(Z):
        idx = order[starts[o]:starts[o + 1]]
        if idx.size == 0:
            continue
        block = np.empty((idx.size, n_loc))
        odme.tree_proportions(problem.indptr, problem.tail, problem.head, problem.zone_count,
                              int(problem.zone_node[o]), problem.zone_node[pair_d[idx]].astype(np.int32), costs,
                              weights, locs.link_loc, locs.turn_ptr, locs.turn_to, locs.turn_loc, block)
        j, l = np.nonzero(block)
        R.append(l)
        C.append(idx[j])
        V.append(block[j, l])
    cat = lambda x, dt: np.concatenate(x).astype(dt) if x else np.zeros(0, dt)  # noqa: E731
    return sp.csr_matrix((cat(V, float), (cat(R, np.int64), cat(C, np.int64))), shape=(n_loc, pair_o.size))


def _qp(A: Any, c: np.ndarray, w: np.ndarray, target: np.ndarray, reg_w: np.ndarray, tol: float = 1e-10,
        max_iter: int = 60) -> np.ndarray:
    """argmin_{q >= 0} 1/2 sum w (A q - c)^2 + 1/2 sum r (q - t)^2, by semismooth Newton on its dual.

    The dual has one variable per count (not per OD pair): ``q(lam) = max(0, t - A'lam / r)`` and the
    dual gradient is ``A q(lam) - c - lam / w``; each Newton step solves ``(A_F diag(1/r_F) A_F' + diag(1/w))
    d = gradient`` over the pairs ``F`` with ``q > 0``, a count-by-count system, with a backtracking line
    search on the (concave) dual. ``r`` must be positive.
    """
    import scipy.linalg as sla

    At = A.T.tocsr()
    winv = 1.0 / w
    lam = np.zeros(c.shape[0])

    def state(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        z = target - (At @ lam) / reg_w
        q = np.maximum(z, 0.0)
        Aq = A @ q
        dq = q - target
        g = -0.5 * float(lam @ (winv * lam)) - float(lam @ c) + 0.5 * float(dq @ (reg_w * dq)) + float(lam @ Aq)
        return z, q, Aq - c - winv * lam, g

    z, q, grad, g = state(lam)
    scale = float(np.linalg.norm(c)) + 1.0
    for _ in range(max_iter):
        if float(np.linalg.norm(grad)) <= tol * scale:
            break
        F = (z > 0).astype(float) / reg_w
        M = (A.multiply(F[None, :]) @ At).toarray()
        M[np.diag_indices_from(M)] += winv
        try:
            d = sla.solve(M, grad, assume_a="pos")
        except (sla.LinAlgError, ValueError):
            d = np.linalg.lstsq(M, grad, rcond=None)[0]
        step, slope = 1.0, float(grad @ d)
        while step > 1e-8:
            z1, q1, grad1, g1 = state(lam + step * d)
            if g1 >= g + 1e-4 * step * slope:
                break
            step *= 0.5
        lam, z, q, grad, g = lam + step * d, z1, q1, grad1, g1
    return q


def estimate_od(network: RoadNetwork, counts: Counts, seed: ODMatrix | None = None, *, method: str = "gp",
                regularisation: float = 0.01, rgap: float = 1e-5, max_outer: int = 12, tol: float = 1e-3,
                holdout: float = 0.0, holdout_seed: int = 0, b: float | None = None, power: float | None = None,
                progress: Callable[[str], None] | None = None) -> xr.Dataset:
    """Estimate an OD matrix per counting period whose equilibrium flows fit ``counts``.

    Parameters
    ----------
    network : RoadNetwork
        A network with zones (TNTP): the matrix is zone to zone, zone ids = node ids.
    counts : Counts
        Edge and turn counts; each distinct interval is a period, estimated on its own (flows per hour).
    seed : ODMatrix, optional
        The prior matrix (veh/h); its zero pairs stay zero. Without one, every connected pair starts equal.
    method : {"gp", "bfw"}
        The assignment the estimate is consistent with.
    regularisation : float
        ``mu``: weight of the pull towards the seed against the fit to counts (> 0; small values fit the counts closer).
    rgap : float
        Relative gap each equilibrium assignment inside the estimate is solved to.
    max_outer : int
        Most outer iterations (a fit to counts, then an assignment) per period.
    tol : float
        Stop when an outer iteration improves the objective by less than this share.
    holdout, holdout_seed : float, int
        Share of the locations the fit never sees, drawn by the seed; reported apart.
    b, power : float, optional
        BPR parameters for networks that do not carry their own (TNTP networks do).
    progress : callable, optional
        ``progress(message)`` after each outer iteration.

    Returns
    -------
    xarray.Dataset
        ``demand`` and ``seed_demand`` (period, origin, destination; veh/h), the fit per count (dim ``count``:
        ``observed``, ``modelled``, ``geh``, ``fitted``), ``objective`` and ``assign_rgap`` per period and
        outer iteration; fit figures and provenance in the attributes.
    """
    from numba_kernels.equilibrium import solve

    from ..assignment import _problem
    from ..provenance import stamp

    if method not in ODME_METHODS:
        raise InputError(f"unknown ODME assignment method {method!r}; choose one of {', '.join(ODME_METHODS)}")
    if not (np.isfinite(regularisation) and regularisation > 0):
        raise InputError(f"regularisation must be a number > 0 (small values fit the counts closer), got {regularisation!r}")
    if network.zone_count == 0 and seed is None:
        raise InputError(f"network {network.name!r} has no zones; give a seed matrix whose zone ids are node ids")
    zones = seed.zone_ids if seed is not None else np.array(network.node_ids[:network.zone_count])
    Z = len(zones)
    base = seed.flows.copy() if seed is not None else np.ones((Z, Z))
    np.fill_diagonal(base, 0.0)
    fit_counts, _ = counts.split(holdout, holdout_seed) if holdout > 0 else (counts, None)
    fitted_set = set(fit_counts.locations)
    locs, row_loc = _locations(network, counts)
    periods = counts.intervals
    say = progress or (lambda _msg: None)

    problem0, _ = _problem(network, ODMatrix(np.asarray(zones), base), b, power)
    reach = _connected(problem0, base > 0)
    pair_o, pair_d = np.nonzero(reach)
    out_demand = np.zeros((len(periods), Z, Z))
    seed_demand = np.zeros_like(out_demand)
    modelled = np.full(len(counts), np.nan)
    hist: list[list[tuple[float, float]]] = []
    t0 = time.perf_counter()
    for pi, (pb, pe) in enumerate(periods):
        rows = np.flatnonzero((counts.begin_s == pb) & (counts.end_s == pe))
        fit_rows = np.array([r for r in rows if counts.location[r] in fitted_set], dtype=np.int64)
        if fit_rows.size == 0:
            raise CountsError(f"period [{pb:g}, {pe:g}) s: every count of it is held out; lower --holdout")
        c = counts.flow_veh_h[fit_rows]
        share = counts.lane_share[fit_rows]
        w = 1.0 / np.maximum(c, 1.0)
        prior = base[pair_o, pair_d].copy()

        warm: list[Any] = [None]  # gp's paths, carried from one assignment to the next

        def run(q: np.ndarray) -> tuple[Any, Any]:
            dem = np.zeros((Z, Z))
            dem[pair_o, pair_d] = np.maximum(q, _ALIVE)
            pr = dataclasses.replace(problem0, demand=dem)
            res = solve(pr, method, rgap=rgap, keep=True, warm=warm[0])
            if res.store is not None:
                warm[0] = res.store
            return res, _proportions(pr, res, locs, pair_o, pair_d)

        q = prior.copy()
        res, P = run(q)
        A = P[row_loc[fit_rows]].multiply(share[:, None]).tocsr()
        if seed is None:  # scale the uniform start to the counts (least squares on the weighted residual)
            m = A @ q
            alpha = float(np.sum(w * m * c) / max(np.sum(w * m * m), 1e-300))
            prior *= alpha
            q = prior.copy()
            res, P = run(q)
            A = P[row_loc[fit_rows]].multiply(share[:, None]).tocsr()
        floor = max(float(prior[prior > 0].mean()) * 1e-2, 1e-6) if (prior > 0).any() else 1.0
        reg_w = regularisation / np.maximum(prior, floor)

        def objective(q: np.ndarray, A: Any) -> float:
            r = A @ q - c
            dq = q - prior
            return 0.5 * float(np.sum(w * r * r)) + 0.5 * float(np.sum(reg_w * dq * dq))

        obj = objective(q, A)
        h = [(obj, res.rgap)]
        for it in range(1, max_outer + 1):
            target = _qp(A, c, w, prior, reg_w)
            accepted = False
            for theta in (1.0, 0.5, 0.25, 0.125):
                qt = q + theta * (target - q)
                res_t, P_t = run(qt)
                A_t = P_t[row_loc[fit_rows]].multiply(share[:, None]).tocsr()
                obj_t = objective(qt, A_t)
                if obj_t < obj:
                    accepted = True
                    break
            if not accepted:
                break
            rel = (obj - obj_t) / max(obj, 1e-300)
            q, res, P, A, obj = qt, res_t, P_t, A_t, obj_t
            h.append((obj, res.rgap))
            say(f"period [{pb:g}, {pe:g}) s: iteration {it}, objective {obj:.6g}, assignment gap {res.rgap:.1e}")
            if rel < tol:
                break
        hist.append(h)
        Pall = P[row_loc[rows]].multiply(counts.lane_share[rows][:, None]).tocsr()
        modelled[rows] = Pall @ q
        out_demand[pi][pair_o, pair_d] = q
        seed_demand[pi][pair_o, pair_d] = prior
    fitted = np.array([loc in fitted_set for loc in counts.location])
    fit = fit_dataset(counts, modelled, fitted, what="modelled")
    K = max(len(h) for h in hist)
    obj_arr = np.full((len(periods), K), np.nan)
    gap_arr = np.full((len(periods), K), np.nan)
    for i, h in enumerate(hist):
        obj_arr[i, :len(h)] = [o for o, _ in h]
        gap_arr[i, :len(h)] = [g for _, g in h]
    zone_str = [str(z) for z in zones]
    ds = xr.Dataset(
        {
            "demand": (("period", "origin", "destination"), out_demand, {"units": "veh/h", "long_name": "estimated OD demand"}),
            "seed_demand": (("period", "origin", "destination"), seed_demand,
                            {"units": "veh/h", "long_name": "seed OD demand (the regularisation's target)"}),
            "objective": (("period", "outer"), obj_arr, {"units": "1", "long_name": "fit + regularisation objective"}),
            "assign_rgap": (("period", "outer"), gap_arr, {"units": "1", "long_name": "relative gap of the assignment"}),
        },
        coords={"period_begin_s": ("period", [p[0] for p in periods]), "period_end_s": ("period", [p[1] for p in periods]),
                "origin": zone_str, "destination": zone_str},
    )
    ds = xr.merge([ds, fit], combine_attrs="no_conflicts")
    ds.attrs.update(fit.attrs)
    ds.attrs.update(method=method, regularisation=float(regularisation), holdout=float(holdout),
                    holdout_seed=int(holdout_seed), network=network.name, seconds=time.perf_counter() - t0,
                    counts_files=";".join(counts.files), objective_definition=
                    "1/2 sum (v - c)^2 / max(c, 1) + mu/2 sum (q - s)^2 / max(s, floor)")
    return stamp(ds, seeds=int(holdout_seed), sumo=False)


def od_matrix(ds: xr.Dataset, period: int = 0) -> ODMatrix:
    """The estimated matrix of one period as an :class:`~mobility.ODMatrix` (veh/h).

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`estimate_od`'s result.
    period : int
        Index of the period.

    Returns
    -------
    ODMatrix
    """
    return ODMatrix(np.asarray(ds["origin"].values, dtype=str), np.asarray(ds["demand"].values[period], dtype=float))


def _connected(problem: Any, wanted: np.ndarray) -> np.ndarray:
    """``wanted`` restricted to the zone pairs with a path."""
    from numba_kernels.aon import shortest_costs

    Z = problem.zone_node.shape[0]
    origins = np.flatnonzero(wanted.any(axis=1))
    dist = np.empty((origins.size, problem.indptr.shape[0] - 1))
    shortest_costs(problem.indptr, problem.head, problem.free_flow_time + problem.fixed, problem.zone_count,
                   problem.zone_node[origins].astype(np.int32), dist)
    out = np.zeros((Z, Z), dtype=bool)
    out[origins] = wanted[origins] & np.isfinite(dist[:, problem.zone_node])
    np.fill_diagonal(out, False)
    return out
