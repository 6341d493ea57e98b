"""Transit signal priority as a study: priority options x seeds on one executor, one Dataset, one table.

>>> import mobility as mb                                                             # doctest: +SKIP
>>> study = mb.load_study("scenarios/transit/corridor5_bus.yaml")                    # doctest: +SKIP
>>> ds = mb.compare(study, ["none", "extension", "early-green", "conditional"], seeds=5)  # doctest: +SKIP
>>> print(mb.format_table(ds))                                                       # doctest: +SKIP

The signal controller (the study's ``controller``) is prepared once for every option (optimised plans are
computed once, the adaptive controller's watchdog limits measured once) and priority runs on top of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import InputError
from ..study import Column, Study, StudyFileKind
from .priority import PRIORITY_OPTIONS
from .spec import TransitSpec, bus_chargers, bus_trips, transit_scenario

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["KIND", "TransitStudy"]


class TransitStudy(StudyFileKind):
    """Transit signal priority options on one transit study file."""

    name = "transit"
    spec_model = TransitSpec
    dim = "priority"
    what = "priority options"
    default_alternatives = PRIORITY_OPTIONS
    baseline = "none"
    preload = ("mobility.transit.simulate",)
    table = (
        Column("bus_signal_delay_s", "bus signal delay s", "s", "{:.1f}"),
        Column("bus_travel_time_s", "bus trip s", "s", "{:.0f}"),
        Column("mean_arrival_delay_s", "late at stops s", "s", "{:.1f}"),
        Column("headway_cv", "headway CV", "1", "{:.2f}"),
        Column("car_delay_s", "car delay s", "s", "{:.1f}"),
        Column("cars_undeparted", "cars not inserted", "veh", "{:.0f}"),
        Column("priority_actions", "priority actions", "1", "{:.0f}"),
        Column("safety_violations", "unsafe states", "1", "{:.0f}"),
    )

    def scenario_of(self, spec: TransitSpec) -> tuple[Any, Any]:
        return transit_scenario(spec)

    def resolve(self, spec: TransitSpec) -> Study:
        if spec.gtfs is not None and not spec.gtfs.feed.is_absolute() and spec.source_file is not None:
            spec = spec.model_copy(update={"gtfs": spec.gtfs.model_copy(
                update={"feed": spec.source_file.parent / spec.gtfs.feed})})
        sc, net = transit_scenario(spec)
        if spec.gtfs is not None:
            from .gtfs import gtfs_lines

            spec = spec.model_copy(update={"lines": [*spec.lines, *gtfs_lines(spec, net, sc)]})
        bus_trips(spec, net, seed=sc.seed, end_s=sc.end_s)  # every line checked against the network once
        return Study(self.name, spec, sc, net)

    def describe(self, study: Study) -> str:
        trips = bus_trips(study.spec, study.network, seed=study.scenario.seed, end_s=study.scenario.end_s)
        bus_chargers(study.spec, study.network, trips)  # chargers at stops the lines serve
        return (f"transit study {study.name}: scenario {study.scenario.name}, controller {study.spec.controller}, "
                f"{len(study.spec.lines)} lines, {len(trips)} bus trips")

    def alternatives(self, study: Study, words: Sequence[Any], **options: Any) -> dict[str, Any]:
        from ..study import get_kind

        names = [str(w) for w in words]
        bad = [w for w in names if w not in PRIORITY_OPTIONS]
        if bad or not names:
            raise InputError(f"unknown priority option(s) {bad}; choose from {', '.join(PRIORITY_OPTIONS)}")
        if len(set(names)) != len(names):
            raise InputError(f"priority options repeat: {names}")
        signals = get_kind("signals")
        sig = Study("signals", study.scenario, study.scenario, study.network)
        ctl = signals.alternatives(sig, [study.spec.controller], **options)[study.spec.controller]
        return {w: {"priority": w, "controller": ctl} for w in names}

    def check_alternatives(self, study: Study, words: Sequence[Any]) -> None:
        bad = [w for w in words if w not in PRIORITY_OPTIONS]
        if bad:
            raise InputError(f"unknown priority option(s) {bad}; choose from {', '.join(PRIORITY_OPTIONS)}")

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        from .simulate import run_transit

        return run_transit(study, alternative["priority"], seed=seed, workdir=workdir, payload=alternative["controller"])

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        for v in ("line", "stop", "line_signal_line", "line_signal_pos_m"):  # the same in every run
            if v in ds:
                ds[v] = ds[v].isel({d: 0 for d in ("priority", "seed") if d in ds[v].dims}, drop=True)
        ds.attrs.update(transit_study=study.name, controller=study.spec.controller)
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        from .plots import plot_bunching, plot_time_space

        line = str(study.spec.lines[0].id) if study.spec.lines else None
        for opt in ds["priority"].values[:2] if "priority" in ds.dims else []:
            yield f"time_space_{opt}.png", plot_time_space(ds, line=line, priority=str(opt))[0]
        yield "bunching.png", plot_bunching(ds)[0]


KIND = TransitStudy()
