"""Green waves: the MAXBAND model against the analytic two-signal band and brute force on three signals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimise.bandwidth import bandwidths, maxband


def _analytic_equal_band(cycle: float, green: float, travel: float) -> float:
    """Two signals with equal greens, one stage serving both directions: the offset that centres the
    two bands loses half the circular distance of the round trip ``2 t`` from a multiple of the cycle."""
    r = (2 * travel) % cycle
    return max(0.0, green - min(r, cycle - r) / 2)


@pytest.mark.parametrize("distance_m,speed_m_s", [(400.0, 13.89), (250.0, 11.11), (650.0, 16.67)])
def test_two_signal_offsets_give_the_analytic_green_wave(distance_m: float, speed_m_s: float) -> None:
    cycle, green = 90.0, 40.0
    travel = distance_m / speed_m_s
    two_way = maxband(cycle, [green, green], [travel], equal=True)
    expected = _analytic_equal_band(cycle, green, travel)
    assert two_way.status == "OPTIMAL" and two_way.gap < 1e-6
    assert two_way.outbound_s == pytest.approx(expected, abs=1.0)
    out, back = bandwidths(cycle, two_way.offsets_s, [green, green], [travel])  # measured, not the model's word
    assert out == pytest.approx(expected, abs=1.0) and back == pytest.approx(expected, abs=1.0)
    one_way = maxband(cycle, [green, green], [travel], inbound_weight=0.0)
    assert one_way.outbound_s == pytest.approx(green, abs=1e-6)          # a full one-way wave
    assert one_way.offsets_s[1] == pytest.approx(travel % cycle, abs=1e-6)  # the offset is the travel time
    assert bandwidths(cycle, one_way.offsets_s, [green, green], [travel])[0] == pytest.approx(green, abs=0.02)


def test_three_signals_match_brute_force_over_whole_second_offsets() -> None:
    cycle = 80.0
    green, green_in = [38.0, 30.0, 44.0], [38.0, 36.0, 44.0]
    travel, travel_in = [27.0, 41.0], [29.0, 39.0]
    shift = [0.0, 6.0, 0.0]
    r = maxband(cycle, green, travel, green_in_s=green_in, travel_in_s=travel_in, inbound_shift_s=shift,
                inbound_weight=0.6)
    best = 0.0
    for a, b in itertools.product(range(int(cycle)), repeat=2):
        o, i = bandwidths(cycle, [0.0, a, b], green, travel, green_in_s=green_in, travel_in_s=travel_in,
                          inbound_shift_s=shift, resolution_s=0.5)
        best = max(best, o + 0.6 * i)
    measured = bandwidths(cycle, r.offsets_s, green, travel, green_in_s=green_in, travel_in_s=travel_in,
                          inbound_shift_s=shift, resolution_s=0.05)
    assert r.objective >= best - 1e-6                      # no whole-second offsets do better
    assert measured[0] + 0.6 * measured[1] == pytest.approx(r.objective, abs=0.2)


def test_bad_bandwidth_input_is_refused() -> None:
    with pytest.raises(ValueError, match="one travel time per link"):
        maxband(90.0, [40, 40, 40], [20.0])
    with pytest.raises(ValueError, match="green times must lie"):
        maxband(90.0, [40, 100], [20.0])
    with pytest.raises(ValueError, match="cycle_s"):
        maxband(-1.0, [40, 40], [20.0])
    assert np.isclose(maxband(90.0, [40.0], []).outbound_s, 40.0)
