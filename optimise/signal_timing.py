"""Fixed-time signal timing: Webster's method and a CP-SAT model for cycle, splits and offsets.

Plain arrays in, frozen dataclasses out; no SUMO, no networks.

A junction is described by its lane groups and stages (:class:`JunctionTiming`):

- ``y[l]``: flow ratio of lane group ``l`` (demand / saturation flow);
- ``serve[l, k]``: how much of lane group ``l``'s flow moves when stage ``k`` is green (1 for a
  protected movement, a credit below 1 for a permissive one, 0 if not served);
- ``lost_s[k]``: clearance (yellow + all-red) after stage ``k``; ``min_green_s``, ``max_green_s``.

**Critical flow ratios.** With stages that share movements (a permissive left turn served in two
stages, a through movement that overlaps), the critical ratio of each stage is not a simple maximum.
:func:`critical_ratios` solves the linear programme ``min sum_k Y_k`` s.t. ``serve @ Y >= y``,
``Y >= 0``: the smallest total flow ratio whose stages, given green in proportion to ``Y_k``, serve
every lane group at the same degree of saturation. Without overlaps it is Webster's
``Y_k = max_l y_l`` over the lane groups of stage ``k``.

**Webster (1958).** Cycle ``C0 = (1.5 L + 5) / (1 - Y)`` with ``L`` the total lost time, greens
``g_k = (C0 - L) Y_k / Y`` (:func:`webster_timing`).

**CP-SAT model** (:func:`optimise_timing`): one common cycle ``C`` for the junctions of a coordinated
group, integer green times and offsets, minimising (all in vehicle-seconds per hour)

- the flow-weighted distance of ``C`` from each junction's Webster cycle (weight ``cycle_weight``;
  Webster's delay curve is flat near ``C0``, so this term is small);
- the green each junction lacks to reach its best possible degree of saturation at that cycle
  (``G/Y`` per unit flow ratio, the equisaturation split), weighted by the junction's flow;
- for each coordinated link ``(up stage -> down stage, travel time)``, the flow-weighted gap between
  the platoon's arrival (green start upstream + travel time) and the start of the downstream green,
  modulo the cycle (weight ``offset_weight``).

On an isolated junction the optimum is Webster's cycle and splits (rounded to whole seconds).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CoordinationLink",
    "JunctionTiming",
    "TimingResult",
    "critical_ratios",
    "optimise_timing",
    "webster_cycle",
    "webster_timing",
]


@dataclass(frozen=True)
class JunctionTiming:
    """Timing problem of one junction (see the module docstring)."""

    y: np.ndarray
    serve: np.ndarray
    flow_veh_h: np.ndarray
    lost_s: np.ndarray
    min_green_s: np.ndarray
    max_green_s: np.ndarray

    def __post_init__(self) -> None:
        n_l, n_k = np.shape(self.serve)
        if np.shape(self.y) != (n_l,) or np.shape(self.flow_veh_h) != (n_l,):
            raise ValueError(f"y and flow_veh_h must have one value per lane group ({n_l})")
        for name in ("lost_s", "min_green_s", "max_green_s"):
            if np.shape(getattr(self, name)) != (n_k,):
                raise ValueError(f"{name} must have one value per stage ({n_k})")
        if np.any(np.asarray(self.y) < 0) or np.any(np.asarray(self.serve) < 0):
            raise ValueError("flow ratios and service credits must be >= 0")
        if np.any(np.asarray(self.min_green_s) > np.asarray(self.max_green_s)):
            raise ValueError("min_green_s exceeds max_green_s for some stage")

    @property
    def n_stages(self) -> int:
        return int(np.shape(self.serve)[1])


@dataclass(frozen=True)
class CoordinationLink:
    """A platoon leaving junction ``up`` at the start of stage ``up_stage`` and reaching junction
    ``down`` after ``travel_s`` seconds, where it should meet the start of stage ``down_stage``."""

    up: int
    up_stage: int
    down: int
    down_stage: int
    travel_s: float
    flow_veh_h: float


@dataclass(frozen=True)
class TimingResult:
    """Solution of :func:`optimise_timing` (or :func:`webster_timing`).

    ``greens_s[j]`` are junction ``j``'s stage greens; ``offsets_s[j]`` the time of the start of its
    stage 0 modulo the cycle. ``status`` is the solver's (``OPTIMAL``, ``FEASIBLE``, ...), ``gap`` the
    relative gap between ``objective`` and ``bound``.
    """

    cycle_s: float
    greens_s: list[np.ndarray]
    offsets_s: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float
    webster_cycle_s: np.ndarray
    critical_ratio: np.ndarray
    details: dict[str, float] = field(default_factory=dict)


def critical_ratios(y: np.ndarray, serve: np.ndarray) -> np.ndarray:
    """Stage critical flow ratios ``Y_k`` (see the module docstring), by GLOP.

    Lane groups with no flow, or served by no stage, are ignored.
    """
    from ortools.linear_solver import pywraplp

    y = np.asarray(y, dtype=np.float64)
    serve = np.asarray(serve, dtype=np.float64)
    _n_l, n_k = serve.shape
    keep = (y > 1e-12) & (serve.sum(axis=1) > 0)
    if not keep.any():
        return np.zeros(n_k)
    s = pywraplp.Solver.CreateSolver("GLOP")
    v = [s.NumVar(0.0, s.infinity(), f"Y{k}") for k in range(n_k)]
    for ell in np.flatnonzero(keep):
        s.Add(sum(float(serve[ell, k]) * v[k] for k in range(n_k) if serve[ell, k] > 0) >= float(y[ell]))
    s.Minimize(sum(v))
    if s.Solve() != pywraplp.Solver.OPTIMAL:  # pragma: no cover - a bounded feasible LP
        raise RuntimeError("critical flow ratio LP did not solve to optimality")
    return np.array([max(x.solution_value(), 0.0) for x in v])


def webster_cycle(lost_s: float, y_total: float, *, bounds: tuple[float, float] = (30.0, 150.0)) -> float:
    """Webster's optimal cycle ``(1.5 L + 5) / (1 - Y)``, s, clipped to ``bounds`` (upper bound when Y >= 0.95)."""
    lo, hi = bounds
    if y_total >= 0.95:
        return hi
    return float(min(max((1.5 * lost_s + 5.0) / (1.0 - y_total), lo), hi))


def _proportional(total: float, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` within ``[lo, hi]`` (water filling)."""
    g = np.zeros_like(weights, dtype=np.float64)
    free = np.ones(len(weights), dtype=bool)
    for _ in range(len(weights) + 1):
        rest = total - g[~free].sum()
        w = np.where(free, weights, 0.0)
        g[free] = rest * w[free] / w.sum() if w.sum() > 0 else rest / free.sum()
        low, high = free & (g < lo), free & (g > hi)
        if not low.any() and not high.any():
            break
        g[low], g[high] = lo[low], hi[high]
        free &= ~(low | high)
        if not free.any():
            break
    return g


def webster_timing(j: JunctionTiming, *, bounds: tuple[float, float] = (30.0, 150.0), integer: bool = True) -> TimingResult:
    """Webster's cycle and equisaturation greens for one isolated junction."""
    t0 = time.perf_counter()
    yk = critical_ratios(j.y, j.serve)
    y_total = float(yk.sum())
    lost = float(np.sum(j.lost_s))
    c0 = webster_cycle(lost, y_total, bounds=bounds)
    greens = _proportional(c0 - lost, yk, np.asarray(j.min_green_s, float), np.asarray(j.max_green_s, float))
    if integer:
        greens = _round_keep_sum(greens, round(c0 - lost), np.asarray(j.min_green_s, float))
    cycle = float(greens.sum() + lost)
    return TimingResult(cycle_s=cycle, greens_s=[greens], offsets_s=np.zeros(1), objective=float("nan"),
                        bound=float("nan"), gap=0.0, status="WEBSTER", solve_time_s=time.perf_counter() - t0,
                        webster_cycle_s=np.array([c0]), critical_ratio=np.array([y_total]))


def _round_keep_sum(g: np.ndarray, total: float, lo: np.ndarray) -> np.ndarray:
    """Round to whole seconds keeping the sum (largest remainders) and the minimum greens."""
    base = np.maximum(np.floor(g), np.ceil(lo - 1e-9))
    short = round(total - base.sum())
    order = np.argsort(-(g - np.floor(g)))
    for i in range(max(short, 0)):
        base[order[i % len(g)]] += 1
    for i in order[::-1]:  # too long (the total was rounded down): shorten the smallest remainders first
        if short >= 0:
            break
        if base[i] - 1 >= lo[i] - 1e-9:
            base[i] -= 1
            short += 1
    return base


def optimise_timing(
    junctions: Sequence[JunctionTiming],
    links: Sequence[CoordinationLink] = (),
    *,
    cycle_bounds_s: tuple[float, float] = (30.0, 150.0),
    cycle_s: float | None = None,
    cycle_weight: float = 0.1,
    offset_weight: float = 0.5,
    time_limit_s: float = 10.0,
    resolution_s: float = 0.1,
    fixed_greens_s: Sequence[np.ndarray] | None = None,
    seed: int = 0,
    workers: int = 1,
) -> TimingResult:
    """Common cycle, integer greens and offsets for a group of junctions, by OR-Tools CP-SAT.

    Parameters
    ----------
    junctions : list of JunctionTiming
    links : list of CoordinationLink
        Pairs of junctions to coordinate; without links offsets are 0.
    cycle_bounds_s : (float, float), s
    cycle_s : float, optional
        Fix the cycle (used to explore cycles around the optimum).
    cycle_weight, offset_weight : float
        Weights of the cycle and offset terms against the split term (see the module docstring).
    time_limit_s : float, s
    resolution_s : float, s
        Time step of the model: cycle, greens and offsets are multiples of it. With ``links``, the
        cycle and greens are found first at this resolution, then rounded to whole seconds and the
        offsets optimised for them (``details`` holds the first step's status and gap).
    fixed_greens_s : list of arrays, optional
        Fix every junction's greens (with ``cycle_s``): only the offsets are optimised.
    seed, workers : int
        CP-SAT's random seed and number of search workers (1 keeps runs reproducible).
    """
    from ortools.sat.python import cp_model

    if not junctions:
        raise ValueError("optimise_timing needs at least one junction")
    t0 = time.perf_counter()
    first: TimingResult | None = None
    if links and fixed_greens_s is None:
        # cycle and splits first, then the offsets for those timings in whole seconds: the offset
        # model alone is linear (the cycle is a constant) and CP-SAT proves it optimal quickly
        first = optimise_timing(junctions, (), cycle_bounds_s=cycle_bounds_s, cycle_s=cycle_s, cycle_weight=cycle_weight,
                                time_limit_s=time_limit_s, resolution_s=resolution_s, seed=seed, workers=workers)
        cycle_s = float(round(first.cycle_s))
        fixed_greens_s = [_round_keep_sum(g, cycle_s - float(np.sum(np.round(j.lost_s))), np.asarray(j.min_green_s, float))
                          for g, j in zip(first.greens_s, junctions, strict=True)]
        resolution_s = 1.0
    if resolution_s <= 0:
        raise ValueError(f"resolution_s must be positive, got {resolution_s}")
    u = float(resolution_s)

    def units(x: float) -> int:
        return round(float(x) / u)

    lo, hi = math.ceil(cycle_bounds_s[0] / u - 1e-9), math.floor(cycle_bounds_s[1] / u + 1e-9)
    if cycle_s is not None:
        lo = hi = units(cycle_s)
    m = cp_model.CpModel()
    cyc = m.NewIntVar(lo, hi, "cycle")
    obj = []
    greens_v: list[list[cp_model.IntVar]] = []
    starts: list[list[cp_model.LinearExpr]] = []
    offsets = []
    c0s, ys = [], []
    scale = 1000
    for jn, j in enumerate(junctions):
        yk = critical_ratios(j.y, j.serve)
        y_total = float(yk.sum())
        lost = sum(units(x) for x in j.lost_s)
        c0s.append(webster_cycle(lost * u, y_total, bounds=(lo * u, hi * u)) if cycle_s is None else lo * u)
        ys.append(y_total)
        mn = [math.ceil(x / u - 1e-9) for x in j.min_green_s]
        mx = [math.floor(x / u + 1e-9) for x in j.max_green_s]
        if sum(mn) + lost > hi or sum(mx) + lost < lo:
            raise ValueError(f"junction {jn}: minimum/maximum greens ({sum(mn) * u:g}/{sum(mx) * u:g} s) plus lost time ({lost * u:g} s) "
                             f"cannot fit a cycle in [{lo * u:g}, {hi * u:g}] s")
        if fixed_greens_s is not None:
            mn = mx = [units(x) for x in fixed_greens_s[jn]]
        g = [m.NewIntVar(mn[k], mx[k], f"g{jn}_{k}") for k in range(j.n_stages)]
        greens_v.append(g)
        m.Add(sum(g) + lost == cyc)
        q = float(np.sum(j.flow_veh_h))
        # split term: t = green per unit flow ratio that every lane group gets; its best is (C - L) / Y
        t = m.NewIntVar(0, hi * scale * 100, f"t{jn}")
        for ell in range(len(j.y)):
            if j.y[ell] <= 1e-9 or j.serve[ell].sum() <= 0:
                continue
            # sum_k serve[l, k] g_k >= y_l t, with t in ms per unit flow ratio
            served = sum(round(j.serve[ell, k] * scale) * g[k] for k in range(j.n_stages) if j.serve[ell, k] > 0)
            m.Add(served * scale >= round(j.y[ell] * scale) * t)
        if y_total > 1e-9:
            deficit = m.NewIntVar(0, hi * scale, f"d{jn}")
            # deficit (ms of green) >= (C - L) - Y t / scale
            m.Add(deficit * scale >= (cyc - lost) * scale * scale - round(y_total * scale) * t)
            obj.append((round(q), deficit))  # veh/h x ms
        dev = m.NewIntVar(0, hi, f"dev{jn}")
        c0r = units(c0s[-1])
        m.Add(dev >= cyc - c0r)
        m.Add(dev >= c0r - cyc)
        obj.append((round(q * cycle_weight * scale), dev))
        acc: list[cp_model.LinearExpr] = []
        run: cp_model.LinearExpr = 0  # type: ignore[assignment]
        for k in range(j.n_stages):
            acc.append(run)
            run = run + g[k] + units(j.lost_s[k])
        starts.append(acc)
        o = m.NewIntVar(0, hi - 1, f"o{jn}")
        m.Add(o <= cyc - 1)
        offsets.append(o)
    for i, lk in enumerate(links):
        if lk.up == lk.down:
            continue
        n = m.NewIntVar(-4, 4, f"n{i}")
        if lo == hi:
            nc = n * lo
        else:
            nc = m.NewIntVar(-4 * hi, 4 * hi, f"nc{i}")
            m.AddMultiplicationEquality(nc, [n, cyc])
        e = m.NewIntVar(-hi, hi, f"e{i}")
        arrive = offsets[lk.up] + starts[lk.up][lk.up_stage] + units(lk.travel_s)
        m.Add(e == offsets[lk.down] + starts[lk.down][lk.down_stage] - arrive + nc)
        m.Add(2 * e <= cyc)
        m.Add(2 * e >= -cyc)
        a = m.NewIntVar(0, hi, f"a{i}")
        m.AddAbsEquality(a, e)
        obj.append((round(lk.flow_veh_h * offset_weight * scale), a))
    if not links:
        for o in offsets:
            m.Add(o == 0)
    m.Minimize(sum(w * v for w, v in obj))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    st = solver.Solve(m)
    name = solver.StatusName(st)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"signal timing model: CP-SAT status {name} after {solver.WallTime():.1f} s")
    c = round(solver.Value(cyc) * u, 6)
    greens = [np.round(np.array([solver.Value(v) * u for v in g]), 6) for g in greens_v]
    offs = np.round(np.array([solver.Value(o) * u for o in offsets]), 6)
    objective, bound = solver.ObjectiveValue() * u / scale, solver.BestObjectiveBound() * u / scale
    gap = abs(objective - bound) / max(abs(objective), 1e-9) if objective else 0.0
    details = {}
    if first is not None:
        details = {"cycle_stage_status": first.status, "cycle_stage_gap": first.gap, "cycle_stage_objective": first.objective}
        c0s = list(first.webster_cycle_s)
    return TimingResult(cycle_s=c, greens_s=greens, offsets_s=offs, objective=objective, bound=bound, gap=gap,
                        status=name, solve_time_s=time.perf_counter() - t0, webster_cycle_s=np.array(c0s),
                        critical_ratio=np.array(ys), details=details)
