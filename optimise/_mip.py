"""Shared MIP plumbing for the optimise models: OR-Tools solvers, their status and a proven optimum.

Two ways in: :func:`solver`/:func:`solve` for models written with ``pywraplp`` expressions, and
:func:`mb_solve` for models given as one sparse matrix (OR-Tools' model builder), which builds large models
without a Python loop per coefficient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: MIP solvers tried in order (a model's ``solver`` argument picks one): HiGHS proves the OR-Library location
#: optima faster than SCIP here.
MIP_SOLVERS = ("HIGHS", "SCIP")

STATUS = {0: "OPTIMAL", 1: "FEASIBLE", 2: "INFEASIBLE", 3: "UNBOUNDED", 4: "ABNORMAL", 5: "MODEL_INVALID", 6: "NOT_SOLVED"}


def solver(time_limit_s: float | None, name: str | None = None):
    """A ``pywraplp`` MIP solver: ``name`` or the first available of :data:`MIP_SOLVERS`."""
    from ortools.linear_solver import pywraplp

    names = (name.upper(),) if name else MIP_SOLVERS
    for nm in names:
        s = pywraplp.Solver.CreateSolver(nm)
        if s is not None:
            break
    else:
        raise RuntimeError(f"OR-Tools offers none of the MIP solvers {names}")
    s.SuppressOutput()
    if time_limit_s is not None:
        s.SetTimeLimit(int(time_limit_s * 1000))
    return s


def solve(s) -> int:
    """Solve to a proven optimum (the solvers' default relative gaps, 1e-4, stop short of one)."""
    from ortools.linear_solver import pywraplp

    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 1e-9)
    return s.Solve(params)


@dataclass(frozen=True)
class MbResult:
    """Status, objective, best bound, variable values (None without a solution) and, for an LP, row duals."""

    status: str
    objective: float
    bound: float
    values: np.ndarray | None
    duals: np.ndarray | None = None


_GAP = {"highs": "mip_rel_gap=1e-9,output_flag=false", "scip": "limits/gap = 1e-9"}


def mb_solver_name(solver: str | None) -> str:
    """Model-builder name of ``solver``, or of the first available of :data:`MIP_SOLVERS`."""
    from ortools.linear_solver.python import model_builder as mb

    names = (solver,) if solver else MIP_SOLVERS
    for name in names:
        if mb.Solver(name.lower()).solver_is_supported():
            return name.lower()
    raise RuntimeError(f"OR-Tools offers none of the MIP solvers {names}")


def mb_solve(var_lo: np.ndarray, var_hi: np.ndarray, obj: np.ndarray, row_lo: np.ndarray, row_hi: np.ndarray,
             a, n_integer: int, offset: float, solver: str, time_limit_s: float | None,
             duals: bool = False, cutoff: float | None = None) -> MbResult:
    """Minimise ``obj x + offset`` s.t. ``row_lo <= a x <= row_hi``, bounds, the first ``n_integer`` integer,
    with OR-Tools' model builder (the model goes in as one sparse matrix); ``duals`` of an LP's rows on request.
    ``cutoff`` (HiGHS only): the solver prunes every node whose bound reaches it, so a MIP that finds nothing
    below it ends INFEASIBLE."""
    from ortools.linear_solver.python import model_builder as mb

    model = mb.Model()
    model.helper.fill_model_from_sparse_data(var_lo, var_hi, obj, row_lo, row_hi, a.tocsr())
    for j in range(n_integer):
        model.helper.set_var_integrality(j, True)
    model.helper.set_objective_offset(offset)
    s = mb.Solver(solver)
    params = _GAP.get(solver, "")
    if cutoff is not None and solver == "highs" and math.isfinite(cutoff):
        params += f",objective_bound={cutoff!r}"
    s.set_solver_specific_parameters(params)
    if time_limit_s is not None:
        s.set_time_limit_in_seconds(float(time_limit_s))
    st = s.solve(model).name
    if st in ("OPTIMAL", "FEASIBLE"):
        values = s.values(model.get_variables()).to_numpy()
        bound = s.best_objective_bound if n_integer else s.objective_value
        dual = s.dual_values(model.get_linear_constraints()).to_numpy() if duals else None
        return MbResult(st, float(s.objective_value), float(bound), values, dual)
    bound = math.inf if st == "INFEASIBLE" else -math.inf
    return MbResult(st, math.inf, bound, None)
