"""Signal control: stage-based plans, safety validation, controllers and their evaluation in SUMO."""

from .actuated import recommend_actuated
from .control import AdaptiveSettings, run_controlled, sumo_actuated
from .current import current_plans
from .evaluate import evaluate, recommend_plans, summary_table
from .plan import (
    Actuation,
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
from .timing import movement_flows, optimise_plans, webster_plans, write_plan_files

__all__ = [
    "Actuation",
    "AdaptiveSettings",
    "Movement",
    "OffsetReference",
    "SignalModel",
    "SignalPlan",
    "Stage",
    "UnsafePlanError",
    "Validity",
    "Violation",
    "check_plan",
    "current_plans",
    "evaluate",
    "load_plans",
    "movement_flows",
    "optimise_plans",
    "phase_states",
    "plans_from_net",
    "plans_from_sumo",
    "plans_to_sumo",
    "recommend_actuated",
    "recommend_plans",
    "run_controlled",
    "save_plans",
    "signal_models",
    "sumo_actuated",
    "summary_table",
    "validate_plan",
    "webster_plans",
    "write_plan_files",
]
