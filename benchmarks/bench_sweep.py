"""Sweep machinery: 2 workers vs 1 on 16 short runs, and the per-run overhead beyond the simulation.

The same 16-run sweep (the shipped grid3x3 scenario cut to ``--end-s`` simulated seconds, 4 demand
levels x 4 seeds) runs into fresh folders with 1 worker, then 2, then 1 again (the mean of the two
1-worker runs is the reference, which evens out drift on a noisy machine). Figures:

- speed-up = wall(1 worker) / wall(2 workers); target >= 1.8 on an idle machine;
- overhead per run = (wall(1 worker) - sum of the runs' simulation time) / 16, where a run's simulation
  time is ``sumo_wall_s`` (the ``run_scenario`` call: demand files, SUMO, reading its outputs), i.e.
  what the sweep adds: process start, scenario loading, KPI files, scheduling; target < 0.5 s;
- and, beside it, what the whole worker adds: (wall(1 worker) - sum of ``run_wall_s``) / 16.

    python benchmarks/bench_sweep.py [--end-s 1800]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--end-s", type=float, default=1800.0, help="simulated seconds per run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep_scaling.json")
    args = ap.parse_args()

    from mobility.sweep import load_sweep, run_sweep

    walls: dict[str, list[float]] = {"1": [], "2": []}
    sims: list[float] = []
    runs: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for k, workers in enumerate((1, 2, 1)):
            folder = Path(d) / f"w{k}"
            folder.mkdir()
            spec = {"name": f"bench{k}", "base": str(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml"),
                    "set": {"end_s": args.end_s}, "vary": {"demand.trips_veh_h": [600, 800, 1000, 1200]},
                    "seeds": 4, "output": "out", "workers": workers}
            (folder / "sweep.yaml").write_text(yaml.safe_dump(spec))
            sweep = load_sweep(folder / "sweep.yaml")
            t0 = time.perf_counter()
            res = run_sweep(sweep)
            wall = time.perf_counter() - t0
            if res.failed:
                raise SystemExit(f"runs failed: {res.failed}")
            walls[str(workers)].append(wall)
            if workers == 1:
                sims.append(float(res.dataset["sumo_wall_s"].sum()))
                runs.append(float(res.dataset["run_wall_s"].sum()))
            print(f"{workers} worker(s): {wall:.2f} s for 16 runs", flush=True)
            shutil.rmtree(folder)
    w1 = sum(walls["1"]) / len(walls["1"])
    w2 = walls["2"][0]
    n = 16
    overhead = (w1 - sum(sims) / len(sims)) / n
    worker_overhead = (w1 - sum(runs) / len(runs)) / n
    out = {"wall_1_worker_s": walls["1"], "wall_2_workers_s": w2, "speedup": w1 / w2,
           "mean_simulation_s": sum(sims) / len(sims) / n, "overhead_per_run_s": overhead,
           "machinery_per_run_s": worker_overhead, "end_s": args.end_s}
    print(f"mean simulation time per run (run_scenario): {out['mean_simulation_s']:.2f} s")
    print(f"speed-up 2 workers vs 1: {out['speedup']:.2f}x (target >= 1.8 on an idle machine: "
          f"{'met' if out['speedup'] >= 1.8 else 'NOT met'})")
    print(f"overhead per run beyond the simulation: {overhead:.3f} s (target < 0.5 s: {'met' if overhead < 0.5 else 'NOT met'}); "
          f"of which outside the worker's own run: {worker_overhead:.3f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
