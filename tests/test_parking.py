"""Parking guidance: the assignment model against brute force, capacity and counting invariants in SUMO,
the single-lot drive time, the comparison Dataset and the CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

import optimise
from mobility._errors import InputError
from mobility.cli import app
from mobility.parking import (
    compare_strategies,
    format_table,
    load_parking,
    parking_areas,
    run_parking,
    seekers,
    stop_output_parkings,
)
from mobility.parking.spec import parking_scenario

from .conftest import plain_net

ROOT = Path(__file__).resolve().parents[1]
DISTRICT = ROOT / "networks" / "district5x5.net.xml"


# -- the assignment model -------------------------------------------------------------------------------------

def _brute(cost: np.ndarray, cap: np.ndarray, unassigned: float | None) -> float:
    n, m = cost.shape
    choices = list(range(m)) + ([-1] if unassigned is not None else [])
    best = np.inf
    for combo in itertools.product(choices, repeat=n):
        used = np.bincount([c for c in combo if c >= 0], minlength=m)
        if (used > cap).any():
            continue
        best = min(best, sum(cost[i, c] if c >= 0 else unassigned for i, c in enumerate(combo)))
    return best


@pytest.mark.parametrize("trial", range(12))
def test_assignment_matches_brute_force(trial):
    rng = np.random.default_rng(trial)
    n, m = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    cost = np.round(rng.uniform(10, 300, (n, m)), 2)
    cost[rng.random((n, m)) < 0.15] = np.inf
    cap = rng.integers(0, 3, m)
    unassigned = None if trial % 3 == 0 else float(rng.uniform(100, 400))
    best = _brute(cost, cap, unassigned)
    r = optimise.parking_assignment(cost, cap, unassigned_cost=unassigned)
    if not np.isfinite(best):
        assert r.status == "INFEASIBLE"
        return
    assert r.status == "OPTIMAL" and r.gap == 0.0
    assert r.objective == pytest.approx(best, abs=1e-6)
    used = np.bincount(r.lot[r.lot >= 0], minlength=m)
    assert (used <= cap).all()
    assert np.isfinite(cost[np.flatnonzero(r.lot >= 0), r.lot[r.lot >= 0]]).all()


def test_assignment_rejects_bad_input():
    with pytest.raises(ValueError, match="areas"):
        optimise.parking_assignment(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="NaN or negative"):
        optimise.parking_assignment(np.array([[np.nan]]), np.ones(1))


# -- a small congested district study ---------------------------------------------------------------------------

def _study(tmp_path: Path, **over) -> Path:
    traffic = {"name": "t", "network": str(DISTRICT), "end_s": 1500, "seed": 3,
               "demand": {"kind": "random", "trips_veh_h": 200, "origins": "fringe", "destinations": "fringe"}}
    (tmp_path / "traffic.yaml").write_text(yaml.safe_dump(traffic))
    study = {"name": "small", "scenario": "traffic.yaml",
             "areas": {"on_street": {"spaces_per_100m": 0.4},
                       "lots": [{"id": "lot_n", "edge": "B3C3", "capacity": 6}, {"id": "lot_s", "edge": "D1C1", "capacity": 6}]},
             "seekers": {"veh_h": 720, "end_s": 600, "centre": "C2", "spread_m": 200,
                         "dwell_s": {"kind": "uniform", "low": 1200, "high": 1800}},
             "max_search_s": 600, **over}
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump(study))
    return p


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("parking")
    spec = load_parking(_study(d))
    runs = {st: run_parking(spec, st, seed=5, workdir=d / st) for st in ("none", "realtime", "optimised")}
    return spec, d, runs


def test_capacity_never_exceeded_and_centre_fills(small):
    _, _, runs = small
    for st, ds in runs.items():
        assert (ds["peak_occupancy"] <= ds["capacity"]).all(), st
        assert float(ds["peak_occupancy_share"]) == 1.0, f"{st}: demand should fill some area"
        assert float(ds["occupancy"].max()) <= float(ds["capacity"].max())


def test_parking_results_are_a_live_occupancy_feed(small, tmp_path):
    """The live loop reads the parking application's results as the occupancy feed, area by area."""
    from mobility.live import read_parking_occupancy

    _, _, runs = small
    ds = runs["realtime"]
    path = tmp_path / "parking.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    occ = read_parking_occupancy(path)
    assert len(occ) == ds["occupancy"].size
    first = occ[occ["area"] == str(ds["area"].values[0])]
    np.testing.assert_allclose(first["occupied"].to_numpy(), ds["occupancy"].values[0])
    assert (occ["occupied"] <= occ["capacity"]).all()


def test_every_parked_vehicle_counted_once(small):
    spec, d, runs = small
    for st, ds in runs.items():
        sumo = [(v, a, t0, t1) for v, a, t0, t1 in stop_output_parkings(d / st / "stops.xml") if v.startswith("park")]
        assert len(sumo) == len({v for v, *_ in sumo}), f"{st}: a seeker parked twice"
        # SUMO reports the parkings that ended, with their times; the study also knows who is still parked
        ours = {str(v): (str(a), float(t0), float(t1))
                for v, a, t0, t1 in zip(ds.vehicle.values, ds["parked_area"].values, ds["parked_s"].values,
                                        ds["left_s"].values, strict=True) if a and np.isfinite(t1)}
        theirs = {v: (a, t0, t1) for v, a, t0, t1 in sumo}
        assert {v: (a, t1) for v, (a, _, t1) in ours.items()} == {v: (a, t1) for v, (a, _, t1) in theirs.items()}, st
        # SUMO's start is the step the vehicle stopped; the parking event is reported by the end of the next one
        assert all(0 <= ours[v][1] - theirs[v][1] <= 1.0 for v in theirs), st
        still = (ds["parked_area"] != "") & ds["left_s"].isnull()
        assert int(ds["parked"]) == len(sumo) + int(still.sum())
        assert 0 < len(sumo) and 0 < int(still.sum()), f"{st}: the case should have parkings that end and that do not"
        # every seeker that departed is accounted for exactly once
        decided = np.isfinite(ds["decided_s"].values)
        assert int(ds["parked"]) + int(ds["failed_parkings"]) == int(decided.sum()), st
        assert int(ds["seekers"]) == ds.sizes["vehicle"]
        # the study's trips are the seekers that departed
        assert set(ds.vehicle.values) <= {t.id for t in seekers(spec, parking_scenario(spec)[1], 5)}


_RUN_ONE = """
import sys
from pathlib import Path
from mobility.parking import run_parking, stop_output_parkings
from mobility.parking.spec import load_parking
study, out = Path(sys.argv[1]), Path(sys.argv[2])
ds = run_parking(load_parking(study), "optimised", seed=5, workdir=out)
sumo = {v: a for v, a, _, _ in stop_output_parkings(out / "stops.xml") if v.startswith("park")}
ours = {str(v): str(a) for v, a, t in zip(ds.vehicle.values, ds["parked_area"].values, ds["left_s"].values,
                                         strict=True) if a and t == t}
assert ours == sumo, (sorted(ours.items() ^ sumo.items()))
ds.drop_vars(["wall_time_s", "assignment_max_solve_s"]).to_netcdf(out / "result.nc")
"""


def test_a_seed_gives_one_run_whatever_the_process(tmp_path):
    """Decisions are made in a fixed order: the run does not depend on the process's string hashing, and a
    driver who gives up is never sent back to an area (SUMO's stop output agrees with the study's record)."""
    import os
    import subprocess
    import sys

    study = _study(tmp_path, seekers={"veh_h": 1000, "end_s": 600, "centre": "C2", "spread_m": 200,
                                      "dwell_s": {"kind": "uniform", "low": 1200, "high": 1800}})
    runs = []
    for h in ("11", "13"):  # two string-hash seeds that ordered a set of vehicles differently
        out = tmp_path / f"h{h}"
        env = {**os.environ, "PYTHONHASHSEED": h}
        r = subprocess.run([sys.executable, "-c", _RUN_ONE, str(study), str(out)], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(xr.load_dataset(out / "result.nc"))
    a, b = runs
    for v in a.data_vars:
        assert a[v].equals(b[v]), v
    assert int(a["parked"]) + int(a["failed_parkings"]) == int(np.isfinite(a["decided_s"].values).sum())


def test_guidance_cuts_search_on_the_congested_centre(small):
    _, _, runs = small
    none, rt, opt = (float(runs[s]["mean_search_time_s"]) for s in ("none", "realtime", "optimised"))
    assert rt < none and opt < none
    assert float(runs["optimised"]["assignment_solves"]) > 0
    assert float(runs["optimised"]["assignment_not_optimal"]) == 0
    assert float(runs["none"]["reroutes_mean"]) > float(runs["realtime"]["reroutes_mean"])


# -- one lot, one vehicle ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def line_net(tmp_path_factory):
    return plain_net(tmp_path_factory.mktemp("line"), "line",
                     '<node id="a" x="0" y="0"/><node id="b" x="500" y="0" type="priority"/>'
                     '<node id="c" x="1000" y="0" type="priority"/><node id="d" x="1500" y="0"/>',
                     '<edge id="ab" from="a" to="b" numLanes="1" speed="13.89"/>'
                     '<edge id="bc" from="b" to="c" numLanes="1" speed="13.89"/>'
                     '<edge id="cd" from="c" to="d" numLanes="1" speed="13.89"/>', "--no-turnarounds")


@pytest.mark.parametrize("strategy", ["none", "realtime", "optimised"])
def test_single_lot_search_time_is_the_drive_time(tmp_path, line_net, strategy):
    traffic = {"name": "line", "network": str(line_net), "end_s": 300, "seed": 1,
               "demand": {"kind": "routes", "flows": [{"edges": ["ab", "bc", "cd"], "flow_veh_h": 1}],
                          "profile": [{"begin_s": 1000, "end_s": 1100, "scale": 1}]}}
    (tmp_path / "traffic.yaml").write_text(yaml.safe_dump(traffic))
    (tmp_path / "areas.csv").write_text("id,edge,capacity,kind,start_m,end_m\nlot,cd,1,lot,190,210\n")
    (tmp_path / "trips.csv").write_text("id,depart_s,origin,destination,exit,dwell_s\nv1,0,ab,bc,cd,60\n")
    study = {"name": "one", "scenario": "traffic.yaml", "areas": "areas.csv", "seekers": "trips.csv",
             "decision_radius_m": 50, "seeker_sigma": 0.0, "seeker_speed_dev": 0.0}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    ds = run_parking(load_parking(tmp_path / "s.yaml"), strategy, seed=1, workdir=tmp_path / "run")
    assert int(ds["parked"]) == 1
    t_dec = float(ds["decided_s"].values[0])
    # decision on entering bc (first step seen on it); then 500 m of bc + the lot's first 210 m of cd at 13.89 m/s,
    # less what the vehicle had driven on bc in that step, plus v/(2 b) for braking to the stop
    v, b = 13.89, 4.5
    x_dec = (t_dec - (500.0 / v)) * v  # where it was on bc when first seen there (it enters bc at 500/v s)
    expected = (500.0 - x_dec + 210.0) / v + v / (2 * b)
    assert float(ds["search_time_s"].values[0]) == pytest.approx(expected, abs=2.5)
    assert float(ds["cruising_m"].values[0]) == pytest.approx(500.0 - x_dec + 210.0, abs=25.0)
    assert float(ds["walking_m"].values[0]) == pytest.approx(250.0 + 200.0, abs=15.0)


# -- errors, comparison, CLI ------------------------------------------------------------------------------------

def test_bad_inputs_name_the_problem(tmp_path):
    spec = load_parking(_study(tmp_path, areas={"lots": [{"id": "x", "edge": "nowhere", "capacity": 3}]}))
    with pytest.raises(InputError, match="nowhere"):
        parking_areas(spec, parking_scenario(spec)[1])
    with pytest.raises(InputError, match="unknown strategy"):
        run_parking(load_parking(_study(tmp_path)), "telepathy", seed=1)
    (tmp_path / "a.csv").write_text("id,edge,capacity,kind\np1,B3C3,two,lot\n")
    spec = load_parking(_study(tmp_path, areas="a.csv"))
    with pytest.raises(InputError, match=r"a\.csv:2"):
        parking_areas(spec, parking_scenario(spec)[1])
    with pytest.raises(InputError, match="seekers"):
        load_parking(_study(tmp_path, seekers={"veh_h": 10, "end_s": 5, "centre": "C2", "begin_s": 10}))


def test_compare_dataset_and_cli(tmp_path):
    spec = load_parking(_study(tmp_path, seekers={"veh_h": 360, "end_s": 300, "centre": "C2"}))
    ds = compare_strategies(spec, ["none", "realtime"], seeds=[1, 2], workers=2)
    assert set(ds["mean_search_time_s"].dims) == {"strategy", "seed"}
    for var in ("mean_search_time_s", "mean_cruising_m", "mean_walking_m", "failed_parkings"):
        assert ds[var].sizes == {"strategy": 2, "seed": 2} and np.isfinite(ds[var].values).all()
    assert ds["occupancy"].dims[-1] == "time" and "area" in ds["occupancy"].dims
    assert "| realtime |" in format_table(ds)
    out = tmp_path / "cmp.nc"
    res = CliRunner().invoke(app, ["parking", "compare", str(tmp_path / "study.yaml"), "--strategies", "static,optimised",
                                   "--seeds", "1", "--output", str(out), "--plots", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    assert "| optimised |" in res.output
    saved = xr.load_dataset(out)
    assert list(saved.strategy.values) == ["static", "optimised"]
    assert (tmp_path / "plots" / "occupancy.png").is_file() and (tmp_path / "plots" / "search_times.png").is_file()
    res = CliRunner().invoke(app, ["parking", "compare", str(tmp_path / "study.yaml"), "--strategies", "psychic"])
    assert res.exit_code != 0 and "unknown strategies" in res.output
