"""Signal controllers on the RESCO scenarios, the two shipped ones and the robustness set's report half.

Runs ``mobility.signals.evaluate`` (no teleporting, RESCO's delay) for every scenario and writes a
Markdown table with the issue's targets checked per map, RESCO's published figures beside ours, and
each scenario's Dataset:

    python benchmarks/bench_signals.py [--seeds 5] [--processes 2] [--out benchmarks/results]
    python benchmarks/bench_signals.py --scenarios resco_cologne1,corridor5 --controllers adaptive

The robustness set (``networks/robustness.py``) is built into a temporary folder: its report half
(``halves()``, split by ``SPLIT_SEED`` before any controller was tuned) at under, near and over
saturation. ``--robustness develop`` runs the half the controllers were developed on instead.

Results are merged per scenario and controller with the last run's ``signals_table.json``, so one
controller can be re-run alone; the table says which date each cell comes from.

RESCO scenarios are read from ../shared/benchmarks/resco (``MOBILITY_SHARED`` overrides ../shared)
and skipped with a message when absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESCO = ["resco_cologne1", "resco_cologne3", "resco_cologne8", "resco_ingolstadt1", "resco_grid4x4", "resco_arterial4x4"]
SHIPPED = ["grid3x3", "corridor5"]
CONTROLLERS = ["fixed", "actuated", "maxpressure", "adaptive", "optimised"]
#: RESCO paper (SUMO 1.9), mean delay in s: fixed, max-pressure, greedy, best learned.
PUBLISHED = {
    "resco_cologne1": (56.61, 65.85, 27.81, "26.05 (IDQN)"),
    "resco_ingolstadt1": (39.40, 23.62, 28.32, "20.90 (IPPO)"),
    "resco_cologne8": (63.77, 47.73, 21.87, "21.62 (IPPO)"),
    "resco_grid4x4": (None, 52.55, 34.32, "32.95 (IDQN)"),
}


def _robustness_module():
    spec = importlib.util.spec_from_file_location("robustness", ROOT / "networks" / "robustness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def robustness_scenarios(half: str, out: Path) -> dict[str, Path]:
    """name -> scenario file of every network of the half at each demand level."""
    rob = _robustness_module()
    dev, rep = rob.halves()
    files: dict[str, Path] = {}
    for name in (rep if half == "report" else dev):
        have = {lv: out / f"{name}_{lv}.yaml" for lv in rob.LEVELS}
        if all(f.is_file() for f in have.values()) and (out / f"{name}.net.xml").is_file():
            files.update({f"{name}_{lv}": f for lv, f in have.items()})  # built before (capacity measured)
            continue
        files.update(rob.scenarios(name, out))
        print(f"built {name}: " + "; ".join(f.read_text().split(chr(10))[0][2:] for f in have.values()), flush=True)
    return files


def _checks(name: str, t: dict) -> list[tuple[str, bool, str]]:
    """Each target of ``optimised`` and ``adaptive`` on one map: (target, met, the figures), where measured.

    - optimised <= own program and <= SUMO actuated, delay and stranded vehicles both;
    - adaptive (with its watchdog): stranded <= own program's, delay <= 1.1 x own program's.

    Stranded: never inserted after waiting at least a minute (a vehicle scheduled in the run's last minute
    says nothing of the control; the never-departed counts are in the table beside it).
    """
    out = []
    if "fixed" not in t:
        return out
    f = t["fixed"]
    if "optimised" in t:
        o = t["optimised"]
        for base, label in (("fixed", "own"), ("actuated", "actuated")):
            if base in t:
                b = t[base]
                ok = o["mean_delay_s"] <= b["mean_delay_s"] + 1e-9 and _stranded(o) <= _stranded(b) + 1e-9
                out.append((f"optimised <= {label} (delay and stranded)", ok,
                            f"optimised vs {label} {(o['mean_delay_s'] / b['mean_delay_s'] - 1) * 100:+.0f}% "
                            f"[{_stranded(o):.1f} vs {_stranded(b):.1f}]"))
    if "adaptive" in t:
        a = t["adaptive"]
        ok = _stranded(a) <= _stranded(f) + 1e-9 and a["mean_delay_s"] <= 1.1 * f["mean_delay_s"] + 1e-9
        out.append(("adaptive <= own (stranded; delay within 10%)", ok,
                    f"adaptive vs own {(a['mean_delay_s'] / f['mean_delay_s'] - 1) * 100:+.0f}% "
                    f"[{_stranded(a):.1f} vs {_stranded(f):.1f}]"))
    return out


def _stranded(r: dict) -> float:
    return float(r.get("stranded", r["never_departed"]))


def _broken(t: dict) -> bool:
    """A map every controller gridlocks on (fewer than half the vehicles arrive under each): it tests nothing."""
    shares = [r["arrived_share"] for r in t.values() if "arrived_share" in r]
    return bool(shares) and max(shares) < 0.5


def _median_gain(rows: list) -> str:
    """optimised against the better of own program and SUMO actuated, on the median map."""
    gains = [t["optimised"]["mean_delay_s"] / min(t["fixed"]["mean_delay_s"], t["actuated"]["mean_delay_s"]) - 1
             for _, t, _ in rows if {"optimised", "fixed", "actuated"} <= set(t) and not _broken(t)]
    if not gains:
        return "no map with optimised, own and actuated"
    import statistics

    m = statistics.median(gains)
    return f"{m * 100:+.1f}% on the median map of {len(gains)} ({'met' if m <= -0.10 else 'NOT met'}: target -10%)"


def _targets(name: str, t: dict) -> str:
    """The targets of one map as a table cell: the figures, met or not."""
    return "; ".join(f"{text}: {'yes' if ok else 'NO'}" for _, ok, text in _checks(name, t))


def _save_cells(path: Path, name: str, table: dict) -> None:
    """Merge one scenario's cells into the saved table as soon as they are measured (temporary file, rename)."""
    merged: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}
    merged.setdefault(name, {}).update(table)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(merged, indent=1, default=float))
    tmp.replace(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--scenarios", default="all",
                    help="comma-separated names (RESCO, shipped, <robustness net>_<level>), or all")
    ap.add_argument("--robustness", choices=("report", "develop", "none"), default="report")
    ap.add_argument("--robustness-dir", type=Path, default=None,
                    help="build the robustness scenarios here (kept; built again only where missing)")
    ap.add_argument("--controllers", default=",".join(CONTROLLERS))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--table-only", action="store_true", help="write the table from the saved cells, run nothing")
    args = ap.parse_args()

    import mobility as mb
    from mobility.results import save_results
    from mobility.signals.evaluate import evaluate, summary_table

    shared = Path(os.environ.get("MOBILITY_SHARED", ROOT.parent / "shared"))
    args.out.mkdir(parents=True, exist_ok=True)
    controllers = args.controllers.split(",")
    files = {n: ROOT / "scenarios" / "signal_control" / f"{n}.yaml" for n in RESCO + SHIPPED}
    tmp = Path(tempfile.mkdtemp(prefix="bench-signals-"))
    if args.table_only:
        args.robustness, args.scenarios = "none", ""
    if args.robustness != "none":
        folder = args.robustness_dir or tmp
        folder.mkdir(parents=True, exist_ok=True)
        files.update(robustness_scenarios(args.robustness, folder))
    wanted = list(files) if args.scenarios == "all" else [w for w in args.scenarios.split(",") if w]
    today = dt.date.today().isoformat()
    rows = []
    for name in wanted:
        if name not in files:
            print(f"skip {name}: not a scenario of this benchmark ({', '.join(files)})", flush=True)
            continue
        if name.startswith("resco_") and not (shared / "benchmarks" / "resco" / name[6:]).is_dir():
            print(f"skip {name}: {shared / 'benchmarks' / 'resco' / name[6:]} not found", flush=True)
            continue
        sc = mb.load_scenario(files[name])
        sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
        t0 = time.perf_counter()
        ds = evaluate(sc, controllers, seeds=list(range(1, args.seeds + 1)), processes=args.processes)
        save_results(ds, args.out / f"signals_{name}.nc")
        table = {r["controller"]: {**r, "date": today} for r in summary_table(ds)}
        for c, r in table.items():  # arrived share: a map every controller gridlocks on tests nothing
            sub = ds.sel(controller=c)
            done = float(sub["vehicles_arrived"].mean())
            r["arrived_share"] = done / max(done + float(sub["unfinished"].mean()) + float(sub["never_departed"].mean()), 1.0)
        rows.append((name, table, time.perf_counter() - t0))
        _save_cells(args.out / "signals_table.json", name, table)
        print(name, {c: round(r["mean_delay_s"], 1) for c, r in table.items()}, f"{time.perf_counter() - t0:.0f} s", flush=True)
    if not rows and not args.table_only:
        print("nothing run")
        return 1
    # cells not run this time keep their values from the last run (the table gives each cell's date)
    merged: dict[str, dict] = json.loads((args.out / "signals_table.json").read_text())
    order = RESCO + SHIPPED
    names = sorted(merged, key=lambda n: (order.index(n) if n in order else len(order), n))
    shown = [c for c in CONTROLLERS if any(c in merged[n] for n in names)]
    shown += sorted({c for n in names for c in merged[n]} - set(shown))
    controllers = shown
    rows = [(n, merged[n], 0.0) for n in names]
    lines = [
        f"# Signal controllers: mean delay (s), {args.seeds} seeds",
        "",
        (f"Generated by `benchmarks/bench_signals.py`, SUMO {mb.installed_versions().get('eclipse-sumo')}. "
         "Delay as RESCO defines it (timeLoss + departDelay over every scheduled vehicle; never-departed vehicles wait until "
         "the end), no teleporting. Mean over seeds (± sd); in brackets the mean counts of never-departed vehicles and of "
         "the stranded among them (waiting a minute or more). "
         "Robustness maps: `<network>_<level>`, the report half of `networks/robustness.py` at under / near / over "
         "saturation (0.6 / 0.9 / 1.15 of the demand SUMO actuated serves). Dates of the cells: "
         + ", ".join(sorted({str(c.get("date", "2026-12-03")) for _, t, _ in rows for c in t.values()})) + "."),
        "",
        "| scenario | " + " | ".join(controllers) + " | best | best vs fixed | best vs actuated | targets |",
        "|---|" + ("---|" * (len(controllers) + 4)),
    ]
    for name, table, _ in rows:
        cells = [f"{table[c]['mean_delay_s']:.1f} ± {table[c]['mean_delay_sd_s']:.1f} [{table[c]['never_departed']:.1f} / "
                 f"{_stranded(table[c]):.1f}]"
                 if c in table else "" for c in controllers]
        own = [c for c in controllers if c not in ("fixed", "actuated") and c in table]
        best = min(own, key=lambda c: table[c]["mean_delay_s"])
        b = table[best]["mean_delay_s"]
        vs_fixed = f"{(b / table['fixed']['mean_delay_s'] - 1) * 100:+.0f}%" if "fixed" in table else "-"
        vs_act = f"{(b / table['actuated']['mean_delay_s'] - 1) * 100:+.0f}%" if "actuated" in table else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {best} | {vs_fixed} | {vs_act} | {_targets(name, table)} |")
    met: dict[str, list[str]] = {}
    broken = [name for name, table, _ in rows if _broken(table)]
    for name, table, _ in rows:
        if name in broken:
            continue
        for target, ok, _ in _checks(name, table):
            met.setdefault(target, []).append("" if ok else name)
    lines += ["", "Targets met (maps where not):", ""]
    for target, names in met.items():
        missed = [n for n in names if n]
        lines.append(f"- {target}: {len(names) - len(missed)} of {len(names)}" + (f" (not on {', '.join(missed)})" if missed else ""))
    lines.append(f"- optimised at least 10% below the better of own and actuated: {_median_gain(rows)}")
    if broken:
        lines.append(f"- left out as broken (every controller leaves more than half the vehicles waiting or driving): "
                     f"{', '.join(broken)}")
    claims = [(n, t["adaptive"]["mean_delay_s"] / t["actuated"]["mean_delay_s"] - 1) for n, t, _ in rows
              if {"adaptive", "actuated"} <= set(t) and t["adaptive"]["mean_delay_s"] < t["actuated"]["mean_delay_s"]]
    lines.append("- adaptive below SUMO actuated on: " + (", ".join(f"{n} ({g * 100:+.0f}%)" for n, g in claims) or "no map"))
    lines += ["", "RESCO published (SUMO 1.9): fixed / max-pressure / greedy / best learned", ""]
    lines += ["| scenario | fixed | max-pressure | greedy | best learned |", "|---|---|---|---|---|"]
    for name, (f, mp, gr, best) in PUBLISHED.items():
        lines.append(f"| {name} | {f if f is not None else 'n/a'} | {mp} | {gr} | {best} |")
    (args.out / "signals_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"total {sum(t for *_, t in rows):.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
