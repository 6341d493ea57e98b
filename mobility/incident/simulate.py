"""An incident and a response plan in SUMO: one run, its KPIs.

The incident's closures and slow lanes go in as an additional file (:func:`~mobility.incident.spec.with_incident`),
the plan's metering as variable speed signs, its detour messages through :class:`GuidanceRunner` stepping with
the simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

    from ..network import RoadNetwork
    from ..scenario import Scenario
    from .response import ResponsePlan
    from .spec import IncidentSpec

__all__ = ["affected_edges", "incident_kpis", "run_incident"]


def affected_edges(spec: IncidentSpec, network: RoadNetwork, *, hops: int = 2) -> list[str]:
    """The incident's edges and those up to ``hops`` edges upstream of them: where its queue stands.

    Parameters
    ----------
    spec : IncidentSpec
    network : RoadNetwork
    hops : int
        How far upstream, in edges.

    Returns
    -------
    list of str
    """
    into: dict[int, list[int]] = {}
    for k, h in enumerate(np.asarray(network.head)):
        into.setdefault(int(h), []).append(k)
    found = {network.edge(ev.edge) for ev in spec.events()}
    frontier = set(found)
    for _ in range(hops):
        frontier = {p for e in frontier for p in into.get(int(network.tail[e]), [])} - found
        found |= frontier
    return sorted(str(network.edge_ids[e]) for e in found)


def run_incident(scenario: Scenario, incident: IncidentSpec | None, plan: ResponsePlan | None = None, *,
                 seed: int, workdir: str | Path) -> xr.Dataset:
    """Run ``scenario`` in SUMO with the incident (None: without it) and the response plan (None: no response).

    Parameters
    ----------
    scenario : Scenario
    incident : IncidentSpec or None
    plan : ResponsePlan, optional
    seed : int
        SUMO's seed; the detour compliance draws use it too.
    workdir : path
        An existing folder for SUMO's files.

    Returns
    -------
    xarray.Dataset
        The run's results (:func:`mobility.run_scenario`'s) with ``guidance_asked`` and ``guidance_followed``
        (vehicles that saw a message and would have used an avoided edge; those that took the way round).
    """
    from ..scenario import scenario_network
    from ..simulation import Simulation
    from .response import GuidanceRunner, check_response, metering_additional
    from .spec import with_incident

    w = Path(workdir)
    network = scenario_network(scenario)
    sc = with_incident(scenario, incident, w) if incident is not None else scenario
    if plan is not None:
        check_response(plan, network)
        vt = scenario.vehicle_types[0]
        meter = metering_additional(plan, network, w / f"metering_{plan.id}.add.xml", tau_s=vt.tau_s,
                                    space_m=vt.length_m + vt.min_gap_m)
        if meter is not None:
            sc = sc.model_copy(update={"additional_files": [*sc.additional_files, meter]})
    sim = Simulation(sc, seed=seed, workdir=w, network=network)
    asked = followed = 0
    try:
        with sim:
            if plan is not None and plan.detours:
                guide = GuidanceRunner(sim, plan, seed)
                first = min(d.begin_s for d in plan.detours)
                last = max(d.end_s for d in plan.detours)
                now = sim.time
                if first > now:
                    now = sim.step(first)
                while now < min(last, sc.end_s) - 1e-9:
                    now = sim.step()
                    guide.step()
                asked, followed = guide.asked, guide.followed
            sim.run()
        ds = sim.results()
    finally:
        sim.cleanup()
    ds.attrs.update(incident=incident.id if incident is not None else "", response=plan.id if plan is not None else "",
                    guidance_asked=int(asked), guidance_followed=int(followed))
    return ds


def incident_kpis(ds: xr.Dataset, edges: list[str]) -> dict[str, float]:
    """A run's incident KPIs.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`run_incident`'s results.
    edges : list of str
        Where the incident's queue stands (:func:`affected_edges`).

    Returns
    -------
    dict
        ``vehicle_hours`` (veh h in the network or waiting to enter it, over the run), ``mean_delay_s``
        (time loss per finished trip, s), ``arrived`` (veh), ``left_over`` (veh still driving or never
        inserted at the end), ``max_queue_veh`` (halting vehicles on ``edges``, the highest interval mean),
        ``guidance_followed`` (veh).
    """
    t = np.asarray(ds["sim_time"].values, dtype=float)
    period = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    vh = float((ds["network_running"].sum() + ds["network_waiting"].sum()) * period / 3600.0)
    arrived = ds["trip_arrived"].values.astype(bool)
    loss = np.asarray(ds["trip_time_loss"].values, dtype=float)[arrived]
    present = [e for e in edges if e in set(ds["edge"].values.tolist())]
    queue = ds["edge_halting"].sel(edge=present).sum("edge") if present else ds["edge_halting"].isel(edge=[]).sum("edge")
    return {"vehicle_hours": vh, "mean_delay_s": float(loss.mean()) if loss.size else float("nan"),
            "arrived": float(arrived.sum()),
            "left_over": float(int(ds["vehicles_unfinished"]) + int(ds["vehicles_never_departed"])),
            "max_queue_veh": float(queue.max()) if queue.size else 0.0,
            "guidance_followed": float(ds.attrs.get("guidance_followed", 0))}
