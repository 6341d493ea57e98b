"""Buses and taxis: bus lines with timetables, transit signal priority for every signal controller, schedule
supervision (delay, headways, bunching) and taxi fleets.

>>> import mobility as mb                                                              # doctest: +SKIP
>>> study = mb.load_study("scenarios/transit/corridor5_bus.yaml")                     # doctest: +SKIP
>>> ds = mb.compare(study, ["none", "extension", "early-green", "conditional"], seeds=5)   # doctest: +SKIP
>>> print(mb.format_table(ds))                                                        # doctest: +SKIP
"""

from .plots import plot_bunching, plot_time_space
from .priority import PRIORITY_OPTIONS, BusTracker, PriorityAdaptive, ProgramPriority, Request, StateLog
from .simulate import run_transit
from .spec import (BusTrip, BusType, GtfsSource, LineSpec, PrioritySettings, StopSpec, TransitSpec, bus_trips,
                   line_stops, load_transit)

__all__ = ["PRIORITY_OPTIONS", "BusTracker", "BusTrip", "BusType", "GtfsSource", "LineSpec", "PriorityAdaptive",
           "PrioritySettings", "ProgramPriority", "Request", "StateLog", "StopSpec", "TransitSpec", "bus_trips",
           "line_stops", "load_transit", "plot_bunching", "plot_time_space", "run_transit"]
