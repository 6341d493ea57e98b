"""Dynamic network loading: a link transmission model moving vehicle packets along their routes.

Each link has a triangular fundamental diagram: free speed ``v``, capacity ``Q`` (veh/s over all lanes), jam
density ``kj`` (veh/m over all lanes) and backward wave speed ``w = Q / (kj - Q / v)``. Yperman's link
transmission model (2007) gives, in cumulative counts ``U`` (vehicles that entered) and ``D`` (vehicles that
left), the link's sending and receiving flows for the step ``[t, t + dt)``:

    S(t) = min(U(t + dt - L / v) - D(t),  Q dt)            (what can leave: arrived at the end, at capacity)
    R(t) = min(D(t + dt - L / w) + kj L - U(t),  Q dt)      (what can enter: room behind the last backward wave)

Vehicles travel in packets (a few vehicles each, the demand's granularity) that carry their route, so flows
are route-aware and first-in-first-out on every link: a packet at the head of a link that cannot move blocks
the ones behind it, except on a link of several lanes, where first-in-first-out holds within each turn: a
packet for a turn whose next link can take it passes packets held up at other turns (in the other lanes). ``S`` is applied per packet: a packet may leave when it has covered the link at free
speed (``U(t + dt - L/v)`` has counted it) and the link's outflow budget (``Q dt`` a step, with signals and
capacity drops scaling it per turn) is positive; it may enter the next link while that link's receiving flow
is positive. A budget may go negative by less than one packet, so long-run flows are exact and a packet's
granularity only shifts a vehicle by a fraction of a step.

**Node model.** At a node the incoming links whose head packet can move compete; the next packet comes from
the link with the least start tag (start-time fair queueing: a link's virtual time advances by a packet's size
over its capacity, and is never behind the node's), so contested supply is shared in proportion to the
incoming links' capacities and what one link does not use goes to the others; ties go in an order that rotates
from step to step. A blocked outgoing link blocks only the streams that want it (and, by FIFO, the packets
behind them); diverges follow the packets' routes.

With ``link_model=1`` the links are delay functions instead (BPR: the free-flow time times
``1 + b (x / capacity) ^ p`` at the link's smoothed inflow rate ``x``, no capacity or storage limit): a
stationary loading then meets the static equilibrium's travel times, the bridge to the static assignment.

**Signals** scale a turn's capacity by phase (fixed-time programs: full capacity in green, none in red, half
in permissive green, second by second over the cycle) or by their green share (cycle average); **capacity drops** scale a link's
capacity by a factor over a time window; **diversions** move a share of the packets of one route that enter a
decision link onto another route through that link. Departures wait in a vertical queue at their first link
until it can receive them, so no vehicle is ever lost: at every step, departed = on links + arrived.

Plain arrays in, preallocated arrays out; :func:`mobility.dta.dta` builds the arrays, and
:func:`numba_kernels.reference.ltm_merge_tree` is the continuous-flow model written step by step in plain
Python, which the packets follow within a few packets (``tests/test_dta.py``).
"""

from __future__ import annotations

import numpy as np

from ._config import njit

__all__ = ["dnl", "route_times"]


@njit
def _cum_at(hist: np.ndarray, start: int, size: int, step: int, lag: int) -> float:
    """A link's cumulative count at the end of step ``step`` less ``lag`` steps, i.e. at time ``t + dt - lag dt``
    (entry ``i`` of the ring holds the count at the end of step ``i - 1``; never later than now: a wave shorter
    than a step reads the present)."""
    s = min(step, step + 1 - lag)
    if s <= 0:
        return 0.0
    return hist[start + s % size]


@njit
def dnl(  # noqa: PLR0913, PLR0915
    # links (lookahead: how many packets behind the head a scan for a free turn may look at: 0 on one lane)
    tail: np.ndarray, head: np.ndarray, length: np.ndarray, vf: np.ndarray, cap: np.ndarray, kj: np.ndarray,
    lookahead: np.ndarray,
    # nodes: incoming links of node m are node_in[node_in_ptr[m]:node_in_ptr[m + 1]]
    node_in_ptr: np.ndarray, node_in: np.ndarray,
    # turns: green share of the turn from link a to link b is turn_green[k] for turn_to[k] == b, k in
    # turn_ptr[a]:turn_ptr[a + 1]; a turn not listed has share 1
    turn_ptr: np.ndarray, turn_to: np.ndarray, turn_green: np.ndarray,
    # fixed-time signals by phase: turn k's capacity factor in second i of its cycle (counted from time 0) is
    # sig_state[sig_ptr[k] + i]; a turn with sig_ptr[k] == sig_ptr[k + 1] keeps its constant turn_green[k]
    sig_ptr: np.ndarray, sig_state: np.ndarray,
    # routes: links of route r are route_links[route_ptr[r]:route_ptr[r + 1]]
    route_ptr: np.ndarray, route_links: np.ndarray,
    # departures, sorted by time: (time s, route, vehicles)
    dep_time: np.ndarray, dep_route: np.ndarray, dep_size: np.ndarray,
    # capacity drops: link, begin s, end s, factor
    drop_link: np.ndarray, drop_t0: np.ndarray, drop_t1: np.ndarray, drop_factor: np.ndarray,
    # diversions: at link, begin s, end s, from route, to route, share, position of the link in the new route
    div_link: np.ndarray, div_t0: np.ndarray, div_t1: np.ndarray, div_from: np.ndarray, div_to: np.ndarray,
    div_share: np.ndarray, div_pos: np.ndarray,
    # the link model: 0, the link transmission model; 1, delay functions (BPR: free-flow time times
    # 1 + b (x / capacity) ^ p at the inflow rate x smoothed over rate_tau_s; no capacity or storage limit)
    link_model: int, bpr_b: np.ndarray, bpr_p: np.ndarray, rate_tau_s: float,
    # time
    t0: float, dt: float, n_steps: int, steps_per_interval: int,
    # outputs, by interval: inflow, outflow (veh), mean vehicles on the link; by the interval vehicles entered
    # the link: their travel time (veh s) and number, once they left it
    inflow: np.ndarray, outflow: np.ndarray, occupancy: np.ndarray, tt_sum: np.ndarray, tt_n: np.ndarray,
    # by the interval vehicles reached the end of the link before (or departed, for a first link): the time they
    # waited to enter each link (veh s) and their number
    wait_sum: np.ndarray, wait_n: np.ndarray,
    # outputs, by packet: time it entered its first link, time it arrived (NaN: not yet), route it ended on
    p_enter: np.ndarray, p_arrive: np.ndarray, p_route: np.ndarray,
    # outputs, by step: vehicles departed, on links, waiting to enter, arrived
    balance: np.ndarray,
) -> None:
    n_links = tail.shape[0]
    n_nodes = node_in_ptr.shape[0] - 1
    bpr = link_model == 1
    n_pk = dep_time.shape[0]
    # wave travel times in steps, and the history rings of the cumulative counts
    w = np.empty(n_links)
    lag_v = np.empty(n_links, dtype=np.int64)
    lag_w = np.empty(n_links, dtype=np.int64)
    ring = np.empty(n_links, dtype=np.int64)
    start = np.empty(n_links + 1, dtype=np.int64)
    start[0] = 0
    for a in range(n_links):
        crit = cap[a] / vf[a]
        w[a] = cap[a] / max(kj[a] - crit, 1e-9)
        lag_v[a] = int(np.ceil(length[a] / vf[a] / dt - 1e-9))
        lag_w[a] = int(np.floor(length[a] / w[a] / dt + 1e-9))
        ring[a] = max(lag_v[a], lag_w[a]) + 2
        start[a + 1] = start[a] + ring[a]
    up_hist = np.zeros(start[n_links])
    down_hist = np.zeros(start[n_links])
    up = np.zeros(n_links)        # vehicles that entered
    down = np.zeros(n_links)      # vehicles that left
    out_budget = np.zeros(n_links)
    in_budget = np.zeros(n_links)
    vtime = np.zeros(n_links)     # fair-queueing virtual time of each link's outflow, s
    vnode = np.zeros(n_nodes)     # and of each node (the start tag of the last packet it passed)
    blocked = np.empty(8, dtype=np.int64)  # next links found held up while scanning a link's queue
    max_in = 1
    for m in range(n_nodes):
        max_in = max(max_in, node_in_ptr[m + 1] - node_in_ptr[m])
    c_state = np.zeros(max_in, dtype=np.int64)   # per incoming link of a node: 0 unknown, 1 found, 2 held up
    c_k = np.zeros(max_in, dtype=np.int64)
    c_prev = np.zeros(max_in, dtype=np.int64)
    c_b = np.zeros(max_in, dtype=np.int64)
    c_share = np.zeros(max_in)
    # per-link FIFO of packets (linked list), packet state
    q_head = np.full(n_links, -1, dtype=np.int64)
    q_tail = np.full(n_links, -1, dtype=np.int64)
    nxt = np.full(n_pk, -1, dtype=np.int64)
    p_pos = np.zeros(n_pk, dtype=np.int64)
    p_link_in = np.zeros(n_pk)    # time the packet entered its current link
    p_ready = np.zeros(n_pk)      # time it may leave it (free-flow time, or the delay function's time)
    rate = np.zeros(n_links)      # inflow rate, veh/s, smoothed over rate_tau_s (the delay functions' flow)
    step_in = np.zeros(n_links)
    # vertical queues at the first link of each route: packets waiting to enter (FIFO, linked list)
    v_head = np.full(n_links, -1, dtype=np.int64)
    v_tail = np.full(n_links, -1, dtype=np.int64)
    v_count = 0.0
    div_acc = np.zeros(div_link.shape[0])
    departed = 0.0
    arrived = 0.0
    next_dep = 0
    for k in range(n_pk):
        p_route[k] = dep_route[k]
        p_arrive[k] = np.nan
        p_enter[k] = np.nan
    rot = 0
    for step in range(n_steps):
        t = t0 + step * dt
        t_end = t + dt
        itv = step // steps_per_interval
        # capacities this step (drops)
        cap_now = cap.copy()
        for e in range(drop_link.shape[0]):
            if drop_t0[e] <= t < drop_t1[e]:
                a = drop_link[e]
                cap_now[a] = cap_now[a] * drop_factor[e]
        for a in range(n_links):
            out_budget[a] = min(out_budget[a] + cap_now[a] * dt, cap_now[a] * dt + 1e-9) if out_budget[a] >= 0 else \
                out_budget[a] + cap_now[a] * dt
            in_budget[a] = min(in_budget[a] + cap[a] * dt, cap[a] * dt + 1e-9) if in_budget[a] >= 0 else \
                in_budget[a] + cap[a] * dt
        # departures due in this step join the vertical queue of their first link
        while next_dep < n_pk and dep_time[next_dep] < t_end:
            k = next_dep
            r = dep_route[k]
            a = route_links[route_ptr[r]]
            p_pos[k] = 0
            if v_tail[a] < 0:
                v_head[a] = k
            else:
                nxt[v_tail[a]] = k
            v_tail[a] = k
            nxt[k] = -1
            v_count += dep_size[k]
            departed += dep_size[k]
            next_dep += 1
        # node model: rounds over the incoming links in rotating order, one packet each, until nothing moves
        rot += 1
        for m in range(n_nodes):
            i0 = node_in_ptr[m]
            n_in = node_in_ptr[m + 1] - i0
            if n_in == 0:
                continue
            # start-time fair queueing: the next packet comes from the link whose start tag (its virtual time,
            # or the node's if it has been idle) is least; a link's virtual time advances by size / capacity,
            # so contested supply is shared in proportion to capacity and what one link does not use goes to
            # the others (ties in the rotating order)
            # each incoming link's movable packet is found once and kept until something it depends on changes
            # (its own queue, or the link it wants receiving another packet); within a step supply only
            # shrinks, so a held-up link stays held up
            for j in range(n_in):
                c_state[j] = 0
            while True:
                best = -1
                best_j = -1
                best_tag = np.inf
                for j in range(n_in):
                    jj = (j + rot) % n_in
                    if c_state[jj] == 2:
                        continue
                    a = node_in[i0 + jj]
                    if c_state[jj] == 0:
                        if q_head[a] < 0 or (out_budget[a] <= 0 and not bpr):
                            c_state[jj] = 2
                            continue
                        found, ck, cprev, cb, cshare = _scan(a, q_head[a], t_end, step, bpr, lookahead, p_ready,
                                                             p_route, p_pos, route_ptr, route_links, turn_ptr, turn_to,
                                                             turn_green, sig_ptr, sig_state, dt, down_hist, start, ring, lag_w, kj, length, up,
                                                             in_budget, nxt, blocked)
                        if not found:
                            c_state[jj] = 2
                            continue
                        c_state[jj] = 1
                        c_k[jj], c_prev[jj], c_b[jj], c_share[jj] = ck, cprev, cb, cshare
                    tag = max(vtime[a], vnode[m])
                    if tag < best_tag - 1e-12:
                        best, best_j, best_tag = a, jj, tag
                if best < 0:
                    break
                best_k, best_prev, best_b, best_share = c_k[best_j], c_prev[best_j], c_b[best_j], c_share[best_j]
                c_state[best_j] = 0
                if best_b >= 0:
                    for j in range(n_in):
                        if c_state[j] == 1 and c_b[j] == best_b:
                            c_state[j] = 0
                a, k, prev, b, share = best, best_k, best_prev, best_b, best_share
                size = dep_size[k]
                # move: out of a
                vnode[m] = best_tag
                vtime[a] = best_tag + size / max(cap_now[a], 1e-12)
                if prev < 0:
                    q_head[a] = nxt[k]
                    if q_head[a] < 0:
                        q_tail[a] = -1
                else:
                    nxt[prev] = nxt[k]
                    if q_tail[a] == k:
                        q_tail[a] = prev
                out_budget[a] -= size / share
                down[a] += size
                outflow[itv, a] += size
                itv_in = min(int((p_link_in[k] - t0) / dt + 1e-9) // steps_per_interval, tt_sum.shape[0] - 1)
                tt_sum[itv_in, a] += size * (t_end - p_link_in[k])
                tt_n[itv_in, a] += size
                if b < 0:
                    p_arrive[k] = t_end
                    arrived += size
                else:
                    reach = p_ready[k]
                    itv_w = min(max(int((reach - t0) / dt) // steps_per_interval, 0), wait_sum.shape[0] - 1)
                    wait_sum[itv_w, b] += size * max(t_end - reach, 0.0)
                    wait_n[itv_w, b] += size
                    _enter(k, b, t_end, size, q_head, q_tail, nxt, p_link_in, up, in_budget, inflow, itv)
                    p_ready[k] = t_end + _traverse(b, bpr, length, vf, cap, bpr_b, bpr_p, rate)
                    step_in[b] += size
                    p_pos[k] += 1
                    _divert(k, b, t_end, size, div_link, div_t0, div_t1, div_from, div_to, div_share, div_pos,
                            div_acc, p_route, p_pos)
        # the vertical queues enter their first links as the links can receive
        for a in range(n_links):
            while v_head[a] >= 0:
                room = _cum_at(down_hist, start[a], ring[a], step, lag_w[a]) + kj[a] * length[a] - up[a]
                if not bpr and (room <= 0 or in_budget[a] <= 0):
                    break
                k = v_head[a]
                v_head[a] = nxt[k]
                if v_head[a] < 0:
                    v_tail[a] = -1
                size = dep_size[k]
                v_count -= size
                p_enter[k] = t_end
                _divert(k, a, t_end, size, div_link, div_t0, div_t1, div_from, div_to, div_share, div_pos, div_acc,
                        p_route, p_pos)
                itv_w = min(max(int((dep_time[k] - t0) / dt) // steps_per_interval, 0), wait_sum.shape[0] - 1)
                wait_sum[itv_w, a] += size * max(t_end - dep_time[k], 0.0)
                wait_n[itv_w, a] += size
                _enter(k, a, t_end, size, q_head, q_tail, nxt, p_link_in, up, in_budget, inflow, itv)
                p_ready[k] = t_end + _traverse(a, bpr, length, vf, cap, bpr_b, bpr_p, rate)
                step_in[a] += size
        # history and statistics of the step
        on_links = 0.0
        alpha = min(1.0, dt / rate_tau_s)
        for a in range(n_links):
            rate[a] += alpha * (step_in[a] / dt - rate[a])
            step_in[a] = 0.0
            up_hist[start[a] + (step + 1) % ring[a]] = up[a]
            down_hist[start[a] + (step + 1) % ring[a]] = down[a]
            x = up[a] - down[a]
            occupancy[itv, a] += x / steps_per_interval
            on_links += x
        balance[step, 0] = departed
        balance[step, 1] = on_links
        balance[step, 2] = v_count
        balance[step, 3] = arrived


@njit
def _scan(a: int, k: int, t_end: float, step: int, bpr: bool, lookahead: np.ndarray, p_ready: np.ndarray,
          p_route: np.ndarray, p_pos: np.ndarray, route_ptr: np.ndarray, route_links: np.ndarray, turn_ptr: np.ndarray,
          turn_to: np.ndarray, turn_green: np.ndarray, sig_ptr: np.ndarray, sig_state: np.ndarray, dt: float,
          down_hist: np.ndarray, start: np.ndarray, ring: np.ndarray,
          lag_w: np.ndarray, kj: np.ndarray, length: np.ndarray, up: np.ndarray, in_budget: np.ndarray,
          nxt: np.ndarray, blocked: np.ndarray) -> tuple[bool, int, int, int, float]:
    """The packet of link ``a`` (queue head ``k``) that can move now: the first one, or on a link of several lanes
    the first one of a turn whose next link can take it (vehicles for other turns pass a held-up queue in their
    lanes: first in, first out within each turn). Returns (found, packet, the packet before it, next link or -1
    to leave the network, the turn's green share)."""
    prev = -1
    n_blocked = 0
    for _look in range(lookahead[a] + 1):
        if k < 0 or p_ready[k] > t_end + 1e-9:
            break  # not at the end of the link yet (nor is anyone behind)
        r = p_route[k]
        pos = route_ptr[r] + p_pos[k]
        if pos == route_ptr[r + 1] - 1:  # leaves the network
            return True, k, prev, -1, 1.0
        b = route_links[pos + 1]
        held = False
        for x in range(n_blocked):
            if blocked[x] == b:
                held = True
                break
        if not held:
            share = 1.0
            for kk in range(turn_ptr[a], turn_ptr[a + 1]):
                if turn_to[kk] == b:
                    share = turn_green[kk]
                    n_sig = sig_ptr[kk + 1] - sig_ptr[kk]
                    if n_sig > 0:  # by phase: the mean factor over this step's seconds
                        s0 = int(np.floor(t_end - dt + 1e-9))
                        n_s = max(1, int(round(dt)))
                        acc = 0.0
                        for j in range(n_s):
                            acc += sig_state[sig_ptr[kk] + (s0 + j) % n_sig]
                        share = acc / n_s
                    break
            if share > 0:
                room = _cum_at(down_hist, start[b], ring[b], step, lag_w[b]) + kj[b] * length[b] - up[b]
                if bpr or (room > 0 and in_budget[b] > 0):
                    return True, k, prev, b, share
            if n_blocked < blocked.shape[0]:
                blocked[n_blocked] = b
                n_blocked += 1
            else:
                break
        prev = k
        k = nxt[k]
    return False, -1, -1, -1, 1.0


@njit
def _traverse(a: int, bpr: bool, length: np.ndarray, vf: np.ndarray, cap: np.ndarray, bpr_b: np.ndarray,
              bpr_p: np.ndarray, rate: np.ndarray) -> float:
    """Time to drive link ``a`` now: its free-flow time, times the delay function's factor in BPR mode."""
    t = length[a] / vf[a]
    if bpr:
        t *= 1.0 + bpr_b[a] * (rate[a] / max(cap[a], 1e-12)) ** bpr_p[a]
    return t


@njit
def _divert(k: int, b: int, t: float, size: float, div_link: np.ndarray, div_t0: np.ndarray, div_t1: np.ndarray,
            div_from: np.ndarray, div_to: np.ndarray, div_share: np.ndarray, div_pos: np.ndarray, div_acc: np.ndarray,
            p_route: np.ndarray, p_pos: np.ndarray) -> None:
    """A diversion at link ``b`` moves its share of the packets of its route that enter ``b`` onto another
    route through ``b`` (every 1 / share-th vehicle, deterministically)."""
    for e in range(div_link.shape[0]):
        if div_link[e] == b and p_route[k] == div_from[e] and div_t0[e] <= t < div_t1[e]:
            div_acc[e] += size * div_share[e]
            if div_acc[e] >= size - 1e-9:
                div_acc[e] -= size
                p_route[k] = div_to[e]
                p_pos[k] = div_pos[e]
            return


@njit
def _enter(k: int, b: int, t: float, size: float, q_head: np.ndarray, q_tail: np.ndarray, nxt: np.ndarray,
           p_link_in: np.ndarray, up: np.ndarray, in_budget: np.ndarray, inflow: np.ndarray, itv: int) -> None:
    """Packet ``k`` joins the back of link ``b``'s queue at time ``t``."""
    nxt[k] = -1
    if q_tail[b] < 0:
        q_head[b] = k
    else:
        nxt[q_tail[b]] = k
    q_tail[b] = k
    p_link_in[k] = t
    up[b] += size
    in_budget[b] -= size
    inflow[itv, b] += size


@njit
def route_times(route_ptr: np.ndarray, route_links: np.ndarray, depart: np.ndarray, link_cost: np.ndarray,
                t0: float, interval_s: float, free_tt: np.ndarray, out: np.ndarray) -> None:
    """Time-dependent travel time of every route for every departure time: each link costs what entering and
    driving it cost in the interval a vehicle reaches it (``link_cost[interval, link]``; its free-flow time
    where that is not finite or smaller).

    ``out[k, r]`` is route ``r``'s time for a vehicle leaving at ``depart[k]`` (s).
    """
    n_int = link_cost.shape[0]
    for r in range(route_ptr.shape[0] - 1):
        for k in range(depart.shape[0]):
            t = depart[k]
            for i in range(route_ptr[r], route_ptr[r + 1]):
                e = route_links[i]
                j = int((t - t0) // interval_s)
                j = min(max(j, 0), n_int - 1)
                c = link_cost[j, e]
                t += c if (c == c and c < 1e300 and c > free_tt[e]) else free_tt[e]
            out[k, r] = t - depart[k]
