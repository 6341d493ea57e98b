"""Build the networks shipped in networks/ with SUMO's own generators.

Run from the repository root:  python networks/build.py
Every network is written atomically; the script is the single source of the shipped files.
"""

from __future__ import annotations

from pathlib import Path

from mobility import generate_corridor, generate_grid, generate_spider

HERE = Path(__file__).resolve().parent


def _gzipped(net):
    """Replace the network file by ``<name>.net.xml.gz`` (SUMO and the loader read it as it is): the
    city-scale charging study's town (576 signalised junctions, 2,400 one-lane streets) is 5 MB as text."""
    import gzip
    import shutil

    from mobility import load_network

    src = net.net_file
    dst = src.with_name(src.name + ".gz")
    tmp = dst.with_name(dst.name + ".tmp")
    with src.open("rb") as fin, tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fout:
        shutil.copyfileobj(fin, fout)  # mtime 0: the same network gives the same bytes
    tmp.replace(dst)
    src.unlink()
    return load_network(dst)


def main() -> None:
    built = [
        generate_grid(HERE / "grid3x3.net.xml", n=3, length_m=200.0, attach_length_m=150.0, lanes=2, speed_m_s=13.89),
        generate_corridor(HERE / "corridor5.net.xml", junctions=5, spacing_m=300.0, main_lanes=2, side_lanes=1),
        generate_spider(HERE / "spider6x3.net.xml", arms=6, circles=3, space_radius_m=150.0),
        generate_grid(HERE / "district5x5.net.xml", n=5, length_m=250.0, attach_length_m=200.0, lanes=2,
                      speed_m_s=13.89),
        _gzipped(generate_grid(HERE / "city24x24.net.xml", n=24, length_m=150.0, attach_length_m=100.0, lanes=1,
                               speed_m_s=13.89)),
    ]
    for net in built:
        s = net.summary()
        print(f"{net.net_file.name}: {s['nodes']} nodes, {s['edges']} edges, {s['signals']} signals")


if __name__ == "__main__":
    main()
