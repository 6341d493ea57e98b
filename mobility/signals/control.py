"""Running a scenario under a signal controller.

Controllers (:data:`CONTROLLERS`):

``fixed``
    the network's own programs, or any list of :class:`~mobility.signals.SignalPlan` (``plans=``),
    written as a SUMO additional file (``tlLogic`` + ``WAUT``);
``actuated``
    SUMO's gap-based actuated control on the network's own phases (``minDur``/``maxDur`` from the
    network, else SUMO's netconvert defaults of 5 and 50 s);
``greedy``
    longest queue first: at each decision the stage whose approach lanes hold the most halting vehicles;
``maxpressure``
    Varaiya (2013): the stage with the largest sum, over its movements, of vehicles on the approach lane
    minus vehicles on the exit lane.
``adaptive`` (recommended)
    capacity-aware, position-weighted pressure with insertion backlogs, coordinated groups of closely
    spaced signals; built against the ways the two above fail on real networks (see
    :mod:`mobility.signals.adaptive`).

``webster`` and ``optimised`` produce fixed-time plans (see :mod:`mobility.signals.timing`) that run as
``fixed`` with ``plans=``.

The adaptive controllers (greedy, max-pressure, adaptive) choose among the stages of the network's own program
and keep the rules of :class:`AdaptiveSettings`: a minimum green, the program's yellow and all-red
clearance between stages, a maximum red per movement (no starvation), and a spill-back guard (no
green into a full exit lane). They read lane counts through one TraCI subscription per lane and set
signal states only when they change.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._errors import InputError
from .plan import (
    GREEN,
    Actuation,
    SignalPlan,
    _clearance_state,
    _green_state,
    plans_to_sumo,
)
from .current import current_plans
from .safety import SignalModel, check_plan, signal_models

if TYPE_CHECKING:
    import xarray as xr

    from ..network import RoadNetwork
    from ..scenario import Scenario

__all__ = ["CONTROLLERS", "AdaptiveController", "AdaptiveSettings", "sumo_actuated", "controller_payload", "run_controlled",
           "with_programs"]

ControllerName = Literal["fixed", "actuated", "webster", "greedy", "maxpressure", "adaptive", "optimised"]
CONTROLLERS: tuple[str, ...] = ("fixed", "actuated", "webster", "greedy", "maxpressure", "adaptive", "optimised")
ADAPTIVE = ("greedy", "maxpressure", "adaptive")


@dataclass(frozen=True)
class AdaptiveSettings:
    """Rules the adaptive controllers keep.

    Attributes
    ----------
    min_green_s : float, s
        Shortest green of a stage.
    max_red_s : float, s, optional
        Longest a movement may wait on red; it must allow one pass through every stage at minimum
        green with its clearance. Default: per junction, 120 s or 1.25 times that pass if longer.
    spillback_share : float
        An exit lane holding more than this share of its jam capacity (length / ``jam_spacing_m``) is
        full: no stage is chosen for movements into it, unless the maximum red forces it.
    jam_spacing_m : float, m
        Road length a stopped vehicle takes (length + gap).
    min_yellow_s : float, s
        Yellow used where the network's program has a shorter one.
    max_green_s : float, s
        ``adaptive``: longest green of a stage while another stage has vehicles waiting (at least the
        stage's own green in the network's program).
    hold_ratio : float
        ``adaptive``: the green stays while its stage's pressure is at least this share of the highest
        pressure of the other stages.
    feeder_m : float, m
        ``adaptive``: vehicles waiting to be inserted on the approach edge, or on edges up to this far
        upstream with no signal between, count in the approach's queue.
    group_link_m : float, m
        ``adaptive``: signals joined by a link shorter than this switch together as a group (0: never).
    moving_weight : float
        ``adaptive``: weight of a moving vehicle on an approach lane against a halting one (1) in the
        queue; moving vehicles are on average further from the stop line (position weighting).
    watchdog : bool
        ``adaptive``: hand a junction back to the program the city runs when its queues pass what that
        program holds, and take it again when they have cleared (:class:`~mobility.signals.adaptive.Watchdog`).
    watchdog_limits : dict of str to float, veh, optional
        Per junction, the load at which it falls back: what the city's program holds
        (:func:`~mobility.signals.study.watchdog_limits` measures it). Junctions not given: ``watchdog_storage_share`` of the storage
        of their approach lanes.
    watchdog_storage_share : float
        See ``watchdog_limits``.
    watchdog_window_s : float, s
        Smoothing of the load, and how long it must stay low before control is taken again.
    watchdog_release_share : float
        Share of its limit a junction's load must stay below to be taken again.
    """

    min_green_s: float = 10.0
    max_red_s: float | None = None
    spillback_share: float = 0.9
    jam_spacing_m: float = 7.5
    min_yellow_s: float = 3.0
    max_green_s: float = 60.0
    hold_ratio: float = 0.5
    feeder_m: float = 300.0
    group_link_m: float = 75.0
    moving_weight: float = 0.5
    watchdog: bool = True
    watchdog_limits: dict[str, float] | None = None
    watchdog_storage_share: float = 0.6
    watchdog_window_s: float = 60.0
    watchdog_release_share: float = 0.5

    def __post_init__(self) -> None:
        if self.min_green_s <= 0 or (self.max_red_s is not None and self.max_red_s <= 0):
            raise InputError("AdaptiveSettings: min_green_s and max_red_s must be positive")
        if not 0 < self.spillback_share <= 1:
            raise InputError(f"AdaptiveSettings: spillback_share must be in (0, 1], got {self.spillback_share}")
        for name in ("hold_ratio", "moving_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"AdaptiveSettings: {name} must be in [0, 1], got {getattr(self, name)}")
        if not self.max_green_s >= self.min_green_s:
            raise InputError(f"AdaptiveSettings: max_green_s {self.max_green_s:g} is below min_green_s {self.min_green_s:g}")
        if self.feeder_m < 0 or self.group_link_m < 0:
            raise InputError("AdaptiveSettings: feeder_m and group_link_m must be >= 0")
        if not (0 < self.watchdog_storage_share <= 1 and 0 < self.watchdog_release_share < 1 and self.watchdog_window_s > 0):
            raise InputError("AdaptiveSettings: watchdog_storage_share must be in (0, 1], watchdog_release_share in "
                             "(0, 1) and watchdog_window_s > 0")
        if self.watchdog_limits is not None and any(not (v > 0) for v in self.watchdog_limits.values()):
            raise InputError("AdaptiveSettings: watchdog_limits must be positive numbers of vehicles")


def sumo_actuated(plans: Mapping[str, SignalPlan]) -> list[SignalPlan]:
    """SUMO's default actuated control on the stages of ``plans`` (the programs the scenario runs): gap-based
    actuation with SUMO's defaults (passage 3 s, detectors 2 s before the stop line), each stage's minimum
    and maximum green from its program (``minDur``/``maxDur``; read with SUMO's 5 s / 50 s where the program
    gives none), the program's offset.

    Parameters
    ----------
    plans : dict of str to SignalPlan
        ``{tls id: plan}``, e.g. :func:`~mobility.signals.plan.current_plans` with ``default_max_green_s=50``.

    Returns
    -------
    list of SignalPlan
    """
    return [p if p.actuation is not None else p.model_copy(update={"actuation": Actuation(), "plan_id": "sumo_actuated"})
            for _, p in sorted(plans.items())]


class _Junction:
    """State of one adaptively controlled signal."""

    def __init__(self, plan: SignalPlan, model: SignalModel, lane_index: dict[str, int], settings: AdaptiveSettings) -> None:
        self.id = plan.junction
        self.plan = plan
        self.states = [_green_state(plan, st) for st in plan.stages]
        self.yellow = [max(st.yellow_s, settings.min_yellow_s) for st in plan.stages]
        self.all_red = [st.all_red_s for st in plan.stages]
        pairs = [(i, a, b) for i, m in sorted(model.movements.items()) for a, b in m.lane_pairs]
        self.in_lane = np.array([lane_index[a] for _, a, _ in pairs], dtype=np.int64)
        self.out_lane = np.array([lane_index[b] for _, _, b in pairs], dtype=np.int64)
        self.pair_link = np.array([i for i, _, _ in pairs], dtype=np.int64)
        n_st = len(plan.stages)
        self.serves = np.zeros((n_st, len(pairs)), dtype=bool)
        self.link_served = np.zeros((n_st, plan.n_links), dtype=bool)
        for k, st in enumerate(plan.stages):
            for i in st.served:
                self.link_served[k, i] = True
            self.serves[k] = self.link_served[k, self.pair_link]
        lanes = sorted(set(self.in_lane.tolist()))
        self.lanes = np.array(lanes, dtype=np.int64)
        self.lane_served = np.zeros((n_st, len(lanes)), dtype=bool)
        pos = {ln: c for c, ln in enumerate(lanes)}
        for k in range(n_st):
            for p in np.flatnonzero(self.serves[k]):
                self.lane_served[k, pos[int(self.in_lane[p])]] = True
        self.controlled = self.link_served.any(axis=0)
        self.max_green = np.array([max(settings.max_green_s, st.green_s, settings.min_green_s) for st in plan.stages])
        self.grouped = False
        self.stage = 0
        self.target = 0
        self.mode: Literal["green", "yellow", "red"] = "green"
        self.since = 0.0
        self.last_green = np.zeros(plan.n_links)
        self.cycle_floor = sum(settings.min_green_s + y + r for y, r in zip(self.yellow, self.all_red, strict=True))
        if settings.max_red_s is None:
            self.max_red_s = max(120.0, 1.25 * self.cycle_floor)
        elif settings.max_red_s < self.cycle_floor:
            raise InputError(
                f"junction {self.id}: max_red_s {settings.max_red_s:g} s is shorter than one pass through its "
                f"{n_st} stages at minimum green with clearance ({self.cycle_floor:g} s); raise max_red_s")
        else:
            self.max_red_s = float(settings.max_red_s)


@dataclass
class _Group:
    """Signals that switch together: ``combos[g, m]`` is member ``m``'s stage in joint stage ``g``."""

    members: list[_Junction]
    combos: np.ndarray
    stage: int = 0


class AdaptiveController:
    """Greedy, max-pressure or adaptive control of every signal in a running simulation.

    Used by :func:`run_controlled`; ``log`` keeps ``(time_s, junction, state)`` for every state set.
    """

    def __init__(self, api: Any, net_file: str | Path, kind: Literal["greedy", "maxpressure", "adaptive"], *,
                 settings: AdaptiveSettings | None = None, junctions: Sequence[str] | None = None,
                 models: dict[str, SignalModel] | None = None, plans: Mapping[str, SignalPlan] | None = None) -> None:
        if kind not in ADAPTIVE:
            raise InputError(f"unknown adaptive controller {kind!r}; choose one of {', '.join(ADAPTIVE)}")
        import traci.constants as tc

        self.api = api
        self.kind = kind
        self.settings = settings or AdaptiveSettings()
        if plans is None:
            from .plan import plans_from_net

            plans = plans_from_net(net_file)
        models = models if models is not None else signal_models(net_file)
        ids = list(junctions) if junctions is not None else sorted(plans)
        missing = [j for j in ids if j not in plans or j not in models]
        if missing:
            raise InputError(f"{net_file}: no static signal program for {missing}; adaptive control needs one per junction")
        lanes: dict[str, int] = {}
        for j in ids:
            for m in models[j].movements.values():
                for a, b in m.lane_pairs:
                    lanes.setdefault(a, len(lanes))
                    lanes.setdefault(b, len(lanes))
        self.lane_ids = list(lanes)
        self.junctions = [_Junction(plans[j], models[j], lanes, self.settings) for j in ids]
        self.capacity = np.array([max(api.lane.getLength(ln) / self.settings.jam_spacing_m, 1.0) for ln in self.lane_ids])
        self._vars = (tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_VEHICLE_HALTING_NUMBER)
        for ln in self.lane_ids:
            api.lane.subscribe(ln, list(self._vars))
        self._feeders: dict[str, list[int]] = {}
        self.groups: list[_Group] = []
        if kind == "adaptive":
            from ..load import load_network
            from .adaptive import feeder_lanes, junction_groups

            net = load_network(net_file)
            approaches: dict[str, list[int]] = {}
            for jn in self.junctions:
                for ln in jn.lanes.tolist():
                    approaches.setdefault(self.lane_ids[ln].rsplit("_", 1)[0], []).append(ln)
            self._feeders = feeder_lanes(net, approaches, self.settings.feeder_m)
            for e in self._feeders:
                api.edge.subscribe(e, [tc.VAR_PENDING_VEHICLES])
            by_id = {jn.id: jn for jn in self.junctions}
            for members, combos in junction_groups(net, plans, models, ids, self.settings.group_link_m):
                self.groups.append(_Group([by_id[j] for j in members], np.array(combos, dtype=np.int64)))
        self.log: list[tuple[float, str, str]] = []
        self.step_s = float(api.simulation.getDeltaT())
        now = float(api.simulation.getTime())
        self.watchdog = None
        self._pos = {jn.id: k for k, jn in enumerate(self.junctions)}
        self._programs = {jn.id: api.trafficlight.getProgram(jn.id) for jn in self.junctions}
        if kind == "adaptive" and self.settings.watchdog:
            from .adaptive import Watchdog

            lim = self.settings.watchdog_limits or {}
            limits = np.array([lim.get(jn.id, self.settings.watchdog_storage_share * float(self.capacity[jn.lanes].sum()))
                               for jn in self.junctions])
            pos = {jn.id: k for k, jn in enumerate(self.junctions)}
            grouped = [[pos[m.id] for m in g.members] for g in self.groups]
            alone = [[k] for k, jn in enumerate(self.junctions) if not any(k in g for g in grouped)]
            self.watchdog = Watchdog([jn.id for jn in self.junctions], limits, grouped + alone, step_s=self.step_s,
                                     window_s=self.settings.watchdog_window_s,
                                     release_share=self.settings.watchdog_release_share)
        for g in self.groups:
            for m, jn in enumerate(g.members):
                jn.stage = jn.target = int(g.combos[0, m])
                jn.grouped = True
        for jn in self.junctions:
            jn.since = now
            jn.last_green[:] = now
            self._set(jn, jn.states[jn.stage], now)

    def _set(self, jn: _Junction, state: str, now: float) -> None:
        self.api.trafficlight.setRedYellowGreenState(jn.id, state)
        self.log.append((now, jn.id, state))

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        res = self.api.lane.getAllSubscriptionResults()
        vnum, vhalt = self._vars
        n = np.fromiter((res[ln][vnum] for ln in self.lane_ids), dtype=np.float64, count=len(self.lane_ids))
        h = np.fromiter((res[ln][vhalt] for ln in self.lane_ids), dtype=np.float64, count=len(self.lane_ids))
        return n, h

    def _backlog(self) -> np.ndarray:
        """Vehicles waiting to be inserted, per approach lane (on its edge or its feeders, split over its lanes)."""
        out = np.zeros(len(self.lane_ids))
        if not self._feeders:
            return out
        import traci.constants as tc

        res = self.api.edge.getAllSubscriptionResults()
        for e, lanes in self._feeders.items():
            k = len(res.get(e, {}).get(tc.VAR_PENDING_VEHICLES, ()))
            if k:
                out[lanes] += k / len(lanes)
        return out

    def step(self, now: float) -> None:
        """Update every signal after a simulation step ending at ``now``."""
        n, halt = self._counts()
        if self.kind == "adaptive":  # halting vehicles, moving ones at a weight, and those not yet inserted
            backlog = self._backlog()
            self._queue = halt + self.settings.moving_weight * (n - halt) + backlog
            if self.watchdog is not None:
                self._watch(now, np.array([float(halt[jn.lanes].sum() + backlog[jn.lanes].sum()) for jn in self.junctions]))
        full = n >= self.settings.spillback_share * self.capacity
        s = self.settings
        off = self.watchdog.fallback if self.watchdog is not None else np.zeros(len(self.junctions), dtype=bool)
        for j_i, jn in enumerate(self.junctions):
            if off[j_i]:
                continue  # the city's program runs it
            k = jn.stage
            elapsed = now - jn.since
            if jn.mode == "green":
                jn.last_green[jn.link_served[k]] = now
                if elapsed + 1e-9 < s.min_green_s or jn.grouped:
                    continue
                nxt = self._choose(jn, n, halt, full, now)
                if nxt == k:
                    continue
                if self._switch(jn, nxt, now):
                    continue
                elapsed = jn.all_red[k]
            if jn.mode == "yellow" and elapsed + 1e-9 >= jn.yellow[k]:
                if jn.all_red[k] > 0:
                    jn.mode, jn.since = "red", now
                    self._set(jn, _clearance_state(jn.states[k], jn.states[jn.target], yellow=False), now)
                    continue
                jn.mode = "red"
                elapsed = jn.all_red[k]
            if jn.mode == "red" and elapsed + 1e-9 >= jn.all_red[k]:
                jn.stage, jn.mode, jn.since = jn.target, "green", now
                jn.last_green[jn.link_served[jn.stage]] = now
                self._set(jn, jn.states[jn.stage], now)
        for g in self.groups:
            if not any(off[self._pos[m.id]] for m in g.members):
                self._step_group(g, n, now)

    def _watch(self, now: float, load: np.ndarray) -> None:
        """The watchdog: hand groups back to their programs, or take them again (see :class:`AdaptiveSettings`)."""
        assert self.watchdog is not None
        trip, ready = self.watchdog.update(now, load, self.step_s)
        for g in trip:
            for j in self.watchdog.groups[g]:
                self._hand_back(self.junctions[j], now)
            self.watchdog.mark(g, now, True)
        for g in ready:
            members = [self.junctions[j] for j in self.watchdog.groups[g]]
            states = [self.api.trafficlight.getRedYellowGreenState(jn.id) for jn in members]
            if not all(st in jn.states for st, jn in zip(states, members, strict=True)):
                continue  # take control in a green stage only (no clearance is cut short)
            for st, jn in zip(states, members, strict=True):
                jn.stage = jn.target = jn.states.index(st)
                jn.mode, jn.since = "green", now
                jn.last_green[jn.link_served[jn.stage]] = now
                self._set(jn, st, now)
            for grp in self.groups:  # a group's joint stage follows its members'
                if grp.members[0] in members:
                    combo = [m.stage for m in grp.members]
                    hits = [k for k, c in enumerate(grp.combos.tolist()) if c == combo]
                    grp.stage = hits[0] if hits else 0
            self.watchdog.mark(g, now, False)

    def _hand_back(self, jn: _Junction, now: float) -> None:
        """Run the junction's own program again, at the point of its cycle its offset gives (in step with its
        neighbours)."""
        api = self.api
        program = self._programs[jn.id]
        api.trafficlight.setProgram(jn.id, program)
        logic = next((lg for lg in api.trafficlight.getAllProgramLogics(jn.id) if lg.programID == program), None)
        if logic is not None and logic.phases:
            durations = [float(ph.duration) for ph in logic.phases]
            cycle = sum(durations)
            if cycle > 0:
                t = (now - jn.plan.sumo_offset_s) % cycle
                k, acc = 0, 0.0
                while k < len(durations) - 1 and acc + durations[k] <= t:
                    acc += durations[k]
                    k += 1
                api.trafficlight.setPhase(jn.id, k)
                api.trafficlight.setPhaseDuration(jn.id, max(durations[k] - (t - acc), self.step_s))
        self.log.append((now, jn.id, "program " + program))

    def _switch(self, jn: _Junction, nxt: int, now: float) -> bool:
        """Start the clearance from the current stage to ``nxt``; False if no movement loses its green (the
        caller goes straight on to the all-red or the next green)."""
        jn.target = nxt
        clearance = _clearance_state(jn.states[jn.stage], jn.states[nxt], yellow=True)
        if "y" in clearance:
            jn.mode, jn.since = "yellow", now
            self._set(jn, clearance, now)
            return True
        jn.mode = "red"
        return False

    def _step_group(self, g: _Group, n: np.ndarray, now: float) -> None:
        """A coordinated group switches when every member is green and the minimum green has passed."""
        if any(jn.mode != "green" for jn in g.members):
            return
        elapsed = now - max(jn.since for jn in g.members)
        if elapsed + 1e-9 < self.settings.min_green_s:
            return
        pressure = np.zeros(len(g.combos))
        for m, jn in enumerate(g.members):
            pressure += self._pressure(jn, n)[g.combos[:, m]]
        max_green = max(float(jn.max_green[g.combos[g.stage, m]]) for m, jn in enumerate(g.members))
        nxt = self._next_stage(g.stage, pressure, elapsed, max_green, group=True)
        if nxt == g.stage:
            return
        g.stage = nxt
        for m, jn in enumerate(g.members):
            target = int(g.combos[nxt, m])
            if target == jn.stage:
                jn.since = now  # stays green; the group's minimum green restarts with it
                continue
            if not self._switch(jn, target, now):  # no yellow needed: all-red (if any), then green
                jn.since = now - jn.yellow[jn.stage]
                jn.mode = "yellow"

    def _deadline_stage(self, jn: _Junction, now: float, clear: float) -> int | None:
        """The stage to start now so that no movement's red exceeds ``max_red_s``, or None if waiting is safe.

        Serving red movements earliest deadline first, each stage taking its minimum green and clearance,
        must meet every deadline even if the switch is put off by one more step; if it would not, the
        first stage of that schedule starts now.
        """
        red = jn.controlled & ~jn.link_served[jn.stage]
        if not red.any():
            return None
        deadline = jn.last_green + jn.max_red_s
        links = np.flatnonzero(red)
        if float(deadline[links].min()) - now > jn.cycle_floor + 2.0 * self.step_s:
            return None
        links = links[np.argsort(deadline[links], kind="stable")]
        pending = np.zeros(jn.link_served.shape[1], dtype=bool)
        pending[links] = True
        tau = now + self.step_s + clear
        first = None
        for m in links:
            if not pending[m]:
                continue
            if tau > deadline[m] + 1e-9:
                return first if first is not None else int(np.flatnonzero(jn.link_served[:, m])[0])
            cands = np.flatnonzero(jn.link_served[:, m])
            st = int(cands[np.argmax((jn.link_served[cands] & pending).sum(axis=1))])
            first = st if first is None else first
            pending &= ~jn.link_served[st]
            tau += self.settings.min_green_s + jn.yellow[st] + jn.all_red[st]
        return None

    def _choose(self, jn: _Junction, n: np.ndarray, halt: np.ndarray, full: np.ndarray, now: float) -> int:
        k = jn.stage
        clear = jn.yellow[k] + jn.all_red[k]
        forced = self._deadline_stage(jn, now, clear)
        if forced is not None:  # a movement would wait longer than max_red_s: serve it, whatever the queues say
            return forced
        if self.kind == "adaptive":
            return self._choose_adaptive(jn, n, now)
        if self.kind == "maxpressure":
            pressure = n[jn.in_lane] - n[jn.out_lane]
            score = jn.serves.astype(np.float64) @ pressure
        else:
            score = jn.lane_served.astype(np.float64) @ halt[jn.lanes]
        # spill-back guard: a stage sending queued vehicles into a full exit lane is not chosen
        blocked = (jn.serves & (full[jn.out_lane] & (n[jn.in_lane] > 0))[None, :]).any(axis=1)
        score = np.where(blocked, -np.inf, score)
        if not np.isfinite(score).any():
            return k
        best = float(np.max(score))
        return k if np.isfinite(score[k]) and score[k] >= best - 1e-9 else int(np.argmax(score))

    def _pressure(self, jn: _Junction, n: np.ndarray) -> np.ndarray:
        """``adaptive``: per stage, the queued vehicles of its movements (halting, moving at a weight, waiting
        to be inserted) that fit into their exit lanes (capacity-aware; a full exit gives nothing)."""
        room = np.maximum(self.capacity[jn.out_lane] - n[jn.out_lane], 0.0)
        return jn.serves.astype(np.float64) @ np.minimum(self._queue[jn.in_lane], room)

    def _next_stage(self, k: int, pressure: np.ndarray, elapsed: float, max_green: float, *, group: bool = False) -> int:
        """A junction holds stage ``k`` while it keeps ``hold_ratio`` of the best other pressure, then takes the
        stage of highest pressure (its maximum red is guarded by :meth:`_deadline_stage`). A group serves its
        joint stages exhaustively (while any member's stage has pressure) in the programs' order, which bounds
        every red by one pass at maximum green. Either way a green ends at ``max_green``."""
        others = np.delete(pressure, k)
        if others.size == 0 or float(others.max()) <= 0.0:
            return k
        hold = 0.0 if group else self.settings.hold_ratio
        if elapsed + 1e-9 < max_green and pressure[k] > 0 and pressure[k] >= hold * float(others.max()):
            return k
        if not group:
            return int(np.argmax(np.where(np.arange(len(pressure)) == k, -np.inf, pressure)))
        for step in range(1, len(pressure)):
            j = (k + step) % len(pressure)
            if pressure[j] > 0:
                return j
        return k

    def _choose_adaptive(self, jn: _Junction, n: np.ndarray, now: float) -> int:
        """``adaptive`` at a junction outside any group (see :mod:`mobility.signals.adaptive`)."""
        return self._next_stage(jn.stage, self._pressure(jn, n), now - jn.since, float(jn.max_green[jn.stage]))


def _model_plans(plans: Sequence[SignalPlan], models: dict[str, SignalModel], net_file: Path) -> None:
    for p in plans:
        if p.junction not in models:
            raise InputError(f"plan {p.plan_id} is for junction {p.junction!r}, which has no traffic light in {net_file}")
        check_plan(p, models[p.junction])


def with_programs(scenario: Scenario, controller: str, plans: Sequence[SignalPlan] | None, folder: Path,
                  models: dict[str, SignalModel]) -> Scenario:
    """``scenario`` with the programs ``controller`` runs in SUMO: ``plans`` (checked for safety first) for
    ``fixed``, SUMO's actuated control on the current programs for ``actuated``; files written in ``folder``.

    Parameters
    ----------
    scenario : Scenario
    controller : str
        One of :data:`CONTROLLERS` (the adaptive ones add no file).
    plans : list of SignalPlan, optional
    folder : Path
        Where the additional file goes.
    models : dict of str to SignalModel
        The network's signals (:func:`~mobility.signals.safety.signal_models`).

    Returns
    -------
    Scenario
    """
    extra: list[Path] = []
    net_file = Path(scenario.network)
    if controller == "fixed" and plans:
        _model_plans(plans, models, net_file)
        extra.append(folder / "plans.add.xml")
        plans_to_sumo(plans, extra[-1], provenance=f"mobility signal plans for {scenario.name}")
    elif controller == "actuated":
        extra.append(folder / "actuated.add.xml")
        plans_to_sumo(sumo_actuated(current_plans(scenario, default_max_green_s=50.0)), extra[-1],
                      provenance=f"SUMO actuated control on the programs of {scenario.name}")
    return scenario.model_copy(update={"additional_files": [*scenario.additional_files, *extra]}) if extra else scenario


def controller_payload(controller: str | None, *, plans: Sequence[Any] | None = None,
                       settings: AdaptiveSettings | None = None, backend: str = "libsumo") -> dict[str, Any]:
    """What a worker needs to run one controller: its name, fixed-time plans (as JSON), adaptive rules."""
    return {"controller": controller, "backend": backend,
            "plans": [p.model_dump(mode="json") for p in plans] if plans is not None else None,
            "settings": dict(settings.__dict__) if settings is not None else None}


def run_controlled(
    scenario: Scenario,
    controller: str,
    *,
    seed: int | None = None,
    plans: Sequence[SignalPlan] | None = None,
    settings: AdaptiveSettings | None = None,
    network: RoadNetwork | None = None,
    workdir: str | Path | None = None,
    keep_log: bool = False,
    backend: Literal["libsumo", "traci"] = "libsumo",
) -> xr.Dataset:
    """Run ``scenario`` under ``controller`` and return the run's results Dataset.

    Parameters
    ----------
    scenario : Scenario
    controller : {"fixed", "actuated", "greedy", "maxpressure", "adaptive"}
        ``fixed`` runs ``plans`` when given (checked for safety first), else the network's programs.
    seed : int, optional
        SUMO seed (the scenario's when omitted); recorded in the Dataset.
    plans : list of SignalPlan, optional
    settings : AdaptiveSettings, optional
        Rules of the adaptive controllers.
    keep_log : bool
        Add the adaptive controller's state log (``signal_log_*`` variables).
    network : RoadNetwork, optional
        The scenario's network, if already loaded.
    workdir : str or Path, optional
        Folder for SUMO's files and the plan files (kept); a temporary one, removed after the run, when omitted.
    backend : {"libsumo", "traci"}

    Returns
    -------
    xarray.Dataset
        The run's results with ``attrs["controller"]`` and, for every signal, the mean number of halting
        vehicles on its approaches per edge-data interval (``tls_queue`` on ``(junction, time)``).
    """
    from ..simulation import Simulation

    if controller not in ("fixed", "actuated", *ADAPTIVE):
        raise InputError(f"run_controlled: controller must be fixed, actuated, greedy, maxpressure or adaptive, got {controller!r}"
                         " (webster and optimised plans run as controller='fixed' with plans=...)")
    if plans is not None and controller != "fixed":
        raise InputError("plans= is only used with controller='fixed'")
    net_file = Path(scenario.network)
    models = signal_models(net_file)
    own = workdir is None  # plan files go into the run's folder (kept with it), else into one removed after the run
    folder = Path(tempfile.mkdtemp(prefix="mobility-signals-")) if own else Path(workdir)  # type: ignore[arg-type]
    folder.mkdir(parents=True, exist_ok=True)
    sc = with_programs(scenario, controller, plans, folder, models)
    sim = Simulation(sc, seed=seed, workdir=workdir, network=network, backend=backend)
    log: list[tuple[float, str, str]] = []
    watch = None
    try:
        with sim:
            if controller in ADAPTIVE:
                ctl = AdaptiveController(sim.api, net_file, controller, settings=settings, models=models,  # type: ignore[arg-type]
                                         plans=current_plans(scenario))
                end = sc.end_s
                now = sim.time
                while now < end - 1e-9:
                    now = sim.step()
                    ctl.step(now)
                log = ctl.log
                watch = ctl.watchdog
            else:
                sim.run()
        ds = sim.results()
    finally:
        sim.cleanup()
        if own:
            shutil.rmtree(folder, ignore_errors=True)
    ds = _with_queues(ds, models)
    ds.attrs["controller"] = controller
    if plans:
        ds.attrs["plans"] = ",".join(sorted({f"{p.junction}:{p.plan_id}.v{p.version}" for p in plans}))
    if watch is not None:  # how often, and for how long, the city's program took over
        ds["watchdog_fallbacks"] = ((), np.int64(sum(1 for _, _, e in watch.events if e == "fallback")),
                                    {"units": "1", "long_name": "junctions handed back to their program by the watchdog"})
        ds["watchdog_share"] = ((), float(watch.seconds.sum() / max(len(watch.ids) * (sc.end_s - sc.begin_s), 1e-9)),
                                {"units": "1", "long_name": "share of junction-time run by the city's program"})
        ds.attrs["watchdog_events"] = "; ".join(f"{t:g} {j} {e}" for t, j, e in watch.events[:200])
    if keep_log and log:
        ds["signal_log_time"] = ("signal_event", np.array([t for t, _, _ in log]), {"units": "s", "long_name": "time a state was set"})
        ds["signal_log_junction"] = ("signal_event", np.array([j for _, j, _ in log], dtype=object), {"units": "1", "long_name": "signal"})
        ds["signal_log_state"] = ("signal_event", np.array([s for _, _, s in log], dtype=object), {"units": "1", "long_name": "SUMO state"})
    return ds


def _with_queues(ds: xr.Dataset, models: dict[str, SignalModel]) -> xr.Dataset:
    """Add ``tls_queue``: mean halting vehicles on each signal's approach edges per interval."""
    if "edge_halting" not in ds or not models:
        return ds
    edges = {str(e): i for i, e in enumerate(ds["edge"].values)}
    ids = sorted(models)
    q = np.zeros((len(ids), ds.sizes["time"]))
    halting = ds["edge_halting"].transpose("edge", "time").values
    for r, tls in enumerate(ids):
        rows = sorted({edges[m.from_edge] for m in models[tls].movements.values() if m.from_edge in edges})
        if rows:
            q[r] = halting[rows].sum(axis=0)
    out = ds.assign_coords(junction=("junction", np.array(ids, dtype=str)))
    out["tls_queue"] = (("junction", "time"), q, {"units": "veh", "long_name": "mean halting vehicles on the signal's approaches"})
    return out
