"""Capacitated facility location at scale: a Lagrangian bound, Lagrangian heuristics, site fixing, then the MIP.

The bound relaxes the demand rows (:mod:`numba_kernels.cflp`): no LP of the strong formulation is solved, which
at 100 sites x 1,000 customers already takes HiGHS tens of seconds. Solutions come from the sites the relaxed
problems open, each priced by a transport LP, then improved by closing, opening and swapping the sites the
multipliers point at. Sites whose opening (closing) provably lifts the bound past the best solution are fixed,
and the strong formulation is solved over the sites left, with the best solution's value as a cut-off.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._mip import mb_solve

#: Lagrangian iterations per round, the step factor's patience, and the most rounds before the MIP.
ROUND_ITERATIONS, PATIENCE, MAX_ROUNDS = 400, 40, 12
#: Sites tried per local-search pass in each move (the most promising by their value at the best multipliers).
MOVES_PER_PASS = 6


@dataclass
class Transport:
    """A priced set of open sites: total cost (fixed + transport) and the customers' shares ``(sites, customers)``."""

    open_: np.ndarray
    cost: float
    x: np.ndarray | None


def transport(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, open_: np.ndarray,
              need_x: bool = False) -> Transport:
    """The cheapest split of every customer's demand over the ``open_`` sites (a transport LP, HiGHS).

    Returns an infinite cost when the open sites cannot hold the demand."""
    import scipy.sparse as sp

    sites = np.flatnonzero(open_)
    k, n = len(sites), c.shape[1]
    if cap[sites].sum() < d.sum() * (1.0 - 1e-12):
        return Transport(open_.copy(), math.inf, None)
    rows = np.concatenate([np.tile(np.arange(n), k), n + np.repeat(np.arange(k), n)])
    cols = np.concatenate([np.arange(k * n), np.arange(k * n)])
    vals = np.concatenate([np.ones(k * n), np.tile(d, k)])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n + k, k * n))
    lo = np.concatenate([np.ones(n), np.full(k, -np.inf)])
    hi = np.concatenate([np.ones(n), cap[sites]])
    r = mb_solve(np.zeros(k * n), np.ones(k * n), c[sites].ravel(), lo, hi, a, 0, float(f[sites].sum()), "highs", None)
    if r.values is None:
        return Transport(open_.copy(), math.inf, None)
    x = None
    if need_x:
        x = np.zeros(c.shape)
        x[sites] = r.values.reshape(k, n)
    return Transport(open_.copy(), float(r.objective), x)


@dataclass
class Reduction:
    """What the Lagrangian phase leaves for the MIP."""

    best: Transport
    bound: float
    status: np.ndarray  # int8 per site: 1 fixed open, -1 fixed closed, 0 free
    proven: bool
    rounds: int


def reduce(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, deadline: float, cut_of) -> Reduction:
    """Bound, heuristics and fixing within ``deadline`` (``time.perf_counter()`` seconds).

    ``cut_of(ub)``: a bound above it proves ``ub`` optimal."""
    from numba_kernels.cflp import cover_knapsack, lagrangian

    m, n = c.shape
    total = float(d.sum())
    lam = (c + (f / np.maximum(cap, 1e-12))[:, None] * d[None, :]).min(axis=0)
    free = np.zeros(m, np.int8)
    v = np.empty(m)
    y = np.zeros(m, np.bool_)
    best = _greedy_start(c, d, cap, f)
    seen = {tuple(np.flatnonzero(best.open_))}
    lb = -math.inf
    step = 2.0
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        b, _ = lagrangian(c, d, cap, f, total, free, lam, best.cost, ROUND_ITERATIONS, step, PATIENCE,
                          cut_of(best.cost), v, y)
        improved = b > lb + 1e-7 * abs(b)
        lb = max(lb, b)
        step = 0.5
        key = tuple(np.flatnonzero(y))
        if key not in seen:
            seen.add(key)
            t = transport(c, d, cap, f, y)
            if t.cost < best.cost:
                best = t
        if lb > cut_of(best.cost):
            return Reduction(best, lb, free, True, rounds)
        best = _local_search(c, d, cap, f, best, v, seen, deadline)
        if lb > cut_of(best.cost) or time.perf_counter() > deadline or not improved:
            break
    cut = cut_of(best.cost)
    proven = lb > cut
    status = free.copy()
    if not proven:
        # lift of the bound when a site is forced the other way from the relaxed choice
        trial_y = np.zeros(m, np.bool_)
        for i in range(m):
            trial = free.copy()
            trial[i] = -1 if y[i] else 1
            if float(lam.sum()) + cover_knapsack(v, cap, total, trial, trial_y) > cut:
                status[i] = 1 if y[i] else -1
    return Reduction(best, lb, status, proven, rounds)


def _greedy_start(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray) -> Transport:
    """Open sites by fixed cost per unit of capacity plus mean unit transport cost until they hold the demand."""
    m = c.shape[0]
    unit = f / np.maximum(cap, 1e-12) + (c / np.maximum(d, 1e-12)[None, :]).mean(axis=1)
    open_ = np.zeros(m, np.bool_)
    room = 0.0
    for i in np.argsort(unit, kind="mergesort"):
        open_[i] = True
        room += cap[i]
        if room >= 1.2 * d.sum():
            break
    return transport(c, d, cap, f, open_)


def _local_search(c, d, cap, f, best: Transport, v: np.ndarray, seen: set, deadline: float) -> Transport:
    """First-improvement search over open sets: close any open site (highest value at the best multipliers
    first), open one of the :data:`MOVES_PER_PASS` closed sites of lowest value, or swap between the most
    promising of each; after an improving move the pass starts again, until none improves or ``deadline``."""
    while time.perf_counter() < deadline:
        cur = best.open_
        outs = [i for i in np.argsort(-v, kind="mergesort") if cur[i]]
        ins = [i for i in np.argsort(v, kind="mergesort") if not cur[i]][:MOVES_PER_PASS]
        moves = [(i, None) for i in outs] + [(None, j) for j in ins] + [(i, j) for i in outs[:4] for j in ins[:4]]
        start = best.cost
        for out, inn in moves:
            trial = best.open_.copy()
            if out is not None:
                trial[out] = False
            if inn is not None:
                trial[inn] = True
            key = tuple(np.flatnonzero(trial))
            if key in seen:
                continue
            if time.perf_counter() > deadline:
                return best
            seen.add(key)
            t = transport(c, d, cap, f, trial)
            if t.cost < best.cost - 1e-9 * abs(best.cost):
                best = t
                break
        if best.cost >= start - 1e-9 * abs(start):
            return best
    return best
