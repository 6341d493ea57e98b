"""A city's own network: vehicle classes, reachability, imports, and errors that reach the user intact.

The test network (built here with netconvert) has what city networks have and generated grids lack::

    W ---- X ==== Y ---- Z        main street, two-way; X->Y has a bus lane (lane 0, buses only)
           |      |      .
           N      S      .        X->N: buses only; N->X: all traffic; Y->S: one-way into a dead end (S)
           . . . . . . . .        N<->Z: a footway (pedestrians only)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import mobility as mb
from mobility._errors import DemandError, InputError
from mobility.access import VCLASSES, check_route_files, lane_index, reach
from mobility.cli import app
from mobility.demand import random_trips

from .conftest import plain_net

ROOT = Path(__file__).resolve().parents[1]
BUS_ONLY, FOOTWAY, DEAD_END = {"XN"}, {"NZ", "ZN"}, "YS"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return plain_net(
        tmp_path_factory.mktemp("city"), "city",
        '<node id="W" x="0" y="0"/><node id="X" x="300" y="0" type="priority"/>'
        '<node id="Y" x="600" y="0" type="priority"/><node id="Z" x="900" y="0" type="priority"/>'
        '<node id="N" x="300" y="300" type="priority"/><node id="S" x="600" y="-300"/>',
        '<edge id="WX" from="W" to="X" numLanes="1" speed="13.89"/><edge id="XW" from="X" to="W" numLanes="1" speed="13.89"/>'
        '<edge id="XY" from="X" to="Y" numLanes="2" speed="13.89"><lane index="0" allow="bus"/></edge>'
        '<edge id="YX" from="Y" to="X" numLanes="1" speed="13.89"/>'
        '<edge id="YZ" from="Y" to="Z" numLanes="1" speed="13.89"/><edge id="ZY" from="Z" to="Y" numLanes="1" speed="13.89"/>'
        '<edge id="XN" from="X" to="N" numLanes="1" speed="13.89" allow="bus"/>'
        '<edge id="NX" from="N" to="X" numLanes="1" speed="13.89"/>'
        '<edge id="YS" from="Y" to="S" numLanes="1" speed="13.89"/>'
        '<edge id="NZ" from="N" to="Z" numLanes="1" speed="5" allow="pedestrian"/>'
        '<edge id="ZN" from="Z" to="N" numLanes="1" speed="5" allow="pedestrian"/>',
        "--no-turnarounds.except-deadend")


def _scenario(tmp_path: Path, net: Path, **demand) -> Path:
    sc = {"name": "c", "network": str(net), "end_s": 1200, "seed": 4,
          "demand": {"kind": "random", "trips_veh_h": 400, "origins": "all", "destinations": "all",
                     "min_distance_m": 0, "profile": [{"begin_s": 0, "end_s": 600, "scale": 1}], **demand}}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(sc))
    return p


def test_vehicle_classes_match_sumolib(city):
    import sumolib

    assert set(VCLASSES) == sumolib.net.lane.SUMO_VEHICLE_CLASSES - sumolib.net.lane.SUMO_VEHICLE_CLASSES_DEPRECATED


def test_permissions_and_reach_are_read_from_lanes_and_turns(city):
    net = mb.load_network(city)
    ei = net.edge_index
    cars, buses = reach(net, "passenger"), reach(net, "bus")
    assert not cars.allowed[[ei[e] for e in BUS_ONLY | FOOTWAY]].any()
    assert buses.allowed[ei["XN"]] and not buses.allowed[ei["NZ"]]
    # the main street is the cars' strongly connected core (turnarounds at the dead ends W and Z only)
    assert {str(net.edge_ids[e]) for e in np.flatnonzero(cars.core)} == {"WX", "XW", "XY", "YX", "YZ", "ZY"}
    # into the one-way dead end one can drive, out of it not; N->X can be left but not reached by a car
    assert cars.destinations[ei[DEAD_END]] and not cars.origins[ei[DEAD_END]]
    assert cars.origins[ei["NX"]] and not cars.destinations[ei["NX"]]
    # cars use lane 1 of X->Y (lane 0 is the bus lane)
    assert lane_index(net, "passenger")[ei["XY"]] == 1 and lane_index(net, "bus")[ei["XY"]] == 0


def test_random_demand_never_uses_a_road_wrongly_and_sumo_inserts_every_vehicle(tmp_path, city):
    sc, net = mb.scenario.load_scenario_with_network(_scenario(tmp_path, city))
    rep: dict = {}
    trips = random_trips(sc, net, report=rep)
    assert len(trips) > 40 and rep["trips"] == len(trips) and rep["draws"] >= len(trips)
    origins = {o for _, o, _, _ in trips}
    dests = {d for _, _, d, _ in trips}
    assert not (origins | dests) & (BUS_ONLY | FOOTWAY)
    assert DEAD_END not in origins and "NX" not in dests
    assert DEAD_END in dests and "NX" in origins  # both are legitimate the other way round
    (tmp_path / "run").mkdir()
    ds = mb.run_scenario(sc, network=net, workdir=tmp_path / "run")  # its own seed: the trips drawn above
    k = mb.results.kpis(ds)
    assert k["vehicles_never_departed"] == 0 and k["teleports"] == 0
    assert int(ds["vehicles_inserted"]) == len(trips)
    assert int(ds["vehicles_arrived"]) + int(ds["vehicles_unfinished"]) == len(trips)
    assert int(ds["vehicles_arrived"]) == len(trips), "light traffic, ten minutes to clear: every trip ends"
    assert ds.attrs["demand_trips"] == len(trips)


def test_buses_may_use_their_lanes(tmp_path, city):
    sc, net = mb.scenario.load_scenario_with_network(_scenario(tmp_path, city))
    sc = sc.model_copy(update={"vehicle_types": [sc.vehicle_types[0].model_copy(update={"id": "bus", "vclass": "bus"})]})
    dests = {d for _, _, d, _ in random_trips(sc, net)}
    assert "XN" in dests and not dests & FOOTWAY


def test_route_files_are_checked_before_sumo_starts(tmp_path, city):
    net = mb.load_network(city)
    good = tmp_path / "good.rou.xml"
    good.write_text('<routes><vType id="b" vClass="bus"/>\n'
                    '<vehicle id="bus1" type="b" depart="0"><route edges="WX XN"/></vehicle>\n'
                    '<trip id="car1" depart="1" from="NX" to="YS"/>\n</routes>\n')
    check_route_files(net, [good])
    bad = tmp_path / "bad.rou.xml"
    bad.write_text('<routes>\n<trip id="car1" depart="1" from="WX" to="YZ"/>\n'
                   '<route id="r" edges="WX XN"/>\n<vehicle id="car2" depart="2" route="r"/>\n</routes>\n')
    with pytest.raises(DemandError, match=r"bad\.rou\.xml:4: vehicle 'car2': edge 'XN' \(position 2\) admits no passenger"):
        check_route_files(net, [bad])
    bad.write_text('<routes>\n<flow id="f" begin="0" end="10" number="2" from="YS" to="WX"/>\n</routes>\n')
    with pytest.raises(DemandError, match=r"bad\.rou\.xml:2: flow 'f': passenger cannot drive from 'YS' to 'WX'"):
        check_route_files(net, [bad])
    # the scenario reader runs the same check
    p = tmp_path / "files.yaml"
    p.write_text(yaml.safe_dump({"name": "f", "network": str(city), "end_s": 60, "demand": {"kind": "files",
                                                                                         "files": [str(bad)]}}))
    with pytest.raises(InputError, match="flow 'f'"):
        mb.scenario.load_scenario_with_network(p)


def test_od_pairs_and_routes_are_checked_per_vehicle_class(tmp_path, city):
    for demand, msg in [({"kind": "od", "pairs": [{"origin": "NZ", "destination": "YZ", "flow_veh_h": 10}]},
                         "origin edge 'NZ' admits no passenger"),
                        ({"kind": "od", "pairs": [{"origin": "YS", "destination": "WX", "flow_veh_h": 10}]},
                         "cannot drive from 'YS' to 'WX'"),
                        ({"kind": "routes", "flows": [{"edges": ["WX", "XN"], "flow_veh_h": 10}]},
                         "edge 'XN' \\(position 2\\) admits no passenger")]:
        p = tmp_path / "od.yaml"
        p.write_text(yaml.safe_dump({"name": "od", "network": str(city), "end_s": 60, "demand": demand}))
        with pytest.raises(InputError, match=msg):
            mb.scenario.load_scenario_with_network(p)


def test_parking_areas_go_where_cars_may_stop(tmp_path, city):
    from mobility.parking import load_parking, parking_areas

    sc = _scenario(tmp_path, city)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({
        "name": "p", "scenario": sc.name, "areas": {"on_street": {"min_length_m": 50, "include_boundary": True}},
        "seekers": {"veh_h": 60, "end_s": 300, "centre": "X"}}))
    spec = load_parking(tmp_path / "p.yaml")
    net = mb.load_network(city)
    areas = parking_areas(spec, net)
    assert {a.edge for a in areas} == {"WX", "XW", "XY", "YX", "YZ", "ZY"}
    assert next(a for a in areas if a.edge == "XY").lane == 1
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({
        "name": "p", "scenario": sc.name, "areas": {"on_street": None, "lots": [{"id": "l", "edge": "XN", "capacity": 5}]},
        "seekers": {"veh_h": 60, "end_s": 300, "centre": "X"}}))
    with pytest.raises(InputError, match="lot 'l': edge 'XN' admits no passenger"):
        parking_areas(load_parking(tmp_path / "p.yaml"), net)


def test_a_workers_sumo_error_reaches_the_cli_intact(tmp_path):
    (tmp_path / "bad.rou.xml").write_text('<routes>\n<vehicle id="ghost" type="nosuchtype" depart="5">'
                                          '<route edges="A0A1 A1A2"/></vehicle>\n</routes>\n')
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"name": "t", "network": str(ROOT / "networks" / "district5x5.net.xml"),
                                                     "end_s": 300, "demand": {"kind": "files", "files": ["bad.rou.xml"]}}))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "s", "scenario": "t.yaml",
                                                     "seekers": {"veh_h": 60, "end_s": 200, "centre": "C2"}}))
    r = CliRunner().invoke(app, ["parking", "compare", str(tmp_path / "s.yaml"), "--strategies", "none", "--seeds", "1",
                                 "--output", str(tmp_path / "o.nc")])
    assert r.exit_code != 0
    text = " ".join(r.output.split())
    assert "parking study 's', strategy none, seed 1 (run " in text
    assert "SimulationError" in text
    assert "The vehicle type 'nosuchtype' for vehicle 'ghost' is not known" in text  # SUMO's own words
    assert "pickle" not in text and "Traceback" not in text


TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="50.0000" lon="8.0000"/>
 <node id="2" lat="50.0020" lon="8.0000"><tag k="highway" v="traffic_signals"/></node>
 <node id="3" lat="50.0040" lon="8.0000"/>
 <node id="4" lat="50.0020" lon="7.9970"/>
 <node id="5" lat="50.0020" lon="8.0030"/>
 <node id="6" lat="50.0040" lon="8.0030"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/><tag k="lanes" v="4"/></way>
 <way id="11"><nd ref="4"/><nd ref="2"/><nd ref="5"/><tag k="highway" v="residential"/></way>
 <way id="12"><nd ref="5"/><nd ref="6"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
 <way id="13"><nd ref="3"/><nd ref="6"/><tag k="highway" v="footway"/></way>
</osm>
"""


def test_osm_import_matches_the_ways(tmp_path):
    osm = tmp_path / "tiny.osm"
    osm.write_text(TINY_OSM)
    out = tmp_path / "tiny.net.xml"
    r = CliRunner().invoke(app, ["network", "import", str(osm), "-o", str(out)])
    assert r.exit_code == 0, r.output
    net = mb.network_from_sumo(out)
    types = {}
    import xml.etree.ElementTree as ET

    for e in ET.parse(out).getroot().iter("edge"):
        if e.get("function") != "internal":
            types[e.get("id")] = (e.get("type"), len(e.findall("lane")))
    sec = [n for t, n in types.values() if t == "highway.secondary"]
    res = [n for t, n in types.values() if t == "highway.residential"]
    # way 10: two segments (split at the signal junction) x two directions, 4 lanes = 2 each way
    assert sorted(sec) == [2, 2, 2, 2]
    # way 11: two segments x two directions; way 12: one segment, one way; one lane each
    assert sorted(res) == [1, 1, 1, 1, 1]
    assert not any(t == "highway.footway" for t, _ in types.values())  # footways are not kept for cars
    assert net.n_edges == 9 and int(net.node_signalised.sum()) == 1
    assert "highway.footway" in r.output and "dropped" in r.output and "traffic lights 1" in r.output
    # loading the OSM file itself converts it once into the cache, then reuses the conversion
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    try:
        a = mb.load_network(osm)
        cached = list((tmp_path / "cache" / "mobility" / "osm").glob("*.net.xml"))
        assert len(cached) == 1 and a.n_edges == 9
        mtime = cached[0].stat().st_mtime_ns
        b = mb.load_network(osm)
        assert b.net_file == cached[0].resolve() and cached[0].stat().st_mtime_ns == mtime
    finally:
        del os.environ["XDG_CACHE_HOME"]


def test_osm_import_errors(tmp_path):
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1'")
    r = CliRunner().invoke(app, ["network", "import", str(bad), "-o", str(tmp_path / "x.net.xml")])
    assert r.exit_code == 2 and "not a readable OSM XML file" in r.output
    r = CliRunner().invoke(app, ["network", "import", str(bad), "-o", str(tmp_path / "x.xml")])
    assert r.exit_code == 2 and "ends in .net.xml" in r.output
    assert not (tmp_path / "x.net.xml").exists()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
