"""Transit plots: time-space diagrams of a line's buses and bunching along a line (``ax=None`` in, ``(fig, ax)`` out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_bunching", "plot_time_space"]


def _pick(ds: xr.Dataset, priority: str | None, seed: int | None) -> xr.Dataset:
    if "priority" in ds.dims:
        opts = [str(p) for p in ds["priority"].values]
        if priority is not None and priority not in opts:
            raise InputError(f"priority option {priority!r} is not in the Dataset (it has {', '.join(opts)})")
        ds = ds.sel(priority=priority if priority is not None else opts[0])
    if "seed" in ds.dims:
        ds = ds.sel(seed=seed) if seed is not None else ds.isel(seed=0)
    return ds


def plot_time_space(ds: xr.Dataset, *, line: str | None = None, priority: str | None = None, seed: int | None = None,
                    ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Time-space diagram of one line's buses: distance along the route against time, its stops (dashed) and
    signals, each drawn at its position red and amber while it stopped the line's movement.

    Parameters
    ----------
    ds : xarray.Dataset
        A transit run or comparison (:func:`~mobility.transit.simulate.run_transit`, :func:`mobility.compare`).
    line : str, optional
        Line id (default: the first).
    priority : str, optional
        Priority option of a comparison (default: the first).
    seed : int, optional
        Seed of a comparison (default: the first).
    ax : matplotlib Axes, optional

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    from ..plots import _axes

    d = _pick(ds, priority, seed)
    lines = [str(x) for x in np.asarray(d["line"].values)]
    line = line if line is not None else (lines[0] if lines else None)
    rows = [k for k, x in enumerate(lines) if x == line]
    if not rows:
        raise InputError(f"line {line!r} has no trips in the Dataset (lines: {', '.join(sorted(set(lines)))})")
    fig, ax = _axes(ax, (8, 4.5))
    t = d["ts_time"].values / 60.0
    pos = d["route_pos_m"].values
    for k in rows:
        ax.plot(t, pos[k], lw=1.2, color="C0")
    sp = d["stop_pos_m"].values[rows[0]]
    for y in sp[np.isfinite(sp)]:
        ax.axhline(y, ls="--", lw=0.6, color="C1")
    t_s = d["sig_time"].values / 60.0  # each signal's reds and ambers for the line's movement, at its position
    for k in np.flatnonzero(d["line_signal_line"].values.astype(str) == line):
        y, shown = float(d["line_signal_pos_m"].values[k]), d["signal_shown"].values[k]
        ax.axhline(y, lw=0.6, color="0.75")
        for code, colour in ((0, "C3"), (1, "orange")):
            for a, b in _runs(shown == code):
                ax.hlines(y, t_s[a], t_s[min(b, t_s.size - 1)], colors=colour, lw=3)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("distance along the route (m)")
    ax.set_title(f"line {line}" + (f", priority {d.attrs.get('priority', priority)}" if priority else ""))
    return fig, ax


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) index of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def plot_bunching(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Headway coefficient of variation at each stop call along the lines, per priority option (mean over seeds
    and lines): higher is more bunched.

    Parameters
    ----------
    ds : xarray.Dataset
        A transit run or comparison.
    ax : matplotlib Axes, optional

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    from ..plots import _axes

    fig, ax = _axes(ax, (7, 4))
    h = ds["headway_s"]
    opts: list[Any] = [str(p) for p in ds["priority"].values] if "priority" in h.dims else [None]
    for opt in opts:
        x = h.sel(priority=opt) if opt is not None else h
        cv = (x.std("trip") / x.mean("trip"))
        if "seed" in cv.dims:
            cv = cv.mean("seed")
        ax.plot(np.arange(1, cv.sizes["call"] + 1), cv.values, marker="o", label=opt or ds.attrs.get("priority", ""))
    ax.set_xlabel("stop call along the line")
    ax.set_ylabel("headway coefficient of variation")
    ax.legend(title="priority")
    return fig, ax
