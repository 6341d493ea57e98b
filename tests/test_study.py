"""The study engine: one compare for every application, the same Dataset locally and on Dask, retries of
killed runs, resume, provenance, seeds, the shared spec reader, and every shipped sweep file run short."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr
import yaml

import mobility as mb
from mobility.executor import RESULT_FILE, is_finished
from mobility.study import compare, get_kind, kinds, load_study

from .conftest import ROOT
from .test_parking import _study as parking_study_file

EV_STUDY = ROOT / "scenarios" / "ev_charging" / "district_ev.yaml"


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    """Value for value (attributes and wall-clock times aside)."""
    assert set(a.data_vars) == set(b.data_vars) and dict(a.sizes) == dict(b.sizes)
    clocks = [v for v in a.data_vars if "wall" in str(v)]
    assert clocks, "the runs record their wall time"
    xr.testing.assert_equal(a.drop_vars(clocks).drop_attrs(), b.drop_vars(clocks).drop_attrs())


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def parking(tmp_path_factory):
    return load_study(parking_study_file(tmp_path_factory.mktemp("park")))


def test_every_kind_declares_the_study_shape() -> None:
    assert set(kinds()) == {"signals", "parking", "charging", "tolling", "incident", "transit", "taxi"}
    for name in kinds():
        k = get_kind(name)
        assert k.name == name and k.dim and k.table and k.default_alternatives
        assert all(c.units and c.title for c in k.table)


def test_parking_study_on_dask_equals_the_local_pool(parking, dask_client, tmp_path: Path) -> None:
    local = compare(parking, ["none", "realtime"], seeds=[1, 2], workers=2, workdir=tmp_path / "local")
    remote = compare(parking, ["none", "realtime"], seeds=[1, 2], client=dask_client, workdir=tmp_path / "dask")
    _same(local, remote)
    assert list(local["strategy"].values) == ["none", "realtime"] and list(local["seed"].values) == [1, 2]
    assert np.isfinite(local["mean_search_time_s"].values).all()
    # the same run ids in both folders: ids depend on the study, alternative and seed only
    assert json.loads(local.attrs["run_ids"]) == json.loads(remote.attrs["run_ids"])
    # the wrapper parking users know gives the same Dataset
    _same(local, mb.parking.compare_strategies(parking, ["none", "realtime"], seeds=[1, 2], workdir=tmp_path / "local"))


def test_charging_comparison_on_dask_equals_the_local_pool(dask_client, tmp_path: Path) -> None:
    study = load_study(EV_STUDY)
    words = ["optimal:pmedian:p=6", "random:p=6,seed=1"]
    local = compare(study, words, seeds=[1], workers=2, workdir=tmp_path / "local")
    remote = compare(study, words, seeds=[1], client=dask_client, workdir=tmp_path / "dask")
    _same(local, remote)
    assert list(local["layout"].values) == ["pmedian_p6", "random_p6_s1"]
    assert (local["energy_balance_error"] < 0.01).all()
    # stations of both layouts on one station axis, NaN points where a layout has none
    assert local.sizes["station"] == len(set(local["station"].values)) and np.isnan(local["points"].values).any()


def _kill_one_run(workdir: Path, stop: threading.Event, killed: list[str]) -> None:
    """Kill (once) the worker of a run that is still going."""
    while not stop.is_set() and not killed:
        for pid_file in workdir.glob("*/worker.pid"):
            if is_finished(pid_file.parent):
                continue
            try:
                proc = psutil.Process(int(pid_file.read_text()))
                time.sleep(0.2)
                if is_finished(pid_file.parent):
                    continue
                proc.send_signal(signal.SIGKILL)
            except (psutil.Error, ValueError, OSError):
                continue
            killed.append(pid_file.parent.name)
            return
        time.sleep(0.01)


def test_a_killed_run_is_retried_and_finished_runs_are_not_run_again(parking, tmp_path: Path) -> None:
    wd = tmp_path / "runs"
    stop, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_one_run, args=(wd, stop, killed))
    watcher.start()
    try:
        first = compare(parking, ["none", "optimised"], seeds=[1, 2], workers=2, workdir=wd, retries=1)
    finally:
        stop.set()
        watcher.join()
    assert killed, "no run was caught running"
    results = sorted(wd.glob(f"*/{RESULT_FILE}"))
    assert len(results) == 4 and killed[0] in {p.parent.name for p in results}
    stamps = {p: p.stat().st_mtime_ns for p in results}
    again = compare(parking, ["none", "optimised"], seeds=[1, 2], workers=2, workdir=wd)
    assert {p: p.stat().st_mtime_ns for p in results} == stamps  # nothing ran again
    _same(first, again)
    # a killed run with no retries left fails the comparison, naming the run
    with pytest.raises(mb.SimulationError, match="seed"):
        stop2, killed2 = threading.Event(), []
        w2 = threading.Thread(target=_kill_one_run, args=(tmp_path / "noretry", stop2, killed2))
        w2.start()
        try:
            compare(parking, ["none"], seeds=[3], workers=1, workdir=tmp_path / "noretry", retries=0)
        finally:
            stop2.set()
            w2.join()


def test_one_provenance_stamp(parking, tmp_path: Path) -> None:
    ds = compare(parking, ["none"], seeds=[4], workers=1, workdir=tmp_path)
    for key in ("toolkit_version", "sumo_version", "spec_hash", "seeds", "command", "created", "study_kind"):
        assert ds.attrs.get(key), key
    assert json.loads(ds.attrs["seeds"]) == [4] and ds.attrs["spec_hash"] == parking.spec_hash
    assert ds.attrs["sumo_version"] == mb.installed_versions()["eclipse-sumo"]


def test_compare_refuses_bad_requests(parking) -> None:
    with pytest.raises(mb.InputError, match="unknown strategies"):
        compare(parking, ["psychic"], seeds=[1])
    with pytest.raises(mb.InputError, match="distinct"):
        compare(parking, ["none"], seeds=[1, 1])
    with pytest.raises(mb.InputError, match="seeds"):
        compare(parking, ["none"], seeds=[-5])
    with pytest.raises(mb.InputError, match="charging study is needed"):
        mb.charging.build_layouts(parking, ["greedy:p=2"])


def test_seed_streams_are_named_and_do_not_collide() -> None:
    from mobility.seeds import rng, sub_seed

    draws = {(s, name): rng(s, name).integers(0, 2**62) for s in range(50) for name in ("demand", "battery", "payment")}
    assert len(set(draws.values())) == len(draws)
    # the old scheme's collision: seed + 7919 of one run is another run's seed; named streams do not meet
    assert rng(1 + 7919, "payment").random() != rng(1, "payment").random()
    assert rng(3, "a", "b").random() == rng(3, "a", "b").random()
    assert 0 <= sub_seed(2**31 - 1, "x") < 2**31
    with pytest.raises(mb.InputError):
        rng(1)
    with pytest.raises(mb.InputError):
        rng(-1, "demand")


def test_the_reader_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "parking" / "district.yaml").read_text()
    bad = text.replace("compliance: 1.0", "compliance: 3").replace("walk_weight: 1.5", "walk_weight: -1") \
              .replace("max_search_s: 900", "max_search_s: 900\nmax_serch_s: 5")
    (tmp_path / "district_traffic.yaml").write_text((ROOT / "scenarios" / "parking" / "district_traffic.yaml").read_text()
                                                    .replace("../../networks/", str(ROOT / "networks") + "/"))
    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    lines = bad.splitlines()
    with pytest.raises(mb.InputError) as info:
        mb.parking.load_parking(f)
    msg = str(info.value)
    for field, needle in (("compliance", "compliance: 3"), ("walk_weight", "walk_weight: -1"), ("max_serch_s", "max_serch_s")):
        line = next(i for i, x in enumerate(lines, 1) if x.startswith(needle))
        assert f"bad.yaml:{line}: field '{field}'" in msg, msg
    assert "did you mean 'max_search_s'" in msg
    f.write_text(text + "compliance: 0.5\n")
    with pytest.raises(mb.InputError, match="appears twice"):
        mb.parking.load_parking(f)
    f.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(mb.InputError, match=r"bad\.yaml:1: not UTF-8"):
        mb.parking.load_parking(f)


def test_validate_asks_the_registry(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mobility.cli import app

    files = [ROOT / "scenarios" / p for p in ("signal_control/grid3x3.yaml", "parking/district.yaml",
                                             "ev_charging/district_ev.yaml", "tolling/plaza8.yaml", "sweeps/parking.yaml")]
    r = CliRunner().invoke(app, ["scenario", "validate", *map(str, files)])
    assert r.exit_code == 0, r.output
    for word in ("grid3x3", "parking study", "charging study", "toll plaza", "sweep district_guidance"):
        assert word in r.output
    declared = tmp_path / "p.yaml"
    declared.write_text("kind: parking\nname: x\n")
    r = CliRunner().invoke(app, ["scenario", "validate", str(declared)])
    assert r.exit_code == 2 and "field 'scenario'" in r.output


# ---- every shipped sweep file, run short --------------------------------------------------------
SWEEPS = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
SHORT = {  # fixed overrides that make a run short; the varied values are cut to two
    "signals": {"end_s": 600},
    "parking": {"seekers.end_s": 600, "seekers.veh_h": 300},
    "charging": {},
    "tolling": {"demand": [{"begin_s": 0, "end_s": 600, "flow_veh_h": 1500}]},
}


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_shipped_sweep_runs_short(path: Path, tmp_path: Path) -> None:
    from mobility.sweep import load_sweep, run_sweep

    data = yaml.safe_load(path.read_text())
    kind = get_kind(mb.study.detect_kind((path.parent / data["base"]).resolve()))
    data["base"] = str((path.parent / data["base"]).resolve())
    data["output"] = str(tmp_path / "out")
    data["seeds"] = [1]
    data["set"] = {**data.get("set", {}), **SHORT[kind.name]}
    data["vary"] = {k: v[:2] for k, v in data["vary"].items()}
    if kind.name == "charging":
        data["vary"]["layout"] = data["vary"]["layout"][:1]
    f = tmp_path / path.name
    f.write_text(yaml.safe_dump(data))
    res = run_sweep(load_sweep(f), workers=2)
    ds = res.dataset
    assert dict((d, ds.sizes[d]) for d in [*data["vary"], "seed"]) == {**{k: len(v) for k, v in data["vary"].items()}, "seed": 1}
    assert (ds["status"] == "finished").all() and not res.failed
    first = kind.table[0].var
    assert np.isfinite(ds[first].values).all()
    # the sweep's first run equals the study's own comparison of that alternative and seed
    sw = load_sweep(f)
    from mobility.sweep import plan_runs

    run = plan_runs(sw)[0]
    study = kind.resolve(kind.spec_from_json(run.task.job["study"]))
    one = compare(study, {run.task.job["alternative_name"]: run.task.job["alternative"]}, seeds=[1], workers=1,
                  workdir=tmp_path / "one")
    got = ds[first].isel({d: 0 for d in data["vary"]}).sel(seed=1)
    assert float(got) == pytest.approx(float(one[first].isel({kind.dim: 0}).sel(seed=1)), rel=1e-12, nan_ok=True)
