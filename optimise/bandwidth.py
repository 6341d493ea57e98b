"""Green waves along an arterial: offsets that maximise the two-way progression band (MAXBAND).

Plain arrays in, a frozen result out; no SUMO, no networks.

An arterial is a chain of signals ``0 .. n-1`` sharing one cycle ``C``. At signal ``i`` the arterial's
outbound movement (towards ``n-1``) is green for ``g_i`` seconds from ``theta_i`` (its offset), the inbound
movement for ``gbar_i`` seconds from ``theta_i + s_i`` (``s_i``: the inbound green's start against the
outbound's, 0 when one stage serves both directions). Platoons take ``t_i`` seconds from ``i`` to ``i+1``
outbound and ``tbar_i`` inbound.

A band of width ``b`` starting at signal 0 at time ``tau`` reaches signal ``i`` at ``tau + T_i``
(``T_i = t_0 + ... + t_{i-1}``) and passes in green if ``[tau + T_i, tau + T_i + b]`` lies in one of the
signal's green windows ``[theta_i + k C, theta_i + k C + g_i]``; the inbound band likewise from signal
``n-1``. With integer window counts ``k_i`` this is a mixed-integer linear programme (the time-based form of
Little's MAXBAND, 1966) solved exactly: maximise ``b + w bbar``, optionally with ``b = bbar``.

:func:`bandwidths` measures the bands that given offsets leave (an independent check of the model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._mip import STATUS, solve, solver

__all__ = ["BandwidthResult", "bandwidths", "maxband"]


@dataclass(frozen=True)
class BandwidthResult:
    """Offsets and the progression bands they give.

    Attributes
    ----------
    offsets_s : array of float, s
        Start of the outbound arterial green at each signal, in ``[0, C)``; signal 0 at 0.
    outbound_s, inbound_s : float, s
        Band widths.
    status : str
        The solver's status (``OPTIMAL``, ``FEASIBLE``...).
    objective, bound, gap : float
        ``b + w bbar`` found, the solver's best bound, and their relative gap.
    solve_time_s : float, s
    """

    offsets_s: np.ndarray
    outbound_s: float
    inbound_s: float
    status: str
    objective: float
    bound: float
    gap: float
    solve_time_s: float


def _check(cycle_s: float, green: np.ndarray, travel: np.ndarray, name: str) -> None:
    if not cycle_s > 0 or not math.isfinite(cycle_s):
        raise ValueError(f"cycle_s must be a positive number, got {cycle_s}")
    if green.ndim != 1 or green.size < 1:
        raise ValueError(f"{name}: give one green time per signal")
    if travel.size != green.size - 1:
        raise ValueError(f"{name}: give one travel time per link between consecutive signals ({green.size - 1}), "
                         f"got {travel.size}")
    if (green < 0).any() or (green > cycle_s).any() or not np.isfinite(green).all():
        raise ValueError(f"{name}: green times must lie in [0, cycle_s]")
    if (travel < 0).any() or not np.isfinite(travel).all():
        raise ValueError(f"{name}: travel times must be finite and >= 0")


def maxband(
    cycle_s: float,
    green_s: Sequence[float],
    travel_s: Sequence[float],
    *,
    green_in_s: Sequence[float] | None = None,
    travel_in_s: Sequence[float] | None = None,
    inbound_shift_s: Sequence[float] | None = None,
    inbound_weight: float = 1.0,
    equal: bool = False,
    time_limit_s: float = 10.0,
) -> BandwidthResult:
    """Offsets of an arterial's signals that maximise ``b + inbound_weight * bbar`` (see the module docstring).

    Parameters
    ----------
    cycle_s : float, s
        The common cycle.
    green_s : array (n,), s
        Outbound arterial green at each signal.
    travel_s : array (n-1,), s
        Outbound travel time from signal ``i`` to ``i+1`` (distance / progression speed).
    green_in_s : array (n,), s, optional
        Inbound green (default: ``green_s``).
    travel_in_s : array (n-1,), s, optional
        Inbound travel time from ``i+1`` to ``i`` (default: ``travel_s``).
    inbound_shift_s : array (n,), s, optional
        Start of the inbound green after the outbound green's start at each signal (default 0).
    inbound_weight : float
        Weight of the inbound band against the outbound one (e.g. the ratio of their volumes); 0 gives a
        one-way green wave.
    equal : bool
        Require equal bands both ways.
    time_limit_s : float, s

    Returns
    -------
    BandwidthResult
    """
    g = np.asarray(green_s, dtype=np.float64)
    t = np.asarray(travel_s, dtype=np.float64)
    _check(cycle_s, g, t, "outbound")
    gb = np.asarray(green_in_s if green_in_s is not None else g, dtype=np.float64)
    tb = np.asarray(travel_in_s if travel_in_s is not None else t, dtype=np.float64)
    _check(cycle_s, gb, tb, "inbound")
    sh = np.asarray(inbound_shift_s if inbound_shift_s is not None else np.zeros_like(g), dtype=np.float64)
    if sh.shape != g.shape or not np.isfinite(sh).all():
        raise ValueError("inbound_shift_s: give one finite shift per signal")
    if not inbound_weight >= 0:
        raise ValueError(f"inbound_weight must be >= 0, got {inbound_weight}")
    n = g.size
    c = float(cycle_s)
    cum = np.concatenate([[0.0], np.cumsum(t)])            # outbound arrival after signal 0
    cum_in = np.concatenate([np.cumsum(tb[::-1])[::-1], [0.0]])  # inbound arrival after signal n-1
    span = float(max(cum[-1], cum_in[0]))
    kmax = int(math.ceil((span + 2 * c) / c)) + 1
    s = solver(time_limit_s, "SCIP")  # a small model; SCIP proves it at once and prints nothing
    theta = [s.NumVar(0.0, 0.0, "theta0")] + [s.NumVar(0.0, c, f"theta{i}") for i in range(1, n)]
    tau = s.NumVar(0.0, c, "tau")
    taub = s.NumVar(0.0, c, "taubar")
    b = s.NumVar(0.0, float(g.min()), "b")
    bb = s.NumVar(0.0, float(gb.min()), "bbar")
    for i in range(n):
        k = s.IntVar(-kmax, kmax, f"k{i}")
        kb = s.IntVar(-kmax, kmax, f"kbar{i}")
        # outbound: [tau + T_i, tau + T_i + b] inside [theta_i + k C, theta_i + k C + g_i]
        s.Add(theta[i] + c * k <= tau + float(cum[i]))
        s.Add(tau + float(cum[i]) + b <= theta[i] + c * k + float(g[i]))
        if inbound_weight == 0 and not equal:
            continue  # a one-way green wave: no inbound band to keep
        # inbound: [taub + Tbar_i, taub + Tbar_i + bbar] inside the inbound green
        s.Add(theta[i] + float(sh[i]) + c * kb <= taub + float(cum_in[i]))
        s.Add(taub + float(cum_in[i]) + bb <= theta[i] + float(sh[i]) + c * kb + float(gb[i]))
    if equal:
        s.Add(b == bb)
    s.Maximize(b + float(inbound_weight) * bb)
    t0 = time.perf_counter()
    code = solve(s)
    elapsed = time.perf_counter() - t0
    status = STATUS.get(code, str(code))
    if status not in ("OPTIMAL", "FEASIBLE"):
        raise RuntimeError(f"the bandwidth model found no solution ({status})")
    obj = s.Objective().Value()
    bound = s.Objective().BestBound()
    offsets = np.array([v.solution_value() % c for v in theta])
    return BandwidthResult(offsets_s=offsets, outbound_s=float(b.solution_value()), inbound_s=float(bb.solution_value()),
                           status=status, objective=float(obj), bound=float(bound),
                           gap=abs(bound - obj) / max(abs(obj), 1e-9), solve_time_s=elapsed)


def bandwidths(
    cycle_s: float,
    offsets_s: Sequence[float],
    green_s: Sequence[float],
    travel_s: Sequence[float],
    *,
    green_in_s: Sequence[float] | None = None,
    travel_in_s: Sequence[float] | None = None,
    inbound_shift_s: Sequence[float] | None = None,
    resolution_s: float = 0.01,
) -> tuple[float, float]:
    """The outbound and inbound progression bands (s) that ``offsets_s`` give, measured on a time grid.

    Parameters
    ----------
    cycle_s : float, s
    offsets_s : array (n,), s
        Start of the outbound green at each signal.
    green_s, travel_s, green_in_s, travel_in_s, inbound_shift_s
        As for :func:`maxband`.
    resolution_s : float, s
        Grid step (the result is exact to this step).

    Returns
    -------
    (float, float)
        Outbound and inbound band widths, s.
    """
    g = np.asarray(green_s, dtype=np.float64)
    t = np.asarray(travel_s, dtype=np.float64)
    gb = np.asarray(green_in_s if green_in_s is not None else g, dtype=np.float64)
    tb = np.asarray(travel_in_s if travel_in_s is not None else t, dtype=np.float64)
    sh = np.asarray(inbound_shift_s if inbound_shift_s is not None else np.zeros_like(g), dtype=np.float64)
    th = np.asarray(offsets_s, dtype=np.float64)
    grid = np.arange(0.0, cycle_s, resolution_s)
    cum = np.concatenate([[0.0], np.cumsum(t)])
    cum_in = np.concatenate([np.cumsum(tb[::-1])[::-1], [0.0]])

    def band(starts: np.ndarray, greens: np.ndarray, arrive: np.ndarray) -> float:
        ok = np.ones(grid.size, dtype=bool)
        for st, gr, a in zip(starts, greens, arrive, strict=True):
            ok &= ((grid + a - st) % cycle_s) < gr - 1e-9   # a band member passing at grid + a is in green
        if ok.all():
            return float(cycle_s)
        if not ok.any():
            return 0.0
        # the longest circular run of True
        k = int(np.argmin(ok))
        rolled = np.roll(ok, -k)
        best = run = 0
        for v in rolled:
            run = run + 1 if v else 0
            best = max(best, run)
        return best * resolution_s

    return band(th, g, cum), band(th + sh, gb, cum_in)
