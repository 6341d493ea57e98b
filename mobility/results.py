"""Results: one :class:`xarray.Dataset` per run, built from SUMO's own output files, and its KPIs.

Dimensions
----------
``time``       start of each edge-data interval, s
``edge``       network edge ids
``sim_time``   sampling instants of the network-wide counts (summary output), s
``vehicle``    ids of every vehicle scheduled in the window (tripinfo: arrived, unfinished and never departed)
``switch``     signal switching events (time, signal, phase, state)

Every variable has ``units`` and ``long_name``; the Dataset's attrs hold provenance (toolkit version,
SUMO version, scenario hash, seed, command). Counts of unfinished and never-departed vehicles are
always reported beside any mean (see :func:`kpis`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._errors import InputError, SimulationError, missing_file
from ._io import atomic_path
from .provenance import stamp
from .network import RoadNetwork
from .scenario import Scenario

__all__ = ["KPI_UNITS", "dataset_from_outputs", "iter_tripinfo", "kpis", "load_results", "save_results"]


def _iter(path: Path, tag: str) -> Any:
    """Elements ``tag`` of a SUMO XML output, streamed; a clear error if SUMO left it broken."""
    try:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == tag:
                yield el
    except ET.ParseError as exc:
        raise SimulationError(f"{path}: SUMO output is incomplete or broken ({exc}); did SUMO crash?") from None


def iter_tripinfo(path: str | Path) -> Any:
    """``(vehicle id, tripinfo attributes, {child tag: attributes})`` for every vehicle in SUMO's tripinfo
    output (children: ``battery``, ``emissions``, ...), streamed.

    Parameters
    ----------
    path : str or Path
        SUMO's ``--tripinfo-output`` file.

    Returns
    -------
    iterator of tuple
    """
    p = Path(path)
    if not p.is_file():
        raise SimulationError(f"SUMO wrote no {p.name} in {p.parent}")
    for el in _iter(p, "tripinfo"):
        yield el.get("id"), dict(el.attrib), {c.tag: dict(c.attrib) for c in el}
        el.clear()


def _var(data: Any, dims: tuple[str, ...], units: str, long_name: str) -> xr.Variable:
    return xr.Variable(dims, data, attrs={"units": units, "long_name": long_name})


EDGE_FIELDS = {
    # name: (SUMO attribute, transform, units, long_name)
    "edge_vehicles": ("sampledSeconds", "per_period", "veh", "mean number of vehicles on the edge"),
    "edge_halting": ("waitingTime", "per_period", "veh", "mean number of halting vehicles (speed < 0.1 m/s)"),
    "edge_speed": ("speed", "raw", "m/s", "mean speed of vehicles on the edge"),
    "edge_occupancy": ("occupancy", "raw", "%", "share of the interval the edge's lanes were occupied"),
    "edge_density": ("density", "raw", "veh/km", "vehicle density"),
    "edge_entered": ("entered", "raw", "veh", "vehicles that entered the edge in the interval"),
    "edge_travel_time": ("traveltime", "raw", "s", "mean travel time over the edge"),
}


def _edge_data(path: Path, edge_ids: np.ndarray) -> tuple[np.ndarray, dict[str, xr.Variable]]:
    index = {str(e): i for i, e in enumerate(edge_ids)}
    begins: list[float] = []
    rows: dict[str, list[np.ndarray]] = {k: [] for k in EDGE_FIELDS}
    for iv in _iter(path, "interval"):
        b, e = float(iv.get("begin", 0)), float(iv.get("end", 0))
        period = max(e - b, 1e-9)
        cur = {k: np.full(len(edge_ids), np.nan if EDGE_FIELDS[k][1] == "raw" and k in ("edge_speed", "edge_travel_time") else 0.0)
               for k in EDGE_FIELDS}
        for el in iv.iter("edge"):
            i = index.get(el.get("id", ""))
            if i is None:
                continue
            for k, (attr, how, _, _) in EDGE_FIELDS.items():
                v = el.get(attr)
                if v is not None:
                    cur[k][i] = float(v) / period if how == "per_period" else float(v)
        begins.append(b)
        for k in EDGE_FIELDS:
            rows[k].append(cur[k])
        iv.clear()
    shape = (len(begins), len(edge_ids))
    out = {k: _var(np.array(rows[k]).reshape(shape), ("time", "edge"), u, ln) for k, (_, _, u, ln) in EDGE_FIELDS.items()}
    return np.array(begins, dtype=np.float64), out


SUMMARY_FIELDS = {
    "running": ("veh", "vehicles in the network"),
    "waiting": ("veh", "vehicles loaded but waiting to be inserted"),
    "inserted": ("veh", "vehicles inserted so far"),
    "arrived": ("veh", "vehicles arrived so far"),
    "halting": ("veh", "halting vehicles in the network"),
    "teleports": ("1", "teleports so far"),
    "meanSpeed": ("m/s", "mean speed of the running vehicles"),
}


def _summary(path: Path) -> tuple[np.ndarray, dict[str, xr.Variable]]:
    times: list[float] = []
    cols: dict[str, list[float]] = {k: [] for k in SUMMARY_FIELDS}
    for el in _iter(path, "step"):
        times.append(float(el.get("time", 0)))
        for k in SUMMARY_FIELDS:
            v = float(el.get(k, "nan"))
            cols[k].append(np.nan if (k == "meanSpeed" and v < 0) else v)
        el.clear()
    names = {"meanSpeed": "network_mean_speed"}
    out = {f"network_{k}" if k != "meanSpeed" else names[k]: _var(np.array(v), ("sim_time",), *SUMMARY_FIELDS[k])
           for k, v in cols.items()}
    return np.array(times, dtype=np.float64), out


TRIP_FIELDS = {
    "trip_depart": ("depart", "s", "departure time"),
    "trip_arrival": ("arrival", "s", "arrival or removal time (NaN: still driving at the end)"),
    "trip_duration": ("duration", "s", "travel time from departure to arrival (or to the end)"),
    "trip_time_loss": ("timeLoss", "s", "time lost against driving at the desired speed"),
    "trip_waiting_time": ("waitingTime", "s", "time spent halting"),
    "trip_depart_delay": ("departDelay", "s", "delay between scheduled and actual departure"),
    "trip_route_length": ("routeLength", "m", "distance driven"),
}


def _trips(path: Path) -> tuple[np.ndarray, dict[str, xr.Variable]]:
    ids: list[str] = []
    cols: dict[str, list[float]] = {k: [] for k in TRIP_FIELDS}
    vtypes: list[str] = []
    removed: list[bool] = []
    for el in _iter(path, "tripinfo"):
        ids.append(el.get("id", ""))
        vtypes.append(el.get("vType", ""))
        removed.append(el.get("vaporized", "") not in ("", "end") and float(el.get("arrival", "-1")) >= 0)
        for k, (attr, _, _) in TRIP_FIELDS.items():
            cols[k].append(float(el.get(attr, "nan")))
        el.clear()
    out = {k: _var(np.array(v, dtype=np.float64), ("vehicle",), u, ln) for k, (v, (_, u, ln)) in
           ((k, (cols[k], TRIP_FIELDS[k])) for k in TRIP_FIELDS)}
    dep = out["trip_depart"].values
    out["trip_departed"] = _var(dep >= 0, ("vehicle",), "1", "vehicle departed (false: still waiting to be inserted at the end)")
    dep[dep < 0] = np.nan
    arr = out["trip_arrival"].values
    arr[arr < 0] = np.nan
    gone = np.array(removed, dtype=bool)
    out["trip_arrived"] = _var(~np.isnan(arr) & ~gone, ("vehicle",), "1", "vehicle reached its destination")
    out["trip_removed"] = _var(gone, ("vehicle",), "1", "vehicle removed before its destination (teleport removal, vaporised)")
    out["trip_vtype"] = _var(np.array(vtypes, dtype=object), ("vehicle",), "1", "vehicle type")
    return np.array(ids, dtype=object), out


def _switches(path: Path) -> tuple[dict[str, xr.Variable], np.ndarray]:
    t, tls, phase, state = [], [], [], []
    for el in _iter(path, "tlsState"):
        t.append(float(el.get("time", 0)))
        tls.append(el.get("id", ""))
        phase.append(int(el.get("phase", -1)))
        state.append(el.get("state", ""))
        el.clear()
    out = {
        "signal_switch_time": _var(np.array(t), ("switch",), "s", "time of a signal state change"),
        "signal_switch_tls": _var(np.array(tls, dtype=object), ("switch",), "1", "traffic light id"),
        "signal_switch_phase": _var(np.array(phase, dtype=np.int32), ("switch",), "1", "phase index after the change"),
        "signal_switch_state": _var(np.array(state, dtype=object), ("switch",), "1",
                                    "signal state per controlled link after the change (SUMO letters)"),
    }
    return out, np.array(sorted(set(tls)), dtype=object)


def _green_share(sw: dict[str, xr.Variable], tls_ids: np.ndarray, time: np.ndarray, end_s: float) -> xr.Variable:
    """Share of (link x seconds) shown green per interval and signal."""
    out = np.full((len(time), len(tls_ids)), np.nan)
    bounds = np.append(time, end_s)
    t_all, id_all, st_all = (sw["signal_switch_time"].values, sw["signal_switch_tls"].values,
                             sw["signal_switch_state"].values)
    for j, tid in enumerate(tls_ids):
        m = id_all == tid
        ts, states = t_all[m], st_all[m]
        g = np.array([sum(c in "Gg" for c in s) / max(len(s), 1) for s in states])
        ends = np.append(ts[1:], end_s)
        for i in range(len(time)):
            lo, hi = bounds[i], bounds[i + 1]
            overlap = np.clip(np.minimum(ends, hi) - np.maximum(ts, lo), 0, None)
            if overlap.sum() > 0:
                out[i, j] = float((overlap * g).sum() / (hi - lo))
    return _var(out, ("time", "tls"), "1", "share of controlled links shown green")


def _statistics(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    veh = root.find("vehicles")
    tel = root.find("teleports")
    saf = root.find("safety")

    def get(el: ET.Element | None, k: str) -> int:
        return int(float(el.get(k, 0))) if el is not None else 0

    return {
        "loaded": get(veh, "loaded"),
        "inserted": get(veh, "inserted"),
        "running": get(veh, "running"),
        "waiting": get(veh, "waiting"),
        "teleports": get(tel, "total"),
        "collisions": get(saf, "collisions"),
    }


def dataset_from_outputs(
    workdir: str | Path,
    scenario: Scenario,
    network: RoadNetwork,
    *,
    backend: str = "libsumo",
    command: str = "",
) -> xr.Dataset:
    """Build the results Dataset from the SUMO output files in ``workdir``.

    Parameters
    ----------
    workdir : str or Path
        The run's folder.
    scenario : Scenario
    network : RoadNetwork
    backend : str
        Recorded in the provenance.
    command : str
        Recorded in the provenance.

    Returns
    -------
    xarray.Dataset
    """
    from ._sumo import FILES

    w = Path(workdir)
    stats_file = w / FILES["statistics"]
    if not stats_file.is_file():
        raise SimulationError(f"{stats_file} is missing: SUMO did not finish the run")
    stats = _statistics(stats_file)
    data: dict[str, xr.Variable] = {}
    coords: dict[str, Any] = {}
    if scenario.outputs.edge_data and (w / FILES["edges"]).is_file():
        time, ev = _edge_data(w / FILES["edges"], network.edge_ids)
        coords["time"] = _var(time, ("time",), "s", "start of the aggregation interval")
        coords["edge"] = ("edge", network.edge_ids.astype(str))
        data.update(ev)
    st, sv = _summary(w / FILES["summary"])
    coords["sim_time"] = _var(st, ("sim_time",), "s", "simulation time")
    data.update(sv)
    arrived = 0
    if scenario.outputs.trips and (w / FILES["trips"]).is_file():
        vid, tv = _trips(w / FILES["trips"])
        coords["vehicle"] = ("vehicle", vid.astype(str))
        data.update(tv)
        arrived = int(tv["trip_arrived"].values.sum())
    if scenario.outputs.signals and (w / FILES["signals"]).is_file():
        sw, tls_ids = _switches(w / FILES["signals"])
        if len(tls_ids):
            data.update(sw)
            coords["tls"] = ("tls", tls_ids.astype(str))
            if "time" in coords:
                data["tls_green_share"] = _green_share(sw, tls_ids, coords["time"].values, scenario.end_s)
    counts = {
        "vehicles_loaded": (stats["loaded"], "vehicles loaded (scheduled to depart before the end)"),
        "vehicles_inserted": (stats["inserted"], "vehicles that departed"),
        "vehicles_arrived": (arrived if scenario.outputs.trips else stats["inserted"] - stats["running"],
                             "vehicles that reached their destination"),
        "vehicles_unfinished": (stats["running"], "vehicles still driving at the end"),
        "vehicles_never_departed": (stats["waiting"], "vehicles still waiting to depart at the end"),
        "teleports": (stats["teleports"], "vehicles teleported out of a jam"),
        "collisions": (stats["collisions"], "collisions"),
    }
    for k, (v, ln) in counts.items():
        data[k] = _var(np.int64(v), (), "veh" if k.startswith("vehicles") else "1", ln)
    attrs = {
        "title": f"SUMO run of scenario {scenario.name}",
        "backend": backend,
        "scenario_name": scenario.name,
        "scenario_hash": scenario.spec_hash,
        "scenario_file": str(scenario.source_file or ""),
        "scenario_json": scenario.model_dump_json(),
        "network_file": str(scenario.network),
        "demand_seed": int(scenario.demand_seed),
        "begin_s": float(scenario.begin_s),
        "end_s": float(scenario.end_s),
        "step_length_s": float(scenario.step_length_s),
    }
    ds = stamp(xr.Dataset(data_vars=data, coords=coords, attrs=attrs), seeds=int(scenario.seed),
               spec_hash=scenario.spec_hash, command=command)
    return ds


#: Units of the KPIs returned by :func:`kpis`.
KPI_UNITS = {
    "mean_travel_time_s": "s",
    "mean_delay_s": "s",
    "mean_delay_arrived_s": "s",
    "mean_waiting_time_s": "s",
    "mean_speed_m_s": "m/s",
    "throughput_veh_h": "veh/h",
    "vehicles_arrived": "veh",
    "vehicles_unfinished": "veh",
    "vehicles_never_departed": "veh",
    "vehicles_stranded": "veh",
    "teleports": "1",
}

#: A vehicle never inserted after waiting at least this long is stranded (one scheduled in the run's last
#: minute is not: no control could have let it in), s.
STRANDED_AFTER_S = 60.0


def kpis(ds: xr.Dataset) -> dict[str, float | int]:
    """Key performance indicators of one run.

    - ``mean_travel_time_s``: mean trip duration of arrived vehicles;
    - ``mean_delay_s``: mean of ``timeLoss + departDelay`` over every vehicle scheduled to depart in the
      window (arrived, still driving, or never departed, which counts as waiting from its scheduled
      departure until the end): the RESCO benchmark's delay;
    - ``mean_delay_arrived_s``: the same over arrived vehicles only;
    - ``mean_waiting_time_s``: mean halting time of arrived vehicles;
    - ``mean_speed_m_s``: route length / duration, over arrived vehicles;
    - ``throughput_veh_h``: arrived vehicles per hour of simulated time;
    - ``vehicles_arrived``, ``vehicles_unfinished`` (still driving at the end),
      ``vehicles_never_departed`` (never inserted), ``vehicles_stranded`` (never inserted after waiting at least
      :data:`STRANDED_AFTER_S`) and ``teleports``, always reported beside the means.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results.

    Returns
    -------
    dict of str to float or int
    """
    hours = (float(ds.attrs["end_s"]) - float(ds.attrs["begin_s"])) / 3600.0
    out: dict[str, float | int] = {}
    if "trip_arrived" in ds:
        arr = ds["trip_arrived"].values.astype(bool)
        dur = ds["trip_duration"].values[arr]

        def mean(x: np.ndarray) -> float:
            return float(np.mean(x)) if x.size else float("nan")

        out["mean_travel_time_s"] = mean(dur)
        delay = ds["trip_time_loss"].values + ds["trip_depart_delay"].values
        out["mean_delay_s"] = mean(delay)
        out["mean_delay_arrived_s"] = mean(delay[arr])
        out["mean_waiting_time_s"] = mean(ds["trip_waiting_time"].values[arr])
        out["mean_speed_m_s"] = mean(ds["trip_route_length"].values[arr] / np.maximum(dur, 1e-9))
    arrived = int(ds["vehicles_arrived"])
    out["throughput_veh_h"] = arrived / hours
    out["vehicles_arrived"] = arrived
    out["vehicles_unfinished"] = int(ds["vehicles_unfinished"])
    out["vehicles_never_departed"] = int(ds["vehicles_never_departed"])
    if "trip_departed" in ds:
        waiting = ~ds["trip_departed"].values.astype(bool)
        out["vehicles_stranded"] = int((waiting & (ds["trip_depart_delay"].values >= STRANDED_AFTER_S)).sum())
    else:
        out["vehicles_stranded"] = out["vehicles_never_departed"]
    out["teleports"] = int(ds["teleports"])
    return out


def save_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to a netCDF file atomically (temporary file, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
    path : path
        A ``.nc`` file.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix not in (".nc", ".nc4", ".h5"):
        raise InputError(f"{path}: results are saved as netCDF; use a .nc file name")
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return path


def load_results(path: str | Path) -> xr.Dataset:
    """Read a results file written by :func:`save_results` into memory.

    Parameters
    ----------
    path : path

    Returns
    -------
    xarray.Dataset
    """
    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "results file")
    return xr.load_dataset(path, engine="h5netcdf")
