"""Runs UXsim (its C++ mode) on the 11x11 grid of UXsim's own benchmark; executed inside the benchmark's own venv.

Usage: python _uxsim_runner.py MODE [ROUTES.npz] [ITERATIONS]

MODE ``shipped``: the scenario as UXsim's ``example_28en_benchmark_cpp_mode.py`` builds it (platoons of 5
vehicles, its own en-route choice); ``routes``: the same network and demand with every vehicle on a route and
departure interval of ROUTES.npz (``edges`` CSR of (row, col, to_row, to_col) link keys, ``flow`` per interval
and route, ``interval_s``); ``due``: UXsim's dynamic user equilibrium solver for ITERATIONS iterations.
Prints one JSON line: seconds (the simulation or the solver only, not the building), trips, completed trips,
total and average travel time.
"""

import json
import sys
import time

import numpy as np
from uxsim import World

N = 11
FLOW = 0.035          # veh/s per origin-destination pair, as UXsim's benchmark
DURATION = 3600.0     # s of departures
TMAX = 7200.0


def world(seed: int = 0) -> World:
    W = World(name="", deltan=5, tmax=TMAX, no_cyclic_routing=True, print_mode=0, save_mode=0, show_mode=0,
              random_seed=seed, cpp=True)
    for i in range(N):
        for j in range(N):
            W.addNode(f"n{(i, j)}", i, j)
    for i in range(N):
        for j in range(N):
            for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                if 0 <= a < N and 0 <= b < N:
                    W.addLink(f"l{(i, j, a, b)}", f"n{(i, j)}", f"n{(a, b)}", length=1000, free_flow_speed=20,
                              jam_density=0.2)
    return W


def pairs() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    out = []
    for j in range(N):
        for j2 in range(N):
            out += [((N - 1, j2), (0, j)), ((0, j), (N - 1, j2))]
    for i in range(N):
        for i2 in range(N):
            out += [((i2, N - 1), (i, 0)), ((i, 0), (i2, N - 1))]
    return out


def shipped_demand(W: World) -> None:
    for o, d in pairs():
        W.adddemand(f"n{o}", f"n{d}", 0, DURATION, FLOW)


def summary(W: World, seconds: float) -> dict:
    df = W.analyzer.basic_to_pandas()
    r = df.to_dict("records")[0]
    return {"seconds": seconds, "trips": float(r["total_trips"]), "completed": float(r["completed_trips"]),
            "total_travel_time_s": float(r["total_travel_time"]), "average_travel_time_s": float(r["average_travel_time"])}


def main(mode: str, path: str | None, iterations: int) -> dict:
    if mode == "shipped":
        W = world()
        shipped_demand(W)
        t0 = time.perf_counter()
        W.exec_simulation()
        return summary(W, time.perf_counter() - t0)
    if mode == "due":
        from uxsim.DTAsolvers import SolverDUE

        def make() -> World:
            W = world()
            shipped_demand(W)
            return W

        s = SolverDUE(make, cpp=True)
        t0 = time.perf_counter()
        s.solve(max_iter=iterations, print_progress=False)
        out = summary(s.W_sol, time.perf_counter() - t0)
        out["ttt_per_iteration"] = [float(x) for x in s.ttts]
        return out
    z = np.load(path)
    W = world()
    ptr, keys, flow, T = z["ptr"], z["keys"], z["flow"], float(z["interval_s"])
    rng = np.random.default_rng(0)
    for r in range(ptr.shape[0] - 1):
        links = [f"l{tuple(int(x) for x in keys[k])}" for k in range(ptr[r], ptr[r + 1])]
        first, last = keys[ptr[r]], keys[ptr[r + 1] - 1]
        o, d = f"n{(int(first[0]), int(first[1]))}", f"n{(int(last[2]), int(last[3]))}"
        for k in range(flow.shape[0]):
            n = int(np.floor(flow[k, r] / 5.0 + rng.random()))  # platoons of 5 vehicles, rounded at random
            for q in range(n):
                W.addVehicle(o, d, k * T + (q + 0.5) * T / n).enforce_route(links)
    t0 = time.perf_counter()
    W.exec_simulation()
    return summary(W, time.perf_counter() - t0)


if __name__ == "__main__":
    mode = sys.argv[1]
    res = main(mode, sys.argv[2] if len(sys.argv) > 2 else None, int(sys.argv[3]) if len(sys.argv) > 3 else 30)
    print(json.dumps(res))
