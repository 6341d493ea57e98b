"""Transit signal priority (TSP) for every signal controller of the toolkit.

A bus **checks in** when its next signal is ``checkin_m`` ahead (SUMO's ``VAR_NEXT_TLS`` through one
subscription per bus) and **checks out** when it has passed the stop line. While it is checked in, its
signal gives it priority by one of the actions the study compares:

``extension``
    the bus's movement is green: the green is held until the bus is expected at the stop line, at most
    ``max_extension_s`` per green, and never so long that a waiting movement's red passes ``max_red_s``; a bus
    that could not reach the line within that gets no extension (it would only delay the others);
``early-green``
    the bus's movement is red: the green stages before its own are cut to their minimum green (``min_green_s``,
    or the program's ``minDur`` where longer), each through its full yellow and all-red;
``both``
    either, as the signal stands when the bus checks in;
``conditional``
    both, for buses at least ``late_s`` behind their timetable or carrying at least ``min_passengers``.

**Conflicting requests** at one signal are served first come, first served (earliest check-in); a
request whose movement is green in the same stage as the one served rides along; at the same check-in, the
later bus against its timetable goes first, then the lower vehicle id. A request lapses after
``max_request_s``.

**Recovery**: after priority, a fixed-time program returns to its cycle (its offset) by lengthening or
shortening the following greens (never below the minimum green) until it is back in step.

Programs SUMO runs (``fixed``, ``actuated``, ``optimised`` plans) take priority through TraCI phase
commands (:class:`ProgramPriority`); the toolkit's own adaptive controllers through their stage choice
(:class:`PriorityAdaptive`), keeping their minimum green, clearances and maximum red. Every state a signal
shows is logged (:class:`StateLog`) and checked by the safety validator after the run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from ..signals.control import AdaptiveController
from .spec import BusTrip, PrioritySettings

__all__ = ["PRIORITY_OPTIONS", "BusTracker", "PriorityAdaptive", "ProgramPriority", "Request", "StateLog"]

PriorityOption = Literal["none", "extension", "early-green", "both", "conditional"]
#: The priority options a transit study compares.
PRIORITY_OPTIONS: tuple[str, ...] = ("none", "extension", "early-green", "both", "conditional")


def actions(option: str) -> tuple[bool, bool]:
    """``(extension, early green)`` of a priority option."""
    if option not in PRIORITY_OPTIONS:
        raise InputError(f"unknown priority option {option!r}; choose from {', '.join(PRIORITY_OPTIONS)}")
    return option in ("extension", "both", "conditional"), option in ("early-green", "both", "conditional")


@dataclass
class Request:
    """A bus checked in at a signal: the link it will use, when it checked in, its lateness and load."""

    vehicle: str
    tls: str
    link: int
    checkin_s: float
    late_s: float
    passengers: float
    dist_m: float = 0.0
    speed_m_s: float = 0.0

    def eta_s(self) -> float:
        """Seconds until the bus reaches the stop line at its allowed speed."""
        return self.dist_m / max(self.speed_m_s, 1.0)


@dataclass
class _Bus:
    trip: BusTrip
    sched_pos: np.ndarray
    sched_time: np.ndarray
    tls: str | None = None
    link: int = -1
    checked_in: float | None = None
    odo: float = 0.0
    delay: float = 0.0
    stopped: bool = False
    passages: list[tuple[str, float, float, float]] = field(default_factory=list)


class BusTracker:
    """Follows every bus through one subscription each: check-in and check-out at signals, lateness against the
    timetable, and the delay at each signal (time over the last ``measure_m`` before the stop line beyond
    what the distance takes at the bus's allowed speed, stops at bus stops excepted).

    Parameters
    ----------
    api : module or traci.Connection
        The live TraCI API.
    trips : list of BusTrip
        The scenario's bus trips.
    settings : PrioritySettings
    option : str
        Priority option (requests are only made when it is not ``none``).
    """

    def __init__(self, api: Any, trips: Sequence[BusTrip], settings: PrioritySettings, option: str) -> None:
        import traci.constants as tc

        self.api = api
        self.settings = settings
        self.option = option
        self.trips = {t.id: t for t in trips}
        self.buses: dict[str, _Bus] = {}
        self.done: dict[str, _Bus] = {}
        self.requests: dict[str, dict[str, Request]] = {}
        self.log: list[tuple[float, str, str, str]] = []   # (time, tls, vehicle, "checkin"/"checkout"/"lapsed")
        self._vars = [tc.VAR_NEXT_TLS, tc.VAR_ALLOWED_SPEED, tc.VAR_STOPSTATE, tc.VAR_DISTANCE, tc.VAR_SPEED]

    def depart(self, vid: str) -> None:
        """Start following bus ``vid`` (call when it departs)."""
        t = self.trips.get(vid)
        if t is None:
            return
        pos, tim = [0.0], [t.depart_s]
        for s, arr, dw in zip(t.stops, t.arrival_s, t.dwell_s, strict=True):
            pos += [s.route_pos_m, s.route_pos_m + 1e-6]
            tim += [arr, arr + dw]
        self.buses[vid] = _Bus(t, np.array(pos), np.array(tim))
        self.api.vehicle.subscribe(vid, self._vars)

    def arrive(self, vid: str, now: float) -> None:
        """Stop following bus ``vid`` (call when it arrives)."""
        b = self.buses.pop(vid, None)
        if b is None:
            return
        if b.tls is not None:
            self._checkout(b, vid, now)
        self.done[vid] = b

    def late_s(self, vid: str, now: float) -> float:
        """How late bus ``vid`` is against its timetable where it is now, s (negative: early)."""
        b = self.buses[vid]
        return float(now - np.interp(b.odo, b.sched_pos, b.sched_time))

    def update(self, now: float, dt: float) -> None:
        """Read the buses' subscriptions after a step ending at ``now`` (``dt`` long)."""
        import traci.constants as tc

        res = self.api.vehicle.getAllSubscriptionResults()
        s = self.settings
        for vid, b in self.buses.items():
            r = res.get(vid)
            if not r:
                continue
            nxt = next_tls(r[tc.VAR_NEXT_TLS])
            odo = float(r[tc.VAR_DISTANCE])
            stopped = bool(int(r[tc.VAR_STOPSTATE]) & 1)
            allowed = max(float(r[tc.VAR_ALLOWED_SPEED]), 0.1)
            tls, link, dist = nxt if nxt is not None else (None, -1, np.inf)
            if b.tls is not None and tls != b.tls:
                self._checkout(b, vid, now)
            if tls is not None and dist <= s.measure_m and not stopped and b.tls == tls:
                b.delay += max(dt - max(odo - b.odo, 0.0) / allowed, 0.0)
            b.odo, b.stopped = odo, stopped
            if tls is None:
                continue
            if b.tls != tls and dist <= max(s.measure_m, s.checkin_m):
                b.tls, b.delay, b.checked_in = tls, 0.0, None
            if b.tls == tls:
                b.link = link
                if b.checked_in is None and dist <= s.checkin_m:
                    b.checked_in = now
                    self._request(b, vid, tls, link, now)
                req = self.requests.get(tls, {}).get(vid)
                if req is not None:
                    req.link, req.dist_m, req.speed_m_s = link, dist, allowed
                    if now - req.checkin_s > s.max_request_s:
                        del self.requests[tls][vid]
                        self.log.append((now, tls, vid, "lapsed"))

    def _request(self, b: _Bus, vid: str, tls: str, link: int, now: float) -> None:
        if self.option == "none":
            return
        late = self.late_s(vid, now)
        if self.option == "conditional":
            s = self.settings
            loaded = s.min_passengers is not None and np.isfinite(b.trip.passengers) and b.trip.passengers >= s.min_passengers
            if not (late >= s.late_s or loaded):
                return
        self.requests.setdefault(tls, {})[vid] = Request(vid, tls, link, now, late, b.trip.passengers)
        self.log.append((now, tls, vid, "checkin"))

    def _checkout(self, b: _Bus, vid: str, now: float) -> None:
        assert b.tls is not None
        b.passages.append((b.tls, b.checked_in if b.checked_in is not None else np.nan, now, b.delay))
        if self.requests.get(b.tls, {}).pop(vid, None) is not None:
            self.log.append((now, b.tls, vid, "checkout"))
        b.tls, b.link, b.checked_in, b.delay = None, -1, None, 0.0

    def served(self, tls: str) -> list[Request]:
        """The requests at ``tls`` in the order they are served (see the module docstring)."""
        reqs = self.requests.get(tls)
        if not reqs:
            return []
        return sorted(reqs.values(), key=lambda r: (r.checkin_s, -r.late_s, r.vehicle))

    def all_buses(self) -> dict[str, _Bus]:
        """Every bus followed so far (arrived and still driving)."""
        return {**self.done, **self.buses}


_NEXT_TLS = re.compile(r"TraCINextTLSData\((.*?),(-?\d+),([-+\d.eE]+|inf|nan),(\w)\)")


def next_tls(value: Any) -> tuple[str, int, float] | None:
    """The first signal ahead in a ``VAR_NEXT_TLS`` subscription result: ``(id, link index, distance m)``.

    traci gives tuples; libsumo gives the C++ vector unconverted, read here from its text form.

    Parameters
    ----------
    value : tuple or libsumo TraCIResult

    Returns
    -------
    tuple or None
        None when no signal is ahead.
    """
    if hasattr(value, "getString"):
        m = _NEXT_TLS.search(value.getString())
        return (m.group(1), int(m.group(2)), float(m.group(3))) if m else None
    if not value:
        return None
    return str(value[0][0]), int(value[0][1]), float(value[0][2])


def _is_green(c: str) -> bool:
    return c in "Gg"


class StateLog:
    """Every state each signal shows, read through one subscription per signal: ``{tls: [(time s, state)]}``."""

    def __init__(self, api: Any, tls_ids: Sequence[str]) -> None:
        import traci.constants as tc

        self.api = api
        self.var = tc.TL_RED_YELLOW_GREEN_STATE
        self.states: dict[str, list[tuple[float, str]]] = {t: [] for t in tls_ids}
        for t in tls_ids:
            api.trafficlight.subscribe(t, [self.var, tc.TL_CURRENT_PHASE, tc.TL_NEXT_SWITCH])

    def record(self, now: float) -> dict[str, Any]:
        """Log the states shown in the step ending at ``now``; the signals' subscription results."""
        res = self.api.trafficlight.getAllSubscriptionResults()
        for t, log in self.states.items():
            st = res[t][self.var]
            if not log or log[-1][1] != st:
                log.append((now, st))
        return res


@dataclass
class _Program:
    """One signal running a SUMO program, as priority sees it."""

    tls: str
    states: list[str]
    durations: np.ndarray
    min_green: np.ndarray
    static: bool
    own_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    own_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phase: int = -1
    phase_start: float = 0.0
    ext_used: float = 0.0
    ext_from: float | None = None     # the extended green's planned end
    dirty: bool = False
    x0: float = 0.0
    t0: float = 0.0

    @property
    def cycle(self) -> float:
        return float(self.durations.sum())

    def green(self, p: int) -> bool:
        st = self.states[p]
        return any(_is_green(c) for c in st) and "y" not in st

    def advance_safe(self, p: int) -> bool:
        """Ending phase ``p`` now is safe: every link losing its green shows yellow next."""
        a, b = self.states[p], self.states[(p + 1) % len(self.states)]
        return all(not (_is_green(x) and not _is_green(y)) or y == "y" for x, y in zip(a, b, strict=False))

    def until_green(self, p: int, link: int) -> float:
        """Program time from the end of phase ``p`` until ``link`` is next green."""
        t, n = 0.0, len(self.states)
        for k in range(1, n + 1):
            q = (p + k) % n
            if _is_green(self.states[q][link]):
                return t
            t += float(self.durations[q])
        return t


class ProgramPriority:
    """Priority on the programs SUMO runs (fixed-time, actuated, optimised plans) through TraCI phase commands.

    Parameters
    ----------
    api : module or traci.Connection
    tls_ids : list of str
        Signals to give priority at.
    settings : PrioritySettings
    option : str
        One of :data:`PRIORITY_OPTIONS`.
    """

    def __init__(self, api: Any, tls_ids: Sequence[str], settings: PrioritySettings, option: str) -> None:
        self.api = api
        self.settings = settings
        self.extension, self.early = actions(option)
        self.step_s = float(api.simulation.getDeltaT())
        self.programs: dict[str, _Program] = {}
        self.events: list[tuple[float, str, str, str]] = []   # (time, tls, vehicle, action)
        self.red_since: dict[str, np.ndarray] = {}
        for t in tls_ids:
            prog = api.trafficlight.getProgram(t)
            logic = next((lg for lg in api.trafficlight.getAllProgramLogics(t) if lg.programID == prog), None)
            if logic is None or not logic.phases:
                continue
            static = int(getattr(logic, "type", 0)) == 0
            durs = np.array([float(ph.duration) for ph in logic.phases])
            mins = np.array([max(settings.min_green_s, 0.0 if static else float(ph.minDur)) for ph in logic.phases])
            own_min = durs if static else np.array([float(ph.minDur) for ph in logic.phases])
            own_max = durs if static else np.array([float(ph.maxDur) for ph in logic.phases])
            self.programs[t] = _Program(t, [ph.state for ph in logic.phases], durs, mins, static, own_min, own_max)

    def start(self, now: float, res: dict[str, Any]) -> None:
        """Note each program's phase and cycle position at the start (``res``: the signals' subscription results)."""
        import traci.constants as tc

        for t, p in self.programs.items():
            ph = int(res[t][tc.TL_CURRENT_PHASE])
            rem = float(res[t][tc.TL_NEXT_SWITCH]) - now
            p.phase, p.phase_start = ph, now - (float(p.durations[ph]) - rem)
            p.x0 = float(p.durations[:ph].sum() + p.durations[ph] - rem)
            p.t0 = now
            self.red_since[t] = np.full(len(p.states[0]), now)

    def step(self, now: float, res: dict[str, Any], tracker: BusTracker) -> None:
        """Act on the requests after the step ending at ``now``."""
        import traci.constants as tc

        tl = self.api.trafficlight
        for t, p in self.programs.items():
            ph = int(res[t][tc.TL_CURRENT_PHASE])
            nxt_switch = float(res[t][tc.TL_NEXT_SWITCH])
            state = p.states[ph]
            changed = ph != p.phase
            if changed:
                prev = p.states[p.phase] if p.phase >= 0 else state
                for i, (a, b) in enumerate(zip(prev, state, strict=False)):
                    if _is_green(a) and not _is_green(b):
                        self.red_since[t][i] = now
                # the phase began where SUMO says (its switch time), which may be a step before it is seen here
                start = nxt_switch - float(p.durations[ph]) if p.static else now
                p.phase, p.phase_start, p.ext_used, p.ext_from = ph, min(start, now), 0.0, None
            reqs = tracker.served(t)
            if not reqs:
                if p.ext_from is not None:  # the bus has passed: the extended green ends at its planned end
                    tl.setPhaseDuration(t, max(p.ext_from - now, self.step_s))
                    p.ext_from = None
                if changed and p.dirty and p.static and self.settings.recovery:
                    self._recover(p, now)
                continue
            r = reqs[0]
            if r.link >= len(state):
                continue
            elapsed = now - p.phase_start
            remaining = nxt_switch - now
            if _is_green(state[r.link]):
                if not self.extension:
                    continue
                need = r.eta_s() + 2.0 * self.step_s
                if need > remaining and p.ext_used < self.settings.max_extension_s:
                    room = min(self.settings.max_extension_s - p.ext_used, self._red_room(p, t, ph, now, remaining))
                    add = need - remaining
                    # a green held for a bus that cannot reach the line in time only delays the others
                    if self.step_s <= add <= room:
                        if p.ext_from is None:
                            p.ext_from = nxt_switch
                        p.ext_used += add
                        tl.setPhaseDuration(t, remaining + add)
                        p.dirty = True
                        self.events.append((now, t, r.vehicle, "extension"))
            elif self.early and p.green(ph):
                floor = float(p.min_green[ph])
                if elapsed + 1e-9 >= floor:
                    # a fixed-time phase about to end anyway is left alone; an actuated one always gives its
                    # next possible switch here, so it is ended whenever its minimum green has passed
                    if p.advance_safe(ph) and (remaining > self.step_s or not p.static):
                        nxt = (ph + 1) % len(p.states)
                        tl.setPhase(t, nxt)
                        tl.setPhaseDuration(t, float(p.durations[nxt]))  # an actuated program would skip it
                        p.dirty = True
                        self.events.append((now, t, r.vehicle, "early-green"))
                elif remaining > floor - elapsed + 1e-9:
                    tl.setPhaseDuration(t, floor - elapsed)
                    p.dirty = True
                    self.events.append((now, t, r.vehicle, "early-green"))

    def drift_s(self, now: float) -> dict[str, float]:
        """How far each fixed-time program is from its own cycle position, s (0: back in step; + ahead)."""
        out = {}
        for t, p in self.programs.items():
            C = p.cycle
            if not p.static or C <= 0 or p.phase < 0:
                continue
            x_act = float(p.durations[:p.phase].sum()) + (now - p.phase_start)
            x_nom = (p.x0 + now - p.t0) % C
            out[t] = float((x_act - x_nom + 0.5 * C) % C - 0.5 * C)
        return out

    def _red_room(self, p: _Program, t: str, ph: int, now: float, remaining: float) -> float:
        """Longest extension of phase ``ph`` that keeps every red movement within ``max_red_s``."""
        room = np.inf
        state = p.states[ph]
        for i, c in enumerate(state):
            if _is_green(c):
                continue
            waited = now - float(self.red_since[t][i])
            room = min(room, self.settings.max_red_s - waited - remaining - p.until_green(ph, i))
        return max(float(room), 0.0)

    def _recover(self, p: _Program, now: float) -> None:
        """At the start of a phase: lengthen or shorten it (a green only) towards the program's own cycle position."""
        C = p.cycle
        if C <= 0:
            p.dirty = False
            return
        x_nom = (p.x0 + now - p.t0) % C
        x_act = float(p.durations[:p.phase].sum()) + (now - p.phase_start)
        delta = (x_act - x_nom + 0.5 * C) % C - 0.5 * C   # > 0: the program is ahead of its cycle
        if abs(delta) < 0.5 * self.step_s:
            p.dirty = False
            return
        if not p.green(p.phase):
            return
        d = float(p.durations[p.phase])
        if delta > 0:
            new = d + min(delta, 0.5 * d)
        else:
            new = d - min(-delta, max(d - float(p.min_green[p.phase]), 0.0))
        if abs(new - d) >= 0.5 * self.step_s:  # SUMO takes the time left in the phase
            self.api.trafficlight.setPhaseDuration(p.tls, max(new - (now - p.phase_start), self.step_s))
            self.events.append((now, p.tls, "", "recovery"))


class PriorityAdaptive(AdaptiveController):
    """An adaptive controller (greedy, max-pressure, adaptive) that serves bus requests in its stage choice.

    A request whose movement the current stage serves holds the stage up to ``max_extension_s`` beyond its
    maximum green (extension); otherwise, once the minimum green has passed, the next stage is one that serves
    it (early green). The controller's maximum-red deadline always comes first. Coordinated groups switch
    together: there a request holds the group's stage (extension) and raises the pressure of the stages
    that serve it.
    """

    def __init__(self, *args: Any, priority: PrioritySettings, option: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.priority_settings = priority
        self.extension, self.early = actions(option)
        self.requests: dict[str, Request] = {}
        self.events: list[tuple[float, str, str, str]] = []

    def _choose(self, jn: Any, n: np.ndarray, halt: np.ndarray, full: np.ndarray, now: float) -> int:
        r = self.requests.get(jn.id)
        if r is not None and 0 <= r.link < jn.link_served.shape[1]:
            forced = self._deadline_stage(jn, now, jn.yellow[jn.stage] + jn.all_red[jn.stage])
            if forced is not None:
                return forced
            k = jn.stage
            if jn.link_served[k, r.link]:
                limit = float(jn.max_green[k]) + self.priority_settings.max_extension_s
                if self.extension and now - jn.since + r.eta_s() <= limit:  # held only if the bus makes it
                    self.events.append((now, jn.id, r.vehicle, "extension"))
                    return k
            elif self.early:
                cands = np.flatnonzero(jn.link_served[:, r.link])
                if cands.size:
                    self.events.append((now, jn.id, r.vehicle, "early-green"))
                    return int(cands[0])
        return super()._choose(jn, n, halt, full, now)

    def _pressure(self, jn: Any, n: np.ndarray) -> np.ndarray:
        p = super()._pressure(jn, n)
        r = self.requests.get(jn.id)
        if r is not None and jn.grouped and 0 <= r.link < jn.link_served.shape[1]:
            serves = jn.link_served[:, r.link]
            if (serves[jn.stage] and self.extension) or (not serves[jn.stage] and self.early):
                p = p + np.where(serves, 1e6, 0.0)
        return p
