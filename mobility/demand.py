"""Demand: turn a scenario's demand section into a SUMO route file.

OD pairs and route flows become SUMO ``<flow>`` elements (SUMO routes OD flows itself at departure);
random demand becomes ``<trip>`` elements drawn here with a numpy generator seeded from the scenario, so
the same seed gives the same trips. Nothing is dropped silently: every random trip joins two edges that
its vehicle class may use and can drive between (see :mod:`mobility.access`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from ._errors import DemandError
from .seeds import rng as sub_rng
from ._io import write_text_atomic
from .access import allowed, reach
from .network import RoadNetwork
from .scenario import ODDemand, RandomDemand, RouteDemand, RouteFileDemand, Scenario

__all__ = ["boundary_edges", "demand_windows", "fringe_nodes", "random_trips", "street_edges", "write_routes", "write_zones"]


def demand_windows(scenario: Scenario, begin_s: float | None, end_s: float | None) -> Iterator[tuple[float, float, float]]:
    """Split a flow's window into ``(begin, end, scale)`` pieces following the demand profile.

    Windows end one step before the scenario's end: SUMO's last step inserts no vehicle, so demand
    scheduled later could never depart and would only inflate the loaded count.

    Parameters
    ----------
    scenario : Scenario
    begin_s, end_s : float or None, s
        The flow's window (None: the scenario's).

    Yields
    ------
    tuple of float
        ``(begin s, end s, scale)``.
    """
    last = scenario.end_s - scenario.step_length_s
    b = scenario.begin_s if begin_s is None else max(begin_s, scenario.begin_s)
    e = last if end_s is None else min(end_s, last)
    if e <= b:
        return
    profile = scenario.demand.profile
    if not profile:
        yield b, e, 1.0
        return
    for step in profile:
        lo, hi = max(b, step.begin_s), min(e, step.end_s)
        if hi > lo and step.scale > 0:
            yield lo, hi, step.scale


def defined_types(files: Sequence[str | Path]) -> set[str]:
    """Ids of the vehicle types (and type distributions) that SUMO files define.

    Parameters
    ----------
    files : list of path
        Additional or route files.

    Returns
    -------
    set of str
    """
    from ._sumoxml import walk

    ids: set[str] = set()

    def start(name: str, a: dict[str, str], line: int) -> None:
        if name in ("vType", "vTypeDistribution") and "id" in a:
            ids.add(a["id"])

    for f in files:
        walk(f, kind="additional", what="SUMO additional file", start=start)
    return ids


def _vtype_xml(scenario: Scenario) -> tuple[str, str]:
    """vType definitions and the type id vehicles should use. A type the scenario's additional files define
    (a city's own vehicle types) is used as they define it, not written again."""
    defined = defined_types(scenario.additional_files) if scenario.additional_files else set()
    types = scenario.vehicle_types
    if len(types) == 1 and types[0].id in defined:
        return "", types[0].id
    clash = sorted(defined & {v.id for v in types})
    if clash:
        raise DemandError(f"vehicle type(s) {clash} are defined both by the scenario's vehicle_types and by its "
                          "additional files; give the scenario's types other ids, or keep one type defined there")
    rows = []
    for v in types:
        prob = f' probability="{v.share:g}"' if len(scenario.vehicle_types) > 1 else ""
        rows.append(
            f'    <vType id={quoteattr(v.id)} vClass="{v.vclass}" length="{v.length_m:g}" minGap="{v.min_gap_m:g}" '
            f'accel="{v.accel_m_s2:g}" decel="{v.decel_m_s2:g}" maxSpeed="{v.max_speed_m_s:g}" tau="{v.tau_s:g}" '
            f'sigma="{v.sigma:g}" speedFactor="normc({v.speed_factor:g},{v.speed_dev:g},0.2,2)"{prob}'
            + (f' emissionClass={quoteattr(v.emission_class)}' if v.emission_class else "")
            + (f' mass="{v.mass_kg:g}"' if v.mass_kg else "")
            + (">" + "".join(f"\n      <param key={quoteattr(k)} value={quoteattr(str(val))}/>" for k, val in v.params.items())
               + "\n    </vType>" if v.params else "/>")
        )
    if len(scenario.vehicle_types) == 1:
        return "\n".join(rows), scenario.vehicle_types[0].id
    return '  <vTypeDistribution id="mobility_mix">\n' + "\n".join(rows) + "\n  </vTypeDistribution>", "mobility_mix"


def _rate_attr(flow_veh_h: float, arrivals: str) -> str:
    if arrivals == "poisson":
        return f'period="exp({flow_veh_h / 3600.0:.10g})"'
    return f'vehsPerHour="{flow_veh_h:.10g}"'


def _depart_attrs(scenario: Scenario) -> str:
    d = scenario.demand
    return f'departLane={quoteattr(d.depart_lane)} departSpeed={quoteattr(d.depart_speed)} departPos={quoteattr(d.depart_pos)}'


def fringe_nodes(network: RoadNetwork, vclass: str | None = None) -> np.ndarray:
    """Boolean per node: the network's boundary, dead ends with at most one way in and one way out (counting
    only the edges that admit ``vclass``, when given).

    Parameters
    ----------
    network : RoadNetwork
    vclass : str, optional

    Returns
    -------
    array of bool
    """
    ok = np.ones(network.n_edges, dtype=bool) if vclass is None else allowed(network, vclass)
    indeg = np.bincount(network.head[ok], minlength=network.n_nodes)
    outdeg = np.bincount(network.tail[ok], minlength=network.n_nodes)
    return (indeg <= 1) & (outdeg <= 1)


def boundary_edges(network: RoadNetwork, vclass: str = "passenger") -> tuple[np.ndarray, np.ndarray]:
    """Edges entering the network at its boundary that lead ``vclass`` into it, and edges leaving it that
    ``vclass`` reaches (indices).

    Parameters
    ----------
    network : RoadNetwork
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    tuple of arrays of int
        ``(entering, leaving)`` edge indices.
    """
    fringe = fringe_nodes(network, vclass)
    r = reach(network, vclass)
    return np.flatnonzero(fringe[network.tail] & r.origins), np.flatnonzero(fringe[network.head] & r.destinations)


def street_edges(network: RoadNetwork, *, min_length_m: float = 0.0, include_boundary: bool = False,
                 vclass: str = "passenger", max_speed_m_s: float = np.inf) -> np.ndarray:
    """Indices of the edges where kerbside parking or charging sites can go: at least ``min_length_m`` long,
    a speed limit of at most ``max_speed_m_s``, a lane that admits ``vclass``, and in the set of edges that
    class can both reach and leave; less those touching the boundary (unless ``include_boundary``).

    Parameters
    ----------
    network : RoadNetwork
    min_length_m : float, m
    include_boundary : bool
    vclass : str
    max_speed_m_s : float, m/s

    Returns
    -------
    array of int
    """
    keep = reach(network, vclass).core & (np.asarray(network.length) >= min_length_m)
    keep &= np.asarray(network.free_speed) <= max_speed_m_s
    if not include_boundary:
        fringe = fringe_nodes(network, vclass)
        keep &= ~fringe[network.tail] & ~fringe[network.head]
    return np.flatnonzero(keep)


def _candidates(network: RoadNetwork, d: RandomDemand, vclass: str) -> tuple[np.ndarray, np.ndarray]:
    """Origin and destination edges of random trips for one vehicle class: edges it may use with a way on
    (origins) or a way in (destinations); whether a drawn pair is joined is checked per pair."""
    r = reach(network, vclass)
    g = r.graph
    fringe_node = fringe_nodes(network, vclass)
    has_out = np.diff(g.indptr) > 0
    has_in = np.bincount(g.indices, minlength=network.n_edges) > 0
    o = r.allowed & (has_out | r.core) & (fringe_node[network.tail] if d.origins == "fringe" else True)
    de = r.allowed & (has_in | r.core) & (fringe_node[network.head] if d.destinations == "fringe" else True)
    if not o.any() or not de.any():
        raise DemandError(
            f"network {network.name!r} has no {d.origins} origin or {d.destinations} destination edges for vehicle "
            f"class {vclass} ({r.summary()}); use origins: all / destinations: all, or a network with boundary roads"
        )
    return np.flatnonzero(o), np.flatnonzero(de)


def random_trips(scenario: Scenario, network: RoadNetwork, *, report: dict | None = None
                 ) -> list[tuple[float, str, str, str]]:
    """Draw random trips ``(depart_s, from_edge, to_edge, vehicle_type)`` sorted by departure time.

    Departures follow a Poisson process at ``trips_veh_h`` times the profile's scale (``uniform``
    arrivals: equal headways). Each trip's vehicle type is drawn by its share, from a stream of its own (a
    vehicle keeps its type whatever else changes: common random numbers across a study's alternatives); its
    origin and destination are drawn uniformly among the edges that type's class may use (with a way on, and a
    way in), and a pair the class cannot drive between (by the turns it may make) is drawn again, so every
    trip has a route. Draws closer than ``min_distance_m`` or joining an edge to itself are drawn again too.
    ``report`` (a dict), when given, receives the counts: trips, draws, rejected draws and the share rejected,
    and per vehicle type where its class may go.

    Parameters
    ----------
    scenario : Scenario
        With random demand.
    network : RoadNetwork
    report : dict, optional

    Returns
    -------
    list of tuple
        ``(depart s, from edge, to edge, vehicle type)``.
    """
    d = scenario.demand
    assert isinstance(d, RandomDemand)
    rng = sub_rng(scenario.demand_seed, "demand", "random trips")
    types = list(scenario.vehicle_types)
    share = np.array([v.share for v in types])
    type_rng = sub_rng(scenario.demand_seed, "demand", "vehicle types")
    cands = {v.vclass: _candidates(network, d, v.vclass) for v in types}
    reaches = {v.vclass: reach(network, v.vclass) for v in types}
    trips: list[tuple[float, str, str, str]] = []
    draws = 0
    for b, e, scale in demand_windows(scenario, None, None):
        rate = d.trips_veh_h * scale / 3600.0
        if d.arrivals == "poisson":
            n = rng.poisson(rate * (e - b))
            times = np.sort(rng.uniform(b, e, size=n))
        else:
            n = int(np.floor(rate * (e - b)))
            times = b + (np.arange(n) + 0.5) / rate
        picks = type_rng.choice(len(types), size=len(times), p=share / share.sum()) if len(types) > 1 \
            else np.zeros(len(times), dtype=np.int64)
        for t, k in zip(times, picks, strict=True):
            o_arr, d_arr = cands[types[k].vclass]
            for _ in range(1000):
                draws += 1
                o = int(o_arr[rng.integers(o_arr.size)])
                de = int(d_arr[rng.integers(d_arr.size)])
                if o == de or (network.tail[o] == network.head[de] and network.head[o] == network.tail[de]):
                    continue
                if not reaches[types[k].vclass].joins(o, de):
                    continue
                dx = network.node_x[network.tail[o]] - network.node_x[network.head[de]]
                dy = network.node_y[network.tail[o]] - network.node_y[network.head[de]]
                if np.hypot(dx, dy) >= d.min_distance_m:
                    break
            else:
                raise DemandError(f"no origin-destination pair for vehicle type {types[k].id!r} is at least "
                                  f"min_distance_m={d.min_distance_m} apart; lower it")
            trips.append((float(t), str(network.edge_ids[o]), str(network.edge_ids[de]), types[k].id))
    if report is not None:
        report.update(trips=len(trips), draws=draws, rejected_draws=draws - len(trips),
                      rejected_share=(draws - len(trips)) / draws if draws else 0.0,
                      classes={v.id: reach(network, v.vclass).summary() for v in types})
    return trips


def write_routes(scenario: Scenario, network: RoadNetwork, path: str | Path, *, report: dict | None = None) -> Path:
    """Write the scenario's demand as a SUMO route file at ``path`` (atomically); return the path.

    For ``kind: files`` the scenario's own route files are used as they are, and the file written here
    is empty. ``report``: see :func:`random_trips`.

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
    path : path
    report : dict, optional

    Returns
    -------
    Path
    """
    d = scenario.demand
    vtypes, type_id = _vtype_xml(scenario)
    depart = _depart_attrs(scenario)
    body: list[tuple[float, str]] = []
    if isinstance(d, ODDemand):
        for o, row in d.matrix.items():
            for dest, flow in row.items():
                for k, (b, e, s) in enumerate(demand_windows(scenario, None, None)):
                    if flow * s > 0:
                        body.append((b, f'  <flow id={quoteattr(f"{o}_to_{dest}_{k}")} type="{type_id}" begin="{b:g}" '
                                        f'end="{e:g}" {_rate_attr(flow * s, d.arrivals)} fromTaz={quoteattr(o)} '
                                        f'toTaz={quoteattr(dest)} {depart}/>'))
        for i, p in enumerate(d.pairs):
            for k, (b, e, s) in enumerate(demand_windows(scenario, p.begin_s, p.end_s)):
                if p.flow_veh_h * s > 0:
                    body.append((b, f'  <flow id="od{i}_{k}" type="{type_id}" begin="{b:g}" end="{e:g}" '
                                    f'{_rate_attr(p.flow_veh_h * s, d.arrivals)} from={quoteattr(p.origin)} '
                                    f'to={quoteattr(p.destination)} {depart}/>'))
    elif isinstance(d, RouteDemand):
        for i, f in enumerate(d.flows):
            fid = f.id or f"route{i}"
            for k, (b, e, s) in enumerate(demand_windows(scenario, f.begin_s, f.end_s)):
                if f.flow_veh_h * s > 0:
                    body.append((b, f'  <flow id={quoteattr(f"{fid}_{k}")} type="{type_id}" begin="{b:g}" end="{e:g}" '
                                    f'{_rate_attr(f.flow_veh_h * s, d.arrivals)} route={quoteattr(fid)} {depart}/>'))
        routes = "".join(f'  <route id={quoteattr(f.id or f"route{i}")} edges={quoteattr(" ".join(f.edges))}/>\n'
                         for i, f in enumerate(d.flows))
        vtypes += "\n" + routes.rstrip("\n")
    elif isinstance(d, RandomDemand):
        for i, (t, o, de, ty) in enumerate(random_trips(scenario, network, report=report)):
            body.append((t, f'  <trip id="t{i}" type={quoteattr(ty)} depart="{t:.2f}" from={quoteattr(o)} '
                            f'to={quoteattr(de)} {depart}/>'))
    elif isinstance(d, RouteFileDemand):
        vtypes = ""  # the route files define the vehicles and their types
    body.sort(key=lambda x: x[0])
    text = "<routes>\n" + vtypes + "\n" + "\n".join(line for _, line in body) + ("\n" if body else "") + "</routes>\n"
    return write_text_atomic(path, text)


def write_zones(scenario: Scenario, path: str | Path) -> Path | None:
    """Write the OD matrix's zones as SUMO ``<taz>`` definitions; ``None`` when there are none.

    Parameters
    ----------
    scenario : Scenario
    path : path

    Returns
    -------
    Path or None
    """
    d = scenario.demand
    if not isinstance(d, ODDemand) or not d.zones:
        return None
    rows = "".join(f"  <taz id={quoteattr(z)} edges={quoteattr(' '.join(edges))}/>\n" for z, edges in d.zones.items())
    return write_text_atomic(path, "<additional>\n" + rows + "</additional>\n")
