"""Maximal covering at scale: a Lagrangian bound of the coverage rows and the solutions it points at.

Relaxing ``z_i <= sum_{j covers i} y_j`` with multipliers ``mu_i >= 0`` splits the problem: a point is worth
``max(0, w_i - mu_i)`` on its own and a site ``sum_{i it covers} mu_i``, so the bound is
``sum_i max(0, w_i - mu_i)`` plus the ``p`` largest site values (Galvao & ReVelle 1996). Subgradient steps
lower it; the ``p`` sites each step picks are a solution, improved by swaps, so the bound usually meets the best
cover and proves it without a MIP.
"""

from __future__ import annotations

import math
import time

import numpy as np

#: Subgradient iterations at most, the step factor's patience (halved after this many without progress).
ITERATIONS, PATIENCE = 3000, 40


def _cover_weight(a, w: np.ndarray, sites) -> float:
    """Weight of the points (rows of the CSC 0/1 matrix ``a``) that ``sites`` cover."""
    hit = np.asarray(a[:, list(sites)].sum(axis=1)).ravel() > 0
    return float(w[hit].sum())


def lagrangian_cover(a, w: np.ndarray, p: int, start: list[int], deadline: float) -> tuple[list[int], float, float]:
    """Best cover found and the Lagrangian bound.

    Parameters
    ----------
    a : scipy.sparse CSC matrix (points, sites)
        1 where a site covers a point.
    w : array (points,)
        Weights, >= 0.
    p : int
        Sites to open.
    start : list of int
        A first solution (e.g. greedy).
    deadline : float
        ``time.perf_counter()`` seconds at which to stop.

    Returns
    -------
    (list of int, float, float)
        The best sites, the weight they cover, and the upper bound on any cover of ``p`` sites.
    """
    at = a.T.tocsr()
    m = a.shape[1]
    best_sites, best_val = list(start), _cover_weight(a, w, start)
    mu = w * 0.5
    bound = math.inf
    step = 2.0
    stall = 0
    seen: set = set()
    for _ in range(ITERATIONS):
        value = at @ mu
        top = np.argpartition(-value, p - 1)[:p] if p < m else np.arange(m)
        cur = float(np.maximum(w - mu, 0.0).sum() + value[top].sum())
        if cur < bound - 1e-12 * abs(cur):
            bound, stall = cur, 0
        else:
            stall += 1
            if stall >= PATIENCE:
                step *= 0.5
                stall = 0
        key = tuple(sorted(int(j) for j in top))
        if key not in seen:
            seen.add(key)
            val = _cover_weight(a, w, key)
            if val > best_val:
                best_sites, best_val = list(key), val
        if bound <= best_val * (1 + 1e-9) + 1e-9 or step < 1e-6 or time.perf_counter() > deadline:
            break
        # subgradient of the bound in mu: -1 where z_i = 1 (w_i > mu_i), + times covered by the chosen sites
        covered = np.asarray(a[:, top].sum(axis=1)).ravel()
        g = covered - (w > mu).astype(float)
        norm = float(g @ g)
        if norm == 0.0:
            break
        t = step * (bound - best_val) / norm
        mu = np.maximum(0.0, mu - t * g)
    best_sites, best_val = _swaps(a, w, best_sites, best_val, deadline)
    return best_sites, best_val, max(bound, best_val)


def _swaps(a, w: np.ndarray, sites: list[int], val: float, deadline: float) -> tuple[list[int], float]:
    """Best-improvement swaps of one open site for one closed site, to a local optimum or ``deadline``.

    For open site ``o`` and closed site ``c`` the change is ``gain_c - loss_o + overlap_co``: the uncovered weight
    ``c`` adds, less the weight only ``o`` covers, plus the part of it ``c`` covers too (one sparse product)."""
    import scipy.sparse as sp

    sites = list(sites)
    while time.perf_counter() < deadline:
        sub = a[:, sites]
        count = np.asarray(sub.sum(axis=1)).ravel()
        alone = sp.csc_matrix(sub.multiply((w * (count == 1))[:, None]))  # weight each open site alone covers
        loss = np.asarray(alone.sum(axis=0)).ravel()
        gain = a.T @ (w * (count == 0))
        overlap = (a.T @ alone).toarray()  # (sites, open sites)
        delta = gain[:, None] - loss[None, :] + overlap
        delta[sites, :] = -np.inf
        k = int(np.argmax(delta))
        j_in, o = divmod(k, len(sites))
        if not delta[j_in, o] > 1e-9 * max(1.0, val):
            break
        sites[o] = int(j_in)
        val = _cover_weight(a, w, sites)
    return sites, val
