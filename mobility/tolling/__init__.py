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
from .simulate import period_delays, run_plaza
from .study import compare_mixes

__all__ = ["BoothModel", "DemandPeriod", "PlazaSpec", "ServiceTime", "TollPlazaConfig", "booth_capacity", "booth_service",
           "build_plaza", "compare_mixes", "layout", "load_plaza", "mg1_first_service_wait", "mg1_wait", "mgc_wait", "optimise_mix",
           "plaza_demand", "period_delays", "run_plaza", "surrogate_delay", "validate_multi_booth", "validate_single_booth"]

