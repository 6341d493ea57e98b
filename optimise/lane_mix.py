"""Choosing one booth configuration per period of a day, with limits on switching (CP-SAT).

Inputs are plain arrays: ``cost[p, c]`` (the delay of configuration ``c`` in period ``p``; ``inf`` where
it is infeasible, e.g. over capacity) and ``changes[c, d]`` (how many booths change type when the plaza
goes from configuration ``c`` to ``d``). The model picks one configuration per period minimising the
total cost subject to:

- at most ``max_changes`` booths change type between consecutive periods;
- at most ``max_switches`` period boundaries where the configuration changes at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LaneMixResult", "lane_mix_schedule"]


@dataclass(frozen=True)
class LaneMixResult:
    """Chosen configuration per period, with the solver's report."""

    choice: tuple[int, ...]
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float


def lane_mix_schedule(cost: np.ndarray, changes: np.ndarray, *, max_changes: int | None = None,
                      max_switches: int | None = None, scale: float = 1000.0, time_limit_s: float = 30.0,
                      seed: int = 0) -> LaneMixResult:
    """Optimal configuration sequence (see the module docstring).

    Parameters
    ----------
    cost : array (periods, configurations), finite or ``inf``
    changes : int array (configurations, configurations), zero on the diagonal
    max_changes : int, optional
        Booths that may change type at one period boundary.
    max_switches : int, optional
        Period boundaries at which anything may change.
    scale : float
        Costs are rounded to ``1 / scale`` for the integer model; the reported objective is recomputed exactly.
    """
    from ortools.sat.python import cp_model

    cost = np.asarray(cost, dtype=float)
    changes = np.asarray(changes, dtype=int)
    n_p, n_c = cost.shape
    if changes.shape != (n_c, n_c):
        raise ValueError(f"changes must be {n_c} x {n_c} (configurations), got {changes.shape}")
    feasible = np.isfinite(cost)
    if not feasible.any(axis=1).all():
        bad = [int(p) for p in np.nonzero(~feasible.any(axis=1))[0]]
        raise ValueError(f"periods {bad} have no feasible configuration")
    m = cp_model.CpModel()
    x = [[m.NewBoolVar(f"x{p}_{c}") if feasible[p, c] else None for c in range(n_c)] for p in range(n_p)]
    for p in range(n_p):
        m.AddExactlyOne([v for v in x[p] if v is not None])
    switched = []
    for p in range(n_p - 1):
        if max_changes is not None:
            for c in range(n_c):
                for d in range(n_c):
                    if x[p][c] is not None and x[p + 1][d] is not None and changes[c, d] > max_changes:
                        m.AddBoolOr([x[p][c].Not(), x[p + 1][d].Not()])
        if max_switches is not None:
            s = m.NewBoolVar(f"s{p}")
            for c in range(n_c):  # leaving configuration c at this boundary is a switch
                if x[p][c] is not None:
                    m.Add(x[p][c] - (x[p + 1][c] if x[p + 1][c] is not None else 0) <= s)
            switched.append(s)
    if max_switches is not None and switched:
        m.Add(sum(switched) <= max_switches)
    w = np.where(feasible, np.round(np.where(feasible, cost, 0.0) * scale), 0).astype(np.int64)
    m.Minimize(sum(int(w[p, c]) * x[p][c] for p in range(n_p) for c in range(n_c) if x[p][c] is not None))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = 2
    st = solver.Solve(m)
    status = solver.StatusName(st)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ValueError(f"lane-mix model: {status} (the switching limits leave no feasible schedule)")
    choice = tuple(next(c for c in range(n_c) if x[p][c] is not None and solver.Value(x[p][c])) for p in range(n_p))
    obj = float(sum(cost[p, c] for p, c in enumerate(choice)))
    bound = solver.BestObjectiveBound() / scale
    gap = 0.0 if st == cp_model.OPTIMAL else (abs(solver.ObjectiveValue() - solver.BestObjectiveBound())
                                              / max(abs(solver.ObjectiveValue()), 1e-9))
    return LaneMixResult(choice, obj, bound, gap if math.isfinite(gap) else math.inf, status, solver.WallTime())
