"""Route flows that reproduce traffic counts: a weighted least-absolute-deviation LP (OR-Tools, HiGHS or GLOP).

Variables are the flows ``x_k >= 0`` of candidate routes per departure interval. Count ``i`` is modelled as
``(A x)_i``, where ``A[i, k]`` is the share of route-interval ``k``'s vehicles that pass location ``i`` within
count ``i``'s interval. The LP is

    min  sum_i (s+_i + s-_i) / sqrt(max(c_i, 1))  +  lam * sum_k (u+_k + u-_k) / sqrt(max(x0_k, 1))
    s.t. A x - s+ + s- = c,   x - u+ + u- = x0,   x, s, u >= 0

The first term is close to the sum of GEH values (GEH ~ |m - c| / sqrt(c)); the second keeps the flows near
the prior ``x0`` where the counts leave them free (``lam`` small). With ``lam = 0`` the optimum is the best any
non-negative route flows can do: counts left with a residual then conflict with each other for every route
set drawn from the candidates (:func:`route_flows` reports them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._mip import mb_solve, mb_solver_name

__all__ = ["RouteFlowResult", "route_flows"]


@dataclass(frozen=True)
class RouteFlowResult:
    """Solver status, objective, the flows ``x`` and the modelled counts ``A x``."""

    status: str
    objective: float
    flows: np.ndarray
    modelled: np.ndarray
    solver: str


def route_flows(A, counts: np.ndarray, prior: np.ndarray, *, regularisation: float = 0.01,
                solver: str | None = None, time_limit_s: float | None = None) -> RouteFlowResult:
    """Solve the LP above. ``A`` is a scipy sparse ``(n_counts, n_routes)`` matrix.

    Raises ``RuntimeError`` when the solver returns no solution (the LP is always feasible, so this means
    a time limit or a solver failure).
    """
    import scipy.sparse as sp

    A = sp.csr_matrix(A, dtype=float)
    m, n = A.shape
    c = np.asarray(counts, dtype=float)
    x0 = np.asarray(prior, dtype=float)
    if c.shape != (m,) or x0.shape != (n,):
        raise ValueError(f"counts {c.shape} and prior {x0.shape} must match A {A.shape}")
    if not (np.all(np.isfinite(c)) and np.all(c >= 0) and np.all(np.isfinite(x0)) and np.all(x0 >= 0)):
        raise ValueError("counts and prior must be finite and >= 0")
    if not regularisation >= 0:
        raise ValueError(f"regularisation must be >= 0, got {regularisation!r}")
    wc = 1.0 / np.sqrt(np.maximum(c, 1.0))
    wx = regularisation / np.sqrt(np.maximum(x0, 1.0))
    I_m, I_n = sp.identity(m, format="csr"), sp.identity(n, format="csr")
    Z_mn, Z_nm = sp.csr_matrix((m, n)), sp.csr_matrix((n, m))
    # columns: x (n), s+ (m), s- (m), u+ (n), u- (n)
    rows = sp.vstack([sp.hstack([A, -I_m, I_m, Z_mn, Z_mn]), sp.hstack([I_n, Z_nm, Z_nm, -I_n, I_n])]).tocsr()
    obj = np.concatenate([np.zeros(n), wc, wc, wx, wx])
    rhs = np.concatenate([c, x0])
    nv = obj.size
    name = mb_solver_name(solver)
    res = mb_solve(np.zeros(nv), np.full(nv, np.inf), obj, rhs, rhs, rows, 0, 0.0, name, time_limit_s)
    if res.values is None:
        raise RuntimeError(f"route-flow LP: solver {name} returned {res.status}")
    x = np.maximum(res.values[:n], 0.0)
    return RouteFlowResult(res.status, res.objective, x, A @ x, name)
