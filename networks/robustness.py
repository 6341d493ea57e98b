"""A robustness set of signalised networks in junction styles the shipped grids lack, built with SUMO's own
generators (netgenerate, netconvert) from a few lines each: nothing here is copied data.

    python networks/robustness.py OUT_DIR        # every network and its scenarios into OUT_DIR, with the halves

Styles: joined clusters (a divided arterial crossing a street: four nodes, one signal), two left-turn lanes
merging into one receiving lane, left-turn bays, single shared lanes, closely spaced T-junctions, a one-way
grid, a signalised roundabout, a spider web with signals, pedestrian crossings with their own signals,
protected-left programs, a random network and a grid with one signal per approach. The set is split in two
by ``SPLIT_SEED`` (:func:`halves`): develop on the first, report on the second.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

SPLIT_SEED = 20

_TLS = ["--tls.default-type", "static", "--no-warnings"]


def _netconvert(out: Path, nodes: str, edges: str, *, connections: str = "", args: tuple[str, ...] = ()) -> Path:
    from mobility._sumo import run_tool

    d = out.parent
    stem = out.name.split(".")[0]
    (d / f"{stem}.nod.xml").write_text(f"<nodes>\n{nodes}\n</nodes>\n")
    (d / f"{stem}.edg.xml").write_text(f"<edges>\n{edges}\n</edges>\n")
    extra = []
    if connections:
        (d / f"{stem}.con.xml").write_text(f"<connections>\n{connections}\n</connections>\n")
        extra = ["-x", str(d / f"{stem}.con.xml")]
    run_tool("netconvert", ["-n", str(d / f"{stem}.nod.xml"), "-e", str(d / f"{stem}.edg.xml"), *extra, *_TLS, *args,
                            "-o", str(out)], what=f"building {out.name}")
    return out


def _netgenerate(out: Path, args: list[str]) -> Path:
    from mobility._sumo import run_tool

    run_tool("netgenerate", [*args, *_TLS, "-o", str(out)], what=f"building {out.name}")
    return out


def _two_way(a: str, b: str, lanes: int = 1, speed: float = 13.89, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return (f'<edge id="{a}{b}" from="{a}" to="{b}" numLanes="{lanes}" speed="{speed}"{extra}/>\n'
            f'<edge id="{b}{a}" from="{b}" to="{a}" numLanes="{lanes}" speed="{speed}"{extra}/>')


def joined_cluster(out: Path) -> Path:
    """A divided arterial (two carriageways 12 m apart) crossing a street: four nodes joined into one signal."""
    nodes = "\n".join([
        '<node id="W" x="-300" y="0"/>', '<node id="E" x="300" y="0"/>', '<node id="N" x="0" y="300"/>',
        '<node id="S" x="0" y="-300"/>', '<node id="Wn" x="-300" y="6"/>', '<node id="En" x="300" y="6"/>',
        '<node id="Ws" x="-300" y="-6"/>', '<node id="Es" x="300" y="-6"/>',
        '<node id="a" x="-6" y="6" type="traffic_light"/>', '<node id="b" x="6" y="6" type="traffic_light"/>',
        '<node id="c" x="-6" y="-6" type="traffic_light"/>', '<node id="d" x="6" y="-6" type="traffic_light"/>'])
    edges = "\n".join([
        # eastbound carriageway in the south, westbound in the north
        '<edge id="Ws_c" from="Ws" to="c" numLanes="2" speed="16.67"/>', '<edge id="c_d" from="c" to="d" numLanes="2" speed="16.67"/>',
        '<edge id="d_Es" from="d" to="Es" numLanes="2" speed="16.67"/>', '<edge id="En_b" from="En" to="b" numLanes="2" speed="16.67"/>',
        '<edge id="b_a" from="b" to="a" numLanes="2" speed="16.67"/>', '<edge id="a_Wn" from="a" to="Wn" numLanes="2" speed="16.67"/>',
        _two_way("N", "a"), _two_way("a", "c"), _two_way("c", "S"), _two_way("b", "d")])
    return _netconvert(out, nodes, edges, args=("--junctions.join", "--junctions.join-dist", "20", "--tls.join"))


def dual_left_merge(out: Path) -> Path:
    """A crossroads whose eastbound approach has two left-turn lanes that merge into a one-lane road north."""
    nodes = "\n".join(['<node id="C" x="0" y="0" type="traffic_light"/>', '<node id="W" x="-250" y="0"/>',
                       '<node id="E" x="250" y="0"/>', '<node id="N" x="0" y="250"/>', '<node id="S" x="0" y="-250"/>'])
    edges = "\n".join([
        '<edge id="WC" from="W" to="C" numLanes="4" speed="13.89"/>', '<edge id="CW" from="C" to="W" numLanes="2" speed="13.89"/>',
        _two_way("C", "E", 2), '<edge id="CN" from="C" to="N" numLanes="1" speed="13.89"/>',
        '<edge id="NC" from="N" to="C" numLanes="1" speed="13.89"/>', _two_way("C", "S", 1)])
    conns = "\n".join([
        '<connection from="WC" to="CS" fromLane="0" toLane="0"/>', '<connection from="WC" to="CE" fromLane="1" toLane="0"/>',
        '<connection from="WC" to="CE" fromLane="1" toLane="1"/>', '<connection from="WC" to="CN" fromLane="2" toLane="0"/>',
        '<connection from="WC" to="CN" fromLane="3" toLane="0"/>'])
    return _netconvert(out, nodes, edges, connections=conns)


def _grid3(out: Path, *extra: str, length_m: float = 200.0, lanes: int = 2) -> Path:
    """A 3x3 grid with 150 m boundary roads and a signal at every junction, plus ``extra`` netgenerate options."""
    return _netgenerate(out, ["--grid", "--grid.number", "3", "--grid.length", f"{length_m:g}", "--grid.attach-length",
                              "150", "--default.lanenumber", str(lanes), "--tls.guess", "true", "--tls.guess.threshold",
                              "0", *extra])


def left_bays(out: Path) -> Path:
    """A 3x3 grid with 40 m left-turn bays on every approach."""
    return _grid3(out, "--turn-lanes", "1", "--turn-lanes.length", "40")


def shared_lanes(out: Path) -> Path:
    """A 4x3 grid of one-lane streets: every movement shares the lane."""
    return _netgenerate(out, ["--grid", "--grid.x-number", "4", "--grid.y-number", "3", "--grid.length", "150",
                              "--grid.attach-length", "100", "--default.lanenumber", "1", "--tls.guess", "true",
                              "--tls.guess.threshold", "0"])


def close_tees(out: Path) -> Path:
    """An arterial with five signalised T-junctions 60 m apart, side streets alternating north and south."""
    xs = [0, 60, 120, 180, 240]
    nodes = ['<node id="W" x="-250" y="0"/>', '<node id="E" x="490" y="0"/>']
    edges, prev = [], "W"
    for i, x in enumerate(xs):
        nodes.append(f'<node id="T{i}" x="{x}" y="0" type="traffic_light"/>')
        side = 200 if i % 2 == 0 else -200
        nodes.append(f'<node id="S{i}" x="{x}" y="{side}"/>')
        edges.append(_two_way(prev, f"T{i}", 2))
        edges.append(_two_way(f"T{i}", f"S{i}", 1))
        prev = f"T{i}"
    edges.append(_two_way(prev, "E", 2))
    return _netconvert(out, "\n".join(nodes), "\n".join(edges))


def one_way_grid(out: Path) -> Path:
    """A 4x4 grid of one-way streets in alternating directions, two lanes each."""
    n, L = 4, 200
    lo, hi = -150, (n - 1) * L + 150
    nodes = [f'<node id="n{i}{j}" x="{i * L}" y="{j * L}" type="traffic_light"/>' for i in range(n) for j in range(n)]
    edges = []
    for axis, tag in ((0, "r"), (1, "c")):  # east-west streets, then north-south avenues
        for k in range(n):
            line = [f"n{i}{k}" if axis == 0 else f"n{k}{i}" for i in range(n)]
            ends = (lo, hi) if k % 2 == 0 else (hi, lo)
            line = line if k % 2 == 0 else line[::-1]
            for end, name in zip(ends, (f"in_{tag}{k}", f"out_{tag}{k}"), strict=True):
                x, y = (end, k * L) if axis == 0 else (k * L, end)
                nodes.append(f'<node id="{name}" x="{x}" y="{y}"/>')
            chain = [f"in_{tag}{k}", *line, f"out_{tag}{k}"]
            edges += [f'<edge id="{a}_{b}" from="{a}" to="{b}" numLanes="2" speed="13.89"/>'
                      for a, b in zip(chain, chain[1:], strict=False)]
    return _netconvert(out, "\n".join(nodes), "\n".join(edges))


def signalised_roundabout(out: Path) -> Path:
    """A four-arm roundabout (radius 40 m) with a signal at each entry."""
    r, arms = 40.0, 4
    nodes, edges = [], []
    for k in range(arms):
        a = 2 * np.pi * k / arms
        nodes.append(f'<node id="R{k}" x="{r * np.cos(a):.2f}" y="{r * np.sin(a):.2f}" type="traffic_light"/>')
        nodes.append(f'<node id="A{k}" x="{300 * np.cos(a):.2f}" y="{300 * np.sin(a):.2f}"/>')
        edges.append(_two_way(f"A{k}", f"R{k}", 1))
    for k in range(arms):
        edges.append(f'<edge id="ring{k}" from="R{k}" to="R{(k + 1) % arms}" numLanes="2" speed="8.33"/>')
    return _netconvert(out, "\n".join(nodes), "\n".join(edges), args=("--roundabouts.guess",))


def spider_signals(out: Path) -> Path:
    """A spider web (5 arms, 3 rings) with guessed signals at its busier junctions."""
    return _netgenerate(out, ["--spider", "--spider.arm-number", "5", "--spider.circle-number", "3",
                              "--spider.space-radius", "120", "--default.lanenumber", "2", "--tls.guess", "true",
                              "--tls.guess.threshold", "0"])


def pedestrian_crossings(out: Path) -> Path:
    """A 3x2 grid with sidewalks and signalised pedestrian crossings at every junction."""
    return _netgenerate(out, ["--grid", "--grid.x-number", "3", "--grid.y-number", "2", "--grid.length", "180",
                              "--grid.attach-length", "120", "--default.lanenumber", "2", "--tls.guess", "true",
                              "--tls.guess.threshold", "0", "--sidewalks.guess", "--crossings.guess"])


def protected_lefts(out: Path) -> Path:
    """A 3x3 grid of three-lane approaches whose programs give the lefts a protected phase."""
    return _grid3(out, "--tls.left-green.time", "8", length_m=220.0, lanes=3)


def random_net(out: Path) -> Path:
    """A random street network (netgenerate --rand, seed 11) with guessed signals."""
    return _netgenerate(out, ["--rand", "--rand.iterations", "60", "--seed", "11", "--rand.min-distance", "120",
                              "--default.lanenumber", "2", "--tls.guess", "true", "--tls.guess.threshold", "0"])


def incoming_layout(out: Path) -> Path:
    """A 3x3 grid whose signals serve one approach at a time (netconvert's 'incoming' layout)."""
    return _grid3(out, "--tls.layout", "incoming")


BUILDERS: dict[str, Callable[[Path], Path]] = {f.__name__: f for f in (
    joined_cluster, dual_left_merge, left_bays, shared_lanes, close_tees, one_way_grid, signalised_roundabout,
    spider_signals, pedestrian_crossings, protected_lefts, random_net, incoming_layout)}


def halves(seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """(develop, report): the set shuffled by ``seed`` and cut in two."""
    names = sorted(BUILDERS)
    order = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    return sorted(names[i] for i in order[:half]), sorted(names[i] for i in order[half:])


def build(name: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    return BUILDERS[name](out_dir / f"{name}.net.xml")


#: Demand levels, as shares of the network's capacity under SUMO's actuated control (:func:`actuated_capacity`).
LEVELS = {"under": 0.6, "near": 0.9, "over": 1.15}
#: The older basis: degree of saturation of the busiest signalised lane under the network's own programs.
PROGRAM_LEVELS = {"under": 0.6, "near": 0.95, "over": 1.25}
_BASE_TRIPS_VEH_H = 1000.0
#: A run serves its demand when at most this share of its vehicles is still waiting or driving at the end.
SERVED_SHARE = 0.05


def busiest_saturation(scenario_file: Path) -> float:
    """Highest degree of saturation ``X = q / (s g/C)`` (s = 1800 veh/h per lane) of any approach lane under
    the network's own programs, for the scenario's demand routed by duarouter (the toolkit's movement flows)."""
    import mobility as mb
    from mobility.signals import movement_flows, plans_from_net, signal_models
    from mobility.signals.timing import timing_problem

    sc = mb.load_scenario(scenario_file)
    models = signal_models(sc.network)
    plans = plans_from_net(sc.network)
    flows = movement_flows(sc, periods=[(sc.begin_s, sc.end_s)], models=models)
    worst = 0.0
    for tls, m in models.items():
        if tls not in plans or not m.movements:
            continue
        plan = plans[tls]
        jt = timing_problem(plan, m, flows.flows[tls][0])
        g = np.array([st.green_s for st in plan.stages])
        capacity = jt.serve @ g / plan.cycle_s  # share of an hour each lane is served
        x = np.where(capacity > 0, jt.y / np.maximum(capacity, 1e-9), np.where(jt.y > 0, np.inf, 0.0))
        worst = max(worst, float(np.max(x, initial=0.0)))
    return worst


def _scenario_yaml(name: str, net: Path, trips_veh_h: float, level: str, x: float, ends: str = "fringe",
                   how: str = "") -> str:
    how = how or f"X = {x:.2f} on the busiest signalised lane under the network's own programs"
    return (f"# {name} at {level} saturation: {how}\n# (networks/robustness.py writes this file)\n"
            f"name: {name}_{level}\ndescription: robustness set, {name}, {level} saturation ({how})\n"
            f"network: {net.name}\nbegin_s: 0\nend_s: 3600\nstep_length_s: 1.0\nseed: 7\n"
            f"demand:\n  kind: random\n  trips_veh_h: {trips_veh_h:.1f}\n  origins: {ends}\n  destinations: {ends}\n"
            f"outputs:\n  interval_s: 300\n  summary_period_s: 60\nsumo:\n  time_to_teleport_s: -1\n")


def _unserved(scenario_file: Path, trips_veh_h: float, seed: int = 880_000) -> float:
    """Share of the vehicles a SUMO actuated run of the scenario at ``trips_veh_h`` leaves waiting or driving."""
    import mobility as mb
    from mobility.signals import run_controlled

    sc = mb.load_scenario(scenario_file)
    sc = sc.model_copy(update={"demand": sc.demand.model_copy(update={"trips_veh_h": trips_veh_h})})
    ds = run_controlled(sc, "actuated", seed=seed)
    loaded = max(int(ds["vehicles_loaded"]), 1)
    return (int(ds["vehicles_never_departed"]) + int(ds["vehicles_unfinished"])) / loaded


def actuated_capacity(scenario_file: Path, start_veh_h: float, *, steps: int = 5) -> float:
    """The largest demand (random trips per hour) SUMO's actuated control serves on the scenario's network: at
    most :data:`SERVED_SHARE` of the vehicles still waiting or driving after the hour. Bracketed by factors
    of 1.5 from ``start_veh_h``, then ``steps`` bisections (one SUMO run each, a tuning seed)."""
    lo, hi = None, None
    d = start_veh_h
    for _ in range(12):
        if _unserved(scenario_file, d) <= SERVED_SHARE:
            lo = d
            if hi is not None:
                break
            d *= 1.5
        else:
            hi = d
            if lo is not None:
                break
            d /= 1.5
    if lo is None:
        raise RuntimeError(f"{scenario_file}: SUMO actuated serves not even {d:.0f} trips/h; the network is broken")
    if hi is None:
        return lo
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if _unserved(scenario_file, mid) <= SERVED_SHARE:
            lo = mid
        else:
            hi = mid
    return lo


def scenarios(name: str, out_dir: Path, levels: dict[str, float] | None = None, *,
              basis: str = "actuated") -> dict[str, Path]:
    """Build network ``name`` and write one signal scenario per demand level of random fringe trips.

    With ``basis="actuated"`` (the benchmark's) each level is a share of the network's capacity under SUMO's
    actuated control (:func:`actuated_capacity`, :data:`LEVELS`): below it every scenario can be cleared. With
    ``basis="programs"`` (quick, no SUMO run) the busiest lane's degree of saturation under the own programs is
    the level's X (:data:`PROGRAM_LEVELS`).

    Returns ``{"<name>_<level>": scenario file}``.
    """
    if basis not in ("actuated", "programs"):
        raise ValueError(f"basis must be actuated or programs, got {basis!r}")
    net = build(name, out_dir)
    from mobility._errors import DemandError

    base = out_dir / f"{name}_base.yaml"
    ends = "fringe"  # trips between the boundary roads; anywhere on a network without any (the spider web)
    try:
        base.write_text(_scenario_yaml(name, net, _BASE_TRIPS_VEH_H, "base", float("nan"), ends))
        x0 = busiest_saturation(base)
    except DemandError:
        ends = "all"
        base.write_text(_scenario_yaml(name, net, _BASE_TRIPS_VEH_H, "base", float("nan"), ends))
        x0 = busiest_saturation(base)
    finally:
        base.unlink(missing_ok=True)
    if not np.isfinite(x0) or x0 <= 0:
        raise RuntimeError(f"{name}: no finite degree of saturation under its own programs (X = {x0})")
    out = {}
    if basis == "actuated":
        base.write_text(_scenario_yaml(name, net, _BASE_TRIPS_VEH_H, "base", float("nan"), ends))
        try:
            cap = actuated_capacity(base, _BASE_TRIPS_VEH_H * 0.9 / x0)
        finally:
            base.unlink(missing_ok=True)
    for level, x in (levels or (LEVELS if basis == "actuated" else PROGRAM_LEVELS)).items():
        p = out_dir / f"{name}_{level}.yaml"
        tmp = p.with_suffix(".yaml.tmp")
        trips = cap * x if basis == "actuated" else _BASE_TRIPS_VEH_H * x / x0
        how = f"{x:g} of the demand SUMO actuated serves ({cap:.0f} trips/h)" if basis == "actuated" else ""
        tmp.write_text(_scenario_yaml(name, net, trips, level, x, ends, how))
        tmp.replace(p)
        out[f"{name}_{level}"] = p
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("robustness")
    dev, rep = halves()
    for name in sorted(BUILDERS):
        files = scenarios(name, out)
        print(f"{name} ({'develop' if name in dev else 'report'}): {', '.join(str(f) for f in files.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
