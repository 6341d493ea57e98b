"""Scenario sweeps: combined results equal single runs; killed workers, killed SUMO, interrupted sweeps, Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml

import mobility as mb
from mobility.sweep import CONTROLLER, SweepResult, is_finished, load_sweep, plan_runs, run_sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "scenarios" / "signal_control" / "grid3x3.yaml"
KPIS = ["mean_delay_s", "mean_travel_time_s", "throughput_veh_h", "vehicles_arrived", "vehicles_unfinished"]


def _sweep(tmp: Path, name: str = "s", **fields: object) -> Path:
    spec = {"name": name, "base": str(GRID), "set": {"end_s": 900}, "vary": {"demand.trips_veh_h": [600, 1200]},
            "seeds": [1, 2], "output": "out", **fields}
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "sweep.yaml").write_text(yaml.safe_dump(spec))
    return tmp / "sweep.yaml"


def _watch_and_kill(out: Path, pick: object, stop: threading.Event, killed: list[str]) -> None:
    """Kill (once) the first process ``pick(worker)`` returns for a run that is still going."""
    while not stop.is_set() and not killed:
        for pid_file in out.glob("*/worker.pid"):
            run_dir = pid_file.parent
            if is_finished(run_dir):
                continue
            try:
                worker = psutil.Process(int(pid_file.read_text()))
                target = pick(worker)  # type: ignore[operator]
                if target is None:
                    continue
                time.sleep(0.05)
                if is_finished(run_dir):
                    continue
                target.send_signal(signal.SIGKILL)
            except (psutil.Error, ProcessLookupError, ValueError, OSError):
                continue  # the process ended on its own meanwhile: watch the next one
            killed.append(run_dir.name)
            return
        time.sleep(0.01)


def _sweep_with_killer(f: Path, pick: object) -> tuple[SweepResult, list[str]]:
    """Run the sweep while a watcher kills, once, the process ``pick`` chooses for a running run."""
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_watch_and_kill, args=(f.parent / "out", pick, stop, killed))
    t.start()
    try:
        res = run_sweep(f, workers=2)
    finally:
        stop.set()
        t.join()
    return res, killed


def test_sweep_dataset_equals_the_runs_done_one_by_one(tmp_path: Path) -> None:
    f = _sweep(tmp_path, vary={"demand.trips_veh_h": [600, 1200], CONTROLLER: ["fixed", "maxpressure"]}, seeds=[3, 4])
    res = run_sweep(f, workers=2)
    ds = res.dataset
    assert dict(ds.sizes) == {"demand.trips_veh_h": 2, CONTROLLER: 2, "seed": 2}
    assert (ds["status"] == "finished").all() and not res.failed and len(res.ran) == 8
    from mobility.signals.control import run_controlled

    base = mb.load_scenario(GRID)
    for level in (600, 1200):
        sc = base.model_copy(update={"end_s": 900.0, "demand": base.demand.model_copy(update={"trips_veh_h": float(level)})})
        for ctl in ("fixed", "maxpressure"):
            for seed in (3, 4):
                one = mb.kpis(run_controlled(sc, ctl, seed=seed))
                got = ds.sel({"demand.trips_veh_h": level, CONTROLLER: ctl, "seed": seed})
                for k in KPIS:
                    assert float(got[k]) == pytest.approx(float(one[k]), rel=1e-12, abs=1e-12), (level, ctl, seed, k)
    saved = mb.load_results(res.path)
    assert float(saved["mean_delay_s"].sum()) == pytest.approx(float(ds["mean_delay_s"].sum()))
    # provenance of each run
    attrs = json.loads((f.parent / "out" / ds["run_id"].values.flat[0] / "run.json").read_text())
    assert attrs["seed"] == 3 and attrs["study"]["end_s"] == 900.0


def test_killed_worker_process_is_retried_with_no_lost_or_duplicated_result(tmp_path: Path) -> None:
    f = _sweep(tmp_path, set={"end_s": 2400}, seeds=[1, 2, 3])
    out = f.parent / "out"
    res, killed = _sweep_with_killer(f, lambda w: w)
    assert killed, "no worker was caught running"
    assert not res.failed and len(res.ran) == 6 and sorted(res.ran) == sorted({*res.ran})
    assert res.attempts[killed[0]] == 2 and sum(res.attempts.values()) == 7
    assert (res.dataset["status"] == "finished").all()
    assert len(list(out.glob("*/result.nc"))) == 6


def test_killed_sumo_process_is_retried(tmp_path: Path) -> None:
    f = _sweep(tmp_path, set={"end_s": 7200}, backend="traci", seeds=[1])

    def sumo_of(worker: psutil.Process) -> psutil.Process | None:
        # a SUMO that TraCI is connected to (traci.start replaces one that dies before the connection)
        kids = [p for p in worker.children(recursive=True) if "sumo" in p.name()
                and any(c.status == "ESTABLISHED" for c in p.net_connections())]
        return kids[0] if kids else None

    res, killed = _sweep_with_killer(f, sumo_of)
    assert killed, "no SUMO process was caught running"
    assert not res.failed and res.attempts[killed[0]] == 2
    assert (res.dataset["status"] == "finished").all()


def test_second_run_after_an_interrupted_sweep_runs_only_the_missing_runs(tmp_path: Path) -> None:
    f = _sweep(tmp_path, set={"end_s": 1800}, seeds=[1, 2, 3, 4], workers=1)
    out = f.parent / "out"
    proc = subprocess.Popen([sys.executable, "-m", "mobility.cli", "sweep", "run", str(f), "--quiet"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(out.glob("*/result.nc"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its fork server and its workers
    proc.wait()
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.nc")}
    assert 2 <= len(done_before) < 8
    res = run_sweep(f)
    assert sorted(res.skipped) == sorted(done_before)
    assert len(res.ran) == 8 - len(done_before) and not set(res.ran) & set(done_before)
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.nc") if p.parent.name in done_before} == done_before
    assert (res.dataset["status"] == "finished").all()


def test_failures_are_recorded_with_sumo_error_text_and_the_sweep_finishes(tmp_path: Path) -> None:
    f = _sweep(tmp_path, vary={"sumo.extra_args": [[], ["--no-such-option", "1"]]}, seeds=[1], retries=1)
    r = subprocess.run([sys.executable, "-m", "mobility.cli", "sweep", "run", str(f), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 1 and "1 failed" in r.stdout
    ds = mb.load_results(f.parent / "out" / "sweep.nc")
    assert list(ds["status"].values.ravel()) == ["finished", "failed"]
    assert "no-such-option" in str(ds["error"].values.ravel()[1])
    assert np.isnan(ds["mean_delay_s"].values.ravel()[1]) and ds["mean_delay_s"].values.ravel()[0] > 0


def test_time_limit_stops_a_run(tmp_path: Path) -> None:
    f = _sweep(tmp_path, set={"end_s": 7200}, vary={}, seeds=[1], time_limit_s=1.0, retries=0, format="zarr")
    res = run_sweep(f)
    assert list(res.failed.values()) == ["time limit of 1 s exceeded"]
    assert str(res.dataset["status"].values.ravel()[0]) == "failed"
    import xarray as xr

    saved = xr.open_zarr(res.path)
    assert res.path.name == "sweep.zarr" and str(saved["error"].values.ravel()[0]) == "time limit of 1 s exceeded"


def test_dask_local_cluster_gives_the_same_results_as_the_local_pool(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = run_sweep(_sweep(tmp_path / "a", vary={CONTROLLER: ["fixed", "greedy"]}))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_sweep(_sweep(tmp_path / "b", vary={CONTROLLER: ["fixed", "greedy"]}), scheduler=cluster.scheduler_address)
    assert (remote.dataset["status"] == "finished").all()
    for k in KPIS:
        np.testing.assert_array_equal(local.dataset[k].values, remote.dataset[k].values)
    np.testing.assert_array_equal(local.dataset["run_id"].values, remote.dataset["run_id"].values)


def test_bad_sweep_files_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(mb.InputError, match="demand.trips_veh_h"):
        load_sweep(_sweep(tmp_path / "a", vary={"demand.trips_veh_h": [-5, 10]}))
    with pytest.raises(mb.InputError, match="nosuchfield"):
        load_sweep(_sweep(tmp_path / "b", vary={"nosuchfield": [1, 2]}))
    with pytest.raises(mb.InputError, match="unknown controller"):
        load_sweep(_sweep(tmp_path / "c", vary={CONTROLLER: ["fixed", "magic"]}))
    with pytest.raises(mb.InputError, match="profile.7"):
        load_sweep(_sweep(tmp_path / "d", vary={"demand.profile.7.scale": [1.0]}))
    assert len(plan_runs(load_sweep(_sweep(tmp_path / "e")))) == 4


def test_slurm_cluster_section_gives_a_job_script(tmp_path: Path) -> None:
    pytest.importorskip("dask_jobqueue")
    f = _sweep(tmp_path, cluster={"kind": "slurm", "jobs": 4,
                                  "options": {"queue": "normal", "walltime": "02:00:00", "account": "traffic"}})
    r = subprocess.run([sys.executable, "-m", "mobility.cli", "sweep", "plan", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "#SBATCH -p normal" in r.stdout and "#SBATCH -A traffic" in r.stdout and "#SBATCH -t 02:00:00" in r.stdout
    assert "4 SLURM jobs" in r.stdout
