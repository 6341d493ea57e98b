"""Facility location models against OR-Library's proven optima (read by path from ../shared)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optimise
from mobility.orlib import read_cap, read_optima, read_pmed

from .conftest import shared_path

CAP = ["cap41", "cap42", "cap43", "cap44", "cap51", "cap61", "cap62", "cap63", "cap64", "cap71", "cap72", "cap73", "cap74",
       "cap81", "cap82", "cap83", "cap84", "cap91", "cap92", "cap93", "cap94", "cap101", "cap102", "cap103", "cap104",
       "cap111", "cap112", "cap113", "cap114", "cap121", "cap122", "cap123", "cap124", "cap131", "cap132", "cap133", "cap134"]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_p_median_reaches_the_published_optimum(k: int) -> None:
    folder = shared_path("orlib", "pmed")
    cost, p = read_pmed(folder / f"pmed{k}.txt")
    res = optimise.p_median(cost, p)
    assert res.status == "OPTIMAL" and res.gap <= 1e-9
    assert res.objective == pytest.approx(read_optima(folder / "pmedopt.txt")[f"pmed{k}"], abs=1e-6)
    assert len(res.sites) == p
    # the objective is what the open sites give: each node to its nearest open site
    assert cost[:, list(res.sites)].min(axis=1).sum() == pytest.approx(res.objective)


@pytest.mark.parametrize("name", CAP)
def test_capacitated_location_reaches_the_published_optimum(name: str) -> None:
    folder = shared_path("orlib", "cap")
    d = read_cap(folder / f"{name}.txt")
    res = optimise.capacitated_facility_location(d["cost"], d["demand"], d["capacity"], d["fixed_cost"])
    assert res.status == "OPTIMAL"
    assert res.objective == pytest.approx(read_optima(folder / "capopt.txt")[name], abs=1e-2)
    # every customer served in full, no open warehouse over capacity, nothing from a closed one
    x = res.assignment
    assert np.allclose(x.sum(axis=1), 1.0)
    load = (x * d["demand"][:, None]).sum(axis=0)
    assert (load <= d["capacity"] + 1e-6).all()
    closed = [i for i in range(len(d["capacity"])) if i not in res.sites]
    assert np.allclose(x[:, closed], 0.0)


def test_p_median_matches_brute_force_with_weights() -> None:
    rng = np.random.default_rng(4)
    pts, sites = rng.uniform(0, 10, (12, 2)), rng.uniform(0, 10, (7, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 5, 12).astype(float)
    best = min(float((w * cost[:, list(s)].min(axis=1)).sum()) for s in itertools.combinations(range(7), 3))
    res = optimise.p_median(cost, 3, weights=w)
    assert res.objective == pytest.approx(best, rel=1e-9)


def test_bad_location_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="p must be"):
        optimise.p_median(np.ones((3, 2)), 3)
    with pytest.raises(ValueError, match="exceeds total capacity"):
        optimise.capacitated_facility_location(np.ones((2, 2)), np.array([5.0, 5.0]), np.array([3.0, 3.0]), np.ones(2))


def test_maximal_covering_matches_brute_force_and_greedy_is_no_better_than_optimal() -> None:
    rng = np.random.default_rng(9)
    pts, sites = rng.uniform(0, 10, (15, 2)), rng.uniform(0, 10, (8, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 6, 15).astype(float)
    best = max(float(w[(cost[:, list(s)] <= 3.0).any(axis=1)].sum()) for s in itertools.combinations(range(8), 2))
    res = optimise.maximal_covering(cost, 2, 3.0, weights=w)
    assert res.status == "OPTIMAL" and res.objective == pytest.approx(best)
    covered = res.assignment.any(axis=1)
    assert (cost[covered][:, list(res.sites)].min(axis=1) <= 3.0).all()
    greedy = optimise.greedy_p_median(cost, 3, weights=w)
    exact = optimise.p_median(cost, 3, weights=w)
    assert len(greedy.sites) == 3 and greedy.objective >= exact.objective - 1e-9
    assert greedy.objective == pytest.approx(float((w * cost[:, list(greedy.sites)].min(axis=1)).sum()))
