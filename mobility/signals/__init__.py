"""Signal control: stage-based plans, safety validation, controllers and their evaluation in SUMO."""

from .plan import (
    OffsetReference,
    SignalPlan,
    Stage,
    Validity,
    load_plans,
    phase_states,
    plans_from_net,
    plans_from_sumo,
    plans_to_sumo,
    save_plans,
)
from .safety import (
    Movement,
    SignalModel,
    UnsafePlanError,
    Violation,
    check_plan,
    signal_models,
    validate_plan,
)

__all__ = [
    "Movement",
    "OffsetReference",
    "SignalModel",
    "SignalPlan",
    "Stage",
    "UnsafePlanError",
    "Validity",
    "Violation",
    "check_plan",
    "load_plans",
    "phase_states",
    "plans_from_net",
    "plans_from_sumo",
    "plans_to_sumo",
    "save_plans",
    "signal_models",
    "validate_plan",
]
