"""The signal safety model on networks the toolkit did not make: every network's own program validates (as a
conflict monitor would pass it), and each unsafe kind is still refused."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import mobility as mb
from mobility.signals import plans_from_net, signal_models, validate_plan
from mobility.signals.safety import compatible

from .conftest import ROOT, shared_path


def _sumo_game(rel: str) -> Path:
    import sumo

    p = Path(sumo.__file__).parent / "tools" / "game" / rel
    if not p.is_file():
        pytest.skip(f"{p} is not in this eclipse-sumo wheel")
    return p


OWN = {
    "district5x5": lambda: ROOT / "networks" / "district5x5.net.xml",
    "grid3x3": lambda: ROOT / "networks" / "grid3x3.net.xml",
    "corridor5": lambda: ROOT / "networks" / "corridor5.net.xml",
    # real programs shipped with SUMO: OSM-derived with pedestrian crossings (DRT), a joined cluster (bs3d),
    # German real programs with gzip (fkk_in), motorway programs holding phases for hours (A10KW)
    "sumo_DRT": lambda: _sumo_game("DRT/osm.net.xml"),
    "sumo_bs3d": lambda: _sumo_game("bs3d/bs.net.xml"),
    "sumo_ingolstadt": lambda: _sumo_game("fkk_in/ingolstadt.net.xml.gz"),
    "sumo_kuehne": lambda: _sumo_game("kuehne/kuehne.net.xml"),
    "sumo_A10KW": lambda: _sumo_game("A10KW/osm.net.xml"),
    **{f"resco_{n}": (lambda n=n: shared_path("resco", n, f"{n}.net.xml"))
       for n in ("cologne1", "cologne3", "cologne8", "ingolstadt1", "grid4x4", "arterial4x4")},
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_every_own_program_validates(name: str) -> None:
    net = OWN[name]()
    plans, models = plans_from_net(net), signal_models(net)
    assert plans
    for tls, p in plans.items():
        assert validate_plan(p, models.get(tls)) == [], tls


def test_an_imported_citys_own_programs_validate(tmp_path: Path) -> None:
    from mobility.osm import sample_extract

    try:
        pbf = sample_extract("Helsinki")
    except mb.InputError as exc:
        pytest.skip(str(exc))
    net, rep = mb.import_osm(pbf, tmp_path / "helsinki.net.xml")
    assert rep.signals > 10
    plans, models = plans_from_net(net.net_file), signal_models(net.net_file)
    assert 10 <= len(plans) <= rep.signals  # a joined traffic light controls several junctions
    assert all(validate_plan(p, models[t]) == [] for t, p in plans.items())


def _pairs(model, pred):
    return [(a, b) for a, b in itertools.combinations(sorted(model.movements), 2) if model.foes[a, b] and pred(
        model.movements[a], model.movements[b])]


def test_compatibility_follows_the_dual_ring(robustness: dict[str, Path]) -> None:
    """Known answers at a crossroads whose eastbound approach (W) has two left lanes merging into one lane north:
    movement -> (approach, exit, direction) as netconvert builds them."""
    m = next(iter(signal_models(robustness["dual_left_merge"]).values()))
    by = {(mv.from_edge, mv.to_edge, mv.from_lanes[0]): i for i, mv in m.movements.items()}
    left_a, left_b = by["WC", "CN", "WC_2"], by["WC", "CN", "WC_3"]
    w_through, w_right = by["WC", "CE", "WC_1"], by["WC", "CS", "WC_0"]
    e_through, e_left = by["EC", "CW", "EC_0"], by["EC", "CS", "EC_1"]
    n_through = by["NC", "CS", "NC_0"]
    assert m.movements[left_a].direction == "l" and m.movements[e_left].direction == "l"
    assert m.foes[left_a, left_b]  # SUMO marks the two merging lefts as foes ...
    assert compatible(m, left_a, left_b)  # ... one approach's movements run together
    assert compatible(m, w_through, e_through)  # opposing throughs (NEMA 2 + 6)
    assert compatible(m, left_a, e_left)  # opposing lefts into different roads (1 + 5)
    assert compatible(m, w_right, e_through)  # a right beside the opposing through
    assert not compatible(m, left_a, e_through)  # a left across the opposing through
    assert not compatible(m, w_through, n_through)  # perpendicular throughs
    assert not compatible(m, w_right, n_through)  # merging into one road from perpendicular approaches
    for a, b in _pairs(m, lambda x, y: True):
        assert compatible(m, a, b) == compatible(m, b, a)


def test_unsafe_plans_on_a_real_network_are_still_refused() -> None:
    net = OWN["sumo_DRT"]()
    plans, models = plans_from_net(net), signal_models(net)
    refused = {"conflict": 0, "yellow": 0}
    for tls, p in plans.items():
        m = models[tls]
        vehicle = [i for i, mv in m.movements.items() if not mv.pedestrian]
        bad = _pairs(m, lambda x, y: x.from_edge != y.from_edge and not x.pedestrian and not y.pedestrian)
        bad = [(a, b) for a, b in bad if not compatible(m, a, b)]
        if not bad or not vehicle:
            continue
        a, b = bad[0]
        st = p.stages[0]
        green = tuple(sorted({*st.green, a, b}))
        both = p.model_copy(update={"stages": (st.model_copy(update={
            "green": green, "permissive": tuple(i for i in st.permissive if i not in green),
            "stop": tuple(i for i in st.stop if i not in green)}), *p.stages[1:])})
        v = validate_plan(both, m)
        assert any(x.kind == "conflict" and set(x.movements) == {a, b} for x in v), tls
        refused["conflict"] += 1
        # the stage that ends a vehicle movement's green, with no yellow, before a conflicting movement starts
        k = next((k for k, s in enumerate(p.stages) if s.yellow_s > 0), None)
        if k is not None:
            cut = p.model_copy(update={"stages": tuple(s.model_copy(update={"yellow_s": 0.0, "all_red_s": 0.0,
                                                                            "green_s": s.green_s + s.yellow_s + s.all_red_s})
                                                       for s in p.stages)})
            if any(x.kind == "yellow" for x in validate_plan(cut, m)):
                refused["yellow"] += 1
    assert refused["conflict"] >= 5 and refused["yellow"] >= 5, refused


def test_signals_validate_refuses_two_plans_in_force_at_once(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mobility.cli import app

    net = ROOT / "networks" / "grid3x3.net.xml"
    p = plans_from_net(net)["A0"]
    evening = p.model_copy(update={"plan_id": "evening", "validity": p.validity.model_copy(update={"start_s": 61200.0})})
    f = tmp_path / "plans.json"
    f.write_text(json.dumps({"plans": [json.loads(p.model_dump_json()), json.loads(evening.model_dump_json())]}))
    r = CliRunner().invoke(app, ["signals", "validate", str(f), "--network", str(net)])
    assert r.exit_code == 1 and "both in force" in r.output and "61200" in r.output
    morning = p.model_copy(update={"validity": p.validity.model_copy(update={"end_s": 61200.0})})
    f.write_text(json.dumps({"plans": [json.loads(morning.model_dump_json()), json.loads(evening.model_dump_json())]}))
    r = CliRunner().invoke(app, ["signals", "validate", str(f), "--network", str(net)])
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def robustness(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("robustness", ROOT / "networks" / "robustness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("robustness")
    dev, rep = mod.halves()
    assert sorted(dev + rep) == sorted(mod.BUILDERS) and len(mod.BUILDERS) >= 10 and not set(dev) & set(rep)
    return {name: mod.build(name, out) for name in mod.BUILDERS}


def test_every_own_program_of_the_robustness_set_validates(robustness: dict[str, Path]) -> None:
    for name, net in robustness.items():
        plans, models = plans_from_net(net), signal_models(net)
        assert plans, f"{name}: no traffic light"
        bad = [v.message for t, p in plans.items() for v in validate_plan(p, models[t])]
        assert bad == [], f"{name}: {bad[:2]}"


def test_the_robustness_set_has_its_junction_styles(robustness: dict[str, Path]) -> None:
    m = next(iter(signal_models(robustness["joined_cluster"]).values()))
    assert len({mv.node for mv in m.movements.values()}) == 1 and len(signal_models(robustness["joined_cluster"])) == 1
    dual = next(iter(signal_models(robustness["dual_left_merge"]).values()))
    into_north = [mv for mv in dual.movements.values() if mv.from_edge == "WC" and mv.to_edge == "CN"]
    assert {ln for mv in into_north for ln in mv.from_lanes} == {"WC_2", "WC_3"}
    assert {ln for mv in into_north for ln in mv.to_lanes} == {"CN_0"}
    assert any(mv.pedestrian for m in signal_models(robustness["pedestrian_crossings"]).values() for mv in m.movements.values())
    assert len(signal_models(robustness["one_way_grid"])) == 16
