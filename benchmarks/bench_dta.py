"""The dynamic traffic engine against UXsim, its growth with the network, and its bridge to the static equilibrium.

    python benchmarks/bench_dta.py [--skip-uxsim] [--skip-berlin] [--uxsim-due-iterations 30] [--out benchmarks/results]

1. **UXsim's 11x11 grid** (UXsim's own ``example_28en_benchmark_cpp_mode.py`` large scenario: 121 nodes, 440
   links of 1 km, 484 origin-destination pairs at 0.035 veh/s for an hour, about 61k vehicles, two simulated
   hours). UXsim (PyPI ``uxsim``, its C++ mode, the fastest it ships) is installed into its own virtual
   environment (``benchmarks/.venv-uxsim``) and run in a subprocess. Compared, in one run:

   - *one loading of the same route flows*: the toolkit's dynamic equilibrium route flows, loaded by the
     toolkit (packets of 5 vehicles, 5 s steps) and by UXsim (platoons of 5, each vehicle's route enforced):
     wall time of the simulation only, and total travel time;
   - *UXsim's scenario as it ships* (its en-route choice) against the toolkit's dynamic equilibrium;
   - *dynamic equilibrium against dynamic equilibrium*: UXsim's ``SolverDUE`` for a number of iterations and
     the toolkit's ``dta(method="due")`` to a 1% relative gap.

   The link model is the same (triangular fundamental diagram: 20 m/s, jam density 0.2 veh/m, UXsim's 1 s
   reaction time, so a backward wave of 5 m/s and a capacity of 0.8 veh/s).
2. **Dynamic equilibrium as networks grow**: Sioux Falls, Chicago-Sketch and Berlin-Center (TNTP, read by
   path from ../shared/benchmarks/tntp), the TNTP trip table as a two-hour peak (its trips spread evenly over
   the two hours; at its full hourly rate for two hours Chicago-Sketch gridlocks on its free-flow routes),
   link transmission model: iterations, relative gap and wall time on one core, to a 1% gap or a time cap.
3. **The bridge to the static equilibrium**: Sioux Falls with delay-function links (``link_model="bpr"``) and a
   stationary five-hour demand: the dynamic equilibrium's link flows (mean over the stationary hours) against
   the best-known static equilibrium flows.

Times exclude compilation (the kernels are warmed up on a small case first). Writes ``dta.json`` and ``dta.md``
in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # one core, as the targets are stated

import numpy as np  # noqa: E402

import mobility as mb  # noqa: E402
from mobility.dta import DynamicDemand, demand_from_od, dta  # noqa: E402
from mobility.network import build_network  # noqa: E402

HERE = Path(__file__).resolve().parent
TNTP = Path(os.environ.get("MOBILITY_SHARED", HERE.parent.parent / "shared")) / "benchmarks" / "tntp"
VENV = HERE / ".venv-uxsim"
N = 11
KAPPA, SPEED, TAU = 0.2, 20.0, 1.0          # UXsim's jam density (veh/m), free speed (m/s), reaction time (s)
W_WAVE = 1.0 / (TAU * KAPPA)                # backward wave speed, m/s
CAPACITY_VEH_H = SPEED * W_WAVE * KAPPA / (SPEED + W_WAVE) * 3600.0


def uxsim_python() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("installing UXsim into", VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "uxsim"], check=True)
    return py


def run_uxsim(py: Path, *args: str) -> dict:
    out = subprocess.run([str(py), str(HERE / "_uxsim_runner.py"), *args], capture_output=True, text=True,
                         check=True, timeout=7200)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- UXsim's grid in the toolkit ---------------------------------------------------------------------------
def grid() -> tuple[mb.RoadNetwork, np.ndarray]:
    """UXsim's 11x11 grid; returns the network and each edge's (row, col, to_row, to_col)."""
    node = {(i, j): i * N + j for i in range(N) for j in range(N)}
    keys = [(i, j, a, b) for i in range(N) for j in range(N)
            for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)) if 0 <= a < N and 0 <= b < N]
    E = len(keys)
    net = build_network(
        name="uxsim_grid11", source="UXsim example_28en_benchmark_cpp_mode.py",
        node_ids=[f"n{k}" for k in range(N * N)], tail=[node[k[0], k[1]] for k in keys],
        head=[node[k[2], k[3]] for k in keys], edge_ids=["l{}_{}_{}_{}".format(*k) for k in keys],
        attributes={"length": [1000.0] * E, "free_speed": [SPEED] * E, "lanes": [1.0] * E,
                    "capacity": [CAPACITY_VEH_H] * E, "free_flow_time": [1000.0 / SPEED] * E},
        units={"length": "m", "free_speed": "m/s", "lanes": "1", "capacity": "veh/h", "free_flow_time": "s"},
        node_x=np.repeat(np.arange(N), N) * 1000.0, node_y=np.tile(np.arange(N), N) * 1000.0)
    return net, np.array(keys, dtype=np.int64)


def grid_demand(net: mb.RoadNetwork) -> DynamicDemand:
    """UXsim's demand: every node of one side to every node of the opposite side and back, 0.035 veh/s each."""
    node = {(i, j): i * N + j for i in range(N) for j in range(N)}
    pairs = []
    for j in range(N):
        for j2 in range(N):
            pairs += [((N - 1, j2), (0, j)), ((0, j), (N - 1, j2))]
    for i in range(N):
        for i2 in range(N):
            pairs += [((i2, N - 1), (i, 0)), ((i, 0), (i2, N - 1))]
    origins = [list(map(int, np.flatnonzero(net.tail == node[o]))) for o, _ in pairs]
    dests = [list(map(int, np.flatnonzero(net.head == node[d]))) for _, d in pairs]
    rates = np.full((len(pairs), 12), 0.035 * 3600.0)   # 12 intervals of 5 minutes: one hour
    return DynamicDemand(origins, dests, rates, 0.0, 300.0, [f"{o}>{d}" for o, d in pairs])


GRID_KW = {"dt": 5.0, "interval_s": 300.0, "packet_veh": 5.0, "horizon_s": 7200.0, "jam_density_veh_km": KAPPA * 1000}


def total_travel_time(ds) -> tuple[float, float]:
    """(total travel time s, vehicles) from a result's route flows and times."""
    f = ds["route_flow_veh"].values
    t = ds["route_time_s"].values
    return float(np.nansum(f * t)), float(f.sum())


def fixed_route_demand(net: mb.RoadNetwork, ds) -> tuple[DynamicDemand, list[np.ndarray], np.ndarray]:
    """The route flows of ``ds`` as a demand with one fixed route per used route."""
    flow = ds["route_flow_veh"].values
    used = [r for r in range(flow.shape[1]) if flow[:, r].sum() > 1e-9]
    routes = [np.array([net.edge(e) for e in str(ds["route_edges"].values[r]).split()], dtype=np.int64) for r in used]
    T = float(ds.attrs["departure_interval_s"])
    d = DynamicDemand([[int(x[0])] for x in routes], [[int(x[-1])] for x in routes], flow[:, used].T / T * 3600.0,
                      0.0, T, [str(r) for r in used], dict(enumerate(routes)))
    return d, routes, flow[:, used]


def bench_grid(skip_uxsim: bool, due_iterations: int) -> dict:
    net, keys = grid()
    demand = grid_demand(net)
    small = DynamicDemand(demand.origins[:4], demand.destinations[:4], demand.rates[:4, :2], 0.0, 300.0)
    dta(net, small, method="due", max_iter=2, **GRID_KW)   # compile outside the timings
    t0 = time.perf_counter()
    due = dta(net, demand, method="due", gap=0.01, max_iter=60, **GRID_KW)
    ours_due_s = time.perf_counter() - t0
    ttt_due, veh = total_travel_time(due)
    fixed, routes, flow = fixed_route_demand(net, due)
    t0 = time.perf_counter()
    load = dta(net, fixed, method="dnl", **GRID_KW)
    ours_load_s = time.perf_counter() - t0
    ttt_load, _ = total_travel_time(load)
    out = {"vehicles": veh, "pairs": demand.n_pairs,
           "ours_due": {"seconds": ours_due_s, "iterations": int(due.sizes["iteration"]),
                        "gap": float(due["gap"].values[-1]), "total_travel_time_s": ttt_due,
                        "average_travel_time_s": ttt_due / veh},
           "ours_loading": {"seconds": ours_load_s, "total_travel_time_s": ttt_load,
                            "average_travel_time_s": ttt_load / float(load["route_flow_veh"].values.sum()),
                            "arrived": float(load.attrs.get("arrived_veh", np.nan))}}
    print(f"grid: ours DUE {ours_due_s:.2f} s ({out['ours_due']['iterations']} iterations, gap "
          f"{out['ours_due']['gap']:.4f}), average trip {ttt_due / veh:.0f} s; one loading {ours_load_s:.2f} s",
          flush=True)
    if skip_uxsim:
        return out
    py = uxsim_python()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "routes.npz"
        ptr = np.concatenate([[0], np.cumsum([len(r) for r in routes])]).astype(np.int64)
        np.savez(npz, ptr=ptr, keys=keys[np.concatenate(routes)], flow=flow, interval_s=300.0)
        out["uxsim_same_routes"] = run_uxsim(py, "routes", str(npz))
    print("grid: UXsim, same route flows", out["uxsim_same_routes"], flush=True)
    out["uxsim_shipped"] = run_uxsim(py, "shipped")
    print("grid: UXsim as shipped", out["uxsim_shipped"], flush=True)
    if due_iterations > 0:
        out["uxsim_due"] = run_uxsim(py, "due", "-", str(due_iterations))
        print("grid: UXsim DUE", {k: v for k, v in out["uxsim_due"].items() if k != "ttt_per_iteration"}, flush=True)
    return out


# ---- growth with the network, and the static bridge -------------------------------------------------------
def load_tntp(name: str) -> tuple[mb.RoadNetwork, object]:
    stem, ftn = {"SiouxFalls": ("SiouxFalls", None), "Chicago-Sketch": ("ChicagoSketch", 388),
                 "Berlin-Center": ("berlin-center", None)}[name]
    folder = TNTP / name
    net = mb.network_from_tntp(folder / f"{stem}_net.tntp", **({"first_thru_node": ftn} if ftn else {}))
    return net, mb.od_from_tntp(folder / f"{stem}_trips.tntp")


def bench_growth(names: list[str], max_seconds: float) -> list[dict]:
    rows = []
    for name in names:
        net, od = load_tntp(name)
        demand = demand_from_od(net, od, horizon_s=2 * 3600.0, interval_s=900.0)
        demand.rates *= 0.5   # the trip table spread over the two hours (its full hourly rate for two hours gridlocks)
        t0 = time.perf_counter()
        gaps: list[float] = []

        def progress(i: int, g: float, msg: str, _t0: float = t0) -> None:
            gaps.append(g)
            print(f"  {name}: {msg} ({time.perf_counter() - _t0:.1f} s)", flush=True)
            if time.perf_counter() - _t0 > max_seconds:
                raise TimeoutError

        try:
            ds = dta(net, demand, method="due", gap=0.01, max_iter=200, dt=5.0, interval_s=900.0, packet_veh=10.0,
                     progress=progress)
            gap = float(ds["gap"].values[-1])
        except TimeoutError:
            gap = gaps[-1] if gaps else float("nan")
        row = {"network": name, "links": int(net.n_edges), "pairs": demand.n_pairs, "vehicles": demand.total_veh(),
               "iterations": len(gaps), "gap": gap, "seconds": time.perf_counter() - t0,
               "reached": bool(gaps and gaps[-1] < 0.01)}
        rows.append(row)
        print(f"growth: {row}", flush=True)
    return rows


def bench_stationary() -> dict:
    net, od = load_tntp("SiouxFalls")
    f, t, v, _ = mb.read_tntp_flows(TNTP / "SiouxFalls" / "SiouxFalls_flow.tntp")
    index = {(int(net.node_ids[a]), int(net.node_ids[b])): k for k, (a, b) in enumerate(zip(net.tail, net.head))}
    ref = np.zeros(net.n_edges)
    for fi, ti, vi in zip(f, t, v, strict=True):
        ref[index[(int(fi), int(ti))]] = vi
    hours = 5
    demand = demand_from_od(net, od, horizon_s=hours * 3600.0, interval_s=900.0)
    t0 = time.perf_counter()
    ds = dta(net, demand, method="due", link_model="bpr", gap=1e-4, max_iter=100, dt=5.0, interval_s=900.0,
             packet_veh=20.0)
    inflow = ds["inflow_veh_h"].values[6:hours * 4 - 1].mean(axis=0)   # after 1.5 h of filling, before the end
    rel = np.abs(inflow - ref) / np.maximum(ref, 1.0)
    out = {"seconds": time.perf_counter() - t0, "iterations": int(ds.sizes["iteration"]),
           "gap": float(ds["gap"].values[-1]), "mean_rel_error": float(rel.mean()),
           "median_rel_error": float(np.median(rel)), "max_rel_error": float(rel.max()),
           "share_within_2pct": float((rel < 0.02).mean())}
    print("stationary Sioux Falls:", out, flush=True)
    return out


def write(out: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "dta.json.tmp"
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(folder / "dta.json")
    lines = ["# Dynamic traffic engine", "", f"Run {out['date']}, one core (`python benchmarks/bench_dta.py`).", ""]
    g = out.get("grid")
    if g:
        o, ld = g["ours_due"], g["ours_loading"]
        lines += ["## UXsim's 11x11 grid", "", f"{g['pairs']} pairs, {g['vehicles']:.0f} vehicles.", "",
                  "| run | wall s | average trip s | total travel time veh h |", "|---|---:|---:|---:|",
                  f"| toolkit, dynamic equilibrium ({o['iterations']} iterations, gap {o['gap']:.3f}) | "
                  f"{o['seconds']:.2f} | {o['average_travel_time_s']:.0f} | {o['total_travel_time_s'] / 3600:.0f} |",
                  f"| toolkit, one loading of those route flows | {ld['seconds']:.2f} | "
                  f"{ld['average_travel_time_s']:.0f} | {ld['total_travel_time_s'] / 3600:.0f} |"]
        for key, label in (("uxsim_same_routes", "UXsim C++, one loading of the same route flows"),
                           ("uxsim_shipped", "UXsim C++, the scenario as shipped (its en-route choice)"),
                           ("uxsim_due", "UXsim C++, SolverDUE")):
            if key in g:
                u = g[key]
                lines.append(f"| {label} | {u['seconds']:.2f} | {u['average_travel_time_s']:.0f} | "
                             f"{u['total_travel_time_s'] / 3600:.0f} |")
        if "uxsim_same_routes" in g:
            u = g["uxsim_same_routes"]
            lines += ["", f"- One loading, same route flows: UXsim / toolkit wall time **{u['seconds'] / ld['seconds']:.2f}x** "
                          f"(target >= 3); total travel time toolkit / UXsim **{ld['total_travel_time_s'] / u['total_travel_time_s']:.3f}** "
                          "(target within 5%)."]
        if "uxsim_shipped" in g:
            u = g["uxsim_shipped"]
            lines.append(f"- UXsim's scenario as shipped / toolkit's one loading: **{u['seconds'] / ld['seconds']:.2f}x**.")
        if "uxsim_due" in g:
            u = g["uxsim_due"]
            lines.append(f"- Dynamic equilibrium: UXsim SolverDUE / toolkit wall time **{u['seconds'] / o['seconds']:.2f}x**; "
                         f"total travel time toolkit / UXsim **{o['total_travel_time_s'] / u['total_travel_time_s']:.3f}**.")
    if out.get("growth"):
        lines += ["", "## Dynamic equilibrium as networks grow (the trip table over a two-hour peak, 1% gap)", "",
                  "| network | links | pairs | vehicles | iterations | gap | wall s | 1% reached |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in out["growth"]:
            lines.append(f"| {r['network']} | {r['links']} | {r['pairs']} | {r['vehicles']:.0f} | {r['iterations']} | "
                         f"{r['gap']:.4f} | {r['seconds']:.1f} | {'yes' if r['reached'] else 'no'} |")
    s = out.get("stationary")
    if s:
        lines += ["", "## Stationary Sioux Falls against the static equilibrium", "",
                  f"Delay-function links, five hours of stationary demand, {s['iterations']} iterations (gap "
                  f"{s['gap']:.4f}), {s['seconds']:.0f} s. Link flows over the stationary hours against the best-known "
                  f"static flows: mean error {100 * s['mean_rel_error']:.1f}%, median {100 * s['median_rel_error']:.1f}%, "
                  f"largest {100 * s['max_rel_error']:.1f}%, {100 * s['share_within_2pct']:.0f}% of links within 2% "
                  "(target: within 2%)."]
    tmp = folder / "dta.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(folder / "dta.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-uxsim", action="store_true")
    ap.add_argument("--skip-berlin", action="store_true")
    ap.add_argument("--uxsim-due-iterations", type=int, default=30)
    ap.add_argument("--max-seconds", type=float, default=600.0, help="time cap per network of the growth runs")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    a = ap.parse_args()
    out: dict = {"date": time.strftime("%Y-%m-%d")}
    out["grid"] = bench_grid(a.skip_uxsim, a.uxsim_due_iterations)
    write(out, a.out)
    if TNTP.is_dir():
        out["stationary"] = bench_stationary()
        write(out, a.out)
        names = ["SiouxFalls", "Chicago-Sketch"] + ([] if a.skip_berlin else ["Berlin-Center"])
        out["growth"] = bench_growth(names, a.max_seconds)
    else:
        print(f"TNTP data not found at {TNTP}: growth and stationary runs skipped")
    write(out, a.out)


if __name__ == "__main__":
    main()
