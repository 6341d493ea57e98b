"""Incidents as data: the file checked against the network and the scenario, a closure in the dynamic engine
against deterministic queueing, and closures in SUMO that its routing respects."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import mobility as mb
from mobility._errors import InputError
from mobility.dta import dta
from mobility.incident import IncidentSpec, dta_incidents, incident_gates, load_incident, with_incident
from mobility.incident.response import ResponsePlan, check_response, response_to_dta
from mobility.incident.simulate import affected_edges, incident_kpis, run_incident

from .conftest import ROOT
from .test_dta import _demand, _net


def test_a_full_closure_delays_every_vehicle_behind_it_by_the_closure_and_the_queues_discharge() -> None:
    # one road: approach (500 m), the incident site (20 m), exit (500 m); 900 veh/h against 1800 veh/h
    net = _net([(0, 1, 500.0, 20.0, 1, 1800.0), (1, 2, 20.0, 20.0, 1, 1800.0), (2, 3, 500.0, 20.0, 1, 1800.0)], 4)
    q, s, t0, t1 = 900.0 / 3600.0, 1800.0 / 3600.0, 600.0, 900.0
    demand = _demand(net, "e0", "e2", [900.0] * 30, interval_s=60.0)
    inc = IncidentSpec(id="crash", edge="e1", begin_s=t0, duration_s=t1 - t0)
    ds = dta(net, demand, method="dnl", dt=1.0, interval_s=60.0, packet_veh=0.25, horizon_s=3600.0,
             incidents=dta_incidents(inc, net))
    free = 500.0 / 20.0 + 20.0 / 20.0 + 500.0 / 20.0
    # deterministic queueing at the site (reached 25 s after departure): a vehicle reaching it at a in the
    # closure or its queue leaves at t1 + q (a - t0) / s, the queue gone when that meets a
    d = np.arange(0.0, 1800.0, 0.05)
    a = d + 25.0
    delay = np.where(a >= t0, np.maximum(0.0, t1 + q * (a - t0) / s - a), 0.0)
    expected = free + delay.reshape(30, -1).mean(axis=1)
    got = ds["route_time_s"].values[:, 0]
    assert np.max(np.abs(got - expected)) <= 2.0, np.c_[got, expected]
    assert expected.max() > free + 250.0                       # the closure matters
    assert ds.attrs["arrived_veh"] == pytest.approx(450.0) and ds.attrs["conservation_error"] < 1e-9


def test_lanes_and_capacity_left_become_the_engines_capacity_drop() -> None:
    net = _net([(0, 1, 500.0, 20.0, 3, 5400.0), (1, 2, 500.0, 20.0, 3, 5400.0)], 3)
    inc = IncidentSpec(id="x", edge="e1", lanes=[0, 1], begin_s=10, duration_s=60, capacity_left=0.3,
                       secondary=[{"edge": "e0", "begin_s": 40, "duration_s": 20}])
    drops = dta_incidents(inc, net)
    assert [(d.edge, d.begin_s, d.end_s) for d in drops] == [("e1", 10, 70), ("e0", 40, 60)]
    assert drops[0].capacity_factor == pytest.approx((1 + 0.3 * 2) / 3) and drops[1].capacity_factor == 0.0
    # in SUMO the blocked lanes with capacity left are a gate at that rate
    assert incident_gates(inc, net)[0] == (("e1_0", "e1_1"), pytest.approx(5400 * 2 / 3 * 0.3), 10, 70)


def _through_b1c1(tmp_path: Path) -> mb.Scenario:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    demand = {"kind": "routes", "flows": [{"edges": ["left1A1", "A1B1", "B1C1", "C1right1"], "flow_veh_h": 600,
                                          "end_s": 600}]}
    data = sc.model_dump(mode="json", exclude={"source_file"})
    data.update(end_s=1500.0, demand=demand, outputs={**data["outputs"], "interval_s": 60.0})
    return mb.scenario_from_dict(data, base_dir=ROOT)


def test_a_gate_in_sumo_lets_vehicles_past_the_incident_at_the_capacity_left(tmp_path) -> None:
    sc = _through_b1c1(tmp_path)                                  # 600 veh/h for 600 s through B1C1
    net = mb.load_network(sc.network)
    inc = IncidentSpec(id="g", edge="B1C1", begin_s=120, duration_s=600, capacity_left=0.05)
    rate = incident_gates(inc, net)[0][1]
    assert rate == pytest.approx(0.05 * float(net.capacity[net.edge("B1C1")]))   # 180 veh/h: a queue forms
    ds = run_incident(sc, inc, seed=2, workdir=tmp_path)
    t = ds["edge_entered"]["time"].values
    past = ds["edge_entered"].sel(edge="C1right1").values[(t >= 180) & (t < 720)].sum()
    assert abs(past - rate * 540 / 3600) <= 2                    # one vehicle each 3600 / rate s, no more
    assert int(ds["vehicles_arrived"]) == int(ds["vehicles_loaded"])   # and all get through in the end


def _lane_seconds(path: Path, edge: str) -> dict[str, float]:
    root = ET.parse(path).getroot()
    return {ln.get("id"): float(ln.get("sampledSeconds", 0)) for e in root.iter("edge") if e.get("id") == edge
            for ln in e.iter("lane")}


@pytest.mark.parametrize("lanes", [[0], None])
def test_sumo_keeps_off_a_closed_lane_and_reroutes_around_a_closed_road(tmp_path, lanes) -> None:
    sc = _through_b1c1(tmp_path)
    (tmp_path / "lanes.add.xml").write_text('<additional><laneData id="ld" file="lanes.xml" begin="230" '
                                            'end="800"/></additional>')
    base = sc.model_copy(update={"additional_files": [tmp_path / "lanes.add.xml"]})
    hit = with_incident(base, IncidentSpec(id="c", edge="B1C1", lanes=lanes, begin_s=200, duration_s=600), tmp_path)
    runs = {}
    for name, s in (("base", base), ("hit", hit)):
        (tmp_path / name).mkdir()
        runs[name] = mb.run_scenario(s, seed=3, workdir=tmp_path / name)
    before = _lane_seconds(tmp_path / "base" / "lanes.xml", "B1C1")
    after = _lane_seconds(tmp_path / "hit" / "lanes.xml", "B1C1")
    assert before["B1C1_0"] > 100.0                              # the lane carries traffic without the incident
    closed = ["B1C1_0", "B1C1_1"] if lanes is None else ["B1C1_0"]
    assert all(after[x] == 0.0 for x in closed)                  # nobody enters a closed lane while it is closed
    if lanes is not None:
        assert after["B1C1_1"] > before["B1C1_1"]                 # its traffic passes in the other lane
    # every vehicle still arrives, those of the closure around the closed road (through the grid's other streets)
    assert int(runs["hit"]["vehicles_arrived"]) == int(runs["base"]["vehicles_arrived"]) == int(runs["base"]["vehicles_loaded"])
    assert int(runs["hit"]["teleports"]) == 0
    if lanes is None:
        dep = np.asarray(runs["hit"]["trip_depart"].values, dtype=float)
        length = np.asarray(runs["hit"]["trip_route_length"].values, dtype=float)
        direct = float(np.nanmax(np.asarray(runs["base"]["trip_route_length"].values, dtype=float)))
        during = (dep > 250) & (dep < 550)
        assert during.sum() > 20 and (length[during] > direct + 50).all()


@pytest.mark.parametrize("fields, field, words", [
    ({"edge": "B1C2"}, "edge", "did you mean"),
    ({"lanes": [2]}, "lanes", "has 2 lane(s)"),
    ({"begin_s": 5000}, "begin_s", "outside the scenario's window"),
    ({"duration_s": -5}, "duration_s", "greater than 0"),
    ({"secondary": [{"edge": "nowhere", "begin_s": 10, "duration_s": 5}]}, "secondary.0.edge", "unknown edge"),
])
def test_a_bad_incident_file_gets_a_one_line_error_naming_the_field(tmp_path, fields, field, words) -> None:
    import yaml

    sc = _through_b1c1(tmp_path)
    path = tmp_path / "inc.yaml"
    path.write_text(yaml.safe_dump({"id": "x", "edge": "B1C1", "begin_s": 100, "duration_s": 60, **fields}))
    with pytest.raises(InputError) as err:
        load_incident(path, network=mb.load_network(sc.network), scenario=sc)
    msg = str(err.value)
    assert "\n" not in msg.strip() and str(path) in msg and field in msg and words in msg, msg


# ---- response plans --------------------------------------------------------------------------------------------
def _plan(**kw) -> ResponsePlan:
    base = {"id": "p", "incident": "c", "detours": [{"sign_edge": "left1A1", "avoid": ["B1C1"], "begin_s": 200,
                                                     "end_s": 800, "compliance": 1.0, "message": "use B2"}]}
    return ResponsePlan.model_validate({**base, **kw})


def test_a_response_plan_round_trips_json_and_becomes_the_engines_diversions_and_drops(tmp_path) -> None:
    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    plan = _plan(metering=[{"edge": "left1A1", "rate_veh_h": 300, "begin_s": 200, "end_s": 800}])
    assert ResponsePlan.from_json(plan.to_json()) == plan
    drops, diversions = response_to_dta(plan, net)
    assert diversions[0].at_edge == "left1A1" and diversions[0].avoid == ("B1C1",) and diversions[0].share == 1.0
    cap = float(net.capacity[net.edge("left1A1")])
    assert drops[0].edge == "left1A1" and drops[0].capacity_factor == pytest.approx(300 / cap)


@pytest.mark.parametrize("kw, words", [
    ({"detours": [{"sign_edge": "B1C1", "avoid": ["B1C1"], "begin_s": 0, "end_s": 9, "compliance": 1}]},
     "detours.0.sign_edge"),
    ({"detours": [{"sign_edge": "nowhere", "avoid": ["B1C1"], "begin_s": 0, "end_s": 9, "compliance": 1}]},
     "unknown edge 'nowhere'"),
    ({"detours": [{"sign_edge": "left1A1", "avoid": ["A1B1", "A1A2", "A1A0"],
                   "begin_s": 0, "end_s": 9, "compliance": 1}]}, "does not reconnect"),
    ({"metering": [{"edge": "left1A1", "rate_veh_h": 1e5, "begin_s": 0, "end_s": 9}]}, "not below"),
])
def test_a_bad_response_plan_is_refused_naming_the_field(kw, words) -> None:
    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    with pytest.raises(InputError, match=words):
        check_response(_plan(**kw), net)


def test_detour_messages_in_sumo_take_the_complying_drivers_round_the_incident(tmp_path) -> None:
    sc = _through_b1c1(tmp_path)
    net = mb.load_network(sc.network)
    inc = IncidentSpec(id="c", edge="B1C1", begin_s=200, duration_s=600, capacity_left=0.05)   # 180 veh/h
    edges = affected_edges(inc, net)
    kpi = {}
    for name, plan in (("none", None), ("all", _plan()), ("half", _plan(detours=[
            {"sign_edge": "left1A1", "avoid": ["B1C1"], "begin_s": 200, "end_s": 800, "compliance": 0.5}]))):
        (tmp_path / name).mkdir()
        ds = run_incident(sc, inc, plan, seed=1, workdir=tmp_path / name)
        kpi[name] = {**incident_kpis(ds, edges), "asked": ds.attrs["guidance_asked"]}
    assert kpi["none"]["guidance_followed"] == 0
    # everyone asked follows at full compliance; about half at one half (a seeded binomial draw)
    assert kpi["all"]["asked"] > 30 and kpi["all"]["guidance_followed"] == kpi["all"]["asked"]
    half = kpi["half"]["guidance_followed"] / kpi["half"]["asked"]
    assert abs(half - 0.5) < 3 * (0.25 / kpi["half"]["asked"]) ** 0.5
    # the incident's queue and the vehicle-hours fall with the share diverted
    assert kpi["all"]["vehicle_hours"] < kpi["half"]["vehicle_hours"] < kpi["none"]["vehicle_hours"]
    assert kpi["all"]["max_queue_veh"] < kpi["none"]["max_queue_veh"]


# ---- generating, ranking and recommending ----------------------------------------------------------------------
def test_candidates_are_generated_for_an_incident_and_the_engine_ranks_the_detour_first(tmp_path) -> None:
    from mobility.incident.rank import candidate_responses, rank_responses

    sc = _through_b1c1(tmp_path)
    net = mb.load_network(sc.network)
    inc = IncidentSpec(id="c", edge="B1C1", begin_s=200, duration_s=400, capacity_left=0.05)
    plans = candidate_responses(inc, net)
    assert len(plans) >= 10 and plans[0].id == "no_response" and len({p.id for p in plans}) == len(plans)
    for p in plans:
        check_response(p, net)                              # every generated plan is valid
    ranking = rank_responses(sc, inc, plans, network=net)
    assert list(ranking["rank"]) == list(range(1, len(plans) + 1))
    assert np.all(np.diff(ranking["vehicle_hours"].to_numpy()) >= 0)
    # the only traffic (left1A1 -> B1C1 -> C1right1) passes the sign on A1B1: diverting it at 90% is best
    assert ranking["plan"][0] in ("detour_A1B1_90", "detour_all_90")
    none = ranking.set_index("plan").loc["no_response", "induced_vehicle_hours"]
    assert none > 1.0 and ranking["induced_vehicle_hours"][0] < 0.8 * none


def test_mobility_incident_respond_recommends_a_plan_only_when_it_beats_no_response_on_other_seeds(tmp_path) -> None:
    from typer.testing import CliRunner

    from mobility.cli import app
    from mobility.service.client import PlanClient
    from mobility.service.store import PlanStore

    from .test_service import Server

    sc = _through_b1c1(tmp_path)
    scenario = tmp_path / "sc.yaml"
    mb.save_scenario(sc, scenario)
    server = Server(tmp_path / "plans.db")
    server.start()
    try:
        store = PlanStore(server.db)
        token = store.create_token("optimiser", ["plans:read", "plans:draft"])[0]
        store.close()
        runner = CliRunner()
        for left, expect in ((0.05, "detour"), (0.9, "no_response")):   # binding, and one that holds nobody up
            inc = tmp_path / f"inc{left}.yaml"
            inc.write_text(f"id: crash\nedge: B1C1\nbegin_s: 200\nduration_s: 400\ncapacity_left: {left}\n")
            out = tmp_path / f"out{left}"
            res = runner.invoke(app, ["incident", "respond", str(inc), "--scenario", str(scenario), "--top", "1",
                                      "--seeds", "1", "--check-seeds", "2", "-o", str(out), "-q", "--publish",
                                      server.url, "--token", token, "--valid-from", "2026-12-07T08:05:00Z"])
            assert res.exit_code == 0, res.output
            _check_response_output(res.output, out, expect)
        # the recommended detour waits in the service as a draft, valid for the incident's 400 s; nothing else
        drafts = PlanClient(server.url, token).response_versions()
        assert [(d["name"], d["state"], d["valid_from"], d["valid_to"]) for d in drafts] == [
            (drafts[0]["response_plan"]["id"], "draft", "2026-12-07T08:05:00.000000Z", "2026-12-07T08:11:40.000000Z")]
        assert drafts[0]["name"].startswith("detour") and drafts[0]["kpis"]["induced_vehicle_hours"] < \
            drafts[0]["kpis"]["no_response_induced_vehicle_hours"]
    finally:
        server.stop()
    bad = CliRunner().invoke(app, ["incident", "check", str(tmp_path / "inc0.05.yaml"), "--scenario", str(scenario)])
    assert bad.exit_code == 0 and "B1C1" in bad.output


def _check_response_output(output: str, out: Path, expect: str) -> None:
    plan = ResponsePlan.from_json((out / "response_plan.json").read_text())
    assert plan.id.startswith(expect) and plan.incident == "crash", output
    assert "recommended: " + plan.id in output and "seeds" in output
    table = (out / "ranking.csv").read_text().splitlines()
    assert len(table) >= 11
    for fig in ("ranking.png", "queues.png", "worst_moment.png"):
        assert (out / fig).stat().st_size > 1000


# ---- emergency-vehicle priority -------------------------------------------------------------------------------
def test_the_state_check_passes_a_programs_own_cycle_and_refuses_unsafe_states() -> None:
    from mobility.signals.safety import check_states, signal_models

    net = ROOT / "networks" / "grid3x3.net.xml"
    model = signal_models(net)["B1"]
    import sumolib  # the program as SUMO has it

    tl = {t_.getID(): t_ for t_ in sumolib.net.readNet(str(net), withPrograms=True).getTrafficLights()}["B1"]
    phases = list(tl.getPrograms().values())[0].getPhases()
    log, t = [], 0.0
    for _ in range(2):
        for ph in phases:
            log.append((t, ph.state))
            t += ph.duration
    assert check_states(log, model) == []
    green = next(ph.state for ph in phases if "G" in ph.state and "y" not in ph.state)
    other = next(ph.state for ph in phases if "G" in ph.state and "y" not in ph.state and ph.state != green)
    both = "".join("G" if "G" in (a, b) else a for a, b in zip(green, other, strict=True))
    kinds = {v.kind for v in check_states([(0.0, green), (30.0, both)], model)}
    assert "conflict" in kinds                                  # two conflicting greens at once
    assert "yellow" in {v.kind for v in check_states([(0.0, green), (30.0, other)], model)}   # green -> red directly
    yellow = "".join("y" if c in "Gg" else c for c in green)
    short = check_states([(0.0, green), (30.0, yellow), (31.0, other)], model, min_yellow_s=3.0)
    assert any(v.kind == "yellow" and "lasted 1" in v.message for v in short)
    red = "r" * len(green)
    assert any(v.kind == "all_red" for v in check_states([(0.0, green), (30.0, yellow), (33.0, red), (33.5, other)],
                                                        model, min_clear_s=2.0))


def test_preemption_gets_the_emergency_vehicle_through_without_stops_and_with_safe_clearance(tmp_path) -> None:
    from mobility.scenario import load_scenario_with_network

    sc, net = load_scenario_with_network(ROOT / "scenarios" / "incident" / "district_peak.yaml")
    sc = sc.model_copy(update={"end_s": 1500.0})
    route = ["left2A2", "A2B2", "B2C2", "C2D2", "D2E2", "E2right2"]   # across the district: five signals

    def plan(on: bool) -> ResponsePlan:
        return ResponsePlan.model_validate({"id": f"ev{int(on)}", "incident": "none", "priority": [
            {"vehicle": f"amb{k}", "route": route, "depart_s": 1100 + 120 * k, "preempt": on, "bluelight": on}
            for k in range(2)]})

    out = {}
    for on in (False, True):
        (tmp_path / str(on)).mkdir()
        ds = run_incident(sc, None, plan(on), seed=1, workdir=tmp_path / str(on))
        ev = np.array([str(v).startswith("amb") for v in ds["vehicle"].values])
        out[on] = (ds["trip_duration"].values[ev], [float(x) for x in ds.attrs["emergency_longest_stop_s"].split(",")],
                   ds.attrs)
    (slow, stops_off, _), (fast, stops_on, attrs) = out[False], out[True]
    assert len(fast) == 2 and fast.mean() < 0.75 * slow.mean()        # well under the time without priority
    assert max(stops_on) < 5.0 and max(stops_off) > 10.0              # it no longer waits at the reds
    assert attrs["preemption_safety"] == "ok" and attrs["preemptions"] >= 8   # five signals, each vehicle
    assert set(attrs["preempted_signals"].split(",")) == {"A2", "B2", "C2", "D2", "E2"}


# ---- signals retimed around the incident -----------------------------------------------------------------------
def test_a_retimed_signal_runs_its_new_program_only_over_its_window_in_sumo_and_in_the_engine(tmp_path) -> None:
    from mobility.dta import demand_from_scenario, dta
    from mobility.incident.response import retimed_plans
    from mobility.signals.current import current_plans

    sc = _through_b1c1(tmp_path)
    net = mb.load_network(sc.network)
    own = current_plans(sc)["C1"]
    greens = [st.green_s for st in own.stages]
    new = [max(5.0, greens[0] / 4)] + [g + 0.75 * greens[0] / max(len(greens) - 1, 1) for g in greens[1:]]
    plan = ResponsePlan.model_validate({"id": "retime", "incident": "c", "retiming": [
        {"junction": "C1", "greens_s": new, "begin_s": 300, "end_s": 900}]})
    (tmp_path / "run").mkdir()
    ds = run_incident(sc, None, plan, seed=1, workdir=tmp_path / "run")
    t = np.sort(ds["signal_switch_time"].values[ds["signal_switch_tls"].values == "C1"])

    def greens_in(lo: float, hi: float) -> list[float]:
        d = np.diff(t[(t >= lo) & (t < hi)])
        return sorted({round(float(x)) for x in d if x > 3.5})      # the green times shown (yellows are 3 s)

    assert greens_in(100, 290) == sorted({round(g) for g in greens})
    assert greens_in(400, 880) == sorted({round(g, 0) for g in new})
    assert greens_in(1000, 1500) == sorted({round(g) for g in greens})
    # the engine: the window's program, the network's own outside it (the states before the window equal)
    demand = demand_from_scenario(sc, net)
    base = dta(net, demand, method="dnl", horizon_s=1500.0)
    win = dta(net, demand, method="dnl", horizon_s=1500.0, signal_plans=retimed_plans(plan, net))
    before = base["time"].values < 300
    assert np.allclose(base["inflow_veh_h"].values[before], win["inflow_veh_h"].values[before])
    assert not np.allclose(base["inflow_veh_h"].values, win["inflow_veh_h"].values)


def test_an_unsafe_or_misshapen_retiming_is_refused_naming_the_field() -> None:
    net = mb.load_network(ROOT / "networks" / "grid3x3.net.xml")
    for greens, words in (([30.0], "greens for the"), ([1.0, 60.0], "minimum green")):
        plan = ResponsePlan.model_validate({"id": "r", "incident": "c", "retiming": [
            {"junction": "B1", "greens_s": greens, "begin_s": 0, "end_s": 60}]})
        with pytest.raises(InputError, match="retiming.0.greens_s") as err:
            check_response(plan, net)
        assert words in str(err.value), str(err.value)
    plan = ResponsePlan.model_validate({"id": "r", "incident": "c", "retiming": [
        {"junction": "nowhere", "greens_s": [30.0], "begin_s": 0, "end_s": 60}]})
    with pytest.raises(InputError, match="retiming.0.junction"):
        check_response(plan, net)


def test_clearance_and_spill_back_grow_with_the_incident_and_vanish_without_it(tmp_path) -> None:
    from mobility.incident.study import IncidentStudySpec
    from mobility.study import get_kind

    sc = _through_b1c1(tmp_path)                                  # 600 veh/h for 600 s through B1C1
    net = mb.load_network(sc.network)
    spill = {}
    for name, left in (("light", 0.9), ("heavy", 0.02)):
        inc = IncidentSpec(id="g", edge="B1C1", begin_s=120, duration_s=420, capacity_left=left)
        (tmp_path / name).mkdir()
        spill[name] = incident_kpis(run_incident(sc, inc, seed=2, workdir=tmp_path / name), ["B1C1"], inc,
                                    net)["spillback_s"]
    # 8 vehicles past in 420 s against 600 veh/h arriving: B1C1 fills back to the junction before it
    assert spill["light"] == 0.0 and spill["heavy"] >= 120.0
    scenario = tmp_path / "sc.yaml"
    mb.save_scenario(sc, scenario)
    kind = get_kind("incident")
    study = kind.resolve(IncidentStudySpec(name="clear", scenario=scenario, incident=inc))
    ds = mb.compare(study, ["no_incident", "no_response"], seeds=[2], workers=2, workdir=tmp_path / "runs")
    clear = ds["clearance_s"].sel(seed=2)
    assert float(clear.sel(response="no_incident")) == 0.0
    assert float(clear.sel(response="no_response")) >= 120.0   # minutes to clear its queue after it ends


def test_preemption_that_starts_during_a_yellow_lets_the_yellow_run_in_full(tmp_path) -> None:
    # RESCO grid4x4 in its peak: twelve emergency vehicles on four routes across it; some reach a signal while it
    # shows its program's yellow (that yellow once turned red after 1 s when its movement was the one to serve)
    from mobility.scenario import load_scenario_with_network

    from .conftest import shared_path

    shared_path("resco", "grid4x4")
    sc, _ = load_scenario_with_network(ROOT / "scenarios" / "signal_control" / "resco_grid4x4.yaml")
    routes = [["top1B3", "B3C3", "C3D3", "D3D2", "D2D1", "D1D0", "D0bottom3"],
              ["right0D0", "D0C0", "C0B0", "B0B1", "B1B2", "B2A2", "A2A3", "A3left3"],
              ["bottom2C0", "C0C1", "C1C2", "C2D2", "D2right2"],
              ["right0D0", "D0D1", "D1D2", "D2C2", "C2C3", "C3top2"]]
    plan = ResponsePlan.model_validate({"id": "ev", "incident": "none", "priority": [
        {"vehicle": f"amb{j}_{k}", "route": r, "depart_s": 900 + 360 * k + 72 * j}
        for j, r in enumerate(routes) for k in range(3)]})
    ds = run_incident(sc.model_copy(update={"end_s": 2400.0}), None, plan, seed=1, workdir=tmp_path)
    assert ds.attrs["preemptions"] >= 30 and ds.attrs["preemption_safety"] == "ok", ds.attrs["preemption_safety"][:300]
