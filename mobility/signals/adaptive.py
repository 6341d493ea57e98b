"""The ``adaptive`` controller's network model: insertion backlogs and coordinated junction groups.

``adaptive`` (run by :class:`~mobility.signals.control.AdaptiveController`) is built against the ways plain
max-pressure and longest-queue-first fail on real networks:

- **Capacity-aware pressure** (Gregoire et al. 2015, *Capacity-aware backpressure traffic signal control*,
  IEEE TCNS): a movement's pressure is the number of its queued vehicles that fit into its exit lane,
  ``min(queue, room)``. A full exit gives no pressure, so no green feeds spill-back into the junction, and a
  long queue behind a short exit does not outbid movements that can move.
- **Position weighting** (after Li & Jabari 2019, *Position weighted backpressure intersection control for
  urban networks*, TR-B): a queue counts halting vehicles fully and moving ones at ``moving_weight``; the
  lane counts SUMO reports carry no positions, and moving vehicles are on average further from the stop line.
- **Entry starvation**: vehicles SUMO could not insert yet (on the approach edge, or on edges up to
  ``feeder_m`` upstream with no signal between) join the approach's queue (:func:`feeder_lanes`), so a
  boundary road that backs up out of the network is served like a queue that can be seen.
- **Holding a green**: a green holds while its pressure is at least ``hold_ratio`` of the best other stage's
  and ends at ``max_green_s`` (fewer lost times than switching to the arg-max every few seconds); then the
  stage of highest pressure follows, the maximum red guarding every movement.
- **Coordinated groups**: junctions joined by a signalised link shorter than ``group_link_m`` (closely spaced
  T-junctions, a divided arterial's two crossings) act as one (:func:`junction_groups`): their stages switch
  together in the combinations their own programs run at the same time, so a green wave along the short
  links survives and one junction does not fill the link its neighbour must empty. A group serves its joint
  stages exhaustively in the programs' order, skipping those with no pressure (cyclic max-pressure, Levin,
  Hu & Odell 2020, TR-C), so every movement is served within one pass.

The guarantees of every adaptive controller stay: minimum green, the program's yellow and all-red, and a
maximum red (for a group, one pass through its stages at maximum green bounds every red).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .plan import SignalPlan
from .safety import SignalModel

if TYPE_CHECKING:
    from ..network import RoadNetwork

__all__ = ["Watchdog", "feeder_lanes", "junction_groups"]


def feeder_lanes(net: RoadNetwork, approaches: dict[str, list[int]], reach_m: float) -> dict[str, list[int]]:
    """Edge -> approach lanes whose queue its insertion backlog joins.

    ``approaches``: approach edge -> its lanes (any indices). Each approach edge feeds its own lanes, and so
    does every edge upstream of it within ``reach_m`` (summed length) reached without passing a signal or
    turning back.
    """
    eidx = net.edge_index
    into: dict[int, list[int]] = {}
    for e in range(net.n_edges):
        into.setdefault(int(net.head[e]), []).append(e)
    signalised = net.node_signalised if net.node_signalised is not None else np.zeros(net.n_nodes, dtype=bool)
    out: dict[str, set[int]] = {}
    for edge, lanes in approaches.items():
        if edge not in eidx:
            continue
        seen = {eidx[edge]: 0.0}
        todo = [eidx[edge]]
        while todo:
            e = todo.pop()
            if signalised[net.tail[e]]:  # further upstream is another signal's queue
                continue
            for f in into.get(int(net.tail[e]), []):
                d = seen[e] + float(net.length[f])
                if f not in seen and int(net.tail[f]) != int(net.head[e]) and d <= reach_m:
                    seen[f] = d
                    todo.append(f)
        for e in seen:
            out.setdefault(str(net.edge_ids[e]), set()).update(lanes)
    return {e: sorted(v) for e, v in out.items()}


def _stage_at(plan: SignalPlan, t: float) -> int | None:
    """The stage whose green runs at time ``t`` under the plan (None in a clearance)."""
    u = (t - plan.sumo_offset_s) % plan.cycle_s
    for k, st in enumerate(plan.stages):
        if u < st.green_s:
            return k
        u -= st.duration_s
        if u < 0:
            return None
    return None


def _joint_stages(plans: Sequence[SignalPlan]) -> list[tuple[int, ...]] | None:
    """Combinations of the members' stages that their own programs run at the same time, in program order;
    None if the programs do not share a cycle or some stage never runs with all the others green."""
    cycle = plans[0].cycle_s
    if any(abs(p.cycle_s - cycle) > 0.5 for p in plans):
        return None
    combos: list[tuple[int, ...]] = []
    for t in np.arange(0.0, cycle, 0.5):
        ks = [_stage_at(p, float(t)) for p in plans]
        if all(k is not None for k in ks):
            c = tuple(int(k) for k in ks)  # type: ignore[arg-type]
            if c not in combos:
                combos.append(c)
    for m, p in enumerate(plans):
        if {c[m] for c in combos} != set(range(len(p.stages))):
            return None
    return combos


#: A group of more signals than this is a street grid, not a cluster: its junctions are controlled one by one.
MAX_GROUP = 6


def junction_groups(net: RoadNetwork, plans: dict[str, SignalPlan], models: dict[str, SignalModel],
                    ids: Sequence[str], link_m: float) -> list[tuple[list[str], list[tuple[int, ...]]]]:
    """Groups of signals joined by links shorter than ``link_m``, each with its joint stages
    (:func:`_joint_stages`). Groups whose programs cannot be put in step, or of more than :data:`MAX_GROUP`
    signals, are left out (their junctions are controlled one by one)."""
    if link_m <= 0:
        return []
    eidx = net.edge_index
    ids = list(ids)
    pos = {j: k for k, j in enumerate(ids)}
    parent = list(range(len(ids)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    enters = {}
    for j in ids:
        for mv in models[j].movements.values():
            if not mv.pedestrian:
                enters.setdefault(mv.from_edge, set()).add(j)
    for j in ids:
        for mv in models[j].movements.values():
            e = mv.to_edge
            if mv.pedestrian or e not in eidx or float(net.length[eidx[e]]) >= link_m:
                continue
            for other in enters.get(e, ()):
                if other != j:
                    parent[root(pos[j])] = root(pos[other])
    members: dict[int, list[str]] = {}
    for j in ids:
        members.setdefault(root(pos[j]), []).append(j)
    out = []
    for group in members.values():
        if not 2 <= len(group) <= MAX_GROUP:
            continue
        combos = _joint_stages([plans[j] for j in group])
        if combos is not None and len(combos) > 1:
            out.append((group, combos))
    return out


class Watchdog:
    """Hands a junction (or a coordinated group) back to the program the city runs when adaptive control loses it.

    Field adaptive systems fall back to a safe plan when they lose control; so does ``adaptive``. Each step,
    a junction's **load** is the number of vehicles halting on its approach lanes plus those waiting to be
    inserted into them (its feeders' backlog), smoothed over ``window_s``. When the load passes the
    junction's **limit**, what the city's program holds there (the largest queue its approaches held in a run
    of that program, times ``margin``, plus ``slack_veh``; without such a run, ``storage_share`` of the
    approach lanes' storage), the junction and every member of its group go back to the program, in step
    with its cycle and offset. Adaptive control takes them again once their loads have stayed below
    ``release_share`` of their limits for ``window_s`` and the program is in a green stage.

    Parameters
    ----------
    ids : list of str
        The junctions.
    limits : array, veh
        Each junction's limit.
    groups : list of list of int
        Junctions (indices into ``ids``) that fall back together; every junction is in one group.
    step_s : float, s
        Simulation step.
    window_s : float, s
        Smoothing window of the load, and how long it must stay low before control is taken again.
    release_share : float
        Share of the limit the load must stay below.
    """

    def __init__(self, ids: Sequence[str], limits: np.ndarray, groups: Sequence[Sequence[int]], *, step_s: float,
                 window_s: float = 60.0, release_share: float = 0.5) -> None:
        self.ids = list(ids)
        self.limits = np.asarray(limits, dtype=np.float64)
        self.group_of = np.zeros(len(ids), dtype=np.int64)
        self.groups = [list(g) for g in groups]
        for k, g in enumerate(self.groups):
            self.group_of[g] = k
        self.alpha = min(1.0, step_s / max(window_s, step_s))
        self.window_s = window_s
        self.release_share = release_share
        self.load = np.zeros(len(ids))
        self.fallback = np.zeros(len(ids), dtype=bool)
        self.calm_since = np.full(len(ids), np.nan)
        self.events: list[tuple[float, str, str]] = []  # (time, junction, "fallback" | "resume")
        self.seconds = np.zeros(len(ids))

    def update(self, now: float, load: np.ndarray, step_s: float) -> tuple[list[int], list[int]]:
        """Feed the raw loads (veh) after a step; return the groups to hand back and the groups that may be taken
        again (indices into :attr:`groups`)."""
        self.load += self.alpha * (np.asarray(load, dtype=np.float64) - self.load)
        self.seconds[self.fallback] += step_s
        over = self.load > self.limits
        trip = sorted({int(self.group_of[j]) for j in np.flatnonzero(over & ~self.fallback)})
        calm = self.load < self.release_share * self.limits
        self.calm_since[~calm] = np.nan
        start = calm & np.isnan(self.calm_since)
        self.calm_since[start] = now
        ready = []
        for k, g in enumerate(self.groups):
            if self.fallback[g].all() and calm[g].all() and (now - np.nanmax(self.calm_since[g])) >= self.window_s:
                ready.append(k)
        return trip, ready

    def mark(self, group: int, now: float, fallback: bool) -> None:
        """Record that ``group`` was handed back (``fallback``) or taken again."""
        for j in self.groups[group]:
            self.fallback[j] = fallback
            self.events.append((now, self.ids[j], "fallback" if fallback else "resume"))
        if not fallback:
            self.calm_since[self.groups[group]] = np.nan
