"""EV charging placement as a study: layouts x seeds on one executor, one Dataset, one table.

>>> import mobility as mb                                                            # doctest: +SKIP
>>> from mobility import charging                                                    # doctest: +SKIP
>>> study = mb.load_study("scenarios/ev_charging/district_ev.yaml")                 # doctest: +SKIP
>>> ds = mb.compare(study, ["optimal:pmedian:p=6", "random:p=6,seed=1"], seeds=3)     # doctest: +SKIP
>>> charging.comparison_table(ds)                                                    # doctest: +SKIP

:func:`build_layouts`, :func:`compare_layouts`, :func:`comparison_table` and :func:`format_table` are the
same steps under the names charging users know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .._paths import edge_point
from ..study import Column, Study, StudyFileKind, as_study, compare, format_table as _format, study_table
from .layout import ChargingLayout, layout_from_spec
from .spec import ChargingSpec, candidate_sites, charging_scenario, demand_points

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["KIND", "ChargingStudy", "build_layouts", "compare_layouts", "comparison_table", "format_table"]


class ChargingStudy(StudyFileKind):
    """Charging layouts (files, ``optimal:...``, ``greedy:...``, ``random:...``) on one study file."""

    name = "charging"
    spec_model = ChargingSpec
    dim = "layout"
    what = "layouts"
    default_alternatives = ("optimal:pmedian:p=6", "random:p=6,seed=1")
    preload = ("mobility.charging.simulate",)
    table = (
        Column("stations", "stations", "1", "{:.0f}"),
        Column("points_total", "points", "1", "{:.0f}"),
        Column("covered_share", "covered", "1", "{:.1%}"),
        Column("stranded", "stranded", "veh", "{:.1f}"),
        Column("detour_mean_m", "detour mean m", "m", "{:.0f}"),
        Column("detour_p95_m", "detour p95 m", "m", "{:.0f}"),
        Column("wait_mean_s", "wait mean s", "s", "{:.0f}"),
        Column("wait_p95_s", "wait p95 s", "s", "{:.0f}"),
        Column("energy_delivered_kwh", "energy kWh", "kWh", "{:.0f}"),
        Column("needing_charge", "needing charge", "veh", "{:.1f}"),
    )

    def scenario_of(self, spec: ChargingSpec) -> tuple[Any, Any]:
        return charging_scenario(spec)

    def describe(self, study: Study) -> str:
        return (f"charging study {study.name}: scenario {study.scenario.name}, {len(sites_of(study))} candidate sites, "
                f"{len(points_of(study))} demand points")

    def alternatives(self, study: Study, words: Sequence[Any], *, points: int | None = None, **options: Any
                     ) -> dict[str, Any]:
        return {lay.name: lay.to_dict() for lay in build_layouts(study, words, points=points)}

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        from .simulate import run_charging

        return run_charging(study, ChargingLayout.from_dict(alternative), seed=seed, workdir=workdir)

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        layouts = [ChargingLayout.from_dict(a) for a in alternatives.values()]
        stations = sorted({s.site for lay in layouts for s in lay.stations})
        ds = ds.reindex(station=stations)
        ds["points"] = ds["points"].isel(seed=0, drop=True)
        site_edge = {s.site: s.edge for lay in layouts for s in lay.stations}
        site_pos = {s.site: s.pos_m for lay in layouts for s in lay.stations}
        xy = np.array([edge_point(study.network, site_edge[s], site_pos[s]) for s in stations])
        ds = ds.assign_coords(edge=("station", [site_edge[s] for s in stations]), x=("station", xy[:, 0]),
                              y=("station", xy[:, 1]))
        ds["layout_method"] = ("layout", [lay.method for lay in layouts])
        ds.attrs.update(charging_study=study.name)
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        from ..plots import plot_charging_layouts, plot_charging_utilisation, plot_charging_waiting

        yield "layouts_map.png", plot_charging_layouts(ds, study.network)[0]
        yield "utilisation.png", plot_charging_utilisation(ds)[0]
        yield "waiting.png", plot_charging_waiting(ds)[0]


KIND = ChargingStudy()


def ev_vclass(scenario: Any, ev_type: str) -> str:
    """The SUMO vehicle class of the EV type: the scenario's, or (a city's own scenario) as its files define it."""
    from .._routefiles import file_vtypes
    from .spec import own_ev_type

    if own_ev_type(scenario, ev_type):
        return file_vtypes([*scenario.additional_files, *scenario.demand.files])[ev_type][1].get("vClass", "passenger")
    return next(t for t in scenario.vehicle_types if t.id == ev_type).vclass


def sites_of(study: Study) -> list[Any]:
    """The study's candidate sites (derived once)."""
    if "sites" not in study.extras:
        study.extras["sites"] = candidate_sites(study.spec, study.network, ev_vclass(study.scenario, study.spec.ev_type))
    return study.extras["sites"]


def points_of(study: Study) -> list[Any]:
    """The study's charging demand points (derived once)."""
    if "points" not in study.extras:
        study.extras["points"] = demand_points(study.spec, study.scenario, study.network)
    return study.extras["points"]


def build_layouts(spec: ChargingSpec | Study, words: Sequence[str | ChargingLayout], *, points: int | None = None
                  ) -> list[ChargingLayout]:
    """Layouts from files, ``optimal:<method>:k=v,...``, ``greedy:p=N`` or ``random:p=N,seed=S`` words.

    Parameters
    ----------
    spec : ChargingSpec or Study
        The charging study.
    words : sequence of str or ChargingLayout
        Layout words, layout files, or layouts already built (kept as they are).
    points : int, optional
        Charging points in each layout unless a word says ``points=N`` (default the study's).

    Returns
    -------
    list of ChargingLayout
        One per word, in order.
    """
    study = as_study(spec, "charging")
    net, sites = study.network, sites_of(study)
    out = [w if isinstance(w, ChargingLayout) else
           layout_from_spec(w, net, points_of(study), sites, total_points=points or study.spec.points) for w in words]
    names = [lay.name for lay in out]
    if len(set(names)) != len(names):
        raise InputError(f"layout names must differ, got {names}; rename a layout file's 'name'")
    known = {s.id for s in sites}
    for lay in out:
        for s in lay.stations:
            if s.edge not in net.edge_index:
                raise InputError(f"layout {lay.name!r}: station {s.site!r} is on edge {s.edge!r}, not in {net.name}")
            length = float(net.length[net.edge_index[s.edge]])
            if not 0 <= s.pos_m <= length:
                raise InputError(f"layout {lay.name!r}: station {s.site!r} at pos_m {s.pos_m:g} is off edge {s.edge!r} "
                                 f"(0..{length:.1f} m)")
        if lay.method == "file" and not {s.site for s in lay.stations} <= known and isinstance(study.spec.candidates, Path):
            raise InputError(f"layout {lay.name!r} names sites that are not in {study.spec.candidates}")
    return out


def compare_layouts(spec: ChargingSpec | Study, layouts: Sequence[ChargingLayout], *, seeds: Sequence[int] = (1, 2, 3),
                    workers: int = 2, workdir: str | Path | None = None,
                    progress: Callable[[int, int, str], None] | None = None, **executor: Any) -> xr.Dataset:
    """Run every layout with every seed: :func:`mobility.compare` on a charging study.

    Returns a Dataset with dims ``layout`` and ``seed`` for the KPIs, ``station`` (every station of every
    layout, NaN where a layout has none) for ``points``, ``energy_kwh``, and ``time`` for ``occupied`` and
    ``utilisation``; station coordinates ``edge``, ``x``, ``y`` for maps.

    Parameters
    ----------
    spec : ChargingSpec or Study
        The charging study.
    layouts : sequence of ChargingLayout
        The layouts to compare.
    seeds : sequence of int
        SUMO seeds; every layout runs on each.
    workers : int
        Simulations in parallel (one process each).
    workdir : str or Path, optional
        Keep every run under this folder; running again reuses finished runs.
    progress : callable, optional
        Called with (done, total, what) after each run.
    **executor
        :func:`mobility.compare`'s ``client``, ``time_limit_s`` and ``retries``.

    Returns
    -------
    xarray.Dataset
        The variables above.
    """
    if not layouts:
        raise InputError("give at least one layout")
    names = [lay.name for lay in layouts]
    if len(set(names)) != len(names):
        raise InputError(f"layout names must differ, got {names}")
    return compare(as_study(spec, "charging"), {lay.name: lay.to_dict() for lay in layouts}, seeds=seeds,
                   workers=workers, workdir=workdir, progress=progress, **executor)


def comparison_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per layout: the KPIs' mean over seeds (and, in ``<kpi> sd`` columns, their spread).

    Parameters
    ----------
    ds : xarray.Dataset
        A comparison (:func:`compare_layouts`).

    Returns
    -------
    pandas.DataFrame
    """
    return study_table(ds, baseline=None)


def format_table(ds: xr.Dataset) -> str:
    """The comparison as a Markdown table (mean +/- sd over seeds).

    Parameters
    ----------
    ds : xarray.Dataset
        A comparison (:func:`compare_layouts`).

    Returns
    -------
    str
    """
    return _format(ds, baseline=None)
