"""Scenario sweeps: many SUMO runs over parameter grids and seeds, resumable and fault tolerant.

A sweep file (YAML) names a base scenario, fixed overrides (``set``), the parameters to vary (any
scenario field by dotted path, e.g. ``demand.trips_veh_h`` or ``demand.profile.1.scale``, plus the
special ``controller``), the seeds and an output folder:

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

Every run gets a stable id (a hash of its scenario and seed) and a folder ``output/<run-id>/`` that
holds SUMO's raw files (``sumo/``), ``run.json`` (what was run) and, written atomically when the run
succeeds, ``kpis.nc`` (the KPIs with provenance). A run whose ``kpis.nc`` exists is finished: running
the sweep again runs only the others. :func:`run_sweep` then combines every run into one Dataset with
one dimension per varied parameter and ``seed`` (``output/sweep.nc`` or ``sweep.zarr``), failed runs as
NaN with ``status`` and ``error``.

Execution: locally, a pool of worker slots, each run in a fresh process (libsumo allows one simulation
per process) forked from a server that has the toolkit imported; on a cluster, dask.distributed
(``scheduler=`` an address, ``client=`` a notebook's Client, or ``cluster:`` in the sweep file for a
dask-jobqueue SLURM/PBS cluster), where each task starts the run in its own subprocess. Workers get
paths and small dicts, never pickled networks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._errors import InputError, MobilityError

__all__ = ["Run", "SweepResult", "SweepSpec", "combine_runs", "execute_run", "load_sweep", "plan_runs", "run_sweep"]

CONTROLLER = "controller"
KPIS_FILE = "kpis.nc"
RUN_FILE = "run.json"
ERROR_FILE = "error.json"
#: Progress callback: (done, failed, remaining, seconds left or None, last event)
Progress = Callable[[int, int, int, float | None, str], None]


class ClusterSpec(BaseModel):
    """A dask-jobqueue cluster started for the sweep (``kind`` slurm or pbs)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["slurm", "pbs"]
    jobs: int = Field(1, ge=1, description="batch jobs to start (each one Dask worker process)")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of SLURMCluster / PBSCluster")


class SweepSpec(BaseModel):
    """A sweep file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    base: Path
    set: dict[str, Any] = Field(default_factory=dict, description="fixed overrides: dotted path -> value")
    vary: dict[str, list[Any]] = Field(default_factory=dict, description="dotted path -> values")
    seeds: list[int] = Field(min_length=1)
    output: Path
    time_limit_s: float = Field(1800.0, gt=0)
    retries: int = Field(2, ge=0)
    workers: int = Field(2, ge=1)
    backend: Literal["libsumo", "traci"] = "libsumo"
    format: Literal["netcdf", "zarr"] = "netcdf"
    cluster: ClusterSpec | None = None
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("seeds", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise ValueError("seeds: give a count >= 1 or a list of seeds")
            return list(range(1, v + 1))
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v) or any(s < 0 for s in v):
            raise ValueError(f"seeds must be distinct and >= 0, got {v}")
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
    """One simulation of a sweep."""

    id: str
    params: dict[str, Any]
    seed: int
    index: tuple[int, ...]

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
    """Read and check a sweep file: the base scenario loads, and every override is a valid scenario value."""
    from ._io import read_yaml_model

    p = Path(path)
    spec, _ = read_yaml_model(p, SweepSpec, what="sweep file", hint="base, vary, seeds and output")
    base = (p.parent / spec.base).resolve()
    out = (p.parent / spec.output).resolve()
    spec = spec.model_copy(update={"base": base, "output": out, "source_file": p.resolve()})
    _check(spec)
    return spec


def _check(spec: SweepSpec) -> None:
    """Build the first and last value of every varied parameter once, so a bad path fails before any run."""
    from .signals.control import ADAPTIVE

    raw = _base_dict(spec)
    for path, values in spec.vary.items():
        if path == CONTROLLER:
            bad = [v for v in values if v not in ("fixed", "actuated", *ADAPTIVE)]
            if bad:
                raise InputError(f"{spec.source_file}: vary.controller: unknown controller(s) {bad}; "
                                 f"choose from fixed, actuated, {', '.join(ADAPTIVE)}")
            continue
        for v in {0: values[0], len(values) - 1: values[-1]}.values():
            _scenario(spec, raw, {path: v}, where=f"vary.{path}={v!r}")
    _scenario(spec, raw, {}, where="set")


def _base_dict(spec: SweepSpec) -> dict[str, Any]:
    if not spec.base.is_file():
        raise InputError(f"{spec.source_file}: base scenario {spec.base} not found")
    try:
        data = yaml.safe_load(spec.base.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{spec.base}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{spec.base}: a scenario must be a mapping")
    return data


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


def _scenario(spec: SweepSpec, raw: dict[str, Any], params: dict[str, Any], *, where: str) -> Any:
    from .scenario import scenario_from_dict

    data = json.loads(json.dumps(raw))
    for path, value in {**spec.set, **{k: v for k, v in params.items() if k != CONTROLLER}}.items():
        _assign(data, path, value, f"{spec.source_file}: {where}")
    try:
        return scenario_from_dict(data, base_dir=spec.base.parent, source=f"{spec.source_file} ({where})",
                                  source_file=spec.base)
    except MobilityError as exc:
        raise InputError(str(exc)) from None


def plan_runs(spec: SweepSpec) -> list[Run]:
    """Every run of the sweep: the product of the varied values, times the seeds."""
    raw = _base_dict(spec)
    names = list(spec.vary)
    out: list[Run] = []
    grids = [range(len(spec.vary[n])) for n in names]
    for idx in itertools.product(*grids):
        params = {n: spec.vary[n][i] for n, i in zip(names, idx, strict=True)}
        sc = _scenario(spec, raw, params, where=", ".join(f"{k}={v!r}" for k, v in params.items()) or "base")
        for k, seed in enumerate(spec.seeds):
            key = json.dumps({"scenario": sc.spec_hash, "controller": params.get(CONTROLLER), "seed": seed,
                              "backend": spec.backend}, sort_keys=True)
            out.append(Run(hashlib.sha256(key.encode()).hexdigest()[:12], params, seed, (*idx, k)))
    return out


def _job(spec: SweepSpec, run: Run) -> dict[str, Any]:
    """What a worker needs: paths and plain values."""
    return {"sweep": str(spec.source_file or ""), "base": str(spec.base), "set": spec.set, "params": run.params,
            "seed": run.seed, "run_id": run.id, "run_dir": str(spec.output / run.id), "backend": spec.backend}


def is_finished(run_dir: Path) -> bool:
    return (run_dir / KPIS_FILE).is_file()


# ---- one run -----------------------------------------------------------------------------------
def execute_run(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in this process; writes ``run.json``, SUMO's files and, last and atomically, ``kpis.nc``."""
    import xarray as xr

    from ._io import atomic_path
    from ._sumo import installed_versions
    from .results import KPI_UNITS, _toolkit_version, kpis

    t0 = time.perf_counter()
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "worker.pid").write_text(str(os.getpid()))
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    spec = SweepSpec(name="run", base=Path(job["base"]), set=job["set"], seeds=[job["seed"]], output=run_dir.parent,
                     source_file=Path(job["sweep"]) if job["sweep"] else None)
    sc = _scenario(spec, _base_dict(spec), job["params"], where=f"run {job['run_id']}")
    (run_dir / RUN_FILE).write_text(json.dumps({**job, "scenario": sc.model_dump(mode="json"), "scenario_hash": sc.spec_hash,
                                                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, indent=1))
    sumo_dir = run_dir / "sumo"
    shutil.rmtree(sumo_dir, ignore_errors=True)
    sumo_dir.mkdir()
    controller = job["params"].get(CONTROLLER)
    t1 = time.perf_counter()
    if controller is None:
        from .simulation import run_scenario

        ds = run_scenario(sc, seed=job["seed"], backend=job["backend"], workdir=sumo_dir)
    else:
        from .signals.control import run_controlled

        ds = run_controlled(sc, controller, seed=job["seed"], workdir=sumo_dir, backend=job["backend"])
    sumo_s = time.perf_counter() - t1
    k = kpis(ds)
    data = {name: ((), np.float64(v), {"units": KPI_UNITS.get(name, "1")}) for name, v in k.items()}
    data["sumo_wall_s"] = ((), np.float64(sumo_s), {"units": "s", "long_name": "wall time of the SUMO run and reading its outputs"})
    data["run_wall_s"] = ((), np.float64(time.perf_counter() - t0), {"units": "s", "long_name": "wall time of the whole run"})
    attrs = {"run_id": job["run_id"], "params": json.dumps(job["params"], sort_keys=True), "seed": int(job["seed"]),
             "scenario_name": sc.name, "scenario_hash": sc.spec_hash, "backend": job["backend"],
             "controller": controller or "network programs", "toolkit_version": _toolkit_version(),
             "sumo_version": installed_versions().get("eclipse-sumo") or "", "created": dt.datetime.now(dt.UTC).isoformat()}
    out = xr.Dataset({n: xr.Variable(*v) for n, v in data.items()}, attrs=attrs)
    with atomic_path(run_dir / KPIS_FILE) as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    return {"run_id": job["run_id"], "kpis": k, "sumo_wall_s": sumo_s}


def _child(job: dict[str, Any]) -> None:
    """Body of a local worker process: run, or leave the error text in ``error.json`` and exit 3."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        execute_run(job)
    except BaseException as exc:  # noqa: BLE001 - everything a run can raise goes to error.json
        _write_error(Path(job["run_dir"]), exc)
        os._exit(3)
    os._exit(0)


def _write_error(run_dir: Path, exc: BaseException) -> None:
    text = str(exc) or type(exc).__name__
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(json.dumps({"error": text, "type": type(exc).__name__,
                                                      "traceback": traceback.format_exc(limit=8)}))
    except OSError:
        pass


def _failure_reason(run_dir: Path, exitcode: int | None) -> str:
    err = run_dir / ERROR_FILE
    if err.is_file():
        try:
            return str(json.loads(err.read_text())["error"])
        except (ValueError, KeyError, OSError):
            pass
    if exitcode is not None and exitcode < 0:
        return f"worker process killed by signal {-exitcode} ({signal.Signals(-exitcode).name})"
    return f"worker process exited with code {exitcode} without results"


def _kill_tree(pid: int) -> None:
    """Kill a worker and everything it started (a traci SUMO, duarouter)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


# ---- executors ---------------------------------------------------------------------------------
class _Tracker:
    """Counts, retries and the time estimate shared by both executors."""

    def __init__(self, runs: list[Run], retries: int, progress: Progress | None) -> None:
        self.queue = list(runs)
        self.total = len(runs)
        self.retries = retries
        self.progress = progress
        self.attempts: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.done: list[str] = []
        self.durations: list[float] = []
        self.t0 = time.perf_counter()

    def start(self, run: Run) -> int:
        self.attempts[run.id] = self.attempts.get(run.id, 0) + 1
        return self.attempts[run.id]

    def finished(self, run: Run, seconds: float) -> None:
        self.done.append(run.id)
        self.durations.append(seconds)
        self._report(f"done {run.label()}")

    def crashed(self, run: Run, reason: str) -> None:
        if self.attempts[run.id] <= self.retries:
            self.queue.append(run)
            self._report(f"retry {run.label()}: {reason[:120]}")
        else:
            self.failed[run.id] = reason
            self._report(f"FAILED {run.label()}: {reason[:120]}")

    def _report(self, event: str) -> None:
        if self.progress is None:
            return
        n_done, n_failed = len(self.done), len(self.failed)
        remaining = self.total - n_done - n_failed
        eta = None
        if n_done:
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / (n_done + n_failed) * remaining
        self.progress(n_done, n_failed, remaining, eta, event)


def _run_local(spec: SweepSpec, runs: list[Run], workers: int, tracker: _Tracker, poll_s: float = 0.05) -> None:
    ctx = mp.get_context("forkserver")
    # each worker is forked from a server that has imported the toolkit: a fresh process per run without
    # paying Python's start-up and imports again (libsumo itself is loaded only inside the run)
    ctx.set_forkserver_preload(["mobility.sweep", "mobility.simulation", "mobility.results", "mobility.signals.control",
                                "xarray", "pandas", "h5netcdf"])
    running: dict[str, tuple[Run, Any, float]] = {}
    try:
        while tracker.queue or running:
            while tracker.queue and len(running) < workers:
                run = tracker.queue.pop(0)
                tracker.start(run)
                proc = ctx.Process(target=_child, args=(_job(spec, run),), name=f"mobility-run-{run.id}", daemon=False)
                proc.start()
                running[run.id] = (run, proc, time.perf_counter())
            time.sleep(poll_s)
            for rid, (run, proc, t_start) in list(running.items()):
                over = time.perf_counter() - t_start > spec.time_limit_s
                if proc.is_alive() and not over:
                    continue
                if over and proc.is_alive():
                    _kill_tree(proc.pid)
                    proc.join(5)
                    reason = f"time limit of {spec.time_limit_s:g} s exceeded"
                else:
                    proc.join()
                    reason = _failure_reason(spec.output / rid, proc.exitcode)
                del running[rid]
                if proc.exitcode == 0 and is_finished(spec.output / rid):
                    tracker.finished(run, time.perf_counter() - t_start)
                else:
                    tracker.crashed(run, reason)
    finally:
        for _, proc, _ in running.values():
            _kill_tree(proc.pid)


def _dask_task(job: dict[str, Any], time_limit_s: float) -> dict[str, Any]:
    """A Dask task: the run in its own subprocess (a fresh process per simulation), with a hard time limit."""
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    job_file = run_dir / "job.json"
    job_file.write_text(json.dumps(job))
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "mobility.sweep", str(job_file)], capture_output=True, text=True,
                           timeout=time_limit_s, start_new_session=True)
        code = r.returncode
        tail = r.stderr[-2000:]
    except subprocess.TimeoutExpired:
        code, tail = None, f"time limit of {time_limit_s:g} s exceeded"
    ok = code == 0 and is_finished(run_dir)
    reason = "" if ok else (tail if code is None else _failure_reason(run_dir, code))
    return {"ok": ok, "reason": reason, "seconds": time.perf_counter() - t0}


def _run_dask(spec: SweepSpec, runs: list[Run], client: Any, tracker: _Tracker) -> None:
    from distributed import as_completed

    by_key: dict[str, Run] = {}

    def submit(run: Run) -> Any:
        tracker.start(run)
        fut = client.submit(_dask_task, _job(spec, run), spec.time_limit_s, key=f"mobility-run-{run.id}-{tracker.attempts[run.id]}",
                            pure=False, retries=0)
        by_key[fut.key] = run
        return fut

    pending = as_completed([submit(r) for r in tracker.queue])
    tracker.queue = []
    for fut in pending:
        run = by_key[fut.key]
        try:
            res = fut.result()
            ok, reason, secs = res["ok"], res["reason"], res["seconds"]
        except Exception as exc:  # noqa: BLE001 - a worker that died (KilledWorker) or a lost task
            ok, reason, secs = False, f"dask worker lost: {type(exc).__name__}: {exc}", 0.0
        if ok:
            tracker.finished(run, secs)
        else:
            tracker.crashed(run, reason)
            for again in tracker.queue:
                pending.add(submit(again))
            tracker.queue = []


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


def _cluster_client(spec: SweepSpec) -> tuple[Any, Any]:
    from distributed import Client

    cluster = _jobqueue_cluster(spec)
    assert spec.cluster is not None
    cluster.scale(jobs=spec.cluster.jobs)
    return Client(cluster), cluster


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
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    t0 = time.perf_counter()
    spec.output.mkdir(parents=True, exist_ok=True)
    runs = plan_runs(spec)
    todo = [r for r in runs if not (only_missing and is_finished(spec.output / r.id))]
    skipped = [r.id for r in runs if r not in todo]
    tracker = _Tracker(todo, spec.retries if retries is None else retries, progress)
    own_client = cluster = None
    if todo:
        if client is None and scheduler is not None:
            from distributed import Client

            client = own_client = Client(scheduler)
        elif client is None and spec.cluster is not None:
            client, cluster = _cluster_client(spec)
            own_client = client
        try:
            if client is not None:
                _run_dask(spec, todo, client, tracker)
            else:
                _run_local(spec, todo, workers or spec.workers, tracker)
        finally:
            if own_client is not None:
                own_client.close()
            if cluster is not None:
                cluster.close()
    ds = combine_runs(spec, runs, failed=tracker.failed)
    path = spec.output / ("sweep.zarr" if spec.format == "zarr" else "sweep.nc")
    _save(ds, path)
    return SweepResult(ds, path, ran=tracker.done, skipped=skipped, failed=tracker.failed, attempts=tracker.attempts,
                       seconds=time.perf_counter() - t0)


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


def combine_runs(spec: SweepSpec, runs: Sequence[Run] | None = None, *, failed: dict[str, str] | None = None) -> Any:
    """One Dataset of every run's KPIs: dims are the varied parameters (in the file's order) and ``seed``."""
    import xarray as xr

    runs = list(runs) if runs is not None else plan_runs(spec)
    failed = dict(failed or {})
    dims = [*spec.vary, "seed"]
    shape = tuple(len(spec.vary[n]) for n in spec.vary) + (len(spec.seeds),)
    per_run: dict[str, xr.Dataset] = {}
    names: list[str] = []
    units: dict[str, str] = {}
    for r in runs:
        f = spec.output / r.id / KPIS_FILE
        if f.is_file():
            with xr.open_dataset(f, engine="h5netcdf") as d:
                per_run[r.id] = d.load()
            for v in per_run[r.id].data_vars:
                if v not in names:
                    names.append(str(v))
                    units[str(v)] = per_run[r.id][v].attrs.get("units", "1")
        elif r.id not in failed:
            err = spec.output / r.id / ERROR_FILE
            failed[r.id] = _failure_reason(spec.output / r.id, None) if err.is_file() else "not run"
    arrays = {n: np.full(shape, np.nan) for n in names}
    status = np.full(shape, "missing", dtype=object)
    error = np.full(shape, "", dtype=object)
    run_id = np.full(shape, "", dtype=object)
    for r in runs:
        run_id[r.index] = r.id
        if r.id in per_run:
            status[r.index] = "finished"
            for n in names:
                if n in per_run[r.id]:
                    arrays[n][r.index] = float(per_run[r.id][n].values)
        else:
            status[r.index] = "failed" if failed.get(r.id, "not run") != "not run" else "missing"
            error[r.index] = failed.get(r.id, "not run")
    coords: dict[str, Any] = {}
    for n in spec.vary:
        vals = spec.vary[n]
        if any(isinstance(v, list | dict) for v in vals):  # lists and mappings label their coordinate as JSON
            vals = [json.dumps(v, sort_keys=True) for v in vals]
        coords[n] = (n, np.array(vals, dtype=object if any(isinstance(v, str) for v in vals) else None),
                     {"long_name": f"scenario field {n}" if n != CONTROLLER else "signal controller"})
    coords["seed"] = ("seed", np.array(spec.seeds), {"long_name": "SUMO seed"})
    data = {n: (dims, a, {"units": units[n]}) for n, a in arrays.items()}
    data["status"] = (dims, status.astype(str), {"long_name": "finished, failed or missing"})
    data["error"] = (dims, error.astype(str), {"long_name": "why a run failed (SUMO's error text where it gave one)"})
    data["run_id"] = (dims, run_id.astype(str), {"long_name": "folder of the run under the output folder"})
    first = next(iter(per_run.values()), None)
    attrs = {"title": f"sweep {spec.name}", "sweep_file": str(spec.source_file or ""), "base_scenario": str(spec.base),
             "set": json.dumps(spec.set, sort_keys=True), "varied": json.dumps(list(spec.vary)),
             "runs": len(runs), "finished": int((status == "finished").sum()), "failed": int((status == "failed").sum()),
             "toolkit_version": first.attrs.get("toolkit_version", "") if first is not None else "",
             "sumo_version": first.attrs.get("sumo_version", "") if first is not None else "",
             "backend": spec.backend, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _main(argv: list[str]) -> int:
    """``python -m mobility.sweep JOB.json``: run one job (the Dask executor's subprocess)."""
    job = json.loads(Path(argv[0]).read_text())
    try:
        execute_run(job)
    except BaseException as exc:  # noqa: BLE001
        _write_error(Path(job["run_dir"]), exc)
        print(f"run {job['run_id']} failed: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

