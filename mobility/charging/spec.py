"""An EV charging study: the traffic scenario, its EVs, the candidate sites and the charging demand.

A charging file (YAML, ``scenarios/ev_charging/*.yaml``) names a traffic scenario with an EV vehicle
type and says how EVs are equipped (battery capacity and initial charge distributions, the energy model),
when drivers look for a charger (below ``threshold_soc``), how long they charge, where stations may go
(candidate sites: kerbside sites generated along edges, or a table) and where charging demand arises
(the scenario's trip origins or destinations, or a table of demand points with weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from .._errors import InputError
from .._routefiles import file_vtypes, trip_ends
from .._spec import Dist, Spec, read_csv_rows
from ..scenario import RouteFileDemand

__all__ = ["CandidateEdges", "CandidateSite", "ChargingSpec", "DemandPoint", "Dist", "candidate_sites",
           "charging_scenario", "demand_points", "load_charging"]


class CandidateEdges(Spec):
    """Kerbside candidate sites generated along the network's edges (boundary roads excluded)."""

    min_length_m: float = Field(100.0, gt=0, description="edges at least this long get a site at their middle")
    max_points: int = Field(6, ge=1, le=1000, description="charging points a site may hold")
    power_kw: float = Field(50.0, gt=0, le=2000, description="kW per charging point")
    cost: float = Field(1.0, ge=0, description="fixed cost of opening a site (the capacitated layout), in its access "
                        "cost's unit: charging events/h x metres (1,000 = one event an hour driving 1 km further)")
    max_speed_m_s: float = Field(16.7, gt=0, le=100, description="only streets with a speed limit up to this "
                                 "(16.7 m/s = 60 km/h: no kerbside sites on arterials and motorways)")
    include_boundary: bool = Field(False, description="also edges that touch a dead-end node")


class ChargingSpec(Spec):
    """An EV charging study (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    scenario: Path = Field(description="traffic scenario YAML, relative to this file")
    ev_type: str = Field("ev", description="id of the scenario's vehicle type that is electric")
    battery_kwh: Dist = Field(default_factory=lambda: Dist(kind="choice", values=[40.0, 60.0], weights=[0.5, 0.5]))
    initial_soc: Dist = Field(description="state of charge (0..1) on entering the network")
    threshold_soc: float = Field(0.1, gt=0, lt=1, description="drivers look for a charger below this state of charge")
    target_soc: float = Field(0.8, gt=0, le=1, description="drivers charge up to this state of charge...")
    max_charge_s: float = Field(900.0, gt=0, description="...or for at most this long")
    efficiency: float = Field(0.95, gt=0, le=1, description="charger efficiency")
    range_wh_km: float = Field(180.0, gt=0, description="consumption drivers assume when judging their range")
    energy_model: dict[str, str] = Field(
        default_factory=lambda: {"frontSurfaceArea": "2.6", "airDragCoefficient": "0.35", "rollDragCoefficient": "0.01",
                                 "constantPowerIntake": "300", "propulsionEfficiency": "0.9",
                                 "recuperationEfficiency": "0.6", "radialDragCoefficient": "0.5"},
        description="SUMO Energy model parameters of the EV type")
    mass_kg: float = Field(1830.0, gt=0)
    candidates: CandidateEdges | Path = Field(default_factory=CandidateEdges,
                                              description="generated kerbside sites, or a CSV table of sites")
    demand: Literal["origins", "destinations", "both"] | Path = Field(
        "origins", description="where charging demand arises: the trips' ends, or a CSV table of demand points")
    points: int = Field(16, ge=1, le=100_000, description="charging points of the layouts compared by default")
    check_period_s: float = Field(5.0, gt=0, description="how often the charge of every EV is looked at")
    source_file: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _socs(self) -> ChargingSpec:
        self.initial_soc.check_within(0.0, 1.0, "initial_soc (a state of charge)")
        self.battery_kwh.check_within(1e-3, 1000.0, "battery_kwh (a battery capacity, kWh)")
        if self.target_soc <= self.threshold_soc:
            raise ValueError(f"target_soc ({self.target_soc}) must be above threshold_soc ({self.threshold_soc})")
        return self


def load_charging(path: str | Path) -> ChargingSpec:
    """Read a charging study file; errors name the file and the field.

    Parameters
    ----------
    path : str or Path
        The study YAML (fields of :class:`ChargingSpec`).

    Returns
    -------
    ChargingSpec
    """
    from .._spec import read_study

    return read_study(path, ChargingSpec, what="charging file", hint="ChargingSpec fields (scenario, initial_soc, ...)")


def own_ev_type(scenario: Any, ev_type: str) -> bool:
    """True when ``ev_type`` is a vehicle type the files of a city's own scenario (demand ``kind: files``) define."""
    if not isinstance(scenario.demand, RouteFileDemand):
        return False
    return ev_type in file_vtypes([*scenario.additional_files, *scenario.demand.files])


def charging_scenario(spec: ChargingSpec):
    """The traffic scenario with its EV type equipped with a battery device and the energy model.

    Parameters
    ----------
    spec : ChargingSpec
        The study.

    Returns
    -------
    (Scenario, RoadNetwork)
        The equipped scenario and its network.
    """
    from ..scenario import load_scenario_with_network

    sc, net = load_scenario_with_network(spec.scenario)
    types = list(sc.vehicle_types)
    ids = [t.id for t in types]
    if isinstance(sc.demand, RouteFileDemand):
        # a city's own scenario: the EV type is one its files define, equipped for each run (run_charging)
        own = file_vtypes([*sc.additional_files, *sc.demand.files])
        if spec.ev_type in own:
            return sc, net
        ids = sorted(own)
    if spec.ev_type not in ids:
        raise InputError(f"{spec.source_file or spec.name}: field 'ev_type': {spec.ev_type!r} is not a vehicle type of "
                         f"{spec.scenario.name} (types: {ids})")
    i = ids.index(spec.ev_type)
    params = {"has.battery.device": "true", "device.battery.capacity": "40000", **spec.energy_model,
              **types[i].params}
    types[i] = types[i].model_copy(update={"emission_class": "Energy/unknown", "mass_kg": spec.mass_kg, "params": params})
    return sc.model_copy(update={"vehicle_types": types}), net


@dataclass(frozen=True)
class CandidateSite:
    """Where a station may go: a kerbside stretch of an edge's rightmost lane."""

    id: str
    edge: str
    pos_m: float
    power_kw: float
    max_points: int
    cost: float


@dataclass(frozen=True)
class DemandPoint:
    edge: str
    weight: float


def candidate_sites(spec: ChargingSpec, network, vclass: str = "passenger") -> list[CandidateSite]:
    """The study's candidate sites, generated along edges or read from its CSV table
    (columns ``id, edge, pos_m, power_kw, max_points, cost``), on streets the EVs' class ``vclass`` may
    use and can both reach and leave.

    Parameters
    ----------
    spec : ChargingSpec
    network : RoadNetwork
    vclass : str
        SUMO vehicle class of the EVs.

    Returns
    -------
    list of CandidateSite
    """
    from ..access import check_place

    c = spec.candidates
    if isinstance(c, Path):
        rows = read_csv_rows(c, ("id", "edge", "pos_m", "power_kw", "max_points", "cost"))
        out = []
        for line, r in rows:
            where = f"{c}:{line}"
            why = check_place(network, r["edge"], vclass)
            if why is not None:
                raise InputError(f"{where}: column 'edge': {why}")
            try:
                site = CandidateSite(r["id"], r["edge"], float(r["pos_m"]), float(r["power_kw"]), int(r["max_points"]),
                                     float(r["cost"]))
            except ValueError as exc:
                raise InputError(f"{where}: {exc}; pos_m, power_kw and cost are numbers, max_points an integer") from None
            length = float(network.length[network.edge_index[site.edge]])
            if not (0 <= site.pos_m <= length and 1 <= site.max_points <= 1000 and 0 < site.power_kw <= 2000
                    and 0 <= site.cost < float("inf")):
                raise InputError(f"{where}: site {site.id!r}: pos_m must lie on the edge (0..{length:.1f} m), "
                                 "max_points 1..1000, power_kw in (0, 2000] and cost finite and >= 0")
            out.append(site)
        if len({s.id for s in out}) != len(out):
            raise InputError(f"{c}: site ids must be unique")
        return out
    from ..demand import street_edges

    sites = []
    for e in street_edges(network, min_length_m=c.min_length_m, include_boundary=c.include_boundary,
                          vclass=vclass, max_speed_m_s=c.max_speed_m_s):
        eid = str(network.edge_ids[e])
        sites.append(CandidateSite(f"cs_{eid}", eid, float(network.length[e]) / 2.0, c.power_kw, c.max_points, c.cost))
    if not sites:
        raise InputError(f"no street of {network.name} that {vclass} vehicles can reach and leave is at least "
                         f"{c.min_length_m} m long with a speed limit up to {c.max_speed_m_s:g} m/s; lower "
                         "candidates.min_length_m or raise candidates.max_speed_m_s")
    return sites


def demand_points(spec: ChargingSpec, scenario, network) -> list[DemandPoint]:
    """Charging demand: the study's table (columns ``edge, weight``), or the scenario's trip ends weighted
    by their flow (vehicles per hour) times the EV share.

    Parameters
    ----------
    spec : ChargingSpec
    scenario : Scenario
        The study's traffic scenario.
    network : RoadNetwork

    Returns
    -------
    list of DemandPoint
    """
    d = spec.demand
    if isinstance(d, Path):
        out = []
        for line, r in read_csv_rows(d, ("edge", "weight")):
            if r["edge"] not in network.edge_index:
                raise InputError(f"{d}:{line}: column 'edge': unknown edge {r['edge']!r} in {network.name}")
            try:
                w = float(r["weight"])
            except ValueError:
                raise InputError(f"{d}:{line}: column 'weight': not a number ({r['weight']!r})") from None
            if not 0 <= w < float("inf"):
                raise InputError(f"{d}:{line}: column 'weight': {w:g}; it must be finite and >= 0")
            out.append(DemandPoint(r["edge"], w))
        return out
    from ..demand import random_trips
    from ..scenario import ODDemand, RandomDemand, RouteDemand

    dem = scenario.demand
    hours = scenario.duration_s / 3600.0
    if own_ev_type(scenario, spec.ev_type):
        ends = [(o, de, n / hours) for o, de, n in trip_ends([*scenario.additional_files, *dem.files], {spec.ev_type},
                                                               begin_s=scenario.begin_s, end_s=scenario.end_s)]
        if not ends:
            raise InputError(f"the scenario's files hold no trip of vehicle type {spec.ev_type!r} between edges; "
                             "give demand: a CSV table of demand points (edge, weight)")
        share = 1.0
    else:
        share = next(t.share for t in scenario.vehicle_types if t.id == spec.ev_type)
        ends = []  # (origin, destination, EVs per hour)
    if ends:
        pass  # from the scenario's own files
    elif isinstance(dem, RandomDemand):  # the scenario's own EV trips, one each
        ends = [(o, de, 1.0 / hours) for _, o, de, ty in random_trips(scenario, network) if ty == spec.ev_type]
    elif isinstance(dem, ODDemand) and dem.pairs:  # flows of every type: the EV share of them
        ends = [(p.origin, p.destination, p.flow_veh_h * share) for p in dem.pairs]
    elif isinstance(dem, RouteDemand):
        ends = [(f.edges[0], f.edges[-1], f.flow_veh_h * share) for f in dem.flows]
    else:
        raise InputError(f"charging demand from the trips of a '{dem.kind}' scenario is not supported; "
                         "give demand: a CSV table of demand points (edge, weight)")
    weights: dict[str, float] = {}
    for o, de, w in ends:
        for e in ((o,) if d == "origins" else (de,) if d == "destinations" else (o, de)):
            weights[e] = weights.get(e, 0.0) + w
    return [DemandPoint(e, w) for e, w in sorted(weights.items())]
