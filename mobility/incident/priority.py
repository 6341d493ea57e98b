"""Emergency-vehicle priority in SUMO: the vehicle on its route, SUMO's bluelight device for rescue lanes, and
pre-emption of the signals on its route with safe clearance and recovery.

Pre-emption, per signal: when the emergency vehicle's next signal is within ``detect_m``, the movement it will
use is given green. The greens that must end go through yellow (the program's own yellow time, at least 3 s)
and all-red (the program's, at least 1 s) first, and so does a yellow already showing (in full, even if its
movement is the one to get green); greens that continue stay. The green is held while the vehicle
approaches and crosses; then the signal returns to its program at the phase after that green (its own yellow),
so the program's clearance follows. A second emergency vehicle reaching a signal already pre-empted for
another movement waits for the recovery (first come, first served). What each pre-empted signal shows is read
back every step (subscriptions) and kept, for the safety check (:func:`mobility.signals.safety.check_states`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..network import RoadNetwork
    from ..simulation import Simulation
    from .response import ResponsePlan

__all__ = ["EMERGENCY_TYPE", "Preemption", "priority_additional"]

#: vType ids of the emergency vehicles (with and without SUMO's bluelight device).
EMERGENCY_TYPE = {True: "mobility_emergency_bluelight", False: "mobility_emergency"}


def priority_additional(plan: ResponsePlan, network: RoadNetwork, path: str | Path) -> Path | None:
    """Write the plan's emergency vehicles (their types, routes and departures) as a SUMO additional file;
    None when it has none.

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork
    path : path

    Returns
    -------
    Path or None
    """
    from xml.sax.saxutils import quoteattr

    from .._io import atomic_path

    if not plan.priority:
        return None
    lines = ["<additional>"]
    for blue in sorted({p.bluelight for p in plan.priority}):
        lines.append(f'  <vType id="{EMERGENCY_TYPE[blue]}" vClass="emergency" guiShape="emergency" '
                     f'speedFactor="1.3" speedDev="0" sigma="0">')
        if blue:
            lines.append('    <param key="has.bluelight.device" value="true"/>')
        lines.append("  </vType>")
    for p in sorted(plan.priority, key=lambda x: x.depart_s):
        lines.append(f"  <route id={quoteattr('route_' + p.vehicle)} edges={quoteattr(' '.join(p.route))}/>")
        lines.append(f"  <vehicle id={quoteattr(p.vehicle)} type=\"{EMERGENCY_TYPE[p.bluelight]}\" "
                     f"route={quoteattr('route_' + p.vehicle)} depart=\"{p.depart_s:g}\" departLane=\"best\" "
                     'departSpeed="max"/>')
    lines.append("</additional>")
    out = Path(path)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out


class _Hold:
    """One pre-empted signal: the states to show and until when, then the recovery."""

    def __init__(self, vehicle: str, link: int, program: str, resume: int, queue: list[tuple[str, float]],
                 target: str) -> None:
        self.vehicle, self.link, self.program, self.resume = vehicle, link, program, resume
        self.queue = queue            # (state, seconds) still to show before the held green
        self.target = target          # the green held for the vehicle
        self.until = 0.0              # when the current queued state ends
        self.held = False


class Preemption:
    """Pre-emption of the signals on the emergency vehicles' routes (see the module docstring).

    Parameters
    ----------
    sim : Simulation
        A started simulation.
    plan : ResponsePlan
        Its ``priority`` entries with ``preempt`` set are served.
    min_yellow_s, min_all_red_s : float, s
        Floors of the clearance shown when a green is cut short.
    """

    def __init__(self, sim: Simulation, plan: ResponsePlan, network: RoadNetwork, *, min_yellow_s: float = 3.0,
                 min_all_red_s: float = 1.0) -> None:
        from traci import constants as tc

        from ..signals.safety import signal_models

        self.sim = sim
        # per vehicle, the signals on its route: (route position of the edge before it, tls, link index)
        turn: dict[tuple[str, str], tuple[str, int]] = {}
        if network.net_file is not None:
            for tls, m in signal_models(network.net_file).items():
                for i, mv in sorted(m.movements.items()):
                    if not mv.pedestrian:
                        turn.setdefault((mv.from_edge, mv.to_edge), (tls, i))
        self.signals = {p.vehicle: [(k, *turn[(a, b)]) for k, (a, b) in enumerate(zip(p.route, p.route[1:],
                                                                                       strict=False))
                                    if (a, b) in turn] for p in plan.priority}
        self.length = {p.vehicle: [float(network.length[network.edge(e)]) for e in p.route] for p in plan.priority}
        self.api = sim.api
        self.entries = {p.vehicle: p for p in plan.priority}
        self.min_yellow_s, self.min_all_red_s = min_yellow_s, min_all_red_s
        self._tc = tc
        self.api.simulation.subscribe([tc.VAR_DEPARTED_VEHICLES_IDS, tc.VAR_ARRIVED_VEHICLES_IDS])
        self.active: dict[str, _Hold] = {}           # tls -> its pre-emption
        self.running: set[str] = set()               # emergency vehicles on the road
        self.done: set[str] = set()
        # tls -> its watched stretches, each a list of (time, state) from the pre-emption to 30 s after recovery
        self.trace: dict[str, list[list[tuple[float, str]]]] = {}
        self.watch_until: dict[str, float] = {}
        self.longest_stop: dict[str, float] = {}
        self._stopped_since: dict[str, float | None] = {}
        self._logic: dict[str, Any] = {}
        self.preemptions = 0
        self.program_all_red: dict[str, float] = {}   # tls -> the all-red its own program shows (s)

    # -- what the signals run -----------------------------------------------------------------
    def _program(self, tls: str) -> tuple[str, list[Any]]:
        prog = self.api.trafficlight.getProgram(tls)
        if (tls, prog) not in self._logic:
            logic = next((lg for lg in self.api.trafficlight.getAllProgramLogics(tls) if lg.programID == prog), None)
            self._logic[(tls, prog)] = list(logic.phases) if logic is not None else []
        return prog, self._logic[(tls, prog)]

    def _watch(self, tls: str, now: float, until: float) -> None:
        if tls not in self.trace:
            self.trace[tls] = []
            self.api.trafficlight.subscribe(tls, [self._tc.TL_RED_YELLOW_GREEN_STATE])
        if now > self.watch_until.get(tls, -1.0):
            self.trace[tls].append([])   # a new stretch: what it showed in between was its program's
        self.watch_until[tls] = max(self.watch_until.get(tls, 0.0), until)

    def _start(self, tls: str, link: int, vehicle: str, now: float) -> None:
        prog, phases = self._program(tls)
        current = self.api.trafficlight.getRedYellowGreenState(tls)
        if not phases or link >= len(current):
            return
        cur_phase = self.api.trafficlight.getPhase(tls)

        def green(state: str) -> bool:
            return "y" not in state.lower() and state[link] in "Gg"

        if green(current) and current[link] == "G":
            target, t_idx = current, cur_phase
        else:
            cands = [k for k, ph in enumerate(phases) if green(ph.state)]
            if not cands:
                return
            t_idx = next((k for k in cands if phases[k].state[link] == "G"), cands[0])
            target = phases[t_idx].state
        yellow = max(self.min_yellow_s, max((ph.duration for ph in phases if "y" in ph.state), default=0.0))
        own_red = max((ph.duration for ph in phases if set(ph.state) <= set("rs") and ph.state), default=0.0)
        self.program_all_red[tls] = own_red
        all_red = max(self.min_all_red_s, own_red)
        queue: list[tuple[str, float]] = []
        # greens the target does not keep end through yellow; a yellow already showing runs a full yellow too
        # (its green may come back in the target, but only after the clearance)
        ends = [i for i in range(len(current)) if current[i] == "y" or (current[i] in "Gg" and target[i] not in "Gg")]
        if ends:
            y = "".join("y" if i in ends else (current[i] if current[i] in "Gg" and target[i] in "Gg" else "r")
                        for i in range(len(current)))
            r = "".join(current[i] if current[i] in "Gg" and target[i] in "Gg" else "r" for i in range(len(current)))
            queue = [(y, yellow), (r, all_red)]
        hold = _Hold(vehicle, link, prog, (t_idx + 1) % len(phases), queue, target)
        self.active[tls] = hold
        self.preemptions += 1
        self._watch(tls, now, float("inf"))
        seg = self.trace[tls][-1]
        if not seg or seg[-1][1] != current:
            seg.append((now, current))
        self._advance(tls, hold, now)

    def _advance(self, tls: str, hold: _Hold, now: float) -> None:
        """Show the next queued state when the current one has run its time; then the held green."""
        if hold.held or now < hold.until - 1e-9:
            return
        if hold.queue:
            state, secs = hold.queue.pop(0)
            self.api.trafficlight.setRedYellowGreenState(tls, state)
            hold.until = now + secs
            return
        self.api.trafficlight.setRedYellowGreenState(tls, hold.target)
        hold.held = True

    def _recover(self, tls: str, now: float) -> None:
        """Back to the program at the phase after the held green (its own clearance follows)."""
        hold = self.active.pop(tls)
        self.api.trafficlight.setProgram(tls, hold.program)
        self.api.trafficlight.setPhase(tls, hold.resume)
        self.watch_until[tls] = now + 30.0

    # -- every step ---------------------------------------------------------------------------
    def step(self) -> None:
        """Follow the emergency vehicles; pre-empt, hold and recover the signals on their way."""
        api, tc = self.api, self._tc
        now = self.sim.time
        res = api.simulation.getSubscriptionResults() or {}
        for vid in res.get(tc.VAR_DEPARTED_VEHICLES_IDS, ()):
            if vid in self.entries:
                self.running.add(vid)
                api.vehicle.subscribe(vid, [tc.VAR_ROUTE_INDEX, tc.VAR_LANEPOSITION, tc.VAR_ROAD_ID, tc.VAR_SPEED])
                self._stopped_since[vid] = None
                self.longest_stop[vid] = 0.0
        for vid in res.get(tc.VAR_ARRIVED_VEHICLES_IDS, ()):
            if vid in self.running:
                self.running.discard(vid)
                self.done.add(vid)
        wanted: dict[str, tuple[str, int]] = {}
        for vid in sorted(self.running):
            r = api.vehicle.getSubscriptionResults(vid) or {}
            speed = r.get(tc.VAR_SPEED, 0.0)
            since = self._stopped_since.get(vid)
            if speed < 0.1:
                since = now if since is None else since
                self.longest_stop[vid] = max(self.longest_stop[vid], now - since)
            else:
                since = None
            self._stopped_since[vid] = since
            if not self.entries[vid].preempt:
                continue
            nxt = self._next_signal(vid, r)
            if nxt is not None and nxt[2] <= self.entries[vid].detect_m:
                wanted.setdefault(nxt[0], (vid, nxt[1]))
        for tls in list(self.active):
            hold = self.active[tls]
            self._advance(tls, hold, now)
            if hold.held and (tls not in wanted or wanted[tls][0] != hold.vehicle):
                self._recover(tls, now)   # the vehicle has crossed (a clearance under way is finished first)
        for tls, (vid, link) in wanted.items():
            if tls not in self.active:
                self._start(tls, link, vid, now)
        for tls, stretches in self.trace.items():
            if now <= self.watch_until.get(tls, 0.0):
                st = (api.trafficlight.getSubscriptionResults(tls) or {}).get(tc.TL_RED_YELLOW_GREEN_STATE)
                seg = stretches[-1]
                if st is not None and (not seg or seg[-1][1] != st):
                    seg.append((now, st))

    def _next_signal(self, vid: str, r: dict[int, Any]) -> tuple[str, int, float] | None:
        """The next signal on the vehicle's route ahead of it: (tls, link index, distance m to its stop line)."""
        tc = self._tc
        k = int(r.get(tc.VAR_ROUTE_INDEX, -1))
        if k < 0 or str(r.get(tc.VAR_ROAD_ID, "")).startswith(":"):
            return None   # not on the road yet, or inside a junction (crossing it)
        lengths = self.length[vid]
        for pos, tls, link in self.signals[vid]:
            if pos >= k:
                dist = lengths[k] - float(r.get(tc.VAR_LANEPOSITION, 0.0)) + sum(lengths[k + 1:pos + 1])
                return tls, link, dist
        return None

    def windows(self) -> list[tuple[float, float]]:
        """``(first departure s, end)`` while an emergency vehicle is due or on its way, else nothing."""
        if self.finished():
            return []
        return [(min(p.depart_s for p in self.entries.values()), float("inf"))]

    def finished(self) -> bool:
        """Whether every emergency vehicle has arrived and every signal is back on its program."""
        return not self.running and not self.active and len(self.done) == len(self.entries)
