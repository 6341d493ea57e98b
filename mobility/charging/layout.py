"""Charging layouts: which candidate sites get stations and how many charging points each.

A :class:`ChargingLayout` writes SUMO additionals (a kerbside ``parkingArea`` with one space per charging
point, and a ``chargingStation`` on it) and JSON. Layouts come from a file, from the OR-Tools models
(:func:`optimal_layout`) or from the baselines (:func:`greedy_layout`, :func:`random_layout`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from pydantic import Field

from .._errors import InputError
from .._spec import Spec
from ..seeds import rng as sub_rng
from .._io import write_text_atomic
from .spec import CandidateSite, DemandPoint

__all__ = ["ChargingLayout", "CheapSitesWarning", "Station", "access_costs", "allocate_points", "greedy_layout", "layout_from_spec",
           "load_layout", "optimal_layout", "random_layout"]

#: Kerbside length of one charging space, m.
SPACE_M = 6.5


@dataclass(frozen=True)
class Station:
    """A charging station at a candidate site."""

    site: str
    edge: str
    pos_m: float
    points: int
    power_kw: float

    @property
    def parking_id(self) -> str:
        return f"pa_{self.site}"


@dataclass(frozen=True)
class ChargingLayout:
    """Stations with their charging points, and how the layout was made.

    Attributes
    ----------
    name : str
    stations : tuple of Station
    method : str
        ``file``, ``pmedian``, ``cover``, ``capacitated``, ``greedy`` or ``random``.
    report : dict
        The solver's status, objective, bound and gap (or the baseline's seed).
    """

    name: str
    stations: tuple[Station, ...]
    method: str = "file"
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return sum(s.points for s in self.stations)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "method": self.method, "report": self.report,
                "stations": [asdict(s) for s in self.stations]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChargingLayout:
        """The layout of :meth:`to_dict`."""
        return cls(str(data["name"]), tuple(Station(**st) for st in data["stations"]), str(data.get("method", "file")),
                   dict(data.get("report") or {}))

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            write_text_atomic(path, text + "\n")
        return text

    def to_additional(self, network, efficiency: float = 0.95) -> str:
        """SUMO additional XML: per station a kerbside parkingArea (one space per point) and its
        chargingStation. Stations are centred on their site, clipped to the rightmost lane."""
        from ..access import lane_index

        lanes = lane_index(network, "passenger")
        rows = ["<additional>"]
        for s in self.stations:
            e = network.edge_index.get(s.edge)
            if e is None:
                raise InputError(f"layout {self.name!r}: station {s.site!r} names edge {s.edge!r}, not in {network.name}")
            length = float(network.length[e])
            span = min(max(SPACE_M * s.points, 15.0), length - 2.0)
            start = min(max(s.pos_m - span / 2, 1.0), length - 1.0 - span)
            lane = f"{s.edge}_{max(int(lanes[e]), 0)}"
            rows.append(f'  <parkingArea id={quoteattr(s.parking_id)} lane={quoteattr(lane)} startPos="{start:.2f}" '
                        f'endPos="{start + span:.2f}" roadsideCapacity="{s.points}" friendlyPos="true"/>')
            rows.append(f'  <chargingStation id={quoteattr(s.site)} lane={quoteattr(lane)} startPos="{start:.2f}" '
                        f'endPos="{start + span:.2f}" power="{s.power_kw * 1000:g}" efficiency="{efficiency:g}" '
                        f'parkingArea={quoteattr(s.parking_id)} friendlyPos="true"/>')
        rows.append("</additional>")
        return "\n".join(rows) + "\n"


class _StationRow(Spec):
    """A station of a layout file."""

    site: str = Field(min_length=1)
    points: int = Field(ge=1, le=1000, description="charging points")
    edge: str | None = None
    pos_m: float | None = Field(None, ge=0, description="position along the edge, m")
    power_kw: float | None = Field(None, gt=0, le=2000, description="power of each point, kW")


class _LayoutFile(Spec):
    """A layout file: a name, the stations, and how it was made."""

    name: str | None = Field(None, min_length=1)
    method: str = "file"
    report: dict[str, Any] = Field(default_factory=dict, description="the solver's status, objective, bound, gap")
    stations: list[_StationRow] = Field(min_length=1)


def load_layout(path: str | Path, sites: list[CandidateSite] | None = None) -> ChargingLayout:
    """Read a layout file (YAML or JSON): ``name`` and ``stations``, each with ``site`` (a candidate id)
    and ``points`` (edge, pos_m and power_kw default to the candidate's).

    Parameters
    ----------
    path : path
        The YAML or JSON file.
    sites : list of CandidateSite, optional
        The study's candidate sites; a station names one, or gives edge, pos_m and power_kw itself.

    Returns
    -------
    ChargingLayout

    Raises
    ------
    InputError
        ``file:line: field 'stations.0.points': problem; fix`` for every problem of the file at once, and
        for sites that are no candidate, points above the site's maximum, a site named twice.
    """
    from .._spec import read_spec

    p = Path(path)
    spec, _, _ = read_spec(p, _LayoutFile, what="layout file", hint="'name' and a list 'stations'")
    by_id = {s.id: s for s in sites or []}
    stations = []
    for i, row in enumerate(spec.stations):
        where = f"{p}: field 'stations.{i}'"
        cand = by_id.get(row.site)
        if cand is None and (row.edge is None or row.pos_m is None or row.power_kw is None):
            close = sorted(by_id)[:5]
            raise InputError(f"{where}: site {row.site!r} is not a candidate site (e.g. {close}); "
                             "name a candidate or give edge, pos_m and power_kw")
        st = Station(row.site, row.edge if row.edge is not None else cand.edge,  # type: ignore[union-attr]
                     row.pos_m if row.pos_m is not None else cand.pos_m, row.points,  # type: ignore[union-attr]
                     row.power_kw if row.power_kw is not None else cand.power_kw)  # type: ignore[union-attr]
        if cand is not None and row.points > cand.max_points:
            raise InputError(f"{where}: points must be between 1 and the site's max_points ({cand.max_points}), "
                             f"got {row.points}")
        stations.append(st)
    if len({s.site for s in stations}) != len(stations):
        raise InputError(f"{p}: a site appears twice in 'stations'")
    return ChargingLayout(spec.name or p.stem, tuple(stations), spec.method, dict(spec.report))


def access_costs(network, points: list[DemandPoint], sites: list[CandidateSite]) -> np.ndarray:
    """Driving distance (m) from each demand point (the end of its edge) to each site, on the shortest
    paths over the streets cars may use (numba kernels, one tree per distinct demand node). A site no path
    reaches costs ten times the longest distance that exists, so the models stay finite and never choose it
    for that point while another is reachable.

    Parameters
    ----------
    network : RoadNetwork
        The study's street network.
    points : list of DemandPoint
        Where charging demand arises, with its weight (charging events per hour).
    sites : list of CandidateSite
        Candidate kerbside sites.

    Returns
    -------
    array (demand points, sites)
        Driving distance, m.
    """
    from .._paths import costs_from

    ei = network.edge_index
    heads = np.array([network.head[ei[p.edge]] for p in points], dtype=np.int32)
    uniq, inv = np.unique(heads, return_inverse=True)
    dist = costs_from(network, uniq)
    finite = dist[np.isfinite(dist)]
    dist = np.where(np.isfinite(dist), dist, 10.0 * (float(finite.max()) if finite.size else 1.0) + 1.0)
    tails = np.array([network.tail[ei[s.edge]] for s in sites])
    pos = np.array([s.pos_m for s in sites])
    cost = dist[inv][:, tails] + pos[None, :]
    same = np.array([[p.edge == s.edge for s in sites] for p in points])
    return np.where(same, pos[None, :], cost)  # a site on the demand point's own edge: drive back to it


def allocate_points(total: int, shares: np.ndarray, max_points: np.ndarray) -> np.ndarray:
    """Split ``total`` points over stations in proportion to ``shares`` (largest remainder), at least one
    and at most ``max_points`` each.

    Parameters
    ----------
    total : int
        Charging points to place.
    shares : array (stations,)
        Demand each station serves (any non-negative weights; all zero splits evenly).
    max_points : array (stations,)
        Most points each station may hold.

    Returns
    -------
    array of int (stations,)
        Points per station, summing to ``total``.
    """
    k = len(shares)
    if total < k:
        raise InputError(f"{total} charging points cannot equip {k} stations; give at least one point per station")
    if total > int(np.sum(max_points)):
        raise InputError(f"{total} charging points do not fit the chosen sites (at most {int(np.sum(max_points))})")
    pts = np.ones(k, dtype=np.int64)
    s = np.asarray(shares, dtype=float)
    s = s / s.sum() if s.sum() > 0 else np.full(k, 1.0 / k)
    while pts.sum() < total:
        want = s * total - pts
        want[pts >= max_points] = -np.inf
        pts[int(np.argmax(want))] += 1
    return pts


def _stations(sites: list[CandidateSite], chosen: list[int], pts: np.ndarray) -> tuple[Station, ...]:
    return tuple(Station(sites[j].id, sites[j].edge, sites[j].pos_m, int(n), sites[j].power_kw)
                 for j, n in zip(chosen, pts, strict=True))


def _by_demand(cost: np.ndarray, w: np.ndarray, chosen: list[int]) -> np.ndarray:
    near = np.argmin(cost[:, chosen], axis=1)
    return np.bincount(near, weights=w, minlength=len(chosen))


def optimal_layout(method: str, network, points: list[DemandPoint], sites: list[CandidateSite], *,
                   total_points: int, p: int | None = None, radius_m: float | None = None,
                   point_capacity: float | None = None, time_limit_s: float | None = 60.0,
                   name: str | None = None, max_open: int | None = None) -> ChargingLayout:
    """An OR-Tools layout.

    - ``pmedian``: ``p`` stations minimising the demand-weighted access distance;
    - ``cover``: ``p`` stations covering the most demand within ``radius_m``;
    - ``capacitated``: sites with fixed costs (the sites' ``cost``) and capacities (``max_points`` x
      ``point_capacity`` demand units), demand split between them, minimising fixed cost + weighted distance.
      Both terms are in charging events/h x metres: a site's ``cost`` is the access it must save to be worth
      opening (a :class:`CheapSitesWarning` says when negligible costs open nearly every site).

    ``total_points`` are then split over the stations by the demand each serves.

    Parameters
    ----------
    method : ``"pmedian"``, ``"cover"`` or ``"capacitated"``
        The location model.
    network : RoadNetwork
        The study's street network.
    points : list of DemandPoint
        Where charging demand arises, with its weight (charging events per hour).
    sites : list of CandidateSite
        Candidate kerbside sites.
    total_points : int
        Charging points to place.
    p : int, optional
        Stations to open (``pmedian`` and ``cover``).
    radius_m : float, optional
        Covering distance, m (``cover``).
    point_capacity : float, optional
        Demand one charging point serves (``capacitated``; default the total demand over ``total_points``).
    time_limit_s : float, optional
        Solver time limit, s; past it the best layout found is used and the report says FEASIBLE with its gap.
    name : str, optional
        The layout's name (default ``<method>_p<stations>``).
    max_open : int, optional
        At most this many stations (``capacitated``; the layout word's ``p=N``): a budget of stations.

    Returns
    -------
    ChargingLayout
        Stations and points, with the solver's status, objective, bound and gap in ``report``.
    """
    import optimise

    cost = access_costs(network, points, sites)
    w = np.array([d.weight for d in points])
    mx = np.array([s.max_points for s in sites])
    if method in ("pmedian", "cover"):
        p = p if p is not None else max(1, total_points // 2)
        if method == "pmedian":
            res = optimise.p_median(cost, p, weights=w, time_limit_s=time_limit_s)
        else:
            if radius_m is None:
                raise InputError("the cover layout needs radius_m (e.g. optimal:cover:p=8,radius_m=400)")
            res = optimise.maximal_covering(cost, p, radius_m, weights=w, time_limit_s=time_limit_s)
        chosen = list(res.sites)
    elif method == "capacitated":
        per_point = point_capacity if point_capacity is not None else w.sum() / total_points
        cap = mx * per_point
        try:
            res = optimise.capacitated_facility_location((cost * w[:, None]).T, w, cap,
                                                         np.array([s.cost for s in sites]), time_limit_s=time_limit_s,
                                                         max_open=max_open)
        except ValueError as exc:
            raise InputError(f"capacitated layout: {exc}") from None
        chosen = list(res.sites)
        served = res.assignment.T @ w
        need = np.maximum(1, np.ceil(served[chosen] / per_point - 1e-9)).astype(int)
        total_points = max(total_points, int(need.sum()))
        if max_open is None:  # with a budget of stations, cheap sites are what the budget is for
            _warn_cheap_sites(res.objective, np.array([s.cost for s in sites]), chosen)
    else:
        raise InputError(f"unknown layout method {method!r}; use pmedian, cover or capacitated")
    pts = allocate_points(total_points, _by_demand(cost, w, chosen), mx[chosen])
    report = {"status": res.status, "objective": res.objective, "bound": res.bound, "gap": res.gap,
              "solve_time_s": res.solve_time_s, "p": len(chosen)}
    return ChargingLayout(name or f"{method}_p{len(chosen)}", _stations(sites, chosen, pts), method, report)


def _warn_cheap_sites(objective: float, fixed: np.ndarray, chosen: list[int]) -> None:
    """Warn when the sites' fixed costs barely count in the capacitated model's objective.

    The two terms share one unit, charging events/h x metres: a site cost of 1 (the default) weighs as much as one
    event an hour driving 1 m further, so the layout opens every site that shortens anyone's drive. Planners meaning
    money need the site's cost in that unit (what one event an hour driving a kilometre further is worth, per km,
    against the site's price).
    """
    opened = float(fixed[chosen].sum())
    access = objective - opened
    if len(chosen) < 2 or access <= 0 or opened >= 0.01 * access:
        return
    import warnings

    warnings.warn(
        f"the capacitated layout opened {len(chosen)} of {len(fixed)} candidate sites, and their fixed costs are "
        f"{100 * opened / access:.2g}% of the access cost they are weighed against (charging events/h x metres: "
        f"{access:,.0f}); they barely count. Give the sites' cost in that unit (the access a site must save to be "
        "worth opening) in the study's candidates or sites table, or use optimal:pmedian with p stations",
        CheapSitesWarning, stacklevel=3)


class CheapSitesWarning(UserWarning):
    """A capacitated layout opened most candidate sites because their fixed cost is negligible."""


def greedy_layout(network, points: list[DemandPoint], sites: list[CandidateSite], *, total_points: int,
                  p: int, name: str | None = None) -> ChargingLayout:
    """Greedy p-median baseline, points split by demand served.

    Parameters
    ----------
    network : RoadNetwork
        The study's street network.
    points : list of DemandPoint
        Where charging demand arises, with its weight (charging events per hour).
    sites : list of CandidateSite
        Candidate kerbside sites.
    total_points : int
        Charging points to place.
    p : int
        Stations to open.
    name : str, optional
        The layout's name (default ``greedy_p<p>``).

    Returns
    -------
    ChargingLayout
    """
    import optimise

    cost = access_costs(network, points, sites)
    w = np.array([d.weight for d in points])
    res = optimise.greedy_p_median(cost, p, weights=w)
    chosen = list(res.sites)
    pts = allocate_points(total_points, _by_demand(cost, w, chosen), np.array([sites[j].max_points for j in chosen]))
    return ChargingLayout(name or f"greedy_p{p}", _stations(sites, chosen, pts), "greedy",
                          {"status": res.status, "objective": res.objective})


def random_layout(sites: list[CandidateSite], *, total_points: int, p: int, seed: int,
                  name: str | None = None) -> ChargingLayout:
    """Baseline in the manner of SUMO's ``distributeChargingStations.py``: ``p`` candidate kerbside sites drawn
    at random (seeded), the points spread evenly over them.

    Parameters
    ----------
    sites : list of CandidateSite
        Candidate kerbside sites.
    total_points : int
        Charging points to place.
    p : int
        Stations to open.
    seed : int
        Seed of the draw.
    name : str, optional
        The layout's name (default ``random_p<p>_s<seed>``).

    Returns
    -------
    ChargingLayout
    """
    if not 1 <= p <= len(sites):
        raise InputError(f"p must be between 1 and the number of candidate sites ({len(sites)}), got {p}")
    rng = sub_rng(seed, "charging", "random layout")
    chosen = sorted(int(j) for j in rng.choice(len(sites), size=p, replace=False))
    pts = allocate_points(total_points, np.ones(p), np.array([sites[j].max_points for j in chosen]))
    return ChargingLayout(name or f"random_p{p}_s{seed}", _stations(sites, chosen, pts), "random",
                          {"seed": seed})


def layout_from_spec(text: str, network, points: list[DemandPoint], sites: list[CandidateSite], *,
                     total_points: int) -> ChargingLayout:
    """A layout from a command-line word: a file path, ``optimal:<method>[:k=v,...]``,
    ``greedy[:p=N]`` or ``random[:p=N,seed=S]`` (``points=N`` overrides the total points).

    Parameters
    ----------
    text : str
        The word.
    network : RoadNetwork
    points : list of DemandPoint
        The study's charging demand.
    sites : list of CandidateSite
    total_points : int
        Charging points to place (unless the word says ``points=N``).

    Returns
    -------
    ChargingLayout
    """
    head, _, rest = text.partition(":")
    if head not in ("optimal", "greedy", "random"):
        return load_layout(text, sites)
    method, kw = (rest.partition(":")[0], rest.partition(":")[2]) if head == "optimal" else (head, rest)
    opts: dict[str, float] = {}
    for item in filter(None, kw.split(",")):
        k, eq, v = item.partition("=")
        if not eq:
            raise InputError(f"layout {text!r}: option {item!r} is not key=value (e.g. optimal:pmedian:p=8)")
        try:
            opts[k.strip()] = float(v)
        except ValueError:
            raise InputError(f"layout {text!r}: option {k!r} needs a number, got {v!r}") from None
    known = {"p", "points", "radius_m", "point_capacity", "seed", "time_limit_s"}
    bad = set(opts) - known
    if bad:
        raise InputError(f"layout {text!r}: unknown option(s) {sorted(bad)}; known: {sorted(known)}")
    total = int(opts.pop("points", total_points))
    p = int(opts["p"]) if "p" in opts else max(1, min(total // 2, len(sites)))  # p=N given: checked below
    if not 1 <= p <= len(sites):
        raise InputError(f"layout {text!r}: p={p} stations, but the study has {len(sites)} candidate site(s); give "
                         "p=N with N at most that, or more candidates (lower candidates.min_length_m)")
    if total < p:
        raise InputError(f"layout {text!r}: {total} charging points cannot fill p={p} stations; give points >= p")
    if head == "optimal":
        return optimal_layout(method, network, points, sites, total_points=total, p=p, radius_m=opts.get("radius_m"),
                              point_capacity=opts.get("point_capacity"),
                              time_limit_s=opts.get("time_limit_s", 60.0),
                              max_open=p if method == "capacitated" and "p" in opts else None)
    if head == "greedy":
        return greedy_layout(network, points, sites, total_points=total, p=p)
    return random_layout(sites, total_points=total, p=p, seed=int(opts.get("seed", 1)))
