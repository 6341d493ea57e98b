"""Incident and emergency command: incidents as data, applied to SUMO runs and to the dynamic engine.

>>> from mobility.incident import load_incident, with_incident, dta_incidents          # doctest: +SKIP
>>> inc = load_incident("crash.yaml", network=net, scenario=sc)                      # doctest: +SKIP
>>> ds = mb.dta(net, demand, incidents=dta_incidents(inc, net))                      # doctest: +SKIP
>>> mb.run_scenario(with_incident(sc, inc, "runs/crash"), seed=1)                     # doctest: +SKIP
"""

from .spec import (
    IncidentEvent,
    IncidentSpec,
    check_incident,
    dta_incidents,
    incident_additional,
    load_incident,
    passing_speed,
    with_incident,
)

__all__ = ["IncidentEvent", "IncidentSpec", "check_incident", "dta_incidents", "incident_additional", "load_incident",
           "passing_speed", "with_incident"]
