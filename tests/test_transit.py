"""Buses and transit signal priority: a bus on an empty corridor keeps its timetable with priority, every state
priority shows passes the safety validator (fixed, actuated and adaptive control), conflicting requests are
served first come first served, a fixed-time program recovers its cycle, and bad lines give one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mobility._errors import InputError
from mobility.signals.safety import check_states, signal_models
from mobility.transit import PrioritySettings, Request, load_transit, run_transit
from mobility.transit.priority import BusTracker, next_tls

ROOT = Path(__file__).resolve().parents[1]
CORRIDOR = ROOT / "networks" / "corridor5.net.xml"
GRID = ROOT / "networks" / "grid3x3.net.xml"


def _scenario(tmp: Path, net: Path, *, end_s: float = 900, flows: list | None = None) -> Path:
    """A scenario on ``net`` with next to no other traffic (one car an hour) unless ``flows`` are given."""
    sc = {"name": "empty", "network": str(net), "begin_s": 0, "end_s": end_s, "seed": 1,
          "demand": {"kind": "routes", "flows": flows or [{"edges": ["top0A2", "A2left2"] if net == GRID
                                                           else ["N1_J1", "J1_S1"], "flow_veh_h": 1}]},
          "outputs": {"interval_s": 300}}
    p = tmp / "scenario.yaml"
    p.write_text(yaml.safe_dump(sc))
    return p


def _study(tmp: Path, scenario: Path, lines: list[dict], **extra) -> Path:
    p = tmp / "transit.yaml"
    p.write_text(yaml.safe_dump({"name": "t", "scenario": str(scenario), "lines": lines, **extra}, sort_keys=False))
    return p


EAST = ["W_J1", "J1_J2", "J2_J3", "J3_J4", "J4_J5", "J5_E"]


def _line(**kw) -> dict:
    line = {"id": "B", "route": EAST, "stops": [{"id": f"s{k}", "edge": e, "pos_m": 60} for k, e in enumerate(EAST[1:])],
            "departures_s": [30.0], "dwell_s": 15.0, "slack": 0.0}
    line.update(kw)
    return line


def test_single_bus_keeps_the_timetable_with_priority(tmp_path):
    line = _line()
    line["bus"] = {"sigma": 0.0}  # a driver without dawdling: the running times are known
    spec = load_transit(_study(tmp_path, _scenario(tmp_path, CORRIDOR), [line]))
    with_tsp = run_transit(spec, "both", seed=3)
    without = run_transit(spec, "none", seed=3)
    sched = np.diff(with_tsp["scheduled_arrival_s"].values[0])
    run = np.diff(with_tsp["arrival_s"].values[0])
    assert np.isfinite(run).all()
    # stop to stop, the timetable is the free-flow running time with braking and starting at each stop and
    # the dwell: priority keeps it (the junctions' internal lanes add about a second each)
    assert np.abs(run - sched).max() <= 2.0, run - sched
    # without priority the fixed-time signals stop the bus: it falls behind between stops
    assert (np.diff(without["arrival_s"].values[0]) - sched).max() > 10.0
    assert float(with_tsp["bus_signal_delay_s"]) < 0.25 * float(without["bus_signal_delay_s"])
    assert float(with_tsp["safety_violations"]) == 0
    # what each signal showed the line: its five junctions, at the ends of the route's edges
    from mobility import network_from_sumo

    net = network_from_sumo(CORRIDOR)
    ends = np.cumsum([float(net.length[net.edge_index[e]]) for e in EAST[:-1]])
    assert list(without["line_signal_pos_m"].values) == pytest.approx(list(ends), abs=0.1)
    shown = without["signal_shown"].values
    # a fixed-time program without priority repeats every cycle (90 s), and stops the line part of it
    assert (shown[:, 90:] == shown[:, :-90]).all()
    assert all(0.3 < np.mean(row < 2) < 0.7 for row in shown)
    # where the bus stands within 30 m of a stop line between two samples, the signal showed it red or amber
    pos, ts = without["route_pos_m"].values[0], without["ts_time"].values
    waiting = 0
    for k in range(1, pos.size):
        for j, y in enumerate(ends):
            if np.isfinite(pos[k]) and pos[k] == pos[k - 1] and y - 30 < pos[k] < y:
                waiting += 1
                assert (shown[j, int(ts[k - 1]):int(ts[k])] < 2).any(), (j, ts[k])
    assert waiting > 0


def test_program_recovers_its_cycle_after_priority(tmp_path):
    sc = _scenario(tmp_path, CORRIDOR, end_s=900)
    spec = load_transit(_study(tmp_path, sc, [_line()]))
    back = run_transit(spec, "both", seed=3)
    assert float(back["priority_actions"]) > 0
    assert float(back["cycle_drift_s"]) < 1.0
    spec_off = load_transit(_study(tmp_path, sc, [_line()], priority={"recovery": False}))
    off = run_transit(spec_off, "both", seed=3)
    assert float(off["cycle_drift_s"]) >= 1.0  # without recovery the program stays shifted


@pytest.mark.parametrize("controller", ["fixed", "actuated", "adaptive"])
def test_priority_never_shows_an_unsafe_state(tmp_path, controller):
    flows = [{"edges": EAST, "flow_veh_h": 700}, {"edges": ["E_J5", "J5_J4", "J4_J3", "J3_J2", "J2_J1", "J1_W"],
                                                 "flow_veh_h": 600}]
    flows += [{"edges": [f"N{k}_J{k}", f"J{k}_S{k}"], "flow_veh_h": 150} for k in range(1, 6)]
    sc = _scenario(tmp_path, CORRIDOR, end_s=900, flows=flows)
    line = _line(departures_s=None, headway_s=120, begin_s=20, end_s=700)
    spec = load_transit(_study(tmp_path, sc, [line], controller=controller))
    ds = run_transit(spec, "both", seed=5)
    assert float(ds["priority_actions"]) > 0
    assert float(ds["safety_violations"]) == 0, ds.attrs["violations"]


def test_the_validator_sees_cut_greens_and_long_reds():
    model = signal_models(CORRIDOR)["J2"]
    a, y, b, y2 = "rrrGGGgrrrGGGg", "rrryyyyrrryyyy", "GGgrrrrGGgrrrr", "yyyrrrryyyrrrr"
    ok = [(0.0, a), (42.0, y), (45.0, b), (87.0, y2), (90.0, a)]
    assert check_states(ok, model, min_green_s=8.0, max_red_s=60.0) == []
    cut = [(0.0, a), (42.0, y), (45.0, b), (49.0, y2), (52.0, a)]
    assert any(v.kind == "min_green" for v in check_states(cut, model, min_green_s=8.0))
    long = [(0.0, a), (42.0, y), (45.0, b), (187.0, y2), (190.0, a)]
    assert any(v.kind == "max_red" for v in check_states(long, model, max_red_s=120.0))


def test_conflicting_requests_first_come_first_served(tmp_path):
    sc = _scenario(tmp_path, GRID, end_s=400)
    west = {"id": "W", "route": ["left1A1", "A1B1", "B1C1", "C1right1"], "stops": [{"id": "w1", "edge": "B1C1", "pos_m": 50}],
            "departures_s": [100.0], "dwell_s": 10.0}
    north = {"id": "N", "route": ["top1B2", "B2B1", "B1B0", "B0bottom1"], "stops": [{"id": "n1", "edge": "B1B0", "pos_m": 50}],
             "departures_s": [104.0], "dwell_s": 10.0}
    spec = load_transit(_study(tmp_path, sc, [west, north]))
    ds = run_transit(spec, "both", seed=1)
    log = [e for e in json.loads(ds.attrs["priority_log"]) if e[1] == "B1"]
    checkin = {v: t for t, _, v, e in log if e == "checkin"}
    checkout = {v: t for t, _, v, e in log if e == "checkout"}
    assert set(checkin) == {"W.0", "N.0"} and checkin["W.0"] < checkin["N.0"] < checkout["W.0"]
    # while the first bus is checked in, no action is taken for the second (its movement conflicts)
    acts = [(t, v) for t, _, v, e in log if e in ("extension", "early-green")]
    assert not [t for t, v in acts if v == "N.0" and t < checkout["W.0"]]
    assert [t for t, v in acts if v == "W.0"]
    assert float(ds["safety_violations"]) == 0


def test_served_order_rule():
    tr = BusTracker(None, [], PrioritySettings(), "both")
    tr.requests["J"] = {"b": Request("b", "J", 1, 10.0, 0.0, 0.0), "a": Request("a", "J", 2, 10.0, 30.0, 0.0),
                        "c": Request("c", "J", 3, 5.0, -50.0, 0.0)}
    assert [r.vehicle for r in tr.served("J")] == ["c", "a", "b"]  # earliest check-in, then the later bus


def test_next_tls_reads_both_backends():
    assert next_tls((("J1", 11, 231.2, "G"),)) == ("J1", 11, 231.2)
    assert next_tls(()) is None

    class R:
        def getString(self):
            return "TraCINextTLSDataVectorWrapped[TraCINextTLSData(cluster_a,b,3,12.5,r),]"

    assert next_tls(R()) == ("cluster_a,b", 3, 12.5)


def test_timetable_going_back_is_refused(tmp_path):
    line = _line()
    line["stops"][2]["time_s"] = 100
    for k, s in enumerate(line["stops"]):
        s["time_s"] = [60, 120, 100, 200, 260][k]
    with pytest.raises(InputError) as e:
        load_transit(_study(tmp_path, _scenario(tmp_path, CORRIDOR), [line]))
    msg = str(e.value)
    assert "transit.yaml:" in msg and "s2" in msg and "increase" in msg and "\n" not in msg.strip()


def test_line_through_an_edge_buses_may_not_use(tmp_path):
    text = CORRIDOR.read_text()
    text = text.replace('<lane id="J2_J3_0" index="0"', '<lane id="J2_J3_0" index="0" disallow="bus"')
    text = text.replace('<lane id="J2_J3_1" index="1"', '<lane id="J2_J3_1" index="1" disallow="bus"')
    net = tmp_path / "nobus.net.xml"
    net.write_text(text)
    spec = load_transit(_study(tmp_path, _scenario(tmp_path, net), [_line()]))
    with pytest.raises(InputError) as e:
        run_transit(spec, "none", seed=1)
    msg = str(e.value)
    assert "transit.yaml:" in msg and "J2_J3" in msg and "line B" in msg and "bus" in msg


# -- GTFS through SUMO's gtfs2pt.py ----------------------------------------------------------------------------

_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="50.0000" lon="8.0000"/><node id="2" lat="50.0020" lon="8.0000"/>
 <node id="3" lat="50.0040" lon="8.0000"/><node id="4" lat="50.0060" lon="8.0000"/>
 <node id="5" lat="50.0020" lon="8.0030"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><tag k="highway" v="secondary"/></way>
 <way id="11"><nd ref="2"/><nd ref="5"/><tag k="highway" v="residential"/></way>
</osm>"""


def _feed(folder: Path, third_stop_lon: str = "8.00005") -> Path:
    folder.mkdir()
    tables = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Agency,http://x,Europe/Berlin\n",
        "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,One,50.0005,8.00005\nS2,Two,50.0025,8.00005\n"
                     f"S3,Three,50.0045,{third_stop_lon}\n",
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\nR1,A,1,Line one,3\n",
        "trips.txt": "route_id,service_id,trip_id,direction_id\nR1,WK,T1,0\nR1,WK,T2,0\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,08:00:00,08:00:00,S1,1\n"
                          "T1,08:01:00,08:01:20,S2,2\nT1,08:02:30,08:02:30,S3,3\nT2,08:10:00,08:10:00,S1,1\n"
                          "T2,08:11:00,08:11:20,S2,2\nT2,08:12:30,08:12:30,S3,3\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                        "WK,1,1,1,1,1,1,1,20260101,20271231\n",
        "calendar_dates.txt": "service_id,date,exception_type\nWK,20261225,2\n",
    }
    for name, text in tables.items():
        (folder / name).write_text(text)
    return folder


def _gtfs_study(tmp_path: Path, feed: Path) -> Path:
    import mobility as mb

    mb.network_from_osm(_write(tmp_path / "tiny.osm", _OSM), output=tmp_path / "tiny.net.xml")
    sc = _scenario(tmp_path, tmp_path / "tiny.net.xml", flows=[{"edges": ["10#0"], "flow_veh_h": 1}])
    return _study(tmp_path, sc, [], gtfs={"feed": str(feed), "date": "20261207", "offset_s": 28700})


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def test_gtfs_feed_becomes_bus_lines(tmp_path):
    from mobility.study import load_study

    st = load_study(_gtfs_study(tmp_path, _feed(tmp_path / "feed")), kind="transit")
    (line,) = st.spec.lines
    assert [s.id for s in line.stops] == ["gtfs_S1", "gtfs_S2", "gtfs_S3"]
    assert [s.time_s for s in line.stops] == [0.0, 60.0, 150.0]   # the feed's arrivals after the first stop
    assert line.departures_s == [100.0, 700.0]  # 08:00 and 08:10, less gtfs.offset_s
    ds = run_transit(st, "none", seed=1)
    assert np.isfinite(ds["arrival_s"].values).all()


def test_gtfs_stop_off_the_network_is_named(tmp_path):
    from mobility.study import load_study

    with pytest.raises(InputError) as e:
        load_study(_gtfs_study(tmp_path, _feed(tmp_path / "feed", third_stop_lon="8.0200")), kind="transit")
    msg = str(e.value)
    assert "stops.txt:4: stop S3" in msg and "off the network" in msg and "\n" not in msg


def test_electric_bus_energy_balance_and_opportunity_charging(tmp_path):
    line = _line(departures_s=[30.0])
    line["bus"] = {"electric": True, "battery_kwh": 100, "initial_soc": 0.5}
    sc = _scenario(tmp_path, CORRIDOR)
    plain = run_transit(load_transit(_study(tmp_path, sc, [line])), "none", seed=3)
    used = float(plain["trip_energy_kwh"][0])
    assert 0.5 < used < 10.0  # about 2 kWh/km for a 13 t bus over 1.5 km with its heating on
    # no charger: the battery ends at its start less the net energy drawn
    assert float(plain["trip_final_soc"][0]) == pytest.approx(0.5 - used / 100.0, abs=1e-4)
    assert float(plain["trip_charged_kwh"][0]) == pytest.approx(0.0, abs=1e-6)
    charged = run_transit(load_transit(_study(tmp_path, sc, [line], chargers=[{"stop": "s2", "power_kw": 300}])),
                          "none", seed=3)
    got = float(charged["trip_charged_kwh"][0])
    # charged while it dwells (15 s) at the 300 kW charger: more than nothing, at most power x dwell
    assert 0.1 < got <= 300 * 15 / 3600 + 1e-6
    assert float(charged["trip_final_soc"][0]) > float(plain["trip_final_soc"][0])


# -- taxi fleets ------------------------------------------------------------------------------------------------

TAXI = ROOT / "scenarios" / "transit" / "district_taxi.yaml"


def _taxi_study(tmp_path: Path, **over):
    from mobility.study import load_study

    data = yaml.safe_load(TAXI.read_text())
    data.update(scenario=str(TAXI.parent / data["scenario"]), **over)
    p = tmp_path / "taxi.yaml"
    p.write_text(yaml.safe_dump(data))
    st = load_study(p)
    return type(st)(st.kind, st.spec, st.scenario.model_copy(update={"end_s": 900.0}), st.network)


def test_assignment_dispatch_serves_every_request_a_big_fleet_can(tmp_path):
    from mobility.transit.taxi import run_taxi

    st = _taxi_study(tmp_path, fleet_size=12, requests={"per_h": 60, "begin_s": 0, "end_s": 600, "min_distance_m": 500})
    ds = run_taxi(st, "assignment", seed=2)
    n = ds.sizes["request"]
    assert n > 3 and int(ds["unserved"]) == 0 and bool(ds["served"].all())
    # a waiting time is at least the time to the next dispatch and at most the window
    assert float(ds["waiting_s"].min()) >= 0 and float(ds["waiting_s"].max()) < 900
    assert 0 < float(ds["occupied_share"]) <= 1


def test_electric_taxis_charge_at_the_layout(tmp_path):
    from mobility.transit.taxi import run_taxi

    electric = {"battery_kwh": 20, "initial_soc": {"kind": "uniform", "low": 0.1, "high": 0.15}, "threshold_soc": 0.2,
                "target_soc": 0.3, "charging_study": str(ROOT / "scenarios" / "ev_charging" / "district_ev.yaml"),
                "layout_word": "optimal:pmedian:p=4"}
    st = _taxi_study(tmp_path, fleet_size=4, electric=electric,
                     requests={"per_h": 60, "begin_s": 300, "end_s": 600, "min_distance_m": 500})
    ds = run_taxi(st, "assignment", seed=1)
    assert float(ds["charging_visits"]) >= 3          # every taxi starts below the threshold
    assert float(ds["depleted_taxis"]) == 0
    assert float(ds["mean_final_soc"]) > 0.15         # above what any taxi started with
    with pytest.raises(InputError, match="needs dispatcher 'assignment'"):
        run_taxi(st, "greedy", seed=1)
