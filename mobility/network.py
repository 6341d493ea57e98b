"""Road networks: one :class:`RoadNetwork` whatever the source.

Sources: a SUMO ``.net.xml`` (read with sumolib), an OpenStreetMap extract (converted with netconvert),
a TNTP ``*_net.tntp`` file, or a network generated with netgenerate/netconvert (grid, spider, a
signalised corridor).

A network offers a NetworkX ``MultiDiGraph`` for exploration and contiguous CSR arrays for kernels:
nodes ``0..N-1``, edges ``0..E-1`` sorted by tail node, ``indptr`` (int32, N+1), ``tail``/``head``
(int32, E) and float64 edge attributes. Ids map both ways through :attr:`RoadNetwork.node_index` and
:attr:`RoadNetwork.edge_index`.
"""

from __future__ import annotations

import tempfile
import xml.sax
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._errors import InputError, NetworkError, missing_file
from ._io import atomic_path
from ._sumo import run_tool
from ._vclass import ALL, mask_of, names_of

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "RoadNetwork",
    "network_from_sumo",
        "generate_grid",
    "generate_spider",
    "generate_corridor",
]

#: Saturation flow assumed per lane when a source has no capacities (SUMO networks), veh/h/lane.
DEFAULT_CAPACITY_PER_LANE_VEH_H = 1800.0

EDGE_ATTRIBUTES = ("length", "free_speed", "lanes", "capacity", "free_flow_time")


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network with CSR arrays for kernels and a NetworkX view for exploration.

    Build one with :func:`network_from_sumo`, :func:`network_from_osm`,
    :func:`~mobility.tntp.network_from_tntp`, :func:`generate_grid`, :func:`generate_corridor`,
    :func:`generate_spider` or :func:`load_network`; don't call the constructor directly.

    Attributes
    ----------
    name : str
        Short name (file stem).
    source : str
        Where the network came from (a path, or a generator and its parameters).
    node_ids, edge_ids : array of str
        The source's own ids, by node index and by edge index (CSR order).
    indptr : array of int32, shape (N+1,)
        Edges leaving node ``i`` are ``indptr[i]:indptr[i+1]``.
    tail, head : array of int32, shape (E,)
        From-node and to-node index of each edge.
    length, free_speed, lanes, capacity, free_flow_time : array of float64, shape (E,)
        Edge attributes in the units of :attr:`units`.
    node_x, node_y : array of float64, shape (N,)
        Node coordinates (NaN where the source has none).
    zone_count : int
        Nodes ``0..zone_count-1`` are zone centroids that paths may start or end at but not pass
        through (TNTP ``<FIRST THRU NODE>``); 0 when every node may be passed through.
    units : dict
        Units of the edge attributes, e.g. ``{"length": "m", "free_flow_time": "s", ...}``.
    extra : dict of str to array
        Source-specific edge attributes (TNTP: ``b``, ``power``, ``toll``, ``link_type``;
        SUMO: ``vclass``, ``lane_vclass``), in CSR order.
    toll_weight, distance_weight : float
        Generalized-cost weights (cost = free_flow_time + toll_weight * toll + distance_weight * length).
    net_file : Path or None
        The SUMO ``.net.xml`` behind the network, when there is one.
    edge_shapes : tuple of arrays (k, 2), or None
        Edge geometry (SUMO networks), for maps.
    node_signalised : array of bool, shape (N,), or None
        Whether a node is a traffic-light junction (SUMO networks).
    turn_indptr, turn_to : arrays of int32, or None
        Permitted turns as CSR over edges: edge ``e`` may be followed by ``turn_to[turn_indptr[e]:turn_indptr[e+1]]``
        (SUMO networks; ``None`` means every edge leaving the head node may follow).
    turn_vclass : array of uint64, or None
        Beside ``turn_to``: the vehicle classes that may make each turn, as :mod:`mobility._vclass` bit masks
        (``None``: every class). ``extra["vclass"]`` and ``extra["lane_vclass"]`` hold the classes admitted
        per edge and per lane.
    """

    name: str
    source: str
    node_ids: np.ndarray
    edge_ids: np.ndarray
    indptr: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    length: np.ndarray
    free_speed: np.ndarray
    lanes: np.ndarray
    capacity: np.ndarray
    free_flow_time: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    units: Mapping[str, str]
    zone_count: int = 0
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    toll_weight: float = 0.0
    distance_weight: float = 0.0
    net_file: Path | None = None
    edge_shapes: tuple[np.ndarray, ...] | None = None
    node_signalised: np.ndarray | None = None
    turn_indptr: np.ndarray | None = None
    turn_to: np.ndarray | None = None
    turn_vclass: np.ndarray | None = None

    # ---- sizes and id maps -------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges (duplicates between the same two nodes count separately)."""
        return int(self.edge_ids.shape[0])

    @cached_property
    def node_index(self) -> dict[str, int]:
        """Node id -> node index."""
        return {str(n): i for i, n in enumerate(self.node_ids)}

    @cached_property
    def edge_index(self) -> dict[str, int]:
        """Edge id -> edge index (CSR order)."""
        return {str(e): i for i, e in enumerate(self.edge_ids)}

    def edge(self, edge_id: str) -> int:
        """Index of ``edge_id``; a clear :class:`NetworkError` if the network has no such edge."""
        try:
            return self.edge_index[str(edge_id)]
        except KeyError:
            raise NetworkError(
                f"network {self.name!r} has no edge {edge_id!r}; "
                f"its {self.n_edges} edges include {', '.join(map(str, self.edge_ids[:5]))}..."
            ) from None

    # ---- derived quantities ------------------------------------------------------------------
    @property
    def toll(self) -> np.ndarray:
        """Toll per edge (zeros when the source has none)."""
        return self.extra.get("toll", np.zeros(self.n_edges))

    def generalized_cost(self, travel_time: np.ndarray | None = None) -> np.ndarray:
        """Generalized cost per edge: ``time + toll_weight * toll + distance_weight * length``.

        Parameters
        ----------
        travel_time : array of float, optional
            Edge travel times in the units of ``free_flow_time``; the free-flow times when omitted.
        """
        t = self.free_flow_time if travel_time is None else np.asarray(travel_time, dtype=np.float64)
        return t + self.toll_weight * self.toll + self.distance_weight * self.length

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """A NetworkX ``MultiDiGraph``: nodes keyed by id with ``x``/``y``, edges keyed by edge id.

        Edge data hold ``id``, ``index`` and every edge attribute. Built once, on first use. Use it to
        explore; hot loops belong in the CSR arrays.
        """
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name, units=dict(self.units))
        for i, nid in enumerate(self.node_ids):
            g.add_node(str(nid), index=i, x=float(self.node_x[i]), y=float(self.node_y[i]), zone=i < self.zone_count)
        cols = {a: getattr(self, a) for a in EDGE_ATTRIBUTES} | {k: v for k, v in self.extra.items()
                                                                  if np.ndim(v) == 1 and k != "vclass"}
        classes = names_of(self.extra["vclass"]) if "vclass" in self.extra else None  # the classes an edge admits
        for e in range(self.n_edges):
            data: dict[str, Any] = {k: v[e].item() for k, v in cols.items()}
            if classes is not None:
                data["allow"] = classes[e]
            g.add_edge(str(self.node_ids[self.tail[e]]), str(self.node_ids[self.head[e]]), key=str(self.edge_ids[e]),
                       id=str(self.edge_ids[e]), index=e, **data)
        return g

    def summary(self) -> dict[str, Any]:
        """Sizes and totals for a quick look (``mobility network info``)."""
        return {
            "name": self.name,
            "source": self.source,
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "zones": self.zone_count,
            **({"lane_length_km": float(np.sum(self.length * self.lanes)) / 1000.0} if self.units.get("length") == "m"
               else {"lane_length": float(np.sum(self.length * self.lanes))}),
            "units": dict(self.units),
            "signals": int(self.node_signalised.sum()) if self.node_signalised is not None else 0,
        }

    def successors(self, e: int) -> np.ndarray:
        """Edge indices that may follow edge ``e`` (permitted turns, or every edge leaving its head node)."""
        if self.turn_indptr is not None and self.turn_to is not None:
            return self.turn_to[self.turn_indptr[e]:self.turn_indptr[e + 1]]
        h = self.head[e]
        return np.arange(self.indptr[h], self.indptr[h + 1], dtype=np.int32)

    def __repr__(self) -> str:
        return f"RoadNetwork({self.name!r}, nodes={self.n_nodes}, edges={self.n_edges}, zones={self.zone_count})"


def build_network(
    *,
    name: str,
    source: str,
    node_ids: Sequence[Any],
    tail: Sequence[int] | np.ndarray,
    head: Sequence[int] | np.ndarray,
    edge_ids: Sequence[Any],
    attributes: Mapping[str, Sequence[float] | np.ndarray],
    units: Mapping[str, str],
    node_x: Sequence[float] | np.ndarray | None = None,
    node_y: Sequence[float] | np.ndarray | None = None,
    zone_count: int = 0,
    extra: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
    toll_weight: float = 0.0,
    distance_weight: float = 0.0,
    net_file: Path | None = None,
    edge_shapes: Sequence[np.ndarray] | None = None,
    node_signalised: Sequence[bool] | np.ndarray | None = None,
    turns: Sequence[Sequence[int]] | None = None,
    turn_masks: Sequence[Sequence[int]] | None = None,
) -> RoadNetwork:
    """Assemble a :class:`RoadNetwork` from edge lists in any order (sorted here into CSR order).

    The sort by tail node is stable, so edges leaving one node keep their source order, and
    duplicate edges between the same two nodes are all kept. ``turns[k]`` lists the input positions of
    the edges that may follow input edge ``k``; ``turn_masks[k]`` (optional, beside ``turns``) the vehicle
    classes (:mod:`mobility._vclass` bit masks) that may make each of those turns.
    """
    n = len(node_ids)
    tail_a = np.asarray(tail, dtype=np.int64)
    head_a = np.asarray(head, dtype=np.int64)
    if tail_a.size and (tail_a.min() < 0 or tail_a.max() >= n or head_a.min() < 0 or head_a.max() >= n):
        raise NetworkError(f"{source}: an edge refers to a node index outside 0..{n - 1}")
    order = np.argsort(tail_a, kind="stable")
    counts = np.bincount(tail_a, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])

    def col(values: Sequence[Any] | np.ndarray, dtype: Any = np.float64) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(values, dtype=dtype)[order])

    missing = [a for a in EDGE_ATTRIBUTES if a not in attributes]
    if missing:
        raise NetworkError(f"{source}: missing edge attribute(s) {missing}")
    nan = np.full(n, np.nan)
    turn_indptr = turn_to = turn_vclass = None
    if turns is not None:
        new_pos = np.empty(len(order), dtype=np.int64)
        new_pos[order] = np.arange(len(order))
        sorts = [np.argsort(new_pos[np.asarray(turns[k], dtype=np.int64)], kind="stable") for k in order]
        lists = [new_pos[np.asarray(turns[k], dtype=np.int64)][o] for k, o in zip(order, sorts)]
        turn_indptr = np.zeros(len(order) + 1, dtype=np.int32)
        np.cumsum([len(x) for x in lists], out=turn_indptr[1:])
        turn_to = np.concatenate(lists).astype(np.int32) if lists else np.zeros(0, np.int32)
        if turn_masks is not None:
            mlists = [np.asarray(turn_masks[k], dtype=np.uint64)[o] for k, o in zip(order, sorts)]
            turn_vclass = np.concatenate(mlists).astype(np.uint64) if mlists else np.zeros(0, np.uint64)
    return RoadNetwork(
        name=name,
        source=source,
        node_ids=np.asarray([str(x) for x in node_ids], dtype=object),
        edge_ids=col([str(e) for e in edge_ids], dtype=object),
        indptr=indptr,
        tail=col(tail_a, np.int32),
        head=col(head_a, np.int32),
        **{a: col(attributes[a]) for a in EDGE_ATTRIBUTES},
        node_x=np.asarray(node_x if node_x is not None else nan, dtype=np.float64),
        node_y=np.asarray(node_y if node_y is not None else nan, dtype=np.float64),
        units=dict(units),
        zone_count=int(zone_count),
        extra={k: col(v, np.asarray(v).dtype) for k, v in (extra or {}).items()},
        toll_weight=float(toll_weight),
        distance_weight=float(distance_weight),
        net_file=net_file,
        edge_shapes=tuple(edge_shapes[i] for i in order) if edge_shapes is not None else None,
        node_signalised=np.asarray(node_signalised, dtype=bool) if node_signalised is not None else None,
        turn_indptr=turn_indptr,
        turn_to=turn_to,
        turn_vclass=turn_vclass,
    )


# ---- SUMO networks ---------------------------------------------------------------------------

def _read_sumo_net(path: Path) -> Any:
    import sumolib

    from ._sumoxml import check_network_file

    try:
        check_network_file(path)  # every attribute the toolkit reads, typed, with file:line
    except NetworkError:
        raise
    except InputError as exc:
        raise NetworkError(str(exc)) from None

    try:
        return sumolib.net.readNet(str(path), withPrograms=False, withConnections=True)
    except xml.sax.SAXParseException as exc:
        raise NetworkError(
            f"{path}:{exc.getLineNumber()}:{exc.getColumnNumber()}: not a readable SUMO network "
            f"({exc.getMessage()}); the file is truncated or not XML - rebuild it with netconvert"
        ) from None
    except Exception as exc:  # sumolib raises bare exceptions for semantic problems
        raise NetworkError(f"{path}: sumolib could not read this SUMO network: {exc}") from None


def network_from_sumo(
    path: str | Path,
    *,
    capacity_per_lane_veh_h: float = DEFAULT_CAPACITY_PER_LANE_VEH_H,
) -> RoadNetwork:
    """Read a SUMO ``.net.xml`` network (internal junction edges are left out).

    Parameters
    ----------
    path : path
        The ``.net.xml`` (or ``.net.xml.gz``) file.
    capacity_per_lane_veh_h : float, veh/h/lane
        Saturation flow per lane used for ``capacity`` (SUMO networks carry none).

    Returns
    -------
    RoadNetwork
        Units: length m, free_speed m/s, capacity veh/h, free_flow_time s.
    """
    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "SUMO network", hint="build one with `mobility network build` or netconvert")
    if capacity_per_lane_veh_h <= 0:
        raise InputError(f"capacity_per_lane_veh_h must be positive, got {capacity_per_lane_veh_h}")
    net = _read_sumo_net(path)
    edges = [e for e in net.getEdges(withInternal=False)]
    if not edges:
        raise NetworkError(f"{path}: the network has no edges; check that netconvert produced a non-empty network")
    nodes = sorted({e.getFromNode().getID() for e in edges} | {e.getToNode().getID() for e in edges})
    nidx = {n: i for i, n in enumerate(nodes)}
    undefined = [n for n in nodes if net.getNode(n)._coord is None]  # named by an edge, never defined
    if undefined:
        raise NetworkError(f"{path}: edge(s) name junction(s) {undefined[:3]} that the file never defines; "
                           "rebuild the network with netconvert")
    xy = np.array([net.getNode(n).getCoord()[:2] for n in nodes], dtype=np.float64)
    length = np.array([e.getLength() for e in edges])
    speed = np.array([e.getSpeed() for e in edges])
    lanes = np.array([e.getLaneNumber() for e in edges], dtype=np.float64)
    pos = {e.getID(): k for k, e in enumerate(edges)}
    turns, turn_masks, lane_masks = _permissions(edges, pos)
    return build_network(
        name=path.name.split(".")[0],
        source=str(path),
        node_ids=nodes,
        tail=[nidx[e.getFromNode().getID()] for e in edges],
        head=[nidx[e.getToNode().getID()] for e in edges],
        edge_ids=[e.getID() for e in edges],
        attributes={
            "length": length,
            "free_speed": speed,
            "lanes": lanes,
            "capacity": lanes * capacity_per_lane_veh_h,
            "free_flow_time": length / np.maximum(speed, 1e-9),
        },
        units={"length": "m", "free_speed": "m/s", "lanes": "1", "capacity": "veh/h", "free_flow_time": "s"},
        node_x=xy[:, 0],
        node_y=xy[:, 1],
        extra={"vclass": np.bitwise_or.reduce(lane_masks, axis=1),
               "lane_vclass": lane_masks},
        net_file=path.resolve(),
        edge_shapes=[np.asarray(e.getShape(), dtype=np.float64)[:, :2] for e in edges],
        node_signalised=[net.getNode(n).getType().startswith("traffic_light") for n in nodes],
        turns=turns,
        turn_masks=turn_masks,
    )


def _permissions(edges: list, pos: dict[str, int]) -> tuple[list[list[int]], list[list[int]], np.ndarray]:
    """Turns per edge, the vehicle-class mask of each turn, and the class mask of each lane (lane 0 rightmost)."""
    cache: dict[int, np.uint64] = {}

    def m(obj: Any) -> np.uint64:  # lanes and connections share a handful of permission sets
        perms = obj.getPermissions() if hasattr(obj, "getPermissions") else getattr(obj, "_allowed", None)
        if perms is None:
            return ALL
        key = id(perms)
        if key not in cache:
            cache[key] = mask_of(perms)
        return cache[key]

    width = max(e.getLaneNumber() for e in edges)
    lanes = np.zeros((len(edges), width), dtype=np.uint64)
    turns: list[list[int]] = []
    masks: list[list[int]] = []
    for k, e in enumerate(edges):
        for i, lane in enumerate(e.getLanes()):
            lanes[k, i] = m(lane)
        t_k, m_k = [], []
        for to, conns in e.getOutgoing().items():
            if to.getID() not in pos:
                continue
            mk = np.uint64(0)
            for c in conns:
                mk |= m(c) & m(c.getFromLane()) & m(c.getToLane())
            t_k.append(pos[to.getID()])
            m_k.append(int(mk))
        turns.append(t_k)
        masks.append(m_k)
    return turns, masks, lanes


# ---- generated networks ----------------------------------------------------------------------

def _build_net(tool: str, args: list[str], output: str | Path, *, what: str,
               capacity_per_lane_veh_h: float = DEFAULT_CAPACITY_PER_LANE_VEH_H) -> RoadNetwork:
    """Run netgenerate/netconvert into a temporary file, rename it onto ``output``, read it."""
    out = Path(output)
    with atomic_path(out) as tmp:
        tmp_net = tmp.with_name(tmp.name + ".net.xml")  # SUMO tools insist on the suffix
        try:
            run_tool(tool, [*args, "--no-warnings", "-o", str(tmp_net)], what=what)
            tmp_net.replace(tmp)
        finally:
            tmp_net.unlink(missing_ok=True)
    return network_from_sumo(out, capacity_per_lane_veh_h=capacity_per_lane_veh_h)


def _positive(**values: float) -> None:
    for k, v in values.items():
        if not v > 0:
            raise InputError(f"{k} must be positive, got {v}")


def generate_grid(
    output: str | Path,
    *,
    n: int = 3,
    length_m: float = 200.0,
    attach_length_m: float = 150.0,
    lanes: int = 2,
    speed_m_s: float = 13.89,
    signalised: bool = True,
) -> RoadNetwork:
    """Generate an ``n`` x ``n`` grid with netgenerate and write it to ``output``.

    Every inner junction gets four approaches (``attach_length_m`` stubs at the fringe) and, when
    ``signalised``, a static traffic light; fringe nodes stay unsignalised. Junction ids are netgenerate's
    (``A0``, ``B1``...), fringe nodes ``left0``, ``top2``...

    Parameters
    ----------
    output : path
        The ``.net.xml`` written.
    n : int
        Junctions per side.
    length_m : float, m
        Block length.
    attach_length_m : float, m
        Length of the fringe stubs.
    lanes : int
        Lanes each way.
    speed_m_s : float, m/s
        Speed limit.
    signalised : bool
        A static traffic light at every inner junction.

    Returns
    -------
    RoadNetwork
    """
    _positive(n=n, length_m=length_m, lanes=lanes, speed_m_s=speed_m_s)
    cols = [chr(ord("A") + i) for i in range(n)]
    args = ["--grid", "--grid.number", str(n), "--grid.length", str(length_m),
            "--grid.attach-length", str(attach_length_m), "--no-turnarounds.except-deadend",
            "--default.lanenumber", str(lanes), "--default.speed", str(speed_m_s)]
    if signalised:
        args += ["--tls.set", ",".join(f"{c}{r}" for c in cols for r in range(n)), "--tls.default-type", "static"]
    return _build_net("netgenerate", args, output, what=f"generating a {n}x{n} grid")


def generate_spider(
    output: str | Path,
    *,
    arms: int = 6,
    circles: int = 3,
    space_radius_m: float = 150.0,
    lanes: int = 1,
    speed_m_s: float = 13.89,
    signalised: bool = False,
) -> RoadNetwork:
    """Generate a spider-web network (``arms`` radial roads crossing ``circles`` rings) with netgenerate.

    Parameters
    ----------
    output : path
        The ``.net.xml`` written.
    arms, circles : int
        Radial roads and rings.
    space_radius_m : float, m
        Distance between the rings.
    lanes : int
        Lanes each way.
    speed_m_s : float, m/s
        Speed limit.
    signalised : bool
        Traffic lights (static) at the junctions.

    Returns
    -------
    RoadNetwork
    """
    _positive(arms=arms, circles=circles, space_radius_m=space_radius_m, lanes=lanes, speed_m_s=speed_m_s)
    args = ["--spider", "--spider.arm-number", str(arms), "--spider.circle-number", str(circles),
            "--spider.space-radius", str(space_radius_m),
            "--default.lanenumber", str(lanes), "--default.speed", str(speed_m_s)]
    if signalised:
        args += ["--default-junction-type", "traffic_light", "--tls.default-type", "static"]
    return _build_net("netgenerate", args, output, what="generating a spider network")


def generate_corridor(
    output: str | Path,
    *,
    junctions: int = 5,
    spacing_m: float = 300.0,
    approach_m: float = 250.0,
    side_length_m: float = 200.0,
    main_lanes: int = 2,
    side_lanes: int = 1,
    main_speed_m_s: float = 13.89,
    side_speed_m_s: float = 11.11,
    tls_type: Literal["static", "actuated"] = "static",
) -> RoadNetwork:
    """Generate a signalised arterial corridor with netconvert and write it to ``output``.

    The arterial runs west to east through ``junctions`` signalised junctions ``J1..Jn`` spaced
    ``spacing_m`` apart, with entry/exit stubs ``W``/``E``; each junction has a cross street to
    ``N<i>`` and ``S<i>``. Edge ids read ``<from>_<to>`` (e.g. ``J1_J2``, ``N3_J3``).

    Parameters
    ----------
    output : path
        The ``.net.xml`` written.
    junctions : int
        Signalised junctions along the arterial.
    spacing_m, approach_m, side_length_m : float, m
        Between junctions, of the entry/exit stubs, of the cross streets.
    main_lanes, side_lanes : int
        Lanes each way on the arterial and on the cross streets.
    main_speed_m_s, side_speed_m_s : float, m/s
        Speed limits.
    tls_type : {"static", "actuated"}
        The signals' programs.

    Returns
    -------
    RoadNetwork
    """
    _positive(junctions=junctions, spacing_m=spacing_m, approach_m=approach_m, side_length_m=side_length_m,
              main_lanes=main_lanes, side_lanes=side_lanes, main_speed_m_s=main_speed_m_s, side_speed_m_s=side_speed_m_s)
    nodes = [("W", 0.0, 0.0, "priority")]
    for i in range(1, junctions + 1):
        x = approach_m + (i - 1) * spacing_m
        nodes += [(f"J{i}", x, 0.0, "traffic_light"), (f"N{i}", x, side_length_m, "priority"),
                  (f"S{i}", x, -side_length_m, "priority")]
    nodes.append(("E", approach_m * 2 + (junctions - 1) * spacing_m, 0.0, "priority"))
    main = ["W", *[f"J{i}" for i in range(1, junctions + 1)], "E"]
    edges: list[tuple[str, str, int, float]] = []
    for a, b in zip(main[:-1], main[1:], strict=True):
        edges += [(a, b, main_lanes, main_speed_m_s), (b, a, main_lanes, main_speed_m_s)]
    for i in range(1, junctions + 1):
        for side in (f"N{i}", f"S{i}"):
            edges += [(side, f"J{i}", side_lanes, side_speed_m_s), (f"J{i}", side, side_lanes, side_speed_m_s)]
    nod = "<nodes>\n" + "".join(
        f'  <node id="{n}" x="{x:.2f}" y="{y:.2f}" type="{t}"/>\n' for n, x, y, t in nodes) + "</nodes>\n"
    edg = "<edges>\n" + "".join(
        f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="{k}" speed="{v:.2f}" priority="{3 if k == main_lanes and a[0] in "WJE" and b[0] in "WJE" else 2}"/>\n'
        for a, b, k, v in edges) + "</edges>\n"
    with tempfile.TemporaryDirectory(prefix="mobility-corridor-") as d:
        (Path(d) / "c.nod.xml").write_text(nod)
        (Path(d) / "c.edg.xml").write_text(edg)
        args = ["-n", str(Path(d) / "c.nod.xml"), "-e", str(Path(d) / "c.edg.xml"),
                "--tls.default-type", tls_type, "--no-turnarounds.except-deadend"]
        return _build_net("netconvert", args, output, what="building a signalised corridor")
