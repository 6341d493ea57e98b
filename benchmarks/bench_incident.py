"""Incident response: the dynamic engine's ranking of generated response plans against SUMO's.

    python benchmarks/bench_incident.py [--cases district_peak,resco_grid4x4] [--seeds 5] [--out benchmarks/results]

For each case (a traffic scenario), the same rule picks the incident: the busiest edge (highest peak inflow in
the engine's loading of the scenario without incident, over the incident's window) from which a detour can
be signed upstream; all its
lanes blocked, passing half the flow the edge carries then, from a quarter of the window for 40% of it. Then:

0. The demand: the scenario's trips on the routes SUMO's drivers take without the incident (one SUMO run on a
   seed the comparison does not use, read back by ``sumo_routes_demand``; its wall time is reported apart).
1. ``candidate_responses`` generates the plans (no response, detour messages on up to three signs alone and
   together at 30/60/90% compliance, metering of the approaches, a detour with metering) and
   ``rank_responses`` ranks them by the engine's vehicle-hours; the wall time of both is reported (target
   <= 60 s).
2. Every plan runs in SUMO on ``--seeds`` seeds through the incident study (``mb.compare``), with
   ``no_incident`` for the incident-induced vehicle-hours (each run's vehicle-hours less those of the same seed
   without the incident).
3. Reported: Spearman's rank correlation of the engine's induced vehicle-hours against SUMO's mean over the
   seeds (target >= 0.8), and the reduction of SUMO's induced vehicle-hours by the engine's first choice
   against no response (target >= 30%), with SUMO's own best for reference.

4. Emergency-vehicle priority on district_peak: twelve emergency vehicles across the district (middle row and
   column, both ways) without priority, with SUMO's bluelight device, with pre-emption, with both: their travel
   time (target: 40% below no priority), their longest stop (target: none over 60 s), the delay of the traffic
   crossing their routes at the signals on them (target: up at most 5%), unsafe states shown (none).

Writes ``incident.json`` and ``incident.md`` in ``--out``. RESCO maps are read by path from
``../shared/benchmarks/resco`` (skipped with a reason when absent).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import mobility as mb  # noqa: E402
from mobility.dta import dta  # noqa: E402
from mobility.incident import IncidentSpec  # noqa: E402
from mobility.incident.rank import _signs, candidate_responses, rank_responses, sumo_routes_demand  # noqa: E402
from mobility.incident.study import IncidentStudySpec  # noqa: E402
from mobility.scenario import load_scenario_with_network  # noqa: E402
from mobility.study import get_kind  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = {"district_peak": ROOT / "scenarios" / "incident" / "district_peak.yaml",
         "resco_grid4x4": ROOT / "scenarios" / "signal_control" / "resco_grid4x4.yaml",
         "resco_cologne8": ROOT / "scenarios" / "signal_control" / "resco_cologne8.yaml"}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        for v in np.unique(x):   # ties share their mean rank
            m = x == v
            r[m] = r[m].mean()
        return r
    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    return float(np.corrcoef(ra, rb)[0, 1])


def pick_incident(sc, net, demand) -> IncidentSpec:
    """The busiest edge over the incident's window (from a quarter of the scenario's window, for 40% of it)
    from which a detour can be signed, left with half of the flow it carries then."""
    ds = dta(net, demand, method="dnl", dt=2.0, packet_veh=1.0, horizon_s=sc.end_s - demand.t0)
    win = sc.end_s - sc.begin_s
    b, d = round(sc.begin_s + 0.25 * win), round(0.4 * win)
    t = ds["time"].values
    flow = ds["inflow_veh_h"].values[(t >= b) & (t < b + d)].mean(axis=0)
    for e in np.argsort(-flow):
        edge = str(net.edge_ids[e])
        left = float(np.clip(0.5 * flow[e] / float(net.capacity[e]), 0.0, 0.9))
        inc = IncidentSpec(id="crash", edge=edge, begin_s=b, duration_s=d, capacity_left=round(left, 3))
        if _signs(net, inc, 1):
            return inc
    raise RuntimeError("no edge with a way round")


def run_case(name: str, path: Path, seeds: int, workers: int) -> dict:
    sc, net = load_scenario_with_network(path)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        demand = sumo_routes_demand(sc, net, seed=1000, workdir=tmp)   # a seed the comparison does not use
    routes_s = time.perf_counter() - t0
    inc = pick_incident(sc, net, demand)
    print(f"{name}: incident on {inc.edge} from {inc.begin_s:g} s for {inc.duration_s:g} s", flush=True)
    t0 = time.perf_counter()
    from mobility.signals.current import current_plans

    plans = candidate_responses(inc, net, current=current_plans(sc))
    ranking = rank_responses(sc, inc, plans, network=net, demand=demand)
    rank_s = time.perf_counter() - t0
    print(f"{name}: {len(plans)} plans generated and ranked in {rank_s:.1f} s; first {ranking['plan'][0]}", flush=True)
    kind = get_kind("incident")
    spec = IncidentStudySpec(name=f"{name}_incident", scenario=path, incident=inc)
    study = kind.resolve(spec)
    alts = {"no_incident": {"incident": False, "plan": None}}
    alts.update({p.id: {"incident": True, "plan": p.model_dump(mode="json") if p.id != "no_response" else None}
                 for p in plans})
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ds = mb.compare(study, alts, seeds=list(range(1, seeds + 1)), workers=workers, workdir=tmp,
                        progress=lambda d, n, lab: print(f"  {name}: SUMO {d}/{n} {lab}", flush=True) if d % 10 == 0
                        or d == n else None)
    sumo_s = time.perf_counter() - t1
    induced = ds["induced_vehicle_hours"].mean("seed")
    ids = [p.id for p in plans]
    sumo_vh = np.array([float(induced.sel(response=i)) for i in ids])
    eng = ranking.set_index("plan").loc[ids, "induced_vehicle_hours"].to_numpy()
    rho = spearman(eng, sumo_vh)
    first = str(ranking["plan"][0])
    none = float(induced.sel(response="no_response"))
    chosen = float(induced.sel(response=first))
    best = ids[int(np.argmin(sumo_vh))]
    row = {"case": name, "incident": inc.model_dump(mode="json"), "plans": len(plans), "rank_seconds": rank_s,
           "routes_seconds": routes_s,
           "sumo_seconds": sumo_s, "seeds": seeds, "spearman": rho, "engine_first": first,
           "no_response_induced_veh_h": none, "chosen_induced_veh_h": chosen,
           "reduction": (none - chosen) / none if none > 0 else float("nan"), "sumo_best": best,
           "sumo_best_induced_veh_h": float(sumo_vh.min()),
           "per_plan": {i: {"engine_induced_veh_h": float(e), "sumo_induced_veh_h": float(s),
                            "sumo_sd": float(ds["induced_vehicle_hours"].sel(response=i).std("seed"))}
                        for i, e, s in zip(ids, eng, sumo_vh, strict=True)}}
    print(f"{name}: spearman {rho:.2f}, engine's first {first} cuts SUMO's incident veh h from {none:.1f} to "
          f"{chosen:.1f} ({row['reduction']:.0%}); SUMO's best {best} {sumo_vh.min():.1f}", flush=True)
    return row


#: Emergency vehicles across the district in its peak: along the middle row and the middle column, both ways.
EV_ROUTES = {"west_east": ["left2A2", "A2B2", "B2C2", "C2D2", "D2E2", "E2right2"],
             "east_west": ["right2E2", "E2D2", "D2C2", "C2B2", "B2A2", "A2left2"],
             "south_north": ["bottom2C0", "C0C1", "C1C2", "C2C3", "C3C4", "C4top2"],
             "north_south": ["top2C4", "C4C3", "C3C2", "C2C1", "C1C0", "C0bottom2"]}


def drawn_routes(net, n: int = 4, seed: int = 0, min_signals: int = 3) -> dict[str, list[str]]:
    """Emergency routes on a network nobody picked them for: the free-flow cheapest routes between entry and exit
    edges drawn with ``seed`` (an entry: an edge whose start node no other edge but its reverse ends at), kept
    when they pass at least ``min_signals`` signals."""
    from mobility._dta_paths import shortest_routes, turn_graph_of
    from mobility.signals.safety import signal_models

    tail, head = np.asarray(net.tail), np.asarray(net.head)
    into: dict[int, set[int]] = {}
    for k in range(net.n_edges):
        into.setdefault(int(head[k]), set()).add(int(tail[k]))
    entries = [k for k in range(net.n_edges) if into.get(int(tail[k]), set()) <= {int(head[k])}]
    exits = [k for k in range(net.n_edges) if into.get(int(head[k]), set()) <= {int(tail[k])}]
    turns = {(m.from_edge, m.to_edge) for mod in signal_models(net.net_file).values() for m in mod.movements.values()}
    tg = turn_graph_of(net)
    cost = np.asarray(net.length, dtype=float) / np.asarray(net.free_speed, dtype=float)
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {}
    for _ in range(200):
        o, d = int(rng.choice(entries)), int(rng.choice(exits))
        r = shortest_routes(tg, cost, [o], [[d]])[0]
        if r is None:
            continue
        edges = [str(net.edge_ids[e]) for e in r]
        if sum((a, b) in turns for a, b in zip(edges, edges[1:], strict=False)) >= min_signals:
            out.setdefault(f"route{len(out)}", edges)
        if len(out) == n:
            break
    return out


def run_priority(seeds: int, workers: int, case: str = "district_peak") -> dict:
    """Emergency vehicles across a network in its peak: no priority, bluelight, pre-emption, both. On district_peak
    along its middle row and column (where the method was developed); elsewhere on drawn routes."""
    path = CASES[case]
    kind = get_kind("incident")
    sc, net = load_scenario_with_network(path)
    win = sc.end_s - sc.begin_s
    routes = EV_ROUTES if case == "district_peak" else drawn_routes(net)
    first = next(iter(routes.values()))
    dummy = IncidentSpec(id="none", edge=first[1], begin_s=sc.begin_s, duration_s=1.0, capacity_left=0.9)
    study = kind.resolve(IncidentStudySpec(name=f"{case}_priority", scenario=path, incident=dummy))
    evs = [{"vehicle": f"amb_{name}_{k}", "route": r, "depart_s": round(sc.begin_s + win * (0.25 + 0.1 * k + 0.02 * j))}
           for j, (name, r) in enumerate(routes.items()) for k in range(3)]
    variants = {"no_priority": (False, False), "bluelight": (False, True), "preemption": (True, False),
                "both": (True, True)}
    from mobility.incident.response import ResponsePlan

    alts = {name: {"incident": False, "plan": ResponsePlan.model_validate(
        {"id": name, "incident": "none", "priority": [{**e, "preempt": pre, "bluelight": blue} for e in evs]}
    ).model_dump(mode="json")} for name, (pre, blue) in variants.items()}
    with tempfile.TemporaryDirectory() as tmp:
        ds = mb.compare(study, alts, seeds=list(range(1, seeds + 1)), workers=workers, workdir=tmp)
    m = ds.mean("seed")
    base = float(m["emergency_travel_time_s"].sel(response="no_priority"))
    cross0 = float(m["cross_street_delay_s"].sel(response="no_priority"))
    rows = {}
    for name in variants:
        t = float(m["emergency_travel_time_s"].sel(response=name))
        c = float(m["cross_street_delay_s"].sel(response=name))
        rows[name] = {"emergency_travel_time_s": t, "vs_no_priority": t / base - 1.0,
                      "longest_stop_s": float(ds["emergency_longest_stop_s"].sel(response=name).max()),
                      "cross_street_delay_s": c, "cross_vs_no_priority": c / cross0 - 1.0,
                      "mean_delay_s": float(m["mean_delay_s"].sel(response=name)),
                      "preemption_violations": float(ds["preemption_violations"].sel(response=name).sum())}
        print(f"priority {case} {name}: {rows[name]}", flush=True)
    return {"case": case, "vehicles": len(evs), "routes": list(routes), "seeds": seeds, "variants": rows}


def write(rows: list[dict], out: Path, priority: dict | list[dict] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "incident.json.tmp"
    tmp.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "cases": rows, "priority": priority}, indent=1))
    tmp.replace(out / "incident.json")
    lines = ["# Incident response: the engine's ranking against SUMO's", "",
             f"Run {time.strftime('%Y-%m-%d')} (`python benchmarks/bench_incident.py`). The incident: the busiest "
             "edge with a way round, every lane blocked but passing half the flow the edge carries then, from a "
             "quarter of the window for 40% of it. Incident vehicle-hours: each run's less those of the same seed without the incident.", "",
             "| case | incident edge | plans | SUMO routes s | generate + rank s | Spearman | engine's choice | SUMO incident veh h: "
             "no response -> choice | reduction | SUMO's best |", "|---|---|---:|---:|---:|---:|---|---|---:|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['incident']['edge']} | {r['plans']} | {r['routes_seconds']:.1f} | "
                     f"{r['rank_seconds']:.1f} | "
                     f"{r['spearman']:.2f} | {r['engine_first']} | {r['no_response_induced_veh_h']:.1f} -> "
                     f"{r['chosen_induced_veh_h']:.1f} | {r['reduction']:.0%} | {r['sumo_best']} "
                     f"({r['sumo_best_induced_veh_h']:.1f}) |")
    lines += ["", "Targets: Spearman >= 0.8, reduction >= 30%, generate + rank <= 60 s.", ""]
    for r in rows:
        lines += [f"## {r['case']}", "", "| plan | engine veh h | SUMO veh h (sd) |", "|---|---:|---:|"]
        for p, v in sorted(r["per_plan"].items(), key=lambda kv: kv[1]["engine_induced_veh_h"]):
            lines.append(f"| {p} | {v['engine_induced_veh_h']:.1f} | {v['sumo_induced_veh_h']:.1f} ({v['sumo_sd']:.1f}) |")
        lines.append("")
    for prio in ([priority] if isinstance(priority, dict) else priority or []):
        case = prio.get("case", "district_peak")
        where = ("middle row and middle column, both ways: where the method was developed" if case == "district_peak"
                 else "four routes drawn between entries and exits (set aside: not used in development)")
        lines += [f"## Emergency-vehicle priority ({case})", "",
                  f"{prio['vehicles']} emergency vehicles across the network in its peak ({where}), {prio['seeds']} "
                  "seeds. Targets: travel time at least 40% below no priority, cross-street delay up at most 5%, no "
                  "emergency vehicle stopped more than 60 s, no unsafe state.", "",
                  "| variant | emergency travel time s | vs no priority | longest stop s | cross-street delay s | "
                  "vs no priority | unsafe states |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, v in prio["variants"].items():
            lines.append(f"| {name} | {v['emergency_travel_time_s']:.1f} | {v['vs_no_priority']:+.0%} | "
                         f"{v['longest_stop_s']:.0f} | {v['cross_street_delay_s']:.1f} | "
                         f"{v['cross_vs_no_priority']:+.1%} | {v['preemption_violations']:.0f} |")
        lines.append("")
    (out / "incident.md.tmp").write_text("\n".join(lines))
    (out / "incident.md.tmp").replace(out / "incident.md")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="district_peak,resco_grid4x4")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--priority-only", action="store_true", help="only the emergency-vehicle runs")
    ap.add_argument("--no-priority", action="store_true", help="leave the emergency-vehicle runs out")
    ap.add_argument("--priority-case", default="district_peak", help="the network of the emergency-vehicle runs")
    a = ap.parse_args()
    rows: list[dict] = []
    prio = None if a.no_priority else run_priority(a.seeds, a.workers, a.priority_case)
    if a.priority_only:
        write(rows, a.out, prio)
        return
    for name in a.cases.split(","):
        path = CASES[name]
        try:
            mb.load_scenario(path)
        except mb.InputError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        rows.append(run_case(name, path, a.seeds, a.workers))
        write(rows, a.out, prio)


if __name__ == "__main__":
    main()
