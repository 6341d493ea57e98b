"""CTM throughput: cell updates per second per core on a network of about a million cells.

    python benchmarks/bench_ctm.py [--threads 1]

A 100 x 100 grid of two-way 625 m links (39,600 links, 25 cells each at dt = 1 s and 25 m/s), fed at every
boundary link, so merges, diverges and four-way nodes are all exercised. Prints cell-updates per second
(target >= 2e8 per core).
"""

from __future__ import annotations

import sys
import time

import numba
import numpy as np

import mobility as mb
from mobility.ctm import build_ctm
from numba_kernels.ctm import simulate


def grid(n: int, length: float = 625.0):
    idx = lambda i, j: i * n + j  # noqa: E731
    tail, head = [], []
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                a, b = i + di, j + dj
                if 0 <= a < n and 0 <= b < n:
                    tail.append(idx(i, j))
                    head.append(idx(a, b))
    E = len(tail)
    xs = np.array([(k % n) * length for k in range(n * n)])
    ys = np.array([(k // n) * length for k in range(n * n)])
    return mb.network.build_network(
        name=f"grid{n}", source="bench", node_ids=[str(k) for k in range(n * n)], tail=tail, head=head,
        edge_ids=[f"e{k}" for k in range(E)], node_x=xs, node_y=ys,
        attributes={"length": np.full(E, length), "free_speed": np.full(E, 25.0), "lanes": np.full(E, 2.0),
                    "capacity": np.full(E, 3600.0), "free_flow_time": np.full(E, length / 25.0)},
        units={"length": "m", "free_speed": "m/s", "free_flow_time": "s", "capacity": "veh/h"})


def main() -> None:
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    net = grid(100)
    indeg = np.bincount(net.head, minlength=net.n_nodes)
    boundary = [net.edge_ids[e] for e in range(net.n_edges) if indeg[net.tail[e]] < 4]
    ctm, ncell, _ = build_ctm(net, boundary, dt_s=1.0)
    inflow = np.full((1, len(boundary)), 900.0 / 3600.0)
    numba.set_num_threads(threads)
    simulate(ctm, 5, inflow)  # compile
    steps = 300
    t0 = time.perf_counter()
    out = simulate(ctm, steps, inflow)
    dt = time.perf_counter() - t0
    rate = ctm.n_cells * steps / dt
    print(f"{ctm.n_cells} cells, {ctm.n_links} links, {steps} steps in {dt:.2f} s on {threads} thread(s)")
    print(f"cell updates per second: {rate:.3g} ({rate / threads:.3g} per core; target >= 2e8: "
          f"{'met' if rate / threads >= 2e8 else 'NOT met'})")
    print(f"vehicles: entered {out['entered']:.1f} = in cells {out['n'].sum():.1f} + queued {out['queue'].sum():.1f} "
          f"+ exited {out['exited']:.1f}")


if __name__ == "__main__":
    main()
