"""Response plans generated for an incident and ranked by the dynamic engine in seconds.

- :func:`candidate_responses`: no response; detour messages on signs upstream of the incident (each sign
  alone and the nearest signs together, at several compliance levels); metering of the approaches to the
  incident at the capacity the incident leaves, alone and with the detour; signals retimed around it.
- :func:`rank_responses`: each plan loaded on the dynamic engine (:func:`mobility.dta`, one loading on the
  drivers' free-flow routes, as SUMO routes them; the plan's detours as diversions, its metering as capacity
  drops, its retimed signals as programs in force over their windows; the incident as a capacity drop) and
  ranked by the vehicle-hours over the scenario's window (in the network or waiting to enter it), against the
  same loading without the incident.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ..dta import DynamicDemand
    from ..network import RoadNetwork
    from ..scenario import Scenario
    from .response import ResponsePlan
    from .spec import IncidentSpec

__all__ = ["candidate_responses", "engine_vehicle_hours", "rank_responses", "sumo_routes_demand"]

#: Compliance levels of the generated detour messages (shares of the drivers concerned who follow them).
COMPLIANCE = (0.3, 0.6, 0.9)


def _signs(network: RoadNetwork, incident: IncidentSpec, max_signs: int) -> list[tuple[str, int]]:
    """Edges upstream of the incident's first edge, nearest first, with their distance in edges, from which a
    way leads round it."""
    from .response import _way_round
    from .spec import upstream_layers

    target = network.edge(incident.edge)
    # the incident road's other direction is no place for its detour sign
    back = {k for k in range(network.n_edges) if int(network.head[k]) == int(network.tail[target])
            and int(network.tail[k]) == int(network.head[target])}
    out: list[tuple[str, int]] = []
    for hop, layer in enumerate(upstream_layers(network, {target}, 6, skip=back), start=1):
        out += [(str(network.edge_ids[p]), hop) for p in layer if _way_round(network, p, [target])]
        if len(out) >= max_signs:
            break
    return out[:max_signs]


def _id_part(edge: str) -> str:
    """An edge id as it may appear in a plan id (SUMO's ``#`` and other signs become ``_``)."""
    import re

    return re.sub(r"[^A-Za-z0-9_.\-]", "_", edge)


def _retimings(incident: IncidentSpec, network: RoadNetwork, current: dict[str, Any], share: float
               ) -> dict[str, list[dict[str, Any]]]:
    """Retiming variants: the signal after the incident (its stages that serve the incident's edge) and the one
    before it (its stages that feed the edge) give those stages ``share`` of their green (at least their minimum)
    and the time saved to the other stages, cycle kept."""
    from ..signals.safety import signal_models, validate_plan

    if network.net_file is None:
        return {}
    models = signal_models(network.net_file)
    edge = incident.edge
    found: dict[str, dict[str, Any]] = {}
    for where, key in (("after", "from_edge"), ("before", "to_edge")):
        for tls, m in models.items():
            own = current.get(tls)
            if own is None or own.actuation is not None:
                continue
            links = {i for i, mv in m.movements.items() if getattr(mv, key) == edge}
            hit = [k for k, st in enumerate(own.stages) if st.served & links]
            if not links or not hit or len(hit) == len(own.stages):
                continue
            g = [st.green_s for st in own.stages]
            new = list(g)
            for k in hit:
                new[k] = max(own.stages[k].min_green_s, 5.0, g[k] * share)
            saved = sum(g) - sum(new)
            rest = [k for k in range(len(g)) if k not in hit]
            weight = sum(g[k] for k in rest)
            for k in rest:
                new[k] = g[k] + saved * g[k] / weight
            plan = own.with_timing(new)
            if saved > 1.0 and not validate_plan(plan, m):
                found[where] = {"junction": tls, "greens_s": [round(x, 1) for x in new],
                                "begin_s": incident.begin_s, "end_s": min(incident.end_s, 86400.0)}
                break
    return found


def candidate_responses(incident: IncidentSpec, network: RoadNetwork, *, max_signs: int = 3,
                        compliance: Sequence[float] = COMPLIANCE, current: dict[str, Any] | None = None
                        ) -> list[ResponsePlan]:
    """Response plans for ``incident``, generated from the network.

    Parameters
    ----------
    incident : IncidentSpec
    network : RoadNetwork
    max_signs : int
        Signs considered: the nearest edges upstream of the incident that have a way round it.
    compliance : sequence of float
        Compliance levels of the detour messages.
    current : dict of str to SignalPlan, optional
        The programs the signals run (default: the network's own), for the retiming variants.

    Returns
    -------
    list of ResponsePlan
        ``no_response`` first; then detours on each sign and on all of them together at each compliance,
        metering of the incident's approaches, the best-placed detour with metering, and signals retimed around
        the incident (the one after it, the one before it, both; the stages at the incident's edge get the share
        of their green the incident leaves, the others the time saved) alone and with the best-placed detour.
    """
    from .response import ResponsePlan
    from .spec import _predecessors, capacity_share

    t0, t1 = incident.begin_s, incident.end_s
    avoid = [incident.edge]
    plans = [ResponsePlan(id="no_response", incident=incident.id, description="no response")]
    signs = _signs(network, incident, max_signs)

    def detour(sign: str, c: float) -> dict[str, Any]:
        return {"sign_edge": sign, "avoid": avoid, "begin_s": t0, "end_s": t1, "compliance": c,
                "message": f"Incident on {incident.edge}: follow the detour"}

    for c in compliance:
        for sign, hop in signs:
            plans.append(ResponsePlan(id=f"detour_{_id_part(sign)}_{int(round(c * 100))}", incident=incident.id,
                                      description=f"detour message at {sign} ({hop} edge(s) upstream), "
                                                  f"{c:.0%} compliance", detours=[detour(sign, c)]))
        if len(signs) > 1:
            plans.append(ResponsePlan(id=f"detour_all_{int(round(c * 100))}", incident=incident.id,
                                      description=f"detour messages at {', '.join(s for s, _ in signs)}, "
                                                  f"{c:.0%} compliance", detours=[detour(s, c) for s, _ in signs]))
    # metering: the approaches let through what the incident leaves
    e = network.edge(incident.edge)
    left = float(network.capacity[e]) * capacity_share(network, incident)
    approaches = _predecessors(network, e)
    meter = []
    for p in approaches:
        rate = min(0.9 * float(network.capacity[p]), max(left / max(len(approaches), 1), 0.05 * float(network.capacity[p])))
        meter.append({"edge": str(network.edge_ids[p]), "rate_veh_h": rate, "begin_s": t0, "end_s": t1})
    if meter:
        plans.append(ResponsePlan(id="metering", incident=incident.id, description="approaches metered to what the "
                                  "incident leaves", metering=meter))
        if signs:
            c = compliance[len(compliance) // 2]
            plans.append(ResponsePlan(id=f"detour_{_id_part(signs[0][0])}_metering", incident=incident.id,
                                      description=f"detour at {signs[0][0]} ({c:.0%}) and metering",
                                      detours=[detour(signs[0][0], c)], metering=meter))
    if network.net_file is not None and incident.begin_s < 86400.0:
        from ..signals.plan import plans_from_net

        own = current if current is not None else plans_from_net(network.net_file)
        retime = _retimings(incident, network, own, max(left / float(network.capacity[e]), 0.2))
        variants = {f"retime_{w}": [r] for w, r in retime.items()}
        if len(retime) == 2:
            variants["retime_both"] = list(retime.values())
        for name, parts in variants.items():
            plans.append(ResponsePlan(id=name, incident=incident.id, retiming=parts,
                                      description=f"signals {', '.join(p['junction'] for p in parts)} retimed"))
        if signs and variants:
            name, parts = list(variants.items())[-1]
            c = compliance[len(compliance) // 2]
            plans.append(ResponsePlan(id=f"detour_{_id_part(signs[0][0])}_{name}", incident=incident.id,
                                      description=f"detour at {signs[0][0]} ({c:.0%}) and {name}",
                                      detours=[detour(signs[0][0], c)], retiming=parts))
    return plans


def sumo_routes_demand(scenario: Scenario, network: RoadNetwork, *, seed: int, workdir: str | Path,
                       interval_s: float = 300.0) -> DynamicDemand:
    """The scenario's demand on the routes SUMO's drivers take without the incident: one SUMO run (its route
    output, drivers routed as :func:`~mobility.incident.simulate.run_incident` routes them) read back as fixed
    routes for the dynamic engine. Where a street grid offers many routes of equal
    length, the engine's and SUMO's routers break the ties differently; these routes put the engine's traffic
    on the streets SUMO's is on.

    Parameters
    ----------
    scenario : Scenario
    network : RoadNetwork
    seed : int
        SUMO's seed for that run.
    workdir : path
        An existing folder for the run's files.
    interval_s : float, s
        The demand's departure intervals.

    Returns
    -------
    DynamicDemand
    """
    from ..dta import demand_from_scenario
    from ..simulation import run_scenario
    from .simulate import uninformed

    w = Path(workdir)
    scenario = uninformed(scenario)
    sumo = scenario.sumo.model_copy(update={"extra_args": [*scenario.sumo.extra_args, "--vehroute-output",
                                                           "vehroutes.xml"]})
    run_scenario(scenario.model_copy(update={"sumo": sumo}), seed=seed, workdir=w)
    routes = scenario.model_copy(update={"demand": _files_demand(w / "vehroutes.xml"), "additional_files": []})
    return demand_from_scenario(routes, network, interval_s=interval_s)


def _files_demand(path: Path) -> Any:
    from ..scenario import RouteFileDemand

    return RouteFileDemand(kind="files", files=[path])


def engine_vehicle_hours(ds: Any, begin_s: float, end_s: float) -> float:
    """Vehicle-hours in a dynamic engine result over ``[begin_s, end_s]``: on edges or waiting to enter.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`mobility.dta`'s result.
    begin_s, end_s : float, s

    Returns
    -------
    float
        veh h.
    """
    t = np.asarray(ds["step_time"].values, dtype=float)
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    keep = (t > begin_s) & (t <= end_s + 1e-9)
    veh = ds["balance_on_edges"].values[keep] + ds["balance_waiting"].values[keep]
    return float(veh.sum() * dt / 3600.0)


def rank_responses(scenario: Scenario, incident: IncidentSpec, plans: Sequence[ResponsePlan], *,
                   network: RoadNetwork | None = None, demand: DynamicDemand | None = None, dt: float = 2.0,
                   packet_veh: float = 1.0, progress: Callable[[int, int, str], None] | None = None,
                   keep: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rank response plans by the dynamic engine's vehicle-hours.

    Parameters
    ----------
    scenario : Scenario
        Its network, demand (:func:`mobility.dta.demand_from_scenario`) and window.
    incident : IncidentSpec
    plans : sequence of ResponsePlan
    network : RoadNetwork, optional
        The scenario's (read when omitted).
    demand : DynamicDemand, optional
        The scenario's demand (derived when omitted).
    dt : float, s
        The engine's time step.
    packet_veh : float, veh
        The engine's packet size.
    progress : callable, optional
        ``progress(done, total, plan id)`` after each plan.
    keep : dict, optional
        Filled with each plan's engine result (``{plan id: Dataset}``, and ``"no_incident"``) for figures.

    Returns
    -------
    pandas.DataFrame
        One row per plan, best first: ``plan``, ``vehicle_hours`` (veh h), ``induced_vehicle_hours`` (against the
        loading without the incident), ``rank`` (1 best), ``seconds`` (wall time of its loading); ``attrs``
        holds the no-incident vehicle-hours and the total wall time.
    """
    import pandas as pd

    from ..dta import demand_from_scenario, dta
    from ..scenario import scenario_network
    from ..signals.current import current_plans
    from .response import response_to_dta, retimed_plans
    from .spec import check_incident, dta_incidents, incident_diversions

    t_start = time.perf_counter()
    network = network if network is not None else scenario_network(scenario)
    check_incident(incident, network, scenario)
    demand = demand if demand is not None else demand_from_scenario(scenario, network)
    window = (scenario.begin_s, scenario.end_s)
    kw = {"method": "dnl", "dt": dt, "packet_veh": packet_veh, "horizon_s": scenario.end_s - demand.t0,
          "measure_gap": False}
    calm = dta(network, demand, **kw)
    base = engine_vehicle_hours(calm, *window)
    if keep is not None:
        keep["no_incident"] = calm
    drops = dta_incidents(incident, network)
    turn_off = incident_diversions(incident, network)
    current = current_plans(scenario) if network.net_file is not None and any(p.retiming for p in plans) else {}
    rows = []
    for i, plan in enumerate(plans):
        t0 = time.perf_counter()
        meter, diversions = response_to_dta(plan, network)
        ds = dta(network, demand, incidents=[*drops, *meter], diversions=[*turn_off, *diversions],
                 signal_plans=retimed_plans(plan, network, current), **kw)
        vh = engine_vehicle_hours(ds, *window)
        if keep is not None:
            keep[plan.id] = ds
        rows.append({"plan": plan.id, "vehicle_hours": vh, "induced_vehicle_hours": vh - base,
                     "seconds": time.perf_counter() - t0})
        if progress is not None:
            progress(i + 1, len(plans), plan.id)
    out = pd.DataFrame(rows).sort_values("vehicle_hours", kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs.update(no_incident_vehicle_hours=base, seconds=time.perf_counter() - t_start)
    return out
