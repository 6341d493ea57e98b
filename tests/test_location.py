"""Facility location models against OR-Library's proven optima (read by path from ../shared)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import optimise
import optimise.location as location_module
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


@pytest.mark.parametrize("seed", range(6))
def test_maximal_covering_reductions_keep_the_optimum(seed: int) -> None:
    # points on a coarse lattice repeat their covering sets, and clustered sites dominate one another
    rng = np.random.default_rng(300 + seed)
    pts = rng.integers(0, 6, (40, 2)).astype(float)
    sites = np.vstack([rng.integers(0, 6, (5, 2)), rng.integers(0, 6, (4, 2)) + 0.2]).astype(float)
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(0, 5, 40).astype(float)
    for p in (1, 3, 5):
        best = max(float(w[(cost[:, list(s)] <= 2.0).any(axis=1)].sum()) for s in itertools.combinations(range(9), p))
        for method in ("reduce", "mip"):
            res = optimise.maximal_covering(cost, p, 2.0, weights=w, method=method)
            assert res.status == "OPTIMAL" and len(res.sites) == p, (p, method)
            assert res.objective == pytest.approx(best) and res.bound == pytest.approx(best), (p, method)
            assert res.objective == pytest.approx(float(w[(cost[:, list(res.sites)] <= 2.0).any(axis=1)].sum()))


def test_greedy_cover_is_within_its_guarantee_of_the_optimum() -> None:
    import scipy.sparse as sp

    from optimise.location import _greedy_cover

    rng = np.random.default_rng(77)
    for _ in range(20):
        cover = rng.random((25, 8)) < 0.25
        w = rng.integers(1, 9, 25).astype(float)
        p = int(rng.integers(1, 4))
        best = max(float(w[cover[:, list(s)].any(axis=1)].sum()) for s in itertools.combinations(range(8), p))
        chosen, got = _greedy_cover(sp.csc_matrix(cover.astype(float)), w, p)
        assert len(set(chosen)) == p and got == pytest.approx(float(w[cover[:, chosen].any(axis=1)].sum()))
        assert (1 - 1 / np.e) * best - 1e-9 <= got <= best + 1e-9


def _brute_p_median(cost: np.ndarray, p: int, w: np.ndarray) -> float:
    best = np.inf
    for s in itertools.combinations(range(cost.shape[1]), p):
        with np.errstate(invalid="ignore"):
            best = min(best, float((w * cost[:, list(s)].min(axis=1)).sum()))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_p_median_reduction_and_plain_mip_agree_with_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(8, 20)), int(rng.integers(5, 10))
    cost = rng.uniform(0, 50, (n, m))
    if seed % 2:
        cost = np.round(cost)  # integral costs: the reduction uses the unit step of the objective
        cost[:, 0] = cost[:, 1]  # ties between sites
    cost[rng.uniform(size=(n, m)) < 0.15] = np.inf  # unusable pairs
    cost[np.arange(n), rng.integers(0, m, n)] = rng.uniform(0, 50, n)  # every point keeps a usable site
    w = rng.integers(0, 4, n).astype(float)  # zero weights too
    for p in (1, 2, min(4, m), m):
        best = _brute_p_median(cost, p, w)
        if not np.isfinite(best):
            continue
        for method in ("reduce", "mip"):
            res = optimise.p_median(cost, p, weights=w, method=method)
            assert res.status == "OPTIMAL" and len(res.sites) == p
            assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-9), (seed, p, method)
            assert res.bound <= best + 1e-6 and res.gap <= 1e-9


def test_p_median_refuses_a_demand_point_no_p_sites_can_serve() -> None:
    cost = np.array([[1.0, np.inf], [np.inf, 1.0]])  # each point has its own site, but only one opens
    for method in ("reduce", "mip"):
        with pytest.raises(ValueError, match="reachable site"):
            optimise.p_median(cost, 1, method=method)
    with pytest.raises(ValueError, match="method"):
        optimise.p_median(np.ones((2, 2)), 1, method="lp")


def test_p_median_kernels_against_the_reference() -> None:
    from numba_kernels import reference
    from numba_kernels.location import interchange, lagrangian

    rng = np.random.default_rng(3)
    for _ in range(5):
        n, m, p = 14, 8, 3
        wc = np.round(rng.uniform(0, 30, (n, m)))
        # interchange ends where no single swap improves, and reports that solution's cost
        om = np.zeros(m, dtype=np.bool_)
        om[:p] = True
        ones = np.ones(m, dtype=np.bool_)
        val = interchange(wc, om, ones, ones)
        sites = list(np.flatnonzero(om))
        assert len(sites) == p and val == pytest.approx(reference.pmedian_cost(wc.tolist(), sites))
        for out in sites:
            for inn in set(range(m)) - set(sites):
                swapped = [j for j in sites if j != out] + [inn]
                assert reference.pmedian_cost(wc.tolist(), swapped) >= val - 1e-9
        # the bound the kernel reports is the reference bound at its multipliers, and never above the optimum
        # over the sites left open
        status = np.zeros(m, dtype=np.int8)
        status[int(rng.integers(m))] = -1
        lam = wc.min(axis=1) + 1.0
        rho = np.empty(m)
        inc = om.copy()
        bound, _, _, _ = lagrangian(wc, p, status, lam, 1e9, inc, 400, 2.0, 0, 0.0, 0.0, rho)
        assert bound == pytest.approx(reference.pmedian_bound(wc.tolist(), p, status.tolist(), lam.tolist()))
        allowed = [j for j in range(m) if status[j] != -1]
        restricted = min(reference.pmedian_cost(wc.tolist(), s) for s in itertools.combinations(allowed, p))
        assert bound <= restricted + 1e-9


def _brute_cflp(c: np.ndarray, d: np.ndarray, cap: np.ndarray, f: np.ndarray, max_open: int | None = None) -> float:
    """Every subset of sites (of at most ``max_open``), demand split by a transport LP (scipy's linprog,
    independent of OR-Tools)."""
    from scipy.optimize import linprog

    m, n = c.shape
    best = np.inf
    for r in range(1, (max_open or m) + 1):
        for s in itertools.combinations(range(m), r):
            if cap[list(s)].sum() < d.sum():
                continue
            k = len(s)
            a_eq = np.zeros((n, k * n))
            a_ub = np.zeros((k, k * n))
            for a, i in enumerate(s):
                a_eq[np.arange(n), a * n + np.arange(n)] = 1.0
                a_ub[a, a * n:(a + 1) * n] = d
            res = linprog(c[list(s)].ravel(), A_ub=a_ub, b_ub=cap[list(s)], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1))
            if res.status == 0:
                best = min(best, res.fun + f[list(s)].sum())
    return best


@pytest.mark.parametrize("seed", range(4))
def test_capacitated_location_matches_brute_force(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(50 + seed)
    m, n = 6, 9
    c = rng.uniform(10, 100, (m, n))
    d = rng.integers(5, 20, n).astype(float)
    cap = rng.integers(20, 60, m).astype(float)
    f = rng.uniform(20, 120, m)
    best = _brute_cflp(c, d, cap, f)
    for method in ("reduce", "mip", "lagrangian"):
        # the Lagrangian path is the one large instances take; a zero size threshold sends this one there
        monkeypatch.setattr(location_module, "LP_REDUCE_MAX", 0 if method == "lagrangian" else 20_000)
        res = optimise.capacitated_facility_location(c, d, cap, f, method="mip" if method == "mip" else "reduce")
        assert res.status == "OPTIMAL" and res.objective == pytest.approx(best, rel=1e-7), method
        assert res.bound <= best * (1 + 1e-9), method
        load = (res.assignment * d[:, None]).sum(axis=0)
        assert np.allclose(res.assignment.sum(axis=1), 1.0) and (load <= cap + 1e-6).all()


@pytest.mark.parametrize("seed", range(3))
def test_capacitated_location_with_a_budget_of_sites_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(70 + seed)
    m, n = 6, 9
    c = rng.uniform(10, 100, (m, n))
    d = rng.integers(5, 20, n).astype(float)
    cap = rng.integers(40, 90, m).astype(float)
    f = rng.uniform(1, 5, m)  # cheap sites: unconstrained, most of them open
    free = optimise.capacitated_facility_location(c, d, cap, f)
    tight = 0
    for k in range(int(np.ceil(d.sum() / cap.max())), m + 1):
        if np.sort(cap)[::-1][:k].sum() < d.sum():
            continue
        res = optimise.capacitated_facility_location(c, d, cap, f, max_open=k)
        best = _brute_cflp(c, d, cap, f, max_open=k)
        assert res.status == "OPTIMAL" and res.objective == pytest.approx(best, rel=1e-7), k
        assert len(res.sites) <= k and res.bound <= best * (1 + 1e-9)
        tight += len(free.sites) > k
    assert tight >= 1  # the budget binds on at least one k
    with pytest.raises(ValueError, match="allow more sites"):
        optimise.capacitated_facility_location(c, d, np.full(m, d.sum() / 3), f, max_open=2)


@pytest.mark.parametrize("seed", range(3))
def test_cflp_lagrangian_bound_is_valid_and_its_solution_optimal_on_generated_instances(seed: int) -> None:
    from itertools import combinations

    from numba_kernels.cflp import lagrangian
    from optimise import _cflp
    from optimise.instances import cst_instance

    inst = cst_instance(7, 60, 3.0 + 2 * seed, seed)
    c, d, cap, f = inst.cost, inst.demand, inst.capacity, inst.fixed_cost
    m = c.shape[0]
    # brute force over every open set that holds the demand, each priced by its transport LP
    best = min(_cflp.transport(c, d, cap, f, np.isin(np.arange(m), s)).cost
               for k in range(1, m + 1) for s in combinations(range(m), k))
    lam = c.min(axis=0)
    v, y = np.empty(m), np.zeros(m, dtype=np.bool_)
    bound, _ = lagrangian(c, d, cap, f, float(d.sum()), np.zeros(m, np.int8), lam, best * 1.05, 2000, 2.0, 40,
                          np.inf, v, y, np.empty(m))
    assert bound <= best * (1 + 1e-9)
    assert bound >= 0.9 * best  # a real bound, not minus infinity
    red = _cflp.reduce(c, d, cap, f, np.inf, lambda ub: ub - 1e-9 * abs(ub))
    assert red.bound <= best * (1 + 1e-9) and red.best.cost >= best * (1 - 1e-9)
    res = optimise.capacitated_facility_location(c, d, cap, f, method="mip")
    assert res.objective == pytest.approx(best, rel=1e-7)


def test_cst_instances_follow_the_recipe() -> None:
    from optimise.instances import cst_instance

    a, b = cst_instance(20, 200, 5, 3), cst_instance(20, 200, 5, 3)
    assert np.array_equal(a.cost, b.cost) and a.name == b.name == "cst20x200-r5-s3"
    assert a.capacity.sum() / a.demand.sum() == pytest.approx(5.0)
    assert a.demand.min() >= 5 and a.demand.max() <= 35
    # transport cost is proportional to demand: cost / demand is the same 10 x distance for every customer's column
    unit = a.cost / a.demand[None, :]
    assert (unit >= 0).all() and unit.max() <= 10 * np.sqrt(2) + 1e-9
    assert not np.array_equal(cst_instance(20, 200, 5, 4).cost, a.cost)
    with pytest.raises(ValueError, match="ratio"):
        cst_instance(5, 5, 0.5, 1)


def test_city_instance_costs_are_network_distances() -> None:
    from optimise.instances import city_instance

    inst = city_instance(side=8, m=6, seed=2)
    n, m = inst.cost.shape
    assert (n, m) == (64, 6) and np.isfinite(inst.cost).all() and (inst.weights >= 0).all()
    assert np.allclose(inst.cost[inst.site_nodes, np.arange(m)], 0.0)
    # no street is shorter than the straight line between its ends: network distance >= Euclidean distance
    straight = np.hypot(*(inst.xy[:, None, :] - inst.xy[inst.site_nodes][None, :, :]).transpose(2, 0, 1))
    assert (inst.cost >= straight - 1e-6).all()
    # streets detour (factor 1 to 1.3) and the grid forces right angles: at most 1.3 x the Manhattan distance
    manhattan = np.abs(inst.xy[:, None, :] - inst.xy[inst.site_nodes][None, :, :]).sum(axis=2)
    assert inst.cost.max() > straight.max()
    assert (inst.cost[manhattan > 0] / manhattan[manhattan > 0]).min() >= 0.7


def test_p_median_under_a_time_limit_reports_a_true_bound_and_gap() -> None:
    folder = shared_path("orlib", "pmed")
    cost, p = read_pmed(folder / "pmed16.txt")
    optimum = read_optima(folder / "pmedopt.txt")["pmed16"]
    res = optimise.p_median(cost, p, time_limit_s=0.5)
    assert res.status in ("OPTIMAL", "FEASIBLE") and len(res.sites) == p
    assert res.bound <= optimum + 1e-6 <= res.objective + 2e-6
    assert res.gap == pytest.approx((res.objective - res.bound) / res.objective)
    assert cost[:, list(res.sites)].min(axis=1).sum() == pytest.approx(res.objective)
