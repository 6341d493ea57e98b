"""Live operations: incidents found in recorded SUMO feeds, predictions scored on detectors not fed, the first-ranked
response checked in SUMO; and the loop's speed as networks grow.

    python benchmarks/bench_live.py [--seeds 101,...,106] [--sizes 10,25,50] [--out benchmarks/results]

**Cases** (``scenarios/live/district_commute.yaml``): each case draws, by its seed, an edge with two lanes that
carries at least 600 veh/h in a SUMO run of the scenario without incident, a start between 1200 s and 2400 s,
and the 40% of the used edges whose edge data is the feed. One lane of that edge is closed for 30 minutes in
SUMO (seed = the case seed); the loop gets the feed and the station table only, and starts from the scenario's
routes as a SUMO run on another seed drives them. Seed 7 (C2C1 from 1700 s) and seeds 201-210 were used to
develop the method; 101-106 were run once with an earlier version (their false alarms led to the alarms'
noise test) and are reported with 107-112, drawn afterwards and not looked at before. Reported per case: when
the incident was found and which edge was named (target: the right edge within 5 minutes of the start); the
30-minute prediction issued when it was found (or 5 minutes after the start when it was not), against the edge
data of the edges not fed (GEH < 5 share, target >= 85%); the response the engine ranks first and the one
recommended after the SUMO check (the incident as found; seeds 1-2, then 3), each run in SUMO against no
response on the case's seed with the true closure (incident-induced vehicle-hours against a run without it;
target: >= 25% fewer).

**Speed** (one core): netgenerate grids of n x n junctions (``--sizes``; 50 gives 10,000 links), trips between
boundary edges; one loop step (estimation and a 60-minute prediction, the engine's loading from the start of
the window) and 20 candidate responses (detours at several signs and compliance levels) scored on the engine
(targets: <= 5 s and <= 60 s at >= 10,000 links).

Writes ``live.json`` and ``live.md`` in ``--out`` as results arrive.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENARIO = ROOT / "scenarios" / "live" / "district_commute.yaml"
#: A closure costing at least this many incident vehicle-hours without a response is one that matters.
COSTLY_VH = 5.0


def _write(out: Path, res: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "live.json.tmp"
    tmp.write_text(json.dumps(res, indent=1, default=float))
    tmp.replace(out / "live.json")
    lines = ["# Live operations", "", f"Run {time.strftime('%Y-%m-%d')} (`python benchmarks/bench_live.py`).", ""]
    if res.get("cases"):
        lines += ["## Incidents in recorded SUMO feeds (district_commute, cases drawn by seed, not tuned on)", "",
                  "| case | closed lane on | start s | found s (after) | edge named | 30-min GEH < 5, edges not fed | "
                  "engine's first | its SUMO reduction | recommended after the SUMO check | its reduction | "
                  "no response, induced veh h |",
                  "|---|---|---:|---:|---|---:|---|---:|---|---:|---:|"]
        for c in res["cases"]:
            found = f"{c['found_s']:.0f} ({c['found_s'] - c['begin_s']:.0f} s)" if c.get("found_s") else "not found"
            pct = lambda k: f"{c[k]:.0%}" if c.get(k) is not None else "-"  # noqa: E731
            lines.append(f"| {c['seed']} | {c['edge']} | {c['begin_s']:.0f} | {found} | {c.get('named', '-')} | "
                         f"{pct('geh_share')} | {c.get('response', '-')} | {pct('response_reduction')} | "
                         f"{c.get('recommended', '-')} | {pct('recommended_reduction')} | "
                         f"{c.get('none_vh', float('nan')):.1f} |")
        cs = res["cases"]
        right = [c for c in cs if c.get("named") == c["edge"] and 0 <= c["found_s"] - c["begin_s"] <= 300]
        early = [c for c in cs if c.get("found_s") is not None and c["found_s"] < c["begin_s"]]
        costly = [c for c in cs if c.get("none_vh", 0.0) >= COSTLY_VH]
        costly_right = [c for c in costly if c in right]
        geh_ok = [c for c in cs if c.get("geh_share", 0.0) >= 0.85]
        lines += ["", f"- The closed edge named within 5 minutes of the start: **{len(right)} of {len(cs)}**; of the "
                  f"{len(costly)} closures costing at least {COSTLY_VH:g} incident vehicle-hours without a response: "
                  f"{len(costly_right)}.",
                  f"- An incident raised before the closure began (a false alarm): {len(early)} of {len(cs)}.",
                  f"- 30-minute prediction with GEH < 5 at >= 85% of the edges not fed: {len(geh_ok)} of {len(cs)}."]
        lines.append("")
    if res.get("speed"):
        lines += ["## Speed as networks grow (one core)", "",
                  "| grid | links | pairs | one step s (estimate + 60-min prediction) | 20 responses s |",
                  "|---|---:|---:|---:|---:|"]
        for s in res["speed"]:
            lines.append(f"| {s['n']}x{s['n']} | {s['links']} | {s['pairs']} | {s['step_s']:.2f} | {s['responses_s']:.1f} |")
        lines.append("")
    tmp = out / "live.md.tmp"
    tmp.write_text("\n".join(lines))
    tmp.replace(out / "live.md")


def run_cases(seeds: list[int], res: dict, out: Path) -> None:
    from mobility.calibration.fit import geh
    from mobility.dta import demand_from_scenario, dta
    from mobility.incident import IncidentSpec, affected_edges, incident_kpis, run_incident
    from mobility.incident.rank import sumo_routes_demand
    from mobility.live import ReplaySource, record_feed, run_live
    from mobility.live.record import edge_truth
    from mobility.scenario import load_scenario_with_network
    from mobility.seeds import rng

    sc, net = load_scenario_with_network(SCENARIO)
    work = Path(tempfile.mkdtemp(prefix="bench_live_"))
    calm = dta(net, demand_from_scenario(sc, net), method="dnl", dt=2.0, packet_veh=1.0, interval_s=300.0)
    # the draw of the cases' edges: as busy in the engine's loading of the typical day
    flow = calm["inflow_veh_h"].sel(time=slice(1200, 3600)).mean("time")
    busy = [str(e) for e in calm["edge"].values
            if float(flow.sel(edge=e)) >= 600 and int(net.lanes[net.edge(e)]) >= 2 and not str(e).startswith(":")]
    (work / "prior").mkdir()
    t0 = time.perf_counter()
    prior = sumo_routes_demand(sc, net, seed=99, workdir=work / "prior")
    res["prior_s"] = time.perf_counter() - t0
    res["cases"] = []
    for seed in seeds:
        g = rng(seed, "bench_live")
        edge = busy[int(g.integers(len(busy)))]
        begin = float(g.integers(20, 41)) * 60.0
        truth = IncidentSpec(id="truth", edge=edge, lanes=[0], begin_s=begin, duration_s=1800, capacity_left=0.0)
        feed = record_feed(sc, truth, seed=seed, workdir=work / f"case{seed}", share=0.4, split_seed=seed)
        src = ReplaySource([feed.path], feed.stations, step_s=60, begin_s=0, end_s=min(begin + 900, sc.end_s))
        t0 = time.perf_counter()
        at_5min: dict[str, object] = {}

        def keep(rep, model, at=begin + 300.0, store=at_5min):  # noqa: ANN001
            if abs(rep.now_s - at) < 1.0:
                store["run"] = model.run

        out_run = run_live(sc, src, feed.stations, network=net, demand=prior, check=True, progress=keep)
        c = {"seed": seed, "edge": edge, "begin_s": begin, "stations": len(feed.stations),
             "loop_s": time.perf_counter() - t0, "check_s": out_run.seconds.get("check", 0.0)}
        # the 30-minute prediction issued five minutes after the closure began (or when it was found), on the
        # edges not fed
        d = out_run.detections[0] if out_run.detections else None
        issued = d.found_s if d is not None else begin + 300.0
        run = out_run.at_detection[0] if d is not None else at_5min.get("run")
        if run is not None:
            pred = run["inflow_veh_h"].sel(time=slice(issued, issued + 1800 - 1)).mean("time")
            p = np.array([float(pred.sel(edge=e)) for e in feed.held_out])
            t, _ = edge_truth(feed, feed.held_out, issued, issued + 1800)
            okm = np.isfinite(t)
            c["geh_share"] = float(np.mean(geh(p[okm], t[okm]) < 5))
        # what the closure costs without a response (incident-induced vehicle-hours), found or not
        tried: set[str] = set()
        plans: dict = {}
        if d is not None:
            c.update(found_s=d.found_s, named=d.edge, found_begin_s=d.begin_s, capacity_left=d.capacity_factor)
            ident = next(iter(out_run.rankings))
            ranking, plans = out_run.rankings[ident], out_run.plans[ident]
            c["response"] = str(ranking["plan"].iloc[0])
            c["recommended"], c["reason"] = out_run.recommended.get(ident, ("", ""))
            tried = {x for x in (c["response"], c["recommended"]) if x and x != "no_response"}
        vh = {}
        for name, plan in [("calm", None), ("none", None), *((x, plans[x]) for x in sorted(tried))]:
            w = work / f"case{seed}_{name}"
            w.mkdir(exist_ok=True)
            ds = run_incident(sc, None if name == "calm" else truth, plan, seed=seed, workdir=w)
            vh[name] = incident_kpis(ds, affected_edges(truth, net))["vehicle_hours"]
        c["none_vh"] = vh["none"] - vh["calm"]
        if d is not None:
            for key, x in (("response", c["response"]), ("recommended", c["recommended"])):
                got = vh.get(x, vh["none"]) - vh["calm"]
                c[f"{key}_vh"] = got
                c[f"{key}_reduction"] = (c["none_vh"] - got) / c["none_vh"] if c["none_vh"] > 0 else None
        res["cases"].append(c)
        _write(out, res)
        print(json.dumps(c, default=float), flush=True)


def run_speed(sizes: list[int], res: dict, out: Path) -> None:
    import mobility as mb
    from mobility.dta import DynamicDemand, Diversion
    from mobility.live import LiveModel, StationTable

    res["speed"] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            net = mb.generate_grid(Path(tmp) / f"grid{n}.net.xml", n=n, length_m=200.0, signalised=False)
        ids = [str(e) for e in net.edge_ids]
        g = np.random.default_rng(n)
        deg_in = np.bincount(net.head, minlength=net.n_nodes)
        fringe_o = [i for i in range(net.n_edges) if deg_in[net.tail[i]] == 1]
        fringe_d = [i for i in range(net.n_edges) if np.sum(net.tail == net.head[i]) == 1]
        pairs = min(2000, len(fringe_o) * 4)
        o = [[int(x)] for x in g.choice(fringe_o, pairs)]
        d = [[int(x)] for x in g.choice(fringe_d, pairs)]
        demand = DynamicDemand(o, d, np.full((pairs, 12), 20.0), 0.0, 300.0)
        stations = StationTable.for_edges([ids[i] for i in g.choice(net.n_edges, net.n_edges // 3, replace=False)])
        model = LiveModel(net, demand, stations, step_s=60.0, horizon_s=3600.0, signals=False)
        model.update(1800.0)                           # compiles and loads once
        t0 = time.perf_counter()
        model.update(2100.0)
        step = time.perf_counter() - t0
        busiest = np.argsort(-model.run["inflow_veh_h"].values.mean(axis=0))[:20]
        t0 = time.perf_counter()
        for k, e in enumerate(busiest):
            h = int(net.head[e])
            avoid = (ids[int(e)],)
            model.load(diversions=[Diversion(ids[int(e)], avoid, 0.3 + 0.03 * k, 2100.0, 3900.0)]) if h >= 0 else None
        resp = time.perf_counter() - t0
        res["speed"].append({"n": n, "links": net.n_edges, "pairs": pairs, "step_s": step, "responses_s": resp})
        _write(out, res)
        print(json.dumps(res["speed"][-1]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="101,102,103,104,105,106,107,108,109,110,111,112",
                    help="case seeds (7 and 201-210 were used to develop the method)")
    ap.add_argument("--sizes", default="10,25,50")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    a = ap.parse_args()
    res: dict = {}
    if a.sizes:
        run_speed([int(x) for x in a.sizes.split(",")], res, a.out)
    if a.seeds:
        run_cases([int(x) for x in a.seeds.split(",")], res, a.out)


if __name__ == "__main__":
    main()
