"""EV charging layouts: files, distances, points, and the comparison in SUMO (energy, counts, optimised vs random)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from mobility._errors import InputError
from mobility.charging import (
    ChargingLayout,
    Station,
    access_costs,
    allocate_points,
    CheapSitesWarning,
    build_layouts,
    candidate_sites,
    charging_scenario,
    demand_points,
    load_charging,
    load_layout,
    optimal_layout,
    run_charging,
)
from mobility.cli import app

from .conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "scenarios" / "ev_charging" / "district_ev.yaml"


@pytest.fixture(scope="module")
def study():
    spec = load_charging(STUDY)
    sc, net = charging_scenario(spec)
    return spec, sc, net, candidate_sites(spec, net), demand_points(spec, sc, net)


def test_study_reads_and_equips_the_ev_type(study) -> None:
    _, sc, net, sites, points = study
    ev = next(t for t in sc.vehicle_types if t.id == "ev")
    assert ev.emission_class == "Energy/unknown" and ev.params["has.battery.device"] == "true"
    # every inner street of 250 m gets one site: 5x5 grid, 2 x 5 x 4 streets each way = 80
    assert len(sites) == 80
    assert all(s.pos_m == pytest.approx(float(net.length[net.edge_index[s.edge]]) / 2) for s in sites)
    # demand: where EV trips enter (boundary roads), weighted by EV trips per hour
    assert all("bottom" in p.edge or "top" in p.edge or "left" in p.edge or "right" in p.edge for p in points)
    assert sum(p.weight for p in points) == pytest.approx(0.3 * 800 * 0.75, rel=0.15)


def test_access_costs_are_shortest_driving_distances(study) -> None:
    _, _, net, sites, points = study
    cost = access_costs(net, points, sites)
    g = nx.DiGraph()
    for e in range(net.n_edges):
        g.add_edge(int(net.tail[e]), int(net.head[e]), w=float(net.length[e]))
    for i in (0, 7, 13):
        for j in (0, 11, 42, 79):
            p, s = points[i], sites[j]
            a = int(net.head[net.edge_index[p.edge]])
            b = int(net.tail[net.edge_index[s.edge]])
            ref = nx.shortest_path_length(g, a, b, weight="w") + s.pos_m
            assert cost[i, j] == pytest.approx(ref)


def test_points_are_split_by_share_within_limits() -> None:
    assert list(allocate_points(10, np.array([3.0, 1.0, 1.0]), np.array([6, 6, 6]))) == [6, 2, 2]
    assert list(allocate_points(10, np.array([8.0, 1.0, 1.0]), np.array([4, 6, 6]))) == [4, 3, 3]
    assert list(allocate_points(3, np.array([0.0, 0.0, 0.0]), np.array([6, 6, 6]))) == [1, 1, 1]
    with pytest.raises(InputError, match="at least one point per station"):
        allocate_points(2, np.ones(3), np.array([6, 6, 6]))
    with pytest.raises(InputError, match="do not fit"):
        allocate_points(20, np.ones(3), np.array([6, 6, 6]))


def test_layout_files_and_sumo_additionals(study, tmp_path: Path) -> None:
    spec, _, net, sites, _ = study
    lay = build_layouts(spec, ["optimal:pmedian:p=4"], points=10)[0]
    assert lay.report["status"] == "OPTIMAL" and lay.report["gap"] <= 1e-9 and lay.points == 10
    lay.to_json(tmp_path / "a.json")
    back = load_layout(tmp_path / "a.json", sites)
    assert back.stations == lay.stations and back.method == "pmedian"
    root = ET.fromstring(lay.to_additional(net))
    pas = {p.get("id"): p for p in root.iter("parkingArea")}
    for s, cs in zip(lay.stations, root.iter("chargingStation"), strict=True):
        assert cs.get("parkingArea") == s.parking_id and float(cs.get("power")) == s.power_kw * 1000
        assert int(pas[s.parking_id].get("roadsideCapacity")) == s.points
    # a hand-written YAML layout takes edge and power from the candidate site
    (tmp_path / "b.yaml").write_text("name: two\nstations:\n  - {site: cs_B1C1, points: 3}\n  - {site: cs_C3C2, points: 2}\n")
    two = load_layout(tmp_path / "b.yaml", sites)
    assert two.stations[0] == Station("cs_B1C1", "B1C1", sites[[x.id for x in sites].index("cs_B1C1")].pos_m, 3, 50.0) and two.points == 5


def test_bad_input_names_file_and_field(study, tmp_path: Path) -> None:
    _, _, _, sites, _ = study
    bad = tmp_path / "bad.yaml"
    bad.write_text(STUDY.read_text().replace("threshold_soc: 0.10", "threshold_soc: 1.5"))
    with pytest.raises(InputError, match=r"bad\.yaml:11: field 'threshold_soc'"):
        load_charging(bad)
    bad.write_text(STUDY.read_text().replace("scenario: district.yaml", "scenario: nowhere.yaml"))
    with pytest.raises(InputError, match="field 'scenario': traffic scenario not found"):
        load_charging(bad)
    bad.write_text(STUDY.read_text().replace("ev_type: ev", "ev_type: tesla").replace("scenario: district.yaml",
                                                                                     f"scenario: {STUDY.parent / 'district.yaml'}"))
    with pytest.raises(InputError, match="field 'ev_type': 'tesla' is not a vehicle type"):
        charging_scenario(load_charging(bad))
    lay = tmp_path / "lay.yaml"
    lay.write_text("name: x\nstations:\n  - {site: cs_nowhere, points: 2}\n")
    with pytest.raises(InputError, match=r"lay\.yaml: field 'stations\.0': site 'cs_nowhere' is not a candidate"):
        load_layout(lay, sites)
    lay.write_text("name: x\nstations:\n  - {site: cs_B1C1, points: 9}\n")
    with pytest.raises(InputError, match=r"points must be between 1 and the site's max_points \(6\)"):
        load_layout(lay, sites)
    table = tmp_path / "sites.csv"
    table.write_text("id,edge,pos_m,power_kw,max_points,cost\ns1,B1C1,100,50,4,1\ns2,NOPE,100,50,4,1\n")
    spec2 = load_charging(STUDY).model_copy(update={"candidates": table})
    _, net = charging_scenario(spec2)
    with pytest.raises(InputError, match=r"sites\.csv:3: column 'edge': unknown edge 'NOPE'"):
        candidate_sites(spec2, net)


@pytest.fixture(scope="module")
def one_run(study, tmp_path_factory: pytest.TempPathFactory):
    spec, *_ = study
    lay = build_layouts(spec, ["optimal:pmedian:p=6"])[0]
    wd = tmp_path_factory.mktemp("ev")
    return lay, wd, run_charging(spec, lay, seed=1, workdir=wd)


def test_energy_is_conserved_and_every_ev_is_counted(one_run) -> None:
    _, wd, ds = one_run
    assert float(ds["energy_balance_error"]) < 0.01  # battery change = charged - used, within 1%
    n_ev, need, charged = int(ds["ev_count"]), int(ds["needing_charge"]), int(ds["charged"])
    assert 0 < charged <= need <= n_ev
    # the EVs are the ones SUMO equipped with a battery: tripinfo has one battery record per EV
    trips = [t for t in ET.parse(wd / "tripinfo.xml").getroot() if t.find("battery") is not None]
    assert len(trips) == n_ev
    assert sum(t.get("vaporized") == "traci" for t in trips) == int(ds["stranded"])
    # energy delivered is the sum over stations, and matches SUMO's charging events
    events = [float(e.get("totalEnergyChargedIntoVehicle")) for e in ET.parse(wd / "charging.xml").getroot()]
    assert float(ds["energy_delivered_kwh"]) == pytest.approx(sum(events) / 1000.0)
    assert float(ds["energy_kwh"].sum()) == pytest.approx(float(ds["energy_delivered_kwh"]))
    # a station never has more vehicles charging than points
    assert (ds["occupied"] <= ds["points"] + 1e-9).all()
    assert float(ds["occupied"].max()) > 0
    assert 0 <= float(ds["covered_share"]) <= 1 and int(ds["detour_count"]) <= charged
    assert ds.attrs["seed"] == 1 and ds.attrs["sumo_version"] and ds.attrs["scenario_hash"]


def test_initial_charge_is_the_same_under_every_layout(study, one_run, tmp_path: Path) -> None:
    spec, *_ = study
    _, _, ds = one_run
    other = run_charging(spec, build_layouts(spec, ["random:p=3,seed=4"], points=6)[0], seed=1, workdir=tmp_path)
    common = sorted(set(ds["ev"].values) & set(other["ev"].values))
    assert len(common) > 0.9 * ds.sizes["ev"]
    # each vehicle starts with the same battery and charge whatever the layout (common random numbers)
    for var in ("ev_capacity_kwh", "ev_initial_kwh"):
        assert np.array_equal(ds[var].sel(ev=common).values, other[var].sel(ev=common).values)
    init = ds["ev_initial_kwh"].values / ds["ev_capacity_kwh"].values
    assert 0.001 <= init.min() and init.max() <= 0.14 and set(np.unique(ds["ev_capacity_kwh"].values)) == {40.0, 60.0}
    # the per-vehicle detours are the sample behind the mean
    assert float(np.nanmean(ds["ev_detour_m"].values)) == pytest.approx(float(ds["detour_mean_m"]))
    assert int(np.isfinite(ds["ev_stranded_s"].values).sum()) == int(ds["stranded"])


def test_optimised_layout_beats_random_in_sumo(tmp_path: Path) -> None:
    out = tmp_path / "cmp.nc"
    r = CliRunner().invoke(app, ["charging", "compare", str(STUDY), "--layouts", "optimal:pmedian:p=6,random:p=6,seed=1",
                                 "--seeds", "3", "--output", str(out), "--plots", str(tmp_path / "fig"),
                                 "--table", str(tmp_path / "t.md")])
    assert r.exit_code == 0, r.output
    ds = xr.load_dataset(out)
    assert list(ds["layout"].values) == ["pmedian_p6", "random_p6_s1"] and list(ds["seed"].values) == [1, 2, 3]
    assert (ds["points_total"] == 20).all()
    opt, rnd = ds.sel(layout="pmedian_p6"), ds.sel(layout="random_p6_s1")
    assert float(opt["detour_mean_m"].mean()) < float(rnd["detour_mean_m"].mean())
    assert float(opt["stranded"].sum()) < float(rnd["stranded"].sum())
    assert (ds["energy_balance_error"] < 0.01).all()
    for f in ("layouts_map.png", "utilisation.png", "waiting.png"):
        assert (tmp_path / "fig" / f).stat().st_size > 10_000
    assert "| pmedian_p6 | 6 | 20 |" in (tmp_path / "t.md").read_text()


def test_optimise_cli_writes_a_layout(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["charging", "optimise", str(STUDY), "--method", "cover", "--p", "5",
                                 "--radius-m", "400", "-o", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["method"] == "cover" and len(data["stations"]) == 5 and data["report"]["status"] == "OPTIMAL"
    assert sum(s["points"] for s in data["stations"]) == 20
    bad = CliRunner().invoke(app, ["charging", "optimise", str(STUDY), "--method", "magic"])
    assert bad.exit_code != 0 and "unknown layout method 'magic'" in bad.output


def test_frlm_cli_on_sioux_falls() -> None:
    folder = shared_path("tntp", "SiouxFalls")
    r = CliRunner().invoke(app, ["charging", "frlm", str(folder / "SiouxFalls_net.tntp"),
                                 str(folder / "SiouxFalls_trips.tntp"), "--p", "2", "--range", "20"])
    assert r.exit_code == 0, r.output
    assert "p=2: nodes ['15', '16']  served 156800" in r.output  # sites 14, 15 are nodes 15 and 16


def test_a_layout_is_a_plain_value() -> None:
    lay = ChargingLayout("x", (Station("a", "B1C1", 10.0, 2, 22.0),))
    assert json.loads(lay.to_json())["stations"][0] == {"site": "a", "edge": "B1C1", "pos_m": 10.0, "points": 2,
                                                        "power_kw": 22.0}


def test_city_study_is_city_sized_and_its_tables_are_what_the_build_script_writes(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    import importlib.util

    root = Path(__file__).resolve().parents[1] / "scenarios" / "ev_charging"
    spec = load_charging(root / "city_ev.yaml")
    sc, net = charging_scenario(spec)
    points, sites = demand_points(spec, sc, net), candidate_sites(spec, net)
    assert len(points) >= 2000 and len(sites) >= 300
    # the shipped tables are the build script's output: rebuilt into a scratch folder they are the same
    mod_spec = importlib.util.spec_from_file_location("build_city", root / "build_city.py")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    for name in ("city_demand.csv", "city_sites.csv"):
        assert (tmp_path / name).read_text() == (root / name).read_text(), name


def test_capacitated_layout_weighs_site_cost_against_access_in_one_unit(study) -> None:
    """Negligible site costs barely count (a warning names the unit); costs in that unit open fewer sites."""
    import dataclasses
    import warnings

    _, _, net, sites, points = study
    with pytest.warns(CheapSitesWarning, match="charging events/h x metres"):
        cheap = optimal_layout("capacitated", net, points, sites, total_points=40, time_limit_s=30)
    cost = access_costs(net, points, sites)
    w = np.array([p.weight for p in points])
    typical = float(np.median(cost.min(axis=1) * w))
    priced = [dataclasses.replace(s, cost=20 * typical) for s in sites]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheapSitesWarning)
        dear = optimal_layout("capacitated", net, points, priced, total_points=40, time_limit_s=30)
    assert 1 <= len(dear.stations) < len(cheap.stations)
    assert dear.report["objective"] >= 20 * typical * len(dear.stations)  # the fixed costs are in the objective
    # or a budget of stations: optimal:capacitated:p=4 opens at most 4, at an access cost no better than free
    spec = study[0]
    four = build_layouts(spec, ["optimal:capacitated:p=4"])[0]
    assert 1 <= len(four.stations) <= 4 and four.report["status"] == "OPTIMAL"
    assert four.report["objective"] >= cheap.report["objective"] - 1e-6
