"""How well modelled or simulated counts fit observed ones: GEH, RMSE, R2, as a Dataset and as plots.

The GEH statistic of a modelled hourly flow ``m`` against an observed one ``c`` is
``sqrt(2 (m - c)^2 / (m + c))`` (0 where both are 0). Practice accepts a location at GEH < 5; guidance
asks for 85% of the locations there. Flows are compared per hour whatever the counting interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .counts import Counts

__all__ = ["geh", "fit_dataset", "fit_summary", "plot_fit", "plot_geh_map", "format_fit"]

GEH_ACCEPT = 5.0


def geh(modelled: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """GEH of hourly flows, elementwise: ``sqrt(2 (m - c)^2 / (m + c))`` (0 where both are 0).

    Parameters
    ----------
    modelled, observed : array of float, veh/h

    Returns
    -------
    array of float
    """
    m = np.asarray(modelled, dtype=float)
    c = np.asarray(observed, dtype=float)
    s = m + c
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(np.where(s > 0, 2.0 * (m - c) ** 2 / np.where(s > 0, s, 1.0), 0.0))
    return out


def _stats(m: np.ndarray, c: np.ndarray) -> dict[str, float]:
    if m.size == 0:
        return {"n": 0, "share_geh5": float("nan"), "rmse_veh_h": float("nan"), "r2": float("nan"),
                "mean_geh": float("nan")}
    g = geh(m, c)
    ss = float(np.sum((c - c.mean()) ** 2))
    return {"n": int(m.size), "share_geh5": float(np.mean(g < GEH_ACCEPT)), "rmse_veh_h": float(np.sqrt(np.mean((m - c) ** 2))),
            "r2": float(1.0 - np.sum((m - c) ** 2) / ss) if ss > 0 else float("nan"), "mean_geh": float(g.mean())}


def fit_dataset(counts: Counts, modelled_veh_h: np.ndarray, fitted: np.ndarray, *, what: str = "modelled") -> xr.Dataset:
    """One row per count: observed and ``what`` hourly flows, GEH, and whether the fit saw it.

    Attributes ``fitted_*`` and ``held_out_*`` hold the share with GEH < 5, RMSE (veh/h), R2 and mean GEH.

    Parameters
    ----------
    counts : Counts
    modelled_veh_h : array of float, veh/h
        The modelled flow at every row of ``counts``.
    fitted : array of bool
        Whether the fit saw each row.
    what : str
        Name of the modelled variable (``modelled``, ``simulated``).

    Returns
    -------
    xarray.Dataset
    """
    obs = counts.flow_veh_h
    m = np.asarray(modelled_veh_h, dtype=float)
    fitted = np.asarray(fitted, dtype=bool)
    g = geh(m, obs)
    ds = xr.Dataset(
        {
            "observed": ("count", obs, {"units": "veh/h", "long_name": "observed flow"}),
            what: ("count", m, {"units": "veh/h", "long_name": f"{what} flow"}),
            "geh": ("count", g, {"units": "1", "long_name": "GEH statistic"}),
        },
        coords={"location": ("count", list(counts.location)), "kind": ("count", list(counts.kind)),
                "edges": ("count", [">".join(e) for e in counts.edges]),
                "begin_s": ("count", counts.begin_s), "end_s": ("count", counts.end_s),
                "fitted": ("count", fitted)},
    )
    for name, mask in (("fitted", fitted), ("held_out", ~fitted)):
        for k, v in _stats(m[mask], obs[mask]).items():
            ds.attrs[f"{name}_{k}"] = v
    ds.attrs["compared"] = what
    return ds


def fit_summary(ds: xr.Dataset) -> dict[str, float]:
    """The fit's figures (attributes of :func:`fit_dataset`) as a plain mapping.

    Parameters
    ----------
    ds : xarray.Dataset
        A fit report.

    Returns
    -------
    dict of str to float
    """
    return {k: v for k, v in ds.attrs.items() if k.startswith(("fitted_", "held_out_"))}


def format_fit(ds: xr.Dataset) -> str:
    """A two-row Markdown table of the fit.

    Parameters
    ----------
    ds : xarray.Dataset
        A fit report.

    Returns
    -------
    str
    """
    lines = ["| locations | counts | GEH < 5 | mean GEH | RMSE veh/h | R2 |", "|---|---:|---:|---:|---:|---:|"]
    for name in ("fitted", "held_out"):
        n = ds.attrs.get(f"{name}_n", 0)
        if not n:
            continue
        a = lambda k: ds.attrs[f"{name}_{k}"]  # noqa: E731
        lines.append(f"| {name.replace('_', ' ')} | {n} | {100 * a('share_geh5'):.1f}% | {a('mean_geh'):.2f} | "
                     f"{a('rmse_veh_h'):.1f} | {a('r2'):.3f} |")
    return "\n".join(lines)


def plot_fit(ds: xr.Dataset, ax: Any = None) -> tuple[Any, Any]:
    """Observed against modelled flows, fitted and held-out locations apart, with the GEH = 5 band.

    Parameters
    ----------
    ds : xarray.Dataset
        A fit report.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    import matplotlib.pyplot as plt

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 5))
    what = ds.attrs.get("compared", "modelled")
    obs, mod = ds["observed"].values, ds[what].values
    top = float(max(obs.max(initial=1.0), mod.max(initial=1.0))) * 1.05
    c = np.linspace(0, top, 200)
    # the flows m with GEH(m, c) = 5: m = c + 12.5 +- sqrt(50 c + 156.25)
    root = np.sqrt(50.0 * c + 156.25)
    ax.fill_between(c, np.maximum(c + 12.5 - root, 0), c + 12.5 + root, color="0.9", label="GEH < 5")
    ax.plot([0, top], [0, top], color="0.4", lw=0.8)
    fitted = ds["fitted"].values
    for mask, label, colour in ((fitted, "fitted", "tab:blue"), (~fitted, "held out", "tab:orange")):
        if mask.any():
            share = ds.attrs.get(f"{'fitted' if label == 'fitted' else 'held_out'}_share_geh5", float("nan"))
            ax.scatter(obs[mask], mod[mask], s=12, color=colour, alpha=0.7,
                       label=f"{label} ({mask.sum()}; {100 * share:.0f}% GEH<5)")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="observed flow (veh/h)", ylabel=f"{what} flow (veh/h)",
           title="Counts: observed against " + what)
    ax.legend(loc="upper left", fontsize=8)
    return fig, ax


def plot_geh_map(ds: xr.Dataset, network: Any, ax: Any = None) -> tuple[Any, Any]:
    """The network in grey with each counted edge coloured by its worst GEH over the intervals.

    Parameters
    ----------
    ds : xarray.Dataset
        A fit report.
    network : RoadNetwork
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 6))
    segs = _segments(network)
    ax.add_collection(LineCollection(segs, colors="0.85", linewidths=0.6))
    worst: dict[int, float] = {}
    index = network.edge_index
    for edges, g in zip(ds["edges"].values, ds["geh"].values, strict=True):
        for e in str(edges).split(">"):
            i = index.get(e)
            if i is not None:
                worst[i] = max(worst.get(i, 0.0), float(g))
    if worst:
        idx = np.array(sorted(worst))
        vals = np.array([worst[i] for i in idx])
        lc = LineCollection([segs[i] for i in idx], array=np.minimum(vals, 10.0), cmap="RdYlGn_r", linewidths=2.2)
        lc.set_clim(0, 10)
        ax.add_collection(lc)
        fig.colorbar(lc, ax=ax, label="GEH (worst interval; 5 = limit)")
    ax.autoscale()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()
    ax.set_title("GEH per counted edge")
    return fig, ax


def _segments(network: Any) -> list[np.ndarray]:
    if network.edge_shapes is not None:
        return [np.asarray(s) for s in network.edge_shapes]
    x, y = network.node_x, network.node_y
    return [np.array([[x[t], y[t]], [x[h], y[h]]]) for t, h in zip(network.tail, network.head, strict=True)]
