"""Signal plans, safety validation, timing and controllers, with known answers."""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mobility as mb
from mobility.signals import (
    Actuation,
    SignalPlan,
    Stage,
    UnsafePlanError,
    Validity,
    check_plan,
    current_plans,
    load_plans,
    plans_from_net,
    plans_from_sumo,
    plans_to_sumo,
    save_plans,
    signal_models,
    validate_plan,
)
from mobility.signals.control import AdaptiveSettings, run_controlled, sumo_actuated
from mobility.signals.timing import timing_problem
from optimise.signal_timing import critical_ratios, optimise_timing, webster_cycle

from .conftest import ROOT, shared_path

RESCO = ["cologne1", "cologne3", "cologne8", "ingolstadt1", "grid4x4", "arterial4x4"]


@pytest.fixture(scope="module")
def iso_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An isolated junction: a two-lane main road crossing a one-lane side road, two-stage program."""
    out = tmp_path_factory.mktemp("iso") / "iso.net.xml"
    mb.generate_corridor(out, junctions=1)
    return out


def crossing_scenario(net: Path, main: float, side: float, *, end_s: float) -> mb.Scenario:
    """OD demand through the crossing of a one-junction corridor: ``main`` veh/h each way on the main road,
    ``side`` on the side road."""
    return mb.scenario_from_dict({"name": "iso", "network": str(net), "end_s": end_s, "outputs": {"interval_s": 300},
                                  "demand": {"kind": "od", "pairs": [
                                      {"origin": "W_J1", "destination": "J1_E", "flow_veh_h": main},
                                      {"origin": "E_J1", "destination": "J1_W", "flow_veh_h": main},
                                      {"origin": "N1_J1", "destination": "J1_S1", "flow_veh_h": side},
                                      {"origin": "S1_J1", "destination": "J1_N1", "flow_veh_h": side}]}})


def _nets() -> list[Path]:
    return [ROOT / "networks" / "grid3x3.net.xml", ROOT / "networks" / "corridor5.net.xml"]


# ---- plans as data --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["grid3x3", "corridor5", *RESCO])
def test_every_network_program_is_safe_and_round_trips(name: str, tmp_path: Path) -> None:
    net = ROOT / "networks" / f"{name}.net.xml" if name in ("grid3x3", "corridor5") else shared_path("resco", name, f"{name}.net.xml")
    plans = plans_from_net(net)
    models = signal_models(net)
    assert plans and set(plans) == set(models)
    for tls, p in plans.items():
        assert validate_plan(p, models[tls]) == [], tls
        assert p.cycle_s == pytest.approx(sum(st.duration_s for st in p.stages))
        plans_to_sumo([p], tmp_path / "p.add.xml")
        assert plans_from_sumo(tmp_path / "p.add.xml") == [p]


def test_plan_with_periods_offset_and_metadata_round_trips_through_xml_and_json(tmp_path: Path) -> None:
    base = plans_from_net(ROOT / "networks" / "corridor5.net.xml")["J2"]
    am = base.with_timing([30, 20], offset_s=17.123456789012345, plan_id="am", version=3,
                          validity=Validity(days=("mon", "tue"), start_s=0, end_s=30000), metadata={"kpi": 12.5})
    pm = base.with_timing([25, 35], offset_s=41.0, plan_id="pm", validity=Validity(days=("mon", "tue"), start_s=30000, end_s=86400))
    xml = plans_to_sumo([am, pm], tmp_path / "p.add.xml")
    assert "<WAUT" in xml and 'wautSwitch time="30000" to="pm.v1"' in xml
    assert plans_from_sumo(tmp_path / "p.add.xml") == [am, pm]
    save_plans([am, pm], tmp_path / "p.json")
    assert load_plans(tmp_path / "p.json") == [am, pm]


def test_offset_and_waut_switching_are_what_sumo_runs(iso_net: Path) -> None:
    base = plans_from_net(iso_net)["J1"]
    a = base.with_timing([30, 20], offset_s=10.0, plan_id="a", validity=Validity(start_s=0, end_s=600))
    b = base.with_timing([15, 15], offset_s=5.0, plan_id="b", validity=Validity(start_s=600, end_s=86400))
    sc = mb.scenario_from_dict({"name": "off", "network": str(iso_net), "end_s": 1200,
                                "demand": {"kind": "od", "pairs": [{"origin": "W_J1", "destination": "J1_E", "flow_veh_h": 100}]}})
    ds = run_controlled(sc, "fixed", plans=[a, b], seed=1)
    t = ds["signal_switch_time"].values
    state = ds["signal_switch_state"].values
    starts = t[np.array([s == a.state(0) for s in state])]
    # stage 0 of plan a begins at offset + k * cycle (cycle 56 s), then plan b (cycle 36 s) from 600 s
    early = starts[starts < 600]
    assert len(early) >= 5
    np.testing.assert_allclose((early - 10.0) % a.cycle_s, 0.0, atol=1e-6)
    late = t[np.array([s == b.state(0) for s in state])]
    late = late[late > 700]
    np.testing.assert_allclose((late - 5.0) % b.cycle_s, 0.0, atol=1e-6)


# ---- safety ---------------------------------------------------------------------------------------
def _kinds(plan: SignalPlan, net: Path) -> set[str]:
    return {v.kind for v in validate_plan(plan, signal_models(net)[plan.junction])}


def test_validator_rejects_each_kind_of_unsafe_plan(iso_net: Path) -> None:
    p = plans_from_net(iso_net)["J1"]
    m = signal_models(iso_net)["J1"]
    s0, s1 = p.stages
    # conflicting through movements (main road 4, side road 1) green together
    both = p.model_copy(update={"stages": (s0.model_copy(update={"green": (*s0.green, 1)}), s1)})
    err = validate_plan(both, m)
    assert err and {v.kind for v in err} == {"conflict"}
    assert all(v.stage == 0 and 1 in v.movements for v in err)
    assert {m for v in err for m in v.movements} >= {1, 4, 11}  # crosses both main-road through movements
    assert "junction J1, stage 0" in err[0].message and "N1_J1->J1_S1" in err[0].message
    with pytest.raises(UnsafePlanError) as exc:
        check_plan(both, m)
    assert exc.value.violations[0].as_dict()["kind"] == "conflict"
    # a permissive movement is allowed only where the network makes it yield
    perm = p.model_copy(update={"stages": (s0.model_copy(update={"permissive": (*s0.permissive, 1)}), s1)})
    assert "conflict" in _kinds(perm, iso_net)
    short_yellow = p.with_timing([42, 42]).model_copy(update={"stages": (s0.model_copy(update={"yellow_s": 2.0}), s1),
                                                            "cycle_s": p.cycle_s - 1})
    assert _kinds(short_yellow, iso_net) == {"yellow"}
    short_green = p.model_copy(update={"stages": (s0.model_copy(update={"min_green_s": 50.0, "max_green_s": 90.0}), s1)})
    assert _kinds(short_green, iso_net) == {"min_green"}
    assert _kinds(p.model_copy(update={"cycle_s": p.cycle_s + 5}), iso_net) == {"cycle"}
    assert _kinds(p.model_copy(update={"offset_s": p.cycle_s}), iso_net) == {"offset"}
    assert _kinds(p.model_copy(update={"offset_s": -1.0}), iso_net) == {"offset"}
    uncovered = p.model_copy(update={"stages": (s0, s1.model_copy(update={"green": (0, 7, 8)}))})
    v = validate_plan(uncovered, m)
    assert [x.kind for x in v] == ["coverage"] and v[0].movements == (1,)
    wrong = p.model_copy(update={"n_links": p.n_links + 1})
    assert _kinds(wrong, iso_net) == {"link_count"}
    negative_red = p.model_copy(update={"stages": (s0.model_construct(**{**s0.model_dump(), "all_red_s": -1.0}), s1)})
    assert "all_red" in _kinds(negative_red, iso_net)


def test_plan_structure_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="out of range"):
        SignalPlan(junction="J", n_links=2, cycle_s=30, stages=(Stage(green=(0, 5), green_s=27),))
    with pytest.raises(ValueError, match="both green and permissive"):
        Stage(green=(1,), permissive=(1,), green_s=10)


def test_unsafe_plan_is_refused_before_simulation(iso_net: Path) -> None:
    p = plans_from_net(iso_net)["J1"]
    bad = p.model_copy(update={"offset_s": 500.0})
    sc = mb.scenario_from_dict({"name": "x", "network": str(iso_net), "end_s": 60,
                                "demand": {"kind": "od", "pairs": [{"origin": "W_J1", "destination": "J1_E", "flow_veh_h": 100}]}})
    with pytest.raises(UnsafePlanError, match="offset 500"):
        run_controlled(sc, "fixed", plans=[bad], seed=1)


# ---- timing -------------------------------------------------------------------------------------
def test_critical_ratios_without_overlap_are_stage_maxima() -> None:
    y = np.array([0.2, 0.3, 0.1, 0.25])
    serve = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    np.testing.assert_allclose(critical_ratios(y, serve), [0.3, 0.25], atol=1e-9)
    # a lane served in both stages needs only the green that the others leave short
    serve2 = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    np.testing.assert_allclose(critical_ratios(np.array([0.2, 0.3, 0.4]), serve2).sum(), 0.5, atol=1e-9)
    assert webster_cycle(10.0, 0.5) == pytest.approx(40.0)


def test_optimiser_matches_webster_on_an_isolated_junction_and_sumo_agrees(iso_net: Path) -> None:
    base = plans_from_net(iso_net)["J1"]
    base = base.model_copy(update={"stages": tuple(s.model_copy(update={"all_red_s": 2.0}) for s in base.stages)})
    base = base.with_timing([20, 20])
    main, side = 1100.0, 420.0  # veh/h per direction; the main road has two lanes
    flow = np.zeros(base.n_links)
    flow[[4, 5, 11, 12]] = main / 2
    flow[[1, 8]] = side
    jt = timing_problem(base, signal_models(iso_net)["J1"], flow, saturation_veh_h=1800.0)
    res = optimise_timing([jt])
    y1, y2 = main / 2 / 1800, side / 1800
    lost = 2 * (3.0 + 2.0)
    c0 = (1.5 * lost + 5) / (1 - y1 - y2)
    g0 = (c0 - lost) * np.array([y1, y2]) / (y1 + y2)
    assert res.status == "OPTIMAL" and res.gap == pytest.approx(0.0, abs=1e-9)
    assert abs(res.cycle_s - c0) <= 1.0
    np.testing.assert_allclose(res.greens_s[0], g0, atol=1.0)

    sc = crossing_scenario(iso_net, main, side, end_s=3600)

    def delay(scale: float) -> float:
        g = res.greens_s[0] * (res.cycle_s * scale - lost) / (res.cycle_s - lost)
        plan = base.with_timing(g)
        return float(np.mean([mb.kpis(run_controlled(sc, "fixed", plans=[plan], seed=s))["mean_delay_s"] for s in (1, 2, 3)]))

    at = delay(1.0)
    assert at <= delay(0.8) and at <= delay(1.2)


def test_coordination_offsets_follow_travel_time() -> None:
    from optimise.signal_timing import CoordinationLink, JunctionTiming

    j = JunctionTiming(y=np.array([0.3, 0.2]), serve=np.eye(2), flow_veh_h=np.array([600.0, 400.0]),
                       lost_s=np.array([4.0, 4.0]), min_green_s=np.array([5.0, 5.0]), max_green_s=np.array([90.0, 90.0]))
    res = optimise_timing([j, j], [CoordinationLink(0, 0, 1, 0, 23.0, 800.0)])
    assert res.status == "OPTIMAL"
    # the platoon leaving junction 0 at its stage-0 green reaches junction 1 as its stage 0 turns green
    assert (res.offsets_s[0] + 23.0 - res.offsets_s[1]) % res.cycle_s == pytest.approx(0.0, abs=0.11)


# ---- controllers --------------------------------------------------------------------------------
def _grid_scenario(end_s: float = 1800) -> mb.Scenario:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    return sc.model_copy(update={"end_s": end_s})


def _red_spells(log_t: np.ndarray, log_j: np.ndarray, log_s: np.ndarray, end: float) -> dict[tuple[str, int], list[float]]:
    spells: dict[tuple[str, int], list[float]] = {}
    for j in np.unique(log_j):
        sel = log_j == j
        t, s = log_t[sel], log_s[sel]
        for i in range(len(s[0])):
            green_end = None
            for k in range(len(t)):
                g = s[k][i] in "Gg"
                if not g and green_end is None:
                    green_end = t[k]
                elif g and green_end is not None:
                    spells.setdefault((str(j), i), []).append(t[k] - green_end)
                    green_end = None
            if green_end is not None:
                spells.setdefault((str(j), i), []).append(end - green_end)
    return spells


@pytest.mark.parametrize("kind", ["maxpressure", "greedy", "adaptive"])
def test_adaptive_control_keeps_max_red_min_green_and_yellow(kind: str) -> None:
    sc = _grid_scenario()
    settings = AdaptiveSettings(min_green_s=8.0, max_red_s=70.0)
    ds = run_controlled(sc, kind, seed=3, settings=settings, keep_log=True)
    t, j, s = ds["signal_log_time"].values, ds["signal_log_junction"].values, ds["signal_log_state"].values
    assert len(t) > 100
    spells = _red_spells(t, j, s, sc.end_s)
    longest = max(max(v) for v in spells.values())
    assert longest <= settings.max_red_s + 1e-9
    for jn in np.unique(j):
        sel = j == jn
        tt, ss = t[sel], s[sel]
        for k in range(len(ss) - 1):
            dur = tt[k + 1] - tt[k]
            if "y" in ss[k]:
                assert dur >= 3.0 - 1e-9  # yellow lasts at least 3 s
            elif k > 0:
                assert dur >= settings.min_green_s - 1e-9  # a green is held for its minimum
            for a, b in zip(ss[k], ss[k + 1], strict=True):
                assert not (a == "G" and b == "r"), "a green must pass through yellow"
    assert int(ds.vehicles_arrived) > 0


def test_max_red_too_short_for_the_stages_is_refused() -> None:
    with pytest.raises(mb.InputError, match="max_red_s"):
        run_controlled(_grid_scenario(60), "maxpressure", seed=1, settings=AdaptiveSettings(min_green_s=10, max_red_s=20))


def test_sumo_actuated_keeps_the_current_programs_stages(tmp_path: Path) -> None:
    net = ROOT / "networks" / "corridor5.net.xml"
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "corridor5.yaml")
    plans = sumo_actuated(current_plans(sc, default_max_green_s=50.0))
    xml = plans_to_sumo(plans)
    assert xml.count('type="actuated"') == 5 and 'minDur="5" maxDur="50"' in xml and 'key="max-gap" value="3"' in xml
    (tmp_path / "a.add.xml").write_text(xml)
    for p in plans_from_sumo(tmp_path / "a.add.xml"):
        assert validate_plan(p, signal_models(net)[p.junction]) == []
        assert [st.green for st in p.stages] == [st.green for st in current_plans(sc)[p.junction].stages]


def test_evaluate_gives_controller_by_seed_dataset_and_cli_writes_it(tmp_path: Path) -> None:
    from mobility.cli import app

    out = tmp_path / "eval.nc"
    scen = tmp_path / "short.yaml"
    text = (ROOT / "scenarios" / "signal_control" / "corridor5.yaml").read_text().replace("\nend_s: 3600", "\nend_s: 900")
    text = text.replace("../../networks/", str(ROOT / "networks") + "/")
    scen.write_text(text)
    r = CliRunner().invoke(app, ["signals", "evaluate", str(scen), "--controllers", "fixed,webster,maxpressure",
                                 "--seeds", "1,2", "--output", str(out), "--plot", str(tmp_path / "e.png"), "-q"])
    assert r.exit_code == 0, r.output
    ds = mb.load_results(out)
    assert dict(ds.sizes)["controller"] == 3 and dict(ds.sizes)["seed"] == 2
    for v in ("mean_delay_s", "never_departed", "unfinished", "queue"):
        assert v in ds
    assert list(ds["seed"].values) == [1, 2]
    assert np.all(ds["mean_delay_s"].values > 0)
    assert (tmp_path / "e.png").stat().st_size > 0
    # the same seed and controller give the same result in the library as in the CLI's worker processes
    sc = mb.load_scenario(scen)
    sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
    one = mb.kpis(run_controlled(sc, "maxpressure", seed=2))
    assert float(ds["mean_delay_s"].sel(controller="maxpressure", seed=2)) == pytest.approx(one["mean_delay_s"])
    assert int(ds["never_departed"].sel(controller="maxpressure", seed=2)) == one["vehicles_never_departed"]

    bad = CliRunner().invoke(app, ["signals", "evaluate", str(scen), "--controllers", "fixed,magic",
                                   "--output", str(tmp_path / "bad.nc"), "-q"])
    assert bad.exit_code == 2 and "magic" in bad.output and not (tmp_path / "bad.nc").exists()


def test_optimise_cli_writes_safe_plans(tmp_path: Path) -> None:
    from mobility.cli import app

    scen = tmp_path / "c.yaml"
    text = (ROOT / "scenarios" / "signal_control" / "corridor5.yaml").read_text().replace("\nend_s: 3600", "\nend_s: 1200")
    scen.write_text(text.replace("../../networks/", str(ROOT / "networks") + "/"))
    stem = tmp_path / "plans"
    r = CliRunner().invoke(app, ["signals", "optimise", str(scen), "--no-refine", "-o", str(stem), "-q"])
    assert r.exit_code == 0, r.output
    plans = load_plans(tmp_path / "plans.json")
    assert {p.junction for p in plans} == {"J1", "J2", "J3", "J4", "J5"}
    assert all(p.metadata["status"] in ("OPTIMAL", "FEASIBLE") for p in plans)
    assert plans_from_sumo(tmp_path / "plans.add.xml") == plans
    net = ROOT / "networks" / "corridor5.net.xml"
    v = CliRunner().invoke(app, ["signals", "validate", str(tmp_path / "plans.json"), "--network", str(net)])
    assert v.exit_code == 0 and "safe" in v.output
    # the corridor's junctions share a cycle (they are coordinated)
    assert len({p.cycle_s for p in plans if p.plan_id == plans[0].plan_id}) == 1


# ---- actuated and coordinated-actuated plans ------------------------------------------------------------
def _coordinated(plan: SignalPlan, *, offset_s: float = 0.0, passage_s: float = 2.5) -> SignalPlan:
    """``plan`` as a coordinated-actuated plan on its own cycle and splits, stage 0 coordinated."""
    others = sum(st.min_green_s + st.yellow_s + st.all_red_s for st in plan.stages[1:])
    need = plan.cycle_s - others - plan.stages[0].yellow_s - plan.stages[0].all_red_s
    stages = (plan.stages[0].model_copy(update={"max_green_s": max(need, plan.stages[0].green_s)}), *plan.stages[1:])
    return plan.model_copy(update={"stages": stages, "offset_s": offset_s,
                                   "actuation": Actuation(passage_s=passage_s, coordinated=True, coordinated_stage=0)})


def test_actuated_plans_round_trip_json_and_sumo_and_validate(tmp_path: Path) -> None:
    net = ROOT / "networks" / "corridor5.net.xml"
    models = signal_models(net)
    plans = [_coordinated(p, offset_s=7.0 * k) for k, p in enumerate(plans_from_net(net).values())]
    plans.append(plans_from_net(net)["J1"].model_copy(update={"plan_id": "iso", "actuation": Actuation(passage_s=2.0),
                                                             "validity": Validity(start_s=0, end_s=3600)}))
    plans[0] = plans[0].model_copy(update={"validity": Validity(start_s=3600, end_s=86400)})
    for p in plans:
        assert validate_plan(p, models[p.junction]) == []
    save_plans(plans, tmp_path / "a.json")
    assert load_plans(tmp_path / "a.json") == plans
    xml = plans_to_sumo(plans, tmp_path / "a.add.xml")
    assert plans_from_sumo(tmp_path / "a.add.xml") == plans
    assert xml.count('type="actuated"') == 6 and 'key="coordinated" value="true"' in xml and "latestEnd=" in xml
    assert {p.kind for p in plans} == {"actuated", "actuated-coordinated"}


def test_unsafe_actuated_plans_are_refused() -> None:
    net = ROOT / "networks" / "corridor5.net.xml"
    model = signal_models(net)["J2"]
    good = _coordinated(plans_from_net(net)["J2"])
    assert validate_plan(good, model) == []
    st = list(good.stages)

    def with_stage(k: int, **change: float) -> SignalPlan:
        s = list(st)
        s[k] = s[k].model_copy(update=change)
        return good.with_timing([x.green_s for x in s]).model_copy(update={"stages": tuple(s), "cycle_s": sum(
            x.duration_s for x in s)})

    cases = {
        "maximum green .* shorter than the minimum": with_stage(1, max_green_s=4.0, min_green_s=6.0, green_s=6.0),
        "yellow is 1 s": with_stage(1, yellow_s=1.0),
        "cannot reach its yield point": with_stage(0, max_green_s=10.0, green_s=10.0),
        "minimum green 1 s is below": with_stage(1, min_green_s=1.0),
    }
    for match, plan in cases.items():
        with pytest.raises(UnsafePlanError):
            check_plan(plan, model)
        assert any(re.search(match, v.message) for v in validate_plan(plan, model)), match


def test_a_coordinated_actuated_plan_keeps_its_cycle_and_yield_point_in_sumo() -> None:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "corridor5.yaml").model_copy(update={"end_s": 900.0})
    plans = [_coordinated(p, offset_s=11.0 * k) for k, p in enumerate(plans_from_net(sc.network).values())]
    ds = run_controlled(sc, "fixed", plans=plans, seed=3)
    t, tls, state = ds["signal_switch_time"].values, ds["signal_switch_tls"].values, ds["signal_switch_state"].values
    for p in plans:
        coord = p.state(0)
        # every end of the coordinated stage's green falls on its yield point (offset + end of split) in the cycle
        ends = [float(t[i]) for i in range(1, len(t)) if tls[i] == p.junction and
                [float(t[j]) for j in range(i) if tls[j] == p.junction] and
                state[max(j for j in range(i) if tls[j] == p.junction)] == coord]
        assert len(ends) >= 8, p.junction
        yield_s = (p.sumo_offset_s + p.green_ends()[0]) % p.cycle_s
        assert all(min((e - yield_s) % p.cycle_s, (yield_s - e) % p.cycle_s) <= 1.0 for e in ends), (p.junction, ends)
        # and the side stages gap out before their force-off: the plan adapts inside the cycle
        greens = [float(t[i + 1] - t[i]) for i in range(len(t) - 1) if tls[i] == p.junction and state[i] == p.state(1)]
        assert min(greens) < p.stages[1].green_s


def test_the_choice_never_takes_more_never_departed_and_a_tie_keeps_the_current_program() -> None:
    from mobility.signals.actuated import beats, choose

    scores = {"current": (3.0, 80.0), "a": (5.0, 40.0), "b": (3.0, 60.0), "c": (0.0, 70.0)}
    assert choose(scores) == "b"                          # "a" is faster but strands more vehicles
    assert choose({**scores, "sumo_actuated": (0.0, 61.0)}, min_gain=0.03) == "sumo_actuated"  # 60 s is no real lead
    assert choose({**scores, "sumo_actuated": (0.0, 70.0)}, min_gain=0.03) == "b"
    # a lead within the seeds' spread (a map where some seeds gridlock) is no lead
    assert choose({**scores, "sumo_actuated": (0.0, 70.0)}, min_gain=0.03, spread={"b": 0.2, "sumo_actuated": 0.05}) \
        == "sumo_actuated"
    assert choose({"current": (0.0, 50.0), "x": (0.0, 50.0)}) == "current"
    assert beats((0.0, 49.9), (0.0, 50.0)) and not beats((0.0, 50.0), (0.0, 50.0))
    assert not beats((1.0, 10.0), (0.0, 50.0))            # faster, but a vehicle more never departed
    assert not beats((0.0, 40.0, 2.0), (0.0, 50.0, 1.0))  # faster on the mean, but gridlocked on more seeds
    assert beats((0.0, 40.0, 1.0), (0.0, 50.0, 1.0))
    with pytest.raises(mb.InputError):
        choose({"a": (0.0, 1.0)})


def test_recommended_plans_beat_the_current_program_on_seeds_they_were_not_chosen_on() -> None:
    from mobility.signals.actuated import choose, recommend_actuated

    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / "corridor5.yaml")
    sc = sc.model_copy(update={"end_s": 900.0, "sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
    plans = recommend_actuated(sc, passages_s=(3.0,), processes=2, time_limit_s=5.0)
    rec = plans[0].metadata["recommendation"]
    assert {"current", "sumo_actuated", "fixed_optimised", "actuated_p3", "current_skip"} <= set(rec["candidates"])
    cand = rec["candidates"]
    assert cand[rec["chosen"]]["stranded"] <= cand["current"]["stranded"]
    picked = choose({n: (c["stranded"], c["mean_delay_s"]) for n, c in cand.items()}, min_gain=rec["min_gain"],
                    spread={n: c["spread"] for n, c in cand.items()})
    assert rec["chosen"] in (picked, "sumo_actuated")  # the check may hand the lead back to SUMO's actuated control
    models = signal_models(sc.network)
    if rec["decision"] == "recommended":
        new, cur = rec["check"][rec["chosen"]], rec["check"]["current"]
        assert new["mean_delay_s"] < cur["mean_delay_s"] and new["stranded"] <= cur["stranded"]
        assert set(rec["check_seeds"]).isdisjoint(rec["training_seeds"]) and min(rec["check_seeds"]) > 1000
        deploy = [p for p in plans if not p.metadata.get("kept_current")]
        assert deploy
        for p in deploy:
            assert validate_plan(p, models[p.junction]) == []
    else:
        assert all(p.metadata.get("kept_current") and p.metadata.get("reason") for p in plans)


def test_a_stage_skipping_plan_round_trips_and_skips_the_stage_nobody_waits_for(iso_net: Path, tmp_path: Path) -> None:
    base = plans_from_net(iso_net)["J1"]
    main, side = base.stages
    lefts = main.model_copy(update={"name": "lefts", "green": (6, 13), "permissive": (), "green_s": 10.0, "min_green_s": 5.0})
    stages = (main.model_copy(update={"name": "main"}), side.model_copy(update={"name": "side"}), lefts)
    plan = base.model_copy(update={"stages": stages, "cycle_s": sum(st.duration_s for st in stages),
                                   "actuation": Actuation(skip=True, jam_threshold_s=30.0)})
    assert validate_plan(plan, signal_models(iso_net)["J1"]) == []
    xml = plans_to_sumo([plan], tmp_path / "s.add.xml")
    assert 'next="' in xml and 'name="mobility.skip' in xml
    assert plans_from_sumo(tmp_path / "s.add.xml") == [plan]
    with pytest.raises(ValueError, match="not both"):
        Actuation(skip=True, coordinated=True)
    # a lane whose movements never all get a protected green could never call: refused, unless every detector counts
    deaf = plan.model_copy(update={"actuation": Actuation(skip=True)})
    assert any("can never call a green" in v.message for v in validate_plan(deaf, signal_models(iso_net)["J1"]))
    from mobility.signals.actuated import ALL_LANES_JAM_S, callable_lanes

    fixed = callable_lanes(deaf, signal_models(iso_net)["J1"])
    assert fixed.actuation.jam_threshold_s == ALL_LANES_JAM_S and validate_plan(fixed, signal_models(iso_net)["J1"]) == []
    # the main road's throughs and lefts, nobody on the side road
    sc = mb.scenario_from_dict({"name": "iso", "network": str(iso_net), "end_s": 900, "outputs": {"interval_s": 300},
                                "demand": {"kind": "od", "pairs": [
                                    {"origin": "W_J1", "destination": "J1_E", "flow_veh_h": 700},
                                    {"origin": "E_J1", "destination": "J1_W", "flow_veh_h": 700},
                                    {"origin": "W_J1", "destination": "J1_N1", "flow_veh_h": 200},
                                    {"origin": "E_J1", "destination": "J1_S1", "flow_veh_h": 200}]}})
    side_state = plan.state(1)

    def side_greens(p: SignalPlan) -> int:
        ds = run_controlled(sc, "fixed", plans=[p], seed=4)
        return sum(1 for x in ds["signal_switch_state"].values if str(x) == side_state)

    plain = plan.model_copy(update={"actuation": Actuation(jam_threshold_s=30.0)})
    assert side_greens(plain) >= 5      # every cycle, the side road's minimum green
    assert side_greens(plan) <= 2       # skipped: the lefts are called, the side road never is
