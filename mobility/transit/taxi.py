"""Taxi fleets through SUMO's taxi device: ride requests, dispatch algorithms, fleet KPIs and fleet sizing.

A taxi file (YAML, ``scenarios/transit/*taxi*.yaml``, ``kind: taxi``) names a traffic scenario (the network
and its general traffic) and adds the fleet (size, depots, seats), the ride requests (generated from the
run's seed, or a CSV table ``id, depart_s, from, to``), the dispatch period and the waiting-time target.

Dispatch algorithms (:data:`DISPATCHERS`): SUMO's own ``greedy``, ``greedyClosest``, ``greedyShared`` and
``routeExtension``, and the toolkit's ``assignment``: every dispatch period, the idle taxis and the open
requests are matched by an optimal assignment (OR-Tools min-cost flow,
:func:`optimise.parking.parking_assignment`) that serves as many requests as there are idle taxis and, among
those matchings, minimises the sum of pickup drive times (free-flow times on turn-by-turn shortest paths, as
SUMO routes).

KPIs: waiting time from request to pickup (mean, p95; a request still unserved at the end counts with its
wait so far), requests unserved, empty kilometres, the share of driven distance with a customer on board,
customers per taxi. :func:`fleet_size_sweep` runs fleet sizes to find the smallest that meets the target.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import quoteattr as q

import numpy as np
from pydantic import Field, model_validator

from .._errors import InputError
from .._io import write_text_atomic
from .._spec import Dist, Spec, read_csv_rows
from ..seeds import rng as sub_rng
from ..study import Column, Study, StudyFileKind
from .dispatch import TAXI_TYPE

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DISPATCHERS", "KIND", "ElectricFleet", "RequestGen", "RideRequest", "TaxiSpec", "TaxiStudy", "fleet_size_sweep",
           "load_taxi", "ride_requests", "run_taxi", "smallest_fleet"]

#: SUMO's dispatch algorithms and the toolkit's own (``assignment``).
DISPATCHERS: tuple[str, ...] = ("greedy", "greedyClosest", "greedyShared", "routeExtension", "assignment")


class RequestGen(Spec):
    """Ride requests drawn from the run's seed: Poisson arrivals, pickup and drop-off on streets taxis may use."""

    ordered_fields = (("begin_s", "end_s"),)

    per_h: float = Field(gt=0, le=100_000, description="requests per hour")
    begin_s: float = Field(0.0, ge=0)
    end_s: float = Field(gt=0)
    min_distance_m: float = Field(500.0, ge=0, description="straight-line distance between pickup and drop-off")


class ElectricFleet(Spec):
    """Battery taxis that charge at a charging layout's stations (only the ``assignment`` dispatcher plans charging).

    The layout is a layout file (``mobility charging optimise -o LAYOUT.json``), or a charging study and a layout
    word (``optimal:pmedian:p=4``, ``greedy:p=4``, ``random:p=4,seed=1``) built from it once per run.
    """

    battery_kwh: float = Field(50.0, gt=0, le=500)
    initial_soc: Dist = Field(default_factory=lambda: Dist(kind="uniform", low=0.3, high=0.9))
    threshold_soc: float = Field(0.2, gt=0, lt=1, description="an idle taxi below this goes to charge")
    target_soc: float = Field(0.8, gt=0, le=1, description="it charges up to this...")
    max_charge_s: float = Field(3600.0, gt=0, description="...or for at most this long")
    layout: Path | None = Field(None, description="charging layout file")
    charging_study: Path | None = Field(None, description="or a charging study (relative to this file)...")
    layout_word: str = Field("optimal:pmedian:p=4", description="...and the layout to build from it")
    mass_kg: float = Field(1800.0, gt=0)
    energy_model: dict[str, str] = Field(
        default_factory=lambda: {"frontSurfaceArea": "2.6", "airDragCoefficient": "0.35", "rollDragCoefficient": "0.01",
                                 "constantPowerIntake": "300", "propulsionEfficiency": "0.9",
                                 "recuperationEfficiency": "0.6", "radialDragCoefficient": "0.5"})

    @model_validator(mode="after")
    def _check(self) -> ElectricFleet:
        self.initial_soc.check_within(0.0, 1.0, "initial_soc (a state of charge)")
        if (self.layout is None) == (self.charging_study is None):
            raise ValueError("give a charging layout file (layout) or a charging study (charging_study), one of them")
        if not self.target_soc > self.threshold_soc:
            raise ValueError(f"target_soc {self.target_soc:g} must be above threshold_soc {self.threshold_soc:g}")
        return self


class TaxiSpec(Spec):
    """A taxi fleet study (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    kind: Literal["taxi"] = "taxi"
    scenario: Path = Field(description="traffic scenario YAML, relative to this file")
    fleet_size: int = Field(10, ge=1, le=10_000)
    depots: list[str] | None = Field(None, description="edges the taxis start on, in turn (default: spread over the "
                                     "streets by the seed)")
    seats: int = Field(4, ge=1, le=50)
    requests: RequestGen | Path = Field(description="generated requests, or a CSV table id, depart_s, from, to")
    dispatch_period_s: float = Field(30.0, gt=0, le=3600, description="how often open requests are dispatched")
    waiting_target_s: float = Field(300.0, gt=0, description="the fleet is large enough when the mean wait is at most this")
    sizes: list[int] = Field(default_factory=lambda: [5, 10, 15, 20, 25, 30], description="fleet sizes a sweep tries")
    electric: ElectricFleet | None = None
    source_file: Path | None = Field(None, exclude=True)


def load_taxi(path: str | Path) -> TaxiSpec:
    """Read a taxi study file; errors name the file, line and field.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    TaxiSpec
    """
    from .._spec import read_study

    return _resolved(read_study(path, TaxiSpec, what="taxi file", hint="TaxiSpec fields (scenario, fleet_size, requests, ...)"))


def _resolved(spec: TaxiSpec) -> TaxiSpec:
    """The electric fleet's layout paths relative to the study file."""
    ev, src = spec.electric, spec.source_file
    if ev is None or src is None:
        return spec
    fix = {k: src.parent / v for k in ("layout", "charging_study") if (v := getattr(ev, k)) is not None and not v.is_absolute()}
    for k, v in fix.items():
        if not v.is_file():
            raise InputError(f"{src}: field 'electric.{k}': file not found: {v}; paths are relative to the study file")
    return spec.model_copy(update={"electric": ev.model_copy(update=fix)}) if fix else spec


@dataclass(frozen=True)
class RideRequest:
    """One ride: when it is requested, the pickup and the drop-off edge."""

    id: str
    depart_s: float
    origin: str
    destination: str


def ride_requests(spec: TaxiSpec, net: Any, seed: int) -> list[RideRequest]:
    """The study's ride requests (drawn from ``seed``'s sub-stream, or read from the table).

    Parameters
    ----------
    spec : TaxiSpec
    net : RoadNetwork
    seed : int

    Returns
    -------
    list of RideRequest
        In order of request time.
    """
    from ..access import check_trip
    from ..demand import street_edges

    if isinstance(spec.requests, Path):
        if not spec.requests.is_file():
            raise InputError(f"{spec.source_file or spec.name}: field 'requests': request table not found: {spec.requests}; "
                             "give a CSV table id, depart_s, from, to (relative to the study file) or requests to draw")
        out = []
        for line, r in read_csv_rows(spec.requests, ("id", "depart_s", "from", "to")):
            why = check_trip(net, r["from"], r["to"], "taxi")
            if why is not None:
                raise InputError(f"{spec.requests}:{line}: request {r['id']}: {why}")
            try:
                t = float(r["depart_s"])
            except ValueError:
                raise InputError(f"{spec.requests}:{line}: request {r['id']}: depart_s {r['depart_s']!r} is not a number") from None
            out.append(RideRequest(r["id"], t, r["from"], r["to"]))
        return sorted(out, key=lambda x: (x.depart_s, x.id))
    g = spec.requests
    edges = street_edges(net, vclass="taxi", min_length_m=20.0)
    if edges.size < 2:
        raise InputError(f"{spec.source_file or spec.name}: the network has fewer than two streets taxis may use")
    mid = np.asarray([_mid(net, e) for e in edges])
    rng = sub_rng(seed, "taxi", "requests")
    out, t, k = [], g.begin_s, 0
    while True:
        t += rng.exponential(3600.0 / g.per_h)
        if t >= g.end_s:
            break
        for _ in range(100):
            a, b = rng.integers(edges.size, size=2)
            if a != b and float(np.hypot(*(mid[a] - mid[b]))) >= g.min_distance_m:
                break
        else:
            raise InputError(f"{spec.source_file or spec.name}: requests.min_distance_m {g.min_distance_m:g} m: no two "
                             "streets of the network are that far apart; lower it")
        out.append(RideRequest(f"ride{k}", round(float(t), 1), str(net.edge_ids[edges[a]]), str(net.edge_ids[edges[b]])))
        k += 1
    return out


def _mid(net: Any, e: int) -> tuple[float, float]:
    return (0.5 * (net.node_x[net.tail[e]] + net.node_x[net.head[e]]), 0.5 * (net.node_y[net.tail[e]] + net.node_y[net.head[e]]))


def _depots(spec: TaxiSpec, net: Any, size: int, seed: int) -> list[str]:
    from ..access import check_place
    from ..demand import street_edges

    if spec.depots:
        for e in spec.depots:
            why = check_place(net, e, "taxi")
            if why is not None:
                raise InputError(f"{spec.source_file or spec.name}: depots: {why}")
        return [spec.depots[i % len(spec.depots)] for i in range(size)]
    edges = street_edges(net, vclass="taxi", min_length_m=20.0)
    pick = sub_rng(seed, "taxi", "depots").choice(edges, size=size, replace=size > edges.size)
    return [str(net.edge_ids[e]) for e in pick]


def taxi_additional(spec: TaxiSpec, net: Any, requests: list[RideRequest], size: int, seed: int) -> str:
    """SUMO additional XML: the taxi type (taxi device), the fleet, and a person riding a taxi per request.

    Parameters
    ----------
    spec : TaxiSpec
    net : RoadNetwork
    requests : list of RideRequest
    size : int
        Fleet size.
    seed : int
        Seed of the depots drawn.

    Returns
    -------
    str
    """
    ev = spec.electric
    battery = (f' emissionClass="Energy/unknown" mass="{ev.mass_kg:g}"' if ev else "")
    rows = ["<additional>",
            f'    <vType id="{TAXI_TYPE}" vClass="taxi" personCapacity="{spec.seats}" color="1,0.85,0"{battery}>',
            '        <param key="has.taxi.device" value="true"/>']
    if ev is not None:
        params = {"has.battery.device": "true", "device.battery.capacity": f"{ev.battery_kwh * 1000:g}", **ev.energy_model}
        rows += [f'        <param key={q(k)} value={q(v)}/>' for k, v in params.items()]
    rows.append("    </vType>")
    g = sub_rng(seed, "taxi", "battery")
    for i, e in enumerate(_depots(spec, net, size, seed)):
        charge = (f'<param key="device.battery.chargeLevel" value="{ev.initial_soc.draw(g) * ev.battery_kwh * 1000:.1f}"/>'
                  if ev is not None else "")
        rows.append(f'    <vehicle id="taxi{i}" type="{TAXI_TYPE}" depart="0" line="taxi" departPos="random_free">'
                    f'<route edges={q(e)}/>{charge}</vehicle>')
    for r in requests:
        rows.append(f'    <person id={q(r.id)} depart="{r.depart_s:.1f}"><ride from={q(r.origin)} to={q(r.destination)} '
                    'lines="taxi"/></person>')
    rows.append("</additional>")
    return "\n".join(rows) + "\n"


def taxi_layout(spec: TaxiSpec, net: Any) -> Any:
    """The charging layout an electric fleet charges at (a layout file, or one built from a charging study).

    Parameters
    ----------
    spec : TaxiSpec
    net : RoadNetwork

    Returns
    -------
    ChargingLayout or None
        None for a fleet without batteries.
    """
    ev = spec.electric
    if ev is None:
        return None
    from ..charging.layout import load_layout

    if ev.layout is not None:
        return load_layout(ev.layout)
    from ..charging import build_layouts, load_charging

    return build_layouts(load_charging(ev.charging_study), [ev.layout_word])[0]


def run_taxi(study: TaxiSpec | Study, dispatcher: str, *, seed: int, size: int | None = None,
             workdir: str | Path | None = None, backend: str = "libsumo") -> xr.Dataset:
    """Run the fleet with one dispatch algorithm.

    Parameters
    ----------
    study : TaxiSpec or Study
    dispatcher : str
        One of :data:`DISPATCHERS`.
    seed : int
        SUMO seed; requests and depots are drawn from its sub-streams.
    size : int, optional
        Fleet size (default: the study's ``fleet_size``).
    workdir : str or Path, optional
        Folder for SUMO's files (temporary, removed after the run, when omitted).
    backend : {"libsumo", "traci"}

    Returns
    -------
    xarray.Dataset
        Per request (``request``): ``waiting_s`` (NaN never requested in the window), ``served``; scalars
        ``mean_waiting_s``, ``p95_waiting_s``, ``unserved``, ``empty_km``, ``occupied_share``,
        ``customers_per_taxi``, ``fleet_size``.
    """
    import traci.constants as tc
    import xarray as xr

    from ..scenario import load_scenario_with_network
    from ..simulation import Simulation

    if dispatcher not in DISPATCHERS:
        raise InputError(f"unknown dispatcher {dispatcher!r}; choose from {', '.join(DISPATCHERS)}")
    if isinstance(study, Study):
        sc, net, spec = study.scenario, study.network, study.spec
    else:
        sc, net = load_scenario_with_network(study.scenario)
        spec = study
    n = int(size if size is not None else spec.fleet_size)
    if spec.electric is not None and dispatcher != "assignment":
        raise InputError(f"{spec.source_file or spec.name}: an electric fleet needs dispatcher 'assignment' (SUMO's "
                         f"dispatch algorithms do not plan charging), not {dispatcher!r}")
    sc = sc.with_seed(seed)
    reqs = ride_requests(spec, net, seed)
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="mobility-taxi-")) if own else Path(workdir)  # type: ignore[arg-type]
    wd.mkdir(parents=True, exist_ok=True)
    try:
        add = write_text_atomic(wd / "taxi.add.xml", taxi_additional(spec, net, reqs, n, seed))
        layout = taxi_layout(spec, net)
        adds = [add.resolve()]
        if layout is not None:
            adds.insert(0, write_text_atomic(wd / "chargers.add.xml", layout.to_additional(net)).resolve())
        args = ["--device.taxi.dispatch-algorithm", "traci" if dispatcher == "assignment" else dispatcher,
                "--device.taxi.dispatch-period", f"{spec.dispatch_period_s:g}"]
        sc = sc.model_copy(update={
            "additional_files": [*sc.additional_files, *adds],
            "outputs": sc.outputs.model_copy(update={"trips": True}),
            "sumo": sc.sumo.model_copy(update={"extra_args": [*sc.sumo.extra_args, *args]})})
        taxis = [f"taxi{i}" for i in range(n)]
        ctl = None
        sim = Simulation(sc, backend=backend, workdir=wd, network=net)  # type: ignore[arg-type]
        with sim:
            if dispatcher == "assignment":
                api = sim.api
                from .dispatch import AssignmentDispatcher

                ctl = AssignmentDispatcher(api, net, taxis, electric=spec.electric,
                                           stations=layout.stations if layout is not None else ())
                api.simulation.subscribe([tc.VAR_DEPARTED_VEHICLES_IDS])
                period = max(1, round(spec.dispatch_period_s / sc.step_length_s))
                k, now = 0, sim.time
                while now < sc.end_s - 1e-9:
                    now = sim.step()
                    for v in api.simulation.getSubscriptionResults()[tc.VAR_DEPARTED_VEHICLES_IDS]:
                        if v.startswith("taxi"):
                            ctl.subscribe(v)
                    k += 1
                    if k % period == 0:
                        ctl.dispatch(now)
            else:
                sim.run()
        waits: dict[str, tuple[float, bool]] = {}
        occupied = driven = 0.0
        customers = 0
        for kind, a, kids in _people(wd / "tripinfo.xml"):
            if kind == "personinfo":
                ride = kids.get("ride", {})
                dep = float(a.get("depart", "nan"))
                picked = float(ride.get("depart", "-1"))
                w = float(ride.get("waitingTime", "nan")) if picked >= 0 else sc.end_s - dep
                waits[a["id"]] = (w, picked >= 0)
            elif kind == "tripinfo" and a.get("vType") == TAXI_TYPE:
                t = kids.get("taxi", {})
                occupied += float(t.get("occupiedDistance", 0.0))
                driven += float(a.get("routeLength", 0.0))
                customers += int(float(t.get("customers", 0)))
    finally:
        if own:
            shutil.rmtree(wd, ignore_errors=True)
    ids = [r.id for r in reqs]
    w = np.array([waits.get(i, (np.nan, False))[0] for i in ids])
    served = np.array([waits.get(i, (np.nan, False))[1] for i in ids], dtype=bool)
    ds = xr.Dataset({
        "waiting_s": ("request", w, {"units": "s", "long_name": "wait from request to pickup (unserved: to the end)"}),
        "served": ("request", served, {"units": "1", "long_name": "picked up before the end"}),
        "request_time_s": ("request", np.array([r.depart_s for r in reqs]), {"units": "s", "long_name": "time of request"}),
    }, coords={"request": ids})
    fin = np.isfinite(w)
    for name, v, u, ln in (
            ("mean_waiting_s", float(w[fin].mean()) if fin.any() else np.nan, "s", "mean wait for a taxi"),
            ("p95_waiting_s", float(np.percentile(w[fin], 95)) if fin.any() else np.nan, "s", "95th percentile wait"),
            ("unserved", float((~served).sum()), "1", "requests not picked up by the end"),
            ("empty_km", (driven - occupied) / 1000.0, "km", "fleet distance without a customer"),
            ("occupied_share", occupied / driven if driven > 0 else np.nan, "1", "share of distance with a customer"),
            ("customers_per_taxi", customers / n, "1", "customers per taxi"),
            ("charging_visits", float(ctl.visits) if ctl is not None and spec.electric else np.nan, "1",
             "taxis sent to charge"),
            ("depleted_taxis", float(len(ctl.depleted)) if ctl is not None and spec.electric else np.nan, "1",
             "taxis whose battery ran down to 1%"),
            ("mean_final_soc", float(np.mean(list(ctl.charge.values())) / (spec.electric.battery_kwh * 1000.0))
             if ctl is not None and spec.electric and ctl.charge else np.nan, "1", "mean state of charge at the end"),
            ("fleet_size", float(n), "1", "taxis")):
        ds[name] = ((), v, {"units": u, "long_name": ln})
    ds.attrs.update(dispatcher=dispatcher, seed=int(seed), taxi_study=spec.name)
    return ds


def _people(path: Path) -> Iterator[tuple[str, dict[str, str], dict[str, dict[str, str]]]]:
    """``(tag, attributes, {child tag: attributes})`` of each personinfo and tripinfo element of a tripinfo file."""
    import xml.etree.ElementTree as ET

    if not path.is_file():
        return
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag in ("personinfo", "tripinfo"):
            yield el.tag, dict(el.attrib), {c.tag: dict(c.attrib) for c in el}
            el.clear()


class TaxiStudy(StudyFileKind):
    """Dispatch algorithms for one taxi fleet (``kind: taxi``)."""

    name = "taxi"
    spec_model = TaxiSpec
    dim = "dispatcher"
    what = "dispatch algorithms"
    default_alternatives = DISPATCHERS
    baseline = "greedy"
    preload = ("mobility.transit.taxi",)
    table = (
        Column("mean_waiting_s", "wait s", "s", "{:.0f}"),
        Column("p95_waiting_s", "wait p95 s", "s", "{:.0f}"),
        Column("unserved", "unserved", "1", "{:.1f}"),
        Column("empty_km", "empty km", "km", "{:.0f}"),
        Column("occupied_share", "occupied", "1", "{:.0%}"),
        Column("customers_per_taxi", "customers/taxi", "1", "{:.1f}"),
    )

    def scenario_of(self, spec: TaxiSpec) -> tuple[Any, Any]:
        from ..scenario import load_scenario_with_network

        return load_scenario_with_network(spec.scenario)

    def resolve(self, spec: TaxiSpec) -> Study:
        spec = _resolved(spec)
        return Study(self.name, spec, *self.scenario_of(spec))

    def describe(self, study: Study) -> str:
        reqs = ride_requests(study.spec, study.network, study.scenario.seed)
        _depots(study.spec, study.network, study.spec.fleet_size, study.scenario.seed)
        return f"taxi study {study.name}: {study.spec.fleet_size} taxis, {len(reqs)} requests"

    def alternatives(self, study: Study, words: Sequence[Any], *, size: int | None = None, **options: Any
                     ) -> dict[str, Any]:
        names = [str(w) for w in words]
        bad = [w for w in names if w not in DISPATCHERS]
        if bad or not names:
            raise InputError(f"unknown dispatcher(s) {bad}; choose from {', '.join(DISPATCHERS)}")
        return {w: {"dispatcher": w, "size": size} for w in names}

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        return run_taxi(study, alternative["dispatcher"], seed=seed, size=alternative.get("size"), workdir=workdir)

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        from ..plots import _axes

        fig, ax = _axes(None, (7, 4))
        for d in ds["dispatcher"].values:
            w = ds["waiting_s"].sel(dispatcher=d).values.ravel()
            w = np.sort(w[np.isfinite(w)])
            ax.plot(w / 60.0, np.linspace(0, 1, w.size), label=str(d))
        ax.set_xlabel("wait for a taxi (min)")
        ax.set_ylabel("share of requests")
        ax.legend(title="dispatcher")
        yield "waiting.png", fig


KIND = TaxiStudy()


def fleet_size_sweep(study: Study, dispatcher: str = "assignment", *, sizes: Sequence[int] | None = None,
                     seeds: Sequence[int] = (1, 2, 3), workers: int = 2, **executor: Any) -> xr.Dataset:
    """Run the fleet at each size with one dispatcher: a Dataset with dims ``fleet`` (size) and ``seed``.

    Parameters
    ----------
    study : Study
        A resolved taxi study (:func:`mobility.load_study`).
    dispatcher : str
    sizes : list of int, optional
        Default: the study's ``sizes``.
    seeds : list of int
    workers : int
        Processes.
    **executor
        :func:`mobility.compare`'s ``client``, ``time_limit_s``, ``retries``.

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    from ..study import compare

    parts = []
    for n in sizes or study.spec.sizes:
        ds = compare(study, [dispatcher], seeds=seeds, workers=workers, size=int(n), **executor)
        parts.append(ds.isel(dispatcher=0, drop=True).expand_dims(fleet=[int(n)]))
    out = xr.concat(parts, dim="fleet", join="outer")
    out.attrs.update(dispatcher=dispatcher, waiting_target_s=study.spec.waiting_target_s)
    return out


def smallest_fleet(ds: xr.Dataset, target_s: float | None = None) -> int | None:
    """The smallest fleet of a sweep whose mean wait (over seeds) is at most ``target_s``.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`fleet_size_sweep`.
    target_s : float, s, optional
        Default: the study's ``waiting_target_s``.

    Returns
    -------
    int or None
        None when no size meets it.
    """
    target = float(target_s if target_s is not None else ds.attrs["waiting_target_s"])
    mean = ds["mean_waiting_s"].mean("seed") if "seed" in ds["mean_waiting_s"].dims else ds["mean_waiting_s"]
    ok = [int(n) for n, v in zip(ds["fleet"].values, mean.values, strict=True) if v <= target]
    return min(ok) if ok else None
