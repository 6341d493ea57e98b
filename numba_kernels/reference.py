"""Slow, obvious pure-Python versions of the kernels, for the tests to compare against.

Nothing here is fast or clever on purpose: heapq Dijkstra, per-destination path walks, numerical
integration, golden-section search, dict-of-paths gradient projection and a cell-by-cell CTM step.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


def dijkstra(indptr, head, cost, origin, zone_count=0):
    """Distances from ``origin`` (zones other than the origin are never passed through)."""
    n = len(indptr) - 1
    dist = [math.inf] * n
    pred = [-1] * n
    dist[origin] = 0.0
    heap = [(0.0, origin)]
    done = [False] * n
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u < zone_count and u != origin:
            continue
        for e in range(indptr[u], indptr[u + 1]):
            v = int(head[e])
            if d + cost[e] < dist[v]:
                dist[v] = d + cost[e]
                pred[v] = e
                heapq.heappush(heap, (dist[v], v))
    return np.array(dist), np.array(pred)


def aon(indptr, tail, head, cost, zone_count, zone_node, demand):
    """All-or-nothing flows and SPTT by walking every OD pair's path."""
    flows = np.zeros(len(head))
    sptt = 0.0
    for o in range(len(zone_node)):
        dist, pred = dijkstra(indptr, head, cost, int(zone_node[o]), zone_count)
        for d in range(len(zone_node)):
            q = demand[o][d]
            if q <= 0 or o == d:
                continue
            v = int(zone_node[d])
            sptt += q * dist[v]
            while pred[v] >= 0:
                flows[pred[v]] += q
                v = int(tail[pred[v]])
    return flows, sptt


def bpr_cost(fft, cap, b, power, fixed, flow):
    return np.array([f * (1 + bb * (x / c) ** p if bb else 1) + k for f, c, bb, p, k, x in
                     zip(fft, cap, b, power, fixed, flow)])


def beckmann(fft, cap, b, power, fixed, flow, points=20001):
    """Integral of each link's cost from 0 to its flow, by the trapezoid rule."""
    total = 0.0
    for a in range(len(flow)):
        xs = np.linspace(0.0, flow[a], points)
        cs = bpr_cost([fft[a]] * points, [cap[a]] * points, [b[a]] * points, [power[a]] * points, [fixed[a]] * points, xs)
        total += float(np.sum((cs[1:] + cs[:-1]) * np.diff(xs)) / 2.0)
    return total


def line_search(fft, cap, b, power, fixed, x, d, lam_max=1.0, tol=1e-12):
    """Golden-section minimisation of the Beckmann objective along ``d``."""
    def z(lam):
        y = x + lam * d
        return sum(f * (yy + bb * yy * (yy / c) ** p / (p + 1)) + k * yy for f, c, bb, p, k, yy in
                   zip(fft, cap, b, power, fixed, y))

    g = (math.sqrt(5) - 1) / 2
    lo, hi = 0.0, lam_max
    while hi - lo > tol:
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if z(m1) < z(m2):
            hi = m2
        else:
            lo = m1
    return (lo + hi) / 2


def gradient_projection(indptr, tail, head, zone_count, zone_node, demand, fft, cap, b, power, fixed, sweeps=200):
    """Path-based gradient projection with paths kept as tuples in a dict; returns link flows."""
    E = len(head)
    x = np.zeros(E)
    paths: dict[tuple[int, int], dict[tuple[int, ...], float]] = {}

    def costs():
        return bpr_cost(fft, cap, b, power, fixed, x)

    def deriv():
        return np.array([f * bb * p * (xx / c) ** (p - 1) / c if bb and (xx > 0 or p == 1) else 0.0
                         for f, c, bb, p, xx in zip(fft, cap, b, power, x)])

    for _ in range(sweeps):
        for o in range(len(zone_node)):
            dist, pred = dijkstra(indptr, head, costs(), int(zone_node[o]), zone_count)
            for d in range(len(zone_node)):
                q = demand[o][d]
                if q <= 0 or o == d:
                    continue
                v, sp = int(zone_node[d]), []
                while pred[v] >= 0:
                    sp.append(int(pred[v]))
                    v = int(tail[pred[v]])
                sp_t = tuple(reversed(sp))
                od = paths.setdefault((o, d), {})
                if not od:
                    od[sp_t] = q
                    for a in sp_t:
                        x[a] += q
                od.setdefault(sp_t, 0.0)
                c = costs()
                best = min(od, key=lambda p: sum(c[a] for a in p))
                for p in list(od):
                    if p == best:
                        continue
                    c, dc = costs(), deriv()
                    excess = sum(c[a] for a in p) - sum(c[a] for a in best)
                    diff = set(p) ^ set(best)
                    den = sum(dc[a] for a in diff)
                    step = od[p] if den <= 0 else min(od[p], excess / den)
                    if excess <= 0:
                        step = 0.0
                    od[p] -= step
                    od[best] += step
                    for a in p:
                        x[a] -= step
                    for a in best:
                        x[a] += step
                    if od[p] <= 0:
                        del od[p]
    return x


def ctm_step(net, n, queue, inflow_now):
    """One CTM step of :class:`numba_kernels.ctm.CTMNetwork` written cell by cell; returns exited flow."""
    L = net.n_links
    cs = net.cell_start
    old = n.copy()

    def S(link):
        return min(net.vr[link] * old[cs[link + 1] - 1], net.Q[link])

    def R(link):
        return max(0.0, min(net.Q[link], net.wr[link] * (net.N[link] - old[cs[link]])))

    into = np.zeros(L)
    out = np.zeros(L)
    exited = 0.0
    for m in range(len(net.node_in_ptr) - 1):
        ins = list(net.node_in[net.node_in_ptr[m]:net.node_in_ptr[m + 1]])
        outs = list(net.node_out[net.node_out_ptr[m]:net.node_out_ptr[m + 1]])
        if not ins:
            continue
        beta = np.array(net.turn[net.turn_ptr[m]:net.turn_ptr[m + 1]]).reshape(len(ins), len(outs))
        s = [S(i) for i in ins]
        if not outs:
            for i, si in zip(ins, s):
                out[i] = si
                exited += si
            continue
        r = [R(j) for j in outs]
        if len(outs) == 1 and len(ins) > 1:
            if sum(s) <= r[0]:
                y = s
            else:  # capacity-share priorities, unused share passed on
                y = [None] * len(ins)
                while True:
                    free = [a for a in range(len(ins)) if y[a] is None]
                    rem = r[0] - sum(v for v in y if v is not None)
                    psum = sum(net.Q[ins[a]] for a in free)
                    fixed_now = [a for a in free if s[a] <= rem * net.Q[ins[a]] / psum]
                    if not fixed_now:
                        for a in free:
                            y[a] = rem * net.Q[ins[a]] / psum
                        break
                    for a in fixed_now:
                        y[a] = s[a]
            for i, yi in zip(ins, y):
                out[i] = yi
                into[outs[0]] += yi
            continue
        if len(ins) == 1:
            phi = min([1.0] + [r[j] / (beta[0, j] * s[0]) for j in range(len(outs)) if beta[0, j] * s[0] > 0])
            phis = [phi]
        else:
            f = []
            for j in range(len(outs)):
                dj = sum(beta[a, j] * s[a] for a in range(len(ins)))
                f.append(1.0 if dj <= r[j] else r[j] / dj)
            phis = [min([1.0] + [f[j] for j in range(len(outs)) if beta[a, j] > 0]) for a in range(len(ins))]
        for a, i in enumerate(ins):
            out[i] = phis[a] * s[a]
            for j, o in enumerate(outs):
                into[o] += beta[a, j] * phis[a] * s[a]
    for k, link in enumerate(net.source_link):
        queue[k] += inflow_now[k]
        room = R(link) - into[link]
        y = min(queue[k], room)
        if y > 0:
            queue[k] -= y
            into[link] += y
    for link in range(L):
        cells = list(range(cs[link], cs[link + 1]))
        flows_between = []
        for c in cells[:-1]:
            flows_between.append(max(0.0, min(net.vr[link] * old[c], net.Q[link], net.wr[link] * (net.N[link] - old[c + 1]))))
        inflows = [into[link]] + flows_between
        outflows = flows_between + [out[link]]
        for c, i_, o_ in zip(cells, inflows, outflows):
            n[c] = old[c] + i_ - o_
    return exited


def pmedian_bound(wc, p, status, lam):
    """Lagrangian bound of the p-median for multipliers ``lam``: ``sum lam`` plus the best ``p`` site values,
    forced sites (status 1) always, closed ones (-1) never."""
    n, m = len(wc), len(wc[0])
    rho = [sum(min(0.0, wc[i][j] - lam[i]) for i in range(n)) for j in range(m)]
    forced = [j for j in range(m) if status[j] == 1]
    free = sorted((rho[j] for j in range(m) if status[j] == 0))
    return sum(lam) + sum(rho[j] for j in forced) + sum(free[:p - len(forced)])


def pmedian_cost(wc, sites):
    """Each demand point to its cheapest site among ``sites``."""
    return sum(min(row[j] for j in sites) for row in wc)


def ltm_merge_tree(next_link, length, vf, cap, kj, demand, dt, n_steps, drops=()):
    """Yperman's link transmission model with continuous flows on links that each feed at most one next link
    (chains and merges), written step by step: the reference for :func:`numba_kernels.dnl.dnl`'s packets.

    ``next_link[a]`` is the link after ``a`` (-1: leaves the network); ``demand[a][step]`` vehicles/s entering
    at link ``a`` (a vertical queue holds those that cannot); ``drops`` are ``(link, t0, t1, factor)`` capacity
    drops. Lags are whole steps as the kernel takes them (free-flow lag rounded up, backward-wave lag down).
    A merge gives the receiving link's supply in proportion to the incoming links' capacities, the share one
    does not use passed on to the others. Returns ``(U, D, queue)``: cumulative vehicles in and out of every
    link at the end of every step, shape ``(n_steps + 1, n_links)``, and the vertical queues.
    """
    n = len(length)
    w = [cap[a] / max(kj[a] - cap[a] / vf[a], 1e-9) for a in range(n)]
    lag_v = [math.ceil(length[a] / vf[a] / dt - 1e-9) for a in range(n)]
    lag_w = [math.floor(length[a] / w[a] / dt + 1e-9) for a in range(n)]
    U = np.zeros((n_steps + 1, n))
    D = np.zeros((n_steps + 1, n))
    queue = np.zeros(n)
    feeders = {b: [a for a in range(n) if next_link[a] == b] for b in range(n)}
    for s in range(n_steps):
        t = s * dt
        q = [cap[a] * math.prod(f for (x, t0, t1, f) in drops if x == a and t0 <= t < t1) for a in range(n)]
        send = [min((U[min(s, s + 1 - lag_v[a]), a] if s + 1 - lag_v[a] > 0 else 0.0) - D[s, a], q[a] * dt)
                for a in range(n)]
        recv = [min((D[min(s, s + 1 - lag_w[a]), a] if min(s, s + 1 - lag_w[a]) > 0 else 0.0)
                    + kj[a] * length[a] - U[s, a], cap[a] * dt) for a in range(n)]
        out = [0.0] * n
        into = [0.0] * n
        for a in range(n):
            if next_link[a] < 0:
                out[a] = max(send[a], 0.0)
        for b in range(n):
            ins = feeders[b]
            if not ins:
                continue
            supply = max(recv[b], 0.0)
            y = {a: None for a in ins}
            while True:  # capacity-proportional shares, what one does not use passed on
                free = [a for a in ins if y[a] is None]
                if not free:
                    break
                rem = supply - sum(v for v in y.values() if v is not None)
                total = sum(q[a] for a in free)
                done = [a for a in free if max(send[a], 0.0) <= rem * q[a] / total]
                if not done:
                    for a in free:
                        y[a] = rem * q[a] / total
                    break
                for a in done:
                    y[a] = max(send[a], 0.0)
            for a in ins:
                out[a] = y[a]
                into[b] += y[a]
        for a in range(n):  # the vertical queue enters with what supply the feeders left
            queue[a] += demand[a][s] * dt if s < len(demand[a]) else 0.0
            f = min(queue[a], max(recv[a] - into[a], 0.0))
            queue[a] -= f
            into[a] += f
        U[s + 1] = U[s] + np.array(into)
        D[s + 1] = D[s] + np.array(out)
    return U, D, queue
