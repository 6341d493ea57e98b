"""Calibration to counts, in one run: the toolkit against Path4GMNS's ODME and SUMO's routeSampler.

    python benchmarks/bench_calibration.py [--static] [--sumo] [--quick]

**Static (TNTP).** Counts are the best-known equilibrium flows on 40% of the links (drawn by seed 1), the
other 60% held out; the seed matrix is the true one with every pair scaled by U(0.5, 1.5) (seed 1). The toolkit
(``estimate_od``, gp) and Path4GMNS (``find_ue`` then ``conduct_odme``, installed from PyPI in its own venv,
benchmarks/.venv-path4gmns) start from the same matrix and counts; the fit is GEH of each one's own
equilibrium flows against the counts. Sioux Falls was used while building; Chicago-Sketch (the issue's case)
and Anaheim were only run here.

**SUMO (synthetic truth).** Each scenario runs once with seed 1 (the truth); SUMO's edge data ('entered' plus
'departed', one hour intervals) at 40% of the edges with traffic are the counts, a quarter of those held out (seed 3). The
start is the truth's routes with the flow of every origin-destination pair scaled by U(0.5, 1.5) (seed 7).
The toolkit calibrates route flows (3 SUMO checks); routeSampler samples routes from the same start routes to
the same fitted counts. Both are then simulated with seed 2 and compared at every count location (GEH < 5
share, mean GEH, RMS in veh/h).
Targets: GEH < 5 at >= 95% of the fitted and >= 85% of the held-out locations, a fit at least as good as either
peer, at least 3x faster than Path4GMNS's ODME. Results: benchmarks/results/calibration.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mobility as mb
from mobility.assignment import _problem
from mobility.calibration import counts_from_rows, estimate_od, geh, read_counts
from mobility.calibration.routes import _bins, _run, calibrate_routes, routes_scenario, simulated_counts

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TNTP = ROOT.parent / "shared" / "benchmarks" / "tntp"
VENV = HERE / ".venv-path4gmns"
RESULTS = HERE / "results"
STATIC = {"SiouxFalls": ("SiouxFalls", None), "Anaheim": ("Anaheim", None), "Chicago-Sketch": ("ChicagoSketch", 388)}
SUMO_SCENARIOS = ["grid3x3", "corridor5", "resco_cologne1", "resco_cologne3", "resco_cologne8", "resco_grid4x4",
                  "resco_arterial4x4", "resco_ingolstadt1"]


def path4gmns_python() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("installing Path4GMNS into", VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "path4gmns", "requests", "numpy"], check=True)
    return py


def _share(m, c):
    return float(np.mean(geh(m, c) < 5.0)) if len(c) else float("nan")


def static_case(name: str, odme_iter: int) -> dict:
    stem, ftn = STATIC[name]
    folder = TNTP / name
    net = mb.network_from_tntp(folder / f"{stem}_net.tntp", **({"first_thru_node": ftn} if ftn else {}))
    od = mb.od_from_tntp(folder / f"{stem}_trips.tntp")
    fr, to, vol, _ = mb.read_tntp_flows(folder / f"{stem}_flow.tntp")
    key = {(int(net.node_ids[net.tail[a]]), int(net.node_ids[net.head[a]])): a for a in range(net.n_edges)}
    flow = np.zeros(net.n_edges)
    for f, t, v in zip(fr, to, vol, strict=True):
        flow[key[(int(f), int(t))]] = v
    rows = [dict(location=str(net.edge_ids[a]), kind="edge", edges=(str(net.edge_ids[a]),), begin_s=0.0,
                 end_s=3600.0, count_veh=float(flow[a]), source=f"{stem}_flow.tntp") for a in range(net.n_edges)]
    counts = counts_from_rows(rows)
    rng = np.random.default_rng(1)
    seed = mb.ODMatrix(od.zone_ids, od.flows * rng.uniform(0.5, 1.5, od.flows.shape))
    t0 = time.perf_counter()
    ds = estimate_od(net, counts, seed, method="gp", holdout=0.6, holdout_seed=1)
    ours_s = time.perf_counter() - t0
    fitted = ds.fitted.values
    out = {"network": name, "links": net.n_edges, "fitted_links": int(fitted.sum()), "ours_s": ours_s,
           "ours_fitted": ds.attrs["fitted_share_geh5"], "ours_held_out": ds.attrs["held_out_share_geh5"],
           "ours_outer": int(np.isfinite(ds.objective.values[0]).sum())}
    # the start's own fit: the seed matrix assigned
    x0 = mb.assign(net, seed, rgap=1e-5).flow.values
    out["seed_fitted"], out["seed_held_out"] = _share(x0[fitted], flow[fitted]), _share(x0[~fitted], flow[~fitted])
    py = path4gmns_python()
    pr, _ = _problem(net, seed, None, None)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "inst.npz"
        idx = np.flatnonzero(fitted)
        np.savez(npz, tail_id=net.node_ids[net.tail].astype(np.int64), head_id=net.node_ids[net.head].astype(np.int64),
                 fft=pr.free_flow_time, fixed=pr.fixed, cap=pr.capacity, b=pr.b, power=pr.power,
                 zone_id=seed.zone_ids.astype(np.int64), seed=seed.flows,
                 count_tail=net.node_ids[net.tail[idx]].astype(np.int64),
                 count_head=net.node_ids[net.head[idx]].astype(np.int64), count=flow[idx])
        t0 = time.perf_counter()
        res = subprocess.run([str(py), str(HERE / "_path4gmns_runner.py"), str(npz), str(Path(tmp) / "gmns"), "20",
                              "20", str(odme_iter)], capture_output=True, text=True, timeout=7200)
        wall = time.perf_counter() - t0
    if res.returncode != 0:
        out["path4gmns_error"] = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"
        return out
    p4 = json.loads(res.stdout.strip().splitlines()[-1])
    v = np.asarray(p4["volume"])
    out.update(p4g_s=p4["ue_s"] + p4["odme_s"], p4g_odme_s=p4["odme_s"], p4g_wall_s=wall,
               p4g_fitted=_share(v[fitted], flow[fitted]), p4g_held_out=_share(v[~fitted], flow[~fitted]),
               p4g_iterations=odme_iter)
    return out


def _route_sampler(start, routes, counts_file: Path, work: Path, net, counts, seed: int) -> tuple[np.ndarray, float]:
    """routeSampler from the start's routes to the fitted counts; simulated counts of its output."""
    import sumo

    tool = Path(sumo.__file__).parent / "tools" / "routeSampler.py"
    work.mkdir(parents=True, exist_ok=True)
    rfile = work / "candidates.rou.xml"
    rfile.write_text("<routes>\n" + "".join(f'  <route id="c{i}" edges="{" ".join(r)}"/>\n'
                                           for i, r in enumerate(routes)) + "</routes>\n")
    out = work / "sampled.rou.xml"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(tool), "-r", str(rfile), "--edgedata-files", str(counts_file), "-o", str(out),
                    "-b", f"{start.begin_s:g}", "-e", f"{start.end_s:g}", "--seed", str(seed),
                    "--attributes", 'type="car"'], check=True, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    from mobility.demand import _vtype_xml
    from mobility.scenario import RouteFileDemand

    vtypes, type_id = _vtype_xml(start)  # the start's vehicle types, so both calibrations drive the same cars
    vfile = work / "vtypes.rou.xml"
    vfile.write_text("<routes>\n" + vtypes + "\n</routes>\n")
    text = out.read_text().replace('type="car"', f'type="{type_id}"')
    out.write_text(text)
    sc = start.model_copy(update={"demand": RouteFileDemand(kind="files", files=[vfile, out])})
    trips, _ = _run(sc, 2, work / "run")
    return simulated_counts(trips, counts), secs


def _rms(modelled: np.ndarray, observed: np.ndarray) -> float:
    """Root mean square difference, veh/h (NaN for no count)."""
    return float(np.sqrt(np.mean((modelled - observed) ** 2))) if len(observed) else float("nan")


def _write_edge_counts(counts, path: Path) -> None:
    ivs = {}
    for loc, b, e, n in zip(counts.location, counts.begin_s, counts.end_s, counts.count_veh, strict=True):
        ivs.setdefault((b, e), []).append(f'    <edge id="{loc}" entered="{n:g}"/>')
    path.write_text("<data>\n" + "".join(f'  <interval id="c" begin="{b:g}" end="{e:g}">\n' + "\n".join(v) + "\n  </interval>\n"
                                        for (b, e), v in sorted(ivs.items())) + "</data>\n")


def sumo_case(name: str, work: Path, start_kind: str = "pairs") -> dict:
    sc = mb.load_scenario(ROOT / "scenarios" / "signal_control" / f"{name}.yaml")
    span = sc.end_s - sc.begin_s
    end = sc.begin_s + min(span, 7200.0) if span >= 3600 else sc.end_s
    sc = sc.model_copy(update={"end_s": end, "outputs": sc.outputs.model_copy(update={"interval_s": min(3600.0, end - sc.begin_s)})})
    net = mb.load_network(sc.network)
    w = work / f"{name}-{start_kind}"
    shutil.rmtree(w, ignore_errors=True)
    w.mkdir(parents=True)
    truth, truth_dir = _run(sc, 1, w / "truth")
    allc = read_counts(truth_dir / "edgedata.xml", net)
    busy = sorted({loc for loc, n in zip(allc.location, allc.count_veh, strict=True) if n > 0})
    rng = np.random.default_rng(7)
    pick = set(rng.choice(busy, max(2, int(round(0.4 * len(busy)))), replace=False).tolist())
    counts = allc.select(np.array([loc in pick for loc in allc.location]))
    bins = _bins(counts, sc.begin_s, sc.end_s)
    nb = len(bins) - 1
    routes = list(dict.fromkeys(t.edges for t in truth))
    r_of = {r: i for i, r in enumerate(routes)}
    x = np.zeros(len(routes) * nb)
    for t in truth:
        j = min(max(int(np.searchsorted(bins, t.depart, "right")) - 1, 0), nb - 1)
        x[r_of[t.edges] * nb + j] += 1.0
    pairs = sorted({(r[0], r[-1]) for r in routes})
    fac = dict(zip(pairs, rng.uniform(0.5, 1.5, len(pairs)) if start_kind == "pairs" else np.full(len(pairs), 0.5),
                   strict=True))
    for r, i in r_of.items():
        x[i * nb:(i + 1) * nb] *= fac[(r[0], r[-1])]
    start = routes_scenario(sc, routes, bins, x)
    t0 = time.perf_counter()
    _, ds = calibrate_routes(start, counts, network=net, holdout=0.25, holdout_seed=3, iterations=3, seed=2,
                             workdir=w / "cal")
    ours_s = time.perf_counter() - t0
    fitted = ds.fitted.values
    obs = counts.flow_veh_h
    out = {"scenario": name, "start": start_kind, "edges": net.n_edges, "count_locations": len(counts.locations), "counts": len(counts),
           "fitted_locations": int(len(set(np.asarray(counts.location)[fitted]))), "vehicles_truth": len(truth),
           "ours_s": ours_s, "ours_fitted": ds.attrs["fitted_share_geh5"], "ours_held_out": ds.attrs["held_out_share_geh5"],
           "ours_fitted_mean_geh": ds.attrs["fitted_mean_geh"], "ours_held_out_mean_geh": ds.attrs["held_out_mean_geh"],
           "seed_fitted": float(np.mean(ds.seed_geh.values[fitted] < 5)),
           "seed_held_out": float(np.mean(ds.seed_geh.values[~fitted] < 5)) if (~fitted).any() else float("nan"),
           "seed_fitted_mean_geh": float(ds.seed_geh.values[fitted].mean()), "conflicts": ds.attrs["conflicts"],
           "ours_fitted_rms": _rms(ds.simulated.values[fitted], obs[fitted]),
           "ours_held_out_rms": _rms(ds.simulated.values[~fitted], obs[~fitted])}
    cfile = w / "fitted_counts.xml"
    _write_edge_counts(counts.select(fitted), cfile)
    try:
        sim, rs_s = _route_sampler(start, routes, cfile, w / "routesampler", net, counts, 2)
        m = sim * 3600.0 / (counts.end_s - counts.begin_s)
        out.update(rs_s=rs_s, rs_fitted=_share(m[fitted], obs[fitted]), rs_held_out=_share(m[~fitted], obs[~fitted]),
                   rs_fitted_mean_geh=float(geh(m[fitted], obs[fitted]).mean()),
                   rs_fitted_rms=_rms(m[fitted], obs[fitted]), rs_held_out_rms=_rms(m[~fitted], obs[~fitted]))
    except subprocess.CalledProcessError as exc:
        out["rs_error"] = (exc.stderr or "").strip().splitlines()[-1:] or ["failed"]
    return out


def _warm_up() -> None:
    """Compile the kernels before anything is timed (numba caches them on disk afterwards)."""
    folder = TNTP / "SiouxFalls"
    net = mb.network_from_tntp(folder / "SiouxFalls_net.tntp")
    od = mb.od_from_tntp(folder / "SiouxFalls_trips.tntp")
    x = mb.assign(net, od, rgap=1e-4).flow.values
    rows = [dict(location=str(e), kind="edge", edges=(str(e),), begin_s=0.0, end_s=3600.0, count_veh=float(v),
                 source="warm-up") for e, v in zip(net.edge_ids, x, strict=True)]
    for method in ("gp", "bfw"):
        estimate_od(net, counts_from_rows(rows), od, method=method, max_outer=1)


def _pct(v):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f}%"


def table(static: list[dict], sumo_rows: list[dict]) -> str:
    lines = []
    if static:
        lines += ["## Static ODME (TNTP; counts on 40% of links, 60% held out; GEH < 5 share)", "",
                  "| network | seed fitted / held out | toolkit fitted / held out | toolkit s | Path4GMNS fitted / held out | Path4GMNS s (UE + ODME) | speed-up |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in static:
            p4 = (f"{_pct(r.get('p4g_fitted'))} / {_pct(r.get('p4g_held_out'))}" if "p4g_s" in r else r.get("path4gmns_error", "-"))
            p4s = f"{r['p4g_s']:.1f}" if "p4g_s" in r else "-"
            ratio = f"{r['p4g_s'] / r['ours_s']:.1f}x" if "p4g_s" in r else "-"
            lines.append(f"| {r['network']} | {_pct(r['seed_fitted'])} / {_pct(r['seed_held_out'])} | "
                         f"{_pct(r['ours_fitted'])} / {_pct(r['ours_held_out'])} | {r['ours_s']:.1f} | {p4} | {p4s} | {ratio} |")
        lines.append("")
    if sumo_rows:
        lines += ["## Route flows checked in SUMO (synthetic truth; GEH < 5 share after simulation, mean GEH)", "",
                  "| scenario | start | locations (fitted) | start fitted / held out | toolkit fitted / held out | toolkit mean GEH | toolkit RMS veh/h fitted / held out | toolkit s | routeSampler fitted / held out | routeSampler mean GEH | routeSampler RMS veh/h fitted / held out |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sumo_rows:
            rs = (f"{_pct(r.get('rs_fitted'))} / {_pct(r.get('rs_held_out'))}" if "rs_fitted" in r else str(r.get("rs_error", "-")))
            rsg = f"{r['rs_fitted_mean_geh']:.2f}" if "rs_fitted_mean_geh" in r else "-"
            rms = lambda a, b: f"{r[a]:.0f} / {r[b]:.0f}" if a in r else "-"  # noqa: E731
            start = {"pairs": "pairs x U(0.5, 1.5)", "half": "all x 0.5"}.get(r.get("start", "pairs"))
            lines.append(f"| {r['scenario']} | {start} | {r['count_locations']} ({r['fitted_locations']}) | {_pct(r['seed_fitted'])} / "
                         f"{_pct(r['seed_held_out'])} | {_pct(r['ours_fitted'])} / {_pct(r['ours_held_out'])} | "
                         f"{r['ours_fitted_mean_geh']:.2f} | {rms('ours_fitted_rms', 'ours_held_out_rms')} | "
                         f"{r['ours_s']:.1f} | {rs} | {rsg} | {rms('rs_fitted_rms', 'rs_held_out_rms')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--static", action="store_true", help="only the TNTP cases")
    ap.add_argument("--sumo", action="store_true", help="only the SUMO cases")
    ap.add_argument("--quick", action="store_true", help="Sioux Falls and grid3x3 only")
    ap.add_argument("--odme-iter", type=int, default=20, help="Path4GMNS ODME iterations")
    args = ap.parse_args()
    both = not (args.static or args.sumo)
    static, sumo_rows = [], []
    if (args.static or both) and TNTP.is_dir():
        _warm_up()
        for name in (["SiouxFalls"] if args.quick else list(STATIC)):
            print(f"static: {name}", flush=True)
            static.append(static_case(name, args.odme_iter))
            print(json.dumps({k: v for k, v in static[-1].items()}), flush=True)
    elif args.static or both:
        print(f"skipping the static cases: {TNTP} not found")
    if args.sumo or both:
        work = Path(tempfile.mkdtemp(prefix="bench-calibration-"))
        for name, start_kind in [(n, k) for n in (["grid3x3"] if args.quick else SUMO_SCENARIOS) for k in ("pairs", "half")]:
            print(f"sumo: {name} ({start_kind})", flush=True)
            try:
                sumo_rows.append(sumo_case(name, work, start_kind))
            except mb.MobilityError as exc:
                print(f"  {name}: {exc}")
                continue
            print(json.dumps(sumo_rows[-1]), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    text = table(static, sumo_rows)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%d")
        old = json.loads((RESULTS / "calibration.json").read_text()) if (RESULTS / "calibration.json").exists() else {}
        new = {"date": stamp, "static": static or old.get("static", []), "sumo": sumo_rows or old.get("sumo", [])}
        (RESULTS / "calibration.json").write_text(json.dumps(new, indent=1) + "\n")
        (RESULTS / "calibration.md").write_text(f"# Calibration benchmark ({stamp})\n\n" + table(new["static"], new["sumo"]))


if __name__ == "__main__":
    main()
