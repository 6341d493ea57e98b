"""Parking guidance as a study: strategies x seeds on one executor, one Dataset, one table.

>>> import mobility as mb                                                        # doctest: +SKIP
>>> study = mb.load_study("scenarios/parking/district.yaml")                    # doctest: +SKIP
>>> ds = mb.compare(study, ["none", "realtime"], seeds=[1, 2, 3])                # doctest: +SKIP
>>> print(mb.format_table(ds))                                                   # doctest: +SKIP

:func:`compare_strategies`, :func:`comparison_table` and :func:`format_table` are the same steps under
the names parking users know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import InputError
from ..study import Column, Study, StudyFileKind, as_study, compare, format_table as _format, study_table
from .simulate import STRATEGIES
from .spec import ParkingSpec, parking_areas, parking_scenario

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["KIND", "ParkingStudy", "compare_strategies", "comparison_table", "format_table"]


class ParkingStudy(StudyFileKind):
    """Parking guidance strategies (``none``, ``static``, ``realtime``, ``optimised``) on one study file."""

    name = "parking"
    spec_model = ParkingSpec
    dim = "strategy"
    what = "strategies"
    default_alternatives = STRATEGIES
    baseline = "none"
    preload = ("mobility.parking.simulate",)
    table = (
        Column("mean_search_time_s", "search s", "s", "{:.1f}"),
        Column("p95_search_time_s", "search p95 s", "s", "{:.0f}"),
        Column("mean_cruising_m", "cruising m", "m", "{:.0f}"),
        Column("mean_walking_m", "walking m", "m", "{:.0f}"),
        Column("failed_parkings", "failed", "veh", "{:.1f}"),
        Column("lot_share", "in lots", "1", "{:.0%}"),
        Column("reroutes_mean", "reroutes", "1", "{:.2f}"),
        Column("mean_delay_s", "network delay s", "s", "{:.1f}"),
        Column("parked", "parked", "veh", "{:.1f}"),
    )

    def scenario_of(self, spec: ParkingSpec) -> tuple[Any, Any]:
        return parking_scenario(spec)

    def describe(self, study: Study) -> str:
        from .spec import seekers

        pa = parking_areas(study.spec, study.network)
        seekers(study.spec, study.network, study.scenario.seed)  # the centre, edges and times exist
        return (f"parking study {study.name}: scenario {study.scenario.name}, {len(pa)} parking areas, "
                f"{sum(a.capacity for a in pa)} spaces")

    def alternatives(self, study: Study, words: Sequence[Any], **options: Any) -> dict[str, Any]:
        names = [str(w) for w in words]
        bad = [s for s in names if s not in STRATEGIES]
        if bad or not names:
            raise InputError(f"unknown strategies {bad}; choose from {', '.join(STRATEGIES)}")
        if len(set(names)) != len(names):
            raise InputError(f"strategies repeat: {names}")
        return {s: {"strategy": s} for s in names}

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        from .simulate import run_parking

        return run_parking(study, alternative["strategy"], seed=seed, workdir=workdir).drop_vars("parked_area")

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        ds["capacity"] = ds["capacity"].isel(strategy=0, seed=0, drop=True)
        ds.attrs.update(parking_study=study.name, compliance=study.spec.compliance)
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        from ..plots import plot_parking_map, plot_parking_occupancy, plot_search_times

        yield "occupancy.png", plot_parking_occupancy(ds)[0]
        yield "search_times.png", plot_search_times(ds)[0]
        yield "occupancy_map.png", plot_parking_map(ds, study.network)[0]


KIND = ParkingStudy()


def compare_strategies(spec: ParkingSpec | Study, strategies: Sequence[str] = STRATEGIES, *,
                       seeds: Sequence[int] = (1, 2, 3), workers: int = 2, workdir: str | Path | None = None,
                       progress: Callable[[int, int, str], None] | None = None, **executor: Any) -> xr.Dataset:
    """Run every strategy with every seed: :func:`mobility.compare` on a parking study.

    Returns a Dataset with dims ``strategy`` and ``seed`` for the KPIs (``mean_search_time_s``,
    ``mean_cruising_m``, ``mean_walking_m``, ``failed_parkings``, ...), ``area`` and ``time`` for
    ``occupancy``, and ``vehicle`` for the per-seeker values (NaN where a seed has no such vehicle).
    ``executor`` takes :func:`mobility.compare`'s ``client``, ``time_limit_s`` and ``retries``.

    Parameters
    ----------
    spec : ParkingSpec or Study
    strategies : list of str
    seeds : list of int
    workers : int
        Processes.
    workdir : str or Path, optional
        Keep the runs here (a rerun reuses the finished ones).
    progress : callable, optional
        ``(runs done, runs in all, last event)``.

    Returns
    -------
    xarray.Dataset
    """
    return compare(as_study(spec, "parking"), list(strategies), seeds=seeds, workers=workers, workdir=workdir,
                   progress=progress, **executor)


def comparison_table(ds: xr.Dataset, *, baseline: str | None = "none") -> pd.DataFrame:
    """One row per strategy: the KPIs' mean over seeds (``<kpi> sd``: spread), and the search time's
    change against ``baseline`` when that strategy is in the Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`compare_strategies`.
    baseline : str, optional

    Returns
    -------
    pandas.DataFrame
    """
    return study_table(ds, baseline=baseline)


def format_table(ds: xr.Dataset, *, baseline: str | None = "none") -> str:
    """The comparison as a Markdown table (mean +/- sd over seeds).

    Parameters
    ----------
    ds : xarray.Dataset
    baseline : str, optional

    Returns
    -------
    str
    """
    return _format(ds, baseline=baseline)
