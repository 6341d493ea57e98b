"""Live operations: feed readers and their checks, the demand filter on a known answer, incidents found in a SUMO
feed the loop is not told about."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mobility.live import (
    FeedGuard,
    FolderWatcher,
    LiveModel,
    ReplaySource,
    StationTable,
    read_feed,
    read_parking_occupancy,
    read_stations,
)
from mobility.live.feeds import FeedError

ROOT = Path(__file__).resolve().parents[1]

DATEX_XML = """<?xml version="1.0" encoding="UTF-8"?>
<d2:payload xmlns:d2="http://datex2.eu/schema/3/d2Payload" xmlns:mst="http://datex2.eu/schema/3/measuredData"
  xmlns:roa="http://datex2.eu/schema/3/roadTrafficData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:type="mst:MeasuredDataPublication">
 <mst:siteMeasurements>
  <mst:measurementSiteReference id="S1" version="1" targetClass="MeasurementSiteRecord"/>
  <mst:measurementTimeDefault>2026-12-07T07:01:00Z</mst:measurementTimeDefault>
  <mst:physicalQuantity index="1"><mst:basicData xsi:type="roa:TrafficFlow"><roa:vehicleFlow>
   <roa:vehicleFlowRate>600</roa:vehicleFlowRate></roa:vehicleFlow></mst:basicData></mst:physicalQuantity>
  <mst:physicalQuantity index="2"><mst:basicData xsi:type="roa:TrafficFlow"><roa:vehicleFlow>
   <roa:vehicleFlowRate>300</roa:vehicleFlowRate></roa:vehicleFlow></mst:basicData></mst:physicalQuantity>
  <mst:physicalQuantity index="3"><mst:basicData xsi:type="roa:TrafficSpeed"><roa:averageVehicleSpeed>
   <roa:speed>36</roa:speed></roa:averageVehicleSpeed></mst:basicData></mst:physicalQuantity>
  <mst:physicalQuantity index="4"><mst:basicData xsi:type="roa:TrafficSpeed"><roa:averageVehicleSpeed>
   <roa:speed>54</roa:speed></roa:averageVehicleSpeed></mst:basicData></mst:physicalQuantity>
 </mst:siteMeasurements>
 <mst:siteMeasurements>
  <mst:measurementSiteReference id="S2" version="1"/>
  <mst:measurementTimeDefault>2026-12-07T07:01:00Z</mst:measurementTimeDefault>
  <mst:physicalQuantity><mst:basicData xsi:type="roa:TrafficFlow"><roa:vehicleFlow>
   <roa:vehicleFlowRate>120</roa:vehicleFlowRate></roa:vehicleFlow></mst:basicData></mst:physicalQuantity>
 </mst:siteMeasurements>
</d2:payload>
"""


def test_datex_xml_and_json_read_the_same(tmp_path: Path) -> None:
    stations = StationTable({"S1": "A", "S2": "B"}, {"S1": 1.0, "S2": 0.5})
    p = tmp_path / "m.xml"
    p.write_text(DATEX_XML)
    r = read_feed(p, stations, interval_s=60).records.set_index("station")
    assert r.loc["S1", "flow_veh_h"] == pytest.approx(900.0)
    # speeds weighted by the lanes' flows: (36 x 600 + 54 x 300) / 900 km/h
    assert r.loc["S1", "speed_m_s"] == pytest.approx((36 * 600 + 54 * 300) / 900 / 3.6)
    assert r.loc["S1", "begin_s"] == pytest.approx(7 * 3600 + 60) and r.loc["S1", "end_s"] == pytest.approx(7 * 3600 + 120)
    assert r.loc["S2", "edge"] == "B" and r.loc["S2", "lane_share"] == 0.5 and math.isnan(r.loc["S2", "speed_m_s"])
    doc = {"payload": {"measuredDataPublication": {"siteMeasurements": [
        {"measurementSiteReference": {"id": "S1"}, "measurementTimeDefault": "2026-12-07T07:01:00Z",
         "physicalQuantity": [{"basicData": {"trafficFlow": {"vehicleFlow": {"vehicleFlowRate": 600}}}},
                              {"basicData": {"trafficFlow": {"vehicleFlow": {"vehicleFlowRate": 300}}}},
                              {"basicData": {"trafficSpeed": {"averageVehicleSpeed": {"speed": 36}}}},
                              {"basicData": {"trafficSpeed": {"averageVehicleSpeed": {"speed": 54}}}}]}]}}}
    q = tmp_path / "m.json"
    q.write_text(json.dumps(doc))
    j = read_feed(q, stations, interval_s=60).records.set_index("station")
    assert j.loc["S1", "flow_veh_h"] == pytest.approx(900.0)
    assert j.loc["S1", "speed_m_s"] == pytest.approx(r.loc["S1", "speed_m_s"])


def test_truncated_datex_keeps_complete_sites(tmp_path: Path) -> None:
    p = tmp_path / "cut.xml"
    text = DATEX_XML
    second = text.index("<mst:siteMeasurements>", text.index("<mst:siteMeasurements>") + 10)
    p.write_text(text[:second + 120])   # cut inside the second site
    b = read_feed(p, StationTable({"S1": "A", "S2": "B"}), interval_s=60)
    assert list(b.records["station"]) == ["S1"]
    assert any("truncated" in why for _, why in b.dropped)


def test_pems_csv_header_and_raw(tmp_path: Path) -> None:
    p = tmp_path / "pems.csv"
    p.write_text("station,timestamp,flow_1,flow_2,speed_mph,occupancy\n"
                 "400001,01/07/2026 08:00:00,40,35,55,0.08\n"
                 "400001,01/07/2026 08:05:00,50,45,50,0.1\n"
                 "400001,01/07/2026 08:10:00,50\n")
    b = read_feed(p, StationTable({"400001": "E1"}))
    r = b.records
    assert len(r) == 2 and r["begin_s"].tolist() == [8 * 3600, 8 * 3600 + 300]
    assert r["flow_veh_h"].tolist() == pytest.approx([75 * 12, 95 * 12])
    assert r["speed_m_s"].iloc[0] == pytest.approx(55 * 0.44704)
    assert b.dropped and "truncated" in b.dropped[0][1] and b.dropped[0][0].endswith(":4")
    raw = tmp_path / "d04_text_station_5min.txt"
    raw.write_text("01/07/2026 08:00:00,400001,4,101,N,ML,0.5,20,100,600,0.05,61.0,10,300,0.05,60,1,10,300,0.05,62,1\n")
    rr = read_feed(raw, StationTable({"400001": "E1"}), interval_s=300).records
    assert rr["flow_veh_h"].iloc[0] == pytest.approx(600 * 12) and rr["speed_m_s"].iloc[0] == pytest.approx(61 * 0.44704)


def test_guard_drops_with_reasons(tmp_path: Path) -> None:
    import pandas as pd

    stations = StationTable({"a": "E1", "b": "E2"})
    g = FeedGuard(stations, max_age_s=600, silent_s=300, lanes={"E1": 2, "E2": 1})
    rows = [("a", "E1", 0, 60, 600.0, 10.0), ("b", "E2", 0, 60, 300.0, 10.0), ("x", "", 0, 60, 100.0, 10.0),
            ("a", "E1", 0, 60, 600.0, 10.0),            # a repeat
            ("a", "E1", 60, 120, -5.0, 10.0),           # negative
            ("b", "E2", 60, 120, 9000.0, 10.0),         # more than a lane carries
            ("a", "E1", 3600, 3660, 500.0, 9.0),        # after an hour's gap
            ("b", "E2", 120, 180, 300.0, 10.0)]         # stale by then
    df = pd.DataFrame([dict(station=s, edge=e, begin_s=b, end_s=t, flow_veh_h=f, speed_m_s=v, occupancy=np.nan,
                            lane_share=1.0, source=f"f:{i}") for i, (s, e, b, t, f, v) in enumerate(rows)])
    kept = g.check(df.iloc[:7])
    kept2 = g.check(df.iloc[7:])          # a later batch bringing an old record
    assert kept["source"].tolist() == ["f:0", "f:1", "f:6"] and len(kept2) == 0
    why = dict(g.dropped)
    assert "unknown station" in why["f:2"] and "repeats" in why["f:3"] and "negative" in why["f:4"]
    assert "a lane can carry" in why["f:5"] and "stale" in why["f:7"]
    assert g.gaps == [("a", 60.0, 3600.0)]
    assert g.silent() == ["b"]


def test_stations_table_errors(tmp_path: Path) -> None:
    import mobility as mb

    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    e = str(net.edge_ids[0])
    p = tmp_path / "s.csv"
    p.write_text(f"station,edge,lanes\nS1,{e},0\nS2,nowhere,\n")
    with pytest.raises(FeedError, match=r"s.csv:3: station 'S2'.*no edge 'nowhere'"):
        read_stations(p, net)
    p.write_text(f"station,edge,lanes\nS1,{e},0\nS1,{e},1\n")
    with pytest.raises(FeedError, match="defined twice"):
        read_stations(p, net)
    p.write_text(f"station,edge,lanes\nS1,{e},0\n")
    t = read_stations(p, net)
    assert t.lane_share["S1"] == pytest.approx(1 / int(net.lanes[0]))


def test_parking_occupancy(tmp_path: Path) -> None:
    p = tmp_path / "occ.csv"
    p.write_text("area,timestamp,occupied,capacity\nP1,2026-12-07T08:00:00,40,60\n")
    df = read_parking_occupancy(p)
    assert df["time_s"].iloc[0] == 8 * 3600 and df["occupied"].iloc[0] == 40
    p.write_text("area,timestamp,occupied,capacity\nP1,2026-12-07T08:00:00,70,60\n")
    with pytest.raises(FeedError, match=r"occ.csv:2: area 'P1': 70 occupied of 60"):
        read_parking_occupancy(p)


def test_replay_and_folder_watcher_give_the_records(tmp_path: Path) -> None:
    p = tmp_path / "ed.xml"
    p.write_text('<meandata>\n<interval begin="0" end="60"><edge id="E1" entered="10" departed="2" speed="8"/>'
                 '<edge id="E2" entered="5"/></interval>\n<interval begin="60" end="120"><edge id="E1" entered="12"/>'
                 '</interval>\n</meandata>\n')
    batches = list(ReplaySource([p], StationTable.for_edges(["E1"]), step_s=60))
    assert [n for n, _ in batches] == [60.0, 120.0]
    assert batches[0][1].records["flow_veh_h"].tolist() == [12 * 60.0]   # entered + departed, per hour
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.xml").write_text(p.read_text())
    (folder / "broken.xml").write_text("<meandata><interval begin=")
    got = list(FolderWatcher(folder, StationTable.for_edges(["E1", "E2"]), poll_s=0.05, timeout_s=0.3))
    recs = [b for _, b in got]
    assert sum(len(b) for b in recs) == 3
    assert any(b.dropped for b in recs)


def _engine_truth(scale_first: float) -> tuple:
    """The engine's own loading of four origins' demand, the first scaled by ``scale_first``: the prior, the
    network, the truth and the fed edges (half the used ones)."""
    import mobility as mb
    from mobility.dta import DynamicDemand, dta

    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    ids = [str(e) for e in net.edge_ids]
    fringe_in = [e for e in ids if e.startswith(("left", "top", "right", "bottom"))]
    outs = [e for e in ids if e.endswith(("left0", "left1", "left2", "right0", "right1", "right2"))]
    pairs_o = [[net.edge(oe)] for oe in fringe_in[:4] for _ in range(3)]
    pairs_d = [[net.edge(de)] for _ in range(4) for de in outs[:3]]
    rates = np.full((len(pairs_o), 12), 150.0)
    prior = DynamicDemand(pairs_o, pairs_d, rates, 0.0, 300.0, [str(i) for i in range(len(pairs_o))])
    truth_rates = rates.copy()
    truth_rates[:3] *= scale_first            # the first origin's pairs
    truth = dta(net, DynamicDemand(pairs_o, pairs_d, truth_rates, 0.0, 300.0), method="dnl", dt=2.0, packet_veh=0.5,
                interval_s=60.0, horizon_s=4200.0)
    used = [e for e in ids if truth["inflow_veh_h"].sel(edge=e).mean() > 50]
    return net, prior, truth, used[::2]


def _feed_engine_truth(model: LiveModel, truth, fed: list[str], steps: int, factor: dict[str, float]) -> None:
    import pandas as pd

    for k in range(1, steps + 1):
        now = 60.0 * k
        rec = pd.DataFrame([dict(station=e, edge=e, begin_s=now - 60, end_s=now,
                                 flow_veh_h=float(truth["inflow_veh_h"].sel(edge=e, time=now - 60)) * factor.get(e, 1.0),
                                 speed_m_s=np.nan, occupancy=np.nan, lane_share=1.0, source="truth") for e in fed])
        model.update(now, rec)


def test_filter_recovers_a_known_demand_factor() -> None:
    """Truth: the engine's own loading with one origin's demand 1.4 times the prior; the feed is its counts at
    half of the edges. The filter must move that origin's factor towards 1.4 and leave the others near 1."""
    net, prior, truth, fed = _engine_truth(1.4)
    model = LiveModel(net, prior, StationTable.for_edges(fed), step_s=60.0, horizon_s=600.0, packet_veh=0.5)
    _feed_engine_truth(model, truth, fed, 45, {})
    g0 = int(model.pair_group[0])
    others = [g for g in range(len(model.x)) if g != g0]
    assert model.x[g0] > 1.25, model.x
    assert np.all(np.abs(model.x[others] - 1.0) < 0.15), model.x
    assert model.cov[g0, g0] < 0.3 ** 2      # more sure than the prior
    assert not model.incidents


def test_a_detector_that_miscounts_is_flagged_and_left_out() -> None:
    """The same truth at the prior's demand, but one detector counts three times what passes: it is flagged
    suspect, and the demand factors stay near 1 without it."""
    net, prior, truth, fed = _engine_truth(1.0)
    busiest = max(fed, key=lambda e: float(truth["inflow_veh_h"].sel(edge=e).mean()))
    model = LiveModel(net, prior, StationTable.for_edges(fed), step_s=60.0, horizon_s=600.0, packet_veh=0.5)
    _feed_engine_truth(model, truth, fed, 45, {busiest: 3.0})
    assert model.suspect == {busiest}
    assert np.all(np.abs(model.x - 1.0) < 0.2), model.x
    assert busiest not in model.history[-1].used


def test_loop_finds_a_lane_closed_in_sumo(tmp_path: Path) -> None:
    """A SUMO run of the district's commute with one lane of C2C1 closed from 1700 s, its edge data at 40% of the
    used edges as the feed: the loop, told nothing of it, names C2C1 within five minutes of its start, raises no
    incident before, and ranks responses for it."""
    from mobility.incident import IncidentSpec
    from mobility.live import record_feed, run_live
    from mobility.scenario import load_scenario_with_network

    sc, net = load_scenario_with_network(ROOT / "scenarios" / "live" / "district_commute.yaml")
    truth = IncidentSpec(id="truth", edge="C2C1", lanes=[0], begin_s=1700, duration_s=1800, capacity_left=0.0)
    feed = record_feed(sc, truth, seed=7, workdir=tmp_path / "truth", share=0.4, split_seed=7)
    src = ReplaySource([feed.path], feed.stations, step_s=60, begin_s=0, end_s=2100)
    res = run_live(sc, src, feed.stations, network=net, max_signs=1)
    assert res.detections, "no incident found"
    d = res.detections[0]
    assert d.edge == "C2C1" and 1700 < d.found_s <= 1700 + 300
    assert abs(d.begin_s - 1700) <= 300
    ranking = next(iter(res.rankings.values()))
    assert "no_response" in set(ranking["plan"]) and len(ranking) > 1
    q = res.quality()
    assert len(q) and q["geh_under_5"].between(0, 1).all()


def test_cli_live_needs_a_station_table_for_pems(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mobility.cli import app

    p = tmp_path / "pems.csv"
    p.write_text("station,timestamp,flow,speed_mph\n400001,01/07/2026 08:00:00,40,55\n")
    r = CliRunner().invoke(app, ["live", str(ROOT / "scenarios" / "live" / "district_commute.yaml"), "--feed", str(p),
                                 "--prior", "scenario", "-o", str(tmp_path / "out")])
    assert r.exit_code == 2 and "names no edge" in r.output and "--stations" in r.output
    assert not (tmp_path / "out").exists()


def test_loop_keeps_running_through_a_bad_feed(tmp_path: Path) -> None:
    """A feed with an unknown station, a negative flow, a record going back in time, an hour's gap and a truncated
    end: the loop runs to the end, says what it dropped and why, flags the silent station and keeps its state."""
    import mobility as mb
    from mobility.dta import DynamicDemand, dta
    from mobility.live import run_live

    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    net = mb.load_network(sc.network)
    ids = [str(e) for e in net.edge_ids]
    o = [[net.edge(e)] for e in ids if e.startswith("left")][:3]
    d = [[net.edge(e)] for e in ids if e.endswith(("right0", "right1", "right2"))][:3]
    demand = DynamicDemand(o, d, np.full((3, 24), 300.0), 0.0, 300.0)
    truth = dta(net, demand, method="dnl", dt=2.0, interval_s=60.0, horizon_s=7200.0)
    fed = [e for e in ids if float(truth["inflow_veh_h"].sel(edge=e).mean()) > 50][:6]
    lines = ["<meandata>"]
    for k in range(60):                                  # an hour of minutes...
        if 20 <= k < 40 and k != 25:
            continue                                     # ...with a gap (minute 25 alone arrives)
        rows = [f'<edge id="{e}" entered="{float(truth["inflow_veh_h"].sel(edge=e, time=60.0 * k)) / 60:.2f}"/>'
                for e in fed]
        if k == 10:
            rows.append('<edge id="nowhere" entered="3"/>')
            rows[0] = f'<edge id="{fed[0]}" entered="-4"/>'
        lines.append(f'<interval begin="{60 * k}" end="{60 * (k + 1)}">' + "".join(rows) + "</interval>")
    lines.insert(-1, '<interval begin="600" end="660">' + f'<edge id="{fed[1]}" entered="5"/></interval>')  # again
    text = "\n".join(lines) + "\n</meandata>\n"
    p = tmp_path / "feed.xml"
    p.write_text(text[:-40])                            # cut off inside the last minute
    stations = StationTable.for_edges([*fed, "nowhere"][:-1])
    src = ReplaySource([p], StationTable.for_edges([*fed, "nowhere"]), step_s=60, begin_s=0, end_s=3600)
    res = run_live(sc, src, stations, network=net, demand=demand, respond=False, horizon_s=600.0)
    why = " | ".join(r for _, r in res.dropped)
    assert "unknown station" in why and "negative flow" in why and "truncated" in why
    assert "repeats or goes back" in why
    assert res.model.now_s == 3600.0 and len(res.steps) == 60
    silent = {s for r in res.steps if r.now_s == 2280.0 for s in r.silent}
    assert set(fed) <= silent                            # ten minutes without a record after minute 25
    assert np.all(np.isfinite(res.model.x)) and np.all(np.diag(res.model.cov) > 0)
    assert not res.detections
