"""Toll plaza networks and their demand, generated from a few parameters.

Geometry (driving in +x): an ``approach`` edge, a ``decision`` edge with one lane per booth (the road
widens; drivers pick a booth as they enter it, the booths in view), a fan-out from each decision lane into
its booth's single-lane edge (``fan_<k>``), the booth edges (``booth_<k>``, the service point at their end), a merge
(``merge_<k>``) into the ``departure`` edge. Booth 0 is the rightmost.

Booth types: ``etc`` (tagged vehicles only, passed at ``etc_speed_m_s``), ``mtc`` (manual payment:
every vehicle stops for a service time drawn from ``mtc_service``), ``mixed`` (tagged vehicles pass at
the ETC speed, untagged ones stop to pay). Tagged vehicles have SUMO vClass ``custom1`` and untagged
ones ``passenger``; an ETC booth's lane allows ``custom1`` only, so SUMO itself keeps untagged
vehicles out of it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from .._errors import InputError
from ..seeds import rng as sub_rng
from .._spec import Spec

__all__ = ["BoothType", "DemandPeriod", "PlazaSpec", "ServiceTime", "build_plaza", "load_plaza", "plaza_demand"]

BoothType = Literal["etc", "mtc", "mixed"]
TAGGED, UNTAGGED = "etc_car", "cash_car"


_Spec = Spec


class ServiceTime(_Spec):
    """Manual payment time at a booth: a distribution by its mean and coefficient of variation."""

    kind: Literal["lognormal", "gamma", "exponential", "deterministic"] = "gamma"
    mean_s: float = Field(4.0, gt=0)
    cv: float = Field(0.5, ge=0, description="standard deviation / mean (1 for exponential, 0 for deterministic)")

    @model_validator(mode="after")
    def _cv(self) -> ServiceTime:
        if self.kind == "exponential" and abs(self.cv - 1.0) > 1e-9:
            raise ValueError("exponential service has cv 1; use gamma or lognormal for another cv")
        if self.kind == "deterministic" and self.cv != 0:
            raise ValueError("deterministic service has cv 0")
        if self.kind in ("lognormal", "gamma") and self.cv <= 0:
            raise ValueError(f"{self.kind} service needs cv > 0 (use deterministic for cv 0)")
        return self

    @property
    def second_moment(self) -> float:
        """E[S^2] = mean^2 (1 + cv^2), s^2."""
        return self.mean_s**2 * (1.0 + self.cv**2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        m, cv = self.mean_s, self.cv
        if self.kind == "deterministic":
            return np.full(n, m)
        if self.kind == "exponential":
            return rng.exponential(m, n)
        if self.kind == "gamma":
            k = 1.0 / cv**2
            return rng.gamma(k, m / k, n)
        s2 = math.log(1.0 + cv**2)
        return rng.lognormal(math.log(m) - s2 / 2.0, math.sqrt(s2), n)


class DemandPeriod(_Spec):
    """Arrivals at the plaza: Poisson at ``flow_veh_h`` from ``begin_s`` to ``end_s``."""

    ordered_fields = (("begin_s", "end_s"),)

    begin_s: float = Field(ge=0)
    end_s: float
    flow_veh_h: float = Field(ge=0)
    etc_penetration: float | None = Field(None, ge=0, le=1, description="this period's tag share (default: the plaza's)")


class PlazaSpec(_Spec):
    """A toll plaza: geometry, booths, payment behaviour and demand."""

    name: str = Field("plaza", pattern=r"^[A-Za-z0-9_.\-]+$")
    booths: tuple[BoothType, ...] = Field(min_length=1, max_length=40, description="booth types, rightmost first")
    approach_lanes: int = Field(3, ge=1, le=8)
    departure_lanes: int = Field(3, ge=1, le=8)
    approach_length_m: float = Field(800.0, ge=100)
    decision_length_m: float = Field(250.0, ge=50, description="distance before the fan-out where drivers choose a booth")
    fan_length_m: float = Field(120.0, ge=30)
    booth_length_m: float = Field(30.0, ge=10)
    merge_length_m: float = Field(150.0, ge=30)
    departure_length_m: float = Field(400.0, ge=50)
    booth_width_m: float = Field(3.7, gt=2.5)
    road_speed_m_s: float = Field(22.22, gt=0, description="approach and departure speed limit (80 km/h)")
    etc_speed_m_s: float = Field(8.33, gt=0, description="speed through ETC and mixed booths (30 km/h)")
    mtc_service: ServiceTime = Field(default_factory=ServiceTime)
    etc_penetration: float = Field(0.6, ge=0, le=1, description="share of vehicles with a tag")
    demand: tuple[DemandPeriod, ...] = Field(default=(DemandPeriod(begin_s=0, end_s=3600, flow_veh_h=1200),), min_length=1)

    @model_validator(mode="after")
    def _usable(self) -> PlazaSpec:
        periods = sorted(self.demand, key=lambda p: p.begin_s)
        for a, b in zip(periods, periods[1:], strict=False):
            if b.begin_s < a.end_s:
                raise ValueError(f"demand periods overlap: [{a.begin_s:g}, {a.end_s:g}) and [{b.begin_s:g}, {b.end_s:g}) s; "
                                 "make each period begin where the one before ends")
        cash = any(b in ("mtc", "mixed") for b in self.booths)
        if min(self.penetration(p) for p in self.demand) < 1 and not cash:
            raise ValueError("untagged vehicles (etc_penetration < 1) need at least one mtc or mixed booth")
        return self

    def penetration(self, period: DemandPeriod) -> float:
        return self.etc_penetration if period.etc_penetration is None else period.etc_penetration

    @property
    def begin_s(self) -> float:
        return min(p.begin_s for p in self.demand)

    @property
    def end_s(self) -> float:
        return max(p.end_s for p in self.demand)

    def allowed(self, tagged: bool) -> list[int]:
        """Booths a vehicle may use: tagged ones ETC and mixed booths (MTC only if there is neither),
        untagged ones MTC and mixed booths."""
        if tagged:
            ok = [k for k, b in enumerate(self.booths) if b in ("etc", "mixed")]
            return ok or [k for k, b in enumerate(self.booths) if b == "mtc"]
        return [k for k, b in enumerate(self.booths) if b in ("mtc", "mixed")]

    def stops(self, booth: int, tagged: bool) -> bool:
        """Does a vehicle stop to pay at ``booth``?"""
        b = self.booths[booth]
        return b == "mtc" or (b == "mixed" and not tagged)


def _xml_write(path: Path, text: str) -> None:
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text)


def build_plaza(spec: PlazaSpec, folder: str | Path) -> Path:
    """Write ``<name>.net.xml`` (nodes, edges and connections through netconvert) into ``folder``.

    Parameters
    ----------
    spec : PlazaSpec
        The plaza's booths and geometry.
    folder : str or Path
        An existing folder.

    Returns
    -------
    Path
        The network file written.
    """
    from .._io import atomic_path
    from .._sumo import run_tool

    out = Path(folder)
    if not out.is_dir():
        raise InputError(f"build_plaza: folder {out} does not exist")
    n = len(spec.booths)
    x0, x1 = 0.0, spec.approach_length_m
    x2 = x1 + spec.decision_length_m
    x3 = x2 + spec.fan_length_m
    x4 = x3 + spec.booth_length_m
    x5 = x4 + spec.merge_length_m
    x6 = x5 + spec.departure_length_m
    ys = [(k - (n - 1) / 2.0) * spec.booth_width_m for k in range(n)]
    nodes = [f'<node id="A" x="{x0}" y="0" type="priority"/>', f'<node id="P" x="{x1}" y="0" type="priority"/>',
             f'<node id="F" x="{x2}" y="0" type="priority"/>', f'<node id="M" x="{x5}" y="0" type="zipper"/>',
             f'<node id="D" x="{x6}" y="0" type="priority"/>']
    edges = [f'<edge id="approach" from="A" to="P" numLanes="{spec.approach_lanes}" speed="{spec.road_speed_m_s}"/>',
             f'<edge id="decision" from="P" to="F" numLanes="{n}" speed="{spec.road_speed_m_s}"/>',
             f'<edge id="departure" from="M" to="D" numLanes="{spec.departure_lanes}" speed="{spec.road_speed_m_s}"/>']
    cons = []
    for k, (b, y) in enumerate(zip(spec.booths, ys, strict=True)):
        nodes += [f'<node id="B{k}" x="{x3}" y="{y:.2f}" type="priority"/>', f'<node id="C{k}" x="{x4}" y="{y:.2f}" type="priority"/>']
        allow = ' allow="custom1"' if b == "etc" else (' allow="passenger"' if b == "mtc" else ' allow="passenger custom1"')
        booth_speed = spec.etc_speed_m_s if b in ("etc", "mixed") else min(spec.etc_speed_m_s, spec.road_speed_m_s)
        edges += [f'<edge id="fan_{k}" from="F" to="B{k}" numLanes="1" speed="{spec.road_speed_m_s}"{allow}/>',
                  f'<edge id="booth_{k}" from="B{k}" to="C{k}" numLanes="1" speed="{booth_speed}"{allow}/>',
                  f'<edge id="merge_{k}" from="C{k}" to="M" numLanes="1" speed="{spec.road_speed_m_s}"{allow}/>']
        lane_out = min(spec.departure_lanes - 1, k * spec.departure_lanes // n)
        cons += [f'<connection from="decision" to="fan_{k}" fromLane="{k}" toLane="0"/>',
                 f'<connection from="fan_{k}" to="booth_{k}" fromLane="0" toLane="0"/>',
                 f'<connection from="booth_{k}" to="merge_{k}" fromLane="0" toLane="0"/>',
                 f'<connection from="merge_{k}" to="departure" fromLane="0" toLane="{lane_out}"/>']
    # the road widens to one lane per booth on the decision edge; each approach lane feeds a block of them
    cons += [f'<connection from="approach" to="decision" fromLane="{min(spec.approach_lanes - 1, j * spec.approach_lanes // n)}" '
             f'toLane="{j}"/>' for j in range(n)]
    stem = out / spec.name
    _xml_write(stem.with_suffix(".nod.xml"), "<nodes>\n  " + "\n  ".join(nodes) + "\n</nodes>\n")
    _xml_write(stem.with_suffix(".edg.xml"), "<edges>\n  " + "\n  ".join(edges) + "\n</edges>\n")
    _xml_write(stem.with_suffix(".con.xml"), "<connections>\n  " + "\n  ".join(cons) + "\n</connections>\n")
    net = stem.with_suffix(".net.xml")
    with atomic_path(net) as tmp:
        run_tool("netconvert", ["-n", str(stem.with_suffix(".nod.xml")), "-e", str(stem.with_suffix(".edg.xml")),
                                "-x", str(stem.with_suffix(".con.xml")), "--no-turnarounds", "true",
                                "--junctions.corner-detail", "0", "--no-warnings", "-o", str(tmp)],
                 what=f"building toll plaza {spec.name}")
    return net


def plaza_demand(spec: PlazaSpec, seed: int) -> dict[str, np.ndarray]:
    """Poisson arrivals per demand period, each vehicle tagged with probability ``etc_penetration`` and given
    the manual payment time it needs if it stops (drawn whether or not it will).

    Parameters
    ----------
    spec : PlazaSpec
        The plaza and its demand periods.
    seed : int
        Seed of the draws (the same seed gives the same vehicles under every booth layout).

    Returns
    -------
    dict of str to array
        ``depart_s`` (s), ``tagged`` (bool) and ``service_s`` (s), sorted by departure.
    """
    rng = sub_rng(seed, "tolling", "arrivals")
    times: list[np.ndarray] = []
    shares: list[np.ndarray] = []
    for p in spec.demand:
        if p.flow_veh_h <= 0:
            continue
        rate = p.flow_veh_h / 3600.0
        n = int(rng.poisson(rate * (p.end_s - p.begin_s)))
        times.append(np.sort(rng.uniform(p.begin_s, p.end_s, n)))  # Poisson process: uniform given the count
        shares.append(np.full(n, spec.penetration(p)))
    depart = np.concatenate(times) if times else np.zeros(0)
    order = np.argsort(depart, kind="stable")
    depart = depart[order]
    share = np.concatenate(shares)[order] if shares else np.zeros(0)
    tagged = rng.random(depart.size) < share
    service = spec.mtc_service.sample(rng, depart.size)
    return {"depart_s": depart, "tagged": tagged, "service_s": service}


def load_plaza(path: str | Path) -> PlazaSpec:
    """Read a plaza YAML file (the fields of :class:`PlazaSpec`); errors name the file and field.

    Parameters
    ----------
    path : str or Path
        The plaza YAML file.

    Returns
    -------
    PlazaSpec
    """
    from .._spec import read_spec

    spec, _, _ = read_spec(path, PlazaSpec, what="plaza file", hint="PlazaSpec fields (booths, demand, ...)")
    return spec  # type: ignore[return-value]
