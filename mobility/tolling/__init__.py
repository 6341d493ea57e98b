"""ETC toll plazas: generated plazas simulated in SUMO, queueing theory, and the booth mix by time of day.

>>> from mobility import tolling
>>> spec = tolling.load_plaza("scenarios/tolling/plaza8.yaml")        # doctest: +SKIP
>>> ds = tolling.run_plaza(spec, seed=1)                              # doctest: +SKIP
>>> config = tolling.optimise_mix(spec)                               # doctest: +SKIP
>>> ds = tolling.run_plaza(spec, seed=1, schedule=config.schedule())  # doctest: +SKIP
"""

from .mix import BoothModel, TollPlazaConfig, layout, optimise_mix, surrogate_delay
from .plaza import DemandPeriod, PlazaSpec, ServiceTime, build_plaza, load_plaza, plaza_demand
from .queueing import (
    booth_capacity,
    booth_service,
    mg1_first_service_wait,
    mg1_wait,
    mgc_wait,
    validate_multi_booth,
    validate_single_booth,
)
from .simulate import run_plaza

__all__ = ["BoothModel", "DemandPeriod", "PlazaSpec", "ServiceTime", "TollPlazaConfig", "booth_capacity", "booth_service",
           "build_plaza", "layout", "load_plaza", "mg1_first_service_wait", "mg1_wait", "mgc_wait", "optimise_mix",
           "plaza_demand", "period_delays", "run_plaza", "surrogate_delay", "validate_multi_booth", "validate_single_booth"]


def period_delays(ds, spec: PlazaSpec):  # noqa: ANN001, ANN201
    """Mean delay per vehicle (time loss + payment + insertion delay, s) by demand period and payment kind,
    as a Dataset on ``period``: ``delay_s``, ``delay_tagged_s``, ``delay_untagged_s``, ``vehicles``."""
    import numpy as np
    import xarray as xr

    dep = ds["trip_depart"].values
    d = ds["trip_time_loss"].values + ds["trip_service_s"].values + ds["trip_depart_delay"].values
    tag = ds["trip_tagged"].values.astype(bool)
    rows = {"delay_s": [], "delay_tagged_s": [], "delay_untagged_s": [], "vehicles": []}
    for p in spec.demand:
        sel = (dep >= p.begin_s) & (dep < p.end_s)
        rows["delay_s"].append(float(np.nanmean(d[sel])) if sel.any() else np.nan)
        rows["delay_tagged_s"].append(float(np.nanmean(d[sel & tag])) if (sel & tag).any() else np.nan)
        rows["delay_untagged_s"].append(float(np.nanmean(d[sel & ~tag])) if (sel & ~tag).any() else np.nan)
        rows["vehicles"].append(int(sel.sum()))
    coords = {"period_start_s": ("period", [p.begin_s for p in spec.demand]),
              "period_end_s": ("period", [p.end_s for p in spec.demand])}
    return xr.Dataset({k: ("period", np.array(v), {"units": "veh" if k == "vehicles" else "s"}) for k, v in rows.items()},
                      coords=coords)
