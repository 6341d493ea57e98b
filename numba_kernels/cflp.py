"""Capacitated facility location kernels: the Lagrangian bound of the demand rows, by subgradient steps.

Relaxing ``sum_i x_ij = 1`` with multipliers ``lam_j`` (the problem keeps the capacity rows, ``x_ij <= y_i``
and the aggregate capacity row ``sum_i cap_i y_i >= total demand``) splits it by site: opening site ``i`` is
worth ``v_i = f_i + min {sum_j (c_ij - lam_j) x_ij : sum_j d_j x_ij <= cap_i, 0 <= x <= 1}``, a continuous
knapsack solved greedily, and the sites are then chosen by a covering knapsack ``min sum v_i y_i`` with
``sum cap_i y_i >= D``. The kernels bound that knapsack by its LP relaxation, so the bound is valid (at least
the LP relaxation of the strong formulation) and cheap; :mod:`optimise.location` uses it to prove a solution
optimal or to fix sites before a MIP.

``c`` is ``(sites, customers)``: the cost of serving all of a customer's demand from a site.
"""

from __future__ import annotations

import numpy as np

from ._config import njit


@njit
def site_values(c, d, cap, f, lam, v, share):
    """``v[i]``: the value of opening site ``i`` at multipliers ``lam``; ``share[i, j]``: the share of customer
    ``j`` that site ``i`` serves in that knapsack's solution."""
    m, n = c.shape
    ratio = np.empty(n)
    idx = np.empty(n, np.int64)
    for i in range(m):
        k = 0
        for j in range(n):
            share[i, j] = 0.0
            r = c[i, j] - lam[j]
            if r < 0.0:
                ratio[k] = r / d[j] if d[j] > 0.0 else -np.inf
                idx[k] = j
                k += 1
        val = f[i]
        room = cap[i]
        order = np.argsort(ratio[:k])
        for q in range(k):
            j = idx[order[q]]
            r = c[i, j] - lam[j]
            if d[j] <= room:
                s = 1.0
            else:
                s = room / d[j]
            share[i, j] = s
            val += s * r
            room -= s * d[j]
            if room <= 0.0:
                break
        v[i] = val


@njit
def cover_knapsack(v, cap, total, status, y):
    """LP bound of ``min sum v_i y_i`` s.t. ``sum cap_i y_i >= total``, ``y`` 0/1 with ``status`` (1 forced
    open, -1 closed, 0 free). ``y`` (out) is an integral choice: forced sites, free ones with ``v < 0``, then
    the cheapest per unit of capacity until the total is covered. Returns the LP bound (``inf`` when even every
    site not closed cannot cover ``total``)."""
    m = v.shape[0]
    val = 0.0
    room = 0.0
    for i in range(m):
        y[i] = False
        if status[i] == 1 or (status[i] == 0 and v[i] < 0.0):
            y[i] = True
            val += v[i]
            room += cap[i]
    if room >= total:
        return val
    key = np.full(m, np.inf)
    for i in range(m):
        if not y[i] and status[i] == 0 and cap[i] > 0.0:
            key[i] = v[i] / cap[i]
    order = np.argsort(key)
    for q in range(m):
        i = order[q]
        if key[i] == np.inf:
            break
        y[i] = True
        if room + cap[i] >= total:
            return val + v[i] * (total - room) / cap[i]
        val += v[i]
        room += cap[i]
    return np.inf


@njit
def lagrangian(c, d, cap, f, total, status, lam, ub, max_iter, step0, patience, cut, v_best, y_best, y_avg):
    """Subgradient optimisation of the bound from multipliers ``lam`` (on return the best ones found).

    Parameters
    ----------
    c, d, cap, f : costs (sites, customers), demand, capacity, fixed cost
    total : demand to cover (``d.sum()``)
    status : int8 (sites,): 1 forced open, -1 closed, 0 free
    ub : objective of a known solution (the step's target)
    max_iter, step0 : iteration limit and first step factor
    patience : the step factor halves after this many iterations without a better bound
    cut : stop once the bound passes it (the known solution is then proven)
    v_best, y_best : out: site values and the relaxed choice of sites at the best multipliers
    y_avg : out: the relaxed choices averaged over the iterations (weight 0.1 on the newest), a primal estimate
        that branching reads

    Returns ``(bound, iterations)``.
    """
    m, n = c.shape
    cur = lam.copy()
    v = np.empty(m)
    share = np.zeros((m, n))
    y = np.zeros(m, np.bool_)
    g = np.empty(n)
    best = -np.inf
    step = step0
    stall = 0
    it = 0
    for it in range(1, max_iter + 1):
        site_values(c, d, cap, f, cur, v, share)
        kb = cover_knapsack(v, cap, total, status, y)
        for i in range(m):
            if it == 1:
                y_avg[i] = 1.0 if y[i] else 0.0
            else:
                y_avg[i] = 0.9 * y_avg[i] + (0.1 if y[i] else 0.0)
        bound = kb
        for j in range(n):
            bound += cur[j]
        if bound > best:
            if bound > best + 1e-12 * abs(bound):
                stall = 0
            best = bound
            lam[:] = cur
            v_best[:] = v
            y_best[:] = y
        else:
            stall += 1
            if stall >= patience:
                step *= 0.5
                stall = 0
        if best > cut or step < 1e-5 or bound == np.inf:
            break
        for j in range(n):
            g[j] = 1.0
        for i in range(m):
            if y[i]:
                for j in range(n):
                    g[j] -= share[i, j]
        norm = 0.0
        for j in range(n):
            norm += g[j] * g[j]
        if norm < 1e-18:
            break
        t = step * (ub - bound) / norm
        if t <= 0.0:
            t = step * 1e-3 * abs(bound) / norm
        for j in range(n):
            cur[j] += t * g[j]
    return best, it


@njit
def cover_knapsack_exact(v, cap, total, status, max_nodes):
    """``min sum v_i y_i`` s.t. ``sum cap_i y_i >= total``, ``y`` 0/1 with ``status``, by depth-first branch and
    bound over the items of positive value (sorted by value per unit of capacity; LP bound at each node). Items
    forced open or of value <= 0 are always in. Returns the optimum, or the LP bound when ``max_nodes`` nodes do
    not finish the search (still a valid lower bound), and ``inf`` when nothing covers ``total``."""
    m = v.shape[0]
    base = 0.0
    need = total
    k = 0
    idx = np.empty(m, np.int64)
    key = np.empty(m)
    for i in range(m):
        if status[i] == 1 or (status[i] == 0 and v[i] <= 0.0):
            base += v[i]
            need -= cap[i]
        elif status[i] == 0 and cap[i] > 0.0:
            idx[k] = i
            key[k] = v[i] / cap[i]
            k += 1
    if need <= 0.0:
        return base
    order = np.argsort(key[:k])
    vv = np.empty(k)
    cc = np.empty(k)
    room = 0.0
    for q in range(k):
        vv[q] = v[idx[order[q]]]
        cc[q] = cap[idx[order[q]]]
        room += cc[q]
    if room < need:
        return np.inf
    # greedy integral solution to start from: items in ratio order until covered
    acc = 0.0
    val = 0.0
    for q in range(k):
        acc += cc[q]
        val += vv[q]
        if acc >= need:
            break
    best = val
    stack_q = np.empty(2 * k + 2, np.int64)
    stack_r = np.empty(2 * k + 2)
    stack_v = np.empty(2 * k + 2)
    # depth-first over (next item, still needed, value so far); each item taken or skipped
    top = 0
    stack_q[0] = 0
    stack_r[0] = need
    stack_v[0] = 0.0
    nodes = 0
    lp_root = np.inf
    while top >= 0:
        q = stack_q[top]
        r = stack_r[top]
        cur = stack_v[top]
        top -= 1
        nodes += 1
        if nodes > max_nodes:
            break
        if r <= 0.0:
            if cur < best:
                best = cur
            continue
        # LP bound of the rest
        bnd = cur
        rr = r
        feas = False
        for t in range(q, k):
            if cc[t] >= rr:
                bnd += vv[t] * rr / cc[t]
                feas = True
                break
            bnd += vv[t]
            rr -= cc[t]
        if nodes == 1:
            lp_root = bnd
        if not feas or bnd >= best - 1e-12 * abs(best):
            continue
        # skip item q (pushed first), take item q (explored first)
        if q + 1 <= k:
            top += 1
            stack_q[top] = q + 1
            stack_r[top] = r
            stack_v[top] = cur
            top += 1
            stack_q[top] = q + 1
            stack_r[top] = r - cc[q]
            stack_v[top] = cur + vv[q]
    if nodes > max_nodes:
        return base + min(lp_root, best)
    return base + best
