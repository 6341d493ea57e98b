"""Calibration to counts: readers and their errors, OD estimation against known matrices, the fit report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mobility as mb
from mobility.calibration import CountsError, counts_from_rows, estimate_od, geh, read_counts

from .conftest import shared_path


def _hub(name="hub"):
    """Zones 1, 2, 3 feed hub node 5 by their own connectors; 5 reaches zone 4 by two congestible links
    (through nodes 6 and 7). Link ids are their end nodes."""
    ends = [(1, 5), (2, 5), (3, 5), (5, 6), (6, 4), (5, 7), (7, 4)]
    fft = [1.0, 2.0, 1.5, 5.0, 1.0, 7.0, 1.0]
    cap = [1e9, 1e9, 1e9, 400.0, 1e9, 600.0, 1e9]
    E = len(ends)
    return mb.network.build_network(
        name=name, source="test", node_ids=[str(i) for i in range(1, 8)], tail=[a - 1 for a, _ in ends],
        head=[b - 1 for _, b in ends], edge_ids=[f"{a}-{b}" for a, b in ends],
        attributes={"length": np.ones(E), "free_speed": np.ones(E), "lanes": np.ones(E), "capacity": cap,
                    "free_flow_time": fft},
        units={"length": "km", "free_speed": "km/min", "free_flow_time": "min", "capacity": "veh/h"},
        zone_count=4, extra={"b": np.full(E, 0.15), "power": np.full(E, 4.0)})


def _counts_of(net, flows, edges, begin=0.0, end=3600.0):
    idx = net.edge_index
    return [dict(location=e, kind="edge", edges=(e,), begin_s=begin, end_s=end,
                 count_veh=float(flows[idx[e]]) * (end - begin) / 3600.0, source=f"test:{i}")
            for i, e in enumerate(edges)]


def _zones(flows):
    return mb.ODMatrix(np.array(["1", "2", "3", "4"], dtype=object), flows)


@pytest.mark.parametrize("method", ["gp", "bfw"])
def test_counts_that_determine_the_matrix_give_it_back(method):
    net = _hub()
    truth = np.zeros((4, 4))
    truth[0, 3], truth[1, 3], truth[2, 3] = 300.0, 450.0, 200.0
    x = mb.assign(net, _zones(truth), rgap=1e-10).flow.values
    assert x[net.edge_index["5-6"]] > 0 and x[net.edge_index["5-7"]] > 0  # both routes used: congestion matters
    # each connector's count is one pair's demand; the two parallel links split by equilibrium
    counts = counts_from_rows(_counts_of(net, x, ["1-5", "2-5", "3-5", "5-6", "6-4"]))
    seed = truth * np.array([[1, 1, 1, 1.5], [1, 1, 1, 0.6], [1, 1, 1, 1.3], [1, 1, 1, 1]])
    ds = estimate_od(net, counts, _zones(seed), method=method, regularisation=1e-9, rgap=1e-10, tol=1e-14,
                     max_outer=40)
    est = ds.demand.values[0]
    np.testing.assert_allclose(est[:3, 3], truth[:3, 3], rtol=1e-5)
    assert est.sum() == pytest.approx(truth.sum(), rel=1e-5)
    assert ds.attrs["fitted_share_geh5"] == 1.0 and ds.attrs["fitted_mean_geh"] < 1e-2


def test_turn_counts_and_periods():
    net = _hub()
    truth = np.zeros((4, 4))
    truth[0, 3], truth[1, 3], truth[2, 3] = 300.0, 450.0, 200.0
    rows = []
    for k, scale in enumerate((1.0, 0.5)):  # two quarter-hour periods with different demand
        x = mb.assign(net, _zones(truth * scale), rgap=1e-10).flow.values
        b, e = 900.0 * k, 900.0 * (k + 1)
        rows += _counts_of(net, x, ["1-5", "2-5", "3-5"], b, e)
        rows.append(dict(location="5-6>6-4", kind="turn", edges=("5-6", "6-4"), begin_s=b, end_s=e,
                         count_veh=float(x[net.edge_index["5-6"]]) / 4, source="test:turn"))
    ds = estimate_od(net, counts_from_rows(rows), _zones(truth * 0.8), regularisation=1e-9, rgap=1e-10, tol=1e-14,
                     max_outer=40)
    assert ds.sizes["period"] == 2
    np.testing.assert_allclose(ds.demand.values[0][:3, 3], truth[:3, 3], rtol=1e-5)
    np.testing.assert_allclose(ds.demand.values[1][:3, 3], truth[:3, 3] * 0.5, rtol=1e-5)
    turn = ds.modelled.values[ds.kind.values == "turn"]
    assert np.all(geh(turn, ds.observed.values[ds.kind.values == "turn"]) < 1e-2)


@pytest.mark.parametrize("method", ["gp", "bfw"])
def test_counts_from_a_known_matrix_are_reproduced(method):
    folder = shared_path("tntp", "SiouxFalls")
    net = mb.network_from_tntp(folder / "SiouxFalls_net.tntp")
    od = mb.od_from_tntp(folder / "SiouxFalls_trips.tntp")
    x = mb.assign(net, od, rgap=1e-9).flow.values
    counts = counts_from_rows(_counts_of(net, x, list(net.edge_ids)))
    rng = np.random.default_rng(5)
    seed = mb.ODMatrix(od.zone_ids, od.flows * rng.uniform(0.5, 1.5, od.flows.shape))
    ds = estimate_od(net, counts, seed, method=method, rgap=1e-6)
    g = ds.geh.values
    assert g.size == net.n_edges and g.max() < 1.0, f"worst GEH {g.max():.2f} at {ds.location.values[g.argmax()]}"
    # and the fit report agrees with the GEH it holds
    assert ds.attrs["fitted_share_geh5"] == 1.0 and ds.attrs["held_out_n"] == 0


def test_held_out_locations_are_never_fitted():
    net = _hub()
    truth = np.zeros((4, 4))
    truth[0, 3], truth[1, 3], truth[2, 3] = 300.0, 450.0, 200.0
    x = mb.assign(net, _zones(truth), rgap=1e-10).flow.values
    edges = ["1-5", "2-5", "3-5", "5-6", "6-4", "5-7", "7-4"]
    counts = counts_from_rows(_counts_of(net, x, edges))
    fit, held = counts.split(0.3, seed=4)
    assert len(held) == 2 and not set(fit.locations) & set(held.locations)
    assert counts.split(0.3, seed=4)[1].locations == held.locations  # the draw is the seed's
    wrong = counts_from_rows([{**r, "count_veh": r["count_veh"] * 3 if r["location"] in held.locations else r["count_veh"]}
                              for r in _counts_of(net, x, edges)])
    ds = estimate_od(net, wrong, _zones(truth), regularisation=1e-3, holdout=0.3, holdout_seed=4)
    # tripled counts at the held-out locations do not move the estimate, and show up as misfits there
    np.testing.assert_allclose(ds.demand.values[0][:3, 3], truth[:3, 3], rtol=1e-3)
    assert ds.attrs["held_out_share_geh5"] == 0.0 and ds.attrs["fitted_share_geh5"] == 1.0


# ---- readers -------------------------------------------------------------------------------------------
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_edge_data_e1_and_csv_readers(tmp_path):
    net = _hub()
    ed = _write(tmp_path, "ed.xml", """<meandata>
  <interval begin="0" end="900" id="a">
    <edge id="1-5" entered="30" speed="12.5"/>
    <edge id="2-5" sampledSeconds="3"/>
    <edgeRelation from="5-6" to="6-4" count="7"/>
  </interval>
  <interval begin="900" end="1800" id="a"><edge id="1-5" entered="20"/></interval>
</meandata>""")
    defs = _write(tmp_path, "det.add.xml", """<additional>
  <inductionLoop id="d1" lane="5-7_0" pos="10" period="900" file="e1.xml"/>
</additional>""")
    e1 = _write(tmp_path, "e1.xml", """<detector>
  <interval begin="0" end="900" id="d1" nVehContrib="11" flow="44" speed="9.0"/>
</detector>""")
    table = _write(tmp_path, "c.csv", "location,begin_s,end_s,count_veh,speed_m_s\n3-5,0,900,5,\n1-5>5-6,0,900,4,8\n")
    c = read_counts([ed, defs, e1, table], net)
    got = {(loc, b): (k, n) for loc, k, b, n in zip(c.location, c.kind, c.begin_s, c.count_veh)}
    assert got == {("1-5", 0): ("edge", 30), ("1-5", 900): ("edge", 20), ("5-6>6-4", 0): ("turn", 7),
                   ("d1", 0): ("detector", 11), ("3-5", 0): ("edge", 5), ("1-5>5-6", 0): ("turn", 4)}
    assert c.edges[c.location.index("d1")] == ("5-7",)
    assert c.flow_veh_h[c.location.index("d1")] == pytest.approx(44.0)
    assert c.speed_m_s[0] == 12.5 and np.isnan(c.speed_m_s[c.location.index("3-5")])


@pytest.mark.parametrize(("name", "text", "message"), [
    ("neg.csv", "location,begin_s,end_s,count_veh\n1-5,0,900,-3\n", "neg.csv:2: location '1-5': negative count"),
    ("unk.csv", "location,begin_s,end_s,count_veh\n1-5,0,900,3\n9-9,0,900,3\n", "unk.csv:3: location '9-9': edge '9-9' is not in network"),
    ("ovl.csv", "location,begin_s,end_s,count_veh\n1-5,0,900,3\n1-5,600,1200,3\n", "ovl.csv:3: location '1-5': interval [600, 1200) overlaps [0, 900)"),
    ("turn.csv", "location,begin_s,end_s,count_veh\n1-5>6-4,0,900,3\n", "turn.csv:2: location '1-5>6-4': edge '6-4' does not follow '1-5'"),
    ("empty.csv", "location,begin_s,end_s,count_veh\n", "empty.csv: the table has a header but no rows"),
    ("nan.csv", "location,begin_s,end_s,count_veh\n1-5,0,900,nan\n", "nan.csv:2: location '1-5': count_veh='nan' is not finite"),
    ("back.csv", "location,begin_s,end_s,count_veh\n1-5,900,0,1\n", "back.csv:2: location '1-5': the interval [900, 0) is empty"),
    ("none.xml", "<data><interval begin='0' end='60'></interval></data>", "none.xml: no counts in the file"),
    ("bad.xml", "<data><interval begin='0' end='60'>\n<edge id='1-5' entered='3'></data>", "bad.xml:2: not well-formed XML"),
    ("e1.xml", "<detector><interval begin='0' end='60' id='dx' nVehContrib='3'/></detector>",
     "detector 'dx' is not defined in the loop definitions; give the <additional> file"),
    ("net.xml", "<net version='1'/>", "net.xml:1: <net> is not a count file"),
    ("ent.xml", "<!DOCTYPE d [<!ENTITY a 'x'>]><data/>", "ent.xml:1: XML entity declarations are not accepted"),
])
def test_bad_count_files_name_file_line_and_location(tmp_path, name, text, message):
    p = _write(tmp_path, name, text)
    with pytest.raises(CountsError) as err:
        read_counts(p, _hub())
    assert message in str(err.value)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


# ---- route flows and the SUMO check ------------------------------------------------------------------------
def test_route_flow_lp_recovers_flows_the_counts_determine():
    import scipy.sparse as sp

    from optimise.route_flows import route_flows

    # routes a-b, a-c, d-c over counted edges a, b, c, d: counts fix every route flow
    A = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=float))
    truth = np.array([30.0, 12.0, 7.0])
    res = route_flows(A, A @ truth, np.array([10.0, 10.0, 10.0]), regularisation=1e-3)
    assert res.status == "OPTIMAL"
    np.testing.assert_allclose(res.flows, truth, atol=1e-6)
    # counts that contradict each other: a = 30 but b = 20 and a-c routes must pass c = 0 -> residual stays
    bad = route_flows(A, np.array([30.0, 20.0, 0.0, 0.0]), np.zeros(3), regularisation=0.0)
    assert bad.modelled[0] == pytest.approx(20.0, abs=1e-6)


def _short_grid(tmp_path, end_s=1800.0):
    sc = mb.load_scenario("scenarios/signal_control/grid3x3.yaml")
    return sc.model_copy(update={"end_s": end_s, "outputs": sc.outputs.model_copy(update={"interval_s": 900.0})})


def test_routes_calibration_fits_counts_in_sumo(tmp_path):
    from mobility.calibration.routes import _run, calibrate_routes, read_vehroutes, routes_scenario, simulated_counts

    sc = _short_grid(tmp_path)
    net = mb.load_network(sc.network)
    truth, truth_dir = _run(sc, 1, tmp_path / "truth")
    counts = read_counts(truth_dir / "edgedata.xml", net)
    # our own count of the truth run agrees with SUMO's edge data at every edge and interval
    np.testing.assert_array_equal(simulated_counts(truth, counts), counts.count_veh)
    # start from the truth's routes at half their flow: every fitted count is far off (GEH > 5 where busy)
    routes = list(dict.fromkeys(t.edges for t in truth))
    bins = np.array([0.0, 900.0, 1800.0])
    x = np.zeros(len(routes) * 2)
    for t in truth:
        x[routes.index(t.edges) * 2 + int(t.depart // 900)] += 0.5
    start = routes_scenario(sc, routes, bins, x)
    cal, ds = calibrate_routes(start, counts, network=net, holdout=0.2, holdout_seed=1, iterations=2, seed=2,
                               workdir=tmp_path / "cal")
    assert ds.attrs["seed_fitted_share_geh5"] < 0.9
    assert ds.attrs["fitted_share_geh5"] >= 0.95, mb.calibration.format_fit(ds)
    # the report's simulated counts are the calibrated scenario's own, re-read from its SUMO run's routes
    best = Path(ds.attrs["best_run_dir"]) / "calibration-vehroutes.xml"
    np.testing.assert_allclose(ds.simulated.values, simulated_counts(read_vehroutes(best), counts) * 4.0)
    # the calibrated scenario is a plain routes scenario that saves and loads back
    from mobility.scenario import save_scenario

    path = save_scenario(cal, tmp_path / "cal.yaml")
    again = mb.load_scenario(path)
    assert again.demand.kind == "routes" and len(again.demand.flows) == len(cal.demand.flows)
    assert again.network.resolve() == cal.network.resolve()


def test_count_no_route_reaches_is_an_error(tmp_path):
    from mobility.calibration.routes import _unreached

    c = counts_from_rows([dict(location="x", kind="edge", edges=("x",), begin_s=0, end_s=60, count_veh=3,
                               source="c.csv:2")])
    with pytest.raises(CountsError, match="c.csv:2: location 'x': no route from the scenario's origins to its destinations"):
        _unreached(c, [("a", "b")])


def test_tntp_trips_round_trip(tmp_path):
    from mobility.tntp import write_tntp_trips

    flows = np.array([[0, 1.5, 0], [2.25, 0, 3], [0, 0, 0]])
    od = mb.ODMatrix(np.array(["1", "2", "3"], dtype=object), flows)
    back = mb.od_from_tntp(write_tntp_trips(od, tmp_path / "t_trips.tntp"))
    np.testing.assert_allclose(back.flows, flows)


def test_calibrate_cli_on_tntp(tmp_path):
    import subprocess
    import sys

    folder = shared_path("tntp", "SiouxFalls")
    net = mb.network_from_tntp(folder / "SiouxFalls_net.tntp")
    od = mb.od_from_tntp(folder / "SiouxFalls_trips.tntp")
    x = mb.assign(net, od, rgap=1e-8).flow.values
    table = tmp_path / "c.csv"
    table.write_text("location,begin_s,end_s,count_veh\n" + "".join(f"{e},0,3600,{v:.3f}\n" for e, v in zip(net.edge_ids, x)))
    out = tmp_path / "est_trips.tntp"
    cmd = [sys.executable, "-m", "mobility.cli", "calibrate", str(folder / "SiouxFalls_net.tntp"), "--method", "odme",
           "--trips", str(folder / "SiouxFalls_trips.tntp"), "--counts", str(table), "-o", str(out),
           "--holdout", "0.2", "--seed", "3", "--report", str(tmp_path / "r.nc"), "--plot", str(tmp_path / "f.png"), "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "| fitted | 61 | 100.0%" in res.stdout and "| held out | 15 |" in res.stdout
    est = mb.od_from_tntp(out)
    assert est.flows.sum() == pytest.approx(od.flows.sum(), rel=0.02)
    assert (tmp_path / "f.png").stat().st_size > 0
    # a bad count file: one line, exit code 2, nothing written
    table.write_text("location,begin_s,end_s,count_veh\n1,0,3600,-5\n")
    out.unlink()
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2 and "c.csv:2: location '1': negative count" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


def test_counted_edges_no_route_passes_get_a_route_through_them():
    from mobility.access import check_route
    from mobility.calibration.routes import _cover

    net = mb.load_network("networks/grid3x3.net.xml")
    routes = [("left0A0", "A0B0", "B0C0", "C0right0")]
    c = counts_from_rows([dict(location="B1B2", kind="edge", edges=("B1B2",), begin_s=0, end_s=60, count_veh=3,
                               source="c:1"),
                          dict(location="A0B0", kind="edge", edges=("A0B0",), begin_s=0, end_s=60, count_veh=3,
                               source="c:2")])
    new = _cover(net, routes, c)
    assert len(new) == 1 and "B1B2" in new[0]
    assert new[0][0] == "left0A0" and new[0][-1] == "C0right0" and check_route(net, new[0]) is None


@pytest.mark.parametrize("body", [
    '<meandata><interval begin="0" end="300"><edge id="B1C1" entered="10" speed="fast"/></interval></meandata>',
    '<detector><interval begin="0" end="300" id="d0" nVehContrib="4" speed="n/a"/></detector>',
])
def test_a_speed_that_is_not_a_number_is_refused_on_one_line(tmp_path, body) -> None:
    from .conftest import ROOT

    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    path = tmp_path / "counts.xml"
    path.write_text(body)
    loops = tmp_path / "loops.add.xml"
    loops.write_text('<additional><inductionLoop id="d0" lane="B1C1_0" pos="10" period="300" file="x.xml"/>'
                     '</additional>')
    with pytest.raises(CountsError) as err:
        read_counts([path, loops], net)
    msg = str(err.value)
    assert "\n" not in msg and f"{path}:1" in msg and "speed=" in msg and "not a number" in msg, msg


def test_an_edge_count_includes_the_vehicles_departing_on_it(tmp_path):
    """A loop on an edge counts every vehicle passing it, those whose trip starts there too: edge data gives
    entered + departed, and the calibration's own count of a run (and its route incidence) does the same."""
    from mobility.calibration.routes import Trip, _incidence, simulated_counts

    ed = _write(tmp_path, "ed.xml", """<meandata>
  <interval begin="0" end="900"><edge id="1-5" entered="30" departed="4"/><edge id="5-6" entered="9"/></interval>
</meandata>""")
    c = read_counts(ed, _hub())
    assert dict(zip(c.location, c.count_veh)) == {"1-5": 34, "5-6": 9}
    trips = [Trip(10.0, ("1-5", "5-6"), np.array([10.0, 40.0])),     # departs on 1-5: counted there
             Trip(20.0, ("3-5", "5-6"), np.array([20.0, 50.0])),
             Trip(30.0, ("0-1", "1-5"), np.array([30.0, 60.0]))]     # enters 1-5
    counts = counts_from_rows([dict(location=e, kind="edge", edges=(e,), begin_s=0.0, end_s=900.0, count_veh=1.0,
                                    speed_m_s=np.nan, source="t") for e in ("1-5", "5-6")])
    np.testing.assert_array_equal(simulated_counts(trips, counts), [2.0, 2.0])
    A = _incidence([t.edges for t in trips], [t.entered - t.depart for t in trips], np.array([0.0, 900.0]), counts)
    # departures spread over [0, 900): a route reaching the edge 30 s after departing passes it within the count's
    # interval 870 / 900 of the time; one departing on it, always
    s = 870.0 / 900.0
    np.testing.assert_allclose(A.toarray(), [[1.0, 0.0, s], [s, s, 0.0]])


def test_routes_calibration_runs_sumo_through_the_executor(tmp_path):
    """Its SUMO runs are the executor's: run again in the same folder, a calibration reuses the finished runs
    (same report, SUMO not started again); a run past its time limit is stopped and named."""
    from mobility.calibration.routes import _run, calibrate_routes

    sc = _short_grid(tmp_path, end_s=900.0)
    net = mb.load_network(sc.network)
    truth, truth_dir = _run(sc, 1, tmp_path / "truth")
    counts = read_counts(truth_dir / "edgedata.xml", net)
    kw = dict(network=net, iterations=1, seed=2, workdir=tmp_path / "cal")
    _, first = calibrate_routes(sc, counts, **kw)
    results = sorted((tmp_path / "cal").glob("*/run-*/result.nc"))
    assert len(results) == 2           # the seed run and the check
    stamps = [p.stat().st_mtime_ns for p in results]
    _, again = calibrate_routes(sc, counts, **kw)
    assert [p.stat().st_mtime_ns for p in results] == stamps
    np.testing.assert_array_equal(again["simulated"].values, first["simulated"].values)
    with pytest.raises(mb.SimulationError, match="calibration run of .*time limit"):
        calibrate_routes(sc, counts, network=net, iterations=1, workdir=tmp_path / "slow", time_limit_s=0.05,
                         retries=0)


def test_calibrate_dispatches_and_names_a_wrong_method(tmp_path):
    """mb.calibrate picks the method from what it is given and refuses the other, naming the fix."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "signal_control" / "grid3x3.yaml"
    with pytest.raises(mb.InputError, match="method odme works on zone networks"):
        mb.calibrate(path, [], method="odme")
    with pytest.raises(mb.InputError, match="choose routes or odme"):
        mb.calibrate(path, [], method="spline")
    with pytest.raises(mb.InputError, match="not found"):
        mb.calibrate(tmp_path / "missing.yaml", [])
