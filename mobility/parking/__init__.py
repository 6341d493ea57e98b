"""Parking guidance: parking supply and seekers, guidance strategies run in SUMO, their comparison.

>>> from mobility.parking import load_parking, compare_strategies, format_table        # doctest: +SKIP
>>> spec = load_parking("scenarios/parking/district.yaml")                            # doctest: +SKIP
>>> ds = compare_strategies(spec, ["none", "realtime", "optimised"], seeds=[1, 2])   # doctest: +SKIP
>>> print(format_table(ds))                                                           # doctest: +SKIP
"""

from .study import compare_strategies, comparison_table, format_table
from .simulate import STRATEGIES, parking_additional, run_parking, stop_output_parkings
from .spec import (
           Lot,
           OnStreet,
           ParkingArea,
           ParkingSpec,
           Seeker,
           SeekerGen,
           load_parking,
           parking_areas,
           seekers,
)

__all__ = ["STRATEGIES", "Lot", "OnStreet", "ParkingArea", "ParkingSpec", "Seeker", "SeekerGen", "compare_strategies",
           "comparison_table", "format_table", "load_parking",
           "parking_additional", "parking_areas", "run_parking", "seekers", "stop_output_parkings"]
