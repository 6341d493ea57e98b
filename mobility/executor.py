"""One executor for every batch of runs: studies' alternatives x seeds and sweeps alike.

A *task* is one run with a stable id and a small JSON job (paths and plain values, never pickled
networks). :func:`execute` runs the tasks that are not finished yet, each in a fresh process (libsumo
allows one simulation per process), locally or on a Dask cluster, with a hard time limit per run,
retries after a crash, a killed worker or the time limit, resume (a task whose ``result.nc`` exists
is finished) and cancellation (an interrupted batch, or with ``fail_fast`` a task that failed for
good, ends every other run).

Every task has a folder ``<workdir>/<task id>/`` holding ``run.json`` (what was run), the run's raw
files (``work/``) and, written atomically when it succeeds, ``result.nc``.

Execution: locally, a pool of worker slots, each run in a fresh process forked from a server that has
the toolkit imported; on a cluster, dask.distributed (a notebook's ``Client``, a scheduler address, or
a dask-jobqueue SLURM/PBS cluster), where each task starts its run in its own subprocess.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import InputError, SimulationError

__all__ = ["Outcome", "Progress", "Task", "execute", "is_finished", "load_result", "run_task"]

RESULT_FILE = "result.nc"
RUN_FILE = "run.json"
ERROR_FILE = "error.json"
#: Progress callback: (done, failed, remaining, seconds left or None, last event)
Progress = Callable[[int, int, int, float | None, str], None]


@dataclass(frozen=True)
class Task:
    """One run: a stable ``id`` (its folder's name), a label for people, and the JSON job a worker runs.

    ``job["entry"]`` names the function ``"module:function"`` that runs it in the worker: it takes the job
    and a work folder and returns an :class:`xarray.Dataset`.
    """

    id: str
    label: str
    job: dict[str, Any]
    index: tuple[int, ...] = ()


@dataclass
class Outcome:
    """What :func:`execute` did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def is_finished(run_dir: Path) -> bool:
    """A run is finished when its result file exists (written last, atomically).

    Parameters
    ----------
    run_dir : Path
        The run's folder.

    Returns
    -------
    bool
    """
    return (Path(run_dir) / RESULT_FILE).is_file()


def load_result(run_dir: Path) -> Any:
    """The result Dataset of a finished run (loaded into memory, the file closed).

    Parameters
    ----------
    run_dir : Path
        The run's folder.

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    with xr.open_dataset(Path(run_dir) / RESULT_FILE, engine="h5netcdf") as d:
        return d.load()


# ---- one run, in the worker process ----------------------------------------------------------
def run_task(job: dict[str, Any]) -> None:
    """Run one job in this process: ``run.json``, the run's files and, last and atomically, ``result.nc``.

    Parameters
    ----------
    job : dict
        The task's job (what :func:`mobility.study.run_job` runs), with its folder.
    """
    import importlib

    import numpy as np

    from ._io import atomic_path

    t0 = time.perf_counter()
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "worker.pid").write_text(str(os.getpid()))
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    (run_dir / RUN_FILE).write_text(json.dumps({**job, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
                                               indent=1, default=str))
    work = run_dir / "work"
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir()
    module, _, name = job["entry"].partition(":")
    ds = getattr(importlib.import_module(module), name)(job, work)
    ds["run_wall_s"] = ((), np.float64(time.perf_counter() - t0), {"units": "s", "long_name": "wall time of the whole run"})
    ds.attrs["run_id"] = job["run_id"]
    with atomic_path(run_dir / RESULT_FILE) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def _write_error(run_dir: Path, exc: BaseException) -> None:
    text = str(exc) or type(exc).__name__
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(json.dumps({"error": text, "type": type(exc).__name__,
                                                      "input": isinstance(exc, InputError),
                                                      "traceback": traceback.format_exc(limit=8)}))
    except OSError:
        pass


def _child(job: dict[str, Any]) -> None:
    """Body of a local worker process: run, or leave the error in ``error.json`` and exit 3."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        run_task(job)
    except BaseException as exc:  # noqa: BLE001 - everything a run can raise goes to error.json
        _write_error(Path(job["run_dir"]), exc)
        sys.exit(3)  # through multiprocessing's own exit, which releases what the run held


def _error(run_dir: Path) -> dict[str, Any] | None:
    err = run_dir / ERROR_FILE
    if err.is_file():
        try:
            return json.loads(err.read_text())
        except (ValueError, OSError):
            return None
    return None


def failure_reason(run_dir: Path, exitcode: int | None) -> str:
    """Why a run did not finish: its own error text, the signal that killed it, or its exit code."""
    e = _error(run_dir)
    if e is not None and "error" in e:
        return str(e["error"])
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


# ---- bookkeeping shared by both executors ----------------------------------------------------
class _Cancelled(Exception):
    pass


class _Tracker:
    """Counts, retries and the time estimate shared by the local and the Dask executor."""

    def __init__(self, tasks: list[Task], workdir: Path, retries: int, progress: Progress | None, fail_fast: bool) -> None:
        self.queue = list(tasks)
        self.total = len(tasks)
        self.workdir = workdir
        self.retries = retries
        self.progress = progress
        self.fail_fast = fail_fast
        self.outcome = Outcome()
        self.t0 = time.perf_counter()

    def start(self, task: Task) -> int:
        a = self.outcome.attempts
        a[task.id] = a.get(task.id, 0) + 1
        return a[task.id]

    def finished(self, task: Task) -> None:
        self.outcome.ran.append(task.id)
        self._report(f"done {task.label}")

    def crashed(self, task: Task, reason: str) -> None:
        err = _error(self.workdir / task.id) or {}
        if not err.get("input") and self.outcome.attempts[task.id] <= self.retries:
            self.queue.append(task)
            self._report(f"retry {task.label}: {reason[:120]}")
            return
        self.outcome.failed[task.id] = reason
        self._report(f"FAILED {task.label}: {reason[:120]}")
        if self.fail_fast:
            raise _Cancelled(task.id)

    def _report(self, event: str) -> None:
        if self.progress is None:
            return
        o = self.outcome
        remaining = self.total - len(o.ran) - len(o.failed)
        done = len(o.ran) + len(o.failed)
        eta = (time.perf_counter() - self.t0) / done * remaining if done else None
        self.progress(len(o.ran), len(o.failed), remaining, eta, event)


def _job(task: Task, workdir: Path) -> dict[str, Any]:
    return {**task.job, "run_id": task.id, "run_dir": str(workdir / task.id), "label": task.label}


def _run_local(tasks: list[Task], workdir: Path, workers: int, time_limit_s: float, tracker: _Tracker,
               preload: Sequence[str], poll_s: float = 0.05) -> None:
    ctx = mp.get_context("forkserver")
    # each worker is forked from a server that has imported the toolkit: a fresh process per run without
    # paying Python's start-up and imports again (libsumo itself is loaded only inside the run)
    ctx.set_forkserver_preload(["mobility.executor", "mobility.simulation", "mobility.results", "xarray", "pandas",
                                "h5netcdf", *preload])
    running: dict[str, tuple[Task, Any, float]] = {}
    try:
        while tracker.queue or running:
            while tracker.queue and len(running) < workers:
                task = tracker.queue.pop(0)
                tracker.start(task)
                proc = ctx.Process(target=_child, args=(_job(task, workdir),), name=f"mobility-run-{task.id}", daemon=False)
                proc.start()
                running[task.id] = (task, proc, time.perf_counter())
            time.sleep(poll_s)
            for tid, (task, proc, t_start) in list(running.items()):
                over = time.perf_counter() - t_start > time_limit_s
                if proc.is_alive() and not over:
                    continue
                if over and proc.is_alive():
                    _kill_tree(proc.pid)
                    proc.join(5)
                    reason = f"time limit of {time_limit_s:g} s exceeded"
                else:
                    proc.join()
                    reason = failure_reason(workdir / tid, proc.exitcode)
                del running[tid]
                if proc.exitcode == 0 and is_finished(workdir / tid):
                    tracker.finished(task)
                else:
                    tracker.crashed(task, reason)
    finally:  # cancelled, interrupted or failed: no run outlives the batch
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
        r = subprocess.run([sys.executable, "-m", "mobility.executor", str(job_file)], capture_output=True, text=True,
                           timeout=time_limit_s if time_limit_s != float("inf") else None, start_new_session=True)
        code, tail = r.returncode, r.stderr[-2000:]
    except subprocess.TimeoutExpired:
        code, tail = None, f"time limit of {time_limit_s:g} s exceeded"
    ok = code == 0 and is_finished(run_dir)
    reason = "" if ok else (tail if code is None else failure_reason(run_dir, code))
    return {"ok": ok, "reason": reason, "seconds": time.perf_counter() - t0}


def _run_dask(tasks: list[Task], workdir: Path, client: Any, time_limit_s: float, tracker: _Tracker) -> None:
    from distributed import as_completed

    by_key: dict[str, Task] = {}

    def submit(task: Task) -> Any:
        n = tracker.start(task)
        fut = client.submit(_dask_task, _job(task, workdir), time_limit_s, key=f"mobility-run-{task.id}-{n}",
                            pure=False, retries=0)
        by_key[fut.key] = task
        return fut

    futures = [submit(t) for t in tracker.queue]
    tracker.queue = []
    pending = as_completed(futures)
    try:
        for fut in pending:
            task = by_key[fut.key]
            try:
                res = fut.result()
                ok, reason = res["ok"], res["reason"]
            except Exception as exc:  # noqa: BLE001 - a worker that died (KilledWorker) or a lost task
                ok, reason = False, f"dask worker lost: {type(exc).__name__}: {exc}"
            if ok:
                tracker.finished(task)
                continue
            tracker.crashed(task, reason)
            for again in tracker.queue:
                f = submit(again)
                futures.append(f)
                pending.add(f)
            tracker.queue = []
    finally:
        client.cancel([f for f in futures if not f.done()])


def execute(tasks: Sequence[Task], *, workdir: str | Path, workers: int = 2, client: Any = None,
            time_limit_s: float | None = None, retries: int = 2, progress: Progress | None = None,
            only_missing: bool = True, fail_fast: bool = False, preload: Sequence[str] = ()) -> Outcome:
    """Run every task that is not finished yet; see the module docstring.

    Parameters
    ----------
    tasks : list of Task
        Distinct ids; a task's folder is ``workdir / task.id``.
    workdir : path
        Folder of the runs (created if missing); on a cluster it must be on a file system the workers share.
    workers : int
        Local worker processes (ignored with ``client``).
    client : distributed.Client, optional
        Run on this Dask cluster instead of locally.
    time_limit_s : float, optional
        Hard limit per run: the worker and the SUMO it started are killed (default: none).
    retries : int
        Re-runs of a run that crashed, died or hit the time limit (never of one that raised an InputError).
    progress : callable, optional
        ``progress(done, failed, remaining, seconds_left, event)`` after every run.
    only_missing : bool
        Skip tasks whose result exists (resume); False runs them again.
    fail_fast : bool
        Stop every other run as soon as one has failed for good, and raise: an InputError as it is,
        anything else as a SimulationError naming the run.
    preload : list of str
        Modules the local worker processes import once, before any run (a study kind's own modules).

    Returns
    -------
    Outcome
        The finished, failed and skipped runs.
    """
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise InputError("two runs have the same id (the same alternative and seed twice?)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    todo = [t for t in tasks if not (only_missing and is_finished(workdir / t.id))]
    tracker = _Tracker(todo, workdir, retries, progress, fail_fast)
    tracker.outcome.skipped = [t.id for t in tasks if t not in todo]
    limit = float("inf") if time_limit_s is None else float(time_limit_s)
    if limit <= 0:
        raise InputError(f"time_limit_s must be > 0, got {time_limit_s}")
    if todo:
        try:
            if client is not None:
                _run_dask(todo, workdir, client, limit, tracker)
            else:
                _run_local(todo, workdir, max(1, int(workers)), limit, tracker, preload)
        except _Cancelled as c:
            tid = str(c)
            task = next(t for t in todo if t.id == tid)
            err = _error(workdir / tid) or {}
            reason = tracker.outcome.failed[tid]
            if err.get("input"):
                raise InputError(reason) from None
            what = f" with {err['type']}" if err.get("type") else ""
            raise SimulationError(f"{task.label} (run {tid}) failed{what}: {reason} (files in {workdir / tid})") from None
    tracker.outcome.seconds = time.perf_counter() - t0
    return tracker.outcome


def _main(argv: list[str]) -> int:
    """``python -m mobility.executor JOB.json``: run one job (the Dask executor's subprocess)."""
    job = json.loads(Path(argv[0]).read_text())
    try:
        run_task(job)
    except BaseException as exc:  # noqa: BLE001
        _write_error(Path(job["run_dir"]), exc)
        print(f"run {job['run_id']} failed: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
