"""Response plans as data: detour guidance on signs and approach metering for an incident, checked against the
network, in JSON for the command centre, as the dynamic engine's diversions and capacity drops, and run in SUMO.

A response plan file::

    id: crash_0805_detour_north
    incident: crash_0805
    detours:                      # guidance on a sign: who passes it and would use an avoided edge
      - sign_edge: A1B1           #   takes, with probability compliance, the quickest way round
        avoid: [B1C1]
        message: "Crash ahead on B1-C1: use B2"
        begin_s: 200
        end_s: 800
        compliance: 0.4
    metering:                     # an approach let through at a rate (veh/h) over a window
      - {edge: left1A1, rate_veh_h: 600, begin_s: 200, end_s: 800}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, model_validator

from .._errors import InputError
from .._spec import Spec, read_spec

if TYPE_CHECKING:
    from ..dta import Diversion
    from ..dta import Incident as CapacityDrop
    from ..network import RoadNetwork
    from ..simulation import Simulation

__all__ = ["Detour", "GuidanceRunner", "Metering", "Priority", "ResponsePlan", "Retiming", "check_response",
           "load_response", "metering_gates", "response_to_dta", "retimed_plans", "retiming_additional"]


class Detour(Spec):
    """Guidance on a sign: vehicles passing ``sign_edge`` whose route uses an ``avoid`` edge take, with
    probability ``compliance``, the quickest free-flow way to their destination that avoids those edges.

    Attributes
    ----------
    sign_edge : str
        The edge the sign stands on (the vehicles entering it see the message).
    avoid : list of str
        The edges the message tells drivers to avoid.
    message : str
        The text shown.
    begin_s, end_s : float, s
        When the sign shows the message.
    compliance : float
        Share of the drivers concerned who follow it, in (0, 1].
    """

    ordered_fields = (("begin_s", "end_s"),)

    sign_edge: str = Field(min_length=1, max_length=500)
    avoid: list[str] = Field(min_length=1, max_length=100)
    message: str = Field("", max_length=500)
    begin_s: float = Field(ge=0)
    end_s: float
    compliance: float = Field(gt=0, le=1)


class Metering(Spec):
    """An approach let through at ``rate_veh_h`` over a window (a metering signal, or a police officer).

    Attributes
    ----------
    edge : str
        The metered approach.
    rate_veh_h : float, veh/h
        What it lets through while metered (less than its capacity).
    begin_s, end_s : float, s
    """

    ordered_fields = (("begin_s", "end_s"),)

    edge: str = Field(min_length=1, max_length=500)
    rate_veh_h: float = Field(ge=0)
    begin_s: float = Field(ge=0)
    end_s: float


class Retiming(Spec):
    """A signal retimed around the incident: new green times for the stages of the program it runs, in force
    over a window (the cycle follows the greens; yellows and all-reds stay).

    Attributes
    ----------
    junction : str
        The signal (SUMO's traffic light id).
    greens_s : list of float, s
        One green time per stage of the signal's current program.
    begin_s, end_s : float, s
    """

    ordered_fields = (("begin_s", "end_s"),)

    junction: str = Field(min_length=1, max_length=500)
    greens_s: list[float] = Field(min_length=1, max_length=32)
    begin_s: float = Field(ge=0, le=86400)
    end_s: float = Field(le=86400)


class Priority(Spec):
    """Priority for one emergency vehicle: its route and departure, SUMO's bluelight device (other vehicles
    form a rescue lane) and pre-emption of the signals on its route.

    Attributes
    ----------
    vehicle : str
        The emergency vehicle's id.
    route : list of str
        Its edges, from where it sets out to where it goes.
    depart_s : float, s
    preempt : bool
        Pre-empt the signals on its route (:class:`~mobility.incident.priority.Preemption`).
    bluelight : bool
        SUMO's bluelight device: the traffic ahead makes way.
    detect_m : float, m
        How far before a signal the vehicle is detected.
    """

    vehicle: str = Field("ambulance", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    route: list[str] = Field(min_length=1, max_length=2000)
    depart_s: float = Field(ge=0)
    preempt: bool = True
    bluelight: bool = True
    detect_m: float = Field(200.0, gt=0, le=2000)


class ResponsePlan(Spec):
    """A response to an incident: detour messages and approach metering (an empty plan is "no response").

    Attributes
    ----------
    id : str
    incident : str
        The incident's id.
    description : str
    detours : list of Detour
    metering : list of Metering
    priority : list of Priority
        Emergency vehicles and the priority they get.
    retiming : list of Retiming
        Signals retimed around the incident.
    """

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    incident: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=10_000)
    detours: list[Detour] = Field(default_factory=list, max_length=100)
    metering: list[Metering] = Field(default_factory=list, max_length=100)
    priority: list[Priority] = Field(default_factory=list, max_length=50)
    retiming: list[Retiming] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_sign_per_edge(self) -> ResponsePlan:
        ids = [p.vehicle for p in self.priority]
        if len(set(ids)) != len(ids):
            raise ValueError(f"emergency vehicle ids repeat: {ids}; give each its own")
        signs = [d.sign_edge for d in self.detours]
        twice = sorted({s for s in signs if signs.count(s) > 1})
        if twice:
            raise ValueError(f"sign edge(s) {twice} carry two messages; give one detour per sign")
        return self

    def to_json(self) -> str:
        """The plan as JSON (what the plan service stores)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ResponsePlan:
        """The plan from :meth:`to_json`'s form."""
        try:
            return cls.model_validate_json(text)
        except ValueError as exc:
            raise InputError(f"response plan JSON: {exc}".splitlines()[0]) from None


def load_response(path: str | Path, network: RoadNetwork | None = None) -> ResponsePlan:
    """Read a response plan file and check it against ``network`` when given.

    Parameters
    ----------
    path : path
    network : RoadNetwork, optional

    Returns
    -------
    ResponsePlan
    """
    plan, _, _ = read_spec(path, ResponsePlan, what="response plan")
    if network is not None:
        check_response(plan, network, source=str(path))
    return plan


def _way_round(network: RoadNetwork, sign: int, avoid: list[int]) -> bool:
    """Whether some edge downstream of the avoided ones is reachable from ``sign`` without them."""
    avoid_set = set(avoid)
    targets = {int(s) for a in avoid for s in network.successors(a)} - avoid_set
    seen = {sign}
    stack = [sign]
    while stack:
        e = stack.pop()
        for s in network.successors(e):
            s = int(s)
            if s in avoid_set or s in seen:
                continue
            if s in targets:
                return True
            seen.add(s)
            stack.append(s)
    return False


def check_response(plan: ResponsePlan, network: RoadNetwork, *, source: str = "response plan",
                   current: dict[str, Any] | None = None) -> None:
    """Check the plan against ``network``: every edge exists, a detour's sign stands before what it avoids and
    leads round it (some edge just past the avoided ones can be reached from the sign without them), a
    metering rate lies below the approach's capacity.

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork
    source : str
        Names the plan in errors.
    current : dict of str to SignalPlan, optional
        The programs the signals run (default: the network's own), which a retiming changes.

    Raises
    ------
    InputError
        One line naming the plan, the field and the fix.
    """
    ei = network.edge_index

    def edge(name: str, field: str) -> int:
        if name not in ei:
            raise InputError(f"{source}: field '{field}': unknown edge {name!r} in {network.name}; give an edge id "
                             "of the network")
        return ei[name]

    for i, d in enumerate(plan.detours):
        sign = edge(d.sign_edge, f"detours.{i}.sign_edge")
        avoid = [edge(a, f"detours.{i}.avoid") for a in d.avoid]
        if sign in avoid:
            raise InputError(f"{source}: field 'detours.{i}.sign_edge': the sign stands on an avoided edge "
                             f"({d.sign_edge}); put it upstream")
        if not _way_round(network, sign, avoid):
            raise InputError(f"{source}: field 'detours.{i}.avoid': from {d.sign_edge} no way leads round "
                             f"{', '.join(d.avoid)} (the detour does not reconnect); choose a sign further upstream")
    for i, p in enumerate(plan.priority):
        route = [edge(x, f"priority.{i}.route") for x in p.route]
        for k, (a, b) in enumerate(zip(route, route[1:], strict=False)):
            if b not in {int(x) for x in network.successors(a)}:
                raise InputError(f"{source}: field 'priority.{i}.route': {p.route[k + 1]} does not follow "
                                 f"{p.route[k]} (no connection); give a connected route")
    if plan.retiming:
        retimed_plans(plan, network, current, source=source)
    for i, m in enumerate(plan.metering):
        e = edge(m.edge, f"metering.{i}.edge")
        cap = float(network.capacity[e])
        if not m.rate_veh_h < cap:
            raise InputError(f"{source}: field 'metering.{i}.rate_veh_h': {m.rate_veh_h:g} veh/h is not below "
                             f"{m.edge}'s capacity ({cap:g} veh/h); give a lower rate")


def retimed_plans(plan: ResponsePlan, network: RoadNetwork, current: dict[str, Any] | None = None, *,
                  source: str = "response plan") -> list[tuple[dict[str, Any], float, float]]:
    """The plan's retimed signals as ``(plans by junction, begin s, end s)``, each checked by the safety
    validator against the junction's model.

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork
        A SUMO network.
    current : dict of str to SignalPlan, optional
        The programs the signals run (default: the network's own).
    source : str
        Names the plan in errors.

    Returns
    -------
    list of (dict of str to SignalPlan, float, float)

    Raises
    ------
    InputError
        An unknown signal, a green count that is not the program's stage count, an unsafe timing.
    """
    if not plan.retiming:
        return []
    if network.net_file is None:
        raise InputError(f"{source}: field 'retiming': {network.name} has no signals to retime")
    from ..signals.plan import plans_from_net
    from ..signals.safety import signal_models, validate_plan

    current = current if current is not None else plans_from_net(network.net_file)
    models = signal_models(network.net_file)
    out = []
    for i, r in enumerate(plan.retiming):
        own = current.get(r.junction)
        if own is None or r.junction not in models:
            raise InputError(f"{source}: field 'retiming.{i}.junction': no fixed-time program at {r.junction!r}; "
                             f"give a signal of {network.name}")
        if len(r.greens_s) != len(own.stages):
            raise InputError(f"{source}: field 'retiming.{i}.greens_s': {len(r.greens_s)} greens for the "
                             f"{len(own.stages)} stages of {r.junction}'s program; give one per stage")
        new = own.with_timing(r.greens_s, plan_id=f"{own.plan_id}_retimed")
        bad = validate_plan(new, models[r.junction])
        if bad:
            raise InputError(f"{source}: field 'retiming.{i}.greens_s': {bad[0].message}")
        out.append(({r.junction: new}, r.begin_s, r.end_s))
    return out


def retiming_additional(plan: ResponsePlan, network: RoadNetwork, current: dict[str, Any], path: str | Path
                        ) -> Path | None:
    """Write the plan's retimed signals as SUMO programs switched by a WAUT (the signal's own program before and
    after the window, the retimed one inside); None when it retimes nothing.

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork
    current : dict of str to SignalPlan
        The programs the signals run.
    path : path

    Returns
    -------
    Path or None
    """
    from ..signals.plan import Validity, plans_to_sumo

    windows = retimed_plans(plan, network, current)
    if not windows:
        return None
    out = []
    for plans, b, e in windows:
        for j, new in plans.items():
            own = current[j]
            parts = [(own.model_copy(update={"plan_id": f"{own.plan_id}_before"}), 0.0, b),
                     (new, b, e), (own.model_copy(update={"plan_id": f"{own.plan_id}_after"}), e, 86400.0)]
            out += [p.model_copy(update={"validity": Validity(start_s=lo, end_s=hi)}) for p, lo, hi in parts if hi > lo]
    plans_to_sumo(out, path, provenance=f"response plan {plan.id}: signals retimed around incident {plan.incident}")
    return Path(path)


def response_to_dta(plan: ResponsePlan, network: RoadNetwork) -> tuple[list[CapacityDrop], list[Diversion]]:
    """The plan as the dynamic engine's inputs: metering as capacity drops, detours as diversions.

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork

    Returns
    -------
    (list of mobility.dta.Incident, list of mobility.dta.Diversion)
    """
    from ..dta import Diversion
    from ..dta import Incident as CapacityDrop

    check_response(plan, network)
    drops = [CapacityDrop(m.edge, m.begin_s, m.end_s, m.rate_veh_h / float(network.capacity[network.edge(m.edge)]))
             for m in plan.metering]
    diversions = [Diversion(d.sign_edge, tuple(d.avoid), d.compliance, d.begin_s, d.end_s) for d in plan.detours]
    return drops, diversions


class GuidanceRunner:
    """Detour messages in a running SUMO simulation: each step, the vehicles that entered a sign's edge while
    it shows its message and whose remaining route uses an avoided edge follow it with probability
    ``compliance`` (a seeded draw per vehicle): their route is recomputed on free-flow times with the avoided
    edges barred. Vehicles are found through edge subscriptions.

    Parameters
    ----------
    sim : Simulation
        A started simulation.
    plan : ResponsePlan
    seed : int
        Seeds the compliance draws (record it with the run).
    """

    def __init__(self, sim: Simulation, plan: ResponsePlan, seed: int) -> None:
        from traci import constants as tc

        self.sim = sim
        self.plan = plan
        self.rng = np.random.default_rng(seed)
        self.seen: set[str] = set()
        self.followed = 0
        self.asked = 0
        self._var = tc.LAST_STEP_VEHICLE_ID_LIST
        for d in plan.detours:
            sim.api.edge.subscribe(d.sign_edge, [self._var])

    def windows(self) -> list[tuple[float, float]]:
        """``(begin s, end s)`` of every message."""
        return [(d.begin_s, d.end_s) for d in self.plan.detours]

    def step(self) -> None:
        """Apply the messages to the vehicles that entered a sign's edge since the last call."""
        api = self.sim.api
        now = self.sim.time
        for d in self.plan.detours:
            if not d.begin_s <= now < d.end_s:
                continue
            res = api.edge.getSubscriptionResults(d.sign_edge) or {}
            for vid in res.get(self._var, ()):
                if vid in self.seen:
                    continue
                self.seen.add(vid)
                route = api.vehicle.getRoute(vid)
                idx = api.vehicle.getRouteIndex(vid)
                if not set(route[idx + 1:]) & set(d.avoid):
                    continue
                self.asked += 1
                if self.rng.random() >= d.compliance:
                    continue
                for a in d.avoid:
                    api.vehicle.setAdaptedTraveltime(vid, a, 1e7)
                api.vehicle.rerouteTraveltime(vid, False)
                if not set(api.vehicle.getRoute(vid)[idx + 1:]) & set(d.avoid):
                    self.followed += 1


def metering_gates(plan: ResponsePlan, network: RoadNetwork) -> list[tuple[tuple[str, ...], float, float, float]]:
    """The plan's metering as gates ``(lane ids, rate veh/h, begin s, end s)``: vehicles reaching the end of a
    metered approach are let on one at a time at ``rate_veh_h`` (a metering signal).

    Parameters
    ----------
    plan : ResponsePlan
    network : RoadNetwork

    Returns
    -------
    list of tuple
    """
    out = []
    for m in plan.metering:
        e = network.edge(m.edge)
        out.append((tuple(f"{m.edge}_{x}" for x in range(max(1, int(network.lanes[e])))), float(m.rate_veh_h),
                    m.begin_s, m.end_s))
    return out
