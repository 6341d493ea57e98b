"""Build the tables of the city-scale EV charging study (``city_ev.yaml``) on ``networks/city24x24.net.xml.gz``.

Run from the repository root after ``python networks/build.py``:  python scenarios/ev_charging/build_city.py

- ``city_demand.csv`` (``edge, weight``): one demand point per street of the network that cars can reach and
  leave (2,400 on the shipped grid), weighted by charging events per hour: a density falling from the centre to
  the edge of town (twice as dense in the middle) times gamma noise (shape 2), scaled to the EVs of the traffic
  scenario.
- ``city_sites.csv`` (``id, edge, pos_m, power_kw, max_points, cost``): 300 kerbside candidate sites at the middle
  of inner streets drawn without repetition, 50 kW, up to 6 points; a site's cost (for the capacitated model) is
  1 plus up to 50% more towards the centre, where kerbside space is dearer.

The draws use seed 2024, so the tables are the same on every run. Both files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NETWORK = ROOT / "networks" / "city24x24.net.xml.gz"
SEED = 2024
SITES = 300
EV_TRIPS_H = 900.0  # the traffic scenario's EVs per hour, shared out over the demand points


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main() -> None:
    from mobility import load_network
    from mobility.demand import street_edges

    net = load_network(NETWORK)
    rng = np.random.default_rng(SEED)
    streets = street_edges(net, include_boundary=True)
    xy = np.stack([net.node_x, net.node_y], axis=1)
    mid = (xy[net.tail[streets]] + xy[net.head[streets]]) / 2.0
    centre = mid.mean(axis=0)
    r = np.hypot(*(mid - centre).T)
    r = r / r.max()
    density = (2.0 - r) * rng.gamma(2.0, 0.5, len(streets))
    weight = density / density.sum() * EV_TRIPS_H
    lines = ["edge,weight"] + [f"{net.edge_ids[e]},{w:.4f}" for e, w in zip(streets, weight)]
    _write(HERE / "city_demand.csv", "\n".join(lines) + "\n")

    inner = street_edges(net, include_boundary=False, min_length_m=60.0)
    pick = np.sort(rng.choice(len(inner), SITES, replace=False))
    rows = ["id,edge,pos_m,power_kw,max_points,cost"]
    for k in pick:
        e = inner[k]
        at = (xy[net.tail[e]] + xy[net.head[e]]) / 2.0
        rc = min(1.0, float(np.hypot(*(at - centre))) / float(np.hypot(*(mid - centre).T).max()))
        eid = str(net.edge_ids[e])
        rows.append(f"cs_{eid},{eid},{float(net.length[e]) / 2.0:.1f},50,6,{1.0 + 0.5 * (1.0 - rc):.3f}")
    _write(HERE / "city_sites.csv", "\n".join(rows) + "\n")
    print(f"{len(streets)} demand points, {SITES} candidate sites")


if __name__ == "__main__":
    main()
