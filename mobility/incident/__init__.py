"""Incident and emergency command: incidents and response plans as data, applied to SUMO runs and to the dynamic
engine.

>>> from mobility.incident import load_incident, with_incident, dta_incidents          # doctest: +SKIP
>>> inc = load_incident("crash.yaml", network=net, scenario=sc)                      # doctest: +SKIP
>>> ds = mb.dta(net, demand, incidents=dta_incidents(inc, net))                      # doctest: +SKIP
>>> mb.run_scenario(with_incident(sc, inc, "runs/crash"), seed=1)                     # doctest: +SKIP
"""

from .response import Detour, GuidanceRunner, Metering, ResponsePlan, check_response, load_response, response_to_dta
from .simulate import affected_edges, incident_kpis, run_incident
from .spec import (
    IncidentEvent,
    IncidentSpec,
    check_incident,
    dta_incidents,
    incident_additional,
    incident_diversions,
    load_incident,
    incident_gates,
    with_incident,
)

__all__ = ["Detour", "GuidanceRunner", "IncidentEvent", "IncidentSpec", "Metering", "ResponsePlan", "affected_edges",
           "check_incident", "check_response", "dta_incidents", "incident_additional", "incident_diversions",
           "incident_kpis", "load_incident",
           "incident_gates", "load_response", "response_to_dta", "run_incident", "with_incident"]
