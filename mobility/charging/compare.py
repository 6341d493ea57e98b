"""Compare charging layouts side by side: each layout x seed in its own process, one Dataset out.

>>> from mobility.charging import load_charging, compare_layouts, build_layouts   # doctest: +SKIP
>>> spec = load_charging("scenarios/ev_charging/district_ev.yaml")               # doctest: +SKIP
>>> layouts = build_layouts(spec, ["optimal:pmedian:p=6", "random:p=6,seed=1"])   # doctest: +SKIP
>>> ds = compare_layouts(spec, layouts, seeds=[1, 2, 3])                          # doctest: +SKIP
>>> comparison_table(ds)                                                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._errors import InputError
from .._paths import edge_point
from .._pool import run_in_processes
from .layout import ChargingLayout, layout_from_spec
from .spec import ChargingSpec, candidate_sites, charging_scenario, demand_points

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["build_layouts", "compare_layouts", "comparison_table"]

#: KPIs in the comparison table: (variable, column title, format).
TABLE = [
    ("covered_share", "covered", "{:.1%}"),
    ("stranded", "stranded", "{:.1f}"),
    ("detour_mean_m", "detour mean m", "{:.0f}"),
    ("detour_p95_m", "detour p95 m", "{:.0f}"),
    ("wait_mean_s", "wait mean s", "{:.0f}"),
    ("wait_p95_s", "wait p95 s", "{:.0f}"),
    ("energy_delivered_kwh", "energy kWh", "{:.0f}"),
    ("needing_charge", "needing charge", "{:.1f}"),
]


def build_layouts(spec: ChargingSpec, words: Sequence[str | ChargingLayout], *, points: int | None = None
                  ) -> list[ChargingLayout]:
    """Layouts from files, ``optimal:<method>:k=v,...``, ``greedy:p=N`` or ``random:p=N,seed=S`` words
    (``points`` charging points each unless a word says ``points=N``; default the study's)."""
    sc, net = charging_scenario(spec)
    sites = candidate_sites(spec, net)
    pts = demand_points(spec, sc, net)
    out = [w if isinstance(w, ChargingLayout) else layout_from_spec(w, net, pts, sites, total_points=points or spec.points)
           for w in words]
    names = [lay.name for lay in out]
    if len(set(names)) != len(names):
        raise InputError(f"layout names must differ, got {names}; rename a layout file's 'name'")
    known = {s.id for s in sites}
    for lay in out:
        for s in lay.stations:
            if s.edge not in net.edge_index:
                raise InputError(f"layout {lay.name!r}: station {s.site!r} is on edge {s.edge!r}, not in {net.name}")
        if lay.method == "file" and not {s.site for s in lay.stations} <= known and isinstance(spec.candidates, Path):
            raise InputError(f"layout {lay.name!r} names sites that are not in {spec.candidates}")
    return out


def _run_one(spec: ChargingSpec, layout: ChargingLayout, seed: int, workdir: str | None) -> xr.Dataset:
    from .simulate import run_charging

    wd = None if workdir is None else Path(workdir) / f"{layout.name}_s{seed}"
    return run_charging(spec, layout, seed=seed, workdir=wd)


def compare_layouts(spec: ChargingSpec, layouts: Sequence[ChargingLayout], *, seeds: Sequence[int] = (1, 2, 3),
                    workers: int = 2, workdir: str | Path | None = None,
                    progress: Callable[[int, int, str], None] | None = None) -> xr.Dataset:
    """Run every layout with every seed (a fresh process per run: one libsumo simulation per process).

    Returns a Dataset with dims ``layout`` and ``seed`` for the KPIs, ``station`` (every station of every
    layout, NaN where a layout has none) for ``points``, ``energy_kwh``, and ``time`` for ``occupied`` and
    ``utilisation``; station coordinates ``edge``, ``x``, ``y`` for maps.
    """
    import xarray as xr

    if not layouts:
        raise InputError("give at least one layout")
    seeds = [int(s) for s in seeds]
    wd = None if workdir is None else str(workdir)
    results = run_in_processes(_run_one, [((lay.name, s), (spec, lay, s, wd)) for lay in layouts for s in seeds],
                               workers=workers, progress=progress, describe=lambda k: f"{k[0]} seed {k[1]}")
    stations = sorted({s.site for lay in layouts for s in lay.stations})
    per = []
    for lay in layouts:
        rows = [results[(lay.name, s)].reindex(station=stations) for s in seeds]
        per.append(xr.concat(rows, dim=xr.DataArray(seeds, dims="seed", name="seed"), coords="minimal", join="outer",
                             compat="override", combine_attrs="drop_conflicts"))
    ds = xr.concat(per, dim=xr.DataArray([lay.name for lay in layouts], dims="layout", name="layout"),
                   coords="minimal", join="outer", compat="override", combine_attrs="drop_conflicts")
    ds["points"] = ds["points"].isel(seed=0, drop=True)
    _, net = charging_scenario(spec)
    site_edge = {s.site: s.edge for lay in layouts for s in lay.stations}
    site_pos = {s.site: s.pos_m for lay in layouts for s in lay.stations}
    xy = np.array([edge_point(net, site_edge[s], site_pos[s]) for s in stations])
    ds = ds.assign_coords(edge=("station", [site_edge[s] for s in stations]), x=("station", xy[:, 0]),
                          y=("station", xy[:, 1]))
    ds["layout_method"] = ("layout", [lay.method for lay in layouts])
    for k in ("layout", "seed_count"):
        ds.attrs.pop(k, None)
    ds.attrs.update(seeds=seeds, charging_study=spec.name)
    return ds


def comparison_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per layout: the KPIs' mean over seeds (and, in ``<kpi> sd`` columns, their spread)."""
    import pandas as pd

    rows = []
    for lay in ds.layout.values:
        d = ds.sel(layout=lay)
        row: dict[str, object] = {"layout": str(lay), "stations": int(d["stations"].isel(seed=0)),
                                  "points": int(d["points_total"].isel(seed=0))}
        for var, title, _ in TABLE:
            row[title] = float(d[var].mean("seed", skipna=True))
            row[f"{title} sd"] = float(d[var].std("seed", skipna=True, ddof=1)) if d.sizes["seed"] > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("layout")


def format_table(ds: xr.Dataset) -> str:
    """The comparison as a Markdown table (mean +/- sd over seeds)."""
    t = comparison_table(ds)
    head = ["layout", "stations", "points"] + [title for _, title, _ in TABLE]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lay, r in t.iterrows():
        cells = [str(lay), f"{r['stations']:.0f}", f"{r['points']:.0f}"]
        for _, title, fmt in TABLE:
            v, sd = r[title], r[f"{title} sd"]
            cells.append(fmt.format(v) + ("" if not np.isfinite(sd) or sd == 0 else " +/- " + fmt.format(sd)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
