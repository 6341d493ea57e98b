"""Assignment of parking-seeking vehicles to parking areas: a min-cost flow (OR-Tools).

``parking_assignment(cost, capacity)`` sends every vehicle ``i`` to at most one area ``j`` with free
capacity ``capacity[j]``, minimising the sum of ``cost[i, j]`` (e.g. drive time to the area plus the weighted
walk from it to the vehicle's destination). A vehicle may stay unassigned at ``unassigned_cost`` (when
demand exceeds the free capacity, or no area is worth it); ``inf`` in ``cost`` forbids a pair.

The transportation problem is totally unimodular, so OR-Tools' network simplex
(``SimpleMinCostFlow``) gives an integral optimum. Costs are scaled to integers: the optimum is exact for
costs rounded to ``1 / scale`` (reported as ``cost_resolution``), and ``gap`` is 0 when the solve is optimal.

>>> import numpy as np
>>> r = parking_assignment(np.array([[1.0, 5.0], [2.0, 3.0]]), np.array([1, 1]))
>>> r.lot.tolist(), r.objective, r.status
([0, 1], 4.0, 'OPTIMAL')
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["ParkingAssignment", "parking_assignment"]


@dataclass(frozen=True)
class ParkingAssignment:
    """The assignment and the solver's report.

    Attributes
    ----------
    lot : array of int (vehicles,)
        The area each vehicle is sent to, -1 when unassigned.
    objective : float
        Sum of the (unrounded) costs of the assignment, unassigned vehicles at ``unassigned_cost``.
    status : str
        OPTIMAL, INFEASIBLE (every vehicle must be assigned and the capacity is short) or the solver's status.
    gap : float
        Relative optimality gap (0 when OPTIMAL).
    cost_resolution : float
        Costs were rounded to multiples of this before solving.
    solve_time_s : float
    """

    lot: np.ndarray
    objective: float
    status: str
    gap: float
    cost_resolution: float
    solve_time_s: float

    @property
    def assigned(self) -> int:
        return int((self.lot >= 0).sum())


def parking_assignment(cost: np.ndarray, capacity: np.ndarray, *, unassigned_cost: float | None = None
                       ) -> ParkingAssignment:
    """Optimal assignment of vehicles (rows of ``cost``) to areas (columns) within ``capacity``.

    Parameters
    ----------
    cost : array (vehicles, areas)
        Cost of sending vehicle i to area j; ``inf`` forbids the pair. Must be finite or inf, >= 0.
    capacity : array of int (areas,)
        Free spaces of each area (negative counts as 0).
    unassigned_cost : float, optional
        Cost of leaving a vehicle unassigned. None: every vehicle must be assigned (INFEASIBLE if it cannot).
    """
    from ortools.graph.python import min_cost_flow

    c = np.asarray(cost, dtype=float)
    cap = np.maximum(np.asarray(capacity, dtype=np.int64).ravel(), 0)
    if c.ndim != 2 or c.shape[1] != cap.size:
        raise ValueError(f"cost must be (vehicles, areas) with areas = len(capacity) = {cap.size}; got {c.shape}")
    if np.isnan(c).any() or (c < 0).any():
        raise ValueError("cost must be >= 0 (inf forbids a pair); it holds NaN or negative entries")
    if unassigned_cost is not None and not (np.isfinite(unassigned_cost) and unassigned_cost >= 0):
        raise ValueError(f"unassigned_cost must be finite and >= 0, got {unassigned_cost}")
    n, m = c.shape
    t0 = time.perf_counter()
    if n == 0:
        return ParkingAssignment(np.zeros(0, dtype=np.int64), 0.0, "OPTIMAL", 0.0, 0.0, 0.0)
    finite = np.isfinite(c)
    top = max(float(c[finite].max()) if finite.any() else 0.0, unassigned_cost or 0.0, 1e-9)
    # integer costs: fine resolution while n * max cost stays far inside int64
    scale = min(1e6, 1e15 / (top * (n + 1)))
    ic = np.rint(np.where(finite, c, 0.0) * scale).astype(np.int64)
    f = min_cost_flow.SimpleMinCostFlow()
    sink = n + m
    vi, lj = np.nonzero(finite)
    arcs_v = f.add_arcs_with_capacity_and_unit_cost(vi.astype(np.int64), (n + lj).astype(np.int64),
                                                    np.ones(vi.size, dtype=np.int64), ic[vi, lj])
    f.add_arcs_with_capacity_and_unit_cost(np.arange(n, n + m, dtype=np.int64), np.full(m, sink, dtype=np.int64),
                                           cap, np.zeros(m, dtype=np.int64))
    if unassigned_cost is not None:
        f.add_arcs_with_capacity_and_unit_cost(np.arange(n, dtype=np.int64), np.full(n, sink, dtype=np.int64),
                                               np.ones(n, dtype=np.int64),
                                               np.full(n, round(unassigned_cost * scale), dtype=np.int64))
    f.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64),
                         np.concatenate([np.ones(n, dtype=np.int64), np.zeros(m, dtype=np.int64), [-n]]))
    st = f.solve()
    name = {f.OPTIMAL: "OPTIMAL", f.INFEASIBLE: "INFEASIBLE", f.UNBALANCED: "INFEASIBLE"}.get(st, str(st))
    lot = np.full(n, -1, dtype=np.int64)
    if st != f.OPTIMAL:
        return ParkingAssignment(lot, float("nan"), name, float("nan"), 1.0 / scale, time.perf_counter() - t0)
    flows = f.flows(arcs_v)
    used = flows > 0
    lot[vi[used]] = lj[used]
    obj = float(c[vi[used], lj[used]].sum()) + (n - int(used.sum())) * float(unassigned_cost or 0.0)
    return ParkingAssignment(lot, obj, "OPTIMAL", 0.0, 1.0 / scale, time.perf_counter() - t0)
