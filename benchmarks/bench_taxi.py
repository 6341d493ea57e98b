"""Taxi dispatch: the toolkit's assignment dispatcher against SUMO's built-in algorithms, and fleet sizing.

Writes ``benchmarks/results/taxi.md`` (and ``taxi.json``) for the shipped study
``scenarios/transit/district_taxi.yaml`` (180 requests/h in the 5x5 district among its through traffic):

1. every dispatcher at the study's fleet size on the evaluation seeds (``--seeds``, default 11-15; seeds 1-2 were
   used while building the dispatcher): mean and p95 wait, unserved requests, empty km. Target: ``assignment``
   no worse than SUMO's best built-in algorithm on mean wait;
2. a fleet-size sweep (the study's ``sizes``) with ``assignment`` and with the best built-in algorithm: the
   smallest fleet whose mean wait meets the study's target.

``--electric`` instead judges charging layouts by the battery fleet they serve
(``scenarios/transit/district_etaxi.yaml``): the EV charging study's p-median and greedy layouts and three random
ones (4 stations each), waits and charging of the same fleet, written to ``benchmarks/results/taxi_electric.md``.

    python benchmarks/bench_taxi.py [--seeds 11 12 13 14 15] [--workers 2] [--electric]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "scenarios" / "transit" / "district_taxi.yaml"
BUILTIN = ["greedy", "greedyClosest", "greedyShared", "routeExtension"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--electric", action="store_true", help="judge charging layouts by the battery fleet instead")
    args = ap.parse_args()
    if args.electric:
        return _electric(args)

    import mobility as mb
    from mobility.study import load_study
    from mobility.transit.taxi import fleet_size_sweep, smallest_fleet

    t0 = time.perf_counter()
    study = load_study(STUDY)
    ds = mb.compare(study, [*BUILTIN, "assignment"], seeds=args.seeds, workers=args.workers,
                    progress=lambda i, n, what: print(f"  {i}/{n} {what}", flush=True))
    wait = {str(d): float(ds["mean_waiting_s"].sel(dispatcher=d).mean()) for d in ds["dispatcher"].values}
    best = min(BUILTIN, key=lambda d: wait[d])
    met = wait["assignment"] <= wait[best]
    table = mb.format_table(ds)
    print(table, flush=True)
    sweeps = {}
    for d in ("assignment", best):
        sw = fleet_size_sweep(study, d, seeds=args.seeds, workers=args.workers)
        sweeps[d] = {"sizes": [int(n) for n in sw["fleet"].values],
                     "mean_waiting_s": [float(v) for v in sw["mean_waiting_s"].mean("seed").values],
                     "p95_waiting_s": [float(v) for v in sw["p95_waiting_s"].mean("seed").values],
                     "unserved": [float(v) for v in sw["unserved"].mean("seed").values],
                     "smallest": smallest_fleet(sw)}
        print(d, sweeps[d], flush=True)
    row = {"study": study.name, "seeds": args.seeds, "fleet_size": study.spec.fleet_size, "mean_waiting_s": wait,
           "best_builtin": best, "met": met, "table": table, "sweeps": sweeps,
           "waiting_target_s": study.spec.waiting_target_s, "seconds": round(time.perf_counter() - t0, 1),
           "date": dt.date.today().isoformat()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "taxi.json").write_text(json.dumps(row, indent=1))
    lines = ["# Taxi dispatch", "",
             f"Study `{study.name}`: {study.spec.fleet_size} taxis, seeds {', '.join(map(str, args.seeds))} "
             f"(not used while building the dispatcher), dispatch every {study.spec.dispatch_period_s:g} s.", "",
             f"Target: `assignment` no worse than SUMO's best built-in ({best}) on mean wait: "
             f"{wait['assignment']:.0f} s against {wait[best]:.0f} s, **{'met' if met else 'NOT met'}**.", "", table, "",
             f"## Fleet size for a mean wait of at most {study.spec.waiting_target_s:g} s", "",
             "| dispatcher | " + " | ".join(f"{n} taxis" for n in sweeps["assignment"]["sizes"]) + " | smallest |",
             "|---|" + "---|" * (len(sweeps["assignment"]["sizes"]) + 1)]
    for d, s in sweeps.items():
        lines.append(f"| {d} | " + " | ".join(f"{w:.0f} s" for w in s["mean_waiting_s"]) + f" | {s['smallest']} |")
    lines += ["", f"({row['seconds']} s, {row['date']})"]
    (args.out / "taxi.md").write_text("\n".join(lines) + "\n")
    return 0


def _electric(args: argparse.Namespace) -> int:
    import mobility as mb
    from mobility.study import load_study

    t0 = time.perf_counter()
    base = load_study(ROOT / "scenarios" / "transit" / "district_etaxi.yaml")
    words = ["optimal:pmedian:p=4", "greedy:p=4", "random:p=4,seed=1", "random:p=4,seed=2", "random:p=4,seed=3"]
    rows = []
    for w in words:
        spec = base.spec.model_copy(update={"electric": base.spec.electric.model_copy(update={"layout_word": w})})
        st = type(base)(base.kind, spec, base.scenario, base.network)
        ds = mb.compare(st, ["assignment"], seeds=args.seeds, workers=args.workers).sel(dispatcher="assignment")
        rows.append({"layout": w, **{k: float(ds[k].mean()) for k in ("mean_waiting_s", "p95_waiting_s", "unserved",
                                                                      "charging_visits", "depleted_taxis", "mean_final_soc")}})
        print(rows[-1], flush=True)
    lines = ["# Charging layouts judged by the battery taxi fleet", "",
             f"Study `{base.name}`: {base.spec.fleet_size} battery taxis ({base.spec.electric.battery_kwh:g} kWh, leaving with "
             "15-50% charge), the `assignment` dispatcher, seeds " + ", ".join(map(str, args.seeds)) + ".", "",
             "| layout | wait s | wait p95 s | unserved | charging visits | depleted | final charge |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['layout']} | {r['mean_waiting_s']:.0f} | {r['p95_waiting_s']:.0f} | {r['unserved']:.1f} | "
                     f"{r['charging_visits']:.1f} | {r['depleted_taxis']:.1f} | {r['mean_final_soc']:.0%} |")
    lines += ["", f"({time.perf_counter() - t0:.0f} s, {dt.date.today().isoformat()})"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "taxi_electric.md").write_text("\n".join(lines) + "\n")
    (args.out / "taxi_electric.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
