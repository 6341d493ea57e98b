"""Calibration to counts: count readers, OD matrix estimation, route-flow calibration for SUMO, the fit report."""

from .api import calibrate
from .counts import Counts, CountsError, counts_from_rows, read_counts
from .fit import fit_dataset, fit_summary, format_fit, geh, plot_fit, plot_geh_map
from .odme import ODME_METHODS, estimate_od, od_matrix
from .routes import calibrate_routes, read_vehroutes, simulated_counts

__all__ = ["Counts", "CountsError", "ODME_METHODS", "calibrate", "calibrate_routes", "counts_from_rows", "estimate_od", "fit_dataset", "fit_summary",
           "format_fit", "geh", "od_matrix", "plot_fit", "plot_geh_map", "read_counts", "read_vehroutes",
           "simulated_counts"]
