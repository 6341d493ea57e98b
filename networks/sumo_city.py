"""Build a city's SUMO scenario folder, as engineers bring them, around a shipped network.

``python networks/sumo_city.py grid3x3 OUT_FOLDER`` writes into ``OUT_FOLDER`` (nothing is committed):

- ``city.sumocfg``: a ``<configuration>`` (the older root) naming the files below, with one option given as
  element text (an older dialect SUMO still reads) and options the toolkit does not model
  (``--device.rerouting.probability``, an ``--fcd-output``, a GUI settings file);
- ``city.tls.add.xml``: the city's own timing plans (root ``<add>``), a program per signal that replaces the
  network's (other splits and offsets);
- ``city.det.add.xml``: induction loops (E1) 30 m before every signalised stop line and one lane-area
  detector (E2) (root ``<add>``), writing ``e1.out.xml`` and ``e2.out.xml``;
- ``city.stops.add.xml``: two bus stops (root ``<additional>``);
- ``city.vtypes.xml``: the vehicle types, in a file whose root is ``<routes>``, given as an additional file;
- ``city.rou.xml``: car trips between the network's boundary edges and a bus line serving both stops.

Tests and the README's "your own city" walk-through use it; ``build()`` returns the configuration's path.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _boundary(net: ET.Element) -> tuple[list[str], list[str]]:
    """Edges leaving and entering the network's dead ends (its fringe)."""
    edges = [e for e in net.iter("edge") if e.get("function") != "internal"]
    neighbours: dict[str, set[str]] = {}
    for e in edges:
        neighbours.setdefault(e.get("from", ""), set()).add(e.get("to", ""))
        neighbours.setdefault(e.get("to", ""), set()).add(e.get("from", ""))
    fringe = {n for n, nb in neighbours.items() if len(nb) == 1}
    return ([e.get("id", "") for e in edges if e.get("from") in fringe],
            [e.get("id", "") for e in edges if e.get("to") in fringe])


def build(network: str | Path, folder: str | Path, *, seed: int = 1, end_s: float = 900.0, trips: int = 300) -> Path:
    """Write the city scenario folder around ``network`` (a shipped name such as ``grid3x3``, or a path).

    Parameters
    ----------
    network : str or path
        ``grid3x3``, ``corridor5`` (any shipped network with signals), or a ``.net.xml``.
    folder : path
        Existing folder to write into.
    seed : int
        Seed of the trips' draw.
    end_s : float, s
        End of the simulated window.
    trips : int
        Car trips, departing uniformly over the window's first 80%.

    Returns
    -------
    Path
        The ``city.sumocfg`` written.
    """
    import sumolib

    net_path = Path(network) if str(network).endswith(".xml") else ROOT / "networks" / f"{network}.net.xml"
    out = Path(folder)
    root = ET.parse(net_path).getroot()
    rng = np.random.default_rng(seed)
    # the city's own timing plans: every program re-timed, root <add>
    tls = ["<add>"]
    for tl in root.iter("tlLogic"):
        tls.append(f'    <tlLogic id="{tl.get("id")}" type="static" programID="city" offset="{7 + len(tls) % 5}">')
        for k, ph in enumerate(tl.iter("phase")):
            d = float(ph.get("duration", "1"))
            state = ph.get("state", "")
            if any(c in "Gg" for c in state) and d > 10:
                d = max(8.0, d + (6 if k % 2 == 0 else -6))
            tls.append(f'        <phase duration="{d:g}" state="{state}"/>')
        tls.append("    </tlLogic>")
    tls.append("</add>")
    (out / "city.tls.add.xml").write_text("\n".join(tls) + "\n")
    # detectors before each signalised stop line, root <add>
    signalised = {j.get("id") for j in root.iter("junction") if str(j.get("type", "")).startswith("traffic_light")}
    det = ["<add>"]
    e2_done = False
    for e in root.iter("edge"):
        if e.get("function") == "internal" or e.get("to") not in signalised:
            continue
        for lane in e.iter("lane"):
            length = float(lane.get("length", "0"))
            if length < 40:
                continue
            det.append(f'    <inductionLoop id="e1_{lane.get("id")}" lane="{lane.get("id")}" pos="{length - 30:.1f}" '
                       'period="300" file="e1.out.xml"/>')
            if not e2_done:
                det.append(f'    <laneAreaDetector id="e2_{lane.get("id")}" lane="{lane.get("id")}" pos="0" '
                           f'length="{min(length, 80):.1f}" period="300" file="e2.out.xml"/>')
                e2_done = True
    det.append("</add>")
    (out / "city.det.add.xml").write_text("\n".join(det) + "\n")
    # a bus line between two boundary edges, stopping at two stops on its way
    snet = sumolib.net.readNet(str(net_path))
    starts, ends = _boundary(root)
    best: list[str] = []
    for a in starts:
        for b in ends:
            path, _ = snet.getShortestPath(snet.getEdge(a), snet.getEdge(b))
            if path and len(path) > len(best):
                best = [x.getID() for x in path]
    inner = [e for e in best[1:-1] if snet.getEdge(e).getLength() > 60] or best
    stop_edges = [inner[0], inner[-1]] if len(inner) > 1 else [inner[0], best[-1]]
    stops = ["<additional>"]
    for i, e in enumerate(stop_edges):
        length = snet.getEdge(e).getLength()
        stops.append(f'    <busStop id="stop{i}" lane="{e}_0" startPos="{length * 0.3:.1f}" '
                     f'endPos="{length * 0.3 + 25:.1f}" lines="L1"/>')
    stops.append("</additional>")
    (out / "city.stops.add.xml").write_text("\n".join(stops) + "\n")
    (out / "city.vtypes.xml").write_text(
        "<routes>\n"
        '    <vType id="car" vClass="passenger" sigma="0.5" length="5" minGap="2.5"/>\n'
        '    <vType id="bus" vClass="bus" length="12" minGap="3" accel="1.2" decel="4" maxSpeed="20"/>\n'
        "</routes>\n")
    # car trips between boundary edges, and the bus line
    departs = np.sort(rng.uniform(0, 0.8 * end_s, trips))
    rows = []
    for i, t in enumerate(departs):
        a, b = starts[rng.integers(len(starts))], ends[rng.integers(len(ends))]
        while snet.getEdge(a).getToNode() == snet.getEdge(b).getFromNode() or not snet.getShortestPath(
                snet.getEdge(a), snet.getEdge(b))[0]:
            a, b = starts[rng.integers(len(starts))], ends[rng.integers(len(ends))]
        rows.append((t, f'    <trip id="car{i}" type="car" depart="{t:.2f}" from="{a}" to="{b}" departLane="best"/>'))
    bus = (f'    <flow id="L1" type="bus" begin="0" end="{0.8 * end_s:g}" period="180" line="L1" departLane="best">\n'
           f'        <route edges="{" ".join(best)}"/>\n'
           + "".join(f'        <stop busStop="stop{i}" duration="20"/>\n' for i in range(len(stop_edges)))
           + "    </flow>")
    rows.append((0.0, bus))
    rows.sort(key=lambda r: r[0])
    (out / "city.rou.xml").write_text("<routes>\n" + "\n".join(r for _, r in rows) + "\n</routes>\n")
    (out / "gui.settings.xml").write_text('<viewsettings>\n    <delay value="20"/>\n</viewsettings>\n')
    cfg = f"""<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <input>
        <net-file value="{net_path.resolve()}"/>
        <route-files value="city.rou.xml"/>
        <additional-files value="city.vtypes.xml,city.tls.add.xml,city.det.add.xml,city.stops.add.xml"/>
    </input>
    <time>
        <begin value="0"/>
        <end>{end_s:g}</end>
    </time>
    <routing>
        <device.rerouting.probability value="0.2"/>
    </routing>
    <output>
        <fcd-output value="fcd.out.xml"/>
        <fcd-output.geo value="false"/>
        <tripinfo-output value="tripinfo.out.xml"/>
    </output>
    <report>
        <no-step-log value="true"/>
    </report>
    <gui_only>
        <gui-settings-file value="gui.settings.xml"/>
    </gui_only>
</configuration>
"""
    path = out / "city.sumocfg"
    path.write_text(cfg)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python networks/sumo_city.py NETWORK OUT_FOLDER")
    print(build(sys.argv[1], sys.argv[2]))
