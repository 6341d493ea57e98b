"""Studies: one shape for every application.

    study file --read once--> Study (spec, scenario, network)
               --alternatives x seeds--> one executor (process pool, Dask client, dask-jobqueue)
               --> one Dataset (dims: the application's alternative dimension, seed, ...; one provenance stamp)
               --> one table and plot step

Each application (signal control, parking guidance, EV charging, toll plazas, ...) is a
:class:`StudyKind`: how its file is read and resolved, what its alternatives are (controllers,
strategies, layouts, booth schedules), how one run happens in a worker process, the name of its
alternative dimension, its KPI table and its figures. :func:`compare` runs any of them the same way:

>>> import mobility as mb
>>> study = mb.load_study("scenarios/parking/district.yaml")                  # doctest: +SKIP
>>> ds = mb.compare(study, ["none", "realtime"], seeds=[1, 2], workers=2)      # doctest: +SKIP
>>> print(mb.format_table(ds))                                                 # doctest: +SKIP

A study's alternatives and any field of its file can also be swept (:mod:`mobility.sweep`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import InputError, MobilityError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["Column", "Study", "StudyFileKind", "StudyKind", "compare", "detect_kind", "format_table", "get_kind", "kinds",
           "load_study", "study_figures", "study_table"]

#: Every study kind: name -> "module:attribute" of its :class:`StudyKind` (imported on first use).
KINDS: dict[str, str] = {
    "signals": "mobility.signals.study:KIND",
    "parking": "mobility.parking.study:KIND",
    "charging": "mobility.charging.study:KIND",
    "tolling": "mobility.tolling.study:KIND",
    "incident": "mobility.incident.study:KIND",
    "transit": "mobility.transit.study:KIND",
    "taxi": "mobility.transit.taxi:KIND",
}
#: Progress of a comparison: (runs done, runs in all, last event).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Column:
    """One KPI of a study's table: Dataset variable, column title, units and number format."""

    var: str
    title: str
    units: str
    fmt: str = "{:.1f}"


@dataclass(frozen=True, eq=False)
class Study:
    """A study read and resolved once: its spec and, where it has one, its traffic scenario and network.

    ``extras`` holds what the kind derives once from them (candidate sites, demand points, ...).
    """

    kind: str
    spec: Any
    scenario: Any = None
    network: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(getattr(self.spec, "name", self.kind))

    @property
    def source(self) -> Path | None:
        return getattr(self.spec, "source_file", None)

    @property
    def spec_hash(self) -> str:
        """Hash of the study's spec and everything it reads (the scenario's files)."""
        h = hashlib.sha256(self.kind.encode())
        h.update(json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, default=str).encode())
        if self.scenario is not None:
            h.update(self.scenario.spec_hash.encode())
        return h.hexdigest()


class StudyKind:
    """What an application declares to run as a study (override the methods; see :mod:`mobility.study`)."""

    #: the kind's name (a study file may say ``kind: <name>``)
    name: str = ""
    #: the Dataset dimension of the alternatives
    dim: str = "alternative"
    #: what the alternatives are called, for messages
    what: str = "alternatives"
    #: alternatives compared when none are named
    default_alternatives: tuple[str, ...] = ()
    #: the KPI table
    table: tuple[Column, ...] = ()
    #: the table's baseline alternative (relative change of the first column), if present
    baseline: str | None = None
    #: modules the local executor's workers import in advance
    preload: tuple[str, ...] = ()

    # -- files -----------------------------------------------------------------------------
    def read(self, path: Path) -> Any:
        """The validated spec of a study file."""
        raise NotImplementedError

    def from_dict(self, data: dict[str, Any], *, base_dir: Path, source: str) -> Any:
        """The validated spec of a mapping (a study file with overrides applied; paths relative to ``base_dir``)."""
        raise NotImplementedError

    def resolve(self, spec: Any) -> Study:
        """Read what the spec names (scenario, network) once."""
        return Study(self.name, spec)

    def spec_json(self, study: Study) -> dict[str, Any]:
        return study.spec.model_dump(mode="json")

    def spec_from_json(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def describe(self, study: Study) -> str:
        """One line for ``mobility scenario validate``."""
        return f"{self.name} study {study.name}"

    # -- alternatives and runs --------------------------------------------------------------
    def alternatives(self, study: Study, words: Sequence[Any], **options: Any) -> dict[str, Any]:
        """Name -> JSON-able payload that :meth:`run` receives, for each alternative named."""
        raise NotImplementedError

    def check_alternatives(self, study: Study, words: Sequence[Any]) -> None:
        """Raise an InputError naming any word that is not an alternative of the study (a sweep's check)."""
        self.alternatives(study, list(words))

    def sweep_alternative(self, study: Study, word: Any, **options: Any) -> tuple[str, Any]:
        """``(name, payload)`` of one alternative in a sweep (``word`` None: the kind's first default)."""
        alts = self.alternatives(study, [self.default_alternatives[0] if word is None else word], **options)
        name = next(iter(alts))
        return name, alts[name]

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        """One run in this process; its Dataset."""
        raise NotImplementedError

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        """The combined Dataset (dims ``dim``, ``seed``, ...) made ready for tables and plots."""
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        """``(file name, matplotlib figure)`` pairs for a comparison."""
        return iter(())


class StudyFileKind(StudyKind):
    """A study whose file names a traffic scenario (``scenario: traffic.yaml``) and adds its own fields.

    Set ``spec_model`` (the pydantic model of the file) and override :meth:`scenario_of`.
    """

    spec_model: type[Any]

    def read(self, path: Path) -> Any:
        from ._spec import read_study

        return read_study(path, self.spec_model, what=f"{self.name} study file",
                          hint=f"{self.spec_model.__name__} fields (scenario, ...)")

    def from_dict(self, data: dict[str, Any], *, base_dir: Path, source: str) -> Any:
        from ._spec import study_from_dict

        return study_from_dict(data, self.spec_model, source=source, base_dir=base_dir)

    def spec_from_json(self, data: dict[str, Any]) -> Any:
        return self.spec_model.model_validate(data)

    def scenario_of(self, spec: Any) -> tuple[Any, Any]:
        """The traffic scenario the study runs (with what the study adds to it) and its network."""
        raise NotImplementedError

    def resolve(self, spec: Any) -> Study:
        return Study(self.name, spec, *self.scenario_of(spec))


def kinds() -> list[str]:
    """Names of the study kinds.

    Returns
    -------
    list of str
    """
    return list(KINDS)


def get_kind(name: str) -> StudyKind:
    """The :class:`StudyKind` called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`kinds`.

    Returns
    -------
    StudyKind
    """
    if name not in KINDS:
        raise InputError(f"unknown study kind {name!r}; choose from {', '.join(KINDS)}")
    module, _, attr = KINDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def detect_kind(path: str | Path) -> str:
    """The kind of a study file: its ``kind:`` key, else the one reader that accepts it.

    When no reader accepts it, raises the errors of the reader that found the fewest problems.

    Parameters
    ----------
    path : path

    Returns
    -------
    str
        The kind's name.
    """
    from ._spec import read_mapping
    from .sumocfg import is_sumocfg

    if is_sumocfg(path):  # a SUMO configuration is a traffic scenario: a signal-control study of it
        return "signals"
    data, _ = read_mapping(path, what="study or scenario file")
    declared = data.get("kind")
    if isinstance(declared, str) and declared in KINDS:
        return declared
    errors: dict[str, MobilityError] = {}
    for name in KINDS:
        try:
            get_kind(name).read(Path(path))
            return name
        except MobilityError as exc:
            errors[name] = exc
    # no reader accepts it: report the reader's that found the fewest problems (the file's likely kind)
    raise min(errors.values(), key=lambda e: str(e).count("; field ") + str(e).count("unknown field"))


def load_study(path: str | Path, *, kind: str | None = None) -> Study:
    """Read a study file and resolve it once (scenario, network): the :class:`Study` every step takes.

    Parameters
    ----------
    path : path
    kind : str, optional
        The study's kind (default: from the file, :func:`detect_kind`).

    Returns
    -------
    Study
    """
    p = Path(path)
    k = get_kind(kind or detect_kind(p))
    return k.resolve(k.read(p))


def as_study(study: Study | Any, kind: str) -> Study:
    """``study`` as a resolved :class:`Study` of ``kind`` (a spec is resolved here)."""
    if isinstance(study, Study):
        if study.kind != kind:
            raise InputError(f"a {study.kind} study was given where a {kind} study is needed")
        return study
    return get_kind(kind).resolve(study)


# ---- running alternatives x seeds ------------------------------------------------------------
def run_job(job: dict[str, Any], workdir: Path) -> xr.Dataset:
    """A worker's run of one study task (the executor's entry point)."""
    kind = get_kind(job["kind"])
    study = kind.resolve(kind.spec_from_json(job["study"]))
    ds = kind.run(study, job["alternative"], int(job["seed"]), workdir)
    ds.attrs.update({"alternative": job["alternative_name"], "seed": int(job["seed"])})
    return ds


def task_id(kind: str, spec_hash: str, alternative: Any, seed: int) -> str:
    """A run's stable id: the same study, alternative and seed give the same id (and resume)."""
    key = json.dumps({"kind": kind, "study": spec_hash, "alternative": alternative, "seed": int(seed)},
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def tasks_for(study: Study, alternatives: Mapping[str, Any], seeds: Sequence[int]) -> list[Any]:
    """The executor's tasks of ``alternatives x seeds``."""
    from .executor import Task

    kind = get_kind(study.kind)
    spec_json, h = kind.spec_json(study), study.spec_hash
    out = []
    for i, (name, payload) in enumerate(alternatives.items()):
        for j, s in enumerate(seeds):
            job = {"entry": "mobility.study:run_job", "kind": study.kind, "study": spec_json, "alternative": payload,
                   "alternative_name": name, "seed": int(s)}
            out.append(Task(task_id(study.kind, h, payload, s), f"{study.kind} study {study.spec.name!r}, "
                            f"{kind.dim} {name}, seed {s}", job, (i, j)))
    return out


def _seeds(seeds: Sequence[int] | int) -> list[int]:
    from .seeds import check_seed

    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise InputError(f"seeds: give a count >= 1 or a list of seeds, got {seeds}")
        seeds = range(1, seeds + 1)
    out = [check_seed(s, what="seeds") for s in seeds]
    if not out:
        raise InputError("give at least one seed")
    if len(set(out)) != len(out):
        raise InputError(f"seeds must be distinct, got {out}")
    return out


def compare(study: Study, alternatives: Sequence[Any] | Mapping[str, Any] | None = None, *,
            seeds: Sequence[int] | int = (1, 2, 3), workers: int = 2, client: Any = None,
            time_limit_s: float | None = None, retries: int = 1, workdir: str | Path | None = None,
            progress: Progress | None = None, **options: Any) -> xr.Dataset:
    """Run every alternative of ``study`` on every seed; one Dataset with dims ``<kind.dim>`` and ``seed``.

    Parameters
    ----------
    study : Study
        From :func:`load_study` (or an application's ``load_*``, resolved by :func:`as_study`).
    alternatives : list, optional
        The kind's words (``["none", "realtime"]``, layout words or layouts, controller names, schedule
        files); a mapping name -> payload is taken as it is. Default: the kind's default alternatives.
    seeds : list of int or int
        SUMO seeds (a count ``n`` means 1..n), recorded in the ``seed`` coordinate.
    workers : int
        Local worker processes (one simulation each).
    client : distributed.Client, optional
        Run on a Dask cluster instead (workers get paths and small JSON jobs; ``workdir`` must then be on
        a file system they share).
    time_limit_s : float, optional
        Hard limit per run.
    retries : int
        Re-runs after a crash, a killed worker or the time limit.
    workdir : path, optional
        Keep every run's files and result under ``workdir/<run id>/``; running again reuses the runs that
        finished. Default: a temporary folder.
    progress : callable, optional
        ``progress(done, total, label)`` as runs finish.
    **options
        Passed to the kind's :meth:`StudyKind.alternatives` (e.g. the signal controllers' settings).

    Returns
    -------
    xarray.Dataset
        The runs' KPIs on ``(<kind.dim>, seed)`` (and the kind's own variables), stamped with provenance.
    """
    import xarray as xr

    from ._io import session_tempdir
    from .executor import execute, load_result
    from .provenance import stamp

    kind = get_kind(study.kind)
    sd = _seeds(seeds)
    if isinstance(alternatives, Mapping):
        alts = dict(alternatives)
    else:
        words = list(alternatives) if alternatives is not None else list(kind.default_alternatives)
        if not words:
            raise InputError(f"give at least one of the study's {kind.what}")
        alts = kind.alternatives(study, words, **options)
    tasks = tasks_for(study, alts, sd)
    wd = Path(workdir) if workdir is not None else session_tempdir(f"mobility-{study.kind}-")
    total = len(tasks)

    def report(done: int, failed: int, remaining: int, eta: float | None, event: str) -> None:
        if progress is not None and not event.startswith("retry"):
            progress(done + failed, total, event.removeprefix("done "))

    execute(tasks, workdir=wd, workers=workers, client=client, time_limit_s=time_limit_s, retries=retries,
            progress=report, fail_fast=True, preload=kind.preload)
    names = list(alts)
    per = []
    for i, name in enumerate(names):
        rows = [load_result(wd / t.id) for t in tasks if t.index[0] == i]
        for r in rows:
            r.attrs = {}
        per.append(xr.concat(rows, dim=xr.DataArray(sd, dims="seed", name="seed"), coords="minimal", join="outer",
                             compat="override", combine_attrs="drop"))
    ds = xr.concat(per, dim=xr.DataArray(names, dims=kind.dim, name=kind.dim), coords="minimal", join="outer",
                   compat="override", combine_attrs="drop")
    ds["seed"].attrs.update(long_name="SUMO seed")
    ds = kind.finish(study, alts, ds)
    if study.scenario is not None:
        ds.attrs.setdefault("scenario_name", study.scenario.name)
    return stamp(ds, spec_hash=study.spec_hash, seeds=sd, study_kind=study.kind, study_name=study.name,
                 study_file=str(study.source or ""), dimension=kind.dim, run_ids=[t.id for t in tasks],
                 title=f"{study.kind} study {study.name}: {len(names)} {kind.what} x {len(sd)} seeds")


# ---- one table and plot step -----------------------------------------------------------------
def _kind_of(ds: xr.Dataset) -> StudyKind:
    name = ds.attrs.get("study_kind")
    if name is None:
        raise InputError("this Dataset was not made by a study comparison (no 'study_kind' attribute)")
    return get_kind(str(name))


def study_table(ds: xr.Dataset, *, baseline: str | None = "default") -> pd.DataFrame:
    """One row per alternative: each KPI's mean over seeds and (``<title> sd``) its spread, and the first
    KPI's change against the kind's ``baseline`` alternative when it is in the Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`compare`'s.
    baseline : str or None
        The alternative changes are measured against (``"default"``: the kind's).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    kind = _kind_of(ds)
    base = kind.baseline if baseline == "default" else baseline
    rows = []
    for alt in ds[kind.dim].values:
        d = ds.sel({kind.dim: alt})
        row: dict[str, object] = {kind.dim: str(alt)}
        for c in kind.table:
            if c.var not in d:
                continue
            v = d[c.var]
            other = [x for x in v.dims if x != "seed"]
            if other:
                v = v.mean(other, skipna=True)
            row[c.title] = float(v.mean("seed", skipna=True))
            row[f"{c.title} sd"] = float(v.std("seed", skipna=True, ddof=1)) if d.sizes["seed"] > 1 else float("nan")
        rows.append(row)
    t = pd.DataFrame(rows).set_index(kind.dim)
    first = kind.table[0].title
    if base is not None and base in t.index and first in t:
        t[f"{first.split()[0]} vs {base}"] = t[first] / t.loc[base, first] - 1.0
    return t


def format_table(ds: xr.Dataset, *, baseline: str | None = "default") -> str:
    """The comparison as a Markdown table (mean +/- sd over seeds).

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`compare`'s.
    baseline : str or None
        The alternative the first KPI's change is measured against (``"default"``: the kind's).

    Returns
    -------
    str
    """
    kind = _kind_of(ds)
    t = study_table(ds, baseline=baseline)
    cols = [c for c in kind.table if c.title in t]
    rel = [c for c in t.columns if " vs " in str(c)]
    head = [kind.dim] + [f"{c.title}" for c in cols] + rel
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for alt, r in t.iterrows():
        cells = [str(alt)]
        for c in cols:
            v, sd = r[c.title], r[f"{c.title} sd"]
            cells.append(c.fmt.format(v) + ("" if not np.isfinite(sd) or sd == 0 else " +/- " + c.fmt.format(sd)))
        cells += [f"{r[c]:+.0%}" for c in rel]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def study_figures(study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
    """The kind's figures of a comparison, as ``(file name, figure)`` pairs.

    Parameters
    ----------
    study : Study
    ds : xarray.Dataset
        :func:`compare`'s.

    Returns
    -------
    iterator of (str, Figure)
    """
    return get_kind(study.kind).figures(study, ds)
