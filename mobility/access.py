"""Who may use which road: SUMO's vehicle classes on a network's lanes and turns.

A city's network carries bus lanes, bike paths, footways, tram tracks and one-way dead ends. Demand and
every application draw places only where the vehicle's class may drive, and only between places that class
can reach. SUMO networks record permissions per lane (``allow``/``disallow``) and per connection; the reader
(:func:`mobility.network.network_from_sumo`) keeps them as bit masks, one bit per class of :data:`VCLASSES`:
``extra["lane_vclass"]`` (edges x lanes, lane 0 the rightmost), ``extra["vclass"]`` (the union over an edge's
lanes) and ``RoadNetwork.turn_vclass`` (per permitted turn: the classes with a connection from a lane they
may use to a lane they may use). Networks with no permissions (TNTP, generated arrays) allow every class.

Reachability is by turns, not nodes: origins for a class are the edges from which its largest strongly
connected set of edges can be reached, destinations the edges that can be reached from it; any origin then
has a route to any destination (through that set).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
import weakref
from typing import TYPE_CHECKING

import numpy as np


if TYPE_CHECKING:
    from .network import RoadNetwork

__all__ = ["VCLASSES", "Reach", "allowed", "check_place", "check_route", "check_route_files", "check_trip", "lane_index",
           "mask_of", "reach", "turn_graph"]

from ._vclass import _BIT, VCLASSES, _bit, mask_of


def allowed(network: RoadNetwork, vclass: str = "passenger") -> np.ndarray:
    """Boolean per edge: some lane of the edge admits ``vclass``.

    Parameters
    ----------
    network : RoadNetwork
        The network, with its lanes' permissions.
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    array of bool (edges,)
    """
    m = network.extra.get("vclass")
    if m is None:
        return np.ones(network.n_edges, dtype=bool)
    return (np.asarray(m, dtype=np.uint64) & _bit(vclass)) != 0


def lane_index(network: RoadNetwork, vclass: str = "passenger") -> np.ndarray:
    """Per edge, the rightmost lane that admits ``vclass`` (SUMO lane index), or -1 where none does.

    Parameters
    ----------
    network : RoadNetwork
        The network, with its lanes' permissions.
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    array of int (edges,)
    """
    lanes = network.extra.get("lane_vclass")
    if lanes is None:
        return np.where(allowed(network, vclass), 0, -1)
    ok = (np.asarray(lanes, dtype=np.uint64) & _bit(vclass)) != 0
    return np.where(ok.any(axis=1), ok.argmax(axis=1), -1)


def turn_graph(network: RoadNetwork, vclass: str = "passenger"):
    """The edge-to-edge graph of ``vclass`` as a scipy CSR matrix (E x E): turns it may make between edges it
    may use.

    Parameters
    ----------
    network : RoadNetwork
        The network, with its turns and their permissions.
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    scipy.sparse.csr_matrix of int8, shape (edges, edges)
        1 where the class may turn from the row's edge into the column's.
    """
    import scipy.sparse as sp

    E = network.n_edges
    if network.turn_indptr is not None and network.turn_to is not None:
        indptr, to = np.asarray(network.turn_indptr), np.asarray(network.turn_to)
        src = np.repeat(np.arange(E), np.diff(indptr))
        keep = np.ones(to.size, dtype=bool)
        tm = network.turn_vclass
        if tm is not None:
            keep &= (np.asarray(tm, dtype=np.uint64) & _bit(vclass)) != 0
    else:  # every edge leaving the head node may follow
        counts = np.diff(network.indptr)[network.head]
        src = np.repeat(np.arange(E), counts)
        to = np.concatenate([np.arange(network.indptr[h], network.indptr[h + 1]) for h in network.head]) \
            if E else np.zeros(0, np.int64)
        keep = np.ones(to.size, dtype=bool)
    ok = allowed(network, vclass)
    keep &= ok[src] & ok[to]
    return sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (src[keep], to[keep])), shape=(E, E))


class Reach:
    """Where one vehicle class can go on a network.

    Attributes
    ----------
    vclass : str
    allowed : bool per edge, some lane admits the class
    core : bool per edge, the largest strongly connected set of the class's edges
    origins : bool per edge, edges from which ``core`` can be reached (``core`` included)
    destinations : bool per edge, edges reachable from ``core`` (``core`` included)
    graph : scipy CSR matrix (E x E), the class's turn graph (:func:`turn_graph`)
    """

    def __init__(self, network: RoadNetwork, vclass: str) -> None:
        from scipy.sparse.csgraph import breadth_first_order, connected_components

        self.vclass = vclass
        self.allowed = allowed(network, vclass)
        E = network.n_edges
        g = turn_graph(network, vclass)
        self.graph = g
        self._from: dict[int, np.ndarray] = {}
        core = np.zeros(E, dtype=bool)
        origins = np.zeros(E, dtype=bool)
        dests = np.zeros(E, dtype=bool)
        if self.allowed.any():
            _, labels = connected_components(g, directed=True, connection="strong")
            sizes = np.bincount(labels[self.allowed], minlength=labels.max() + 1)
            core = (labels == int(np.argmax(sizes))) & self.allowed
            # one super-source joined to the core both ways: breadth-first search forwards and backwards from it
            import scipy.sparse as sp

            k = np.flatnonzero(core)
            link = sp.csr_matrix((np.ones(k.size, dtype=np.int8), (np.zeros(k.size, dtype=np.int64), k)), shape=(1, E))
            z1, zE = sp.csr_matrix((1, 1), dtype=np.int8), sp.csr_matrix((E, 1), dtype=np.int8)
            fwd = sp.bmat([[z1, link], [zE, g]], format="csr")
            bwd = sp.bmat([[z1, link], [zE, g.T.tocsr()]], format="csr")
            dests[breadth_first_order(fwd, 0, directed=True, return_predecessors=False)[1:] - 1] = True
            origins[breadth_first_order(bwd, 0, directed=True, return_predecessors=False)[1:] - 1] = True
        self.core, self.origins, self.destinations = core, origins, dests

    def summary(self) -> str:
        n = self.allowed.size
        return (f"{self.vclass}: {int(self.allowed.sum())} of {n} edges admit it; {int(self.core.sum())} strongly "
                f"connected, {int(self.origins.sum())} usable as origins, {int(self.destinations.sum())} as destinations")

    def reachable_from(self, edge: int) -> np.ndarray:
        """Boolean per edge: reachable from ``edge`` by this class's turns (``edge`` included; kept per edge)."""
        from scipy.sparse.csgraph import breadth_first_order

        edge = int(edge)
        if edge not in self._from:
            out = np.zeros(self.allowed.size, dtype=bool)
            if self.allowed[edge]:
                out[breadth_first_order(self.graph, edge, directed=True, return_predecessors=False)] = True
            self._from[edge] = out
        return self._from[edge]

    def joins(self, origin: int, destination: int) -> bool:
        """Whether the class can drive from edge ``origin`` to edge ``destination``."""
        if self.origins[origin] and self.destinations[destination]:  # through the strongly connected core
            return True
        return bool(self.reachable_from(origin)[destination])


_REACH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reach(network: RoadNetwork, vclass: str = "passenger") -> Reach:
    """The :class:`Reach` of ``vclass`` on ``network`` (computed once per network object and class).

    Parameters
    ----------
    network : RoadNetwork
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    Reach
    """
    _bit(vclass)
    per = _REACH.setdefault(network, {})
    if vclass not in per:
        per[vclass] = Reach(network, vclass)
    return per[vclass]


def check_route(network: RoadNetwork, edges: Iterable[str], vclass: str = "passenger") -> str | None:
    """Why ``vclass`` cannot drive the route ``edges`` (a sentence), or ``None`` when it can.

    Parameters
    ----------
    network : RoadNetwork
    edges : iterable of str
        Edge ids in driving order.
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    str or None
        The reason (unknown edge, an edge no lane of which admits the class, a turn it may not make), or None.
    """
    ei = network.edge_index
    r = reach(network, vclass)
    ok, g = r.allowed, r.graph
    prev = -1
    for k, eid in enumerate(edges):
        e = ei.get(eid)
        if e is None:
            return f"unknown edge {eid!r} (position {k + 1}; not in the network {network.name})"
        if not ok[e]:
            return f"edge {eid!r} (position {k + 1}) admits no {vclass} (no lane allows it)"
        if prev >= 0 and not g[prev, e]:
            return f"{vclass} cannot turn from edge {network.edge_ids[prev]!r} into {eid!r} (position {k + 1})"
        prev = e
    if prev < 0:
        return "the route has no edges"
    return None


def check_place(network: RoadNetwork, edge: str, vclass: str = "passenger", *, connected: bool = True) -> str | None:
    """Why ``vclass`` cannot stop on ``edge`` (a sentence), or ``None`` when it can: the edge must have a lane
    that admits the class and, when ``connected``, lie in the class's largest strongly connected set of edges
    (so that every vehicle can reach it and drive on).

    Parameters
    ----------
    network : RoadNetwork
        The network.
    edge : str
        Edge id.
    vclass : str
        SUMO vehicle class.
    connected : bool
        Also require the edge to be reachable and leavable.

    Returns
    -------
    str or None
        The reason, or None.
    """
    e = network.edge_index.get(edge)
    if e is None:
        return f"unknown edge {edge!r} (not in the network {network.name})"
    r = reach(network, vclass)
    if not r.allowed[e]:
        return f"edge {edge!r} admits no {vclass} (no lane allows it); choose a street {vclass} vehicles may use"
    if connected and not r.core[e]:
        return (f"edge {edge!r} cannot be both reached and left by {vclass} vehicles (it lies outside the "
                f"{int(r.core.sum())} edges they can drive between in every direction); choose another edge")
    return None


def check_trip(network: RoadNetwork, origin: str, destination: str, vclass: str = "passenger") -> str | None:
    """Why ``vclass`` cannot drive from edge ``origin`` to edge ``destination``, or ``None`` when it can.

    Parameters
    ----------
    network : RoadNetwork
    origin, destination : str
        Edge ids.
    vclass : str
        SUMO vehicle class.

    Returns
    -------
    str or None
        The reason, or None.
    """
    ei = network.edge_index
    for what, eid in (("origin", origin), ("destination", destination)):
        if eid not in ei:
            return f"unknown {what} edge {eid!r} (not in the network {network.name})"
    r = reach(network, vclass)
    o, d = ei[origin], ei[destination]
    if not r.allowed[o]:
        return f"origin edge {origin!r} admits no {vclass} (no lane allows it)"
    if not r.allowed[d]:
        return f"destination edge {destination!r} admits no {vclass} (no lane allows it)"
    if not r.joins(o, d):
        return f"{vclass} cannot drive from {origin!r} to {destination!r} (no route by the turns it may make)"
    return None


def check_route_files(network: RoadNetwork, files: Iterable[str | Path]) -> None:
    """Check that every vehicle, trip and flow of SUMO route files can drive its route with its type's vehicle
    class; raise :class:`DemandError` naming the file, line and first vehicle that cannot (before SUMO starts,
    which would otherwise stop mid-run with "has no valid route"). Types defined outside these files are not
    known here and their vehicles are not checked; trips between zones or junctions are left to SUMO.

    Parameters
    ----------
    network : RoadNetwork
    files : iterable of str or Path
        SUMO route files.
    """
    from ._errors import DemandError, InputError
    from ._sumoxml import walk

    types: dict[str, str] = {"DEFAULT_VEHTYPE": "passenger"}
    routes: dict[str, list[str]] = {}
    for f in files:
        f = Path(f)
        stack: list[tuple[str, dict[str, str], int]] = []
        dist: list[tuple[str, set[str | None]]] = []

        def fail(kind: str, a: dict[str, str], line: int, why: str) -> None:
            raise DemandError(f"{f}:{line}: {kind} {a.get('id', '?')!r}: {why}; fix the route or the vehicle's type "
                              "(vClass), or draw the demand with the toolkit (demand kind: random or od)")

        def vehicle_class(a: dict[str, str]) -> str | None:
            return types.get(a.get("type", "DEFAULT_VEHTYPE"))

        def check(kind: str, a: dict[str, str], line: int, edges: list[str] | None) -> None:
            vc = vehicle_class(a)
            if vc is None or vc not in _BIT:
                return
            if edges is not None:
                why = check_route(network, edges, vc)
            elif "from" in a and "to" in a:
                why = check_trip(network, a["from"], a["to"], vc)
            else:
                return
            if why is not None:
                fail(kind, a, line, why)

        def start(name: str, a: dict[str, str], line: int) -> None:
            if name == "vType":
                types[a.get("id", "")] = a.get("vClass", "passenger")
                if dist:
                    dist[-1][1].add(a.get("vClass", "passenger"))
            elif name == "vTypeDistribution":
                dist.append((a.get("id", ""), {types.get(m) for m in a.get("vTypes", "").split()}))
            elif name == "route" and stack and stack[-1][0] in ("vehicle", "flow"):
                kind, va, vline = stack[-1]
                check(kind, va, vline, a.get("edges", "").split())
                stack[-1] = (kind, {**va, "_checked": "1"}, vline)
            elif name == "route":
                routes[a.get("id", "")] = a.get("edges", "").split()
            if name in ("vehicle", "trip", "flow"):
                stack.append((name, dict(a), line))

        def end(name: str) -> None:
            if name == "vTypeDistribution" and dist:
                did, classes = dist.pop()
                if len(classes) == 1 and None not in classes:  # a mix of one class is checked as that class
                    types[did] = str(next(iter(classes)))
            if name in ("vehicle", "trip", "flow") and stack:
                kind, a, line = stack.pop()
                if "_checked" in a:
                    return
                rid = a.get("route")
                if rid is not None:
                    if rid in routes:
                        check(kind, a, line, routes[rid])
                elif "from" in a and "to" in a and not a.get("via"):
                    check(kind, a, line, None)

        try:
            walk(f, kind="routes", what="SUMO route file", start=start, end=end)
        except DemandError:
            raise
        except InputError as exc:
            raise DemandError(str(exc)) from None
