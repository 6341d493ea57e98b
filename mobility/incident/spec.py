"""Incidents as data: an incident file (YAML), checked against the network and the scenario, applied to SUMO
runs (lane and road closures SUMO's routing respects) and to the dynamic engine (a capacity drop for a time
window).

An incident file::

    id: crash_0805
    edge: "-E12"            # where (a network edge)
    lanes: [0, 1]           # the lanes it blocks, SUMO's numbering (0: rightmost); omit for every lane
    begin_s: 29100          # when it starts, s of simulated time
    duration_s: 1800        # how long it lasts, s
    capacity_left: 0.0      # share of the blocked lanes' capacity left (0: closed)
    secondary:              # optional later events (e.g. the tow truck closing one more lane)
      - {edge: "-E12", lanes: [2], begin_s: 29700, duration_s: 600}
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, field_validator

from .._errors import InputError
from .._spec import Spec, node_line, read_spec

if TYPE_CHECKING:
    import yaml

    from ..dta import Incident as CapacityDrop
    from ..network import RoadNetwork
    from ..scenario import Scenario

__all__ = ["IncidentEvent", "IncidentSpec", "capacity_share", "check_incident", "dta_incidents", "incident_additional",
           "incident_diversions", "incident_gates", "load_incident", "upstream_layers", "with_incident"]


class IncidentEvent(Spec):
    """One blockage: lanes of an edge with part of their capacity left, over a time window.

    Attributes
    ----------
    edge : str
        The network edge.
    lanes : list of int, optional
        Blocked lane indices (SUMO's numbering, 0 the rightmost); every lane when omitted.
    begin_s : float, s
        Start, in simulated time.
    duration_s : float, s
        How long it lasts.
    capacity_left : float
        Share of the blocked lanes' capacity left while it lasts: 0 closes them (the default).
    """

    edge: str = Field(min_length=1, max_length=500)
    lanes: list[int] | None = Field(None, min_length=1, max_length=64)
    begin_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    capacity_left: float = Field(0.0, ge=0, lt=1)

    @field_validator("lanes")
    @classmethod
    def _lane_indices(cls, v: list[int] | None) -> list[int] | None:
        if v is not None:
            if any(i < 0 for i in v):
                raise ValueError(f"lane indices count from 0 (the rightmost lane), got {v}")
            if len(set(v)) != len(v):
                raise ValueError(f"a lane is listed twice in {v}; list each blocked lane once")
        return v

    @property
    def end_s(self) -> float:
        """When it ends, s."""
        return self.begin_s + self.duration_s


class IncidentSpec(IncidentEvent):
    """An incident: its first blockage (the fields of :class:`IncidentEvent`) and optional secondary ones.

    Attributes
    ----------
    id : str
        Names the incident in results and plans.
    description : str
    secondary : list of IncidentEvent
        Later or other blockages the incident brings (a second lane closed for the tow truck, the opposite
        carriageway slowed by onlookers).
    """

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = Field("", max_length=10_000)
    secondary: list[IncidentEvent] = Field(default_factory=list, max_length=100)

    def events(self) -> list[IncidentEvent]:
        """The first blockage and every secondary one, in that order."""
        first = IncidentEvent(edge=self.edge, lanes=self.lanes, begin_s=self.begin_s, duration_s=self.duration_s,
                              capacity_left=self.capacity_left)
        return [first, *self.secondary]


def load_incident(path: str | Path, network: RoadNetwork | None = None, scenario: Scenario | None = None
                  ) -> IncidentSpec:
    """Read an incident file and check it against ``network`` and ``scenario`` when given.

    Parameters
    ----------
    path : path
        The incident YAML file.
    network : RoadNetwork, optional
        Every edge and lane it names must exist there.
    scenario : Scenario, optional
        Every event must start inside the scenario's simulated window.

    Returns
    -------
    IncidentSpec

    Raises
    ------
    InputError
        ``file:line: field 'edge': unknown edge ...; fix`` for each problem (the first one found).
    """
    spec, _, root = read_spec(path, IncidentSpec, what="incident file")
    check_incident(spec, network, scenario, source=str(path), root=root)
    return spec


def check_incident(spec: IncidentSpec, network: RoadNetwork | None = None, scenario: Scenario | None = None, *,
                   source: str = "incident", root: yaml.Node | None = None) -> None:
    """Check ``spec`` against ``network`` (edges, lane indices) and ``scenario`` (start inside its window).

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork, optional
    scenario : Scenario, optional
    source : str
        Names the file in errors.
    root : yaml.Node, optional
        The file's YAML tree, for line numbers.

    Raises
    ------
    InputError
        Naming the file, line, field and the fix.
    """
    for i, ev in enumerate(spec.events()):
        loc: tuple[Any, ...] = () if i == 0 else ("secondary", i - 1)
        prefix = "" if i == 0 else f"secondary.{i - 1}."

        def where(field: str, _loc: tuple[Any, ...] = loc) -> str:
            line = node_line(root, (*_loc, field)) if root is not None else None
            return f"{source}{':' + str(line) if line else ''}"

        if network is not None:
            ei = network.edge_index
            if ev.edge not in ei:
                close = difflib.get_close_matches(ev.edge, list(ei), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else "; give an edge id of the network"
                raise InputError(f"{where('edge')}: field '{prefix}edge': unknown edge {ev.edge!r} in "
                                 f"{network.name}{hint}")
            n = int(network.lanes[ei[ev.edge]])
            bad = [x for x in (ev.lanes or []) if x >= n]
            if bad:
                raise InputError(f"{where('lanes')}: field '{prefix}lanes': edge {ev.edge!r} has {n} lane(s) "
                                 f"(0 to {n - 1}), no lane {bad[0]}; list lanes between 0 and {n - 1}")
        if scenario is not None and not scenario.begin_s <= ev.begin_s < scenario.end_s:
            raise InputError(f"{where('begin_s')}: field '{prefix}begin_s': {ev.begin_s:g} s is outside the "
                             f"scenario's window [{scenario.begin_s:g}, {scenario.end_s:g}) s; start it inside")


def _blocked(network: RoadNetwork, ev: IncidentEvent) -> tuple[int, list[int]]:
    """The event's edge's lane count and the lanes it blocks."""
    n = max(1, int(network.lanes[network.edge(ev.edge)]))
    return n, list(range(n)) if ev.lanes is None else sorted(ev.lanes)


def capacity_share(network: RoadNetwork, ev: IncidentEvent) -> float:
    """Share of its edge's capacity an event leaves: ``(open lanes + capacity_left x blocked lanes) / lanes``.

    Parameters
    ----------
    network : RoadNetwork
    ev : IncidentEvent

    Returns
    -------
    float
    """
    n, lanes = _blocked(network, ev)
    return (n - len(lanes) + ev.capacity_left * len(lanes)) / n


def dta_incidents(spec: IncidentSpec, network: RoadNetwork) -> list[CapacityDrop]:
    """The incident as the dynamic engine's capacity drops: per event, the edge's capacity times
    ``(open lanes + capacity_left x blocked lanes) / lanes`` over its window.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork

    Returns
    -------
    list of mobility.dta.Incident
    """
    from ..dta import Incident as CapacityDrop

    check_incident(spec, network)
    return [CapacityDrop(ev.edge, ev.begin_s, ev.end_s, capacity_share(network, ev)) for ev in spec.events()]


def upstream_layers(network: RoadNetwork, edges: set[int], hops: int, *, skip: set[int] = frozenset()
                    ) -> list[list[int]]:  # type: ignore[assignment]
    """The edges 1, 2, ... ``hops`` edges upstream of ``edges`` (by node: an edge ending where one of the previous
    layer starts), each edge in its nearest layer only; ``skip`` are never entered.

    Parameters
    ----------
    network : RoadNetwork
    edges : set of int
        Edge indices to start from.
    hops : int
        Layers, in edges.
    skip : set of int
        Edge indices left out (and not searched through).

    Returns
    -------
    list of list of int
    """
    into: dict[int, list[int]] = {}
    for k, h in enumerate(np.asarray(network.head)):
        into.setdefault(int(h), []).append(k)
    seen = set(edges) | set(skip)
    frontier, layers = sorted(edges), []
    for _ in range(hops):
        layer = []
        for e in frontier:
            for p in into.get(int(network.tail[e]), []):
                if p not in seen:
                    seen.add(p)
                    layer.append(p)
        if not layer:
            break
        layers.append(layer)
        frontier = layer
    return layers


def _predecessors(network: RoadNetwork, edge: int) -> list[int]:
    """Edges that may turn into ``edge``."""
    return [k for k in range(network.n_edges) if int(network.head[k]) == int(network.tail[edge])
            and edge in {int(x) for x in network.successors(k)}]


def incident_diversions(spec: IncidentSpec, network: RoadNetwork) -> list[Any]:
    """Where the incident closes a whole road, the drivers who reach the junction before it while it is closed
    and would use it turn off there (as SUMO's rerouters make them): the dynamic engine's diversions.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork

    Returns
    -------
    list of mobility.dta.Diversion
    """
    from ..dta import Diversion

    out = []
    for ev in spec.events():
        n, lanes = _blocked(network, ev)
        if ev.capacity_left > 0 or len(lanes) < n:
            continue
        e = network.edge(ev.edge)
        out += [Diversion(str(network.edge_ids[p]), (ev.edge,), 1.0, ev.begin_s, ev.end_s)
                for p in _predecessors(network, e)]
    return out


def incident_additional(spec: IncidentSpec, network: RoadNetwork, path: str | Path) -> Path:
    """Write the incident as a SUMO additional file (atomically).

    A closed lane (``capacity_left`` 0) becomes a ``closingLaneReroute`` (on its own edge) and a closed edge a
    ``closingReroute`` (on the edges that turn into it: drivers learn of the closure at the junction before it),
    active over the event's window: SUMO forbids the lanes to every vehicle and reroutes those whose route uses
    a closed edge. Lanes with capacity left are not in the file: their vehicles are slowed while the
    simulation runs (:func:`incident_gates`), so that routers do not see the incident in the lanes' speed limits.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork
        A SUMO network (edge and lane ids are SUMO's).
    path : path
        The file to write.

    Returns
    -------
    Path
    """
    from xml.sax.saxutils import quoteattr

    from .._io import atomic_path

    check_incident(spec, network)
    lines = ["<additional>"]
    for i, ev in enumerate(spec.events()):
        if ev.capacity_left > 0:
            continue  # gated, not closed: :func:`incident_gates`
        n, lanes = _blocked(network, ev)
        whole = len(lanes) == n
        # drivers learn of a closed road at the junction before it (and turn off there); of a closed lane on
        # the road itself
        notify = [str(network.edge_ids[k]) for k in _predecessors(network, network.edge(ev.edge))] if whole else []
        lines.append(f"  <rerouter id={quoteattr(f'{spec.id}_{i}')} edges={quoteattr(' '.join(notify or [ev.edge]))}>")
        lines.append(f'    <interval begin="{ev.begin_s:g}" end="{ev.end_s:g}">')
        if whole:
            lines.append(f'      <closingReroute id={quoteattr(ev.edge)}/>')
        else:
            lines += [f'      <closingLaneReroute id={quoteattr(f"{ev.edge}_{x}")}/>' for x in lanes]
        lines += ["    </interval>", "  </rerouter>"]
    lines.append("</additional>")
    out = Path(path)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out


def incident_gates(spec: IncidentSpec, network: RoadNetwork) -> list[tuple[tuple[str, ...], float, float, float]]:
    """The incident's blocked lanes with capacity left, as gates ``(lane ids, rate veh/h, begin s, end s)``:
    vehicles reaching the incident are let past it one at a time at that rate (the blocked lanes' capacity times
    ``capacity_left``), as police or a flagger let traffic past a crash.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork

    Returns
    -------
    list of tuple
    """
    out = []
    for ev in spec.events():
        if ev.capacity_left == 0:
            continue
        n, lanes = _blocked(network, ev)
        rate = float(network.capacity[network.edge(ev.edge)]) * len(lanes) / n * ev.capacity_left
        out.append((tuple(f"{ev.edge}_{x}" for x in lanes), rate, ev.begin_s, ev.end_s))
    return out


def with_incident(scenario: Scenario, spec: IncidentSpec, folder: str | Path) -> Scenario:
    """A copy of ``scenario`` that runs with the incident: its additional file written in ``folder`` and added
    to the scenario's own.

    Parameters
    ----------
    scenario : Scenario
    spec : IncidentSpec
    folder : path
        Where the incident's additional file is written.

    Returns
    -------
    Scenario
    """
    from ..scenario import scenario_network

    network = scenario_network(scenario)
    check_incident(spec, network, scenario)
    Path(folder).mkdir(parents=True, exist_ok=True)
    add = incident_additional(spec, network, Path(folder) / f"incident_{spec.id}.add.xml")
    return scenario.model_copy(update={"additional_files": [*scenario.additional_files, add]})
