"""The dynamic traffic engine against SUMO at the same demand: link travel times and queues.

    python benchmarks/bench_dta_sumo.py [--scenarios corridor5,resco_cologne8] [--seeds 3] [--out benchmarks/results]

Each scenario runs in SUMO (its own signal programs, no teleporting, ``--seeds`` seeds, edge data every 5
minutes) and through ``mb.dta(method="dnl")`` on the same network and demand (the scenario's OD pairs or its
own route files: vehicles with routes keep them, trips take their free-flow cheapest route, as SUMO routes
them at insertion; signals as each turn's green share of the cycle). Compared over the scenario's window,
with one definition on both sides:

- **travel time per edge**: by Little's law, vehicle-seconds on the edge over vehicles entering it, over the
  whole window (SUMO: ``sampledSeconds / entered``) on every edge at least ``MIN_VEH`` vehicles entered; and
  per 5-minute interval on the (edge, interval) cells with at least ``MIN_VEH`` vehicles;
- **queue per edge**: the mean vehicles on the edge beyond those its inflow puts there at free speed
  (``vehicles - inflow x free-flow time``; the engine's ``queue_veh``), and SUMO's halting vehicles beside it;
- **totals**: vehicle-hours on the network in the window and vehicles arrived.

The engine runs twice: fixed-time signals phase by phase (its default) and as cycle-average capacities.

Reports the median and 90th-percentile relative error of edge travel times, the share of edges within 20%
and 35%, queue errors in vehicles, and the wall time of each side. Writes ``dta_sumo.json`` and
``dta_sumo.md`` in ``--out``. The RESCO map is read by path from ``../shared/benchmarks/resco`` (skipped with
a reason when absent).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import mobility as mb  # noqa: E402
from mobility._sumo import installed_versions  # noqa: E402
from mobility.dta import demand_from_scenario, dta  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("MOBILITY_SHARED", ROOT.parent / "shared"))
SCENARIOS = {"corridor5": ROOT / "scenarios" / "signal_control" / "corridor5.yaml",
             "resco_cologne8": ROOT / "scenarios" / "signal_control" / "resco_cologne8.yaml"}
INTERVAL_S = 300.0
MIN_VEH = 20.0          # vehicles an edge (or an edge's interval) needs to be compared


def sumo_side(sc: mb.Scenario, seeds: list[int]) -> dict[str, np.ndarray | float]:
    """Mean over seeds of SUMO's edge data on (interval, edge) and its totals."""
    sc = sc.model_copy(update={
        "sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0}),
        "outputs": sc.outputs.model_copy(update={"interval_s": INTERVAL_S, "edge_data": True, "trips": True})})
    runs, wall = [], 0.0
    for s in seeds:
        t = time.perf_counter()
        ds = mb.run_scenario(sc, seed=s)
        wall += time.perf_counter() - t
        runs.append(ds)
        print(f"  SUMO seed {s}: {time.perf_counter() - t:.1f} s", flush=True)
    edges = [str(e) for e in runs[0]["edge"].values]
    mean = {k: np.mean([r[k].values for r in runs], axis=0)
            for k in ("edge_vehicles", "edge_halting", "edge_entered")}
    arrived = np.mean([float(np.asarray(r["trip_arrived"].values, dtype=bool).sum()) for r in runs])
    return {"edges": edges, "time": runs[0]["time"].values, **mean, "arrived": float(arrived),
            "wall_s": wall / len(seeds)}


def engine_side(sc: mb.Scenario, net: mb.RoadNetwork, signals: str = "phases") -> dict[str, np.ndarray | float]:
    """The engine's loading of the scenario's demand, on the window's 5-minute intervals."""
    dem = demand_from_scenario(sc, net, interval_s=60.0)
    kw = {"method": "dnl", "interval_s": INTERVAL_S, "horizon_s": sc.end_s - sc.begin_s, "signals": signals}
    dta(net, dem, **kw)  # compiles the kernels
    t = time.perf_counter()
    ds = dta(net, dem, **kw)
    wall = time.perf_counter() - t
    hours = INTERVAL_S / 3600.0
    return {"edges": [str(e) for e in ds["edge"].values], "time": ds["time"].values,
            "edge_vehicles": ds["vehicles"].values, "edge_queue": ds["queue_veh"].values,
            "edge_entered": ds["inflow_veh_h"].values * hours,
            "arrived": float(ds.attrs["arrived_veh"]), "wall_s": wall}


def compare(sc: mb.Scenario, sumo: dict, ours: dict, free_s: dict[str, float]) -> dict:
    """The error measures of the module docstring."""
    pos = {e: i for i, e in enumerate(ours["edges"])}
    common = [e for e in sumo["edges"] if e in pos and e in free_s]
    si = np.array([sumo["edges"].index(e) for e in common])
    oi = np.array([pos[e] for e in common])
    n = min(len(sumo["time"]), len(ours["time"]))
    s_veh, s_in = sumo["edge_vehicles"][:n, si], sumo["edge_entered"][:n, si]
    s_halt = sumo["edge_halting"][:n, si]
    o_veh, o_in = ours["edge_vehicles"][:n, oi], ours["edge_entered"][:n, oi]
    fs = np.array([free_s[e] for e in common])
    # travel time over the window: vehicle-seconds over vehicles entering
    s_tt = s_veh.sum(0) * INTERVAL_S / np.maximum(s_in.sum(0), 1e-9)
    o_tt = o_veh.sum(0) * INTERVAL_S / np.maximum(o_in.sum(0), 1e-9)
    used = (s_in.sum(0) >= MIN_VEH) & (o_in.sum(0) >= MIN_VEH)
    rel = np.abs(o_tt[used] - s_tt[used]) / s_tt[used]
    # per interval
    cell = (s_in >= MIN_VEH) & (o_in >= MIN_VEH)
    s_cell = s_veh * INTERVAL_S / np.maximum(s_in, 1e-9)
    o_cell = o_veh * INTERVAL_S / np.maximum(o_in, 1e-9)
    rel_cell = np.abs(o_cell[cell] - s_cell[cell]) / s_cell[cell]
    # queues: vehicles beyond the free-flow count, mean over the window
    s_q = np.maximum(s_veh - s_in / INTERVAL_S * fs, 0.0).mean(0)
    o_q = ours["edge_queue"][:n, oi].mean(0)
    queued = used & ((s_q >= 1.0) | (o_q >= 1.0))
    q_err = np.abs(o_q - s_q)[queued]
    worst = np.argsort(-np.abs(o_q - s_q) * used)[:5]
    return {
        "edges_compared": int(used.sum()), "cells_compared": int(cell.sum()),
        "tt_median_rel_error": float(np.median(rel)), "tt_p90_rel_error": float(np.quantile(rel, 0.9)),
        "tt_within_20pct": float(np.mean(rel <= 0.2)), "tt_within_35pct": float(np.mean(rel <= 0.35)),
        "tt_cell_median_rel_error": float(np.median(rel_cell)) if rel_cell.size else float("nan"),
        "tt_weighted_mean_sumo_s": float((s_tt[used] * s_in.sum(0)[used]).sum() / s_in.sum(0)[used].sum()),
        "tt_weighted_mean_ours_s": float((o_tt[used] * o_in.sum(0)[used]).sum() / o_in.sum(0)[used].sum()),
        "queued_edges": int(queued.sum()),
        "queue_median_abs_error_veh": float(np.median(q_err)) if q_err.size else 0.0,
        "queue_p90_abs_error_veh": float(np.quantile(q_err, 0.9)) if q_err.size else 0.0,
        "queue_total_sumo_veh": float(s_q[used].sum()), "queue_total_ours_veh": float(o_q[used].sum()),
        "halting_total_sumo_veh": float(s_halt.mean(0)[used].sum()),
        "veh_hours_sumo": float(s_veh.sum() * INTERVAL_S / 3600.0),
        "veh_hours_ours": float(o_veh.sum() * INTERVAL_S / 3600.0),
        "arrived_sumo": sumo["arrived"], "arrived_ours": ours["arrived"],
        "wall_sumo_s": sumo["wall_s"], "wall_ours_s": ours["wall_s"],
        "largest_queue_differences": [
            {"edge": common[i], "sumo_veh": float(s_q[i]), "ours_veh": float(o_q[i]),
             "tt_sumo_s": float(s_tt[i]), "tt_ours_s": float(o_tt[i])} for i in worst],
    }


def write(rows: dict, seeds: list[int], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "dta_sumo.json.tmp"
    tmp.write_text(json.dumps({"seeds": seeds, "sumo": installed_versions().get("eclipse-sumo"),
                               "scenarios": rows}, indent=1))
    tmp.replace(folder / "dta_sumo.json")
    lines = ["# The dynamic traffic engine against SUMO, same demand", "",
             f"Generated by `benchmarks/bench_dta_sumo.py`. SUMO: mean of seeds {', '.join(map(str, seeds))}, "
             "its own signal programs, no teleporting. Engine: one loading (`method=\"dnl\"`), fixed-time signals "
             "phase by phase (`signals=\"phases\"`, the default; the rows marked cycle-average scale each turn's "
             "capacity by its green share instead). Travel time per edge by Little's law over the window (edges with at least "
             f"{MIN_VEH:g} vehicles on both sides); queue: mean vehicles beyond the free-flow count.", "",
             "| scenario | edges | travel time: median / p90 error | within 20% / 35% | per 5-min cell median error "
             "| mean edge travel time SUMO / ours (s) | queued edges | queue error median / p90 (veh) "
             "| total queue SUMO / ours (veh) | veh-h SUMO / ours | arrived SUMO / ours | wall SUMO / ours (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} |" + " |" * 10)
            continue
        lines.append(
            f"| {name} | {r['edges_compared']} | {r['tt_median_rel_error']:.0%} / {r['tt_p90_rel_error']:.0%} "
            f"| {r['tt_within_20pct']:.0%} / {r['tt_within_35pct']:.0%} | {r['tt_cell_median_rel_error']:.0%} "
            f"| {r['tt_weighted_mean_sumo_s']:.1f} / {r['tt_weighted_mean_ours_s']:.1f} | {r['queued_edges']} "
            f"| {r['queue_median_abs_error_veh']:.1f} / {r['queue_p90_abs_error_veh']:.1f} "
            f"| {r['queue_total_sumo_veh']:.1f} / {r['queue_total_ours_veh']:.1f} "
            f"| {r['veh_hours_sumo']:.1f} / {r['veh_hours_ours']:.1f} | {r['arrived_sumo']:.0f} / {r['arrived_ours']:.0f} "
            f"| {r['wall_sumo_s']:.1f} / {r['wall_ours_s']:.2f} |")
    lines += ["", "Largest queue differences (mean vehicles beyond the free-flow count; travel times in s):", ""]
    for name, r in rows.items():
        if "cycle-average" in name:
            continue
        for d in r.get("largest_queue_differences", []):
            lines.append(f"- {name} `{d['edge']}`: SUMO {d['sumo_veh']:.1f} veh, {d['tt_sumo_s']:.0f} s; "
                         f"ours {d['ours_veh']:.1f} veh, {d['tt_ours_s']:.0f} s")
    tmp = folder / "dta_sumo.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(folder / "dta_sumo.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    a = ap.parse_args()
    seeds = list(range(1, a.seeds + 1))
    rows: dict[str, dict] = {}
    for name in a.scenarios.split(","):
        path = SCENARIOS[name]
        if name.startswith("resco_") and not (SHARED / "benchmarks" / "resco" / name[6:]).is_dir():
            rows[name] = {"skipped": f"{SHARED / 'benchmarks' / 'resco' / name[6:]} not found"}
            print(f"{name}: skipped ({rows[name]['skipped']})", flush=True)
            continue
        sc = mb.load_scenario(path)
        net = mb.load_network(sc.network)
        free_s = {str(e): float(t) for e, t in zip(net.edge_ids, net.free_flow_time, strict=True)}
        print(f"{name}: SUMO", flush=True)
        sumo = sumo_side(sc, seeds)
        print(f"{name}: engine", flush=True)
        rows[name] = compare(sc, sumo, engine_side(sc, net), free_s)
        rows[f"{name} (cycle-average signals)"] = compare(sc, sumo, engine_side(sc, net, "average"), free_s)
        print(f"{name}: {json.dumps({k: v for k, v in rows[name].items() if k != 'largest_queue_differences'})}",
              flush=True)
        write(rows, seeds, a.out)


if __name__ == "__main__":
    main()
