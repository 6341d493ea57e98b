"""Sweeps: any study's alternatives and any field of its file, over seeds, resumable and fault tolerant.

A sweep file (YAML) names a base file (a scenario, or any study: parking, charging, toll plaza), fixed
overrides (``set``), the parameters to vary (any field of the base file by dotted path, e.g.
``demand.trips_veh_h``, ``compliance`` or ``demand.profile.1.scale``, and the study's alternatives
under its dimension name: ``controller``, ``strategy``, ``layout`` or ``mix``), the seeds and an output
folder:

.. code-block:: yaml

    name: grid_demand
    base: ../scenarios/signal_control/grid3x3.yaml    # relative to the sweep file
    set: {end_s: 1800}
    vary:
      demand.trips_veh_h: [600, 1000, 1400]
      controller: [fixed, actuated, maxpressure]
    seeds: 3                                         # or a list: [1, 2, 3]
    output: out/grid_demand
    time_limit_s: 600                                # hard limit per run
    retries: 2                                       # re-runs after a crash, a killed worker or the time limit

The runs go to the one executor every study uses (:mod:`mobility.executor`): every run has a stable
id (a hash of its study, alternative and seed) and a folder ``output/<run-id>/`` with ``run.json``, the
run's raw files and, written atomically when it succeeds, ``result.nc``. Running the sweep again runs
only the runs that did not finish. :func:`run_sweep` then combines every run into one Dataset with one
dimension per varied parameter and ``seed`` holding each run's scalar KPIs (``output/sweep.nc`` or
``sweep.zarr``; a run's full results stay in its ``result.nc``), failed runs as NaN
with ``status`` and ``error``. Locally the runs use a pool of fresh processes; with ``client=``,
``scheduler=`` or a ``cluster:`` section (dask-jobqueue SLURM/PBS) they run on Dask.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from ._errors import InputError, MobilityError
from ._spec import Spec
from .executor import ERROR_FILE, Progress, Task, execute, failure_reason, is_finished, load_result

__all__ = ["Run", "SweepResult", "SweepSpec", "combine_runs", "is_finished", "load_sweep", "plan_runs", "run_sweep"]

#: The signal study's alternative dimension (kept under this name for older code).
CONTROLLER = "controller"


class ClusterSpec(Spec):
    """A dask-jobqueue cluster started for the sweep (``kind`` slurm or pbs)."""

    kind: Literal["slurm", "pbs"]
    jobs: int = Field(1, ge=1, le=100_000, description="batch jobs to start (each one Dask worker process)")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of SLURMCluster / PBSCluster")


class SweepSpec(Spec):
    """A sweep file (see the module docstring)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    base: Path
    study_kind: str | None = Field(None, description="the base file's kind (default: found from the file)")
    set: dict[str, Any] = Field(default_factory=dict, description="fixed overrides: dotted path -> value")
    vary: dict[str, list[Any]] = Field(default_factory=dict, description="dotted path -> values")
    seeds: list[int] = Field(min_length=1, max_length=100_000)
    output: Path
    time_limit_s: float = Field(1800.0, gt=0)
    retries: int = Field(2, ge=0, le=100)
    workers: int = Field(2, ge=1, le=4096)
    backend: Literal["libsumo", "traci"] = "libsumo"
    format: Literal["netcdf", "zarr"] = "netcdf"
    cluster: ClusterSpec | None = None
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("seeds", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            if not 1 <= v <= 100_000:
                raise ValueError("seeds: give a count from 1 to 100000 or a list of seeds")
            return list(range(1, v + 1))
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v) or any(not 0 <= s < 2**31 for s in v):
            raise ValueError(f"seeds must be distinct and in 0..2147483647, got {v}")
        return v

    @field_validator("vary")
    @classmethod
    def _values(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in v.items():
            if not values:
                raise ValueError(f"vary.{path}: give at least one value")
            if len({json.dumps(x, sort_keys=True) for x in values}) != len(values):
                raise ValueError(f"vary.{path}: values repeat ({values})")
            if path == "seed":
                raise ValueError("vary.seed: list seeds under 'seeds:'")
        return v


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its id, the varied values, the seed, its index in the grid and its task."""

    id: str
    params: dict[str, Any]
    seed: int
    index: tuple[int, ...]
    task: Task | None = None

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items()) + f", seed={self.seed}"


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the combined Dataset and per-run outcomes."""

    dataset: Any
    path: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# ---- the spec ----------------------------------------------------------------------------------
def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file: the base file loads, and every override is a valid value of it.

    Parameters
    ----------
    path : path

    Returns
    -------
    SweepSpec
    """
    from ._spec import read_spec
    from .study import detect_kind

    p = Path(path)
    spec, _, _ = read_spec(p, SweepSpec, what="sweep file", hint="base, vary, seeds and output")
    base = (p.parent / spec.base).resolve()
    out = (p.parent / spec.output).resolve()
    if not base.is_file():
        raise InputError(f"{p}: field 'base': file not found: {base}; paths are relative to the sweep file")
    kind = spec.study_kind or detect_kind(base)
    spec = spec.model_copy(update={"base": base, "output": out, "source_file": p.resolve(), "study_kind": kind})
    _check(spec)
    return spec


def _kind(spec: SweepSpec) -> Any:
    from .study import get_kind

    return get_kind(spec.study_kind or "signals")


def _check(spec: SweepSpec) -> None:
    """Build the first and last value of every varied field once, so a bad value fails before any run."""
    kind = _kind(spec)
    raw = _base_dict(spec)
    for path, values in spec.vary.items():
        if path == kind.dim:
            try:
                kind.check_alternatives(_study(spec, raw, {}, where="set"), values)
            except InputError as exc:
                raise InputError(f"{spec.source_file}: field 'vary.{path}': {exc}") from None
            continue
        for v in {0: values[0], len(values) - 1: values[-1]}.values():
            _spec_of(spec, raw, {path: v}, where=f"vary.{path}={v!r}")
    _spec_of(spec, raw, {}, where="set")


def _base_dict(spec: SweepSpec) -> dict[str, Any]:
    from ._spec import read_mapping

    return read_mapping(spec.base, what="base file")[0]


def _assign(data: dict[str, Any], path: str, value: Any, where: str) -> None:
    keys = path.split(".")
    node: Any = data
    for k, key in enumerate(keys):
        last = k == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise InputError(f"{where}: '{'.'.join(keys[:k + 1])}' is not an index of a list of {len(node)} items")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise InputError(f"{where}: '{'.'.join(keys[:k])}' is a value, not a mapping; cannot set '{path}'")


def _spec_of(spec: SweepSpec, raw: dict[str, Any], params: dict[str, Any], *, where: str) -> Any:
    kind = _kind(spec)
    data = json.loads(json.dumps(raw))
    for path, value in {**spec.set, **params}.items():
        if path != kind.dim:
            _assign(data, path, value, f"{spec.source_file}: {where}")
    try:
        s = kind.from_dict(data, base_dir=spec.base.parent, source=f"{spec.source_file} ({where})")
    except MobilityError as exc:
        raise InputError(str(exc)) from None
    return s.model_copy(update={"source_file": spec.base})


def _study(spec: SweepSpec, raw: dict[str, Any], params: dict[str, Any], *, where: str) -> Any:
    return _kind(spec).resolve(_spec_of(spec, raw, params, where=where))


def plan_runs(spec: SweepSpec) -> list[Run]:
    """Every run of the sweep: the product of the varied values, times the seeds.

    Parameters
    ----------
    spec : SweepSpec

    Returns
    -------
    list of Run
    """
    from .study import task_id

    kind = _kind(spec)
    raw = _base_dict(spec)
    names = list(spec.vary)
    fields = [n for n in names if n != kind.dim]
    fixed_alt = spec.set.get(kind.dim)
    studies: dict[tuple[int, ...], Any] = {}
    out: list[Run] = []
    grids = [range(len(spec.vary[n])) for n in names]
    for idx in itertools.product(*grids):
        params = {n: spec.vary[n][i] for n, i in zip(names, idx, strict=True)}
        key = tuple(i for n, i in zip(names, idx, strict=True) if n != kind.dim)
        if key not in studies:
            studies[key] = _study(spec, raw, {n: params[n] for n in fields},
                                  where=", ".join(f"{k}={params[k]!r}" for k in fields) or "base")
        study = studies[key]
        word = params.get(kind.dim, fixed_alt)
        name, payload = kind.sweep_alternative(study, word, backend=spec.backend)
        for k, seed in enumerate(spec.seeds):
            job = {"entry": "mobility.study:run_job", "kind": kind.name, "study": kind.spec_json(study),
                   "alternative": payload, "alternative_name": name, "seed": int(seed), "params": params}
            rid = task_id(kind.name, study.spec_hash, payload, seed)
            run = Run(rid, params, seed, (*idx, k))
            out.append(Run(rid, params, seed, (*idx, k), Task(rid, run.label(), job, (*idx, k))))
    return out


def _jobqueue_cluster(spec: SweepSpec) -> Any:
    """The dask-jobqueue cluster object of the sweep file's ``cluster:`` (no job submitted yet)."""
    try:
        import dask_jobqueue
    except ImportError:
        raise InputError("cluster: in the sweep file needs dask-jobqueue and distributed: "
                         "pip install -e '.[cluster]'") from None
    if spec.cluster is None:
        raise InputError(f"{spec.source_file}: no cluster: section")
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[spec.cluster.kind]
    opts = {"cores": 1, "processes": 1, "memory": "4GB", **spec.cluster.options}
    try:
        return cls(**opts)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{spec.source_file}: cluster.options: {exc}") from None


def cluster_job_script(spec: SweepSpec) -> str:
    """The batch script each job of the sweep's ``cluster:`` would submit (for checking before a run)."""
    cluster = _jobqueue_cluster(spec)
    try:
        return str(cluster.job_script())
    finally:
        cluster.close()


# ---- the sweep ---------------------------------------------------------------------------------
def run_sweep(
    spec: SweepSpec | str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    retries: int | None = None,
    progress: Progress | None = None,
    only_missing: bool = True,
) -> SweepResult:
    """Run every run of the sweep that is not finished yet, then combine all runs into one Dataset.

    Parameters
    ----------
    spec : SweepSpec or path of a sweep file
    workers : int, optional
        Local worker processes (default: the sweep file's ``workers``).
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``).
    client : distributed.Client, optional
        A Dask client to use (e.g. a notebook's ``Client(LocalCluster())``).
    retries : int, optional
        Re-runs of a run that crashed, died or hit the time limit (default: the sweep file's).
    progress : callable, optional
        ``progress(done, failed, remaining, seconds_left, event)`` after every run.
    only_missing : bool
        Skip runs whose result exists (resume an interrupted sweep); False runs them all again.

    Returns
    -------
    xarray.Dataset
        :func:`combine_runs`'s.
    """
    if workers is not None and not (isinstance(workers, int) and 1 <= workers <= 4096):
        raise InputError(f"workers must be a whole number in 1..4096, got {workers!r}")
    if retries is not None and not (isinstance(retries, int) and 0 <= retries <= 100):
        raise InputError(f"retries must be a whole number in 0..100, got {retries!r}")
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    t0 = time.perf_counter()
    try:
        spec.output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=spec.output, prefix=".mobility-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"{spec.source_file or spec.name}: field 'output': cannot write in {spec.output} "
                         f"({exc.strerror or exc}); choose a folder you can write to") from None
    runs = plan_runs(spec)
    tasks = [r.task for r in runs if r.task is not None]
    todo = [t for t in tasks if not (only_missing and is_finished(spec.output / t.id))]
    own_client = cluster = None
    if todo and client is None and scheduler is not None:
        from distributed import Client

        client = own_client = Client(scheduler)
    elif todo and client is None and spec.cluster is not None:
        from distributed import Client

        cluster = _jobqueue_cluster(spec)
        cluster.scale(jobs=spec.cluster.jobs)
        client = own_client = Client(cluster)
    try:
        outcome = execute(tasks, workdir=spec.output, workers=workers or spec.workers, client=client,
                          time_limit_s=spec.time_limit_s, retries=spec.retries if retries is None else retries,
                          progress=progress, only_missing=only_missing, preload=_kind(spec).preload)
    finally:
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()
    ds = combine_runs(spec, runs, failed=outcome.failed)
    path = spec.output / ("sweep.zarr" if spec.format == "zarr" else "sweep.nc")
    _save(ds, path)
    return SweepResult(ds, path, ran=outcome.ran, skipped=outcome.skipped, failed=outcome.failed,
                       attempts=outcome.attempts, seconds=time.perf_counter() - t0)


def _save(ds: Any, path: Path) -> None:
    from ._io import atomic_path

    if path.suffix == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise InputError("format: zarr needs the zarr package (pip install zarr), or use format: netcdf") from None
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)  # format 2: stable for text variables
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        return
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def _placeholder(template: Any) -> Any:
    """An all-NaN stand-in for a run without results (numeric variables only)."""
    import xarray as xr

    return xr.Dataset({n: xr.full_like(v, np.nan, dtype=float) for n, v in template.data_vars.items()
                       if np.issubdtype(v.dtype, np.number) or v.dtype == bool}, attrs={})


def combine_runs(spec: SweepSpec, runs: Sequence[Run] | None = None, *, failed: dict[str, str] | None = None) -> Any:
    """One Dataset of every run's scalar KPIs: dims are the varied parameters (in the file's order) and ``seed``.

    A run's other variables (queues over time, occupancy by area, per-vehicle values) stay in its own
    ``result.nc`` (``output/<run-id>/``, named by the ``run_id`` variable).

    Parameters
    ----------
    spec : SweepSpec
    runs : list of Run, optional
        The runs to combine (default: :func:`plan_runs`).
    failed : dict of str to str, optional
        Runs that failed for good, by id, with the reason (their KPIs are NaN).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    from .provenance import stamp

    runs = list(runs) if runs is not None else plan_runs(spec)
    failed = dict(failed or {})
    dims = [*spec.vary, "seed"]
    shape = tuple(len(spec.vary[n]) for n in spec.vary) + (len(spec.seeds),)
    results: dict[str, Any] = {}
    clash: dict[str, str] = {}
    for r in runs:
        d = spec.output / r.id
        if is_finished(d):
            res = load_result(d)
            res = res.drop_vars([v for v in res.variables if res[v].dims])  # the KPIs; the rest stays in result.nc
            res.attrs = {}
            # a run's variable named like a varied field (``points``) keeps its values as ``<name>_run``
            clash.update({v: f"{v}_run" for v in spec.vary if v in res.variables})
            results[r.id] = res.rename({k: v for k, v in clash.items() if k in res.variables})
        elif r.id not in failed:
            failed[r.id] = failure_reason(d, None) if (d / ERROR_FILE).is_file() else "not run"
    status = np.full(shape, "missing", dtype=object)
    error = np.full(shape, "", dtype=object)
    run_id = np.full(shape, "", dtype=object)
    by_index: dict[tuple[int, ...], Any] = {}
    template = next(iter(results.values()), None)
    for r in runs:
        run_id[r.index] = r.id
        if r.id in results:
            status[r.index] = "finished"
            by_index[r.index] = results[r.id]
        else:
            status[r.index] = "failed" if failed.get(r.id, "not run") != "not run" else "missing"
            error[r.index] = failed.get(r.id, "not run")
    coords: dict[str, Any] = {}
    for n in spec.vary:
        vals = spec.vary[n]
        if any(isinstance(v, list | dict) for v in vals):  # lists and mappings label their coordinate as JSON
            vals = [json.dumps(v, sort_keys=True) for v in vals]
        coords[n] = (n, np.array(vals, dtype=object if any(isinstance(v, str) for v in vals) else None),
                     {"long_name": f"field {n} of the base file" if n != _kind(spec).dim else _kind(spec).what})
    coords["seed"] = ("seed", np.array(spec.seeds), {"long_name": "SUMO seed"})

    def nest(prefix: tuple[int, ...]) -> Any:
        level = len(prefix)
        if level == len(shape):
            got = by_index.get(prefix)
            return got if got is not None else _placeholder(template)
        parts = [nest((*prefix, i)) for i in range(shape[level])]
        return xr.concat(parts, dim=dims[level], coords="minimal", join="outer", compat="override",
                         combine_attrs="drop")

    ds = nest(()) if template is not None else xr.Dataset()
    ds = ds.drop_vars([d for d in dims if d in ds.coords], errors="ignore").assign_coords(coords)
    ds["status"] = (dims, status.astype(str), {"long_name": "finished, failed or missing"})
    ds["error"] = (dims, error.astype(str), {"long_name": "why a run failed (SUMO's error text where it gave one)"})
    ds["run_id"] = (dims, run_id.astype(str), {"long_name": "folder of the run under the output folder"})
    return stamp(ds, seeds=list(spec.seeds), title=f"sweep {spec.name}", sweep_file=str(spec.source_file or ""),
                 base_file=str(spec.base), study_kind=_kind(spec).name, set=spec.set, varied=list(spec.vary),
                 runs=len(runs), finished=int((status == "finished").sum()), failed=int((status == "failed").sum()),
                 backend=spec.backend, renamed=clash or None)
