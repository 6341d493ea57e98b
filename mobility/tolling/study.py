"""Toll plazas as a study: booth schedules x seeds on one executor, one Dataset, one table.

>>> import mobility as mb                                                           # doctest: +SKIP
>>> study = mb.load_study("scenarios/tolling/plaza8.yaml")                         # doctest: +SKIP
>>> ds = mb.compare(study, ["as_built", "schedule.json"], seeds=3)                  # doctest: +SKIP

An alternative is ``as_built`` (the plaza's own booths), a booth schedule file
(:class:`~mobility.tolling.TollPlazaConfig` JSON, named by its stem) or, from Python, a mapping of names
to schedules ``[(start_s, booths), ...]`` (:func:`compare_mixes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from ..study import Column, Study, StudyKind, as_study, compare
from .plaza import PlazaSpec, load_plaza

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["KIND", "TollingStudy", "compare_mixes"]

Schedule = list[tuple[float, tuple[str, ...]]]


def _schedule_json(schedule: Schedule | None) -> list[list[Any]] | None:
    return None if schedule is None else [[float(t), [str(b) for b in booths]] for t, booths in schedule]


class TollingStudy(StudyKind):
    """Booth schedules (``as_built`` or schedule files) on one toll plaza file."""

    name = "tolling"
    dim = "mix"
    what = "booth schedules"
    default_alternatives = ("as_built",)
    preload = ("mobility.tolling.simulate",)
    table = (
        Column("delay_s", "delay s", "s", "{:.1f}"),
        Column("arrived", "arrived", "veh", "{:.0f}"),
        Column("left_over", "left over", "veh", "{:.1f}"),
        Column("max_approach_queue", "max approach queue", "veh", "{:.0f}"),
    )

    def read(self, path: Path) -> PlazaSpec:
        return load_plaza(path)

    def from_dict(self, data: dict[str, Any], *, base_dir: Path, source: str) -> PlazaSpec:
        from .._spec import validate

        return validate(data, PlazaSpec, source=source)

    def spec_from_json(self, data: dict[str, Any]) -> PlazaSpec:
        return PlazaSpec.model_validate(data)

    def describe(self, study: Study) -> str:
        pl = study.spec
        return f"toll plaza {pl.name}, {len(pl.booths)} booths, {len(pl.demand)} demand periods"

    def alternatives(self, study: Study, words: Sequence[Any], **options: Any) -> dict[str, Any]:
        from .mix import TollPlazaConfig

        out: dict[str, Any] = {}
        for w in words:
            if str(w) == "as_built":
                name, sched = "as_built", None
            else:
                p = Path(str(w))
                name, sched = p.stem, TollPlazaConfig.load(p).schedule()
            if name in out:
                raise InputError(f"two booth schedules are called {name!r}; rename one file")
            out[name] = {"schedule": _schedule_json(sched)}
        return out

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        import xarray as xr

        from .simulate import period_delays, run_plaza

        spec = study.spec
        sched = alternative.get("schedule")
        schedule = None if sched is None else [(float(t), tuple(b)) for t, b in sched]
        ds = run_plaza(spec, seed=seed, schedule=schedule, workdir=workdir)
        pdl = period_delays(ds, spec)
        arr = ds["trip_arrived"].values.astype(bool)
        d = ds["trip_time_loss"].values + ds["trip_service_s"].values + ds["trip_depart_delay"].values
        left = int(ds["vehicles_unfinished"]) + int(ds["vehicles_never_departed"])
        out = xr.Dataset({
            "delay_s": ((), float(np.nanmean(d)), {"units": "s", "long_name": "mean delay per vehicle over the day"}),
            "arrived": ((), float(arr.sum()), {"units": "veh"}),
            "left_over": ((), float(left), {"units": "veh", "long_name": "still queued or never inserted at the end"}),
            "max_approach_queue": ((), float(ds["approach_queue"].max()), {"units": "veh"}),
            "period_delay_s": ("period", pdl["delay_s"].values.astype(float), {"units": "s"}),
            "period_delay_tagged_s": ("period", pdl["delay_tagged_s"].values.astype(float), {"units": "s"}),
            "period_delay_untagged_s": ("period", pdl["delay_untagged_s"].values.astype(float), {"units": "s"}),
            "period_vehicles": ("period", pdl["vehicles"].values.astype(float), {"units": "veh"}),
        }, coords={"period": np.arange(len(spec.demand))})
        return out

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        spec = study.spec
        ds = ds.assign_coords(period_start_s=("period", [p.begin_s for p in spec.demand]),
                              period_flow_veh_h=("period", [p.flow_veh_h for p in spec.demand]))
        ds.attrs.update(plaza=spec.model_dump_json(), delay="time loss + payment stop + insertion delay, per vehicle")
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        from ..plots import plot_toll_periods

        yield "periods.png", plot_toll_periods(ds)[0]


KIND = TollingStudy()


def compare_mixes(spec: PlazaSpec | Study, mixes: Mapping[str, Schedule | None], *, seeds: Sequence[int] = (1, 2, 3),
                  workers: int = 2, processes: int | None = None, workdir: str | Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None, **executor: Any) -> Any:
    """Run every booth schedule on every seed: :func:`mobility.compare` on a toll plaza.

    ``mixes`` maps a name to a schedule (``[(start_s, booths), ...]``) or ``None`` for the plaza's own booths.
    A Dataset with dims ``mix``, ``seed`` and ``period``: ``delay_s`` (mean over the day),
    ``period_delay_s``, ``period_delay_tagged_s``, ``period_delay_untagged_s`` (on ``period``), ``arrived``,
    ``left_over`` (still queued or never inserted at the end), ``max_approach_queue``.

    Parameters
    ----------
    spec : PlazaSpec or Study
        The plaza (or a tolling study).
    mixes : mapping of str to schedule or None
        Name to ``[(start_s, booths), ...]``, or ``None`` for the plaza's own booths.
    seeds : sequence of int
        SUMO seeds; every mix runs on each.
    workers : int
        Simulations in parallel (one process each).
    processes : int, optional
        The older name of ``workers``; when given, it wins.
    workdir : str or Path, optional
        Keep every run under this folder; running again reuses finished runs.
    progress : callable, optional
        Called with (done, total, what) after each run.
    **executor
        Passed to :func:`mobility.compare` (``time_limit_s``, ``retries``, ``client``).

    Returns
    -------
    xarray.Dataset
        Dims ``mix``, ``seed`` and ``period``, with the variables above.
    """
    if not mixes:
        raise InputError("compare_mixes: give at least one mix")
    alts = {str(name): {"schedule": _schedule_json(s)} for name, s in mixes.items()}
    return compare(as_study(spec, "tolling"), alts, seeds=seeds, workers=processes or workers, workdir=workdir,
                   progress=progress, **executor)
