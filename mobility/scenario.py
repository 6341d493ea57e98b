"""Scenario specs: a frozen, validated description of one simulation, read from YAML.

A scenario names a network, its demand, the simulated window, the step length, the seed and the
outputs to keep. Units live in field names (``end_s``, ``flow_veh_h``, ``length_m``). Applications add
their own optional top-level section (signal programs, parking areas, toll plaza lanes, charging
stations) beside ``demand`` without reshaping the rest.

Relative paths in a YAML file are resolved against the folder of that file.

Example
-------
>>> sc = load_scenario("scenarios/signal_control/grid3x3.yaml")   # doctest: +SKIP
>>> sc.end_s, sc.seed                                              # doctest: +SKIP
(3600.0, 42)
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from .access import allowed, check_route, check_route_files, check_trip
from ._errors import DemandError, InputError, ScenarioError, missing_file
from ._sumocfg import is_sumocfg, read_sumocfg, writes_file
from ._sumoxml import check_sumo_file
from ._spec import Spec, node_line, read_mapping, validate

__all__ = [
    "Scenario",
    "VehicleType",
    "ODPair",
    "ODDemand",
    "RouteFlow",
    "RouteDemand",
    "RandomDemand",
    "RouteFileDemand",
    "ProfileStep",
    "Outputs",
    "SumoOptions",
    "load_scenario",
    "load_scenario_with_network",
    "scenario_from_dict",
    "check_demand_against_network",
    "scenario_network",
    "save_scenario",
]


_Spec = Spec

def _resolve(value: Any, info: ValidationInfo) -> Any:
    if value is None or not isinstance(value, str | Path):
        return value  # pydantic reports anything else as not a path
    p = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    return p


class VehicleType(_Spec):
    """A SUMO vehicle type; ``share`` is its probability among the scenario's types."""

    id: str = "car"
    vclass: Literal["passenger", "truck", "bus", "delivery", "evehicle", "taxi"] = "passenger"
    share: float = Field(1.0, gt=0, le=1)
    length_m: float = Field(5.0, gt=0)
    min_gap_m: float = Field(2.5, ge=0)
    accel_m_s2: float = Field(2.6, gt=0)
    decel_m_s2: float = Field(4.5, gt=0)
    max_speed_m_s: float = Field(55.55, gt=0)
    tau_s: float = Field(1.0, gt=0)
    sigma: float = Field(0.5, ge=0, le=1, description="Krauss driver imperfection")
    speed_factor: float = Field(1.0, gt=0, description="mean multiplier on the lane speed limit")
    speed_dev: float = Field(0.1, ge=0, description="standard deviation of the speed factor")
    emission_class: str | None = Field(None, description="SUMO emission/energy model, e.g. 'Energy/unknown' for EVs")
    mass_kg: float | None = Field(None, gt=0, description="empty vehicle mass (energy models)")
    params: dict[str, str] = Field(default_factory=dict, description="SUMO generic parameters of the type "
                                   "(e.g. has.battery.device, device.battery.capacity)")


#: Longest simulated time a scenario may span, s (a year).
MAX_TIME_S = 366 * 86400.0


class ProfileStep(_Spec):
    """A demand multiplier for ``[begin_s, end_s)``."""

    ordered_fields = (("begin_s", "end_s"),)
    begin_s: float = Field(ge=0)
    end_s: float
    scale: float = Field(ge=0)


class _DemandBase(_Spec):
    profile: list[ProfileStep] = Field(
        default_factory=list,
        description="time-of-day multipliers; outside every step the demand is zero (empty list: scale 1 throughout)",
    )
    arrivals: Literal["poisson", "uniform"] = Field(
        "poisson", description="poisson: exponential headways drawn by SUMO from the seed; uniform: equal headways")
    depart_lane: str = "best"
    depart_speed: str = "max"
    depart_pos: str = "base"

    @field_validator("profile")
    @classmethod
    def _no_overlap(cls, v: list[ProfileStep]) -> list[ProfileStep]:
        steps = sorted(v, key=lambda p: p.begin_s)
        for a, b in zip(steps, steps[1:], strict=False):
            if b.begin_s < a.end_s:
                raise ValueError(f"profile steps overlap: [{a.begin_s}, {a.end_s}) and [{b.begin_s}, {b.end_s})")
        return steps


class ODPair(_Spec):
    """Demand from an origin edge to a destination edge; SUMO picks the fastest route at departure."""

    origin: str
    destination: str
    flow_veh_h: float = Field(ge=0)
    begin_s: float | None = None
    end_s: float | None = None


class ODDemand(_DemandBase):
    """Origin-destination demand (``kind: od``), as edge-to-edge ``pairs`` or a zone ``matrix``.

    With ``zones`` (zone id -> the edges where its trips start and end) and ``matrix``
    (origin zone -> destination zone -> flow, veh/h), SUMO picks each vehicle's start edge, end edge
    and route as the fastest among the zones' edges at departure (SUMO traffic assignment zones).
    """

    kind: Literal["od"]
    pairs: list[ODPair] = Field(default_factory=list)
    zones: dict[str, list[str]] = Field(default_factory=dict)
    matrix: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> ODDemand:
        if bool(self.pairs) == bool(self.matrix):
            raise ValueError("give either 'pairs' (edge to edge) or 'zones' + 'matrix' (zone to zone), not both or neither")
        if self.matrix:
            for o, row in self.matrix.items():
                for z in (o, *row):
                    if z not in self.zones:
                        raise ValueError(f"matrix names zone {z!r}, which is not under 'zones' (zones: {sorted(self.zones)})")
            for z, edges in self.zones.items():
                if not re.fullmatch(r"[A-Za-z0-9_.\-]+", z):
                    raise ValueError(f"zone id {z!r} may only hold letters, digits, '_', '.' and '-'")
                if not edges:
                    raise ValueError(f"zone {z!r} lists no edges")
        return self


class RouteFlow(_Spec):
    """A flow along a fixed route (``edges`` in driving order)."""

    id: str | None = None
    edges: list[str] = Field(min_length=1)
    flow_veh_h: float = Field(ge=0)
    begin_s: float | None = None
    end_s: float | None = None


class RouteDemand(_DemandBase):
    """Flows on explicit routes (``kind: routes``)."""

    kind: Literal["routes"]
    flows: list[RouteFlow] = Field(min_length=1)


class RandomDemand(_DemandBase):
    """Random trips between edges (``kind: random``), drawn with a seed.

    ``origins``/``destinations``: ``fringe`` draws from edges that enter/leave the network at its
    boundary (dead-end nodes), ``all`` from every passenger edge.
    """

    kind: Literal["random"]
    trips_veh_h: float = Field(gt=0)
    origins: Literal["fringe", "all"] = "fringe"
    destinations: Literal["fringe", "all"] = "fringe"
    min_distance_m: float = Field(0.0, ge=0, description="straight-line distance between trip ends")
    seed: int | None = Field(None, ge=0, description="defaults to the scenario seed")


class RouteFileDemand(_DemandBase):
    """Demand from existing SUMO route files (``kind: files``), e.g. a benchmark's ``.rou.xml``."""

    kind: Literal["files"]
    files: list[Path] = Field(default_factory=list, description="route files (SUMO's route-files); vehicles may "
                              "also come from the additional files")

    @field_validator("files", mode="before")
    @classmethod
    def _paths(cls, v: Any, info: ValidationInfo) -> Any:
        return [_resolve(x, info) for x in v] if isinstance(v, list) else v


Demand = Annotated[ODDemand | RouteDemand | RandomDemand | RouteFileDemand, Field(discriminator="kind")]


class Outputs(_Spec):
    """Which outputs to collect, and at what resolution."""

    interval_s: float = Field(60.0, gt=0, description="aggregation interval of edge data")
    summary_period_s: float = Field(10.0, gt=0, description="sampling period of network-wide counts")
    edge_data: bool = True
    trips: bool = True
    signals: bool = True
    keep_sumo_files: bool = Field(False, description="copy SUMO's raw XML outputs beside the results file")


#: SUMO options whose value is a file SUMO writes.
_WRITES = re.compile(r"(output|^--?log$|^-l$|error-log|message-log|save-|^--?C$|^--?output-prefix$|netstate-dump)")
class SumoOptions(_Spec):
    """Settings passed to SUMO."""

    time_to_teleport_s: float = Field(300.0, description="-1 disables teleporting of jammed vehicles")
    teleport_remove: bool = Field(False, description="remove teleported vehicles instead of re-inserting them")
    collision_action: Literal["teleport", "warn", "none", "remove"] = "warn"
    warnings: bool = Field(False, description="let SUMO print its warnings (teleports, jams) to the console")
    extra_args: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=200)

    @field_validator("extra_args")
    @classmethod
    def _writes_stay_in_the_run_folder(cls, v: list[str]) -> list[str]:
        for i, arg in enumerate(v):
            name, eq, value = arg.partition("=")
            if not name.startswith("-") or not _WRITES.search(name):
                continue
            value = value if eq else (v[i + 1] if i + 1 < len(v) else "")
            p = Path(value)
            if p.is_absolute() or ".." in p.parts or value.startswith("~"):
                raise ValueError(f"{name} {value!r} writes outside the run's folder; give a relative file name "
                                 "(SUMO writes it in the run's work folder)")
        return v


class Scenario(_Spec):
    """One simulation: network, demand, window, step, seed and outputs.

    Attributes
    ----------
    network : Path
        SUMO ``.net.xml`` (or ``.osm`` converted on the fly).
    begin_s, end_s : float, s
        Simulated window.
    step_length_s : float, s
        SUMO step length.
    seed : int
        Seed for SUMO (``--seed``) and for random demand.
    """

    ordered_fields = (("begin_s", "end_s"),)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    network: Path
    begin_s: float = Field(0.0, ge=0, le=MAX_TIME_S)
    end_s: float = Field(le=MAX_TIME_S, description="at most a year of simulated time")
    step_length_s: float = Field(1.0, ge=0.001, le=10)
    seed: int = Field(42, ge=0, lt=2**31)
    demand: Demand
    vehicle_types: list[VehicleType] = Field(default_factory=lambda: [VehicleType()], min_length=1)
    outputs: Outputs = Field(default_factory=Outputs)
    sumo: SumoOptions = Field(default_factory=SumoOptions)
    additional_files: list[Path] = Field(default_factory=list)
    source_file: Path | None = Field(None, exclude=True, description="the YAML file this spec came from")

    @field_validator("network", mode="before")
    @classmethod
    def _network_path(cls, v: Any, info: ValidationInfo) -> Any:
        return _resolve(v, info)

    @field_validator("additional_files", mode="before")
    @classmethod
    def _add_paths(cls, v: Any, info: ValidationInfo) -> Any:
        return [_resolve(x, info) for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        for f in ("interval_s", "summary_period_s"):
            if getattr(self.outputs, f) < self.step_length_s:
                raise ValueError(f"outputs.{f} ({getattr(self.outputs, f):g} s) is shorter than step_length_s "
                                 f"({self.step_length_s:g} s); give at least one step")
        validation = _option_value(self.sumo.extra_args, "xml-validation") or "auto"
        for i, f in enumerate(self.additional_files):
            if not f.is_file():
                raise ValueError(f"additional_files.{i}: file not found: {f}")
            try:  # judged by content, as SUMO loads it: any root, SUMO's element vocabulary
                check_sumo_file(f, kind="additional", validation=validation)
            except InputError as exc:
                raise ValueError(f"additional_files.{i}: {exc}") from None
        shares = sum(v.share for v in self.vehicle_types)
        if abs(shares - 1.0) > 1e-6:
            raise ValueError(f"vehicle_types shares sum to {shares:g}; make them sum to 1")
        ids = [v.id for v in self.vehicle_types]
        if len(set(ids)) != len(ids):
            raise ValueError(f"vehicle_types ids must be unique, got {ids}")
        return self

    @property
    def duration_s(self) -> float:
        """Simulated time, s."""
        return self.end_s - self.begin_s

    @property
    def demand_seed(self) -> int:
        """Seed used to draw random demand."""
        return self.demand.seed if isinstance(self.demand, RandomDemand) and self.demand.seed is not None else self.seed

    def with_seed(self, seed: int) -> Scenario:
        """A copy with another seed (random demand follows unless it has its own seed)."""
        return self.model_copy(update={"seed": int(seed)})

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the canonical spec (less the seed, recorded on its own) and of every file it names.

        Runs of one scenario over several seeds share the hash. Computed on each access (copies made
        with ``model_copy(update=...)`` must not inherit a stale value).
        """
        from ._io import file_sha256

        h = hashlib.sha256(json.dumps(self.model_dump(mode="json", exclude={"seed"}), sort_keys=True).encode())
        files = [self.network, *self.additional_files]
        if isinstance(self.demand, RouteFileDemand):
            files += self.demand.files
        for f in files:
            h.update(file_sha256(f).encode() if Path(f).is_file() else b"missing")
        return h.hexdigest()


# ---- reading, with errors that point at the YAML line ----------------------------------------
_TAGS = ("od", "routes", "random", "files")


def scenario_from_dict(data: dict[str, Any], *, base_dir: str | Path | None = None, source: str = "<dict>",
                       _root: yaml.Node | None = None, source_file: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict (paths relative to ``base_dir``).

    Parameters
    ----------
    data : dict
        The scenario's fields.
    base_dir : path, optional
        The folder relative paths start from.
    source : str
        How errors name where the dict came from.
    source_file : Path, optional
        The file the dict was read from, kept on the scenario (``source_file``) for messages and relative paths.

    Returns
    -------
    Scenario
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of fields, got {type(data).__name__}")
    sc = validate(data, Scenario, source=source, root=_root, context={"base_dir": base_dir}, error=ScenarioError,
                  tags=_TAGS)
    return sc.model_copy(update={"source_file": source_file}) if source_file is not None else sc


def load_scenario(path: str | Path, *, check_network: bool = True) -> Scenario:
    """Read and validate a scenario: a YAML file, or a SUMO configuration (``.sumocfg``) read as SUMO reads it
    (see :func:`mobility.sumocfg.import_sumocfg`).

    Parameters
    ----------
    path : path
        The YAML file or ``.sumocfg``.
    check_network : bool
        Also check that the network file exists and that every edge the demand names is in it.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        With ``file:line: field 'a.b': problem; fix`` for each problem found.
    """
    return _load(path, check_network=check_network)[0]


def load_scenario_with_network(path: str | Path) -> tuple[Scenario, Any]:
    """:func:`load_scenario`, also returning the :class:`~mobility.RoadNetwork` read to check it.

    Parameters
    ----------
    path : path
        The YAML file or ``.sumocfg``.

    Returns
    -------
    tuple
        ``(Scenario, RoadNetwork)``.
    """
    sc, net = _load(path, check_network=True)
    return sc, net


def scenario_network(scenario: Scenario, *, root: yaml.Node | None = None) -> Any:
    """The scenario's :class:`~mobility.RoadNetwork`, read once, with every edge its demand names checked.

    Parameters
    ----------
    scenario : Scenario
    root : yaml.Node, optional
        The scenario file's YAML tree, for the line of an error.

    Returns
    -------
    RoadNetwork
    """
    where = scenario.source_file or scenario.name
    if not Path(scenario.network).is_file():
        line = node_line(root, ("network",)) if root is not None else None
        raise ScenarioError(f"{where}{':' + str(line) if line else ''}: field 'network': file not found: "
                            f"{scenario.network}; paths are relative to the scenario file")
    from .load import load_network

    net = load_network(scenario.network)
    try:
        check_demand_against_network(scenario, net)
    except DemandError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return net


def _option_value(args: list[str], option: str) -> str | None:
    """The value of SUMO option ``option`` in an argument list (``--x v`` or ``--x=v``), the last one given."""
    value = None
    for i, a in enumerate(args):
        name, eq, v = a.partition("=")
        if name.lstrip("-") == option:
            value = v if eq else (args[i + 1] if i + 1 < len(args) else "")
    return value


def _load(path: str | Path, *, check_network: bool) -> tuple[Scenario, Any]:
    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "scenario file", hint="scenarios live in scenarios/<application>/*.yaml; a SUMO "
                           "configuration (.sumocfg) is read as it is")
    if is_sumocfg(path):  # a city's SUMO configuration, read as SUMO reads it
        fields = read_sumocfg(path)["data"]
        sc = scenario_from_dict(fields, base_dir=path.parent, source=str(path), source_file=path.resolve())
        return sc, (scenario_network(sc) if check_network else None)
    data, root = read_mapping(path, what="scenario", hint="scenario fields (network, demand, end_s, ...)",
                              error=ScenarioError)
    sc = scenario_from_dict(data, base_dir=path.parent, source=str(path), _root=root, source_file=path.resolve())
    net = scenario_network(sc, root=root) if check_network else None
    return sc, net




def check_demand_against_network(scenario: Scenario, network: Any) -> None:
    """Raise :class:`DemandError` when demand names an edge the network lacks or a route is broken.

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
        The scenario's network.
    """
    d = scenario.demand
    known = network.edge_index

    def need(edge: str, field: str) -> int:
        if edge not in known:
            close = difflib.get_close_matches(edge, list(known), n=1)
            raise DemandError(
                f"field '{field}': unknown edge id {edge!r} in network {Path(scenario.network).name}"
                + (f"; did you mean {close[0]!r}?" if close else "; list edges with `mobility network info --edges`")
            )
        return known[edge]

    if isinstance(d, ODDemand):
        for i, p in enumerate(d.pairs):
            need(p.origin, f"demand.pairs.{i}.origin")
            need(p.destination, f"demand.pairs.{i}.destination")
        for z, edges in d.zones.items():
            for j, e in enumerate(edges):
                need(e, f"demand.zones.{z}.{j}")
    elif isinstance(d, RouteDemand):
        for i, f in enumerate(d.flows):
            idx = [need(e, f"demand.flows.{i}.edges.{j}") for j, e in enumerate(f.edges)]
            for j, (a, b) in enumerate(zip(idx[:-1], idx[1:], strict=True)):
                if b not in network.successors(a):
                    raise DemandError(
                        f"field 'demand.flows.{i}.edges.{j + 1}': edge {f.edges[j + 1]!r} cannot follow "
                        f"{f.edges[j]!r} (no connection); fix the route's edge order"
                    )
    elif isinstance(d, RouteFileDemand):
        for i, route_file in enumerate(d.files):
            if not Path(route_file).is_file():
                raise DemandError(f"field 'demand.files.{i}': route file not found: {route_file}")
        ignore = (_option_value(scenario.sumo.extra_args, "ignore-route-errors") or "false").lower()
        if ignore not in ("true", "1", "on", "yes", "x"):  # SUMO skips broken routes when told to
            # additional files first: SUMO loads them before the routes, and the vehicle types they define apply
            check_route_files(network, [*scenario.additional_files, *d.files])
    _check_classes(scenario, network)


def _check_classes(scenario: Scenario, network: Any) -> None:
    """Every vehicle type of the scenario can drive each OD pair, zone and route of its demand."""
    d = scenario.demand
    classes = sorted({v.vclass for v in scenario.vehicle_types if v.share > 0})
    for vc in classes:
        if isinstance(d, ODDemand):
            for i, p in enumerate(d.pairs):
                why = check_trip(network, p.origin, p.destination, vc)
                if why is not None:
                    raise DemandError(f"field 'demand.pairs.{i}': {why}; choose edges that {vc} vehicles may use and "
                                      "drive between")
            ok = allowed(network, vc)
            for z, edges in d.zones.items():
                if not any(ok[network.edge_index[e]] for e in edges):
                    raise DemandError(f"field 'demand.zones.{z}': no edge of the zone admits {vc}; add one that does")
        elif isinstance(d, RouteDemand):
            for i, f in enumerate(d.flows):
                why = check_route(network, f.edges, vc)
                if why is not None:
                    raise DemandError(f"field 'demand.flows.{i}.edges': {why}")


def save_scenario(scenario: Scenario, path: str | Path, *, header: str = "") -> Path:
    """Write ``scenario`` as a YAML file that :func:`load_scenario` reads back to an equal spec (atomically).

    Paths (network, route and additional files) are written relative to the file's folder where they can be.

    Parameters
    ----------
    scenario : Scenario
    path : path
        The YAML file written.
    header : str
        A comment put at the top of the file.

    Returns
    -------
    Path
        The file written.
    """
    import os

    from ._io import write_text_atomic

    target = Path(path)
    base = target.parent.resolve()
    data = scenario.model_dump(mode="json", exclude={"source_file"}, exclude_none=True)

    def rel(p: str) -> str:
        try:
            return os.path.relpath(Path(p).resolve(), base)
        except ValueError:  # another drive
            return str(Path(p).resolve())

    data["network"] = rel(data["network"])
    data["additional_files"] = [rel(p) for p in data.get("additional_files", [])]
    if data["demand"].get("kind") == "files":
        data["demand"]["files"] = [rel(p) for p in data["demand"]["files"]]
    text = "".join(f"# {line}\n" for line in header.splitlines()) + yaml.safe_dump(data, sort_keys=False)
    return write_text_atomic(target, text)
