"""A parking guidance study: the traffic scenario, its parking supply and the parking-seeking trips.

A parking file (YAML, ``scenarios/parking/*.yaml``) names a traffic scenario (the network and its
background traffic) and adds:

- ``areas``: kerbside parking generated along the streets (``on_street``: spaces per 100 m of kerb) and
  off-street ``lots`` (edge and capacity), or a CSV table ``id, edge, capacity, kind[, start_m, end_m]``;
- ``seekers``: parking-seeking trips generated with the run's seed (entering at the boundary, destinations
  spread around a centre, dwell times from a distribution), or a CSV table
  ``id, depart_s, origin, destination, exit, dwell_s``;
- how drivers search and how guidance works: the radius of the destination area whose first edge is the
  decision point, the give-up time, the weight of a walking second against a driving second, the share
  of drivers who follow guidance, the guidance period and the optimiser's horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from .._errors import InputError
from ..seeds import rng as sub_rng
from .._spec import Dist, Spec, read_csv_rows
from ..access import check_place, check_trip, lane_index, reach
from ..demand import boundary_edges, street_edges

__all__ = ["Lot", "OnStreet", "ParkingArea", "ParkingSpec", "Seeker", "SeekerGen", "load_parking",
           "parking_areas", "parking_scenario", "seekers"]


_Spec = Spec


class OnStreet(_Spec):
    """Kerbside parking on the rightmost lane of every street at least ``min_length_m`` long."""

    spaces_per_100m: float = Field(2.0, gt=0, le=25, description="spaces per 100 m of edge (rounded, at least 1 per "
                                   "edge; a car needs at least 4 m of kerb)")
    min_length_m: float = Field(100.0, gt=0)
    max_speed_m_s: float = Field(16.7, gt=0, le=100, description="only streets with a speed limit up to this "
                                 "(16.7 m/s = 60 km/h: no kerbside parking on arterials and motorways)")
    include_boundary: bool = Field(False, description="also edges that touch a dead-end node")


class Lot(_Spec):
    """An off-street car park entered from ``edge``."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    edge: str
    capacity: int = Field(ge=1, le=100_000)


class Areas(_Spec):
    on_street: OnStreet | None = Field(default_factory=OnStreet, description="null: no kerbside parking")
    lots: list[Lot] = Field(default_factory=list)


class SeekerGen(_Spec):
    """Parking-seeking trips drawn with the run's seed."""

    ordered_fields = (("begin_s", "end_s"),)

    veh_h: float = Field(gt=0, description="arrivals per hour (Poisson)")
    begin_s: float = Field(0.0, ge=0)
    end_s: float = Field(gt=0)
    centre: str | tuple[float, float] = Field(description="node id, or [x, y], destinations gather around")
    spread_m: float = Field(300.0, gt=0, description="sd of the destinations' distance from the centre (Gaussian)")
    dwell_s: Dist = Field(default_factory=lambda: Dist(kind="uniform", low=1200.0, high=3600.0))

    @model_validator(mode="after")
    def _dwell(self) -> SeekerGen:
        self.dwell_s.check_within(0.0, 7 * 86400.0, "dwell_s (a parking duration, s)")
        return self


class ParkingSpec(_Spec):
    """A parking guidance study (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    scenario: Path = Field(description="traffic scenario YAML, relative to this file")
    areas: Areas | Path = Field(default_factory=Areas, description="generated areas, or a CSV table of areas")
    seekers: SeekerGen | Path = Field(description="generated parking-seeking trips, or a CSV table of them")
    decision_radius_m: float = Field(300.0, gt=0, description="the destination area: edges whose middle lies within "
                                     "this straight-line distance of the destination; entering it is the decision point")
    max_search_s: float = Field(900.0, gt=0, description="drivers give up (a failed parking) after searching this long")
    walk_weight: float = Field(1.5, ge=0, description="cost of a walking second against a driving second")
    walk_speed_m_s: float = Field(1.3, gt=0)
    compliance: float = Field(1.0, ge=0, le=1, description="share of drivers who follow guidance")
    guidance_period_s: float = Field(10.0, gt=0, description="how often guidance is refreshed")
    horizon_s: float = Field(120.0, ge=0, description="optimised assignment: also plan for vehicles this close (drive "
                         "time) to their decision point")
    seeker_sigma: float = Field(0.5, ge=0, le=1, description="driver imperfection (Krauss sigma) of the seekers")
    seeker_speed_dev: float = Field(0.1, ge=0, description="spread of the seekers' speed factor")
    switch_penalty_s: float = Field(30.0, ge=0, description="optimised assignment: cost of changing a vehicle's lot")
    source_file: Path | None = Field(None, exclude=True)


def load_parking(path: str | Path) -> ParkingSpec:
    """Read a parking study file; errors name the file and the field.

    Parameters
    ----------
    path : str or Path
        The parking study's YAML file.

    Returns
    -------
    ParkingSpec
    """
    from .._spec import read_study

    return read_study(path, ParkingSpec, what="parking file", hint="ParkingSpec fields (scenario, areas, seekers, ...)")


def parking_scenario(spec: ParkingSpec):
    """The study's traffic scenario and its network."""
    from ..scenario import load_scenario_with_network

    return load_scenario_with_network(spec.scenario)


@dataclass(frozen=True)
class ParkingArea:
    """A SUMO parkingArea: spaces beside lane ``lane`` of ``edge`` (the rightmost lane cars may use) between
    ``start_m`` and ``end_m``."""

    id: str
    edge: str
    start_m: float
    end_m: float
    capacity: int
    kind: Literal["on_street", "lot"]
    lane: int = 0

    @property
    def pos_m(self) -> float:
        return 0.5 * (self.start_m + self.end_m)


@dataclass(frozen=True)
class Seeker:
    id: str
    depart_s: float
    origin: str
    destination: str
    exit: str
    dwell_s: float


def _where(spec: ParkingSpec) -> str:
    return str(spec.source_file or spec.name)


def parking_areas(spec: ParkingSpec, network) -> list[ParkingArea]:
    """The study's parking areas (lots first, then kerbside areas in edge order).

    Parameters
    ----------
    spec : ParkingSpec
    network : RoadNetwork
        The study's network.

    Returns
    -------
    list of ParkingArea
    """
    a = spec.areas
    if isinstance(a, Path):
        return _areas_table(a, network)
    out: list[ParkingArea] = []
    lot_edges: set[str] = set()
    lane = lane_index(network, "passenger")
    for lot in a.lots:
        why = check_place(network, lot.edge)
        if why is not None:
            raise InputError(f"{_where(spec)}: field 'areas.lots': lot {lot.id!r}: {why}")
        e = network.edge_index[lot.edge]
        length = float(network.length[e])
        out.append(ParkingArea(lot.id, lot.edge, 0.6 * length, 0.9 * length, lot.capacity, "lot", int(lane[e])))
        lot_edges.add(lot.edge)
    if len({x.id for x in out}) != len(out):
        raise InputError(f"{_where(spec)}: field 'areas.lots': lot ids must be unique")
    if a.on_street is not None:
        c = a.on_street
        for e in street_edges(network, min_length_m=c.min_length_m, include_boundary=c.include_boundary,
                              max_speed_m_s=c.max_speed_m_s):
            length = float(network.length[e])
            eid = str(network.edge_ids[e])
            end = 0.55 * length if eid in lot_edges else 0.9 * length
            cap = max(1, round(c.spaces_per_100m * length / 100.0))
            out.append(ParkingArea(f"ps_{eid}", eid, 0.1 * length, end, cap, "on_street", int(lane[e])))
    if not out:
        raise InputError(f"{_where(spec)}: field 'areas': no parking areas (no lots, and no street of {network.name} "
                         "that cars can reach and leave is at least on_street.min_length_m long with a speed limit "
                         "up to on_street.max_speed_m_s)")
    return out


def _areas_table(path: Path, network) -> list[ParkingArea]:
    out = []
    lane = lane_index(network, "passenger")
    for line, r in read_csv_rows(path, ("id", "edge", "capacity", "kind")):
        where = f"{path}:{line}"
        why = check_place(network, r["edge"], connected=False)  # the seekers' own trips are checked
        if why is not None:
            raise InputError(f"{where}: column 'edge': {why}")
        if r["kind"] not in ("on_street", "lot"):
            raise InputError(f"{where}: column 'kind': {r['kind']!r}; use on_street or lot")
        length = float(network.length[network.edge_index[r["edge"]]])
        try:
            cap = int(r["capacity"])
            s0 = float(r.get("start_m") or 0.1 * length)
            s1 = float(r.get("end_m") or 0.9 * length)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}; capacity is an integer, start_m and end_m numbers") from None
        if not 1 <= cap <= 100_000 or not 0 <= s0 < s1 <= length:
            raise InputError(f"{where}: area {r['id']!r}: capacity must be >= 1 and 0 <= start_m < end_m <= {length:.1f}")
        out.append(ParkingArea(r["id"], r["edge"], s0, s1, cap, r["kind"],  # type: ignore[arg-type]
                               int(lane[network.edge_index[r["edge"]]])))
    if not out:
        raise InputError(f"{path}: no parking areas in the table")
    if len({x.id for x in out}) != len(out):
        raise InputError(f"{path}: area ids must be unique")
    return out


def seekers(spec: ParkingSpec, network, seed: int) -> list[Seeker]:
    """The parking-seeking trips of one run: the study's table, or drawn with ``seed``.

    Parameters
    ----------
    spec : ParkingSpec
    network : RoadNetwork
    seed : int
        The run's seed (generated trips only).

    Returns
    -------
    list of Seeker
    """
    s = spec.seekers
    if isinstance(s, Path):
        return _seekers_table(s, network)
    rng = sub_rng(seed, "parking", "seekers")
    entries, exits = boundary_edges(network)
    if not entries.size or not exits.size:
        raise InputError(f"{network.name} has no boundary (dead-end) edges by which cars can enter the street network "
                         f"and leave it again ({reach(network).summary()}); give the seekers as a CSV table of trips")
    if isinstance(s.centre, str):
        if s.centre not in network.node_index:
            raise InputError(f"{_where(spec)}: field 'seekers.centre': unknown node {s.centre!r} in {network.name}")
        cx, cy = float(network.node_x[network.node_index[s.centre]]), float(network.node_y[network.node_index[s.centre]])
    else:
        cx, cy = s.centre
        x0, x1 = float(network.node_x.min()), float(network.node_x.max())
        y0, y1 = float(network.node_y.min()), float(network.node_y.max())
        if not (x0 <= cx <= x1 and y0 <= cy <= y1):
            raise InputError(f"{_where(spec)}: field 'seekers.centre': [{cx:g}, {cy:g}] is outside {network.name} "
                             f"(x {x0:g}..{x1:g}, y {y0:g}..{y1:g} m); give a point in the network or a node id")
    inner = street_edges(network)
    mx = 0.5 * (network.node_x[network.tail] + network.node_x[network.head])[inner]
    my = 0.5 * (network.node_y[network.tail] + network.node_y[network.head])[inner]
    w = np.exp(-((mx - cx) ** 2 + (my - cy) ** 2) / (2.0 * s.spread_m**2))
    if not inner.size or w.sum() <= 0:
        raise InputError(f"{_where(spec)}: field 'seekers': no street lies near the centre; check centre and spread_m")
    w /= w.sum()
    out = []
    t = s.begin_s
    i = 0
    while True:
        t += rng.exponential(3600.0 / s.veh_h)
        if t >= s.end_s:
            break
        o = int(rng.choice(entries))
        d = int(rng.choice(inner, p=w))
        x = int(rng.choice(exits))
        out.append(Seeker(f"park{i:05d}", round(float(t), 1), str(network.edge_ids[o]), str(network.edge_ids[d]),
                          str(network.edge_ids[x]), round(s.dwell_s.draw(rng), 1)))
        i += 1
    return out


def _seekers_table(path: Path, network) -> list[Seeker]:
    out = []
    for line, r in read_csv_rows(path, ("id", "depart_s", "origin", "destination", "exit", "dwell_s")):
        for a, b in (("origin", "destination"), ("destination", "exit")):
            why = check_trip(network, r[a], r[b])
            if why is not None:
                raise InputError(f"{path}:{line}: trip {r['id']!r}: columns {a!r}, {b!r}: {why}")
        try:
            sk = Seeker(r["id"], float(r["depart_s"]), r["origin"], r["destination"], r["exit"], float(r["dwell_s"]))
        except ValueError as exc:
            raise InputError(f"{path}:{line}: {exc}; depart_s and dwell_s are numbers (s)") from None
        if not (0 < sk.dwell_s <= 7 * 86400 and 0 <= sk.depart_s <= 366 * 86400):
            raise InputError(f"{path}:{line}: trip {sk.id!r}: depart_s must be 0..31,622,400 s and dwell_s in "
                             "(0, 604,800] s (a week)")
        out.append(sk)
    if len({x.id for x in out}) != len(out):
        raise InputError(f"{path}: trip ids must be unique")
    return sorted(out, key=lambda x: x.depart_s)
