"""A city's own SUMO scenario as it is: .sumocfg in, files judged by content, runs equal to `sumo -c`."""

from __future__ import annotations

import glob
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import mobility as mb
from mobility import InputError, ScenarioError
from mobility._sumo import binary
from mobility._sumoxml import check_network_file, check_sumo_file
from mobility.signals.safety import signal_models
from mobility.sumocfg import import_sumocfg, is_sumocfg, parse_sumo_time, save_sumocfg, scenario_detectors

from .conftest import ROOT, networks_script

RESCO = ROOT.parent / "shared" / "benchmarks" / "resco"


def _wheel() -> Path:
    import sumo

    return Path(sumo.__file__).parent


def _root(path: Path) -> str:
    head = path.read_bytes()[:20000].decode("utf-8", "replace")
    head = re.sub(r"<\?.*?\?>|<!--.*?-->", "", head, flags=re.S)
    m = re.search(r"<([A-Za-z_][\w.\-]*)", head)
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def city_mod():
    return networks_script("sumo_city")


def _real_files() -> list[tuple[Path, str]]:
    """Every additional and route file of the SUMO wheel (by name, root, or a configuration naming it)."""
    out: dict[Path, str] = {}
    for f in map(Path, glob.glob(str(_wheel() / "**" / "*.xml*"), recursive=True)):
        r = _root(f)
        if f.name.endswith((".rou.xml", ".rou.xml.gz")) or r == "routes":
            out[f] = "routes"
        elif ".add." in f.name or r in ("add", "additional"):
            out[f] = "additional"
    for cfg in glob.glob(str(_wheel() / "**" / "*.sumocfg"), recursive=True):
        for el in ET.parse(cfg).getroot().iter():
            kind = {"route-files": "routes", "additional-files": "additional"}.get(el.tag)
            if kind:
                for x in re.split(r"[,\s]+", el.get("value", "")):
                    if x and (Path(cfg).parent / x).is_file():
                        out[(Path(cfg).parent / x).resolve()] = kind
    return sorted(out.items())


def test_every_real_additional_and_route_file_of_the_sumo_wheel_is_accepted() -> None:
    files = _real_files()
    roots = {_root(f) for f, _ in files}
    assert len(files) >= 60 and {"add", "additional", "routes"} <= roots  # the walk covers the <add> files too
    for f, kind in files:
        rep = check_sumo_file(f, kind=kind)  # type: ignore[arg-type]
        assert rep.root


@pytest.mark.parametrize("cfg", sorted(glob.glob(str(_wheel() / "**" / "*.sumocfg"), recursive=True)),
                         ids=lambda p: Path(p).name)
def test_every_configuration_of_the_sumo_wheel_is_read_with_its_network(cfg: str) -> None:
    imp = import_sumocfg(cfg)
    sc = imp.scenario
    assert sc.network.is_file() and sc.end_s > sc.begin_s
    check_network_file(sc.network)
    if "bs3d" in cfg.lower():  # an option of sumo-gui's 3D build, left out and said so
        assert any(n == "osg-view" for n, _ in imp.left_out)


@pytest.mark.skipif(not RESCO.is_dir(), reason="../shared/benchmarks/resco is absent")
def test_the_resco_configurations_and_networks_are_accepted() -> None:
    for cfg in sorted(RESCO.glob("*/*.sumocfg")):
        sc = mb.load_scenario(cfg)
        assert sc.demand.kind == "files" and sc.demand.files


@pytest.mark.parametrize("network", ["grid3x3", "corridor5"])
def test_a_run_of_the_imported_scenario_gives_sumos_trips_vehicle_by_vehicle(network: str, tmp_path: Path,
                                                                             city_mod) -> None:
    cfg = city_mod.build(network, tmp_path, seed=3, end_s=600, trips=150)
    sc = mb.load_scenario(cfg)
    # signals, detectors and bus stops are all there
    dets = scenario_detectors(sc)
    assert {d.kind for d in dets} == {"e1", "e2"} and len(dets) >= 4
    assert any("<add>" in f.read_text()[:10] for f in sc.additional_files)
    seed = 11
    ref = tmp_path / "ref"
    ref.mkdir()
    subprocess.run([str(binary("sumo")), "-c", str(cfg), "--seed", str(seed), "--tripinfo-output",
                    str(ref / "trips.xml"), "--fcd-output", str(ref / "fcd.xml"), "--no-warnings"],
                   check=True, capture_output=True, timeout=300)
    theirs = {e.get("id"): (float(e.get("depart")), float(e.get("arrival")), float(e.get("timeLoss")))
              for e in ET.parse(ref / "trips.xml").getroot().iter("tripinfo")}
    run = tmp_path / "run"
    run.mkdir()
    ds = mb.run_scenario(sc, seed=seed, workdir=run)
    done = ds.trip_arrived.values.astype(bool)
    ours = {str(v): (float(d), float(a), float(t)) for v, d, a, t, ok in
            zip(ds.vehicle.values, ds.trip_depart.values, ds.trip_arrival.values, ds.trip_time_loss.values, done,
                strict=True) if ok}
    assert len(theirs) > 100 and any(k.startswith("L1") for k in theirs)  # the buses ran
    assert ours.keys() == theirs.keys()
    for k, v in theirs.items():
        assert ours[k] == pytest.approx(v, abs=1e-6), k
    assert (run / "fcd.out.xml").is_file()  # an output the configuration asks for lands in the run's folder


def test_import_passes_on_what_it_does_not_model_and_says_what_it_left_out(tmp_path: Path, city_mod) -> None:
    cfg = city_mod.build("grid3x3", tmp_path, end_s=300, trips=20)
    imp = import_sumocfg(cfg)
    sc = imp.scenario
    assert sc.end_s == 300 and sc.seed == 23423  # the <end> given as element text; SUMO's default seed
    assert sc.sumo.collision_action == "teleport" and sc.sumo.time_to_teleport_s == 300
    args = sc.sumo.extra_args
    assert args[args.index("--device.rerouting.probability") + 1] == "0.2"
    assert args[args.index("--fcd-output") + 1] == "fcd.out.xml"
    assert "--tripinfo-output" not in args
    left = dict(imp.left_out)
    assert {"tripinfo-output", "gui-settings-file", "no-step-log"} <= left.keys()
    text = "\n".join(imp.summary())
    assert "device.rerouting.probability" in text and "gui-settings-file" in text
    assert [f.name for f in sc.additional_files] == ["city.vtypes.xml", "city.tls.add.xml", "city.det.add.xml",
                                                     "city.stops.add.xml"]
    # saved as YAML and read back: the same scenario
    y = tmp_path / "city.yaml"
    mb.save_scenario(sc, y)
    back = mb.load_scenario(y)
    assert back.model_dump(exclude={"source_file", "network"}) == sc.model_dump(exclude={"source_file", "network"})
    assert back.network.resolve() == sc.network.resolve()


def test_a_scenario_exported_as_a_sumocfg_reads_back_equal(tmp_path: Path) -> None:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "corridor5.yaml")
    cfg = save_sumocfg(sc, tmp_path / "c5.sumocfg")
    back = mb.load_scenario(cfg)
    assert (back.begin_s, back.end_s, back.seed, back.step_length_s) == (sc.begin_s, sc.end_s, sc.seed, sc.step_length_s)
    assert back.sumo.collision_action == sc.sumo.collision_action
    assert back.demand.files == [tmp_path / "c5.rou.xml"]
    assert is_sumocfg(cfg) and not is_sumocfg(ROOT / "scenarios" / "signal_control" / "corridor5.yaml")


def test_files_are_judged_by_content_not_by_their_root(tmp_path: Path) -> None:
    net = ROOT / "networks" / "grid3x3.net.xml"
    ok = tmp_path / "ok.xml"
    ok.write_text('<foo>\n  <busStop id="s" lane="A0A1_0" startPos="10" endPos="30"/>\n  <bar/>\n</foo>\n')
    rep = check_sumo_file(ok)
    assert rep.root == "foo" and rep.counts == {"busStop": 1} and rep.ignored == [("bar", 3)]
    schema = tmp_path / "schema.add.xml"  # a file that declares SUMO's schema is validated by SUMO: so here too
    schema.write_text('<additional xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                      'xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/additional_file.xsd">\n'
                      '  <vType id="t"/>\n  <bogus/>\n</additional>\n')
    with pytest.raises(InputError, match=r"schema.add.xml:3: no declaration found for element 'bogus'"):
        check_sumo_file(schema)
    assert check_sumo_file(schema, validation="never").ignored == [("bogus", 3)]
    # as SUMO: the same file runs with validation on only when SUMO's own check agrees
    r = subprocess.run([str(binary("sumo")), "-n", str(net), "-a", str(schema), "--end", "1"], capture_output=True,
                       text=True, timeout=60)
    assert "no declaration found for element 'bogus'" in r.stderr
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    for body, match in [("hello\n", "not a readable SUMO additional file"),
                        ('<!DOCTYPE a [<!ENTITY x "y">]><additional/>', "document type declaration"),
                        ("<a>" * 100 + "</a>" * 100, "nested deeper"),
                        (net.read_text(), "a SUMO network")]:
        bad = tmp_path / "bad.xml"
        bad.write_text(body)
        with pytest.raises(ScenarioError, match=match):
            mb.scenario_from_dict({**sc.model_dump(mode="json", exclude={"source_file"}),
                                   "additional_files": [str(bad)]})


def test_a_malformed_network_attribute_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (ROOT / "networks" / "grid3x3.net.xml").read_text()
    cases = {
        "linkIndex missing": (re.compile(r'(<connection [^>]*tl="[^"]*"[^>]*) linkIndex="\d+"'), r"\1",
                              "without 'linkIndex'"),
        "linkIndex text": (re.compile(r'(<connection [^>]*tl="[^"]*"[^>]*linkIndex=")\d+"'), r'\1two"',
                           "'linkIndex' must be an integer"),
        "request index": (re.compile(r'(<request index=")\d+"'), r'\1x"', "'index' must be an integer"),
        "lane speed": (re.compile(r'(<lane [^>]*speed=")[\d.]+"'), r'\1fast"', "'speed' must be an number"),
        "junction x": (re.compile(r'(<junction [^>]*x=")[-\d.]+"'), r'\1nan"', "'x' must be an number"),
    }
    for name, (pattern, repl, match) in cases.items():
        bad = tmp_path / f"{name.replace(' ', '_')}.net.xml"
        new = pattern.sub(repl, text, count=1)
        assert new != text, name
        bad.write_text(new)
        line = new[:pattern.search(text).start()].count("\n") + 1 if pattern.search(text) else 0
        with pytest.raises(InputError, match=rf"{re.escape(bad.name)}:{line}: .*{re.escape(match)}"):
            mb.load_network(bad)
        with pytest.raises(InputError, match=re.escape(match)):
            signal_models(bad)


def test_sumo_times() -> None:
    assert parse_sumo_time("3600") == 3600 and parse_sumo_time("1:00:00") == 3600
    assert parse_sumo_time("1:00:00:10.5") == 86410.5
    for bad in ("", "x", "1::2", "nan", "1:2:3:4:5"):
        with pytest.raises(ValueError):
            parse_sumo_time(bad)
    assert np.isclose(parse_sumo_time("7:00"), 420)


@pytest.fixture(scope="module")
def city(tmp_path_factory, city_mod) -> Path:
    return city_mod.build("grid3x3", tmp_path_factory.mktemp("city"), seed=2, end_s=420, trips=90)


def test_every_application_runs_on_a_sumocfg_study(city: Path, tmp_path: Path) -> None:
    """signals, parking, charging and calibration on a scenario that is a .sumocfg with <add>-rooted files."""
    import yaml
    from typer.testing import CliRunner

    from mobility.cli import app

    runner = CliRunner()
    folder = city.parent
    # signals: the configuration itself is the study
    r = runner.invoke(app, ["signals", "compare", str(city), "--controllers", "fixed,actuated", "--seeds", "1", "-q",
                            "--workers", "1", "--output", str(tmp_path / "sig.nc")])
    assert r.exit_code == 0, r.output
    sig = mb.load_results(tmp_path / "sig.nc")
    assert float(sig["vehicles_arrived"].sel(controller="fixed").sum()) > 50
    # parking and charging: study files whose scenario is the configuration
    park = {"name": "p", "scenario": city.name, "seekers": {"veh_h": 120, "begin_s": 0, "end_s": 300, "centre": "B1",
                                                            "spread_m": 150}, "max_search_s": 300}
    (folder / "p.yaml").write_text(yaml.safe_dump(park))
    ds = mb.compare(mb.load_study(folder / "p.yaml"), ["none", "realtime"], seeds=[1], workers=1)
    assert float(ds["parked"].sum()) > 0
    ev = {"name": "c", "scenario": city.name, "ev_type": "car", "initial_soc": {"kind": "uniform", "low": 0.001,
                                                                                 "high": 0.05},
          "threshold_soc": 0.1, "max_charge_s": 120, "points": 6, "candidates": {"min_length_m": 100.0}}
    (folder / "c.yaml").write_text(yaml.safe_dump(ev))
    study = mb.load_study(folder / "c.yaml")
    from mobility import charging

    layouts = charging.build_layouts(study, ["optimal:pmedian:p=3"])
    ds = mb.compare(study, layouts, seeds=[1], workers=1)
    assert float(ds["needing_charge"].sum()) > 5 and float(ds["energy_delivered_kwh"].sum()) > 0
    # calibration: the scenario's own E1 output as counts, its loops defined by the scenario
    run = tmp_path / "run"
    run.mkdir()
    mb.run_scenario(mb.load_scenario(city), seed=5, workdir=run)
    assert (run / "e1.out.xml").is_file() and not (folder / "e1.out.xml").exists()  # outputs stay in the run folder
    r = runner.invoke(app, ["calibrate", str(city), "--counts", str(run / "e1.out.xml"), "--iterations", "1",
                            "--seed", "9", "--report", str(tmp_path / "fit.nc"), "-o", str(tmp_path / "cal.yaml"), "-q"])
    assert r.exit_code == 0, r.output
    assert mb.load_scenario(tmp_path / "cal.yaml").demand.kind == "routes"
    import xarray as xr

    with xr.open_dataset(tmp_path / "fit.nc") as fit:
        assert int(fit.attrs["seed"]) == 9                       # --seed reaches SUMO (the runs record it)


def test_the_current_program_is_the_one_sumo_runs(city: Path, tmp_path: Path) -> None:
    from mobility.signals import current_plans, phase_states, plans_from_net

    sc = mb.load_scenario(city)
    own, cur = plans_from_net(sc.network), current_plans(sc)
    assert set(cur) == set(own)
    assert all(p.plan_id == "city" for p in cur.values())              # the city's <add> programs replace the net's
    assert any(cur[j].cycle_s != own[j].cycle_s for j in own)
    # a WAUT switches a signal between two programs by time of day
    a, b = own["B1"], own["B1"].with_timing([30.0, 20.0])
    waut = tmp_path / "waut.add.xml"
    waut.write_text(
        '<additional>\n'
        + "".join(f'  <tlLogic id="B1" type="static" programID="{pid}" offset="0">\n'
                  + "".join(f'    <phase duration="{d:g}" state="{s}"/>\n' for s, d, _ in phase_states(p))
                  + "  </tlLogic>\n" for pid, p in (("morning", a), ("evening", b)))
        + '  <WAUT id="w" refTime="0" startProg="morning"><wautSwitch time="1800" to="evening"/></WAUT>\n'
        '  <wautJunction wautID="w" junctionID="B1"/>\n</additional>\n')
    sc2 = sc.model_copy(update={"additional_files": [*sc.additional_files, waut]})
    assert current_plans(sc2)["B1"].plan_id == "morning"
    assert current_plans(sc2, at_s=2000.0)["B1"].plan_id == "evening"
    assert current_plans(sc2, at_s=2000.0)["B1"].stages[0].green_s == 30.0
