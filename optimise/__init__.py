"""OR-Tools optimisation models as pure functions: problem arrays in, a small frozen result out.

This package never imports ``mobility`` or SUMO; it speaks numpy arrays and dataclasses.
"""

from .parking import ParkingAssignment, parking_assignment
from .location import LocationResult, capacitated_facility_location, greedy_p_median, maximal_covering, p_median
from .refuelling import (
    RefuellingResult,
    RoundTrip,
    arc_cover_sets,
    capacitated_flow_refuelling,
    flow_refuelling,
    greedy_flow_refuelling,
    round_trip,
    trip_feasible,
)

__all__ = ["LocationResult", "ParkingAssignment", "parking_assignment", "RefuellingResult", "RoundTrip", "arc_cover_sets", "capacitated_facility_location",
           "capacitated_flow_refuelling", "flow_refuelling", "greedy_flow_refuelling", "greedy_p_median",
           "maximal_covering", "p_median", "round_trip", "trip_feasible"]
