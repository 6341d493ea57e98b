"""A transit study: bus lines with stops and timetables on a traffic scenario, and the priority rules.

A transit file (YAML, ``scenarios/transit/*.yaml``) names a traffic scenario (the network and its general
traffic), the signal controller the junctions run (``fixed``, ``actuated``, ``greedy``, ``maxpressure``,
``adaptive`` or ``optimised``) and adds:

- ``lines``: bus lines, each a route of edges, its stops (edge, position, dwell) and its trips (a headway
  between ``begin_s`` and ``end_s``, or a list of departures). The timetable is each stop's scheduled
  arrival after the trip's departure (``time_s``); where no stop gives one it is the free-flow running
  time of the route (the lower of the street's speed limit and the bus's top speed), the dwells, the
  stops' braking and starting, times ``1 + slack``;
- or ``gtfs``: a GTFS feed imported through SUMO's ``gtfs2pt.py`` on the scenario's network
  (:mod:`mobility.transit.gtfs`);
- ``priority``: the transit signal priority rules (:class:`PrioritySettings`).

Every error names the file, the line and the id (a stop off the network, times going back, an edge buses
may not use).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from .._errors import InputError
from .._spec import Dist, Spec, node_line, read_document
from ..seeds import rng as sub_rng

__all__ = ["BusTrip", "BusType", "ChargerSpec", "GtfsSource", "LineSpec", "PrioritySettings", "ScheduledStop", "StopSpec",
           "TransitSpec", "bus_trips", "line_stops", "load_transit", "transit_scenario"]

_ID = r"^[A-Za-z0-9_.\-:#]+$"


class StopSpec(Spec):
    """A bus stop of a line: a SUMO ``busStop`` on the rightmost lane of ``edge`` buses may use."""

    id: str = Field(pattern=_ID, max_length=200)
    edge: str = Field(max_length=500)
    pos_m: float | None = Field(None, ge=0, description="where the stop ends along the edge (default: its middle)")
    length_m: float = Field(20.0, gt=0, le=500, description="length of the stop (bus bay)")
    dwell_s: Dist | float | None = Field(None, description="dwell at this stop (default: the line's)")
    time_s: float | None = Field(None, ge=0, description="scheduled arrival, s after the trip's departure")


class BusType(Spec):
    """The buses of a line (SUMO vehicle type, vehicle class ``bus``)."""

    length_m: float = Field(12.0, gt=0, le=60)
    max_speed_m_s: float = Field(19.4, gt=0, le=60)
    accel_m_s2: float = Field(1.2, gt=0, le=10)
    decel_m_s2: float = Field(4.0, gt=0, le=10)
    sigma: float = Field(0.3, ge=0, le=1, description="Krauss driver imperfection")
    electric: bool = Field(False, description="battery bus (SUMO's battery device; charges at charging stations)")
    battery_kwh: float = Field(300.0, gt=0, le=2000)
    initial_soc: float = Field(0.9, ge=0, le=1, description="state of charge leaving the depot (depot charging)")
    mass_kg: float = Field(13000.0, gt=0, le=60000)
    energy_model: dict[str, str] = Field(
        default_factory=lambda: {"frontSurfaceArea": "7.5", "airDragCoefficient": "0.6", "rollDragCoefficient": "0.01",
                                 "constantPowerIntake": "4000", "propulsionEfficiency": "0.9",
                                 "recuperationEfficiency": "0.6", "radialDragCoefficient": "0.5"},
        description="SUMO Energy model parameters of an electric bus (heating and air conditioning in constantPowerIntake)")


class LineSpec(Spec):
    """One bus line: its route, stops and trips."""

    ordered_fields = (("begin_s", "end_s"),)

    id: str = Field(pattern=_ID, max_length=200)
    route: list[str] = Field(min_length=1, max_length=10_000, description="edges in driving order")
    stops: list[StopSpec] = Field(min_length=1, max_length=1000, description="in the order the buses serve them")
    headway_s: float | None = Field(None, gt=0, description="one trip every this many seconds from begin_s...")
    begin_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0, description="...until end_s (default: the scenario's end)")
    departures_s: list[float] | None = Field(None, max_length=10_000, description="or the trips' departures")
    dwell_s: Dist | float = Field(20.0, description="dwell at a stop, s (a number, or a distribution drawn per stop call)")
    slack: float = Field(0.1, ge=0, le=2, description="running-time allowance of a generated timetable")
    hold: bool = Field(False, description="buses ahead of the timetable wait at stops until their scheduled departure")
    passengers: Dist | float | None = Field(None, description="on-board load of each trip (conditional priority)")
    bus: BusType = Field(default_factory=BusType)

    @model_validator(mode="after")
    def _check(self) -> LineSpec:
        if (self.headway_s is None) == (self.departures_s is None):
            raise ValueError(f"line {self.id}: give headway_s or departures_s (one of them)")
        if self.departures_s is not None:
            for k in range(1, len(self.departures_s)):
                if not self.departures_s[k] > self.departures_s[k - 1]:
                    raise ValueError(f"line {self.id}: departures_s[{k}] = {self.departures_s[k]:g} s is not after "
                                     f"departures_s[{k - 1}] = {self.departures_s[k - 1]:g} s; list departures in order")
        times = [s.time_s for s in self.stops]
        given = [t for t in times if t is not None]
        if given and len(given) != len(times):
            raise ValueError(f"line {self.id}: give time_s for every stop or for none (then the timetable is generated)")
        for k in range(1, len(times)):
            if given and not times[k] > times[k - 1]:  # type: ignore[operator]
                raise ValueError(f"line {self.id}: stop {self.stops[k].id} is scheduled at {times[k]:g} s, not after "
                                 f"stop {self.stops[k - 1].id} at {times[k - 1]:g} s; timetable times must increase along the line")
        for what, d in (("dwell_s", self.dwell_s), ("passengers", self.passengers)):
            if isinstance(d, Dist):
                d.check_within(0.0, 3600.0 if what == "dwell_s" else 1000.0, f"line {self.id} {what}")
            elif isinstance(d, float) and not 0 <= d <= (3600 if what == "dwell_s" else 1000):
                raise ValueError(f"line {self.id}: {what} {d:g} is out of range")
        ids = [s.id for s in self.stops]
        if len(set(ids)) != len(ids):
            raise ValueError(f"line {self.id}: stop ids repeat ({sorted({i for i in ids if ids.count(i) > 1})})")
        return self


class ChargerSpec(Spec):
    """An opportunity charger at a bus stop (a SUMO ``chargingStation`` over the stop)."""

    stop: str = Field(pattern=_ID, max_length=200)
    power_kw: float = Field(300.0, gt=0, le=2000)
    efficiency: float = Field(0.95, gt=0, le=1)


class GtfsSource(Spec):
    """A GTFS feed imported with SUMO's ``gtfs2pt.py`` on the scenario's network (which must be geo-referenced)."""

    feed: Path = Field(description="GTFS zip (or folder), relative to the study file")
    date: str = Field(pattern=r"^\d{8}$", description="service day, YYYYMMDD")
    routes: list[str] | None = Field(None, description="GTFS route_ids to import (default: every bus route)")
    max_stop_distance_m: float = Field(50.0, gt=0, le=1000, description="a stop further than this from a street "
                                       "buses may use is off the network (an error)")
    dwell_s: float = Field(20.0, ge=0, le=3600)
    offset_s: float = Field(0.0, ge=0, le=86400 * 2, description="feed time of day at the scenario's time 0, s "
                            "(e.g. 25200: the scenario starts at 07:00)")


class PrioritySettings(Spec):
    """Transit signal priority rules (all options; which actions run is the study's alternative).

    Conflicting requests at one junction are served first come, first served (earliest check-in); a
    request whose movement is green in the same stage rides along; at the same check-in, the later bus
    against its timetable goes first, then the lower vehicle id.
    """

    checkin_m: float = Field(150.0, gt=0, le=2000, description="a bus checks in this far before the stop line")
    max_extension_s: float = Field(15.0, ge=0, le=120, description="longest a green is held for a bus, per cycle")
    min_green_s: float = Field(8.0, gt=0, le=60, description="shortest green early green leaves a conflicting stage "
                               "(a program's own minDur, where longer, is kept)")
    max_red_s: float = Field(120.0, gt=0, le=600, description="no movement waits on red longer than this for a bus")
    late_s: float = Field(60.0, ge=0, description="conditional: only buses at least this late against the timetable...")
    min_passengers: float | None = Field(None, ge=0, description="...or carrying at least this many passengers")
    max_request_s: float = Field(90.0, gt=0, description="a request older than this lapses (a bus held in a queue)")
    recovery: bool = Field(True, description="return a fixed-time program to its cycle (offset) after priority")
    measure_m: float = Field(200.0, gt=0, le=2000, description="bus delay at a signal is measured over this approach")


class TransitSpec(Spec):
    """A transit study (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    scenario: Path = Field(description="traffic scenario YAML, relative to this file")
    controller: Literal["fixed", "actuated", "greedy", "maxpressure", "adaptive", "optimised"] = Field(
        "fixed", description="the signal controller priority works with")
    lines: list[LineSpec] = Field(default_factory=list, max_length=1000)
    gtfs: GtfsSource | None = None
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    chargers: list[ChargerSpec] = Field(default_factory=list, description="opportunity chargers at stops")
    charging_layout: Path | None = Field(None, description="a charging layout (mobility charging optimise -o ...): "
                                         "every stop on an edge with a station gets a charger of its power")
    source_file: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> TransitSpec:
        if not self.lines and self.gtfs is None:
            raise ValueError("give bus lines (lines) or a GTFS feed (gtfs)")
        ids = [ln.id for ln in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError(f"line ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        stops: dict[str, tuple[str, float | None]] = {}
        for ln in self.lines:
            for s in ln.stops:
                key = (s.edge, s.pos_m)
                if stops.setdefault(s.id, key) != key:
                    raise ValueError(f"line {ln.id}: stop {s.id} is placed differently by another line; a stop id "
                                     "names one place")
        return self


def load_transit(path: str | Path) -> TransitSpec:
    """Read a transit study file; errors name the file, line and field.

    Parameters
    ----------
    path : str or Path
        The study's YAML file.

    Returns
    -------
    TransitSpec
    """
    from .._spec import read_study

    return read_study(path, TransitSpec, what="transit file", hint="TransitSpec fields (scenario, lines, priority, ...)")


def transit_scenario(spec: TransitSpec) -> tuple[Any, Any]:
    """The study's traffic scenario and its network.

    Parameters
    ----------
    spec : TransitSpec

    Returns
    -------
    tuple
        ``(Scenario, RoadNetwork)``.
    """
    from ..scenario import load_scenario_with_network

    return load_scenario_with_network(spec.scenario)


def where(spec: TransitSpec, loc: tuple[Any, ...]) -> str:
    """``file:line`` of the field at ``loc`` in the study file (the file alone when unknown)."""
    src = spec.source_file
    if src is None:
        return spec.name
    try:
        _, root = read_document(src, what="transit file")
    except InputError:
        return str(src)
    line = node_line(root, loc)
    return f"{src}:{line}" if line else str(src)


@dataclass(frozen=True)
class ScheduledStop:
    """A stop as a line serves it: its place and its scheduled arrival after the trip's departure."""

    id: str
    edge: str
    lane: int
    start_m: float
    end_m: float
    offset_s: float
    route_pos_m: float
    dwell: Dist | float


@dataclass(frozen=True)
class BusTrip:
    """One scheduled bus trip: vehicle id, line, departure, stops with scheduled arrivals, dwells drawn, load."""

    id: str
    line: str
    depart_s: float
    route: tuple[str, ...]
    stops: tuple[ScheduledStop, ...]
    arrival_s: tuple[float, ...]
    dwell_s: tuple[float, ...]
    passengers: float
    hold: bool
    bus: BusType
    soc0: float = 1.0


def bus_chargers(spec: TransitSpec, net: Any, trips: list[BusTrip]) -> dict[str, ChargerSpec]:
    """The opportunity chargers by stop id: the study's ``chargers``, and a charger at every stop on an edge of
    ``charging_layout`` (its station's points times their power).

    Parameters
    ----------
    spec : TransitSpec
    net : RoadNetwork
    trips : list of BusTrip

    Returns
    -------
    dict of str to ChargerSpec
    """
    stops = {s.id: s for t in trips for s in t.stops}
    out: dict[str, ChargerSpec] = {}
    for i, c in enumerate(spec.chargers):
        if c.stop not in stops:
            raise InputError(f"{where(spec, ('chargers', i, 'stop'))}: charger at stop {c.stop!r}, which no line serves")
        out[c.stop] = c
    if spec.charging_layout is not None:
        from ..charging.layout import load_layout

        layout = load_layout(spec.charging_layout)
        for st in layout.stations:
            for s in stops.values():
                if s.edge == st.edge and s.id not in out:
                    out[s.id] = ChargerSpec(stop=s.id, power_kw=min(st.power_kw * st.points, 2000.0))
    return out


def line_stops(spec: TransitSpec, net: Any, li: int) -> tuple[ScheduledStop, ...]:
    """The stops of line ``li`` with their lanes, route positions and scheduled arrivals (offsets from departure).

    Checks the line against the network: every route edge exists and admits buses, each turn is allowed,
    every stop lies on the route, in order, within its edge. Errors name the file, line and id.

    Parameters
    ----------
    spec : TransitSpec
    net : RoadNetwork
    li : int
        Index of the line in ``spec.lines``.

    Returns
    -------
    tuple of ScheduledStop
    """
    from ..access import check_route, lane_index

    ln = spec.lines[li]
    why = check_route(net, ln.route, "bus")
    if why is not None:
        fix = ("list the edges in driving order, each reachable from the one before by a turn buses may make"
               if "turn" in why else "a bus line may only use edges of the network whose lanes allow vehicle class bus")
        raise InputError(f"{where(spec, ('lines', li, 'route'))}: line {ln.id}: {why}; {fix}")
    ei = net.edge_index
    length = np.asarray(net.length, dtype=float)
    speed = np.minimum(np.asarray(net.free_speed, dtype=float), ln.bus.max_speed_m_s)
    start_of: dict[int, float] = {}  # route position (m) of each route edge's start, first occurrence
    pos, t = 0.0, 0.0
    run_start = []
    for r in ln.route:
        e = ei[r]
        start_of.setdefault(e, pos)
        run_start.append((e, pos, t))
        pos += float(length[e])
        t += float(length[e] / speed[e])
    bus_lanes = lane_index(net, "bus")
    out: list[ScheduledStop] = []
    last_pos = -1.0
    penalty = 0.0
    prev_t_pos = 0.0
    t_run = 0.0
    dwell_sum = 0.0
    for si, s in enumerate(ln.stops):
        loc = ("lines", li, "stops", si)
        e = ei.get(s.edge)
        if e is None or e not in start_of:
            raise InputError(f"{where(spec, loc)}: line {ln.id}: stop {s.id} is on edge {s.edge!r}, which is not on "
                             "the line's route; put the stop on an edge of the route")
        lane = int(bus_lanes[e])
        if lane < 0:
            raise InputError(f"{where(spec, loc)}: line {ln.id}: stop {s.id}: edge {s.edge!r} has no lane buses may use")
        L = float(length[e])
        end = min(L, s.pos_m) if s.pos_m is not None else min(L, 0.5 * L + 0.5 * s.length_m)
        if s.pos_m is not None and s.pos_m > L + 1e-6:
            raise InputError(f"{where(spec, loc)}: line {ln.id}: stop {s.id}: pos_m {s.pos_m:g} is beyond the end of "
                             f"edge {s.edge!r} ({L:.1f} m long)")
        start = max(0.0, end - s.length_m)
        rp = start_of[e] + end
        if rp <= last_pos:
            raise InputError(f"{where(spec, loc)}: line {ln.id}: stop {s.id} comes before the previous stop along the "
                             "route; list stops in the order buses reach them")
        last_pos = rp
        # free-flow running time to the stop: along the route edges, then braking to a halt
        for e2, p0, t0 in run_start:
            if p0 <= rp <= p0 + float(length[e2]) + 1e-9:
                t_here = t0 + (rp - p0) / float(speed[e2])
                v = float(speed[e2])
                break
        t_run += t_here - prev_t_pos
        prev_t_pos = t_here
        # braking to this stop, and starting from rest before it (the depot, or the previous stop)
        penalty += v / (2 * ln.bus.decel_m_s2) + v / (2 * ln.bus.accel_m_s2)
        offset = s.time_s if s.time_s is not None else (t_run + penalty) * (1.0 + ln.slack) + dwell_sum
        dw = s.dwell_s if s.dwell_s is not None else ln.dwell_s
        dwell_sum += float(dw if isinstance(dw, float | int) else (dw.mean if dw.mean is not None else
                                                                   0.5 * ((dw.low or 0.0) + (dw.high or 0.0))))
        out.append(ScheduledStop(s.id, s.edge, lane, start, end, float(offset), rp, dw))
    return tuple(out)


def bus_trips(spec: TransitSpec, net: Any, *, seed: int, end_s: float) -> list[BusTrip]:
    """Every bus trip of the study's lines, dwells and loads drawn from ``seed``'s sub-streams.

    Parameters
    ----------
    spec : TransitSpec
    net : RoadNetwork
    seed : int
        The run's seed.
    end_s : float, s
        End of the simulated window (default end of headway service).

    Returns
    -------
    list of BusTrip
        In departure order.
    """
    trips: list[BusTrip] = []
    for li, ln in enumerate(spec.lines):
        stops = line_stops(spec, net, li)
        if ln.departures_s is not None:
            deps = list(ln.departures_s)
        else:
            stop = ln.end_s if ln.end_s is not None else end_s
            deps = list(np.arange(ln.begin_s, stop, float(ln.headway_s)))  # type: ignore[arg-type]
        g = sub_rng(seed, "transit", "dwell", ln.id)
        gp = sub_rng(seed, "transit", "passengers", ln.id)
        for k, dep in enumerate(deps):
            dwells = tuple(float(d.draw(g)) if isinstance(d, Dist) else float(d) for d in (s.dwell for s in stops))
            p = ln.passengers
            load = float(p.draw(gp)) if isinstance(p, Dist) else (float(p) if p is not None else np.nan)
            trips.append(BusTrip(f"{ln.id}.{k}", ln.id, float(dep), tuple(ln.route), stops,
                                 tuple(float(dep) + s.offset_s for s in stops), dwells, load, ln.hold, ln.bus,
                                 ln.bus.initial_soc))
    trips.sort(key=lambda t: (t.depart_s, t.id))
    return trips
