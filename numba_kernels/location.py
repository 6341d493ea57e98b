"""p-median kernels: interchange local search and a subgradient Lagrangian bound with a built-in heuristic.

Both work on a weighted cost matrix ``wc`` (demand points x sites, ``wc[i, j] = w_i * cost[i, j]``) with no
infinities: the caller replaces an unusable pair by a large finite penalty, so a solution that uses one
costs more than any solution that does not.

The Lagrangian relaxes the assignment rows ``sum_j x_ij = 1`` of the classical formulation with multipliers
``lam``. For fixed ``lam`` the relaxed problem separates by site: opening site ``j`` is worth
``rho_j = sum_i min(0, wc[i, j] - lam_i)``, and the bound is ``sum_i lam_i`` plus the ``p`` smallest ``rho``
(sites forced open always counted, closed ones never). Its best value equals the LP relaxation's, which
:mod:`optimise.location` uses to prove optimality or to fix sites before a MIP.
"""

from __future__ import annotations

import numpy as np

from ._config import njit


@njit
def nearest_two(wc, open_mask, d1, d2, a1):
    """Fill each demand point's nearest and second-nearest open cost ``d1``, ``d2`` and its nearest site ``a1``."""
    n, m = wc.shape
    for i in range(n):
        b1 = np.inf
        b2 = np.inf
        k1 = -1
        for j in range(m):
            if open_mask[j]:
                v = wc[i, j]
                if v < b1:
                    b2 = b1
                    b1 = v
                    k1 = j
                elif v < b2:
                    b2 = v
        d1[i] = b1
        d2[i] = b2
        a1[i] = k1


@njit
def interchange(wc, open_mask, can_open, can_close):
    """Best-improvement swap search (close one open site, open one closed site) to a local optimum.

    ``open_mask`` (bool, sites) is changed in place; sites with ``can_open``/``can_close`` False are never
    swapped in/out. Returns the objective ``sum_i min_{j open} wc[i, j]``. Each pass costs O(n m): for a
    candidate site the gain of every demand point it would capture is common to all swaps, and the loss of a
    point whose nearest site closes falls on that one site.
    """
    n, m = wc.shape
    d1 = np.empty(n)
    d2 = np.empty(n)
    a1 = np.empty(n, np.int64)
    loss = np.empty(m)
    while True:
        nearest_two(wc, open_mask, d1, d2, a1)
        cur = 0.0
        for i in range(n):
            cur += d1[i]
        best = -1e-9 * max(1.0, abs(cur))
        bin_ = -1
        bout = -1
        for jin in range(m):
            if open_mask[jin] or not can_open[jin]:
                continue
            common = 0.0
            loss[:] = 0.0
            for i in range(n):
                v = wc[i, jin]
                if v < d1[i]:
                    common += v - d1[i]
                else:
                    loss[a1[i]] += min(v, d2[i]) - d1[i]
            for jout in range(m):
                if open_mask[jout] and can_close[jout]:
                    delta = common + loss[jout]
                    if delta < best:
                        best = delta
                        bin_ = jin
                        bout = jout
        if bin_ < 0:
            return cur
        open_mask[bin_] = True
        open_mask[bout] = False


@njit
def site_values(wc, lam, rho):
    """``rho[j] = sum_i min(0, wc[i, j] - lam[i])``."""
    n, m = wc.shape
    rho[:] = 0.0
    for i in range(n):
        li = lam[i]
        for j in range(m):
            v = wc[i, j] - li
            if v < 0.0:
                rho[j] += v


@njit
def _chosen(rho, status, p):
    """Sites of the relaxed problem's solution: every forced site, then the smallest ``rho`` among free ones."""
    key = rho.copy()
    for j in range(rho.shape[0]):
        if status[j] == 1:
            key[j] = -np.inf
        elif status[j] == -1:
            key[j] = np.inf
    return np.argsort(key, kind="mergesort")[:p]


@njit
def lagrangian(wc, p, status, lam, ub, incumbent, max_iter, step0, heur_every, slack_abs, slack_rel, rho):
    """Subgradient optimisation of the Lagrangian bound.

    Parameters
    ----------
    wc : (n, m) weighted costs, finite
    p : number of sites to open
    status : int8 (m,): 1 forced open, -1 closed, 0 free
    lam : (n,) starting multipliers; on return the best ones found
    ub : objective of ``incumbent`` (an upper bound)
    incumbent : bool (m,), updated in place when the heuristic finds a better solution
    max_iter, step0 : iteration limit and initial step factor (halved after 30 iterations without progress)
    heur_every : every this many iterations (0: never) the relaxed solution's sites are improved by
        :func:`interchange` (free sites only) and may lower ``ub``
    slack_abs, slack_rel : stop once ``bound > ub - slack_abs - slack_rel * |ub|`` (the incumbent is proven)
    rho : (m,) out: site values at the best multipliers

    Returns ``(bound, iterations, ub, step)``: ``step`` is the step factor reached, to continue from.
    """
    n, m = wc.shape
    cur = lam.copy()
    r = np.empty(m)
    g = np.empty(n)
    best = -np.inf
    f = step0
    stall = 0
    last_sig = -1.0
    can = status == 0
    it = 0
    for it in range(1, max_iter + 1):
        site_values(wc, cur, r)
        chosen = _chosen(r, status, p)
        bound = 0.0
        for i in range(n):
            bound += cur[i]
        for k in range(p):
            bound += r[chosen[k]]
        if bound > best:
            if bound > best + 1e-12 * abs(bound):
                stall = 0
            best = bound
            lam[:] = cur
            rho[:] = r
        else:
            stall += 1
            if stall >= 30:
                f *= 0.5
                stall = 0
        if heur_every > 0 and it % heur_every == 0:
            sig = 0.0
            for k in range(p):
                sig += (chosen[k] + 1.0) * (chosen[k] + 7919.0)
            if sig != last_sig:
                last_sig = sig
                om = np.zeros(m, np.bool_)
                for k in range(p):
                    om[chosen[k]] = True
                v = interchange(wc, om, can, can)
                if v < ub:
                    ub = v
                    incumbent[:] = om
        if best > ub - slack_abs - slack_rel * abs(ub) or f < 1e-6:
            break
        for i in range(n):
            g[i] = 1.0
        for k in range(p):
            j = chosen[k]
            for i in range(n):
                if wc[i, j] - cur[i] < 0.0:
                    g[i] -= 1.0
        norm = 0.0
        for i in range(n):
            norm += g[i] * g[i]
        if norm == 0.0:
            # every point assigned exactly once: the relaxed solution is feasible and its cost is the bound
            om = np.zeros(m, np.bool_)
            for k in range(p):
                om[chosen[k]] = True
            v = 0.0
            for i in range(n):
                b = np.inf
                for k in range(p):
                    b = min(b, wc[i, chosen[k]])
                v += b
            if v < ub:
                ub = v
                incumbent[:] = om
            break
        target = min(ub, best + 0.05 * abs(best) + 1.0)
        t = f * (target - bound) / norm
        for i in range(n):
            cur[i] += t * g[i]
    return best, it, ub, f
