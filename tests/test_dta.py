"""The dynamic traffic engine against known answers: a bottleneck's queue as kinematic wave theory gives it,
vehicles conserved at every step, a two-route equilibrium that equalises experienced travel times, incidents
and diversions doing what they say."""

from __future__ import annotations

import numpy as np
import pytest

import mobility as mb
from mobility.dta import Diversion, DynamicDemand, Incident, demand_from_od, demand_from_scenario, dta
from mobility.network import build_network

from .conftest import ROOT


def _net(edges: list[tuple[int, int, float, float, int, float]], n_nodes: int) -> mb.RoadNetwork:
    """A metric network from ``(tail, head, length m, speed m/s, lanes, capacity veh/h)`` rows."""
    return build_network(
        name="t", source="test", node_ids=[f"n{i}" for i in range(n_nodes)],
        tail=[e[0] for e in edges], head=[e[1] for e in edges], edge_ids=[f"e{k}" for k in range(len(edges))],
        attributes={"length": [e[2] for e in edges], "free_speed": [e[3] for e in edges],
                    "lanes": [float(e[4]) for e in edges], "capacity": [e[5] for e in edges],
                    "free_flow_time": [e[2] / e[3] for e in edges]},
        units={"length": "m", "free_speed": "m/s", "lanes": "1", "capacity": "veh/h", "free_flow_time": "s"},
        node_x=np.arange(n_nodes, dtype=float) * 1000.0, node_y=np.zeros(n_nodes))


def _demand(net: mb.RoadNetwork, o: str, d: str, rates: list[float], interval_s: float = 300.0) -> DynamicDemand:
    return DynamicDemand([[net.edge(o)]], [[net.edge(d)]], np.array([rates], dtype=float), 0.0, interval_s, [f"{o}>{d}"])


def test_a_bottleneck_queues_and_discharges_as_kinematic_wave_theory_says() -> None:
    # approach (2 lanes, 3600 veh/h, 2 km), bottleneck (1 lane, 1800 veh/h, 500 m), exit road
    net = _net([(0, 1, 2000.0, 20.0, 2, 3600.0), (1, 2, 500.0, 20.0, 1, 1800.0), (2, 3, 1000.0, 20.0, 2, 3600.0)], 4)
    demand = _demand(net, "e0", "e2", [3000.0, 3000.0])          # 500 vehicles over 10 minutes
    ds = dta(net, demand, method="dnl", dt=1.0, interval_s=10.0, packet_veh=1.0, horizon_s=3600.0)
    fft = np.array([100.0, 25.0, 50.0])
    n, cap_b = 500.0, 1800.0 / 3600.0
    # the bottleneck passes 0.5 veh/s from the moment the first vehicles reach it; the queue ahead of it grows
    # at 3000 - 1800 = 1200 veh/h for 10 minutes (200 vehicles) and the last vehicle passes n / cap_b later
    last_passes = fft[0] + n / cap_b
    entered_b = np.cumsum(ds["inflow_veh_h"].sel(edge="e1").values) * 10.0 / 3600.0
    t = ds["time"].values + 10.0
    t_done = t[np.argmax(entered_b >= n - 1e-6)]
    assert abs(t_done - last_passes) <= 10.0 + 2.0             # one output interval (10 s), a packet
    rate = np.diff(entered_b)[(t[1:] > fft[0] + 60) & (t[1:] < last_passes - 60)] / 10.0
    assert np.allclose(rate, cap_b, atol=0.05)                 # discharge at capacity throughout
    queue = ds["vehicles"].sel(edge="e0").values - 3000.0 / 3600.0 * fft[0] * (t <= 600 + fft[0])
    peak = t[np.argmax(queue)]
    assert abs(queue.max() - 200.0) <= 12.0 and abs(peak - (600.0 + fft[0])) <= 30.0
    assert ds.attrs["arrived_veh"] == pytest.approx(n) and ds.attrs["conservation_error"] < 1e-9
    # no queue before the first vehicles reach the bottleneck
    assert np.all(ds["vehicles"].sel(edge="e0").values[t <= fft[0]] <= 3000.0 / 3600.0 * fft[0] + 1.0)


def test_packets_follow_the_continuous_link_transmission_model_through_a_merge_and_a_spill_back() -> None:
    # two roads merge (1 and 2 lanes), a 2-lane road, a 1-lane bottleneck whose capacity halves for five
    # minutes, an exit road: the queue spills back through the merge, which shares the supply by capacity
    from numba_kernels.reference import ltm_merge_tree

    from mobility.dta import JAM_DENSITY_VEH_KM, _kernel_network

    net = _net([(0, 2, 600.0, 15.0, 1, 1800.0), (1, 2, 800.0, 20.0, 2, 3600.0), (2, 3, 1000.0, 20.0, 2, 3600.0),
                (3, 4, 400.0, 20.0, 1, 1800.0), (4, 5, 500.0, 20.0, 2, 3600.0)], 6)
    ra, rb = [900.0] * 20 + [0.0] * 10, [1500.0] * 10 + [2500.0] * 10 + [0.0] * 10
    demand = DynamicDemand([[0], [1]], [[4], [4]], np.array([ra, rb]), 0.0, 60.0, ["a", "b"])
    packet = 0.5
    ds = dta(net, demand, method="dnl", dt=1.0, interval_s=1.0, packet_veh=packet, horizon_s=3600.0,
             incidents=[Incident("e3", 600.0, 900.0, 0.5)])
    U = np.cumsum(ds["inflow_veh_h"].values / 3600.0, axis=0)
    D = np.cumsum(ds["outflow_veh_h"].values / 3600.0, axis=0)
    kn = _kernel_network(net, JAM_DENSITY_VEH_KM, None, "ltm")
    per_s = [np.repeat(np.array(ra) / 3600.0, 60), np.repeat(np.array(rb) / 3600.0, 60), [], [], []]
    Ur, Dr, _ = ltm_merge_tree([2, 2, 3, 4, -1], kn["length"], kn["vf"], kn["cap"], kn["kj"], per_s, 1.0,
                               U.shape[0], drops=[(3, 600.0, 900.0, 0.5)])
    assert (Ur - Dr)[:, 0].max() > 50 and (Ur - Dr)[:, 2].max() > 200     # the queue did reach the merge
    # cumulative counts at every link's entry and exit, every second, within four packets of the reference
    assert np.abs(U - Ur[1:]).max() <= 4 * packet and np.abs(D - Dr[1:]).max() <= 4 * packet


def test_vehicles_are_conserved_at_every_step_on_a_signalised_grid() -> None:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml").model_copy(update={"end_s": 1800.0})
    net = mb.load_network(sc.network)
    d = demand_from_scenario(sc, net, interval_s=300.0)
    ds = dta(net, d, method="dnl", packet_veh=2.0, horizon_s=3600.0)
    bal = ds["balance_departed"] - ds["balance_on_edges"] - ds["balance_waiting"] - ds["balance_arrived"]
    assert float(np.abs(bal).max()) < 1e-6
    assert float(ds["balance_departed"][-1]) == pytest.approx(d.total_veh())
    assert float(ds["balance_arrived"][-1]) == pytest.approx(d.total_veh(), rel=1e-9)  # all out within the hour
    assert (ds["travel_time_s"].fillna(1e9) >= 0).all()
    # the loading does not depend on measuring its gap
    quick = dta(net, d, method="dnl", packet_veh=2.0, horizon_s=3600.0, measure_gap=False)
    np.testing.assert_array_equal(quick["inflow_veh_h"].values, ds["inflow_veh_h"].values)
    assert np.isnan(float(quick["gap"][-1])) and np.isfinite(float(ds["gap"][-1]))


def test_a_fixed_time_signal_delays_as_deterministic_queueing_says() -> None:
    # corridor5's first signal, straight on from the west: uniform arrivals at q below the saturation flow s
    # wait on average r^2 / (2 C (1 - q / s)) (red r in a cycle C), and the phases hold the program's greens
    from mobility.dta import JAM_DENSITY_VEH_KM, _kernel_network, signal_green_shares, signal_states

    net = mb.load_network(ROOT / "networks" / "corridor5.net.xml")
    a, b = net.edge("W_J1"), net.edge("J1_J2")
    state = signal_states(net)[(a, b)]
    assert set(np.unique(state)) == {0.0, 1.0} and state.mean() == pytest.approx(signal_green_shares(net)[(a, b)],
                                                                                 abs=1.0 / len(state))
    kn = _kernel_network(net, JAM_DENSITY_VEH_KM, None)
    fft = kn["length"][a] / kn["vf"][a] + kn["length"][b] / kn["vf"][b]
    cycle, red, sat = len(state), float((state == 0).sum()), kn["cap"][a]
    for q_h in (300.0, 900.0):
        demand = DynamicDemand([[a]], [[b]], np.array([[q_h] * 12]), 0.0, 300.0, ["x"])
        ds = dta(net, demand, method="dnl", dt=1.0, interval_s=60.0, packet_veh=0.5, horizon_s=4000.0)
        delay = ds["route_time_s"].values[2:10, 0].mean() - fft             # whole cycles of steady arrivals
        expected = red ** 2 / (2 * cycle * (1 - q_h / 3600.0 / sat))
        assert abs(delay - expected) <= 2.0                                  # two steps: packets move at step ends
    cycle_average = dta(net, demand, method="dnl", dt=1.0, interval_s=60.0, packet_veh=0.5, horizon_s=4000.0,
                        signals="average")
    assert cycle_average["route_time_s"].values[2:10, 0].mean() - fft < 2.0  # no delay below the mean capacity


def test_a_scenarios_own_route_files_become_dynamic_demand(tmp_path) -> None:
    rou = tmp_path / "city.rou.xml"
    rou.write_text("""<routes>
  <vType id="car"/>
  <route id="through" edges="W_J1 J1_J2 J2_J3"/>
  <vehicle id="a" depart="10" route="through"/>
  <vehicle id="b" depart="20"><route edges="W_J1 J1_J2 J2_J3"/></vehicle>
  <trip id="c" depart="700" from="N1_J1" to="J1_S1"/>
  <flow id="f" begin="0" end="1200" number="60" from="E_J5" to="J1_W"/>
  <vehicle id="late" depart="5000" route="through"/>
</routes>
""")
    spec = {"name": "own", "network": str(ROOT / "networks" / "corridor5.net.xml"), "begin_s": 0, "end_s": 1800,
            "seed": 1, "demand": {"kind": "files", "files": [str(rou)]}}
    sc = mb.Scenario.model_validate(spec)
    net = mb.load_network(sc.network)
    d = demand_from_scenario(sc, net, interval_s=300.0)
    assert d.total_veh() == pytest.approx(63.0)                 # a, b, c and the flow's 60; "late" is outside
    through = [i for i, r in d.fixed_routes.items() if list(r) == [net.edge(x) for x in ("W_J1", "J1_J2", "J2_J3")]]
    assert len(through) == 1 and d.rates[through[0]].sum() * 300.0 / 3600.0 == pytest.approx(2.0)
    flow = d.labels.index("E_J5>J1_W")
    assert d.rates[flow][:4] * 300.0 / 3600.0 == pytest.approx([15.0] * 4)  # 60 over 20 minutes
    ds = dta(net, d, method="dnl", horizon_s=3600.0)
    assert ds.attrs["arrived_veh"] == pytest.approx(63.0)


def test_two_routes_in_equilibrium_take_equal_times() -> None:
    # o -> d directly (quicker at free flow, one lane) or round a longer two-lane detour
    net = _net([(0, 1, 200.0, 15.0, 2, 3600.0), (1, 4, 1500.0, 25.0, 1, 1500.0), (1, 2, 800.0, 25.0, 2, 3600.0),
                (2, 3, 800.0, 25.0, 2, 3600.0), (3, 4, 400.0, 25.0, 2, 3600.0), (4, 5, 200.0, 15.0, 2, 3600.0)], 6)
    demand = _demand(net, "e0", "e5", [2400.0] * 6)            # more than the direct road carries
    ds = dta(net, demand, method="due", gap=0.01, max_iter=80, dt=1.0, interval_s=60.0, packet_veh=1.0)
    assert ds["gap"].values[-1] < 0.01
    flows = ds["route_flow_veh"].isel(departure=slice(1, 5)).sum("departure").values
    times = ds["route_time_s"].isel(departure=slice(1, 5)).values
    used = flows > 0.05 * flows.sum()
    assert used.sum() == 2                                      # both routes carry traffic
    for row, f in zip(times, ds["route_flow_veh"].isel(departure=slice(1, 5)).values, strict=True):
        t = row[f > 1.0]
        assert t.max() / t.min() < 1.06                          # experienced times equal within 6%


def test_an_incident_queues_while_it_lasts_and_a_diversion_moves_its_share() -> None:
    net = _net([(0, 1, 200.0, 15.0, 2, 3600.0), (1, 4, 1500.0, 25.0, 2, 3600.0), (1, 2, 800.0, 25.0, 2, 3600.0),
                (2, 3, 800.0, 25.0, 2, 3600.0), (3, 4, 400.0, 25.0, 2, 3600.0), (4, 5, 200.0, 15.0, 2, 3600.0)], 6)
    demand = _demand(net, "e0", "e5", [2000.0] * 6)
    base = dta(net, demand, method="dnl", interval_s=60.0)
    hit = dta(net, demand, method="dnl", interval_s=60.0, incidents=[Incident("e1", 300.0, 1200.0, 0.25)])
    q_base = base["vehicles"].sel(edge="e1").values
    q_hit = hit["vehicles"].sel(edge="e1").values
    t = hit["time"].values
    assert q_hit[(t > 900) & (t < 1200)].mean() > 2 * q_base[(t > 900) & (t < 1200)].mean()
    assert float(hit["balance_arrived"][-1]) == pytest.approx(float(base["balance_arrived"][-1]))  # all get through
    # half of those reaching e0's end during the diversion take the detour (e2, e3, e4)
    div = dta(net, demand, method="dnl", interval_s=60.0, diversions=[Diversion("e0", ("e1",), 0.5, 0.0, 1800.0)])
    detour = float(div["inflow_veh_h"].sel(edge="e2").sum()) * 60.0 / 3600.0
    direct = float(div["inflow_veh_h"].sel(edge="e1").sum()) * 60.0 / 3600.0
    assert detour == pytest.approx(direct, rel=0.05) and detour + direct == pytest.approx(demand.total_veh(), rel=1e-6)


def test_bad_engine_input_is_refused() -> None:
    net = _net([(0, 1, 200.0, 15.0, 2, 3600.0), (1, 2, 200.0, 15.0, 2, 3600.0)], 3)
    demand = _demand(net, "e0", "e1", [100.0])
    for kw, match in [({"dt": 0.0}, "dt"), ({"method": "magic"}, "method"), ({"gap": -1.0}, "gap"),
                      ({"incidents": [Incident("nope", 0, 10, 0.5)]}, "unknown edge"),
                      ({"incidents": [Incident("e0", 10, 0, 0.5)]}, "end_s"),
                      ({"horizon_s": 10.0}, "horizon_s")]:
        with pytest.raises(mb.InputError, match=match):
            dta(net, demand, **kw)
    back = DynamicDemand([[1]], [[0]], np.array([[100.0]]), 0.0, 300.0, ["e1>e0"])
    with pytest.raises(mb.DemandError, match="no route"):
        dta(net, back)


def test_cli_dta_writes_results_and_a_space_time_plot(tmp_path) -> None:
    from typer.testing import CliRunner

    from mobility.cli import app

    scen = ROOT / "scenarios" / "signal_control" / "corridor5.yaml"
    r = CliRunner().invoke(app, ["dta", str(scen), "--method", "dnl", "-o", str(tmp_path / "d.nc"),
                                 "--plot", str(tmp_path / "d.png"), "--map", str(tmp_path / "m.png"), "-q"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.png").stat().st_size > 10_000
    ds = mb.load_results(tmp_path / "d.nc")
    assert {"inflow_veh_h", "density_veh_km", "travel_time_s", "route_flow_veh", "gap"} <= set(ds.data_vars)
    assert ds["density_veh_km"].attrs["units"] == "veh/km" and "toolkit_version" in ds.attrs
    assert (tmp_path / "d.png").stat().st_size > 10_000
    r = CliRunner().invoke(app, ["dta", str(scen), "--trips", "x.tntp"])
    assert r.exit_code == 2 and "TNTP" in r.output
    r = CliRunner().invoke(app, ["dta", str(scen), "--method", "dnl", "--map", str(tmp_path / "m2.png"), "--at", "1e7"])
    assert r.exit_code == 2 and "--at" in r.output and not (tmp_path / "m2.png").exists()
    with pytest.raises(mb.InputError, match="route edges"):
        mb.plot_space_time(ds, ["nope"])


def test_a_stationary_run_with_pooled_packets_nears_the_static_equilibrium_on_sioux_falls() -> None:
    # delay-function links and stationary demand: the dynamic equilibrium's flows near the static one; most
    # route flows here are below a packet an interval, so it also checks that pooled packets cost their routes
    # in every interval they carry
    from .conftest import shared_path

    folder = shared_path("tntp", "SiouxFalls")
    net = mb.network_from_tntp(folder / "SiouxFalls_net.tntp")
    demand = demand_from_od(net, mb.od_from_tntp(folder / "SiouxFalls_trips.tntp"), horizon_s=3 * 3600.0,
                            interval_s=900.0)
    ds = dta(net, demand, method="due", link_model="bpr", gap=1e-4, max_iter=25, dt=5.0, interval_s=900.0,
             packet_veh=20.0)
    assert ds["gap"].values[-1] < 0.05
    f, t, v, _ = mb.read_tntp_flows(folder / "SiouxFalls_flow.tntp")
    index = {(int(net.node_ids[a]), int(net.node_ids[b])): k for k, (a, b) in enumerate(zip(net.tail, net.head))}
    ref = np.zeros(net.n_edges)
    for fi, ti, vi in zip(f, t, v, strict=True):
        ref[index[(int(fi), int(ti))]] = vi
    inflow = ds["inflow_veh_h"].values[6:11].mean(axis=0)   # after 1.5 h of filling, before the end
    assert float(np.mean(np.abs(inflow - ref) / ref)) < 0.08
