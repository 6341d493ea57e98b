"""EV charging placement: demand and candidate sites, optimised layouts, and their comparison in SUMO."""

from .trips import od_round_trips

__all__ = ["od_round_trips"]
