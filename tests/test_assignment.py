"""Assignment kernels: analytic Braess case, published TNTP optima, invariants, reference implementations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import mobility as mb
from numba_kernels import reference as ref
from numba_kernels.aon import aon_load
from numba_kernels.equilibrium import AssignmentProblem, solve
from numba_kernels.links import beckmann, bpr_cost, line_search
from numba_kernels.paths import shortest_path_tree

from .conftest import shared_path


def _net(n_nodes, tail, head, fft, cap, b, power, zone_count=0, name="t"):
    E = len(tail)
    return mb.network.build_network(
        name=name, source="test", node_ids=[str(i + 1) for i in range(n_nodes)], tail=tail, head=head,
        edge_ids=[str(i + 1) for i in range(E)],
        attributes={"length": np.ones(E), "free_speed": np.ones(E), "lanes": np.ones(E), "capacity": cap,
                    "free_flow_time": fft},
        units={"length": "km", "free_speed": "km/min", "free_flow_time": "min", "capacity": "veh/h"},
        zone_count=zone_count, extra={"b": np.asarray(b, float), "power": np.asarray(power, float)})


def _braess(with_bridge=True):
    # t12 = t34 = 2 + 10x, t13 = t24 = 50 + x, t23 = 10 + x (BPR with power 1 and capacity 1)
    tail, head = [0, 0, 1, 2, 1], [1, 2, 3, 3, 2]
    fft, b = [2.0, 50.0, 50.0, 2.0, 10.0], [5.0, 0.02, 0.02, 5.0, 0.1]
    if not with_bridge:
        tail, head, fft, b = tail[:4], head[:4], fft[:4], b[:4]
    net = _net(4, tail, head, fft, np.ones(len(tail)), b, np.ones(len(tail)))
    flows = np.zeros((4, 4))
    flows[0, 3] = 6.0
    return net, mb.ODMatrix(np.array(["1", "2", "3", "4"], dtype=object), flows)


@pytest.mark.parametrize("method", ["gp", "bfw", "cfw", "fw"])
def test_braess_equilibrium_matches_the_analytic_answer(method):
    net, od = _braess()
    ds = mb.assign(net, od, method=method, rgap=1e-9, max_iter=20000)
    p, r = 28 / 13, 22 / 13  # path flows: 1-2-4 and 1-3-4 carry p each, 1-2-3-4 carries r
    expect = {("1", "2"): p + r, ("1", "3"): p, ("2", "4"): p, ("3", "4"): p + r, ("2", "3"): r}
    got = {(f, t): x for f, t, x in zip(ds.from_node.values, ds.to_node.values, ds.flow.values)}
    for k, v in expect.items():
        assert got[k] == pytest.approx(v, abs=1e-3 if method != "gp" else 1e-7)
    # every path costs 52 + 528/13; the network without the bridge is faster (Braess's paradox)
    cost = dict(zip(zip(ds.from_node.values, ds.to_node.values), ds.cost.values))
    assert cost[("1", "2")] + cost[("2", "4")] == pytest.approx(52 + 528 / 13, rel=1e-6)
    net0, od0 = _braess(with_bridge=False)
    ds0 = mb.assign(net0, od0, rgap=1e-10)
    assert ds0.flow.values == pytest.approx([3, 3, 3, 3])
    assert float(ds0.cost.values[0] + ds0.cost.values[2]) == pytest.approx(85.0)


TNTP = {
    "SiouxFalls": ("SiouxFalls/SiouxFalls", None, 1e-12, 4231335.28710744),  # published 42.31335287107440 x 1e5
    "Anaheim": ("Anaheim/Anaheim", None, 1e-12, None),
    "Chicago-Sketch": ("ChicagoSketch", 388, 1e-10, 17313018.7387477),
}


@pytest.mark.parametrize("name", list(TNTP))
def test_tntp_flows_match_the_best_known_solution(name):
    stem, ftn, gap, optimum = TNTP[name]
    folder = shared_path("tntp", name)
    stem = stem.split("/")[-1]
    net = mb.network_from_tntp(folder / f"{stem}_net.tntp", **({"first_thru_node": ftn} if ftn else {}))
    od = mb.od_from_tntp(folder / f"{stem}_trips.tntp")
    ds = mb.assign(net, od, rgap=gap, max_iter=1000)
    assert ds.attrs["converged"] and ds.attrs["rgap"] <= gap
    f, t, v, _ = mb.read_tntp_flows(folder / f"{stem}_flow.tntp")
    cmp = mb.compare_flows(ds, f, t, v)
    assert cmp["max_abs_diff"] < 1.0, cmp
    if optimum is not None:
        assert ds.attrs["objective"] == pytest.approx(optimum, rel=1e-7)
    assert np.all(np.diff(ds.objective.values[1:]) < 1e-6 * ds.objective.values[0])  # objective falls


def _random_case(seed, n_nodes=7, chords=8, zones=3, zone_count=0):
    rng = np.random.default_rng(seed)
    tail = list(range(n_nodes)) + list(range(n_nodes))
    head = [(i + 1) % n_nodes for i in range(n_nodes)] + [(i - 1) % n_nodes for i in range(n_nodes)]
    for _ in range(chords):
        a, c = rng.choice(n_nodes, 2, replace=False)
        tail.append(int(a))
        head.append(int(c))
    E = len(tail)
    fft = rng.uniform(1, 10, E)
    cap = rng.uniform(50, 200, E)
    demand = rng.uniform(0, 100, (zones, zones)) * (rng.random((zones, zones)) < 0.8)
    np.fill_diagonal(demand, 0)
    return _net(n_nodes, tail, head, fft, cap, np.full(E, 0.15), np.full(E, 4.0), zone_count=zone_count), \
        mb.ODMatrix(np.array([str(i + 1) for i in range(zones)], dtype=object), demand)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), method=st.sampled_from(["gp", "bfw", "fw"]))
def test_flow_is_conserved_at_every_node(seed, method):
    net, od = _random_case(seed)
    if od.total == 0:
        return
    ds = mb.assign(net, od, method=method, rgap=1e-6, max_iter=5000)
    x = ds.flow.values
    balance = np.zeros(net.n_nodes)
    np.add.at(balance, net.head, x)
    np.subtract.at(balance, net.tail, x)
    expected = np.zeros(net.n_nodes)
    zn = np.array([net.node_index[z] for z in od.zone_ids])
    np.add.at(expected, zn, od.flows.sum(axis=0))
    np.subtract.at(expected, zn, od.flows.sum(axis=1))
    assert balance == pytest.approx(expected, abs=1e-7 * od.total)
    assert np.all(x >= -1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_kernels_agree_with_reference_implementations(seed):
    net, od = _random_case(seed, n_nodes=8, zones=4, zone_count=2)
    from mobility.assignment import _problem

    pr, zn = _problem(net, od, None, None)
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0.5, 5, net.n_edges)
    for o in range(net.n_nodes):
        d_fast, _ = shortest_path_tree(net.indptr, net.head, cost, o, 2)
        d_ref, _ = ref.dijkstra(net.indptr, net.head, cost, o, 2)
        assert d_fast == pytest.approx(d_ref)
    for threads in (1, 2):
        buf = np.empty((threads, net.n_edges))
        sptt, lost = aon_load(pr.indptr, pr.tail, pr.head, cost, 2, zn, pr.demand, buf)
        f_ref, s_ref = ref.aon(pr.indptr, pr.tail, pr.head, cost, 2, zn, pr.demand)
        assert buf.sum(axis=0) == pytest.approx(f_ref) and sptt == pytest.approx(s_ref) and lost == 0
    x = rng.uniform(0, 300, net.n_edges)
    out = np.empty(net.n_edges)
    args = (pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed)
    bpr_cost(*args, x, out)
    assert out == pytest.approx(ref.bpr_cost(*args, x))
    assert beckmann(*args, x) == pytest.approx(ref.beckmann(*args, x), rel=1e-8)
    d = rng.uniform(-100, 300, net.n_edges)
    d = np.maximum(d, -x)
    assert line_search(*args, x, d, 1.0) == pytest.approx(ref.line_search(*args, x, d), abs=1e-7)
    fast = solve(pr, "gp", rgap=1e-11).flow
    slow = ref.gradient_projection(pr.indptr, pr.tail, pr.head, 2, zn, pr.demand, *args, sweeps=60)
    assert fast == pytest.approx(slow, abs=1e-4 * od.total)


def test_zones_are_never_passed_through():
    # 1 -> 2 -> 3 is the short way but node 2 is a zone; the long way 1 -> 4 -> 3 must be used
    net = _net(4, [0, 1, 0, 3], [1, 2, 3, 2], [1.0, 1.0, 5.0, 5.0], np.full(4, 100.0), np.full(4, 0.15),
               np.full(4, 4.0), zone_count=3)
    flows = np.zeros((3, 3))
    flows[0, 2] = 10.0
    ds = mb.assign(net, mb.ODMatrix(np.array(["1", "2", "3"], dtype=object), flows), rgap=1e-10)
    assert dict(zip(ds.edge.values, ds.flow.values)) == pytest.approx({"1": 0, "2": 0, "3": 10, "4": 10})


def test_bad_input_gets_a_clear_error():
    net, od = _braess()
    with pytest.raises(mb.InputError, match="unknown assignment method 'xx'"):
        mb.assign(net, od, method="xx")
    with pytest.raises(mb.InputError, match="rgap must be a positive"):
        mb.assign(net, od, rgap=0)
    bad = mb.ODMatrix(np.array(["1", "9"], dtype=object), np.ones((2, 2)))
    with pytest.raises(mb.DemandError, match="zone.*not nodes.*'9'"):
        mb.assign(net, bad)
    flows = np.zeros((4, 4))
    flows[3, 0] = 1.0  # no edge leads back from 4 to 1
    with pytest.raises(mb.DemandError, match="no path, first zone 4 -> 1 "):
        mb.assign(net, mb.ODMatrix(od.zone_ids, flows))
    cap = net.capacity.copy()
    cap[1] = 0.0
    from dataclasses import replace

    with pytest.raises(mb.InputError, match=r"edge 2 \(1 -> 3\): capacity 0.0"):
        mb.assign(replace(net, capacity=cap), od)
    with pytest.raises(ValueError, match="demand has shape"):
        AssignmentProblem.build(net.indptr, net.tail, net.head, np.arange(4), np.ones((3, 3)), net.free_flow_time,
                                net.capacity, np.ones(5), np.ones(5))


def test_cli_assign_writes_the_flows_dataset(tmp_path):
    folder = shared_path("tntp", "SiouxFalls")
    out = tmp_path / "flows.nc"
    r = subprocess.run([sys.executable, "-m", "mobility.cli", "assign", str(folder / "SiouxFalls_net.tntp"), "--trips",
                        str(folder / "SiouxFalls_trips.tntp"), "--rgap", "1e-8", "--output", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "converged" in r.stdout
    ds = xr.load_dataset(out)
    assert ds.flow.attrs["units"] == "veh/h" and ds.attrs["rgap"] <= 1e-8
    assert ds.attrs["objective"] == pytest.approx(4231335.28710744, rel=1e-7)
    assert (str(ds.from_node.values[0]), str(ds.to_node.values[0])) == ("1", "2")
    bad = subprocess.run([sys.executable, "-m", "mobility.cli", "assign", str(folder / "SiouxFalls_net.tntp"),
                          "--trips", str(tmp_path / "missing.tntp"), "--output", str(tmp_path / "x.nc")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "missing.tntp" in bad.stderr and not (tmp_path / "x.nc").exists()
