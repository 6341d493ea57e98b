"""Assignment speed against AequilibraE, in one run, on one thread; prints ratios.

    python benchmarks/bench_assignment.py [--skip-berlin]

AequilibraE is installed from PyPI into its own virtual environment (benchmarks/.venv-aequilibrae, made on
first use) and run in a subprocess on the very same arrays (exported to .npz): same links, BPR parameters,
fixed generalized-cost terms, demand and relative-gap definition ((TSTT - SPTT) / TSTT), progress bars off,
one core. AequilibraE refuses zero free-flow times, so those links get 1e-9 min there. Times exclude file
reading and compilation (our kernels are warmed up on Sioux Falls first) and include everything else.
Needs ../shared/benchmarks/tntp.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import mobility as mb
from mobility.assignment import _problem

HERE = Path(__file__).resolve().parent
TNTP = HERE.parent.parent / "shared" / "benchmarks" / "tntp"
VENV = HERE / ".venv-aequilibrae"


def aequilibrae_python() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print("installing AequilibraE into", VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "aequilibrae"], check=True)
    return py


def load(name: str):
    stem, ftn = {"SiouxFalls": ("SiouxFalls", None), "Chicago-Sketch": ("ChicagoSketch", 388),
                 "Berlin-Center": ("berlin-center", None)}[name]
    folder = TNTP / name
    net = mb.network_from_tntp(folder / f"{stem}_net.tntp", **({"first_thru_node": ftn} if ftn else {}))
    return net, mb.od_from_tntp(folder / f"{stem}_trips.tntp")


def export(net, od, path: Path) -> None:
    pr, _ = _problem(net, od, None, None)
    np.savez(path, tail_id=net.node_ids[net.tail].astype(np.int64), head_id=net.node_ids[net.head].astype(np.int64),
             fft=pr.free_flow_time, cap=pr.capacity, b=pr.b, power=pr.power, fixed=pr.fixed,
             zone_id=od.zone_ids.astype(np.int64), demand=od.flows, block_centroids=net.zone_count > 0)


def run_aeq(py: Path, npz: Path, rgap: float) -> dict:
    out = subprocess.run([str(py), str(HERE / "_aequilibrae_runner.py"), str(npz), "bfw", str(rgap), "20000"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(net, od, rgap: float, method: str = "gp") -> dict:
    t0 = time.perf_counter()
    ds = mb.assign(net, od, method=method, rgap=rgap, threads=1, max_iter=20000)
    return {"seconds": time.perf_counter() - t0, "iterations": ds.attrs["iterations"], "rgap": ds.attrs["rgap"]}


def aon_per_origin(net, od, threads: int, repeat: int = 15) -> float:
    pr, _ = _problem(net, od, None, None)
    numba.set_num_threads(threads)
    cost = pr.cost(np.zeros(pr.n_links))
    buf = np.empty((threads, pr.n_links))
    pr.aon(cost, buf)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pr.aon(cost, buf)
        times.append(time.perf_counter() - t0)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    origins = int((pr.demand.sum(axis=1) > 0).sum())
    return statistics.median(times) / origins


def main() -> None:
    if not TNTP.is_dir():
        sys.exit(f"benchmark data not found: {TNTP}")
    py = aequilibrae_python()
    sf_net, sf_od = load("SiouxFalls")
    for m in ("gp", "bfw"):
        mb.assign(sf_net, sf_od, method=m, rgap=1e-4, threads=1)  # compile outside the timings
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        net, od = load("Chicago-Sketch")
        npz = Path(tmp) / "chicago.npz"
        export(net, od, npz)
        aeq6 = run_aeq(py, npz, 1e-6)
        ours6 = run_ours(net, od, 1e-6)
        ours10 = run_ours(net, od, 1e-10)
        bfw6 = run_ours(net, od, 1e-6, method="bfw")
        rows.append(("Chicago-Sketch to 1e-6: AequilibraE BFW / ours (gp)", aeq6, ours6, 4.0))
        rows.append(("Chicago-Sketch: AequilibraE BFW to 1e-6 / ours (gp) to 1e-10", aeq6, ours10, 1.0))
        rows.append(("Chicago-Sketch to 1e-6: AequilibraE BFW / our BFW (same algorithm)", aeq6, bfw6, None))
        a1 = aon_per_origin(net, od, 1)
        a2 = aon_per_origin(net, od, 2)
        if "--skip-berlin" not in sys.argv:
            bnet, bod = load("Berlin-Center")
            npz = Path(tmp) / "berlin.npz"
            export(bnet, bod, npz)
            aeq4 = run_aeq(py, npz, 1e-4)
            ours4 = run_ours(bnet, bod, 1e-4)
            rows.append(("Berlin-Center to 1e-4: AequilibraE BFW / ours (gp)", aeq4, ours4, 3.0))
    print(f"{'comparison':<70} {'peer s':>8} {'ours s':>8} {'ratio':>7} {'target':>7}")
    for label, peer, ours, target in rows:
        ratio = peer["seconds"] / ours["seconds"]
        mark = "" if target is None else (f">={target:g} {'met' if ratio >= target else 'NOT met'}")
        print(f"{label:<70} {peer['seconds']:8.2f} {ours['seconds']:8.2f} {ratio:7.2f} {mark}")
        print(f"{'':<4}peer: {peer['iterations']} iterations, gap {peer['rgap']:.2e}; "
              f"ours: {ours['iterations']} iterations, gap {ours['rgap']:.2e}")
    print(f"AON on Chicago-Sketch: {a1 * 1e6:.1f} us per origin on 1 thread (target <= 40: "
          f"{'met' if a1 <= 40e-6 else 'NOT met'}); 2 threads {a2 * 1e6:.1f} us, speed-up {a1 / a2:.2f}x "
          f"(target >= 1.8: {'met' if a1 / a2 >= 1.8 else 'NOT met'})")


if __name__ == "__main__":
    main()
