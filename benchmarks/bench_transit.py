"""Transit signal priority: every priority option against none, per map and signal controller, in SUMO.

Writes ``benchmarks/results/transit.md`` (and ``transit.json``), one block per map and controller as it
finishes. The maps: the shipped corridor (``scenarios/transit/corridor5_bus.yaml``, a bus every 6 min each way
along 5 signals) and the generated 3x3 grid with two crossing lines (``scenarios/transit/grid3x3_bus.yaml``, a
bus every 8 min each way).

The best option is chosen on the development seeds (``--dev-seeds``, default 1 2): the largest cut of bus delay
at signals whose car delay rises at most 3%. The targets are then judged on the evaluation seeds (``--seeds``,
default 11-15), which played no part in the choice or in setting the priority rules.

    python benchmarks/bench_transit.py [--controllers fixed,actuated,adaptive] [--maps corridor,grid]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPS = {"corridor": "scenarios/transit/corridor5_bus.yaml", "grid": "scenarios/transit/grid3x3_bus.yaml"}
OPTIONS = ["none", "extension", "early-green", "both", "conditional"]
CAR_LIMIT = 0.03
BUS_TARGET = 0.15


def _means(ds) -> dict[str, dict[str, float]]:
    out = {}
    for opt in ds["priority"].values:
        d = ds.sel(priority=opt)
        out[str(opt)] = {k: float(d[k].mean("seed")) for k in ("bus_signal_delay_s", "bus_travel_time_s",
                                                             "mean_arrival_delay_s", "headway_cv", "car_delay_s",
                                                             "cars_undeparted", "priority_actions", "safety_violations")}
    return out


def _best(m: dict[str, dict[str, float]]) -> str | None:
    base = m["none"]
    ok = [o for o in m if o != "none" and m[o]["car_delay_s"] <= base["car_delay_s"] * (1 + CAR_LIMIT)]
    return min(ok, key=lambda o: m[o]["bus_signal_delay_s"]) if ok else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--controllers", default="fixed,actuated,adaptive")
    ap.add_argument("--maps", default="corridor,grid")
    ap.add_argument("--dev-seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()

    import mobility as mb
    from mobility.study import load_study

    args.out.mkdir(parents=True, exist_ok=True)
    md_path, js_path = args.out / "transit.md", args.out / "transit.json"
    rows: list[dict] = json.loads(js_path.read_text()) if js_path.is_file() else []
    for map_name in args.maps.split(","):
        for ctl in args.controllers.split(","):
            t0 = time.perf_counter()
            study = load_study(ROOT / MAPS[map_name])
            study = type(study)(study.kind, study.spec.model_copy(update={"controller": ctl}), study.scenario,
                                study.network, study.extras)
            dev = mb.compare(study, OPTIONS, seeds=args.dev_seeds, workers=args.workers)
            best = _best(_means(dev))
            ev = mb.compare(study, OPTIONS, seeds=args.seeds, workers=args.workers)
            m = _means(ev)
            base = m["none"]
            row = {"map": map_name, "controller": ctl, "best_on_dev": best, "seeds": args.seeds,
                   "dev_seeds": args.dev_seeds, "means": m, "table": mb.format_table(ev),
                   "seconds": round(time.perf_counter() - t0, 1), "date": dt.date.today().isoformat()}
            if best is not None:
                bus_cut = 1 - m[best]["bus_signal_delay_s"] / base["bus_signal_delay_s"]
                car_rise = m[best]["car_delay_s"] / base["car_delay_s"] - 1
                row.update(bus_cut=bus_cut, car_rise=car_rise,
                           met=bool(bus_cut >= BUS_TARGET and car_rise <= CAR_LIMIT))
            rows = [r for r in rows if not (r["map"] == map_name and r["controller"] == ctl)] + [row]
            js_path.write_text(json.dumps(rows, indent=1))
            _write_md(md_path, rows)
            print(f"{map_name}/{ctl}: best on dev {best}; {row.get('bus_cut', float('nan')):.1%} bus, "
                  f"{row.get('car_rise', float('nan')):+.1%} car ({row['seconds']} s)", flush=True)
    return 0


def _write_md(path: Path, rows: list[dict]) -> None:
    out = ["# Transit signal priority", "",
           "Bus delay at signals (time over the last 200 m before each stop line beyond what the distance takes "
           "at the allowed speed, bus-stop time excepted; per finished trip) and car delay (mean time loss of the "
           "other vehicles) per priority option, mean +/- sd over the evaluation seeds. Target: the best option "
           f"(chosen on the development seeds) cuts bus delay at signals by at least {BUS_TARGET:.0%} with car "
           f"delay up at most {CAR_LIMIT:.0%}.", "",
           "| map | controller | best option (dev seeds) | bus delay cut | car delay change | target |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("best_on_dev") is None:
            out.append(f"| {r['map']} | {r['controller']} | none within the car limit | - | - | NOT met |")
            continue
        out.append(f"| {r['map']} | {r['controller']} | {r['best_on_dev']} | {r['bus_cut']:.1%} | {r['car_rise']:+.1%} "
                   f"| {'met' if r['met'] else 'NOT met'} |")
    for r in rows:
        out += ["", f"## {r['map']}, {r['controller']} (seeds {', '.join(map(str, r['seeds']))}; {r['seconds']} s, "
                f"{r['date']})", "", r["table"]]
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
