"""EV charging placement: demand and candidate sites, optimised layouts, and their comparison in SUMO.

- :mod:`.spec`: the study file (traffic scenario, EV equipment, candidate sites, charging demand);
- :mod:`.layout`: :class:`ChargingLayout` (SUMO additionals, JSON), OR-Tools and baseline layouts;
- :mod:`.simulate`: one layout in SUMO with TraCI-driven charging stops and its KPIs;
- :mod:`.study`: the charging study kind: layouts x seeds on the study executor, one Dataset with a ``layout`` dimension;
- :mod:`.trips`: OD round trips for the flow-refuelling models.
"""

from .study import build_layouts, compare_layouts, comparison_table, format_table
from .layout import (
    ChargingLayout,
    CheapSitesWarning,
    Station,
    access_costs,
    allocate_points,
    greedy_layout,
    layout_from_spec,
    load_layout,
    optimal_layout,
    random_layout,
)
from .simulate import run_charging
from .spec import (
    CandidateEdges,
    CandidateSite,
    ChargingSpec,
    DemandPoint,
    Dist,
    candidate_sites,
    charging_scenario,
    demand_points,
    load_charging,
)
from .trips import od_round_trips

__all__ = ["CandidateEdges", "CandidateSite", "ChargingLayout", "ChargingSpec", "CheapSitesWarning", "DemandPoint", "Dist", "Station",
           "access_costs", "allocate_points", "build_layouts", "candidate_sites", "charging_scenario",
           "compare_layouts", "comparison_table", "demand_points", "format_table", "greedy_layout",
           "layout_from_spec", "load_charging", "load_layout", "od_round_trips", "optimal_layout", "random_layout",
           "run_charging"]
