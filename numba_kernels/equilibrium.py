"""Static user-equilibrium assignment drivers on plain arrays.

Methods
-------
``fw``   Frank-Wolfe with an exact line search.
``cfw``  conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013).
``bfw``  bi-conjugate Frank-Wolfe (same paper).
``gp``   path-based gradient projection (:mod:`numba_kernels.path_based`), for tight gaps.

Convergence is measured by the relative gap ``(TSTT - SPTT) / TSTT``: ``TSTT = sum_a x_a c_a(x_a)`` is the
total generalized cost at the current flows and ``SPTT = sum_od q_od * min-path cost`` the total cost if
every trip used a shortest path at those costs. Both are reported per iteration with the Beckmann
objective.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import path_based as pb
from ._config import threads
from .aon import aon_load, shortest_costs
from .links import beckmann, bpr_cost, bpr_derivative, check_link_parameters, line_search, total_cost

METHODS = ("fw", "cfw", "bfw", "gp")
CONJUGATE_MAX = 0.99999


@dataclass(frozen=True)
class AssignmentProblem:
    """A static assignment instance: CSR graph, zones, demand and BPR link parameters (all numpy)."""

    indptr: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    zone_node: np.ndarray  # node index of each zone
    demand: np.ndarray  # (Z, Z) flows, diagonal ignored
    free_flow_time: np.ndarray
    capacity: np.ndarray
    b: np.ndarray
    power: np.ndarray
    fixed: np.ndarray  # flow-independent generalized-cost term per link
    zone_count: int = 0  # nodes 0..zone_count-1 may not be passed through

    @classmethod
    def build(cls, indptr, tail, head, zone_node, demand, free_flow_time, capacity, b, power, fixed=None,
              zone_count=0) -> AssignmentProblem:
        """Convert and check the arrays; raise ``ValueError`` naming the first problem found."""
        i32 = lambda a: np.ascontiguousarray(a, dtype=np.int32)  # noqa: E731
        f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        E = len(head)
        fixed = np.zeros(E) if fixed is None else fixed
        p = cls(i32(indptr), i32(tail), i32(head), i32(zone_node), f64(demand), f64(free_flow_time), f64(capacity),
                f64(b), f64(power), f64(fixed), int(zone_count))
        n = p.indptr.shape[0] - 1
        for name in ("tail", "free_flow_time", "capacity", "b", "power", "fixed"):
            if getattr(p, name).shape != (E,):
                raise ValueError(f"{name} has shape {getattr(p, name).shape}; expected ({E},), one value per link")
        Z = p.zone_node.shape[0]
        if p.demand.shape != (Z, Z):
            raise ValueError(f"demand has shape {p.demand.shape}; expected ({Z}, {Z}) for {Z} zones")
        if Z and (p.zone_node.min() < 0 or p.zone_node.max() >= n):
            raise ValueError(f"zone_node holds node indices outside 0..{n - 1}")
        bad = np.argwhere(~np.isfinite(p.demand) | (p.demand < 0))
        if bad.size:
            i, j = bad[0]
            raise ValueError(f"demand[{i}, {j}] = {p.demand[i, j]!r}; OD flows must be finite and >= 0")
        check_link_parameters(p.free_flow_time, p.capacity, p.b, p.power, p.fixed)
        return p

    @property
    def n_links(self) -> int:
        return int(self.head.shape[0])

    def cost(self, flow: np.ndarray) -> np.ndarray:
        out = np.empty(self.n_links)
        bpr_cost(self.free_flow_time, self.capacity, self.b, self.power, self.fixed, flow, out)
        return out

    def objective(self, flow: np.ndarray) -> float:
        return float(beckmann(self.free_flow_time, self.capacity, self.b, self.power, self.fixed, flow))

    def aon(self, cost: np.ndarray, buf: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
        """All-or-nothing flows on ``cost``: ``(flows, sptt, unreached demand)``."""
        if buf is None:
            buf = np.empty((threads(), self.n_links))
        sptt, lost = aon_load(self.indptr, self.tail, self.head, cost, self.zone_count, self.zone_node, self.demand, buf)
        return buf.sum(axis=0), float(sptt), float(lost)

    def unreachable_pairs(self) -> list[tuple[int, int]]:
        """OD pairs (zone indices) with demand but no path at all."""
        cost = self.free_flow_time + self.fixed
        origins = np.flatnonzero((self.demand > 0).any(axis=1))
        dist = np.empty((origins.size, self.indptr.shape[0] - 1))
        shortest_costs(self.indptr, self.head, cost, self.zone_count, self.zone_node[origins].astype(np.int32), dist)
        out = []
        for row, o in enumerate(origins):
            for d in np.flatnonzero(self.demand[o] > 0):
                if d != o and not np.isfinite(dist[row, self.zone_node[d]]):
                    out.append((int(o), int(d)))
        return out


@dataclass
class AssignmentResult:
    """Flows at the last iteration and the convergence history."""

    method: str
    flow: np.ndarray
    cost: np.ndarray
    rgap: float
    objective: float
    iterations: int
    converged: bool
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)  # iteration, rgap, objective, seconds
    paths: int = 0  # paths in use at the end (gp)
    #: with ``keep=True``: gp's path store, or the Frank-Wolfe family's ``(costs (K, E), weights (K,))`` of
    #: its all-or-nothing loadings, ``flow = sum_k weights[k] * AON(costs[k])`` (see :mod:`numba_kernels.odme`)
    store: pb.PathStore | None = None
    directions: tuple[np.ndarray, np.ndarray] | None = None


Callback = Callable[[int, float, float], None]  # (iteration, rgap, objective)


class UnreachableDemand(ValueError):
    """OD pairs with demand but no path; ``pairs`` holds their (origin, destination) zone indices."""

    def __init__(self, pairs: list[tuple[int, int]]):
        self.pairs = pairs
        o, d = pairs[0]
        super().__init__(f"{len(pairs)} OD pair(s) with demand have no path, first zone index {o} -> {d}; "
                         "check one-way links and zone connectors")


def solve(problem: AssignmentProblem, method: str = "gp", *, rgap: float = 1e-6, max_iter: int | None = None,
          callback: Callback | None = None, inner: int = 2, keep: bool = False,
          warm: pb.PathStore | None = None) -> AssignmentResult:
    """Solve user equilibrium to relative gap ``rgap`` (or ``max_iter`` iterations).

    ``callback(iteration, rgap, objective)`` is called after every iteration (progress displays).
    ``inner`` is the number of extra re-balancing passes per origin in ``gp``. ``keep`` returns what the
    flows are made of (gp's paths; the Frank-Wolfe loadings and their weights) for matrix estimation.
    ``warm`` (gp): a path store from an earlier solve with the same OD pairs (demand may differ); its paths
    are scaled to the new demand and the iterations start there. The store is updated in place.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not rgap > 0:
        raise ValueError(f"rgap must be > 0, got {rgap!r}")
    if problem.demand.sum() - np.trace(problem.demand) <= 0:
        raise ValueError("the demand matrix is empty (no flow between distinct zones)")
    if method == "gp":
        return _solve_gp(problem, rgap, max_iter or 500, callback, inner, keep, warm)
    return _solve_fw(problem, method, rgap, max_iter or 10_000, callback, keep)


def _gap(tstt: float, sptt: float) -> float:
    return (tstt - sptt) / tstt if tstt > 0 else 0.0


def _record(hist: dict[str, list[float]], pr: AssignmentProblem, k: int, c: np.ndarray, x: np.ndarray, sptt: float,
            t0: float, callback) -> float:
    """Append iteration ``k``'s gap, objective and time to ``hist``, call ``callback``; return the gap."""
    gap = _gap(float(total_cost(c, x)), sptt)
    obj = pr.objective(x)
    for key, v in zip(hist, (k, gap, obj, time.perf_counter() - t0)):
        hist[key].append(v)
    if callback is not None:
        callback(k, gap, obj)
    return gap


def _solve_fw(pr: AssignmentProblem, method: str, rgap: float, max_iter: int, callback,
              keep: bool = False) -> AssignmentResult:
    t0 = time.perf_counter()
    E = pr.n_links
    buf = np.empty((threads(), E))
    c = pr.cost(np.zeros(E))
    x, _, lost = pr.aon(c, buf)
    if lost > 0:
        raise UnreachableDemand(pr.unreachable_pairs())
    # weights of the loadings in x and in the last two directions, when keep: x = sum_k wx[k] AON(costs[k])
    costs = [c.copy()] if keep else []
    wx = np.zeros(max_iter + 2) if keep else np.zeros(0)
    w1 = np.zeros_like(wx)
    w2 = np.zeros_like(wx)
    if keep:
        wx[0] = 1.0
    dc = np.empty(E)
    hist: dict[str, list[float]] = {"iteration": [], "rgap": [], "objective": [], "seconds": []}
    s_prev = s_prev2 = None
    tau_prev = 0.0
    gap = np.inf
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        bpr_cost(pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed, x, c)
        y, sptt, _ = pr.aon(c, buf)
        gap = _record(hist, pr, k, c, x, sptt, t0, callback)
        if gap <= rgap:
            converged = True
            break
        coef = (1.0, 0.0, 0.0)  # s = coef . (y, s_prev, s_prev2)
        if method != "fw" and s_prev is not None:
            bpr_derivative(pr.free_flow_time, pr.capacity, pr.b, pr.power, x, dc)
            if method == "bfw" and s_prev2 is not None and 0.0 < tau_prev < 1.0:
                coef = _biconjugate(x, y, s_prev, s_prev2, tau_prev, dc)
            else:
                coef = _conjugate(x, y, s_prev, dc)
        s = coef[0] * y
        if coef[1]:
            s = s + coef[1] * s_prev
        if coef[2]:
            s = s + coef[2] * s_prev2
        d = s - x
        tau = float(line_search(pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed, x, d, 1.0))
        x = x + tau * d
        if keep:
            costs.append(c.copy())
            ws = coef[1] * w1 + coef[2] * w2
            ws[len(costs) - 1] += coef[0]
            wx = (1.0 - tau) * wx + tau * ws
            w2, w1 = w1, ws
        s_prev2, s_prev, tau_prev = s_prev, s, tau
    c = pr.cost(x)
    directions = None
    if keep:
        w = wx[:len(costs)]
        use = np.flatnonzero(w > 1e-12 * w.max())
        directions = (np.array([costs[i] for i in use]), w[use] / w[use].sum())
    return AssignmentResult(method, x, c, gap, pr.objective(x), k, converged, time.perf_counter() - t0, hist,
                            directions=directions)


def _conjugate(x, y, s_prev, dc):
    """Weights of ``(y, s_prev, -)`` in the conjugate direction."""
    a = s_prev - x
    num = float(np.sum(a * dc * (y - x)))
    den = float(np.sum(a * dc * (y - s_prev)))
    alpha = num / den if den != 0.0 else 0.0
    alpha = min(max(alpha, 0.0), CONJUGATE_MAX)
    return 1.0 - alpha, alpha, 0.0


def _biconjugate(x, y, s_prev, s_prev2, tau, dc):
    """Weights of ``(y, s_prev, s_prev2)`` in the bi-conjugate direction."""
    dbar = s_prev - x  # direction of the last step, seen from here
    dbarbar = tau * s_prev + (1.0 - tau) * s_prev2 - x
    yx = y - x
    mu_den = float(np.sum(dbarbar * dc * (s_prev2 - s_prev)))
    mu = max(0.0, -float(np.sum(dbarbar * dc * yx)) / mu_den) if mu_den != 0.0 else 0.0
    nu_den = float(np.sum(dbar * dc * dbar))
    nu = max(0.0, -float(np.sum(dbar * dc * yx)) / nu_den + mu * tau / (1.0 - tau)) if nu_den != 0.0 else 0.0
    b0 = 1.0 / (1.0 + mu + nu)
    return b0, nu * b0, mu * b0


def od_pairs(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero off-diagonal OD pairs grouped by origin: ``(od_ptr, od_dest, od_demand)``."""
    d = demand.copy()
    np.fill_diagonal(d, 0.0)
    o, t = np.nonzero(d > 0)
    ptr = np.zeros(d.shape[0] + 1, dtype=np.int64)
    np.add.at(ptr, o + 1, 1)
    return np.cumsum(ptr), t.astype(np.int32), d[o, t]


def _solve_gp(pr: AssignmentProblem, rgap: float, max_iter: int, callback, inner: int,
              keep: bool = False, warm: pb.PathStore | None = None) -> AssignmentResult:
    t0 = time.perf_counter()
    E = pr.n_links
    od_ptr, od_dest, od_demand = od_pairs(pr.demand)
    n_od = od_dest.shape[0]
    x = np.zeros(E)
    if warm is not None and warm.od_head.shape[0] == n_od:
        store = warm
        pb.rescale_paths(store.od_head, store.p_next, store.p_flow, od_demand)
        pb.link_flows_from_paths(*store.arrays(), x)
    else:
        store = pb.PathStore(n_od, 2 * n_od, 16 * n_od)
    c = np.empty(E)
    dc = np.empty(E)
    mark = np.zeros(E, dtype=np.int64)
    buf = np.empty((threads(), E))
    pb.update_costs(x, c, dc, pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed)
    hist: dict[str, list[float]] = {"iteration": [], "rgap": [], "objective": [], "seconds": []}
    gap = np.inf
    converged = False
    k = 0
    for k in range(1, max_iter + 1):
        zone = 0
        while True:
            status, zone = pb.gp_sweep(pr.indptr, pr.tail, pr.head, pr.zone_count, pr.zone_node, od_ptr, od_dest,
                                       od_demand, pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed, x, c,
                                       dc, *store.arrays(), store.meta, mark, zone, inner)
            if status == 0:
                break
            if status < 0:
                raise UnreachableDemand(pr.unreachable_pairs())
            store.grow(status)
        pb.link_flows_from_paths(*store.arrays(), x)
        pb.update_costs(x, c, dc, pr.free_flow_time, pr.capacity, pr.b, pr.power, pr.fixed)
        _, sptt, _ = pr.aon(c, buf)
        gap = _record(hist, pr, k, c, x, sptt, t0, callback)
        if gap <= rgap:
            converged = True
            break
        if store.meta[2] * 2 > store.meta[1]:
            store.grow(0)  # compaction only
    live = int(sum(1 for _ in _live_paths(store)))
    return AssignmentResult("gp", x, c.copy(), gap, pr.objective(x), k, converged, time.perf_counter() - t0, hist,
                            paths=live, store=store if keep else None)


def _live_paths(store: pb.PathStore):
    for k in range(store.od_head.shape[0]):
        p = int(store.od_head[k])
        while p >= 0:
            yield p
            p = int(store.p_next[p])
