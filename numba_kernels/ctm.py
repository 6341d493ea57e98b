"""Network cell transmission model (Daganzo 1994, 1995) with a triangular fundamental diagram.

A link of length ``L`` is cut into ``n = max(1, floor(L / (v dt)))`` equal cells; with cell length ``dx``
the per-step sending and receiving functions of a cell holding ``x`` vehicles are

    S(x) = min(vr * x, Q)          vr = v dt / dx <= 1
    R(x) = min(Q, wr * (N - x))    wr = w dt / dx <= 1

with ``Q`` the capacity per step and ``N`` the jam storage of the cell. Within a link the flow from cell
``i`` to ``i + 1`` is ``min(S_i, R_{i+1})``. At a node the last cells of the incoming links send to the
first cells of the outgoing links:

* no outgoing link: the network's exit, everything sent leaves;
* one incoming link (series or diverge): first-in-first-out with turning fractions ``beta``: the whole
  stream is scaled by ``min(1, min_j R_j / (beta_j S))``;
* one outgoing link (merge): Daganzo's priority rule, priorities proportional to capacity, a link that
  sends less than its share giving the rest to the others;
* several in and out: each outgoing link's demand ``D_j = sum_i beta_ij S_i`` is cut to ``R_j`` in
  proportion, and each incoming stream moves at the smallest factor of the links it feeds (FIFO).

Sources add a time-varying inflow (veh per step, by period) to an origin queue that enters the first cell
as its receiving function allows, so no vehicle is ever lost: ``entered = in cells + queued + exited``.
Flows use values before the step (a synchronous update); all arrays are plain numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import prange

from ._config import njit, pjit


@dataclass(frozen=True)
class CTMNetwork:
    """Cells and junctions as flat arrays (built by :func:`mobility.ctm.build_ctm` or by hand)."""

    cell_start: np.ndarray  # int64 (L+1): cells of link l are cell_start[l]:cell_start[l+1]
    vr: np.ndarray  # float64 (L): v dt / dx
    wr: np.ndarray  # float64 (L): w dt / dx
    Q: np.ndarray  # float64 (L): capacity, vehicles per step
    N: np.ndarray  # float64 (L): jam storage per cell, vehicles
    node_in_ptr: np.ndarray  # int64 (M+1): incoming links of node m: node_in[node_in_ptr[m]:...]
    node_in: np.ndarray  # int64
    node_out_ptr: np.ndarray  # int64 (M+1)
    node_out: np.ndarray  # int64
    turn_ptr: np.ndarray  # int64 (M+1): node m's turning fractions, an (in x out) row-major block
    turn: np.ndarray  # float64
    source_link: np.ndarray  # int64 (S): link fed by each source

    @property
    def n_cells(self) -> int:
        return int(self.cell_start[-1])

    @property
    def n_links(self) -> int:
        return int(self.cell_start.shape[0] - 1)

    def check(self) -> None:
        """Raise ``ValueError`` on inconsistent arrays (sizes, CFL, fractions that do not sum to 1)."""
        L = self.n_links
        for name in ("vr", "wr", "Q", "N"):
            a = getattr(self, name)
            if a.shape != (L,) or not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise ValueError(f"{name} must hold {L} positive finite values")
        bad = np.flatnonzero((self.vr > 1 + 1e-12) | (self.wr > 1 + 1e-12))
        if bad.size:
            raise ValueError(f"link {bad[0]}: v dt / dx = {self.vr[bad[0]]:.3f}, w dt / dx = {self.wr[bad[0]]:.3f}; "
                             "both must be <= 1 (CFL): shorten the time step")
        if np.any(np.diff(self.cell_start) < 1):
            raise ValueError("every link needs at least one cell")
        M = self.node_in_ptr.shape[0] - 1
        for m in range(M):
            i0, i1 = self.node_in_ptr[m], self.node_in_ptr[m + 1]
            o0, o1 = self.node_out_ptr[m], self.node_out_ptr[m + 1]
            k = o1 - o0
            block = self.turn[self.turn_ptr[m]:self.turn_ptr[m + 1]]
            if block.shape[0] != (i1 - i0) * k:
                raise ValueError(f"node {m}: {block.shape[0]} turning fractions for {i1 - i0} x {k} movements")
            if k and (i1 - i0):
                sums = block.reshape(i1 - i0, k).sum(axis=1)
                if np.any(np.abs(sums - 1.0) > 1e-9) or np.any(block < 0):
                    i = int(np.argmax(np.abs(sums - 1.0)))
                    raise ValueError(f"node {m}: turning fractions of incoming link {self.node_in[i0 + i]} sum to "
                                     f"{sums[i]:.6f}; they must be >= 0 and sum to 1")


@njit
def _node_flows(m, n, cs, vr, wr, Q, N, in_ptr, node_in, out_ptr, node_out, turn_ptr, turn, out_last, in_first,
                S, R, f):
    """Transfers at node ``m``: adds to ``out_last`` (per incoming link) and ``in_first`` (per outgoing link).

    Returns the flow leaving the network here (nodes without outgoing links). ``S``, ``R``, ``f`` are work
    arrays at least as long as the node's degree.
    """
    i0 = in_ptr[m]
    i1 = in_ptr[m + 1]
    o0 = out_ptr[m]
    o1 = out_ptr[m + 1]
    mi = i1 - i0
    k = o1 - o0
    if mi == 0:
        return 0.0
    for a in range(mi):
        link = node_in[i0 + a]
        x = n[cs[link + 1] - 1]
        s = vr[link] * x
        S[a] = s if s < Q[link] else Q[link]
    if k == 0:
        total = 0.0
        for a in range(mi):
            out_last[node_in[i0 + a]] = S[a]
            total += S[a]
        return total
    for j in range(k):
        link = node_out[o0 + j]
        r = wr[link] * (N[link] - n[cs[link]])
        R[j] = r if r < Q[link] else Q[link]
        if R[j] < 0.0:
            R[j] = 0.0
    t0 = turn_ptr[m]
    if mi == 1:
        phi = 1.0
        for j in range(k):
            dj = turn[t0 + j] * S[0]
            if dj > 0.0 and R[j] < dj * phi:
                phi = R[j] / dj
        y = phi * S[0]
        out_last[node_in[i0]] = y
        for j in range(k):
            in_first[node_out[o0 + j]] += turn[t0 + j] * y
        return 0.0
    if k == 1:  # merge: priority by capacity with redistribution of unused shares
        total_s = 0.0
        for a in range(mi):
            total_s += S[a]
        if total_s <= R[0]:
            for a in range(mi):
                out_last[node_in[i0 + a]] = S[a]
            in_first[node_out[o0]] += total_s
            return 0.0
        for a in range(mi):
            f[a] = -1.0  # not yet fixed
        remaining = R[0]
        while True:
            psum = 0.0
            for a in range(mi):
                if f[a] < 0.0:
                    psum += Q[node_in[i0 + a]]
            changed = False
            for a in range(mi):
                if f[a] < 0.0 and S[a] <= remaining * Q[node_in[i0 + a]] / psum:
                    f[a] = S[a]
                    changed = True
            if not changed:
                break
            remaining = R[0]
            for a in range(mi):
                if f[a] >= 0.0:
                    remaining -= f[a]
        got = 0.0
        for a in range(mi):
            if f[a] < 0.0:
                f[a] = remaining * Q[node_in[i0 + a]] / psum
            out_last[node_in[i0 + a]] = f[a]
            got += f[a]
        in_first[node_out[o0]] += got
        return 0.0
    # general node: proportional cut per outgoing link, FIFO per incoming link
    for j in range(k):
        d = 0.0
        for a in range(mi):
            d += turn[t0 + a * k + j] * S[a]
        f[j] = 1.0 if d <= R[j] else R[j] / d
    for a in range(mi):
        phi = 1.0
        for j in range(k):
            if turn[t0 + a * k + j] > 0.0 and f[j] < phi:
                phi = f[j]
        y = phi * S[a]
        out_last[node_in[i0 + a]] = y
        for j in range(k):
            in_first[node_out[o0 + j]] += turn[t0 + a * k + j] * y
    return 0.0


@njit
def _advance_link(link, n, cs, vr, wr, Q, N, in_first, out_last, cell_out, record):
    s = cs[link]
    e = cs[link + 1] - 1
    q = Q[link]
    v = vr[link]
    w = wr[link]
    jam = N[link]
    prev = in_first[link]
    for c in range(s, e):
        y = v * n[c]
        if y > q:
            y = q
        r = w * (jam - n[c + 1])
        if r < y:
            y = r if r > 0.0 else 0.0
        n[c] += prev - y
        if record:
            cell_out[c] = y
        prev = y
    if record:
        cell_out[e] = out_last[link]
    n[e] += prev - out_last[link]


@pjit
def run(n, queue, cs, vr, wr, Q, N, in_ptr, node_in, out_ptr, node_out, turn_ptr, turn, source_link, inflow,
        period_steps, first_step, steps, record_every, rec_n, rec_out, rec_total):
    """Advance the CTM ``steps`` steps in place (``n`` vehicles per cell, ``queue`` per source).

    ``inflow[p, s]``: vehicles per step entering source ``s`` in period ``p`` (a period is ``period_steps``
    steps; the last period repeats). Every ``record_every`` steps (counted from ``first_step``) the cell
    contents go to ``rec_n[r]``, each cell's outflow over that step to ``rec_out[r]`` and
    ``[entered, in cells, queued, exited]`` (cumulative) to ``rec_total[r]``. Returns
    ``(entered, exited)`` over these steps.
    """
    L = cs.shape[0] - 1
    M = in_ptr.shape[0] - 1
    work_s = np.empty(node_in.shape[0])  # per-node work slices: no allocation inside the time loop
    work_r = np.empty(node_out.shape[0])
    work_f = np.empty(node_in.shape[0] + node_out.shape[0])  # node m: in-degree + out-degree slots
    out_last = np.zeros(L)
    in_first = np.zeros(L)
    exit_node = np.zeros(M)
    cell_out = np.zeros(n.shape[0]) if rec_n.shape[0] > 0 else np.zeros(1)
    entered = 0.0
    exited = 0.0
    r = 0
    n_periods = inflow.shape[0]
    for step in range(steps):
        g = first_step + step
        record = rec_n.shape[0] > 0 and (g + 1) % record_every == 0 and r < rec_n.shape[0]
        for link in prange(L):
            in_first[link] = 0.0
        for m in prange(M):
            a0 = in_ptr[m] + out_ptr[m]
            exit_node[m] = _node_flows(m, n, cs, vr, wr, Q, N, in_ptr, node_in, out_ptr, node_out, turn_ptr, turn,
                                       out_last, in_first, work_s[in_ptr[m]:in_ptr[m + 1]],
                                       work_r[out_ptr[m]:out_ptr[m + 1]], work_f[a0:in_ptr[m + 1] + out_ptr[m + 1]])
        for m in range(M):
            exited += exit_node[m]
        p = g // period_steps
        if p >= n_periods:
            p = n_periods - 1
        for s in range(source_link.shape[0]):
            link = source_link[s]
            queue[s] += inflow[p, s]
            entered += inflow[p, s]
            rr = wr[link] * (N[link] - n[cs[link]])
            if rr > Q[link]:
                rr = Q[link]
            rr -= in_first[link]
            y = queue[s] if queue[s] < rr else rr
            if y > 0.0:
                queue[s] -= y
                in_first[link] += y
        for link in prange(L):
            _advance_link(link, n, cs, vr, wr, Q, N, in_first, out_last, cell_out, record)
        if record:
            rec_n[r, :] = n
            rec_out[r, :] = cell_out
            rec_total[r, 0] = entered
            rec_total[r, 1] = n.sum()
            rec_total[r, 2] = queue.sum()
            rec_total[r, 3] = exited
            r += 1
    return entered, exited


def simulate(net: CTMNetwork, steps: int, inflow: np.ndarray, *, period_steps: int = 1 << 62, record_every: int = 0,
             n0: np.ndarray | None = None):
    """Run ``steps`` steps from ``n0`` (default empty). Returns a dict of arrays.

    ``inflow`` is ``(periods, sources)`` vehicles per step. Keys: ``n`` (final cells), ``queue`` (final
    origin queues), ``entered``, ``exited``, and when ``record_every > 0``: ``rec_n``, ``rec_out``,
    ``rec_total`` (see :func:`run`).
    """
    net.check()
    inflow = np.ascontiguousarray(np.atleast_2d(inflow), dtype=np.float64)
    S = net.source_link.shape[0]
    if inflow.shape[1] != S:
        raise ValueError(f"inflow has {inflow.shape[1]} columns for {S} sources")
    if np.any(inflow < 0) or not np.all(np.isfinite(inflow)):
        raise ValueError("inflow must be finite and >= 0")
    n = np.zeros(net.n_cells) if n0 is None else np.array(n0, dtype=np.float64)
    queue = np.zeros(S)
    nrec = steps // record_every if record_every > 0 else 0
    rec_n = np.zeros((nrec, net.n_cells))
    rec_out = np.zeros((nrec, net.n_cells))
    rec_total = np.zeros((nrec, 4))
    entered, exited = run(n, queue, net.cell_start, net.vr, net.wr, net.Q, net.N, net.node_in_ptr, net.node_in,
                          net.node_out_ptr, net.node_out, net.turn_ptr, net.turn, net.source_link, inflow,
                          int(period_steps), 0, int(steps), max(int(record_every), 1), rec_n, rec_out, rec_total)
    return {"n": n, "queue": queue, "entered": float(entered), "exited": float(exited), "rec_n": rec_n,
            "rec_out": rec_out, "rec_total": rec_total}
