"""Flow-refuelling location: hand-checked round trips, brute force on Sioux Falls, the capacitated variant."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optimise
from optimise import RoundTrip, arc_cover_sets, round_trip, trip_feasible

from .conftest import shared_path


def test_round_trip_of_a_line_and_its_arc_cover_sets() -> None:
    # sites 0, 1, 2 at 0, 5 and 10 km on a 10 km path: out and back is 20 km; site 1 is passed twice
    t = round_trip([0, 1, 2], [0.0, 5.0, 10.0], 10.0)
    assert t.length == 20.0
    assert list(t.sites) == [0, 1, 2, 1] and list(t.positions) == [0.0, 5.0, 10.0, 15.0]
    # range 10: the arc ending at each pass may be driven from passes up to 10 km behind it
    assert arc_cover_sets(t, 10.0) == [frozenset({1, 2}), frozenset({0, 1}), frozenset({0, 1}), frozenset({1, 2})]
    assert trip_feasible(t, {1}, 10.0)            # the middle site, passed at 5 and 15: gaps of 10
    assert trip_feasible(t, {0, 2}, 10.0)         # both ends: gaps of 10
    assert not trip_feasible(t, {0}, 10.0)        # one pass per 20 km cycle
    assert not trip_feasible(t, {1}, 9.9)
    assert trip_feasible(t, {0}, 20.0)            # the whole cycle fits in the range
    assert arc_cover_sets(t, 20.0)[0] == frozenset({0, 1, 2})
    assert arc_cover_sets(RoundTrip(np.array([], dtype=int), np.array([]), 8.0), 10.0) == [frozenset()]


def test_flow_refuelling_on_the_line_picks_the_middle() -> None:
    t = round_trip([0, 1, 2], [0.0, 5.0, 10.0], 10.0)
    res = optimise.flow_refuelling([t], np.array([7.0]), 1, 10.0, n_sites=3)
    assert res.sites == (1,) and res.objective == 7.0 and res.status == "OPTIMAL"
    res = optimise.flow_refuelling([t], np.array([7.0]), 1, 9.0, n_sites=3)
    assert res.objective == 0.0


def _sioux_falls():
    from mobility.charging.trips import od_round_trips
    from mobility.tntp import network_from_tntp, od_from_tntp

    folder = shared_path("tntp", "SiouxFalls")
    net = network_from_tntp(folder / "SiouxFalls_net.tntp")
    od = od_from_tntp(folder / "SiouxFalls_trips.tntp")
    return od_round_trips(net, od.flows)


def _brute_force(trips: list[RoundTrip], flows: np.ndarray, p: int, range_: float, n_sites: int) -> float:
    """Best served flow over every set of ``p`` sites, from the gaps between open passes (vectorised over sets)."""
    combos = np.array(list(itertools.combinations(range(n_sites), p)))
    served = np.zeros(len(combos))
    for t, f in zip(trips, flows, strict=True):
        pos = np.asarray(t.positions)
        if pos.size == 0:
            continue
        is_open = (np.asarray(t.sites)[None, :, None] == combos[:, None, :]).any(axis=2)  # (combos, passes)
        idx = np.where(is_open, np.arange(pos.size), -1)
        last_open = np.maximum.accumulate(idx, axis=1)
        prev = np.concatenate([np.full((len(combos), 1), -1), last_open[:, :-1]], axis=1)
        first = np.where(is_open.any(axis=1), is_open.argmax(axis=1), 0)
        last = last_open[:, -1]
        gap_inside = np.where(is_open & (prev >= 0), pos[None, :] - pos[np.maximum(prev, 0)], 0.0).max(axis=1)
        wrap = pos[first] + t.length - pos[np.maximum(last, 0)]
        ok = is_open.any(axis=1) & (np.maximum(gap_inside, wrap) <= range_ + 1e-9)
        served += f * ok
    return float(served.max())


@pytest.mark.parametrize("range_", [10.0, 20.0, 30.0])
def test_flow_refuelling_matches_brute_force_on_sioux_falls(range_: float) -> None:
    trips, flows, _ = _sioux_falls()
    assert len(trips) == 264 and flows.sum() == pytest.approx(360600.0)
    for p in (1, 2, 3, 4):
        res = optimise.flow_refuelling(trips, flows, p, range_, n_sites=24)
        assert res.status == "OPTIMAL" and len(res.sites) == p
        assert res.objective == pytest.approx(_brute_force(trips, flows, p, range_, 24), abs=1e-6)
        # the objective is what the open sites give, trip by trip
        direct = sum(f for t, f in zip(trips, flows, strict=True) if trip_feasible(t, set(res.sites), range_))
        assert res.objective == pytest.approx(direct)
        greedy = optimise.greedy_flow_refuelling(trips, flows, p, range_, n_sites=24)
        assert res.objective >= greedy.objective - 1e-9


def test_greedy_falls_short_where_pairs_of_sites_matter() -> None:
    trips, flows, _ = _sioux_falls()
    opt = optimise.flow_refuelling(trips, flows, 4, 30.0, n_sites=24)
    greedy = optimise.greedy_flow_refuelling(trips, flows, 4, 30.0, n_sites=24)
    assert greedy.objective < opt.objective  # 256800 vs 265100 served


def test_capacitated_variant() -> None:
    t = round_trip([0, 1, 2], [0.0, 5.0, 10.0], 10.0)
    # one trip of 100 vehicles, points serving 30 each: 2 points serve 60
    res = optimise.capacitated_flow_refuelling([t], np.array([100.0]), 10.0, n_sites=3, points=2, point_capacity=30.0)
    assert res.objective == pytest.approx(60.0) and res.served[0] == pytest.approx(0.6)
    assert res.status == "OPTIMAL" and sum(res.points) == 2
    # 4 points serve all of it
    res = optimise.capacitated_flow_refuelling([t], np.array([100.0]), 10.0, n_sites=3, points=4, point_capacity=30.0)
    assert res.objective == pytest.approx(100.0)
    trips, flows, _ = _sioux_falls()
    # with ample capacity and one point per site it is the uncapacitated model
    for p in (2, 3):
        cap = optimise.capacitated_flow_refuelling(trips, flows, 20.0, n_sites=24, points=p, max_points=1,
                                                   point_capacity=1e9)
        unc = optimise.flow_refuelling(trips, flows, p, 20.0, n_sites=24)
        assert cap.objective == pytest.approx(unc.objective, rel=1e-9)
    # scarce capacity: never more than the points can serve, and never more than uncapacitated
    cap = optimise.capacitated_flow_refuelling(trips, flows, 20.0, n_sites=24, points=6, point_capacity=20000.0, p=3)
    assert cap.objective <= 6 * 20000.0 + 1e-6
    assert cap.objective <= optimise.flow_refuelling(trips, flows, 3, 20.0, n_sites=24).objective + 1e-6
    assert len(cap.sites) <= 3 and sum(cap.points) <= 6


def test_bad_input_is_named() -> None:
    t = round_trip([0, 1], [0.0, 5.0], 5.0)
    with pytest.raises(ValueError, match="outside 0..0"):
        optimise.flow_refuelling([t], np.array([1.0]), 1, 10.0, n_sites=1)
    with pytest.raises(ValueError, match="one per round trip"):
        optimise.flow_refuelling([t], np.array([1.0, 2.0]), 1, 10.0, n_sites=2)
    with pytest.raises(ValueError, match="range must be positive"):
        optimise.flow_refuelling([t], np.array([1.0]), 1, 0.0, n_sites=2)
    with pytest.raises(ValueError, match="positions must lie"):
        round_trip([0], [6.0], 5.0)
