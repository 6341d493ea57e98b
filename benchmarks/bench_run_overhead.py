"""Wall time of `mobility run` on the default scenario against the bare `sumo` binary.

Both produce the same SUMO outputs (edge data, trip info with unfinished trips, summary, statistics,
signal switches) from the same network, demand, seed and options; `mobility run` also draws the demand,
starts Python, parses the outputs into an xarray Dataset and writes the netCDF file. Runs alternate,
and the ratio of medians is printed.

    python benchmarks/bench_run_overhead.py [--scenario PATH] [--repeat N]

Target: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from mobility import load_scenario
    from mobility._sumo import binary
    from mobility.simulation import FILES, sumo_args

    sc = load_scenario(args.scenario)
    mobility_exe = shutil.which("mobility") or str(Path(sys.executable).with_name("mobility"))
    with tempfile.TemporaryDirectory(prefix="bench-run-") as d:
        work = Path(d)
        keep = work / "keep"
        keep.mkdir()
        # one run that keeps SUMO's input files, so the bare binary gets exactly the same inputs
        subprocess.run([mobility_exe, "run", str(args.scenario), "-o", str(work / "warm.nc"), "-q",
                        "--workdir", str(keep)], check=True, capture_output=True)
        bare_dir = work / "bare"
        bare_dir.mkdir()
        shutil.copy(keep / FILES["routes"], bare_dir / FILES["routes"])
        (bare_dir / FILES["outputs"]).write_text(
            (keep / FILES["outputs"]).read_text().replace(str(keep.resolve()), str(bare_dir.resolve())))
        bare = [str(binary("sumo")), *sumo_args(sc, bare_dir.resolve(), seed=sc.seed)]
        ours = [mobility_exe, "run", str(args.scenario), "-o", str(work / "out.nc"), "-q"]

        t_ours, t_bare = [], []
        for _ in range(args.repeat):
            for cmd, acc in ((ours, t_ours), (bare, t_bare)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                acc.append(time.perf_counter() - t0)
        # the two runs must agree on what SUMO did
        import xarray as xr

        ds = xr.load_dataset(work / "out.nc", engine="h5netcdf")
        n_bare = (bare_dir / FILES["trips"]).read_text().count("<tripinfo ")
        assert n_bare == ds.sizes["vehicle"], (n_bare, ds.sizes["vehicle"])

    m_ours, m_bare = statistics.median(t_ours), statistics.median(t_bare)
    print(f"scenario: {sc.name} ({sc.duration_s:.0f} s simulated, {ds.sizes['vehicle']} vehicles, seed {sc.seed})")
    print(f"mobility run : median {m_ours:.3f} s  (runs: {', '.join(f'{t:.2f}' for t in t_ours)})")
    print(f"bare sumo    : median {m_bare:.3f} s  (runs: {', '.join(f'{t:.2f}' for t in t_bare)})")
    print(f"added by the toolkit: {m_ours - m_bare:.3f} s per run (Python start-up, demand, parsing, netCDF)")
    print(f"ratio mobility/sumo: {m_ours / m_bare:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
