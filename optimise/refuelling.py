"""Flow-refuelling location (Kuby & Lim 2005) in the arc-cover form of Capar et al. (2013).

A flow is a round trip: a vehicle leaves its origin, drives to its destination and comes back, again and
again. With range ``R`` it completes the trip when, going round the cycle, it never drives more than
``R`` between two charging stops. Capar et al. write this as a cover: cut the cycle at every candidate site
it passes; each piece ("arc") must be reachable from an open site within ``R`` behind the arc's end.

Input is plain arrays. A round trip is a :class:`RoundTrip`: the candidate sites the cycle passes, the
position of each pass along the cycle (same length unit as ``R``), and the cycle's length. Build one from
a one-way path driven back the same way with :func:`round_trip`.

- :func:`flow_refuelling`: open ``p`` sites maximising the flow whose round trip can be completed;
- :func:`capacitated_flow_refuelling`: place a number of charging points, each serving a limited flow,
  maximising the flow served (Capar et al.'s capacitated arc-cover model);
- :func:`greedy_flow_refuelling`: the greedy baseline;
- :func:`trip_feasible`: the direct check (largest gap between open passes at most ``R``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._mip import STATUS as _STATUS
from ._mip import solve as _solve
from ._mip import solver as _solver

__all__ = ["RefuellingResult", "RoundTrip", "arc_cover_sets", "capacitated_flow_refuelling", "flow_refuelling",
           "greedy_flow_refuelling", "round_trip", "trip_feasible"]


@dataclass(frozen=True)
class RoundTrip:
    """One round trip as the passes it makes at candidate sites.

    Attributes
    ----------
    sites : int array
        Candidate site passed, one entry per pass (a site passed out and back appears twice).
    positions : float array
        Distance from the origin along the cycle at each pass, in ``[0, length)``.
    length : float
        Length of the whole round trip.
    """

    sites: np.ndarray
    positions: np.ndarray
    length: float


def round_trip(path_sites: Sequence[int] | np.ndarray, path_positions: Sequence[float] | np.ndarray,
               length: float) -> RoundTrip:
    """The round trip of a one-way path of length ``length`` driven back along the same way.

    ``path_sites[i]`` is a candidate site on the path (``-1`` for none) at ``path_positions[i]`` from the
    origin. A site at the origin or at the destination is passed once per cycle, any other twice.
    """
    s = np.asarray(path_sites, dtype=np.int64)
    d = np.asarray(path_positions, dtype=float)
    if s.shape != d.shape:
        raise ValueError(f"path_sites ({s.shape}) and path_positions ({d.shape}) must have one entry per stop")
    if length <= 0 or (d < 0).any() or (d > length + 1e-9).any():
        raise ValueError(f"positions must lie in [0, length] and length ({length}) be positive")
    keep = s >= 0
    s, d = s[keep], d[keep]
    back = (d > 1e-12) & (d < length - 1e-12)
    sites = np.concatenate([s, s[back]])
    pos = np.concatenate([d, 2 * length - d[back]])
    order = np.argsort(pos, kind="stable")
    return RoundTrip(sites[order], pos[order], 2.0 * float(length))


def _points(trip: RoundTrip) -> tuple[np.ndarray, list[set[int]]]:
    """Distinct pass positions along the cycle and the sites at each."""
    pos = np.asarray(trip.positions, dtype=float)
    sites = np.asarray(trip.sites, dtype=np.int64)
    if pos.shape != sites.shape:
        raise ValueError("a RoundTrip needs one position per site pass")
    if pos.size and ((pos < 0).any() or (pos >= trip.length).any()):
        raise ValueError(f"pass positions must lie in [0, length={trip.length})")
    uniq: list[float] = []
    groups: list[set[int]] = []
    for i in np.argsort(pos, kind="stable"):
        if uniq and abs(pos[i] - uniq[-1]) <= 1e-9:
            groups[-1].add(int(sites[i]))
        else:
            uniq.append(float(pos[i]))
            groups.append({int(sites[i])})
    return np.asarray(uniq), groups


def arc_cover_sets(trip: RoundTrip, range_: float) -> list[frozenset[int]]:
    """Capar et al.'s sets: for each arc of the cycle, the sites that, when open, let a vehicle drive it.

    The arcs are the pieces between consecutive passes at candidate sites; the arc ending at a pass can be
    driven after charging at any site passed at most ``range_`` before that end (the site at the end itself
    only if the whole cycle fits in the range). A trip that passes no candidate gets one empty set: it
    cannot be covered.
    """
    pos, groups = _points(trip)
    if pos.size == 0:
        return [frozenset()]
    L = float(trip.length)
    sets = []
    for i in range(pos.size):
        k: set[int] = set(groups[i]) if L <= range_ + 1e-9 else set()
        for j in range(pos.size):
            if j != i:
                back = (pos[i] - pos[j]) % L
                if back <= range_ + 1e-9:
                    k |= groups[j]
        sets.append(frozenset(k))
    return sets


def trip_feasible(trip: RoundTrip, open_sites: set[int] | frozenset[int], range_: float) -> bool:
    """Whether the round trip can be driven with chargers at ``open_sites``: no gap between charging
    opportunities along the cycle longer than ``range_`` (the direct definition, used to check the model)."""
    pos = np.sort(np.asarray(trip.positions, dtype=float)[np.isin(trip.sites, list(open_sites))])
    if pos.size == 0:
        return False
    gaps = np.diff(np.concatenate([pos, [pos[0] + trip.length]]))
    return bool(gaps.max() <= range_ + 1e-9)


@dataclass(frozen=True)
class RefuellingResult:
    """Chosen sites and the solver's report.

    Attributes
    ----------
    sites : tuple of int
        Open sites.
    points : tuple of int
        Charging points at each open site (1 each in the uncapacitated model).
    served : array (trips,)
        Share of each trip's flow served.
    objective : float
        Flow served, ``sum(flows * served)``.
    bound, gap : float
        Best proven bound and relative gap (NaN for the heuristic).
    status : str
    solve_time_s : float
    """

    sites: tuple[int, ...]
    points: tuple[int, ...]
    served: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_time_s: float


def _check(trips: Sequence[RoundTrip], flows: np.ndarray, n_sites: int, range_: float) -> np.ndarray:
    f = np.asarray(flows, dtype=float)
    if f.shape != (len(trips),) or (f < 0).any() or not np.isfinite(f).all():
        raise ValueError(f"flows must be {len(trips)} non-negative numbers, one per round trip")
    if not range_ > 0:
        raise ValueError(f"range must be positive, got {range_}")
    for q, t in enumerate(trips):
        bad = [int(s) for s in np.asarray(t.sites) if not 0 <= s < n_sites]
        if bad:
            raise ValueError(f"round trip {q} passes site {bad[0]}, outside 0..{n_sites - 1}")
    return f


def _coverable(trips: Sequence[RoundTrip], f: np.ndarray, range_: float):
    """``(q, arc cover sets)`` of every trip with flow that some set of open sites can complete."""
    for q, t in enumerate(trips):
        sets = arc_cover_sets(t, range_)
        if f[q] > 0 and all(sets):
            yield q, sets


def _report(s, st: int) -> tuple[str, float, float, float]:
    status = _STATUS.get(st, str(st))
    if status not in ("OPTIMAL", "FEASIBLE"):
        raise ValueError(f"flow-refuelling model: solver status {status}")
    obj = s.Objective().Value()
    bound = s.Objective().BestBound()
    gap = abs(bound - obj) / max(abs(obj), 1e-12) if obj or bound else 0.0
    return status, float(obj), float(bound), float(gap)


def flow_refuelling(trips: Sequence[RoundTrip], flows: np.ndarray, p: int, range_: float, *, n_sites: int,
                    time_limit_s: float | None = None) -> RefuellingResult:
    """Open ``p`` of ``n_sites`` sites maximising the flow whose round trips can be completed with range
    ``range_`` (Kuby & Lim's FRLM, arc-cover form of Capar et al. 2013).

    ``max sum_q f_q y_q`` s.t. ``sum_{k in K_qa} x_k >= y_q`` for every arc ``a`` of trip ``q``,
    ``sum_k x_k = p``; ``x`` binary, ``y`` in [0, 1] (integral at an optimum).
    """
    f = _check(trips, flows, n_sites, range_)
    if not 1 <= p <= n_sites:
        raise ValueError(f"p must be between 1 and the number of sites ({n_sites}), got {p}")
    s = _solver(time_limit_s)
    x = [s.BoolVar(f"x{k}") for k in range(n_sites)]
    y: list = [None] * len(trips)
    for q, sets in _coverable(trips, f, range_):
        y[q] = s.NumVar(0, 1, f"y{q}")
        for k in set(sets):
            s.Add(sum(x[j] for j in sorted(k)) >= y[q])
    s.Add(sum(x) == p)
    s.Maximize(sum(f[q] * v for q, v in enumerate(y) if v is not None))
    status, _, bound, _ = _report(s, _solve(s))
    sites = tuple(k for k in range(n_sites) if x[k].solution_value() > 0.5)
    served = np.array([1.0 if trip_feasible(t, set(sites), range_) else 0.0 for t in trips])
    obj = float((f * served).sum())
    gap = abs(bound - obj) / max(abs(obj), 1e-12) if obj or bound else 0.0
    return RefuellingResult(sites, (1,) * len(sites), served, obj, bound, float(gap), status, s.wall_time() / 1000.0)


def capacitated_flow_refuelling(trips: Sequence[RoundTrip], flows: np.ndarray, range_: float, *, n_sites: int,
                                points: int, point_capacity: float, max_points: np.ndarray | int | None = None,
                                p: int | None = None, time_limit_s: float | None = None) -> RefuellingResult:
    """Place ``points`` charging points at the sites, each serving at most ``point_capacity`` flow, to
    serve the most flow (capacitated arc-cover FRLM, Capar et al. 2013).

    Variables: ``n_k`` points at site ``k`` (integer, at most ``max_points[k]``), ``y_q`` share of trip
    ``q`` served, ``g_qk`` share of trip ``q`` charging at ``k``. For every arc ``a`` of ``q``:
    ``sum_{k in K_qa} g_qk >= y_q``; at every site ``sum_q f_q g_qk <= point_capacity * n_k``;
    ``sum_k n_k <= points``; optionally at most ``p`` sites open.
    """
    f = _check(trips, flows, n_sites, range_)
    if points < 1 or not point_capacity > 0:
        raise ValueError(f"points ({points}) must be >= 1 and point_capacity ({point_capacity}) positive")
    mx = np.full(n_sites, points, dtype=np.int64) if max_points is None else np.broadcast_to(
        np.asarray(max_points, dtype=np.int64), (n_sites,))
    if (mx < 0).any():
        raise ValueError("max_points must be non-negative")
    s = _solver(time_limit_s)
    n = [s.IntVar(0, int(min(mx[k], points)), f"n{k}") for k in range(n_sites)]
    o = [s.BoolVar(f"o{k}") for k in range(n_sites)]
    for k in range(n_sites):
        s.Add(n[k] <= int(min(mx[k], points)) * o[k])
        s.Add(n[k] >= o[k])
    load: dict[int, list] = {}
    y: list = [None] * len(trips)
    for q, sets in _coverable(trips, f, range_):
        y[q] = s.NumVar(0, 1, f"y{q}")
        g = {k: s.NumVar(0, 1, f"g{q}_{k}") for k in sorted(set().union(*sets))}
        for k in set(sets):
            s.Add(sum(g[j] for j in sorted(k)) >= y[q])
        for k, v in g.items():
            s.Add(v <= o[k])
            load.setdefault(k, []).append(f[q] * v)
    for k, terms in load.items():
        s.Add(sum(terms) <= point_capacity * n[k])
    s.Add(sum(n) <= points)
    if p is not None:
        s.Add(sum(o) <= p)
    s.Maximize(sum(f[q] * v for q, v in enumerate(y) if v is not None))
    status, obj, bound, gap = _report(s, _solve(s))
    sites = tuple(k for k in range(n_sites) if n[k].solution_value() > 0.5)
    pts = tuple(round(n[k].solution_value()) for k in sites)
    served = np.array([v.solution_value() if v is not None else 0.0 for v in y])
    return RefuellingResult(sites, pts, served, obj, bound, gap, status, s.wall_time() / 1000.0)


def greedy_flow_refuelling(trips: Sequence[RoundTrip], flows: np.ndarray, p: int, range_: float, *,
                           n_sites: int) -> RefuellingResult:
    """Baseline: add, one at a time, the site that completes the most extra flow (the lowest index on
    ties, including when no single site adds any)."""
    f = _check(trips, flows, n_sites, range_)
    if not 1 <= p <= n_sites:
        raise ValueError(f"p must be between 1 and the number of sites ({n_sites}), got {p}")
    chosen: set[int] = set()
    served = np.zeros(len(trips))
    for _ in range(p):
        best, best_val, best_served = -1, -1.0, served
        for k in range(n_sites):
            if k in chosen:
                continue
            trial = chosen | {k}
            sv = np.array([1.0 if served[q] or trip_feasible(t, trial, range_) else 0.0 for q, t in enumerate(trips)])
            val = float((f * sv).sum())
            if val > best_val + 1e-12:
                best, best_val, best_served = k, val, sv
        chosen.add(best)
        served = best_served
    sites = tuple(sorted(chosen))
    return RefuellingResult(sites, (1,) * len(sites), served, float((f * served).sum()), math.nan, math.nan,
                            "HEURISTIC", 0.0)
