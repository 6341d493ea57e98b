"""The ``adaptive`` controller's network model (backlog feeders, coordinated groups) and the optimiser keeping
current programs where its model does not hold."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import mobility as mb
from mobility.signals import load_plans, phase_states, plans_from_net, signal_models
from mobility.signals.adaptive import _joint_stages, feeder_lanes, junction_groups
from mobility.signals.control import AdaptiveSettings, run_controlled
from mobility.signals.timing import movement_flows, optimise_plans

from .conftest import ROOT, networks_script, plain_net
from .test_signals import crossing_scenario


@pytest.fixture(scope="module")
def robustness_mod():
    return networks_script("robustness")


@pytest.fixture(scope="module")
def tees(tmp_path_factory: pytest.TempPathFactory, robustness_mod) -> Path:
    return robustness_mod.build("close_tees", tmp_path_factory.mktemp("tees"))


def test_close_junctions_form_one_group_in_step_with_their_programs(tees: Path) -> None:
    plans, models = plans_from_net(tees), signal_models(tees)
    net = mb.load_network(tees)
    groups = junction_groups(net, plans, models, sorted(plans), 75.0)
    assert [sorted(g) for g, _ in groups] == [["T0", "T1", "T2", "T3", "T4"]]
    # the programs all start at 0 with one cycle: stage k of every member runs with stage k of the others
    assert groups[0][1] == [(0, 0, 0, 0, 0), (1, 1, 1, 1, 1)]
    assert junction_groups(net, plans, models, sorted(plans), 30.0) == []  # the links are longer than 30 m
    # shift one member by half a cycle: its stages now run with the others' opposite stages
    shifted = plans["T2"].model_copy(update={"offset_s": plans["T2"].offset_s + plans["T2"].cycle_s / 2})
    assert _joint_stages([plans["T1"], shifted]) == [(0, 1), (1, 0)]
    # programs of different cycles are not put in step
    assert _joint_stages([plans["T1"], plans["T2"].with_timing([30.0, 42.0])]) is None


def test_feeders_reach_upstream_until_a_signal(tmp_path: Path) -> None:
    # a -> b (no signal) -> c (signal) -> d; the entry a-b is 200 m, b-c 100 m
    net = plain_net(tmp_path, "feed",
                    '<node id="a" x="-300" y="0"/><node id="b" x="-100" y="0"/><node id="c" x="0" y="0" type="traffic_light"/>'
                    '<node id="d" x="200" y="0"/><node id="n" x="0" y="200"/><node id="s" x="0" y="-200"/>',
                    '<edge id="ab" from="a" to="b" numLanes="1"/><edge id="bc" from="b" to="c" numLanes="2"/>'
                    '<edge id="cd" from="c" to="d" numLanes="1"/><edge id="nc" from="n" to="c" numLanes="1"/>'
                    '<edge id="cs" from="c" to="s" numLanes="1"/>')
    rn = mb.load_network(net)
    f = feeder_lanes(rn, {"bc": [0, 1], "nc": [2]}, 300.0)
    assert f == {"bc": [0, 1], "ab": [0, 1], "nc": [2]}
    assert feeder_lanes(rn, {"bc": [0, 1]}, 150.0) == {"bc": [0, 1]}  # ab lies beyond 150 m


def test_a_group_switches_together_and_keeps_the_safety_rules(tees: Path, tmp_path: Path, robustness_mod) -> None:
    files = robustness_mod.scenarios("close_tees", tmp_path, {"under": 0.6}, basis="programs")
    sc = mb.load_scenario(files["close_tees_under"]).model_copy(update={"end_s": 900})
    settings = AdaptiveSettings(min_green_s=8.0, max_green_s=45.0)  # at least the programs' own 42 s
    ds = run_controlled(sc, "adaptive", seed=2, settings=settings, keep_log=True)
    t, j, s = ds["signal_log_time"].values, ds["signal_log_junction"].values, ds["signal_log_state"].values
    yellow_at = {str(jn): {float(x) for x, st in zip(t[j == jn], s[j == jn], strict=True) if "y" in st} for jn in np.unique(j)}
    assert len(yellow_at) == 5 and len(yellow_at["T0"]) >= 5
    assert all(v == yellow_at["T0"] for v in yellow_at.values()), "the group's members clear at the same moments"
    for jn in np.unique(j):
        tt, ss = t[j == jn], s[j == jn]
        for k in range(1, len(ss) - 1):
            dur = tt[k + 1] - tt[k]
            if "y" not in ss[k]:
                assert settings.min_green_s - 1e-9 <= dur <= settings.max_green_s + 1e-9
            for a, b in zip(ss[k], ss[k + 1], strict=True):
                assert not (a in "Gg" and b == "r"), "a green must pass through yellow"
    assert int(ds.vehicles_arrived) > 0


def test_optimiser_keeps_the_current_plan_of_an_oversaturated_junction(tmp_path: Path) -> None:
    iso = tmp_path / "iso.net.xml"
    mb.generate_corridor(iso, junctions=1)
    base = plans_from_net(iso)
    # main road 2 lanes: at 1100 veh/h per direction and 420 on the side roads the junction is undersaturated
    ok = optimise_plans(crossing_scenario(iso, 1100.0, 420.0, end_s=1800), time_limit_s=5.0)
    assert {p.metadata["method"] for p in ok} == {"cp-sat"}
    # 3000 veh/h per direction on the side roads (one lane): Y > 1, no fixed-time plan serves it
    sc = crossing_scenario(iso, 1100.0, 3000.0, end_s=1800)
    kept = optimise_plans(sc, time_limit_s=5.0)
    assert {p.junction for p in kept} == set(base)
    for p in kept:
        assert p.metadata["kept_current"] is True and "oversaturated" in p.metadata["reason"]
        assert [st.green_s for st in p.stages] == [st.green_s for st in base[p.junction].stages]
        assert p.cycle_s == base[p.junction].cycle_s
    flows = movement_flows(sc)
    assert all(flows.flows[j].sum() > 0 for j in base)


_REPORT = ["dual_left_merge", "incoming_layout", "joined_cluster", "one_way_grid", "protected_lefts", "signalised_roundabout"]
_LONG = os.environ.get("MOBILITY_LONG") == "1"


@pytest.mark.parametrize("name", [n if k == 0 else pytest.param(n, marks=[pytest.mark.slow, pytest.mark.skipif(
    not _LONG, reason="long case (a minute each): MOBILITY_LONG=1 runs every network of the report half")])
    for k, n in enumerate(_REPORT)])
def test_optimised_plans_of_the_report_half_are_accepted_by_the_service(name: str, tmp_path: Path, robustness_mod) -> None:
    """``mobility signals optimise --publish`` on a network of the robustness set's report half: the service
    (a real server on 127.0.0.1 with a real SQLite file) accepts every plan, the kept current ones included."""
    import subprocess
    import sys

    from mobility.service import PlanStore

    from .test_service import Server

    assert _REPORT == robustness_mod.halves()[1]
    sc = robustness_mod.scenarios(name, tmp_path / name, {"near": 0.95}, basis="programs")[f"{name}_near"]
    net = tmp_path / name / f"{name}.net.xml"
    s = Server(tmp_path / name / "plans.db", net)
    s.start()
    try:
        token = PlanStore(s.db).create_token("planner", ["plans:read", "plans:draft"])[0]
        r = subprocess.run([sys.executable, "-m", "mobility.cli", "signals", "optimise", str(sc), "--no-refine",
                            "--time-limit-s", "5", "--output", str(tmp_path / name / "plans"), "--publish", s.url, "--quiet"],
                           capture_output=True, text=True, env={**os.environ, "MOBILITY_TOKEN": token}, timeout=600)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        plans = load_plans(tmp_path / name / "plans.json")
        assert len(plans) == len(plans_from_net(net))                   # every junction, kept ones flagged
        deploy = [p for p in plans if not p.metadata.get("kept_current")]
        assert deploy and r.stdout.count("submitted") == len(deploy), f"{name}: {r.stdout}"
        assert all(p.kind != "fixed" for p in deploy)                    # actuated timing sheets
        assert all(p.metadata.get("reason") for p in plans if p.metadata.get("kept_current"))
    finally:
        s.stop()


def test_a_cycle_scaled_beyond_the_maximum_greens_is_cut_to_them(tmp_path: Path) -> None:
    iso = tmp_path / "iso.net.xml"
    mb.generate_corridor(iso, junctions=1)
    base = {j: p.model_copy(update={"stages": tuple(st.model_copy(update={"max_green_s": 30.0}) for st in p.stages)})
            for j, p in plans_from_net(iso).items()}
    sc = crossing_scenario(iso, 1100.0, 420.0, end_s=1800)
    free = optimise_plans(sc, base=base, time_limit_s=5.0)
    scaled = optimise_plans(sc, base=base, cycle_scale=3.0, time_limit_s=5.0)  # 3x the optimum is beyond 2 x 30 s
    for p, q in zip(free, scaled, strict=True):
        longest = sum(st.max_green_s + st.yellow_s + st.all_red_s for st in base[p.junction].stages)
        assert p.cycle_s < q.cycle_s <= longest + 0.05
        assert q.metadata["cycle_fixed_s"] == pytest.approx(longest)


def test_the_watchdog_hands_back_with_hysteresis_and_takes_again_after_the_window() -> None:
    from mobility.signals.adaptive import Watchdog

    w = Watchdog(["a", "b", "c"], np.array([10.0, 10.0, 10.0]), [[0, 1], [2]], step_s=1.0, window_s=10.0,
                 release_share=0.5)
    trips, ready = [], []
    load = np.array([0.0, 0.0, 0.0])
    for t in range(200):
        load[0] = 40.0 if 20 <= t < 80 else 2.0      # junction a overloads for a minute, then clears
        tr, rd = w.update(float(t), load, 1.0)
        for g in tr:
            w.mark(g, float(t), True)
            trips.append((t, g))
        for g in rd:
            w.mark(g, float(t), False)
            ready.append((t, g))
    assert [g for _, g in trips] == [0] and [g for _, g in ready] == [0]   # a's group (a and b) only, once
    t_trip, t_back = trips[0][0], ready[0][0]
    assert 20 < t_trip < 30                      # the smoothed load passes the limit a few seconds in
    assert t_back >= 80 + 10                     # back only after the load stayed low for the window
    assert w.seconds[0] == w.seconds[1] == pytest.approx(t_back - t_trip, abs=1.0) and w.seconds[2] == 0


def test_adaptive_falls_back_to_the_citys_program_and_says_so(tees: Path, tmp_path: Path, robustness_mod) -> None:
    files = robustness_mod.scenarios("close_tees", tmp_path, {"near": 0.95}, basis="programs")
    sc = mb.load_scenario(files["close_tees_near"]).model_copy(update={"end_s": 900})
    plans = plans_from_net(tees)
    low = {j: 0.5 for j in plans}    # any queue at all passes this limit: the program takes over at once
    ds = run_controlled(sc, "adaptive", seed=2, settings=AdaptiveSettings(watchdog_limits=low), keep_log=True)
    assert int(ds["watchdog_fallbacks"]) >= len(plans) and float(ds["watchdog_share"]) > 0.3
    assert "fallback" in ds.attrs["watchdog_events"]
    # under the program the signals switch as the program does: its states, in its order
    for j, p in plans.items():
        states = [str(s) for t, tl, s in zip(ds["signal_switch_time"].values, ds["signal_switch_tls"].values,
                                             ds["signal_switch_state"].values, strict=True) if tl == j]
        own = {st for st, _, _ in phase_states(p)}
        assert sum(s in own for s in states) > 0.8 * len(states)
    off = run_controlled(sc, "adaptive", seed=2, settings=AdaptiveSettings(watchdog=False))
    assert "watchdog_fallbacks" not in off
