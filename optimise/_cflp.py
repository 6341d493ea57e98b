"""Capacitated facility location at scale: a Lagrangian bound, Lagrangian heuristics, site fixing, then a branch
and bound on the sites.

The bound relaxes the demand rows (:mod:`numba_kernels.cflp`): no LP of the strong formulation is solved, which
at 100 sites x 1,000 customers already takes HiGHS tens of seconds. Solutions come from the sites the relaxed
problems open, each priced by a transport LP, then improved by closing, opening and swapping the sites the
multipliers point at. Sites whose opening (closing) provably lifts the bound past the best solution are fixed,
and :func:`branch_and_bound` decides the rest with the same bound at every node.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._mip import mb_solve

#: Lagrangian iterations per round, the step factor's patience, and the most rounds before the branch and bound.
ROUND_ITERATIONS, PATIENCE, MAX_ROUNDS = 400, 40, 12
#: Sites tried per local-search pass in each move (the most promising by their value at the best multipliers),
#: and the most open sets a local search prices (transport LPs) per round.
MOVES_PER_PASS, MOVES_PER_ROUND = 6, 15


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
    """What the Lagrangian phase leaves for the branch and bound."""

    best: Transport
    bound: float
    status: np.ndarray  # int8 per site: 1 fixed open, -1 fixed closed, 0 free
    proven: bool
    rounds: int
    lam: np.ndarray  # the best multipliers


def reduce(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, deadline: float, cut_of) -> Reduction:
    """Bound, heuristics and fixing within ``deadline`` (``time.perf_counter()`` seconds).

    ``cut_of(ub)``: a bound above it proves ``ub`` optimal."""
    from numba_kernels.cflp import lagrangian

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
                          cut_of(best.cost), v, y, np.empty(m))
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
            return Reduction(best, lb, free, True, rounds, lam)
        best = _local_search(c, d, cap, f, best, v, seen, deadline)
        if lb > cut_of(best.cost) or time.perf_counter() > deadline or not improved:
            break
    cut = cut_of(best.cost)
    proven = lb > cut
    status = free if proven else fix_sites(v, cap, total, float(lam.sum()), free, y, cut)
    return Reduction(best, lb, status, proven, rounds, lam)


def fix_sites(v: np.ndarray, cap: np.ndarray, total: float, lam_sum: float, status: np.ndarray, y: np.ndarray,
              cut: float) -> np.ndarray:
    """Fix each free site whose flip from the relaxed choice ``y`` lifts the bound (``lam_sum`` plus the covering
    knapsack's LP over the site values ``v``) past ``cut``: no better solution has it the other way. Fixings
    only describe better solutions, so each test uses the ones before it. Returns the new status."""
    from numba_kernels.cflp import cover_knapsack

    status = status.copy()
    scratch = np.zeros(len(v), np.bool_)
    for i in np.flatnonzero(status == 0):
        flip = status.copy()
        flip[i] = -1 if y[i] else 1
        if lam_sum + cover_knapsack(v, cap, total, flip, scratch) > cut:
            status[i] = 1 if y[i] else -1
    return status


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
    promising of each; after an improving move the pass starts again, until none improves, ``deadline``, or
    :data:`MOVES_PER_ROUND` sets priced."""
    priced = 0
    while time.perf_counter() < deadline and priced < MOVES_PER_ROUND:
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
            if time.perf_counter() > deadline or priced >= MOVES_PER_ROUND:
                return best
            seen.add(key)
            priced += 1
            t = transport(c, d, cap, f, trial)
            if t.cost < best.cost - 1e-9 * abs(best.cost):
                best = t
                break
        if best.cost >= start - 1e-9 * abs(start):
            return best
    return best


#: Subgradient iterations per node of the branch and bound, the first step factor and its patience.
NODE_ITERATIONS, NODE_STEP, NODE_PATIENCE = 100, 0.5, 10
#: The relaxed sites of the first this many nodes are priced (a transport LP each), then those of every
#: :data:`PRICE_EVERY`-th node: once a good solution is known, pricing rarely finds a better one.
PRICE_ALL_NODES, PRICE_EVERY = 50, 4
#: Search nodes of the exact covering knapsack at a branch-and-bound node (past them its LP bound is used).
KNAPSACK_NODES = 20_000


@dataclass
class Search:
    """Outcome of :func:`branch_and_bound`."""

    best: Transport
    bound: float
    proven: bool
    nodes: int


def branch_and_bound(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, red: Reduction, deadline: float,
                     cut_of) -> Search:
    """Branch and bound on the sites with the Lagrangian bound at every node.

    A node re-optimises the multipliers from its parent's for its forced and closed sites, prices the sites its
    relaxed problem opens (a transport LP), fixes the free sites whose flip lifts its bound past the best
    solution, and branches on the free site whose averaged relaxed choice is nearest one half. Nodes are taken
    best bound first (deeper first among equals). Stops at ``deadline`` with the smallest bound of the nodes
    left as the proven bound."""
    from numba_kernels.cflp import cover_knapsack, cover_knapsack_exact, lagrangian

    m = c.shape[0]
    total = float(d.sum())
    best = red.best
    seen: set = set()
    v, y, y_avg = np.empty(m), np.zeros(m, np.bool_), np.empty(m)
    trial_y = np.zeros(m, np.bool_)
    import heapq

    # best first: the node with the smallest parent bound (ties: the deeper, then the newer)
    heap: list = [(red.bound, 0, 0, red.status.copy(), red.lam.copy())]
    count = 0
    nodes = 0
    while heap:
        if time.perf_counter() > deadline:
            return Search(best, min(heap[0][0], best.cost), False, nodes)
        parent, _, _, status, lam = heapq.heappop(heap)
        cut = cut_of(best.cost)
        if parent > cut:
            continue
        nodes += 1
        if (status == 0).sum() == 0:  # every site decided: the node is its transport problem
            t = transport(c, d, cap, f, status == 1)
            if t.cost < best.cost:
                best = t
            continue
        lam = lam.copy()
        b, _ = lagrangian(c, d, cap, f, total, status, lam, best.cost, NODE_ITERATIONS, NODE_STEP, NODE_PATIENCE, cut,
                          v, y, y_avg)
        # the sites' choice as a 0/1 covering knapsack, not its LP: a stronger bound at the same multipliers
        b = max(b, parent, float(lam.sum()) + cover_knapsack_exact(v, cap, total, status, KNAPSACK_NODES))
        if b > cut:
            continue
        key = tuple(np.flatnonzero(y))
        if key not in seen and (nodes <= PRICE_ALL_NODES or nodes % PRICE_EVERY == 0):
            seen.add(key)
            t = transport(c, d, cap, f, y)
            if t.cost < best.cost:
                best = t
                cut = cut_of(best.cost)
                if b > cut:
                    continue
        status = fix_sites(v, cap, total, float(lam.sum()), status, y, cut)
        if cover_knapsack(v, cap, total, status, trial_y) == np.inf:
            continue  # the sites left open cannot hold the demand
        free = np.flatnonzero(status == 0)
        depth = -int((status != 0).sum())
        if len(free) == 0:
            count += 1
            heapq.heappush(heap, (b, depth, -count, status, lam))
            continue
        i = int(free[np.argmin(np.abs(y_avg[free] - 0.5))])
        for side in (1, -1):
            child = status.copy()
            child[i] = side
            count += 1
            heapq.heappush(heap, (b, depth - 1, -count, child, lam))
    return Search(best, best.cost, True, nodes)
