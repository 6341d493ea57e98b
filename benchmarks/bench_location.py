"""Location models on OR-Library: every p-median (pmed1-20) and capacitated (cap41-134) instance against its
published optimum, time to the proven optimum, and the ratio against the plain MIP in the same run.

    python benchmarks/bench_location.py [--repeat 3] [--pmed 1-20] [--skip-cap] [--no-reference]
    python benchmarks/bench_location.py --scale [--cst 100x1000:8,200x2000:2] [--city 10,50,200] [--plain-cap-s 120]

``--scale`` runs the generated instances instead (:mod:`optimise.instances`): capacitated ones in the style of
Cornuejols, Sridharan & Thizy (capacity ratios 3, 5, 7, 10 in turn, seeds 1, 2, ...; time limit 60 s at
100 x 1,000 and 120 s beyond, the targets), and p-median and maximal covering (radius 1,000 m) on a
10,000-node street grid with 1,000 candidate sites (time limit 120 s). Each is solved once by the default method
and once by the plain MIP capped at ``--plain-cap-s``; optima recorded in ``benchmarks/data/location_optima.json``
(by ``benchmarks/record_location_optima.py``) are shown where there is one. Writes
benchmarks/results/location_scale.md and .json, row by row.

"ours" is ``method="reduce"`` (Lagrangian bound and site fixing before the MIP), timed ``--repeat`` times
(median and slowest reported; the targets are on the slowest); "plain MIP" is ``method="mip"``, the same
formulation solved over every site, once. Times include building the model. Numba compiles (or loads from
its cache) the p-median kernels on the first call; that one-off cost is measured first and reported apart.
Writes benchmarks/results/location.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = {"pmed": 5.0, "cap": 1.0}


def _timed(fn, repeat: int):
    times, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return res, times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit-s", type=float, default=600.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pmed", default="1-20", help="range of pmed instances, e.g. 6-10")
    ap.add_argument("--skip-cap", action="store_true")
    ap.add_argument("--no-reference", action="store_true", help="skip the plain MIP")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "location.md")
    ap.add_argument("--scale", action="store_true", help="run the generated city-scale instances instead")
    ap.add_argument("--cst", default="100x1000:8,200x2000:2", help="capacitated sizes and counts, SITESxCUSTOMERS:COUNT")
    ap.add_argument("--city", default="10,50,200", help="p values for p-median and maximal covering at 10,000 x 1,000")
    ap.add_argument("--city-seed", type=int, default=1)
    ap.add_argument("--plain-cap-s", type=float, default=120.0, help="time cap of the plain MIP in --scale")
    ap.add_argument("--plain-max-nnz", type=float, default=3e6,
                    help="a plain p-median MIP with more non-zeros is not built (10M take over 17 GB here)")
    args = ap.parse_args()
    if args.scale:
        return scale(args)

    import optimise
    from mobility.orlib import read_cap, read_optima, read_pmed

    shared = Path(os.environ.get("MOBILITY_SHARED", ROOT.parent / "shared")) / "benchmarks" / "orlib"
    if not shared.is_dir():
        print(f"skip: {shared} not found")
        return 1
    t0 = time.perf_counter()
    optimise.p_median(np.array([[0.0, 3.0, 5.0], [3.0, 0.0, 4.0], [5.0, 4.0, 0.0]]), 1)
    first_call = time.perf_counter() - t0
    print(f"first call (numba compile or cache load): {first_call:.2f} s", flush=True)

    rows: list[dict] = []

    def run(name: str, size: str, optimum: float, solve) -> None:
        res, times = _timed(lambda: solve("reduce"), args.repeat)
        row = {"instance": name, "size": size, "optimum": optimum, "objective": res.objective, "status": res.status,
               "gap": res.gap, "median_s": statistics.median(times), "max_s": max(times),
               "at_optimum": bool(abs(res.objective - optimum) <= 1e-2)}
        if not args.no_reference:
            ref, (tr,) = _timed(lambda: solve("mip"), 1)
            row |= {"plain_s": tr, "plain_status": ref.status, "plain_objective": ref.objective,
                    "speedup": tr / row["median_s"]}
        rows.append(row)
        ref_txt = f" | plain {row['plain_s']:.2f} s (x{row['speedup']:.0f})" if "plain_s" in row else ""
        print(f"{name}: {res.objective:.3f} (optimum {optimum:.3f}) {res.status} gap {res.gap:.1e} "
              f"median {row['median_s']:.2f} s, max {row['max_s']:.2f} s{ref_txt}", flush=True)

    lo, hi = (int(x) for x in args.pmed.split("-"))
    opt = read_optima(shared / "pmed" / "pmedopt.txt")
    for k in range(lo, hi + 1):
        cost, p = read_pmed(shared / "pmed" / f"pmed{k}.txt")
        run(f"pmed{k}", f"n={cost.shape[0]}, p={p}", opt[f"pmed{k}"],
            lambda method, cost=cost, p=p: optimise.p_median(cost, p, time_limit_s=args.time_limit_s, method=method))
    if not args.skip_cap:
        copt = read_optima(shared / "cap" / "capopt.txt")
        for name in sorted(copt, key=lambda s: int(s[3:])):
            d = read_cap(shared / "cap" / f"{name}.txt")
            run(name, f"m={len(d['capacity'])}, n={len(d['demand'])}", copt[name],
                lambda method, d=d: optimise.capacitated_facility_location(
                    d["cost"], d["demand"], d["capacity"], d["fixed_cost"], time_limit_s=args.time_limit_s,
                    method=method))

    summary = []
    for kind, target in TARGET_S.items():
        sel = [r for r in rows if r["instance"].startswith(kind)]
        if not sel:
            continue
        within = sum(r["max_s"] <= target for r in sel)
        slow = max(sel, key=lambda r: r["max_s"])
        line = (f"- {kind}: {sum(r['at_optimum'] for r in sel)}/{len(sel)} at the published optimum; "
                f"{within}/{len(sel)} within {target:g} s (slowest {slow['instance']} {slow['max_s']:.2f} s)")
        if all("plain_s" in r for r in sel):
            line += (f"; plain MIP {sum(r['plain_s'] for r in sel):.1f} s in all vs {sum(r['median_s'] for r in sel):.1f} s, "
                     f"slowest plain {max(r['plain_s'] for r in sel):.1f} s")
        summary.append(line)
        print(line)
    head = "| instance | size | optimum | ours | status | gap | median s | max s |"
    rule = "|---|---|---|---|---|---|---|---|"
    if not args.no_reference:
        head += " plain MIP s | speed-up |"
        rule += "---|---|"
    lines = [head, rule]
    for r in rows:
        line = (f"| {r['instance']} | {r['size']} | {r['optimum']:.3f} | {r['objective']:.3f} | {r['status']} | "
                f"{r['gap']:.1e} | {r['median_s']:.2f} | {r['max_s']:.2f} |")
        if "plain_s" in r:
            line += f" {r['plain_s']:.2f} | {r['speedup']:.1f} |"
        lines.append(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = ("# OR-Library location instances: time to the proven optimum\n\n"
            f"Generated by `benchmarks/bench_location.py --repeat {args.repeat}` (HiGHS through OR-Tools, time limit "
            f"{args.time_limit_s:g} s). \"ours\" is the default `method=\"reduce\"`; \"plain MIP\" is `method=\"mip\"`, "
            "the same formulation over every site, in the same run. Targets: p-median at most 5 s, capacitated at "
            f"most 1 s per instance.\n\nFirst call (numba compile or cache load, once per process): {first_call:.2f} s.\n\n"
            + "\n".join(summary) + "\n\n" + "\n".join(lines) + "\n")
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(args.out)
    js = args.out.with_suffix(".json")
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"first_call_s": first_call, "rows": rows}, indent=1))
    tmp.replace(js)
    return 0


RATIOS = (3.0, 5.0, 7.0, 10.0)
OPTIMA = ROOT / "benchmarks" / "data" / "location_optima.json"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def scale(args) -> int:
    """The generated instances: ours against the plain MIP, row by row."""
    import optimise
    from optimise.instances import city_instance, cst_instance
    from optimise.location import _radius_size

    recorded = json.loads(OPTIMA.read_text()) if OPTIMA.is_file() else {}
    out = ROOT / "benchmarks" / "results" / "location_scale.md"
    # rows of instances not run now are kept from the last run, so parts can be rerun alone
    rows: list[dict] = []
    if out.with_suffix(".json").is_file():
        rows = json.loads(out.with_suffix(".json").read_text()).get("rows", [])

    def emit() -> None:
        lines = ["| instance | model | limit s | ours | status | bound | gap | s | plain MIP | plain status | plain gap "
                 "| plain s | recorded optimum |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            rec = recorded.get(r["instance"], {})
            rec_txt = f"{rec['objective']:.3f} ({rec['status']})" if rec else "-"
            lines.append(f"| {r['instance']} | {r['model']} | {r['limit_s']:g} | {r['objective']:.3f} | {r['status']} | "
                         f"{r['bound']:.3f} | {r['gap']:.2e} | {r['seconds']:.1f} | {r['plain_objective']:.3f} | "
                         f"{r['plain_status']} | {r['plain_gap']:.2e} | {r['plain_s']:.1f} | {rec_txt} |")
        met = [r for r in rows if r["status"] == "OPTIMAL" and r["seconds"] <= r["limit_s"]]
        text = ("# Location at city scale: generated instances\n\n"
                "Generated by `benchmarks/bench_location.py --scale` (HiGHS through OR-Tools). \"ours\" is the default "
                "method with the instance's time limit (the target); \"plain MIP\" is `method=\"mip\"` capped at "
                f"{args.plain_cap_s:g} s, in the same run. A plain MIP that found no solution shows inf.\n\n"
                f"Proven optimal within the limit: {len(met)} of {len(rows)}.\n\n" + "\n".join(lines) + "\n")
        _write(out, text)
        _write(out.with_suffix(".json"), json.dumps({"rows": rows}, indent=1))

    def run(name: str, model: str, limit: float, solve, too_big: str | None = None) -> None:
        t0 = time.perf_counter()
        res = solve("reduce", limit)
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        if too_big is not None:
            plain = (float("nan"), f"NOT RUN ({too_big})", float("nan"))
        else:
            try:
                ref = solve("mip", args.plain_cap_s)
                plain = (ref.objective, ref.status, ref.gap)
            except ValueError:  # no solution within the cap
                plain = (float("inf"), "NO SOLUTION", float("inf"))
        plain_s = time.perf_counter() - t0
        rows[:] = [r for r in rows if r["instance"] != name]
        rows.append({"instance": name, "model": model, "limit_s": limit, "objective": res.objective,
                     "status": res.status, "bound": res.bound, "gap": res.gap, "seconds": took,
                     "open": len(res.sites), "plain_objective": plain[0], "plain_status": plain[1],
                     "plain_gap": plain[2], "plain_s": plain_s})
        print(f"{name} {model}: {res.objective:.3f} {res.status} gap {res.gap:.2e} in {took:.1f} s | plain "
              f"{plain[0]:.3f} {plain[1]} gap {plain[2]:.2e} in {plain_s:.1f} s", flush=True)
        emit()

    if args.city:
        city = city_instance(100, 1000, args.city_seed)
        for p in (int(x) for x in args.city.split(",")):
            nnz = _radius_size(city.weights[:, None] * city.cost, p, np.full(len(city.weights), np.inf))
            big = f"{nnz / 1e6:.1f}M non-zeros" if nnz > args.plain_max_nnz else None
            run(f"{city.name}-p{p}", "p-median", 120.0, lambda method, lim, p=p: optimise.p_median(
                city.cost, p, weights=city.weights, time_limit_s=lim, method=method), big)
            run(f"{city.name}-p{p}-r1000", "maximal covering", 120.0, lambda method, lim, p=p: optimise.maximal_covering(
                city.cost, p, 1000.0, weights=city.weights, time_limit_s=lim, method=method))
    for part in filter(None, args.cst.split(",")):
        size, count = part.split(":")
        m, n = (int(x) for x in size.split("x"))
        limit = 60.0 if m * n <= 100_000 else 120.0
        for k in range(int(count)):
            inst = cst_instance(m, n, RATIOS[k % len(RATIOS)], k + 1)
            run(inst.name, "capacitated", limit, lambda method, lim, inst=inst: optimise.capacitated_facility_location(
                inst.cost, inst.demand, inst.capacity, inst.fixed_cost, time_limit_s=lim, method=method))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
