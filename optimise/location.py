"""Facility location models (OR-Tools MIP through HiGHS, or SCIP): plain arrays in, a small result out.

The models go to the solver through OR-Tools' model builder as one sparse matrix. The p-median and the
capacitated model first bound the problem (Lagrangian relaxation of the assignment rows) against a good
solution and fix the sites that cannot be in a better one, so the MIP only decides the rest; both solve the
OR-Library instances to their proven optima (``benchmarks/bench_location.py``). The p-median MIP also stops
each demand point's levels where serving it further would lift the Lagrangian bound past the best solution,
and maximal covering first merges points with the same covering sites and drops dominated sites. Generated
city-scale instances are in :mod:`optimise.instances` (``bench_location.py --scale``).

- :func:`p_median`: open ``p`` sites minimising the demand-weighted distance of each demand point to its
  nearest open site;
- :func:`capacitated_facility_location`: open sites with fixed costs and capacities, demand may be split
  between sites (Beasley's capacitated warehouse location);
- :func:`maximal_covering`: open ``p`` sites covering the most demand within a radius;
- :func:`greedy_p_median`: the greedy baseline.

Each reports the status, objective, best proven bound and relative gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._mip import MbResult, mb_solve, mb_solver_name

__all__ = ["LocationResult", "capacitated_facility_location", "greedy_p_median", "maximal_covering", "p_median"]


@dataclass(frozen=True)
class LocationResult:
    """Chosen sites and the solver's report.

    Attributes
    ----------
    sites : tuple of int
        Indices of the open sites.
    assignment : array (demand points, sites)
        Share of each demand point's demand served by each site.
    objective, bound, gap : float
        Objective value, best proven bound and relative gap ``|objective - bound| / |objective|``.
    status : str
        OPTIMAL, FEASIBLE, INFEASIBLE, ...
    solve_time_s : float
    """

    sites: tuple[int, ...]
    assignment: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float


def _p_problem(cost: np.ndarray, p: int, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Checked cost matrix and weights of a problem that opens ``p`` of the cost matrix's sites."""
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost must be a (demand points, sites) matrix, got shape {c.shape}")
    n, m = c.shape
    if not 1 <= p <= m:
        raise ValueError(f"p must be between 1 and the number of sites ({m}), got {p}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or (w < 0).any():
        raise ValueError(f"weights must be {n} non-negative numbers")
    return c, w


def p_median(cost: np.ndarray, p: int, *, weights: np.ndarray | None = None, time_limit_s: float | None = None,
             solver: str | None = None, method: str = "reduce") -> LocationResult:
    """Open ``p`` sites minimising ``sum_i w_i min_{j open} cost[i, j]``, to a proven optimum.

    Parameters
    ----------
    cost : array (demand points, candidate sites); ``inf`` where a point cannot use a site
    p : int
    weights : array (demand points,), optional (default 1)
    time_limit_s : float, optional
        Past it the best solution found is returned with status FEASIBLE and its gap.
    solver : str, optional
        MIP solver, ``"HIGHS"`` or ``"SCIP"``; by default HiGHS, else SCIP.
    max_open : int, optional
        At most this many open sites (a budget): a row ``sum_i y_i <= max_open``, solved as ``method="mip"``.
    method : ``"reduce"`` (default) or ``"mip"``
        ``"mip"`` solves the radius formulation (below) over every site. ``"reduce"`` first finds a good
        solution (greedy, then swaps) and the Lagrangian bound of the assignment rows (equal to the LP bound;
        subgradient steps, with the swap heuristic run on the relaxed solutions); when the bound meets the
        solution it is optimal and no MIP is built. Otherwise each site whose opening (or closing) provably
        cannot lead to a better solution is fixed, first from the site values at the best multipliers and then
        by re-optimising the bound with the site forced (probing), and the MIP is solved over the sites left.

    The MIP is the radius formulation (Elloumi 2010; Garcia, Labbe & Marin 2011) in its chained form: for each
    demand point the distinct costs ``D_1 < D_2 < ...`` of its sites, ``z_k = 1`` when no open site costs
    ``D_k`` or less, ``z_1 + sum_{cost = D_1} y >= 1`` and ``z_k - z_{k-1} + sum_{cost = D_k} y >= 0``,
    minimising ``sum_i w_i (D_1 + sum_k (D_{k+1} - D_k) z_k)``. Its LP bound is the classical formulation's with
    O(n m) non-zeros. A point's levels stop at the cost of its ``(m - p + 1)``-th cheapest site, since one of
    any ``m - p + 1`` sites is open.

    The result's ``assignment`` sends every point to its cheapest open site.
    """
    from numba_kernels.location import interchange, lagrangian

    c, w = _p_problem(cost, p, weights)
    n, m = c.shape
    if not np.isfinite(c).any(axis=1).all():
        raise ValueError("every demand point needs at least one reachable site (a finite cost)")
    if method not in ("reduce", "mip"):
        raise ValueError(f"method must be 'reduce' or 'mip', got {method!r}")
    t0 = time.perf_counter()
    finite = np.isfinite(c)
    wc = np.where(finite, w[:, None] * np.where(finite, c, 0.0), np.inf)
    solver_name = mb_solver_name(solver)
    if method == "mip":
        mip = _radius_mip(wc, p, np.arange(m), 0, solver_name, time_limit_s)
        return _p_result(c, w, p, mip.sites, mip.status, mip.bound, t0)

    # big finite penalty for unusable pairs: any solution that needs one costs more than every other
    top = float(np.abs(wc[finite]).max()) if finite.any() else 1.0
    big = (top + 1.0) * (n + 1) * 4.0
    wk = np.ascontiguousarray(np.where(finite, wc, big))
    vals = wc[finite]
    integral = bool(np.all(vals == np.round(vals)) and np.abs(vals).sum() < 2.0 ** 50)
    slack_abs, slack_rel = (1.0 - 1e-6, 0.0) if integral else (0.0, 1e-9)

    def cut(ub: float) -> float:  # a bound above this proves that nothing beats ub
        return ub - slack_abs - slack_rel * abs(ub)

    start = greedy_p_median(wk, p)
    incumbent = np.zeros(m, dtype=np.bool_)
    incumbent[list(start.sites)] = True
    free_all = np.ones(m, dtype=np.bool_)
    ub = interchange(wk, incumbent, free_all, free_all)
    lam = wk[:, incumbent].min(axis=1).copy()
    rho = np.empty(m)
    status0 = np.zeros(m, dtype=np.int8)
    # the bound gets at most half the time limit, in chunks between which the clock is read
    deadline = math.inf if time_limit_s is None else t0 + 0.5 * time_limit_s
    lb, step, left = -math.inf, 2.0, 20 * max(n, 100)
    while left > 0:
        chunk = min(left, LAGRANGIAN_CHUNK)
        b, iters, ub, step = lagrangian(wk, p, status0, lam, ub, incumbent, chunk, step, 50, slack_abs, slack_rel,
                                        rho)
        lb, left = max(lb, b), left - iters
        if iters < chunk or step < 1e-6 or time.perf_counter() > deadline:
            break
    incumbent_sites = np.flatnonzero(incumbent)
    # proven bound when nothing beats the incumbent: its value if costs are integral, else up to the tolerance
    ub_bound = ub if integral else cut(ub)
    if lb > cut(ub):
        return _p_result(c, w, p, incumbent_sites, "OPTIMAL", max(lb, ub_bound), t0)

    # site status (-1 closed, 1 open, 0 free) from the site values at the best multipliers, then by probing
    inside, lift = _lifts(rho, status0, p)
    status = np.where(lb + lift > cut(ub), np.where(inside, 1, -1), 0).astype(np.int8)
    probe_end = math.inf if time_limit_s is None else t0 + 0.75 * time_limit_s
    status = _probe_sites(wk, p, lam, rho, status, ub, cut(ub), slack_abs, slack_rel, probe_end)
    forced, free = np.flatnonzero(status == 1), np.flatnonzero(status == 0)
    if len(forced) > p or len(forced) + len(free) < p:
        # no solution better than the incumbent satisfies every fixing
        return _p_result(c, w, p, incumbent_sites, "OPTIMAL", ub_bound, t0)
    # a point served at a cost above lam_i + (cut - lb) lifts the bound at lam past the cut: its levels stop there
    reach = lam + (cut(ub) - lb) * (1.0 + 1e-12) + 1e-9 * abs(ub)
    kept = np.concatenate([forced, free])
    left = None if time_limit_s is None else max(0.1, time_limit_s - (time.perf_counter() - t0))
    if left is not None and _radius_size(wc[:, kept], p, reach) > RADIUS_NNZ_PER_S * left:
        # the MIP could not even be built and presolved in the time left: keep the incumbent and the bound
        return _p_result(c, w, p, incumbent_sites, "FEASIBLE", lb, t0)
    mip = _radius_mip(wc, p, kept, len(forced), solver_name, left, reach)
    better = mip.sites is not None and _p_cost(c, w, mip.sites) < ub - 1e-9 * abs(ub)
    return _p_result(c, w, p, mip.sites if better else incumbent_sites,
                     "OPTIMAL" if mip.status in ("OPTIMAL", "INFEASIBLE") else "FEASIBLE",
                     max(lb, min(ub_bound, mip.bound)), t0)


def _p_cost(c: np.ndarray, w: np.ndarray, sites) -> float:
    with np.errstate(invalid="ignore"):
        return float((w * c[:, list(sites)].min(axis=1)).sum())


def _gap(objective: float, bound: float) -> float:
    return abs(objective - bound) / max(abs(objective), 1e-12)


def _p_result(c: np.ndarray, w: np.ndarray, p: int, sites, status: str, bound: float, t0: float) -> LocationResult:
    """The result for ``sites`` (each point to its cheapest one); refuses a choice that leaves a point unserved."""
    obj = math.inf if sites is None else _p_cost(c, w, sites)
    if not math.isfinite(obj):
        raise ValueError(f"no {p} sites give every demand point a reachable site")
    sites = tuple(sorted(int(j) for j in sites))
    n, m = c.shape
    near = np.array(sites)[np.argmin(c[:, list(sites)], axis=1)]
    assign = np.zeros((n, m))
    assign[np.arange(n), near] = 1.0
    bound = min(bound, obj)
    return LocationResult(sites, assign, obj, float(bound), _gap(obj, bound), status, time.perf_counter() - t0)


def _lifts(rho: np.ndarray, status: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The relaxed solution's sites (forced ones, then the smallest ``rho``) and, per site, how much the bound
    rises at these multipliers when the site is forced the other way: ``rho_j - rho_(p)`` to open a site
    outside, ``rho_(p+1) - rho_j`` to close one inside (infinite when only ``p`` sites are left)."""
    order = np.argsort(np.where(status == 1, -np.inf, rho), kind="mergesort")
    inside = np.zeros(len(rho), dtype=bool)
    inside[order[:p]] = True
    next_out = rho[order[p]] if p < len(rho) else np.inf
    return inside, np.where(inside, next_out - rho, rho - rho[order[p - 1]])


#: Lagrangian iterations between two looks at the clock.
LAGRANGIAN_CHUNK = 200

#: work (demand points x sites x iterations) spent probing sites before the MIP; iterations and first step per probe
PROBE_WORK, PROBE_ITERATIONS, PROBE_STEP = 2.0e9, 300, 2.0


def _probe_sites(wk: np.ndarray, p: int, lam: np.ndarray, rho: np.ndarray, status: np.ndarray, ub: float,
                 cut: float, slack_abs: float, slack_rel: float, deadline: float = math.inf) -> np.ndarray:
    """Force each free site the other way from the relaxed solution, re-optimise the bound from the best
    multipliers over the sites not closed, and fix the site where the bound passes ``cut``. Fixings only
    describe solutions better than the incumbent, so each probe may use the ones before it; rounds repeat
    while they fix something, within :data:`PROBE_WORK`. ``lam``, ``rho``: the best multipliers and the site
    values there. Probing stops at ``deadline`` (``time.perf_counter()`` seconds) with the fixings so far."""
    from numba_kernels.location import lagrangian

    n = wk.shape[0]
    work = 0.0
    status = status.copy()
    while work < PROBE_WORK:
        keep = np.flatnonzero(status != -1)
        sub = np.ascontiguousarray(wk[:, keep])
        st = status[keep].copy()
        inside, lift = _lifts(rho[keep], st, p)
        sub_rho = np.empty(len(keep))
        unused = np.zeros(len(keep), dtype=np.bool_)  # no heuristic runs while probing
        fixed = 0
        for k in np.argsort(-lift, kind="mergesort"):  # most promising first: the largest estimated lift
            if st[k] != 0:
                continue
            if work >= PROBE_WORK or time.perf_counter() > deadline:
                break
            trial = st.copy()
            trial[k] = -1 if inside[k] else 1
            if (trial == 1).sum() > p or (trial != -1).sum() < p:
                bound = math.inf
            else:
                bound, iters, _, _ = lagrangian(sub, p, trial, lam.copy(), ub, unused, PROBE_ITERATIONS, PROBE_STEP, 0,
                                             slack_abs, slack_rel, sub_rho)
                work += float(n) * len(keep) * iters
            if bound > cut:
                st[k] = 1 if inside[k] else -1
                fixed += 1
        status[keep] = st
        if not fixed or not (status == 0).any() or time.perf_counter() > deadline:
            break
    return status


@dataclass(frozen=True)
class _MipOutcome:
    sites: tuple[int, ...] | None
    status: str
    bound: float


#: Non-zeros of the radius formulation that building and solving it handles per second of the time limit; a
#: time-limited solve whose MIP is bigger keeps the Lagrangian phase's solution and bound instead.
RADIUS_NNZ_PER_S = 20_000


def _radius_size(sub: np.ndarray, p: int, reach: np.ndarray) -> int:
    """Non-zeros of the radius formulation over the columns of ``sub``: each point's sites up to its level cap."""
    ms = sub.shape[1]
    dmax = np.partition(np.where(np.isfinite(sub), sub, np.inf), ms - p, axis=1)[:, ms - p] if ms > p else \
        np.full(sub.shape[0], np.inf)
    dmax = np.minimum(dmax, reach)
    return int((sub <= dmax[:, None]).sum())


def _radius_mip(wc: np.ndarray, p: int, sites: np.ndarray, n_forced: int, solver: str,
                time_limit_s: float | None, reach: np.ndarray | None = None) -> _MipOutcome:
    """Radius formulation over ``sites`` (the first ``n_forced`` forced open); ``wc`` weighted, ``inf`` unusable.
    ``reach``: per point, the largest cost a solution worth finding may serve it at (its levels stop there; a
    point with no site within it makes the MIP INFEASIBLE)."""
    import scipy.sparse as sp

    sub = wc[:, sites]
    n, ms = sub.shape
    rows, cols, vals, lower, zcost = [], [], [], [], []
    offset = 0.0
    row = 0
    nvar = ms
    for i in range(n):
        order = np.argsort(sub[i], kind="mergesort")
        d = sub[i, order]
        nfin = int(np.isfinite(d).sum())
        if nfin == 0:
            return _MipOutcome(None, "INFEASIBLE", math.inf)
        dmax = d[ms - p] if ms - p < nfin else d[nfin - 1]
        if n_forced:
            dmax = min(dmax, sub[i, :n_forced].min())
        if reach is not None:
            if d[0] > reach[i]:
                return _MipOutcome(None, "INFEASIBLE", math.inf)
            dmax = min(dmax, reach[i])
        count = int(np.searchsorted(d, dmax, side="right"))
        levels, first = np.unique(d[:count], return_index=True)
        ends = np.append(first[1:], count)
        offset += levels[0]
        kk = len(levels)
        for k in range(kk):
            grp = order[first[k]:ends[k]]
            rows.append(np.full(len(grp), row))
            cols.append(grp)
            vals.append(np.ones(len(grp)))
            extra_c, extra_v = [], []
            if k > 0:
                extra_c.append(nvar - 1)
                extra_v.append(-1.0)
            if k < kk - 1:
                extra_c.append(nvar)
                extra_v.append(1.0)
                zcost.append(levels[k + 1] - levels[k])
                nvar += 1
            if extra_c:
                rows.append(np.full(len(extra_c), row))
                cols.append(np.array(extra_c))
                vals.append(np.array(extra_v))
            lower.append(1.0 if k == 0 else 0.0)
            row += 1
    rows.append(np.full(ms, row))
    cols.append(np.arange(ms))
    vals.append(np.ones(ms))
    lower.append(float(p))
    upper = np.full(row + 1, np.inf)
    upper[-1] = p
    a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row + 1, nvar))
    var_lo = np.zeros(nvar)
    var_lo[:n_forced] = 1.0
    obj = np.concatenate([np.zeros(ms), np.array(zcost)])
    res = mb_solve(var_lo, np.ones(nvar), obj, np.array(lower), upper, a, ms, offset, solver, time_limit_s)
    if res.values is None:
        return _MipOutcome(None, res.status, res.bound)
    chosen = tuple(int(sites[j]) for j in np.flatnonzero(res.values[:ms] > 0.5))
    return _MipOutcome(chosen, res.status, res.bound)


def capacitated_facility_location(cost: np.ndarray, demand: np.ndarray, capacity: np.ndarray, fixed_cost: np.ndarray,
                                  *, time_limit_s: float | None = None, solver: str | None = None,
                                  method: str = "reduce", max_open: int | None = None) -> LocationResult:
    """Open sites and split demand between them at least total cost, to a proven optimum.

    Parameters
    ----------
    cost : array (sites, customers)
        Cost of serving *all* of customer ``j``'s demand from site ``i`` (OR-Library's convention); a
        share ``x`` of it costs ``x * cost``.
    demand : array (customers,)
    capacity : array (sites,)
    fixed_cost : array (sites,)
    method : ``"reduce"`` (default) or ``"mip"``
        ``"mip"`` solves the strong formulation (shares ``x_ij <= y_i`` besides the capacity rows) over every
        site. ``"reduce"`` first solves its LP relaxation and takes the customers' duals ``lam`` as Lagrangian
        multipliers of the demand rows: a site is then worth ``v_i = f_i + min {sum_j (c_ij - lam_j) x_ij :
        sum_j d_j x_ij <= cap_i, 0 <= x <= 1}`` (a fractional knapsack) and the bound is ``sum lam + sum_i
        min(0, v_i)``. Opening the LP's sites gives a solution (a transport LP); a site whose opening (closing)
        lifts the bound by ``v_i`` (``-v_i``) past that solution is fixed, and the MIP is solved over the rest.
        Past :data:`LP_REDUCE_MAX` sites x customers the LP is not solved: the same bound comes from subgradient
        steps on the multipliers (:mod:`numba_kernels.cflp`, with the aggregate capacity row), solutions from the
        sites each relaxed problem opens (priced by a transport LP) and a local search over open sites, and a
        best-first branch and bound on the sites (:mod:`optimise._cflp`) replaces the MIP, with that bound and an
        exact covering knapsack at every node. The first phase takes at most a third of ``time_limit_s``; past
        the limit the best solution is returned with the smallest bound of the nodes left.

    The assignment in the result is ``(customers, sites)``.
    """
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost must be a (sites, customers) matrix, got shape {c.shape}")
    m, n = c.shape
    d, cap, f = (np.asarray(a, dtype=float) for a in (demand, capacity, fixed_cost))
    if d.shape != (n,) or cap.shape != (m,) or f.shape != (m,):
        raise ValueError(f"shapes: cost {c.shape}, demand {d.shape}, capacity {cap.shape}, fixed_cost {f.shape} do not agree")
    if (d < 0).any() or (cap < 0).any() or not np.isfinite(c).all():
        raise ValueError("demand and capacity must be non-negative and every cost finite")
    if d.sum() > cap.sum() + 1e-9:
        raise ValueError(f"total demand {d.sum():g} exceeds total capacity {cap.sum():g}")
    if method not in ("reduce", "mip"):
        raise ValueError(f"method must be 'reduce' or 'mip', got {method!r}")
    if max_open is not None:
        if not 1 <= max_open <= m or (top := np.sort(cap)[::-1][:max_open].sum()) < d.sum() - 1e-9:
            raise ValueError(f"max_open={max_open}: 1..{m} sites whose capacities hold the total demand {d.sum():g} "
                             "are needed; allow more sites")
        method = "mip"
    t0 = time.perf_counter()
    solver_name = mb_solver_name(solver)
    model = _cflp_model(c, d, cap, f, max_open)

    def solve(lo: np.ndarray, hi: np.ndarray, integer: bool, name: str, limit: float | None = None) -> MbResult:
        return mb_solve(np.concatenate([lo, np.zeros(m * n)]), np.concatenate([hi, np.ones(m * n)]), model.obj,
                         model.row_lo, model.row_hi, model.a, m if integer else 0, 0.0, name, limit, duals=not integer)

    def result(r: MbResult, status: str, bound: float) -> LocationResult:
        y = r.values[:m]
        x = r.values[m:].reshape(m, n).T.copy()
        sites = tuple(int(i) for i in np.flatnonzero(y > 0.5))
        obj = float(f[list(sites)].sum() + (c * x.T).sum())
        bound = min(bound, obj)
        return LocationResult(sites, x, obj, float(bound), _gap(obj, bound), status, time.perf_counter() - t0)

    zeros, ones = np.zeros(m), np.ones(m)
    if method == "reduce" and m * n > LP_REDUCE_MAX:
        return _cflp_lagrangian(c, d, cap, f, time_limit_s, t0)
    if method == "mip":
        r = solve(zeros, ones, True, solver_name, time_limit_s)
        if r.values is None:
            raise ValueError(f"capacitated location: solver status {r.status}")
        return result(r, r.status, r.bound)
    lp = solve(zeros, ones, False, "glop")
    if lp.values is None:
        raise ValueError(f"capacitated location: LP relaxation status {lp.status}")
    lam = lp.duals[:n]
    v = f + _knapsack_values(c, d, cap, lam)
    lb = max(lp.objective, float(lam.sum() + np.minimum(v, 0.0).sum()))
    open_lp = (lp.values[:m] > 1e-9).astype(float)
    best = solve(open_lp, open_lp, False, "glop")  # every LP site open, demand by a transport LP
    if best.values is None:  # numerically short of capacity: fall back on the full MIP
        best = MbResult("NOT_SOLVED", math.inf, -math.inf, None)
    ub = best.objective
    cut = ub - 1e-9 * abs(ub) if math.isfinite(ub) else math.inf
    if lb > cut:
        return result(best, "OPTIMAL", lb)
    lo = ((v < 0) & (lb - v > cut)).astype(float)
    hi = 1.0 - ((v > 0) & (lb + v > cut)).astype(float)
    left = None if time_limit_s is None else max(0.1, time_limit_s - (time.perf_counter() - t0))
    mip = solve(lo, hi, True, solver_name, left) if lo.sum() <= hi.sum() else MbResult("INFEASIBLE", math.inf, math.inf, None)
    proven = mip.status in ("OPTIMAL", "INFEASIBLE")
    bound = max(lb, min(cut, mip.bound))
    if mip.values is not None and mip.objective < ub:
        return result(mip, "OPTIMAL" if proven else "FEASIBLE", bound)
    if best.values is None:
        raise ValueError(f"capacitated location: solver status {mip.status}")
    return result(best, "OPTIMAL" if proven else "FEASIBLE", bound)


#: Largest ``sites x customers`` for which ``method="reduce"`` starts from the LP relaxation; past it the
#: Lagrangian bound replaces the LP (whose solve grows to tens of seconds at 100 x 1,000).
LP_REDUCE_MAX = 20_000


def _cflp_lagrangian(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, time_limit_s: float | None,
                     t0: float) -> LocationResult:
    """Lagrangian bound, heuristics and site fixing, then a branch and bound on the sites with the Lagrangian
    bound at every node (:mod:`optimise._cflp`)."""
    from . import _cflp

    limit = math.inf if time_limit_s is None else time_limit_s
    # the Lagrangian phase gets at most a third of the time
    deadline = t0 + min(limit / 3.0, 600.0)

    def cut_of(ub: float) -> float:
        return ub - 1e-9 * abs(ub)

    red = _cflp.reduce(c, d, cap, f, deadline, cut_of)
    best, bound, status = red.best, red.bound, "OPTIMAL"
    if not red.proven:
        end = t0 + limit if math.isfinite(limit) else math.inf
        search = _cflp.branch_and_bound(c, d, cap, f, red, end, cut_of)
        best = search.best
        bound = max(red.bound, search.bound)
        status = "OPTIMAL" if search.proven else "FEASIBLE"
    if best.x is None:
        best = _cflp.transport(c, d, cap, f, best.open_, need_x=True)
    sites = tuple(int(i) for i in np.flatnonzero(best.open_))
    obj = float(f[list(sites)].sum() + (c * best.x).sum())
    bound = min(bound, obj)
    return LocationResult(sites, best.x.T.copy(), obj, float(bound), _gap(obj, bound), status,
                          time.perf_counter() - t0)


@dataclass(frozen=True)
class _Lp:
    obj: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    a: object


def _cflp_model(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, max_open: int | None = None) -> _Lp:
    """Strong formulation; variables ``y`` (sites) then ``x[i, j]`` at ``m + i n + j``; rows: demand (n),
    capacity (m), ``x_ij <= y_i`` (m n), and ``sum y <= max_open`` when given."""
    import scipy.sparse as sp

    m, n = c.shape
    x = m + np.arange(m * n).reshape(m, n)
    site = np.repeat(np.arange(m), n)
    rows = np.concatenate([np.tile(np.arange(n), m),                      # demand rows
                           n + site, n + np.arange(m),                     # capacity rows
                           n + m + np.arange(m * n), n + m + np.arange(m * n)])  # x <= y
    cols = np.concatenate([x.ravel(), x.ravel(), np.arange(m), x.ravel(), site])
    vals = np.concatenate([np.ones(m * n), np.tile(d, m), -cap, np.ones(m * n), -np.ones(m * n)])
    n_rows = n + m + m * n
    row_lo = np.concatenate([np.ones(n), np.full(m + m * n, -np.inf)])
    row_hi = np.concatenate([np.ones(n), np.zeros(m + m * n)])
    if max_open is not None:  # sum_i y_i <= max_open
        rows, cols, vals = (np.concatenate([a, b]) for a, b in ((rows, np.full(m, n_rows)), (cols, np.arange(m)),
                                                                 (vals, np.ones(m))))
        row_lo, row_hi, n_rows = np.append(row_lo, -np.inf), np.append(row_hi, float(max_open)), n_rows + 1
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, m + m * n))
    return _Lp(np.concatenate([f, c.ravel()]), row_lo, row_hi, a)


def _knapsack_values(c: np.ndarray, d: np.ndarray, cap: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """``min {sum_j (c_ij - lam_j) x_j : sum_j d_j x_j <= cap_i, 0 <= x <= 1}`` per site (greedy by ratio)."""
    m = c.shape[0]
    out = np.zeros(m)
    red = c - lam[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[None, :] > 0, red / d[None, :], -np.inf)
    for i in range(m):
        take = np.flatnonzero(red[i] < 0)
        take = take[np.argsort(ratio[i, take], kind="mergesort")]
        room = cap[i]
        for j in take:
            share = 1.0 if d[j] <= room else room / d[j]
            out[i] += share * red[i, j]
            room -= share * d[j]
            if room <= 0:
                break
    return out


def maximal_covering(cost: np.ndarray, p: int, radius: float, *, weights: np.ndarray | None = None,
                     time_limit_s: float | None = None, solver: str | None = None,
                     method: str = "reduce") -> LocationResult:
    """Open ``p`` sites maximising the weight of demand points within ``radius`` of an open site
    (Church & ReVelle 1974).

    Parameters
    ----------
    cost : array (demand points, candidate sites)
        Distance or travel time; ``inf`` where a point cannot use a site.
    p : int
        Sites to open.
    radius : float
        A point is covered by a site at most this far (the unit of ``cost``).
    weights : array (demand points,), optional
        Demand at each point (default 1).
    time_limit_s : float, optional
        Past it the best solution found is returned with status FEASIBLE and its gap.
    solver : str, optional
        ``"HIGHS"`` or ``"SCIP"``; by default HiGHS, else SCIP.
    method : ``"reduce"`` (default) or ``"mip"``
        ``"mip"`` solves the classical model over every point and site. ``"reduce"`` first applies exact
        reductions: points no site covers are dropped (they stay uncovered whatever opens), points covered by the
        same set of sites become one point with their summed weight, and a site whose covered set lies inside
        another site's is dropped (the other covers at least as much in any solution); when fewer than ``p``
        sites are left they all open and the rest are filled with dropped ones. Then a Lagrangian bound of the
        coverage rows (subgradient steps, within a quarter of the time limit) and the covers its steps pick,
        improved by swaps (:mod:`optimise._covering`): where the bound meets the best cover no MIP is built;
        otherwise the MIP only looks for a better cover than it.

    Returns
    -------
    LocationResult
        The objective is the covered weight (a maximum; ``bound`` is the best proven upper bound);
        ``assignment[i, j]`` is 1 where point ``i`` is covered by open site ``j`` (its nearest covering one).
    """
    import scipy.sparse as sp

    c, w = _p_problem(cost, p, weights)
    if method not in ("reduce", "mip"):
        raise ValueError(f"method must be 'reduce' or 'mip', got {method!r}")
    n, m = c.shape
    t0 = time.perf_counter()
    cover = c <= radius
    points, pw, sites = np.arange(n), w, np.arange(m)
    if method == "reduce":
        points, pw, sites = _covering_reductions(cover, w)
    sub = sp.csr_matrix(cover[np.ix_(points, sites)]) if len(points) else sp.csr_matrix((0, len(sites)))
    ms, ns = len(sites), len(points)
    if ms <= p:
        r_sites = set(int(j) for j in sites)
        chosen = list(r_sites) + [j for j in range(m) if j not in r_sites][: p - ms]
        status, ub = "OPTIMAL", math.inf
    else:
        # variables y (sites) then z (points, covered share; 0/1 at an optimum whenever y is)
        coo = sub.tocoo()
        rows = np.concatenate([coo.row, np.arange(ns), np.full(ms, ns)])
        cols = np.concatenate([coo.col, ms + np.arange(ns), np.arange(ms)])
        vals = np.concatenate([-np.ones(coo.nnz), np.ones(ns), np.ones(ms)])
        a = sp.csr_matrix((vals, (rows, cols)), shape=(ns + 1, ms + ns))
        row_lo = np.append(np.full(ns, -np.inf), p)
        row_hi = np.append(np.zeros(ns), p)
        # greedy start: its cover is the MIP's cut-off, and the answer if the MIP finds nothing in time
        greedy, greedy_w = _greedy_cover(sub.tocsc(), pw, p)
        lag_bound = float(pw.sum())
        if method == "reduce":  # the Lagrangian bound and its covers, within a quarter of the time limit
            from ._covering import lagrangian_cover

            quarter = math.inf if time_limit_s is None else t0 + 0.25 * time_limit_s
            greedy, greedy_w, lag_bound = lagrangian_cover(sub.tocsc(), pw, p, greedy, min(quarter, t0 + 60.0))
            lag_bound = min(lag_bound, float(pw.sum()))
        if lag_bound <= greedy_w * (1 + 1e-9) + 1e-9:  # the bound meets the cover: proven without a MIP
            r = MbResult("INFEASIBLE", math.inf, math.inf, None)
        else:
            left = None if time_limit_s is None else max(0.1, time_limit_s - (time.perf_counter() - t0))
            r = mb_solve(np.zeros(ms + ns), np.ones(ms + ns), np.concatenate([np.zeros(ms), -pw]), row_lo, row_hi, a, ms,
                         0.0, mb_solver_name(solver), left,
                         cutoff=-greedy_w + 1e-9 * max(1.0, greedy_w) if method == "reduce" else None)
        if r.values is not None and -r.objective > greedy_w:
            chosen = [int(sites[j]) for j in np.flatnonzero(r.values[:ms] > 0.5)]
            status, ub = r.status, min(-r.bound, lag_bound)
        elif r.status in ("INFEASIBLE", "OPTIMAL"):  # nothing covers more than the start
            chosen, status, ub = [int(sites[j]) for j in greedy], "OPTIMAL", greedy_w
        else:  # out of time without a better cover; greedy alone covers at least (1 - 1/e) of the optimum
            chosen, status = [int(sites[j]) for j in greedy], "FEASIBLE"
            ub = min(lag_bound, greedy_w / (1.0 - 1.0 / math.e), -r.bound if math.isfinite(r.bound) else math.inf)
    chosen_sites = tuple(sorted(chosen))
    assign = np.zeros((n, m))
    if chosen_sites:
        cc = np.where(cover[:, list(chosen_sites)], c[:, list(chosen_sites)], np.inf)
        hit = np.isfinite(cc).any(axis=1)
        near = np.array(chosen_sites)[np.argmin(cc, axis=1)]
        assign[np.flatnonzero(hit), near[hit]] = 1.0
    obj = float(w[assign.any(axis=1)].sum())
    bound = max(ub, obj) if status != "OPTIMAL" or math.isfinite(ub) else obj
    return LocationResult(chosen_sites, assign, obj, float(bound), _gap(obj, bound), status, time.perf_counter() - t0)


def _greedy_cover(a, w: np.ndarray, p: int) -> tuple[list[int], float]:
    """``p`` columns of the 0/1 matrix ``a`` (points x sites, CSC) picked one at a time by the uncovered weight
    they add; returns them and the weight covered."""
    left = w.astype(float).copy()
    chosen: list[int] = []
    total = 0.0
    for _ in range(p):
        gain = a.T @ left
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen.append(j)
        rows = a.indices[a.indptr[j]:a.indptr[j + 1]]
        total += float(left[rows].sum())
        left[rows] = 0.0
    return chosen, total


def _covering_reductions(cover: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact reductions of a covering problem: ``(points, weights, sites)`` kept, points with the same covering
    sites merged into their first one (weights summed), sites whose covered set another site's contains dropped
    (of two equal sets the first is kept)."""
    import scipy.sparse as sp

    n, m = cover.shape
    covered = cover.any(axis=1) & (w > 0)
    idx = np.flatnonzero(covered)
    # identical rows: group by their packed bits
    packed = np.packbits(cover[idx], axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    merged_w = np.bincount(inverse.ravel(), weights=w[idx], minlength=len(first))
    points = idx[first]
    a = sp.csc_matrix(cover[points].astype(np.float64))
    weight_of = merged_w
    size = np.asarray(a.sum(axis=0)).ravel()
    overlap = (a.T @ a).toarray()
    dominated = np.zeros(m, dtype=bool)
    for j in range(m):
        if size[j] == 0:
            dominated[j] = True
            continue
        holds = np.flatnonzero(overlap[j] >= size[j] - 0.5)  # sites whose set contains j's
        for k in holds:
            if k != j and not dominated[k] and (size[k] > size[j] or k < j):
                dominated[j] = True
                break
    return points, weight_of, np.flatnonzero(~dominated)


def greedy_p_median(cost: np.ndarray, p: int, *, weights: np.ndarray | None = None) -> LocationResult:
    """Baseline: add, one at a time, the site that lowers the weighted distance most (no optimality claim)."""
    c, w = _p_problem(cost, p, weights)
    n, m = c.shape
    best = np.full(n, np.inf)
    chosen: list[int] = []
    for _ in range(p):
        with np.errstate(invalid="ignore"):
            totals = (w[:, None] * np.minimum(best[:, None], c)).sum(axis=0)
        totals[chosen] = np.inf
        j = int(np.argmin(totals))
        chosen.append(j)
        best = np.minimum(best, c[:, j])
    sites = tuple(sorted(chosen))
    near = np.array(sites)[np.argmin(c[:, list(sites)], axis=1)]
    assign = np.zeros((n, m))
    assign[np.arange(n), near] = 1.0
    return LocationResult(sites, assign, float((w * best).sum()), math.nan, math.nan, "HEURISTIC", 0.0)
