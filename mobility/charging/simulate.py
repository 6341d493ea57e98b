"""One charging layout in SUMO: EVs that run low are sent to a charger through TraCI.

Every EV gets its battery capacity and initial charge when it departs (drawn from the study's
distributions with a generator keyed on the seed and the vehicle id, so a vehicle starts with the same
charge under every layout). The charge, position and stop state of each EV come from TraCI subscriptions.
Every ``check_period_s`` an EV below ``threshold_soc`` that has not yet been sent to a charger picks the
station with the shortest way to it and on to its destination among those its range reaches (the nearest
when none is in range), is routed there and parks on the station's kerbside spaces for the time its target
charge takes (at most ``max_charge_s``); when the spaces are full it waits on the road (SUMO counts that
as the stop's blocked time). An EV whose battery runs empty before it reaches its charger is stranded and
taken off the road.

Measured from SUMO's own outputs (tripinfo with the battery device, stop output, charging-station output):
share of EVs needing a charge that reached a charger, access detour (distance driven from the moment of
diversion to the destination, less what was left of the planned route then), vehicles stranded, charger
occupancy over time, waiting for a free charger, energy delivered, and the energy balance of every EV.
"""

from __future__ import annotations

import time as _time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import SimulationError
from .._io import session_tempdir, write_text_atomic
from ..seeds import rng as sub_rng
from .._paths import costs_from, costs_to
from .layout import ChargingLayout
from .spec import ChargingSpec, charging_scenario, own_ev_type

if TYPE_CHECKING:
    import xarray as xr

    from ..study import Study

__all__ = ["run_charging"]

_CHARGE = "device.battery.chargeLevel"


@dataclass
class _EV:
    depart: float
    capacity_wh: float
    initial_wh: float
    consumed0: float
    regen0: float
    diverted: float = np.nan
    odometer0: float = np.nan
    remaining0: float = np.nan
    station: int = -1
    stranded: float = np.nan


def _equip_own_ev_type(sc: Any, spec: ChargingSpec, wd: Path) -> Any:
    """A city's own scenario whose EV type its files define: that type, in a copy of its file in the run's
    folder, gets the battery device and the energy model (nothing else in the files changes)."""
    from .._routefiles import equip_vtype, file_vtypes
    if not own_ev_type(sc, spec.ev_type):
        return sc
    own = file_vtypes([*sc.additional_files, *sc.demand.files])
    src = own[spec.ev_type][0]
    attrs = {"emissionClass": "Energy/unknown", "mass": f"{spec.mass_kg:g}"}
    params = {"has.battery.device": "true", "device.battery.capacity": "40000", **spec.energy_model}
    copy = equip_vtype(src, wd / f"ev_{src.name.removesuffix('.gz')}", spec.ev_type, attrs, params).resolve()
    swap = [copy if Path(f).resolve() == src.resolve() else f for f in sc.additional_files]
    files = [copy if Path(f).resolve() == src.resolve() else f for f in sc.demand.files]
    return sc.model_copy(update={"additional_files": swap, "demand": sc.demand.model_copy(update={"files": files})})


def run_charging(spec: ChargingSpec | Study, layout: ChargingLayout, *, seed: int, workdir: str | Path | None = None,
                 backend: str = "libsumo", bin_s: float = 60.0) -> xr.Dataset:
    """Run the study's scenario with ``layout`` and return its KPIs as a Dataset (one layout, one seed).

    Variables: scalar KPIs (``ev_count``, ``needing_charge``, ``charged``, ``covered_share``, ``stranded``,
    ``detour_mean_m``, ``detour_p95_m``, ``wait_mean_s``, ``wait_p95_s``, ``energy_delivered_kwh``,
    ``energy_balance_error``...), ``points(station)``, ``energy_kwh(station)``, ``occupied(station, time)``
    (mean charging points in use per ``bin_s``) and ``utilisation(station, time)``.

    Parameters
    ----------
    spec : ChargingSpec or Study
    layout : ChargingLayout
    seed : int
        SUMO seed; it also draws the batteries.
    workdir : str or Path, optional
        Folder for SUMO's files (a temporary one when omitted).
    backend : {"libsumo", "traci"}
    bin_s : float, s
        Interval of the occupancy series.

    Returns
    -------
    xarray.Dataset
    """
    from traci import constants as tc

    from ..simulation import Simulation

    from ..study import Study

    if isinstance(spec, Study):  # resolved once: the scenario and network are not read again
        sc, net, spec = spec.scenario, spec.network, spec.spec
    else:
        sc, net = charging_scenario(spec)
    sc = sc.with_seed(seed)
    scenario_hash = sc.spec_hash
    wd = Path(workdir) if workdir is not None else session_tempdir("mobility-charging-")
    wd.mkdir(parents=True, exist_ok=True)
    sc = _equip_own_ev_type(sc, spec, wd)
    add = write_text_atomic(wd / "charging.add.xml", layout.to_additional(net, spec.efficiency))
    extra = ["--stop-output", str((wd / "stops.xml").resolve()), "--stop-output.write-unfinished", "true",
             "--chargingstations-output", str((wd / "charging.xml").resolve()),
             "--chargingstations-output.aggregated", "true"]
    sc = sc.model_copy(update={
        "additional_files": [*sc.additional_files, add.resolve()],
        "outputs": sc.outputs.model_copy(update={"trips": True}),
        "sumo": sc.sumo.model_copy(update={"extra_args": [*sc.sumo.extra_args, *extra]}),
    })
    st = layout.stations
    ei = net.edge_index
    st_edge = np.array([ei[s.edge] for s in st])
    st_pos = np.array([s.pos_m for s in st])
    to_st = costs_to(net, net.tail[st_edge])          # (stations, nodes): node -> station's edge start
    from_st = costs_from(net, net.head[st_edge])        # (stations, nodes): station's edge end -> node
    power_w = np.array([s.power_kw * 1000.0 for s in st])
    evs: dict[str, _EV] = {}
    period = max(1, round(spec.check_period_s / sc.step_length_s))
    t0 = _time.perf_counter()
    sim = Simulation(sc, backend=backend, workdir=wd, network=net)  # type: ignore[arg-type]
    with sim:
        api = sim.api
        api.simulation.subscribe([tc.VAR_DEPARTED_VEHICLES_IDS])
        step = 0
        while sim.time < sc.end_s - 1e-9:
            api.simulationStep()
            step += 1
            now = sim.time
            for vid in api.simulation.getSubscriptionResults()[tc.VAR_DEPARTED_VEHICLES_IDS]:
                if api.vehicle.getTypeID(vid) != spec.ev_type:
                    continue
                rng = sub_rng(seed, "charging", "battery", vid)
                cap = spec.battery_kwh.draw(rng) * 1000.0
                soc = float(np.clip(spec.initial_soc.draw(rng), 0.0, 1.0))
                api.vehicle.setParameter(vid, "device.battery.capacity", f"{cap:.3f}")
                api.vehicle.setParameter(vid, _CHARGE, f"{soc * cap:.3f}")
                evs[vid] = _EV(now, cap, soc * cap, float(api.vehicle.getParameter(vid, "device.battery.totalEnergyConsumed")),
                               float(api.vehicle.getParameter(vid, "device.battery.totalEnergyRegenerated")))
                api.vehicle.subscribe(vid, [tc.VAR_ROAD_ID, tc.VAR_LANEPOSITION, tc.VAR_DISTANCE, tc.VAR_STOPSTATE])
                api.vehicle.subscribeParameterWithKey(vid, _CHARGE)
            if step % period:
                continue
            for vid, r in api.vehicle.getAllSubscriptionResults().items():
                ev = evs.get(vid)
                if ev is None or not r:
                    continue
                charge = float(r[tc.VAR_PARAMETER_WITH_KEY][1])
                road = r[tc.VAR_ROAD_ID]
                if charge <= 1e-6 and np.isnan(ev.stranded) and not (r[tc.VAR_STOPSTATE] & 1) and not (
                        ev.station >= 0 and road == st[ev.station].edge):
                    ev.stranded = now
                    api.vehicle.unsubscribe(vid)
                    api.vehicle.remove(vid, tc.REMOVE_VAPORIZED)
                    continue
                if not np.isnan(ev.diverted) or charge >= spec.threshold_soc * ev.capacity_wh or road.startswith(":"):
                    continue
                _divert(api, spec, vid, ev, road, float(r[tc.VAR_LANEPOSITION]), float(r[tc.VAR_DISTANCE]), charge,
                        now, net, st, st_edge, st_pos, to_st, from_st, power_w)
    wall = _time.perf_counter() - t0
    try:
        ds = _kpis(spec, layout, sc, net, wd, evs, seed=seed, bin_s=bin_s, wall_s=wall, sumo_version=sim.sumo_version)
        ds.attrs["scenario_hash"] = scenario_hash
        return ds
    finally:
        if workdir is None:
            sim.cleanup()


def _divert(api, spec, vid, ev, road, lane_pos, odometer, charge, now, net, st, st_edge, st_pos,
            to_st, from_st, power_w) -> None:
    """Send one EV to the station with the shortest way there and on to its destination."""
    from traci.exceptions import TraCIException

    ei = net.edge_index
    e = ei[road]
    route = api.vehicle.getRoute(vid)
    idx = api.vehicle.getRouteIndex(vid)
    dest = ei[route[-1]]
    remaining = float(sum(net.length[ei[x]] for x in route[idx:])) - lane_pos
    left = float(net.length[e]) - lane_pos
    access = left + to_st[:, net.head[e]] + st_pos
    ahead = (st_edge == e) & (st_pos > lane_pos + 25.0)
    access = np.where(ahead, st_pos - lane_pos, access)
    behind_here = (st_edge == e) & ~ahead
    access[behind_here] = np.inf  # a kerbside site behind the vehicle on its own edge: look again later
    onward = (net.length[st_edge] - st_pos) + from_st[:, net.tail[dest]] + net.length[dest]
    reach = charge / spec.range_wh_km * 1000.0
    total = np.where(access <= reach, access + onward, np.inf)
    k = int(np.argmin(total)) if np.isfinite(total).any() else int(np.argmin(access))
    if not np.isfinite(access[k]):
        return
    s = st[k]
    try:
        a = api.simulation.findRoute(road, s.edge, vType=api.vehicle.getTypeID(vid))
        b = api.simulation.findRoute(s.edge, route[-1], vType=api.vehicle.getTypeID(vid))
        if not a.edges or not b.edges:
            return
        api.vehicle.setRoute(vid, list(a.edges) + list(b.edges)[1:])
        need_wh = max(0.0, spec.target_soc * ev.capacity_wh - charge)
        duration = float(np.clip(need_wh / (power_w[k] * spec.efficiency) * 3600.0, 60.0, spec.max_charge_s))
        api.vehicle.setParkingAreaStop(vid, s.parking_id, duration=duration)
    except TraCIException:
        return  # too close to stop in time: look again at the next check
    ev.diverted, ev.odometer0, ev.remaining0, ev.station = now, odometer, remaining, k


def _kpis(spec, layout, sc, net, wd: Path, evs: dict[str, _EV], *, seed: int, bin_s: float, wall_s: float,
          sumo_version: str) -> xr.Dataset:
    import xarray as xr

    from ..provenance import stamp
    from ..results import iter_tripinfo

    _check_outputs(wd)
    st = layout.stations
    pa_index = {s.parking_id: i for i, s in enumerate(st)}
    # tripinfo: distance and the battery device's totals for every EV (arrived, still driving or removed)
    trips: dict[str, dict[str, Any]] = {}
    for vid, trip, child in iter_tripinfo(wd / "tripinfo.xml"):
        b = child.get("battery")
        if vid in evs and b is not None:
            trips[vid] = {"route_m": float(trip.get("routeLength", "nan")), "arrived": trip.get("vaporized", "") == "",
                          "final": float(b["actualBatteryCapacity"]), "consumed": float(b["totalEnergyConsumed"]),
                          "regen": float(b["totalEnergyRegenerated"])}
    charged_wh: dict[str, float] = {}
    energy = np.zeros(len(st))
    cs_index = {s.site: i for i, s in enumerate(st)}
    for _, el in ET.iterparse(wd / "charging.xml"):
        if el.tag == "chargingEvent":
            e = float(el.get("totalEnergyChargedIntoVehicle", "0"))
            v = el.get("vehicle")
            charged_wh[v] = charged_wh.get(v, 0.0) + e
            energy[cs_index[el.get("chargingStationId")]] += e
            el.clear()
    # stop output: when each EV parked at a charger, how long it waited for a space, when it left
    # (a stop not reached by the end has started 0; its negative blockedDuration is minus the time the
    # vehicle began waiting for a space)
    stops, queued = [], []
    for _, el in ET.iterparse(wd / "stops.xml"):
        if el.tag == "stopinfo" and el.get("parkingArea") in pa_index:
            started, blocked = float(el.get("started")), float(el.get("blockedDuration", "0"))
            if started > 0:
                stops.append((el.get("id"), pa_index[el.get("parkingArea")], started, float(el.get("ended", "-1")),
                              blocked))
            elif blocked < 0:
                queued.append(sc.end_s + blocked)
            el.clear()
    unfinished = {vid for vid, _, _, s1, _ in stops if s1 < 0}
    end = sc.end_s
    edges = np.arange(sc.begin_s, end + bin_s - 1e-9, bin_s)
    times = edges[:-1]
    occ = np.zeros((len(st), times.size))
    for _, k, s0, s1, _ in stops:
        s1 = end if s1 < 0 else s1
        occ[k] += np.clip(np.minimum(edges[1:], s1) - np.maximum(edges[:-1], s0), 0, None) / bin_s
    points = np.array([s.points for s in st], dtype=float)
    parked = {vid for vid, *_ in stops}
    needing = [v for v, ev in evs.items() if not np.isnan(ev.diverted) or not np.isnan(ev.stranded)]
    charged = [v for v in needing if v in parked]
    stranded = [v for v, ev in evs.items() if not np.isnan(ev.stranded)]
    detours = np.array([trips[v]["route_m"] - evs[v].odometer0 - evs[v].remaining0 for v in charged
                        if v in trips and trips[v]["arrived"]])
    waits = np.array([w for _, _, _, _, w in stops] + queued)
    # energy balance over every EV: battery change = charged - (consumed - regenerated), from its set charge
    lhs = rhs = scale = 0.0
    for v, ev in evs.items():
        t = trips.get(v)
        if t is None or v in unfinished:  # SUMO reports a vehicle's charge when it leaves the charger
            continue
        net_use = (t["consumed"] - ev.consumed0) - (t["regen"] - ev.regen0)
        lhs += t["final"] - ev.initial_wh
        rhs += charged_wh.get(v, 0.0) - net_use
        scale += abs(net_use) + charged_wh.get(v, 0.0)
    balance = abs(lhs - rhs) / scale if scale > 0 else 0.0

    def stat(a: np.ndarray, f) -> float:
        return float(f(a)) if a.size else float("nan")

    scalars = {
        "ev_count": (len(evs), "1", "EVs that departed"),
        "needing_charge": (len(needing), "1", "EVs whose charge fell below the threshold"),
        "charged": (len(charged), "1", "EVs needing a charge that parked at a charger"),
        "covered_share": (len(charged) / len(needing) if needing else np.nan, "1",
                          "share of EVs needing a charge that reached a charger"),
        "stranded": (len(stranded), "1", "EVs whose battery ran empty before reaching a charger"),
        "detour_mean_m": (stat(detours, np.mean), "m", "mean access detour of charged EVs that arrived"),
        "detour_p95_m": (stat(detours, lambda a: np.percentile(a, 95)), "m", "95th percentile access detour"),
        "detour_count": (detours.size, "1", "charged EVs that arrived (the detour sample)"),
        "still_waiting": (len(queued), "1", "EVs waiting for a free point at the end"),
        "wait_mean_s": (stat(waits, np.mean), "s", "mean wait for a free charging point (incl. those still waiting)"),
        "wait_p95_s": (stat(waits, lambda a: np.percentile(a, 95)), "s", "95th percentile wait for a free point"),
        "waited_share": (stat(waits > 0.5, np.mean), "1", "share of charging stops that had to wait"),
        "energy_delivered_kwh": (float(energy.sum()) / 1000.0, "kWh", "energy charged into vehicles that finished charging"),
        "energy_consumed_kwh": (sum((t["consumed"] - evs[v].consumed0) - (t["regen"] - evs[v].regen0)
                                    for v, t in trips.items()) / 1000.0, "kWh", "net energy used by EVs (after recuperation)"),
        "energy_balance_error": (balance, "1", "|battery change - (charged - used)| / (used + charged), EVs not charging at the end"),
        "points_total": (float(points.sum()), "1", "charging points in the layout"),
        "stations": (len(st), "1", "stations in the layout"),
        "wall_time_s": (wall_s, "s", "wall time of the simulation"),
    }
    ds = xr.Dataset({k: ((), v, {"units": u, "long_name": d}) for k, (v, u, d) in scalars.items()})
    sid = [s.site for s in st]
    ds["points"] = ("station", points, {"units": "1", "long_name": "charging points"})
    ds["energy_kwh"] = ("station", energy / 1000.0, {"units": "kWh", "long_name": "energy delivered per station"})
    ds["occupied"] = (("station", "time"), occ, {"units": "1", "long_name": "charging points in use (mean over the bin)"})
    ds["utilisation"] = (("station", "time"), occ / points[:, None], {"units": "1",
                                                                   "long_name": "share of the station's points in use"})
    ids = sorted(evs)
    det = {v: trips[v]["route_m"] - evs[v].odometer0 - evs[v].remaining0 for v in charged
           if v in trips and trips[v]["arrived"]}
    ds["ev_capacity_kwh"] = ("ev", [evs[v].capacity_wh / 1000.0 for v in ids], {"units": "kWh", "long_name": "battery capacity"})
    ds["ev_initial_kwh"] = ("ev", [evs[v].initial_wh / 1000.0 for v in ids], {"units": "kWh", "long_name": "charge on departure"})
    ds["ev_depart_s"] = ("ev", [evs[v].depart for v in ids], {"units": "s", "long_name": "departure time"})
    ds["ev_diverted_s"] = ("ev", [evs[v].diverted for v in ids], {"units": "s", "long_name": "time sent to a charger (NaN: never)"})
    ds["ev_stranded_s"] = ("ev", [evs[v].stranded for v in ids], {"units": "s", "long_name": "time the battery ran empty (NaN: never)"})
    ds["ev_detour_m"] = ("ev", [det.get(v, np.nan) for v in ids], {"units": "m", "long_name": "access detour (charged and arrived)"})
    ds = ds.assign_coords(ev=ids)
    ds = ds.assign_coords(station=sid, time=times, edge=("station", [s.edge for s in st]))
    ds["time"].attrs.update(units="s", long_name="start of the bin")
    return stamp(ds, seeds=int(seed), spec_hash=sc.spec_hash, layout=layout.name, layout_method=layout.method,
                 scenario=sc.name, scenario_hash=sc.spec_hash, charging_study=spec.name)


def _check_outputs(wd: Path) -> None:
    for name in ("tripinfo.xml", "stops.xml", "charging.xml"):
        if not (wd / name).is_file():
            raise SimulationError(f"SUMO wrote no {name} in {wd}")
