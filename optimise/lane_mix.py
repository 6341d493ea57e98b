"""Choosing one booth configuration per period of a day, with limits on switching (CP-SAT).

Inputs are plain arrays: ``cost[p, c]`` (the delay of configuration ``c`` in period ``p``; ``inf`` where
it is infeasible, e.g. over capacity), ``counts[c, t]`` (how many booths of type ``t`` configuration ``c``
has). The model picks one configuration per period minimising the total cost subject to:

- at most ``max_changes`` booths change type between consecutive periods;
- at most ``max_switches`` period boundaries where the configuration changes at all.

A booth changes type when the counts differ: ``sum_t |n_t(p) - n_t(p+1)| / 2`` booths are re-signed.
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


def lane_mix_schedule(cost: np.ndarray, counts: np.ndarray, *, max_changes: int | None = None,
                      max_switches: int | None = None, scale: float = 1000.0, time_limit_s: float = 30.0,
                      seed: int = 0) -> LaneMixResult:
    """Optimal configuration sequence (see the module docstring).

    Parameters
    ----------
    cost : array (periods, configurations), finite or ``inf``
    counts : int array (configurations, booth types)
    max_changes : int, optional
        Booths that may change type at one period boundary.
    max_switches : int, optional
        Period boundaries at which anything may change.
    scale : float
        Costs are rounded to ``1 / scale`` for the integer model; the reported objective is recomputed exactly.
    """
    from ortools.sat.python import cp_model

    cost = np.asarray(cost, dtype=float)
    counts = np.asarray(counts, dtype=int)
    n_p, n_c = cost.shape
    if counts.shape[0] != n_c:
        raise ValueError(f"counts has {counts.shape[0]} configurations, cost has {n_c}")
    feasible = np.isfinite(cost)
    if not feasible.any(axis=1).all():
        bad = [int(p) for p in np.nonzero(~feasible.any(axis=1))[0]]
        raise ValueError(f"periods {bad} have no feasible configuration")
    m = cp_model.CpModel()
    x = [[m.NewBoolVar(f"x{p}_{c}") if feasible[p, c] else None for c in range(n_c)] for p in range(n_p)]
    for p in range(n_p):
        m.AddExactlyOne([v for v in x[p] if v is not None])
    n_t = counts.shape[1]
    n = [[m.NewIntVar(0, int(counts[:, t].max()), f"n{p}_{t}") for t in range(n_t)] for p in range(n_p)]
    for p in range(n_p):
        for t in range(n_t):
            m.Add(n[p][t] == sum(int(counts[c, t]) * x[p][c] for c in range(n_c) if x[p][c] is not None))
    switched = []
    for p in range(n_p - 1):
        diffs = []
        for t in range(n_t):
            d = m.NewIntVar(0, int(counts[:, t].max()), f"d{p}_{t}")
            m.AddAbsEquality(d, n[p][t] - n[p + 1][t])
            diffs.append(d)
        if max_changes is not None:
            m.Add(sum(diffs) <= 2 * max_changes)
        if max_switches is not None:
            s = m.NewBoolVar(f"s{p}")
            m.Add(sum(diffs) == 0).OnlyEnforceIf(s.Not())
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
