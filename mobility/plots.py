"""Plots: ``ax=None`` in, ``(fig, ax)`` out; viridis by default; labelled axes with units.

Nothing is shown or saved unless the caller asks (``fig.savefig``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import InputError
from .network import RoadNetwork

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_charging_layouts", "plot_charging_utilisation", "plot_charging_waiting", "plot_network", "plot_parking_map", "plot_parking_occupancy",
           "plot_search_times", "plot_vehicles"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax  # type: ignore[return-value]


def plot_network(
    network: RoadNetwork,
    values: Any = None,
    *,
    ax: Axes | None = None,
    cmap: str = "viridis",
    label: str | None = None,
    linewidth: float = 2.5,
    vmin: float | None = None,
    vmax: float | None = None,
) -> tuple[Figure, Axes]:
    """Draw the network, edges coloured by a per-edge value.

    Parameters
    ----------
    network : RoadNetwork
    values : xarray.DataArray with an ``edge`` dim, or array of float (one per edge), optional
        A DataArray with a ``time`` dim too is averaged over time. Edges with NaN are drawn grey.
        Without values, edges are drawn in one colour.
    label : str, optional
        Colour-bar label; by default the DataArray's ``long_name`` and ``units``.
    ax : matplotlib Axes, optional
    cmap : str
        Matplotlib colour map.
    linewidth : float
        Edge line width, points.
    vmin, vmax : float, optional
        Colour scale limits.

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    from matplotlib.collections import LineCollection

    shapes = network.edge_shapes
    if shapes is None:
        if np.all(np.isnan(network.node_x)):
            raise InputError(f"network {network.name!r} has no coordinates to draw (no node file, no geometry)")
        shapes = tuple(np.array([[network.node_x[t], network.node_y[t]], [network.node_x[h], network.node_y[h]]])
                       for t, h in zip(network.tail, network.head, strict=True))
    fig, ax = _axes(ax, (7, 6))
    data = None
    if values is not None:
        if hasattr(values, "dims"):
            da = values.mean("time") if "time" in values.dims else values
            if "edge" not in da.dims:
                raise InputError("values must have an 'edge' dimension")
            data = da.reindex(edge=[str(e) for e in network.edge_ids]).values.astype(float)
            label = label or f"{da.attrs.get('long_name', da.name or '')} [{da.attrs.get('units', '')}]"
        else:
            data = np.asarray(values, dtype=float)
        if data.shape != (network.n_edges,):
            raise InputError(f"values has shape {data.shape}; expected one value per edge ({network.n_edges},)")
        if np.all(np.isnan(data)):
            raise InputError("every edge value is NaN: there is nothing to colour (did any vehicle drive?)")
    lc = LineCollection(list(shapes), linewidths=linewidth, cmap=cmap)
    if data is not None:
        lc.set_array(np.ma.masked_invalid(data))
        lc.set_clim(vmin if vmin is not None else np.nanmin(data), vmax if vmax is not None else np.nanmax(data))
        lc.set_cmap(lc.get_cmap().with_extremes(bad="lightgrey"))
        fig.colorbar(lc, ax=ax, label=label or "")
    else:
        lc.set_color("0.3")
    ax.add_collection(lc)
    ax.autoscale()
    ax.set_aspect("equal")
    unit = network.units.get("length", "")
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    ax.set_title(network.name)
    return fig, ax


def plot_vehicles(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Time series of vehicles in the network, waiting to depart, and halting.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (``network_running`` over ``sim_time``).
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    if "network_running" not in ds or ds.sizes.get("sim_time", 0) == 0:
        raise InputError("the Dataset has no network time series (network_running over sim_time) to plot")
    import matplotlib as mpl

    fig, ax = _axes(ax, (8, 4))
    colours = mpl.colormaps["viridis"](np.linspace(0.0, 0.8, 3))
    t_min = ds["sim_time"].values / 60.0
    for (name, label), c in zip((("network_running", "in the network"), ("network_halting", "halting"),
                                 ("network_waiting", "waiting to depart")), colours, strict=True):
        ax.plot(t_min, ds[name].values, label=label, color=c)
    ax.set_xlabel("simulation time [min]")
    ax.set_ylabel("vehicles [veh]")
    ax.set_title(f"{ds.attrs.get('scenario_name', '')} (seed {ds.attrs.get('seed', '?')})")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig, ax


def plot_convergence(results: Any, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Relative gap against wall time for one or more :func:`mobility.assign` Datasets (log scale).

    ``results`` is a Dataset, a list of them, or a dict label -> Dataset (default label: the method).

    Parameters
    ----------
    results : xarray.Dataset, list or dict of them
        :func:`mobility.assign` results.
    ax : matplotlib Axes, optional

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import xarray as xr

    if isinstance(results, xr.Dataset):
        results = [results]
    items = results.items() if isinstance(results, dict) else ((ds.attrs.get("method", "?"), ds) for ds in results)
    fig, ax = _axes(ax, (7, 4.5))
    for label, ds in items:
        if "rgap" not in ds or "seconds" not in ds:
            raise InputError(f"{label}: not an assignment result (needs 'rgap' and 'seconds' on 'iteration')")
        ax.semilogy(ds.seconds.values, ds.rgap.values, marker=".", markersize=3, label=str(label))
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("relative gap (TSTT - SPTT) / TSTT")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig, ax


def plot_controller_delay(ds: xr.Dataset, *, ax: Axes | None = None, variable: str = "mean_delay_s") -> tuple[Figure, Axes]:
    """Mean delay by controller: a bar per controller (seed mean) with every seed's value as a dot."""
    if variable not in ds or ds.sizes.get("controller", 0) == 0:
        raise InputError(f"nothing to plot: the Dataset has no {variable!r} by controller (use mobility.signals.evaluate)")
    fig, ax = _axes(ax, (6.5, 3.8))
    import matplotlib as mpl

    names = [str(c) for c in ds["controller"].values]
    vals = ds[variable].transpose("controller", "seed").values
    colors = mpl.colormaps["viridis"](np.linspace(0.15, 0.85, len(names)))
    x = np.arange(len(names))
    ax.bar(x, np.nanmean(vals, axis=1), color=colors, alpha=0.8)
    for i in range(len(names)):
        ax.scatter(np.full(vals.shape[1], x[i]) + np.linspace(-0.15, 0.15, vals.shape[1]), vals[i], color="k", s=12, zorder=3)
    ax.set_xticks(x, names)
    units = ds[variable].attrs.get("units", "")
    ax.set_ylabel(f"{variable.removesuffix('_s').replace('_', ' ')} ({units})")
    ax.set_title(f"{ds.attrs.get('scenario_name', '')}: {ds.sizes['seed']} seeds (dots), mean (bars)")
    return fig, ax


def plot_junction_queues(ds: xr.Dataset, controller: str | None = None, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Queue over time per junction (seed mean) for one controller (default: the first)."""
    if "queue" not in ds:
        raise InputError("nothing to plot: the Dataset has no 'queue' variable (run with edge data enabled)")
    c = controller or str(ds["controller"].values[0])
    if c not in [str(x) for x in ds["controller"].values]:
        raise InputError(f"controller {c!r} is not in the Dataset; choose from {[str(x) for x in ds['controller'].values]}")
    q = ds["queue"].sel(controller=c).mean("seed")
    fig, ax = _axes(ax, (7, 3.8))
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    t = (ds["time"].values - ds["time"].values[0]) / 60.0
    for k, j in enumerate(q["junction"].values):
        ax.plot(t, q.sel(junction=j).values, color=cmap(k / max(q.sizes["junction"] - 1, 1)), label=str(j))
    ax.set_xlabel("time since start (min)")
    ax.set_ylabel("halting vehicles on approaches (veh)")
    ax.set_title(f"queues under {c}")
    if q.sizes["junction"] <= 10:
        ax.legend(fontsize=7, ncol=2)
    return fig, ax


def plot_toll_periods(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Mean delay per vehicle by demand period for each booth mix (``mobility.tolling.compare_mixes``);
    the shaded band spans the seeds, the grey bars show the flow."""
    if "period_delay_s" not in ds:
        raise InputError("nothing to plot: the Dataset has no 'period_delay_s' (use mobility.tolling.compare_mixes)")
    fig, ax = _axes(ax, (8, 4))
    start = ds["period_start_s"].values / 3600.0
    ax2 = ax.twinx()
    ax2.bar(start, ds["period_flow_veh_h"].values, width=np.diff(np.append(start, 24.0)), align="edge", color="0.9", zorder=0)
    ax2.set_ylabel("arrivals (veh/h)")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    for m in ds["mix"].values:
        d = ds["period_delay_s"].sel(mix=m)
        ax.step(start, d.mean("seed"), where="post", label=f"{m} (day {float(ds['delay_s'].sel(mix=m).mean()):.1f} s)")
        ax.fill_between(start, d.min("seed"), d.max("seed"), step="post", alpha=0.2)
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("mean delay per vehicle (s)")
    ax.legend(loc="upper left", fontsize=8)
    return fig, ax


def plot_delay_vs_penetration(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Delay against ETC penetration at the best mix for each (``mobility.tolling.compare.penetration_curve``)."""
    if "penetration" not in ds.coords:
        raise InputError("nothing to plot: the Dataset has no 'penetration' (use mobility.tolling.compare.penetration_curve)")
    fig, ax = _axes(ax, (6.5, 4))
    p = ds["penetration"].values
    ax.plot(p, ds["delay_s"].values, "o-", label="SUMO")
    ax.plot(p, ds["surrogate_delay_s"].values, "s--", label="queueing surrogate (queue + payment)")
    for x, y, e, m, k in zip(p, ds["delay_s"].values, ds["etc"].values, ds["mtc"].values, ds["mixed"].values, strict=True):
        if e < 0:
            ax.axvline(x, color="0.8", ls=":")
            ax.annotate("no mix\nkeeps up", (x, 0), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        else:
            ax.annotate(f"{e}/{m}/{k}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_xlabel("ETC penetration (share of tagged vehicles)")
    ax.set_ylabel("mean delay per vehicle (s)")
    ax.set_title(f"best mix (etc/mtc/mixed) at {ds.attrs.get('flow_veh_h', 0):.0f} veh/h, {ds.attrs.get('booths', '')} booths")
    ax.legend(fontsize=8)
    return fig, ax


def _need_layouts(ds: xr.Dataset, var: str) -> None:
    if var not in ds or "layout" not in ds.dims:
        raise InputError(f"nothing to plot: the Dataset has no {var!r} by layout (use mobility.charging.compare_layouts)")


def plot_charging_layouts(ds: xr.Dataset, network: RoadNetwork, *, axes: Any = None) -> tuple[Figure, Any]:
    """The layouts side by side on the network: one panel each, a circle per station, its area by the
    charging points in use on average (seed mean), its colour by the station's utilisation.

    Parameters
    ----------
    ds : xarray.Dataset
        A charging comparison (dims ``layout``, ``seed``, ``station``).
    network : RoadNetwork
    axes : array of matplotlib Axes, optional
        One per layout (default: a new figure).

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    _need_layouts(ds, "utilisation")
    names = [str(x) for x in ds["layout"].values]
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.4), layout="constrained", squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    if len(axes) < len(names):
        raise InputError(f"{len(names)} layouts need {len(names)} axes, got {len(axes)}")
    util = ds["utilisation"].mean(("seed", "time"))
    used = ds["occupied"].mean(("seed", "time"))
    norm = mpl.colors.Normalize(0.0, max(0.05, float(util.max(skipna=True))))
    sc = None
    for ax, name in zip(axes, names, strict=False):
        plot_network(network, ax=ax, linewidth=1.0)
        here = np.isfinite(ds["points"].sel(layout=name).values)
        u = util.sel(layout=name).values[here]
        n = used.sel(layout=name).values[here]
        pts = ds["points"].sel(layout=name).values[here]
        sc = ax.scatter(ds["x"].values[here], ds["y"].values[here], s=30 + 120 * n, c=u, cmap="viridis", norm=norm,
                        edgecolors="k", linewidths=0.6, zorder=3)
        for x, y, k in zip(ds["x"].values[here], ds["y"].values[here], pts, strict=True):
            ax.annotate(f"{int(k)}", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=7)
        cov = float(ds["covered_share"].sel(layout=name).mean())
        ax.set_title(f"{name}\ncovered {cov:.0%}, stranded {float(ds['stranded'].sel(layout=name).mean()):.1f}",
                     fontsize=9)
    if sc is not None:
        fig.colorbar(sc, ax=list(axes[: len(names)]), label="station utilisation (share of points in use)", shrink=0.8)
    return fig, axes


def plot_charging_utilisation(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Charging points in use over time, all stations of a layout together (seed mean, band: min-max).

    Parameters
    ----------
    ds : xarray.Dataset
        A charging comparison.
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib as mpl

    _need_layouts(ds, "occupied")
    fig, ax = _axes(ax, (7, 3.8))
    names = [str(x) for x in ds["layout"].values]
    colors = mpl.colormaps["viridis"](np.linspace(0.1, 0.85, len(names)))
    t = ds["time"].values / 60.0
    for name, c in zip(names, colors, strict=True):
        occ = ds["occupied"].sel(layout=name).sum("station", skipna=True)
        share = occ / float(ds["points"].sel(layout=name).sum(skipna=True))
        ax.plot(t, share.mean("seed"), color=c, label=name)
        if ds.sizes.get("seed", 1) > 1:
            ax.fill_between(t, share.min("seed"), share.max("seed"), color=c, alpha=0.2, linewidth=0)
    ax.set_xlabel("time [min]")
    ax.set_ylabel("charging points in use [share]")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("utilisation over time")
    return fig, ax


def plot_charging_waiting(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Per layout: mean and 95th-percentile wait for a free charger, and the mean access detour (seed means;
    dots: each seed).

    Parameters
    ----------
    ds : xarray.Dataset
        A charging comparison.
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib as mpl

    _need_layouts(ds, "wait_mean_s")
    fig, ax = _axes(ax, (7, 3.8))
    names = [str(x) for x in ds["layout"].values]
    kpis = [("wait_mean_s", "wait mean [s]"), ("wait_p95_s", "wait p95 [s]"), ("detour_mean_m", "detour mean [m]")]
    colors = mpl.colormaps["viridis"](np.linspace(0.15, 0.85, len(kpis)))
    x = np.arange(len(names))
    width = 0.8 / len(kpis)
    for i, ((var, label), c) in enumerate(zip(kpis, colors, strict=True)):
        vals = ds[var].transpose("layout", "seed").values
        xi = x - 0.4 + width * (i + 0.5)
        ax.bar(xi, np.nanmean(vals, axis=1), width, color=c, alpha=0.85, label=label)
        for k in range(len(names)):
            ax.scatter(np.full(vals.shape[1], xi[k]), vals[k], color="k", s=8, zorder=3)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("seconds / metres")
    ax.legend(fontsize=8)
    ax.set_title("waiting for a free charger and access detour")
    return fig, ax


def _need_strategies(ds: xr.Dataset, var: str) -> None:
    if var not in ds or "strategy" not in ds.dims:
        raise InputError(f"nothing to plot: the Dataset has no {var!r} by strategy "
                         "(use mobility.parking.compare_strategies)")


def plot_parking_occupancy(ds: xr.Dataset, *, axes: Any = None) -> tuple[Figure, Any]:
    """Occupancy over time, one panel per strategy: each off-street lot and all kerbside spaces together, as a
    share of their capacity (seed mean; band: min-max over seeds).

    Parameters
    ----------
    ds : xarray.Dataset
        A parking comparison.
    axes : array of matplotlib Axes, optional
        One per strategy.

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    _need_strategies(ds, "occupancy")
    names = [str(x) for x in ds["strategy"].values]
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), sharey=True, squeeze=False,
                                 layout="constrained")
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    kind = ds["kind"].values
    lots = [str(a) for a, k in zip(ds["area"].values, kind, strict=True) if k == "lot"]
    groups = [(lot, [lot]) for lot in lots]
    kerb = np.array([str(a) for a, k in zip(ds["area"].values, kind, strict=True) if k != "lot"])
    if kerb.size and "centre_m" in ds.coords:
        r = float(ds.attrs.get("centre_radius_m", 300.0))
        near = ds["centre_m"].sel(area=kerb).values <= r
        groups += [(f"kerbside within {r:.0f} m of centre", list(kerb[near])),
                   ("kerbside further out", list(kerb[~near]))]
        groups = [g for g in groups if g[1]]
    elif kerb.size:
        groups.append(("kerbside (all)", list(kerb)))
    colors = mpl.colormaps["viridis"](np.linspace(0.05, 0.9, max(len(groups), 1)))
    t = ds["time"].values / 60.0
    for ax, name in zip(axes, names, strict=True):
        d = ds.sel(strategy=name)
        for (label, members), c in zip(groups, colors, strict=True):
            share = d["occupancy"].sel(area=members).sum("area") / float(ds["capacity"].sel(area=members).sum())
            ax.plot(t, share.mean("seed"), color=c, label=label, linewidth=2.0 if label.startswith("kerb") else 1.2,
                    linestyle="--" if label.endswith("out") else "-")
            if d.sizes.get("seed", 1) > 1:
                ax.fill_between(t, share.min("seed"), share.max("seed"), color=c, alpha=0.15, linewidth=0)
        ax.set_title(name)
        ax.set_xlabel("time [min]")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("occupied [share of spaces]")
    axes[-1].legend(fontsize=7, loc="lower right")
    return fig, axes


def plot_search_times(ds: xr.Dataset, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Distribution of search times (decision point to parked) per strategy: the share of parked drivers
    who found a space within t seconds, all seeds pooled; the legend gives each strategy's mean.

    Parameters
    ----------
    ds : xarray.Dataset
        A parking comparison.
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib as mpl

    _need_strategies(ds, "search_time_s")
    fig, ax = _axes(ax, (6.5, 3.8))
    names = [str(x) for x in ds["strategy"].values]
    colors = mpl.colormaps["plasma"](np.linspace(0.05, 0.8, len(names)))
    for name, c in zip(names, colors, strict=True):
        v = ds["search_time_s"].sel(strategy=name).values.ravel()
        v = np.sort(v[np.isfinite(v)])
        if not v.size:
            continue
        ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", color=c,
                label=f"{name} (mean {v.mean():.0f} s)")
    ax.set_xlabel("search time [s]")
    ax.set_ylabel("share of parked drivers")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("time from the decision point to a space")
    return fig, ax


def plot_parking_map(ds: xr.Dataset, network: RoadNetwork, *, time_s: float | None = None, axes: Any = None
                     ) -> tuple[Figure, Any]:
    """Where it is full: one panel per strategy, a marker per parking area (square: lot, circle: kerbside),
    its size by capacity and its colour by occupancy (seed mean) in the bin starting at ``time_s``
    (default: the bin with the most vehicles parked).

    Parameters
    ----------
    ds : xarray.Dataset
        A parking comparison.
    network : RoadNetwork
    time_s : float, s, optional
        Start of the occupancy bin shown.
    axes : array of matplotlib Axes, optional
        One per strategy.

    Returns
    -------
    tuple
        ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    _need_strategies(ds, "occupancy")
    names = [str(x) for x in ds["strategy"].values]
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.8), squeeze=False, layout="constrained")
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    occ = ds["occupancy"].mean("seed", skipna=True)
    if time_s is None:
        time_s = float(occ["time"].values[int(np.argmax(occ.sum(("strategy", "area")).values))])
    share = (occ.sel(time=time_s, method="nearest") / ds["capacity"]).clip(0, 1)
    cap = ds["capacity"].values
    size = 12 + 160 * cap / cap.max()
    lot = ds["kind"].values == "lot"
    sc = None
    for ax, name in zip(axes, names, strict=True):
        plot_network(network, ax=ax, linewidth=1.0)
        v = share.sel(strategy=name).values
        for mask, marker in ((~lot, "o"), (lot, "s")):
            sc = ax.scatter(ds["x"].values[mask], ds["y"].values[mask], s=size[mask], c=v[mask], cmap="RdYlGn_r",
                            vmin=0, vmax=1, marker=marker, edgecolors="k", linewidths=0.4, zorder=3)
        ax.set_title(f"{name}, {time_s / 60:.0f} min")
        ax.set_axis_off()
    if sc is not None:
        fig.colorbar(sc, ax=list(axes), shrink=0.8, label="occupied [share of spaces]")
    return fig, axes


def plot_space_time(ds: Any, edges: Sequence[str], *, var: str = "density_veh_km", ax: Axes | None = None,
                    cmap: str = "viridis") -> tuple[Figure, Axes]:
    """Space-time diagram of a dynamic loading along a route: time across, distance along the route up, each
    edge and output interval coloured by ``var`` (queues show as dark bands growing back upstream).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`mobility.dta.dta` (``time`` x ``edge`` variables and ``edge_length_m``).
    edges : list of str
        The route's edges, in driving order.
    var : str
        A ``(time, edge)`` variable, e.g. ``density_veh_km``, ``vehicles`` or ``travel_time_s``.
    ax : matplotlib Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    if var not in ds or set(ds[var].dims) != {"time", "edge"}:
        raise InputError(f"{var!r} is not a (time, edge) variable of this Dataset; give e.g. density_veh_km")
    known = set(str(e) for e in ds["edge"].values)
    missing = [e for e in edges if e not in known]
    if not edges or missing:
        raise InputError(f"route edges {missing or '(none)'} are not in the Dataset; give the route's edge ids in order")
    length = ds["edge_length_m"].sel(edge=list(edges)).values
    y = np.concatenate([[0.0], np.cumsum(length)])
    t = ds["time"].values
    dt = float(ds.attrs.get("interval_s", (t[1] - t[0]) if t.size > 1 else 60.0))
    x = np.concatenate([t, [t[-1] + dt]])
    z = ds[var].sel(edge=list(edges)).transpose("edge", "time").values
    fig, ax = _axes(ax, (9, 5))
    mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(z), cmap=cmap, shading="flat")
    da = ds[var]
    fig.colorbar(mesh, ax=ax, label=f"{da.attrs.get('long_name', var)} [{da.attrs.get('units', '')}]")
    ax.set(xlabel="time [s]", ylabel="distance along the route [m]",
           title=f"{var} along {edges[0]} .. {edges[-1]} ({len(edges)} edges)")
    return fig, ax
