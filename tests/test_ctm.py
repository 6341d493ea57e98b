"""Cell transmission model: vehicle conservation, capacity, the analytic shock wave, the reference step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mobility as mb
from numba_kernels import reference as ref
from numba_kernels.ctm import CTMNetwork, run

ROOT = Path(__file__).resolve().parents[1]


def _line(lengths, lanes, speed=25.0, cap_per_lane=1800.0):
    k = len(lengths)
    return mb.network.build_network(
        name="line", source="test", node_ids=[str(i) for i in range(k + 1)], tail=list(range(k)),
        head=list(range(1, k + 1)), edge_ids=[f"L{i}" for i in range(k)],
        attributes={"length": lengths, "free_speed": np.full(k, speed), "lanes": lanes,
                    "capacity": np.asarray(lanes, float) * cap_per_lane, "free_flow_time": np.asarray(lengths) / speed},
        units={"length": "m", "free_speed": "m/s", "free_flow_time": "s", "capacity": "veh/h"})


def test_vehicles_are_conserved_and_capacity_respected_on_a_signalised_corridor_network():
    net = mb.load_network(ROOT / "networks" / "corridor5.net.xml")
    sources = {"W_J1": [900.0, 2400.0, 600.0], "E_J5": 1500.0, "N3_J3": [300.0, 1200.0]}
    ds = mb.run_ctm(net, sources, duration_s=2700, period_s=900, record_every_s=30)
    total = ds.vehicles + ds.queued + ds.exited
    assert np.allclose(total, ds.entered, rtol=0, atol=1e-9 * float(ds.entered[-1]))
    assert abs(ds.attrs["conservation_error"]) < 1e-9 * ds.attrs["entered"]
    assert ds.attrs["entered"] == pytest.approx((900 + 2400 + 600) / 4 + 1500 * 0.75 + (300 + 1200 * 2) / 4)
    cap = dict(zip(net.edge_ids, net.capacity))
    lanes = dict(zip(net.edge_ids, net.lanes))
    cell_cap = np.array([cap[e] for e in ds.edge.values])
    assert np.all(ds.flow.values <= cell_cap * (1 + 1e-9))
    jam = np.array([150.0 * lanes[e] for e in ds.edge.values])
    assert np.all(ds.density.values <= jam * (1 + 1e-9)) and np.all(ds.density.values >= -1e-9)


def test_shock_wave_speed_matches_the_analytic_value():
    # 3 km two-lane road into a one-lane bottleneck; inflow 2700 veh/h > bottleneck capacity 1800 veh/h
    net = _line([3000.0, 1000.0], [2.0, 1.0])
    ds = mb.run_ctm(net, {"L0": 2700.0}, duration_s=1500, dt_s=1.0, record_every_s=10)
    v = 25.0 * 3.6  # km/h
    q1, q2, kj = 2700.0, 1800.0, 300.0
    w = 3600.0 / (kj - 3600.0 / v)
    k1, k2 = q1 / v, kj - q2 / w
    expected = (q2 - q1) / (k2 - k1) / 3.6  # m/s, negative: the queue grows upstream
    on_a = ds.edge.values == "L0"
    dens = ds.density.values[:, on_a]
    pos = ds.position_m.values[on_a]
    t, tail = [], []
    for i, time in enumerate(ds.time.values):
        jammed = np.flatnonzero(dens[i] > (k1 + k2) / 2)
        if jammed.size and 300 <= time <= 1400:
            t.append(time)
            tail.append(pos[jammed[0]])
    speed = np.polyfit(t, tail, 1)[0]
    assert speed == pytest.approx(expected, rel=0.03)
    # the queue discharges at the bottleneck capacity
    on_b = ds.edge.values == "L1"
    assert ds.flow.values[-1, on_b].mean() == pytest.approx(q2, rel=1e-6)


def _hand_network(rng):
    # links 0,1 merge at node A into 2; 2 diverges at B into 3,4; 3 and 5 meet 6,7 at C (general); 4,6,7 exit
    cells = [3, 2, 4, 2, 3, 2, 3, 2]
    cs = np.concatenate([[0], np.cumsum(cells)]).astype(np.int64)
    L = len(cells)
    vr = rng.uniform(0.6, 1.0, L)
    wr = rng.uniform(0.2, 0.6, L)
    Q = rng.uniform(0.3, 1.0, L)
    N = rng.uniform(2.0, 4.0, L)
    nodes_in = [[0, 1], [2], [3, 5], [4], [6], [7]]
    nodes_out = [[2], [3, 4], [6, 7], [], [], []]
    turn = []
    for ins, outs in zip(nodes_in, nodes_out):
        for _ in ins:
            if outs:
                f = rng.uniform(0.2, 1.0, len(outs))
                turn += list(f / f.sum())
    ptr = lambda lists: np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)  # noqa: E731
    tp = np.concatenate([[0], np.cumsum([len(i) * len(o) for i, o in zip(nodes_in, nodes_out)])]).astype(np.int64)
    flat = lambda lists: np.array([v for x in lists for v in x], dtype=np.int64)  # noqa: E731
    return CTMNetwork(cs, vr, wr, Q, N, ptr(nodes_in), flat(nodes_in), ptr(nodes_out), flat(nodes_out), tp,
                      np.array(turn), np.array([0, 1, 5], dtype=np.int64))


@pytest.mark.parametrize("seed", range(4))
def test_kernel_step_matches_the_reference_step(seed):
    rng = np.random.default_rng(seed)
    net = _hand_network(rng)
    net.check()
    inflow = rng.uniform(0.0, 1.2, (6, 3))  # heavy enough to congest the merge
    n_fast = np.zeros(net.n_cells)
    q_fast = np.zeros(3)
    n_ref = n_fast.copy()
    q_ref = q_fast.copy()
    exited_ref = exited_fast = 0.0
    empty = np.zeros((0, net.n_cells))
    for step in range(60):
        _, ex = run(n_fast, q_fast, net.cell_start, net.vr, net.wr, net.Q, net.N, net.node_in_ptr, net.node_in,
                    net.node_out_ptr, net.node_out, net.turn_ptr, net.turn, net.source_link, inflow, 10, step, 1, 1,
                    empty, empty, np.zeros((0, 4)))
        exited_ref += ref.ctm_step(net, n_ref, q_ref, inflow[min(step // 10, 5)])
        exited_fast += ex
        assert exited_fast == pytest.approx(exited_ref, abs=1e-12)
        assert n_fast == pytest.approx(n_ref, abs=1e-12)
        assert q_fast == pytest.approx(q_ref, abs=1e-12)
    assert n_fast.max() > 1.0  # something is actually queued


def test_ctm_bad_input():
    net = _line([100.0], [1.0])
    with pytest.raises(mb.InputError, match="unknown edge 'nope'"):
        mb.run_ctm(net, {"nope": 100.0}, duration_s=60)
    with pytest.raises(mb.InputError, match="shorter than one step"):
        mb.run_ctm(net, {"L0": 100.0}, duration_s=60, dt_s=10.0)
    with pytest.raises(mb.InputError, match="inflow 'L0'.*>= 0"):
        mb.run_ctm(net, {"L0": -5.0}, duration_s=60)
    tntp = mb.network.build_network(name="t", source="t", node_ids=["1", "2"], tail=[0], head=[1], edge_ids=["1"],
                                    attributes={"length": [1.0], "free_speed": [1.0], "lanes": [1.0],
                                                "capacity": [1.0], "free_flow_time": [1.0]},
                                    units={"length": "ft", "free_speed": "ft/min"})
    with pytest.raises(mb.InputError, match="lengths in m"):
        mb.run_ctm(tntp, {"1": 1.0}, duration_s=60)
