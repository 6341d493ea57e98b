"""Runs AequilibraE on an exported assignment instance; executed inside the benchmark's own venv.

Usage: python _aequilibrae_runner.py INSTANCE.npz ALGORITHM RGAP MAX_ITER
Prints one JSON line: seconds, iterations, final rgap, and the link flows' checksum.
"""

import json
import os
import sys
import time

os.environ["AEQ_SHOW_PROGRESS"] = "FALSE"  # progress bars off, as the comparison requires

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from aequilibrae.matrix import AequilibraeMatrix  # noqa: E402
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass  # noqa: E402


def main(path, algorithm, rgap, max_iter):
    z = np.load(path)
    E = z["tail_id"].shape[0]
    df = pd.DataFrame({
        "link_id": np.arange(1, E + 1), "a_node": z["tail_id"], "b_node": z["head_id"], "direction": 1,
        "free_flow_time": np.maximum(z["fft"], 1e-9),  # AequilibraE refuses zero free-flow times
        "capacity": z["cap"], "b": z["b"], "power": z["power"], "fixed": z["fixed"],
    })
    centroids = z["zone_id"].astype(np.int64)
    t_setup = time.perf_counter()
    g = Graph()
    g.network = df
    g.prepare_graph(centroids)
    g.set_graph("free_flow_time")
    g.set_skimming(["free_flow_time"])
    g.set_blocked_centroid_flows(bool(z["block_centroids"]))
    m = AequilibraeMatrix()
    m.create_empty(zones=centroids.shape[0], matrix_names=["demand"], memory_only=True)
    m.index[:] = centroids
    m.matrix["demand"][:, :] = z["demand"]
    m.computational_view(["demand"])
    tc = TrafficClass("car", g, m)
    if np.any(z["fixed"] != 0):
        tc.set_fixed_cost("fixed", 1.0)
    a = TrafficAssignment()
    a.set_classes([tc])
    a.set_vdf("BPR")
    a.set_vdf_parameters({"alpha": "b", "beta": "power"})
    a.set_capacity_field("capacity")
    a.set_time_field("free_flow_time")
    a.set_algorithm(algorithm)
    a.max_iter = int(max_iter)
    a.rgap_target = float(rgap)
    a.set_cores(1)
    setup = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    a.execute()
    seconds = time.perf_counter() - t0
    rep = a.report()
    res = a.results()
    flows = res["matrix_ab"].to_numpy() if "matrix_ab" in res else res.iloc[:, 0].to_numpy()
    print(json.dumps({"seconds": seconds, "setup_seconds": setup, "iterations": int(rep["iteration"].max()),
                      "rgap": float(rep["rgap"].iloc[-1]), "flow_total": float(np.sum(flows))}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
