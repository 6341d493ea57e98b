"""Study files for any network, with defaults derived from the network itself.

``mobility parking init NET --centre NODE`` and ``mobility charging init NET`` write a traffic scenario and a
study file the user can read and edit. What is derived, and why:

- the **centre** (when not given): the junction of the cars' connected street network nearest the median of
  its junctions' coordinates;
- **background traffic**: random trips, boundary to boundary where the network has at least four ways in and
  out for cars (else between any streets), at half a vehicle per hour per street cars can drive in every
  direction, between 100 and 600 veh/h;
- **kerbside streets**: at least the median length of those streets (between 20 and 100 m; OSM imports split
  streets at every junction, so a fixed 100 m would leave a city with almost none); streets touching the
  boundary too where fewer than 20 inner ones are left (a network of one or two junctions);
- **parking demand**: destinations spread around the centre by a tenth of the network's diagonal (150-400 m),
  arriving at 1.3 times the rate the kerbside spaces within two spreads can turn over at the mean dwell time,
  so that the centre fills and guidance has something to do;
- **charging**: 30% of trips electric; candidate sites on the same streets; 12 charging points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ._errors import InputError
from ._io import write_text_atomic
from .access import reach
from .demand import boundary_edges, street_edges
from .network import RoadNetwork

__all__ = ["central_node", "charging_study", "parking_study", "traffic_scenario", "write_study"]


def central_node(network: RoadNetwork) -> str:
    """The junction of the cars' connected street network nearest the median of its junctions.

    Parameters
    ----------
    network : RoadNetwork

    Returns
    -------
    str
        Node id.
    """
    core = reach(network, "passenger").core
    if not core.any():
        raise InputError(f"{network.name}: no street that cars can drive in every direction; is this a road network?")
    nodes = np.unique(np.concatenate([network.tail[core], network.head[core]]))
    x, y = network.node_x[nodes], network.node_y[nodes]
    k = nodes[np.argmin(np.hypot(x - np.median(x), y - np.median(y)))]
    return str(network.node_ids[k])


def _kerb_length(network: RoadNetwork) -> float:
    core = reach(network, "passenger").core
    return float(np.clip(np.median(np.asarray(network.length)[core]), 20.0, 100.0))


def _kerb(network: RoadNetwork) -> dict[str, Any]:
    """Kerbside streets: the median length or more; boundary streets too where the inner ones are fewer than 20
    (a network of one or two junctions)."""
    kerb = round(_kerb_length(network), 1)
    inner = street_edges(network, min_length_m=kerb).size
    return {"min_length_m": kerb, **({"include_boundary": True} if inner < 20 else {})}


def traffic_scenario(network: RoadNetwork, network_file: str, *, name: str, end_s: float, seed: int = 42,
                     ev_share: float | None = None) -> dict[str, Any]:
    """A background-traffic scenario for ``network`` (see the module's documentation).

    Parameters
    ----------
    network : RoadNetwork
    network_file : str
        The network's file name, as the scenario names it.
    name : str
    end_s : float, s
        End of the simulated window.
    seed : int
    ev_share : float, optional
        Share of electric vehicles (a charging study's traffic).

    Returns
    -------
    dict
        The scenario file's fields.
    """
    ins, outs = boundary_edges(network)
    where = "fringe" if min(ins.size, outs.size) >= 4 else "all"
    rate = float(np.clip(round(0.5 * int(reach(network).core.sum()), -1), 100, 600))
    sc: dict[str, Any] = {
        "name": name, "description": f"random background traffic on {Path(network_file).name}",
        "network": network_file, "begin_s": 0, "end_s": end_s, "seed": seed,
        "demand": {"kind": "random", "trips_veh_h": rate, "origins": where,
                   "destinations": "all" if ev_share is not None else where,
                   "profile": [{"begin_s": 0, "end_s": round(0.75 * end_s), "scale": 1.0}]},
        "sumo": {"time_to_teleport_s": 300},
    }
    if ev_share is not None:
        sc["vehicle_types"] = [{"id": "car", "share": round(1 - ev_share, 3)}, {"id": "ev", "share": ev_share}]
    return sc


def parking_study(network: RoadNetwork, *, name: str, scenario_file: str, centre: str | None = None
                  ) -> dict[str, Any]:
    """A parking study on ``network`` (see the module's documentation).

    Parameters
    ----------
    network : RoadNetwork
    name : str
        Study name.
    scenario_file : str
        The traffic scenario's file name, as the study names it.
    centre : str, optional
        Junction drivers head for (default: :func:`central_node`).

    Returns
    -------
    dict
        The study file's fields.
    """
    if centre is None:
        centre = central_node(network)
    elif centre not in network.node_index:
        raise InputError(f"--centre {centre!r}: no such junction in {network.name}; list them with "
                         "`mobility network info NET` or leave --centre out for the network's middle")
    kerb = _kerb(network)
    c = network.node_index[centre]
    diag = float(np.hypot(np.ptp(network.node_x), np.ptp(network.node_y)))
    spread = float(np.clip(round(0.1 * diag, -1), 150, 400))
    streets = street_edges(network, min_length_m=kerb["min_length_m"], include_boundary="include_boundary" in kerb)
    mx = 0.5 * (network.node_x[network.tail] + network.node_x[network.head])[streets]
    my = 0.5 * (network.node_y[network.tail] + network.node_y[network.head])[streets]
    near = np.hypot(mx - network.node_x[c], my - network.node_y[c]) <= 2 * spread
    spaces = np.maximum(1, np.round(2.0 * np.asarray(network.length)[streets][near] / 100.0)).sum()
    dwell = (1200.0, 3600.0)
    veh_h = float(np.clip(round(1.3 * spaces * 3600.0 / np.mean(dwell), -1), 60, 1200))
    return {
        "name": name, "description": f"parking guidance around junction {centre}",
        "scenario": scenario_file,
        "areas": {"on_street": {"spaces_per_100m": 2.0, **kerb}},
        "seekers": {"veh_h": veh_h, "begin_s": 0, "end_s": 1800, "centre": centre, "spread_m": spread,
                    "dwell_s": {"kind": "uniform", "low": dwell[0], "high": dwell[1]}},
        "decision_radius_m": spread, "max_search_s": 900,
    }


def charging_study(network: RoadNetwork, *, name: str, scenario_file: str) -> dict[str, Any]:
    """An EV charging study on ``network`` (see the module's documentation).

    Parameters
    ----------
    network : RoadNetwork
    name : str
        Study name.
    scenario_file : str
        The traffic scenario's file name, as the study names it.

    Returns
    -------
    dict
        The study file's fields.
    """
    return {
        "name": name, "description": f"EV charging layouts on {network.name}",
        "scenario": scenario_file, "ev_type": "ev",
        "battery_kwh": {"kind": "choice", "values": [40, 60], "weights": [0.5, 0.5]},
        "initial_soc": {"kind": "uniform", "low": 0.001, "high": 0.14},
        "threshold_soc": 0.10, "target_soc": 0.8, "max_charge_s": 300, "range_wh_km": 180,
        "candidates": {**_kerb(network), "max_points": 6, "power_kw": 50, "cost": 1.0},
        "demand": "origins", "points": 12,
    }


def write_study(kind: str, network_file: str | Path, output: str | Path, *, centre: str | None = None,
                force: bool = False) -> tuple[Path, Path]:
    """Write a ``kind`` (parking or charging) study for ``network_file`` at ``output`` and its traffic scenario
    beside it (``<stem>_traffic.yaml``); return both paths. Existing files are kept unless ``force``.

    Parameters
    ----------
    kind : {"parking", "charging"}
    network_file : str or Path
    output : str or Path
        The study file to write.
    centre : str, optional
        Parking: the junction drivers head for.
    force : bool
        Overwrite existing files.

    Returns
    -------
    tuple of Path
        ``(study file, traffic scenario file)``.
    """
    from .load import load_network

    out = Path(output)
    if not out.name.endswith((".yaml", ".yml")):
        raise InputError(f"{out}: a study file name ends in .yaml")
    traffic = out.with_name(out.name.rsplit(".", 1)[0] + "_traffic.yaml")
    for p in (out, traffic):
        if p.exists() and not force:
            raise InputError(f"{p} exists; choose another name or pass --force to overwrite it")
        if not p.parent.is_dir():
            raise InputError(f"cannot write {p}: folder {p.parent} does not exist; create it first")
    net = load_network(network_file)
    rel = Path(network_file).resolve()
    try:
        net_ref = str(rel.relative_to(out.parent.resolve()))
    except ValueError:
        net_ref = str(rel)
    stem = out.name.rsplit(".", 1)[0]
    if kind == "parking":
        sc = traffic_scenario(net, net_ref, name=f"{stem}_traffic", end_s=2700)
        study = parking_study(net, name=stem, scenario_file=traffic.name, centre=centre)
    elif kind == "charging":
        sc = traffic_scenario(net, net_ref, name=f"{stem}_traffic", end_s=2400, ev_share=0.3)
        study = charging_study(net, name=stem, scenario_file=traffic.name)
    else:
        raise InputError(f"unknown study kind {kind!r}; parking or charging")
    head = f"# {kind} study for {Path(network_file).name}, written by `mobility {kind} init`; edit freely.\n"
    write_text_atomic(traffic, f"# traffic of {out.name}\n" + yaml.safe_dump(sc, sort_keys=False))
    write_text_atomic(out, head + yaml.safe_dump(study, sort_keys=False))
    return out, traffic
