"""Runs Path4GMNS's ODME (column-based UE, then ``conduct_odme``) on an exported instance, in its own venv.

Usage: python _path4gmns_runner.py INSTANCE.npz WORKDIR COLUMN_GEN UPDATE ODME_ITER
Prints one JSON line: seconds for the equilibrium and for the ODME, and the link volumes in instance order.

Path4GMNS reads GMNS CSV files (node.csv, link.csv, demand.csv, measurement.csv); they are written here from
the instance: length = free-flow time in minutes at a free speed of 60 mph, so its BPR free-flow time is the
instance's; BPR alpha/beta and capacity per link from the instance; counts as ``link`` measurements.
"""

import csv
import json
import os
import sys
import time

import numpy as np


def main(npz, work, column_gen, update, odme_iter):
    z = np.load(npz)
    os.makedirs(work, exist_ok=True)
    zones = set(z["zone_id"].tolist())
    nodes = sorted(set(z["tail_id"].tolist()) | set(z["head_id"].tolist()))
    with open(os.path.join(work, "node.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["node_id", "zone_id", "x_coord", "y_coord"])
        for n in nodes:
            w.writerow([n, n if n in zones else "", 0, 0])
    with open(os.path.join(work, "link.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["link_id", "from_node_id", "to_node_id", "length", "lanes", "free_speed", "capacity", "link_type",
                    "VDF_alpha1", "VDF_beta1", "VDF_fftt1", "VDF_cap1"])
        for i, (a, b) in enumerate(zip(z["tail_id"], z["head_id"])):
            fft = max(float(z["fft"][i] + z["fixed"][i]), 1e-6)
            cap = max(int(round(float(z["cap"][i]))), 1)
            w.writerow([i + 1, a, b, fft, 1, 60, cap, 1, float(z["b"][i]), float(z["power"][i]), fft, cap])
    with open(os.path.join(work, "demand.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["o_zone_id", "d_zone_id", "volume"])
        ids = z["zone_id"]
        for o, d in zip(*np.nonzero(z["seed"] > 0)):
            if o != d:
                w.writerow([ids[o], ids[d], float(z["seed"][o, d])])
    with open(os.path.join(work, "measurement.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measurement_id", "measurement_type", "o_zone_id", "d_zone_id", "from_node_id", "to_node_id",
                    "count", "upper_bound_flag"])
        for k, (a, b, c) in enumerate(zip(z["count_tail"], z["count_head"], z["count"])):
            w.writerow([k + 1, "link", "", "", a, b, float(c), "false"])
    cwd = os.getcwd()
    os.chdir(work)
    import path4gmns as pg

    devnull = open(os.devnull, "w")
    real = sys.stdout
    sys.stdout = devnull  # Path4GMNS prints per iteration
    try:
        t0 = time.perf_counter()
        ui = pg.read_network(length_unit="mile", speed_unit="mph", input_dir=".")
        pg.read_demand(ui, input_dir=".")
        t1 = time.perf_counter()
        pg.find_ue(ui, column_gen, update)
        t2 = time.perf_counter()
        pg.read_measurements(ui, input_dir=".")
        pg.conduct_odme(ui, odme_iter)
        t3 = time.perf_counter()
        pg.output_link_performance(ui, output_dir=".")
    finally:
        sys.stdout = real
        os.chdir(cwd)
    vol = np.zeros(len(z["tail_id"]))
    with open(os.path.join(work, "link_performance.csv")) as f:
        for row in csv.DictReader(f):
            vol[int(row["link_id"]) - 1] = float(row.get("volume") or row.get("vol") or 0.0)
    print(json.dumps({"read_s": t1 - t0, "ue_s": t2 - t1, "odme_s": t3 - t2, "volume": vol.tolist()}))


if __name__ == "__main__":
    a = sys.argv
    main(a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
