"""mobility: traffic and mobility simulation and optimisation.

Load a road network, describe a scenario, run it in SUMO, read the results as an xarray Dataset:

>>> import mobility as mb
>>> sc = mb.load_scenario("scenarios/signal_control/grid3x3.yaml")   # doctest: +SKIP
>>> ds = mb.run_scenario(sc, seed=1)                                 # doctest: +SKIP
>>> mb.kpis(ds)                                                      # doctest: +SKIP
"""

from ._errors import (
    DemandError,
    InputError,
    MobilityError,
    NetworkError,
    ScenarioError,
    SimulationError,
    SumoVersionError,
    SumoVersionWarning,
)
from ._sumo import installed_versions, warn_on_version_problem
from .assignment import assign, compare_flows
from .calibration import calibrate, calibrate_routes, estimate_od, read_counts
from .ctm import run_ctm
from .dta import DynamicDemand, Diversion, Incident, demand_from_od, demand_from_scenario, dta
from .network import (
    RoadNetwork,
    generate_corridor,
    generate_grid,
    generate_spider,
    network_from_sumo,
)
from .osm import import_osm, network_from_osm
from .load import load_network
from .scenario import Scenario, load_scenario, save_scenario, scenario_from_dict
from .sumocfg import import_sumocfg, save_sumocfg, scenario_detectors
from .simulation import Simulation, run_scenario
from .study import Study, StudyKind, compare, format_table, load_study, study_table
from .tntp import ODMatrix, network_from_tntp, od_from_tntp, read_tntp_flows

warn_on_version_problem()


def __getattr__(name: str):  # results and plots pull in xarray/matplotlib: load them on first use
    if name in ("kpis", "save_results", "load_results", "dataset_from_outputs"):
        from . import results

        return getattr(results, name)
    if name in ("plot_network", "plot_vehicles", "plot_edge_timeseries", "plot_convergence", "plot_controller_delay",
                "plot_junction_queues", "plot_toll_periods", "plot_delay_vs_penetration", "plot_space_time"):
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'mobility' has no attribute {name!r}")


__all__ = [
    "DynamicDemand",
    "Diversion",
    "Incident",
    "demand_from_od",
    "demand_from_scenario",
    "dta",
    "import_sumocfg",
    "save_scenario",
    "save_sumocfg",
    "scenario_detectors",
    "DemandError",
    "InputError",
    "MobilityError",
    "NetworkError",
    "ODMatrix",
    "RoadNetwork",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Study",
    "StudyKind",
    "SimulationError",
    "SumoVersionError",
    "SumoVersionWarning",
    "assign",
    "calibrate",
    "calibrate_routes",
    "estimate_od",
    "read_counts",
    "compare",
    "compare_flows",
    "format_table",
    "generate_corridor",
    "generate_grid",
    "generate_spider",
    "installed_versions",
    "kpis",
    "load_network",
    "load_results",
    "load_scenario",
    "load_study",
    "network_from_osm",
    "import_osm",
    "network_from_sumo",
    "network_from_tntp",
    "od_from_tntp",
    "plot_convergence",
    "plot_network",
    "plot_vehicles",
    "read_tntp_flows",
    "run_ctm",
    "run_scenario",
    "save_results",
    "scenario_from_dict",
    "study_table",
]
