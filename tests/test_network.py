"""Road networks: CSR invariants, id maps, generated networks, OSM and TNTP readers, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mobility as mb
from mobility.network import build_network

from .conftest import ROOT, shared_path


def check_csr(net: mb.RoadNetwork) -> None:
    assert net.indptr.dtype == np.int32 and net.tail.dtype == np.int32 and net.head.dtype == np.int32
    assert net.indptr[0] == 0 and net.indptr[-1] == net.n_edges
    assert np.all(np.diff(net.indptr) >= 0)
    for a in ("length", "free_speed", "lanes", "capacity", "free_flow_time"):
        arr = getattr(net, a)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and arr.shape == (net.n_edges,)
    # every edge sits in its tail node's CSR slice
    tails = np.repeat(np.arange(net.n_nodes), np.diff(net.indptr))
    np.testing.assert_array_equal(tails, net.tail)


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))))
@settings(max_examples=60, deadline=None)
def test_build_network_csr_properties(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, pairs = case
    ids = [f"e{k}" for k in range(len(pairs))]
    net = build_network(
        name="h", source="hypothesis", node_ids=[f"n{i}" for i in range(n)],
        tail=[p[0] for p in pairs], head=[p[1] for p in pairs], edge_ids=ids,
        attributes={a: np.arange(len(pairs), dtype=float) for a in ("length", "free_speed", "lanes", "capacity", "free_flow_time")},
        units={},
    )
    check_csr(net)
    # every input edge is kept once (duplicates too), with its own endpoints and attributes
    assert sorted(net.edge_ids) == sorted(ids)
    for k, (t, h) in enumerate(pairs):
        e = net.edge_index[f"e{k}"]
        assert (net.tail[e], net.head[e]) == (t, h)
        assert net.length[e] == k
    assert net.graph.number_of_edges() == len(pairs)


def test_shipped_grid(grid_net: Path) -> None:
    net = mb.network_from_sumo(grid_net)
    check_csr(net)
    assert (net.n_nodes, net.n_edges) == (21, 48)
    assert int(net.node_signalised.sum()) == 9
    signalised = {str(n) for n, s in zip(net.node_ids, net.node_signalised, strict=True) if s}
    assert signalised == {f"{c}{r}" for c in "ABC" for r in range(3)}
    # id maps both ways
    for i, e in enumerate(net.edge_ids):
        assert net.edge_index[e] == i
    for i, n in enumerate(net.node_ids):
        assert net.node_index[n] == i
    # inner blocks are 200 m long (edge length is measured between junction borders, so a bit less)
    e = net.edge("A0A1")
    assert 170 < net.length[e] < 200
    assert net.free_flow_time[e] == pytest.approx(net.length[e] / net.free_speed[e])
    assert net.capacity[e] == 2 * 1800.0
    g = net.graph
    assert g.number_of_edges() == 48 and g.number_of_nodes() == 21
    assert g.edges["A0", "A1", "A0A1"]["length"] == net.length[e]
    # no U-turns on inner links: A0A1 may not be followed by A1A0
    assert net.edge("A1A0") not in net.successors(e)


def test_shipped_corridor_has_five_signals() -> None:
    net = mb.network_from_sumo(ROOT / "networks" / "corridor5.net.xml")
    check_csr(net)
    assert int(net.node_signalised.sum()) == 5
    assert net.n_edges == 2 * 6 + 4 * 5  # arterial both ways through 5 junctions, two side streets each


def test_generate_writes_atomically_and_reads_back(tmp_path: Path) -> None:
    net = mb.generate_grid(tmp_path / "g4.net.xml", n=4, length_m=150.0, lanes=1)
    assert int(net.node_signalised.sum()) == 16
    assert [p.name for p in tmp_path.iterdir()] == ["g4.net.xml"]  # no temporary files left
    spider = mb.generate_spider(tmp_path / "s.net.xml", arms=5, circles=2)
    assert spider.n_nodes == 5 * 2 + 1


def test_osm_extract_is_converted(tmp_path: Path) -> None:
    # a 3-node two-way street (~222 m along a meridian) and a one-way street branching off it
    osm = tmp_path / "tiny.osm"
    osm.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="50.0000" lon="8.0000"/>
 <node id="2" lat="50.0010" lon="8.0000"/>
 <node id="3" lat="50.0020" lon="8.0000"/>
 <node id="4" lat="50.0010" lon="8.0015"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/><tag k="name" v="Main"/></way>
 <way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
</osm>""")
    net = mb.network_from_osm(osm, output=tmp_path / "tiny.net.xml")
    check_csr(net)
    # Main is split at node 2: 2 segments x 2 directions, plus the one-way branch
    assert net.n_edges == 5
    pairs = set(zip(net.tail.tolist(), net.head.tolist(), strict=True))
    two_way = np.array([(h, t) in pairs for t, h in zip(net.tail, net.head, strict=True)])
    assert two_way.sum() == 4
    # two 111.2 m segments (1 mdeg of latitude each), shortened a little by the junction at node 2
    assert net.length[two_way].sum() / 2 == pytest.approx(222.4, rel=0.08)
    assert net.length[~two_way][0] == pytest.approx(107.2, rel=0.12)  # 1.5 mdeg of longitude at 50 N


def test_missing_and_truncated_net_files(tmp_path: Path, grid_net: Path) -> None:
    with pytest.raises(mb.InputError, match="SUMO network not found: .*nope.net.xml"):
        mb.network_from_sumo(tmp_path / "nope.net.xml")
    broken = tmp_path / "broken.net.xml"
    text = grid_net.read_text()
    broken.write_text(text[: len(text) // 2])
    with pytest.raises(mb.NetworkError, match=r"broken\.net\.xml:\d+:\d+: not a readable SUMO network.*truncated"):
        mb.network_from_sumo(broken)
    with pytest.raises(mb.InputError, match="unknown network format"):
        mb.load_network(tmp_path / "x.csv")


@pytest.mark.parametrize(("folder", "stem", "nodes", "links", "zones", "od_zones", "trips"), [
    ("SiouxFalls", "SiouxFalls", 24, 76, 0, 24, 360600.0),
    ("Anaheim", "Anaheim", 416, 914, 38, 38, 104694.40),
    ("Chicago-Sketch", "ChicagoSketch", 933, 2950, None, 387, 1260907.44),
    ("Berlin-Center", "berlin-center", 12981, 28376, 865, 865, 168222.302),
])
def test_tntp_published_dimensions(folder, stem, nodes, links, zones, od_zones, trips) -> None:
    d = shared_path("tntp", folder)
    net = mb.network_from_tntp(d / f"{stem}_net.tntp")
    check_csr(net)
    assert (net.n_nodes, net.n_edges) == (nodes, links)
    assert net.graph.number_of_edges() == links  # duplicate links are kept
    if zones is not None:  # zones below <FIRST THRU NODE> may not be passed through
        assert net.zone_count == zones
    od = mb.od_from_tntp(d / f"{stem}_trips.tntp")
    assert od.flows.shape == (od_zones, od_zones)
    assert od.total == pytest.approx(trips, rel=1e-8)


def test_tntp_first_thru_node_read_from_header() -> None:
    d = shared_path("tntp", "Anaheim")
    net = mb.network_from_tntp(d / "Anaheim_net.tntp")
    header = [ln for ln in (d / "Anaheim_net.tntp").read_text().splitlines() if "FIRST THRU NODE" in ln][0]
    assert net.zone_count == int(header.split(">")[1].split()[0]) - 1
    assert net.graph.nodes["1"]["zone"] and not net.graph.nodes[str(net.zone_count + 1)]["zone"]
    assert mb.network_from_tntp(d / "Anaheim_net.tntp", first_thru_node=1).zone_count == 0  # explicit override


def test_tntp_duplicate_links_kept() -> None:
    d = shared_path("tntp", "Berlin-Center")
    net = mb.network_from_tntp(d / "berlin-center_net.tntp")
    pairs = net.tail.astype(np.int64) * net.n_nodes + net.head
    assert len(np.unique(pairs)) < net.n_edges  # parallel links between the same nodes survive


def test_chicago_generalized_cost_matches_published_costs() -> None:
    d = shared_path("tntp", "Chicago-Sketch")
    net = mb.network_from_tntp(d / "ChicagoSketch_net.tntp")
    assert (net.toll_weight, net.distance_weight) == (0.02, 0.04)  # from the folder's README
    frm, to, vol, cost = mb.read_tntp_flows(d / "ChicagoSketch_flow.tntp")
    # the flow file is in link order: BPR time at the published flow, plus toll and distance terms
    np.testing.assert_array_equal(net.node_ids[net.tail].astype(int), frm)
    np.testing.assert_array_equal(net.node_ids[net.head].astype(int), to)
    b, p = net.extra["b"], net.extra["power"]
    bpr = net.free_flow_time * (1.0 + b * (vol / net.capacity) ** p)
    np.testing.assert_allclose(net.generalized_cost(bpr), cost, rtol=1e-6, atol=1e-9)
    # and centroid connectors (free-flow time 0, no toll) cost exactly 0.04 min per mile
    conn = net.free_flow_time == 0
    assert conn.sum() > 0
    np.testing.assert_allclose(net.generalized_cost()[conn], 0.04 * net.length[conn] + 0.02 * net.toll[conn])


def test_tntp_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "bad_net.tntp"
    f.write_text("<NUMBER OF ZONES> 1\n<NUMBER OF NODES> 2\n<NUMBER OF LINKS> 2\n<END OF METADATA>\n"
                 "~ init term\n1 2 10 1 1 0.15 4 0 0 1 ;\n2 x 10 1 1 0.15 4 0 0 1 ;\n")
    with pytest.raises(mb.NetworkError, match=r"bad_net\.tntp:7: non-numeric"):
        mb.network_from_tntp(f)
    f.write_text("<NUMBER OF ZONES> 1\n<NUMBER OF NODES> 2\n<NUMBER OF LINKS> 2\n<END OF METADATA>\n"
                 "1 2 10 1 1 0.15 4 0 0 1 ;\n")
    with pytest.raises(mb.NetworkError, match="NUMBER OF LINKS> 2 but the file has 1"):
        mb.network_from_tntp(f)
