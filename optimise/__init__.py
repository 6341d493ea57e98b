"""OR-Tools optimisation models as pure functions: problem arrays in, a small frozen result out.

This package never imports ``mobility`` or SUMO; it speaks numpy arrays and dataclasses.
"""

from .location import LocationResult, capacitated_facility_location, greedy_p_median, maximal_covering, p_median

__all__ = ["LocationResult", "capacitated_facility_location", "greedy_p_median", "maximal_covering", "p_median"]
