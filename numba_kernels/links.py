"""Link performance: BPR travel times, their derivatives and integrals (the Beckmann objective).

``t(x) = fft * (1 + b * (x / cap) ** power)``; the generalized cost adds a flow-independent ``fixed``
term per link (``toll_weight * toll + distance_weight * length``).
"""

from __future__ import annotations

import numpy as np

from ._config import njit


@njit
def _ratio_pow(x, cap, power):
    r = x / cap
    if power == 4.0:
        r2 = r * r
        return r2 * r2
    if power == 1.0:
        return r
    if power == 0.0:
        return 1.0
    if r <= 0.0:
        return 0.0
    return r**power


@njit
def bpr_cost(fft, cap, b, power, fixed, flow, out):
    """Generalized cost per link at ``flow`` into ``out``."""
    for a in range(flow.shape[0]):
        if b[a] == 0.0:
            out[a] = fft[a] + fixed[a]
        else:
            out[a] = fft[a] * (1.0 + b[a] * _ratio_pow(flow[a], cap[a], power[a])) + fixed[a]


@njit
def bpr_derivative(fft, cap, b, power, flow, out):
    """d cost / d flow per link at ``flow`` into ``out``."""
    for a in range(flow.shape[0]):
        p = power[a]
        if b[a] == 0.0 or p == 0.0 or flow[a] <= 0.0:
            out[a] = 0.0 if (p != 1.0 or b[a] == 0.0) else fft[a] * b[a] / cap[a]
        else:
            out[a] = fft[a] * b[a] * p * _ratio_pow(flow[a], cap[a], p - 1.0) / cap[a]


@njit
def beckmann(fft, cap, b, power, fixed, flow):
    """Beckmann objective: sum over links of the integral of the generalized cost from 0 to ``flow``."""
    total = 0.0
    for a in range(flow.shape[0]):
        x = flow[a]
        if b[a] == 0.0:
            total += (fft[a] + fixed[a]) * x
        else:
            p = power[a]
            total += fft[a] * (x + b[a] * x * _ratio_pow(x, cap[a], p) / (p + 1.0)) + fixed[a] * x
    return total


@njit
def total_cost(cost, flow):
    """Total system travel cost (TSTT with generalized costs): sum of ``flow * cost``."""
    s = 0.0
    for a in range(flow.shape[0]):
        s += flow[a] * cost[a]
    return s


@njit
def _slope(fft, cap, b, power, fixed, x, d, lam):
    """Derivative of the Beckmann objective along ``d`` at ``x + lam * d``."""
    g = 0.0
    for a in range(x.shape[0]):
        da = d[a]
        if da == 0.0:
            continue
        xa = x[a] + lam * da
        if b[a] == 0.0:
            c = fft[a] + fixed[a]
        else:
            c = fft[a] * (1.0 + b[a] * _ratio_pow(xa, cap[a], power[a])) + fixed[a]
        g += c * da
    return g


@njit
def line_search(fft, cap, b, power, fixed, x, d, lam_max):
    """Exact line search: the step in ``[0, lam_max]`` minimising the Beckmann objective along ``d``.

    The objective is convex along the line, so its slope is non-decreasing; bisection on the slope runs
    until the bracket is below 1e-15 (about 50 halvings) or the slope is exactly zero.
    """
    lo = 0.0
    hi = lam_max
    if _slope(fft, cap, b, power, fixed, x, d, lo) >= 0.0:
        return 0.0
    if _slope(fft, cap, b, power, fixed, x, d, hi) <= 0.0:
        return hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        g = _slope(fft, cap, b, power, fixed, x, d, mid)
        if g == 0.0:
            return mid
        if g < 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def check_link_parameters(fft, cap, b, power, fixed):
    """Raise ``ValueError`` naming the first bad link (index) when BPR parameters cannot give a cost."""
    for name, arr in (("free_flow_time", fft), ("b", b), ("power", power), ("fixed cost", fixed)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            raise ValueError(f"link {bad[0]}: {name} = {float(arr[bad[0]])}; it must be finite and >= 0")
    bad = np.flatnonzero((b > 0) & ~(cap > 0))
    if bad.size:
        raise ValueError(f"link {bad[0]}: capacity {float(cap[bad[0]])} with BPR b = {float(b[bad[0]])}; "
                         "a congestible link needs capacity > 0")
