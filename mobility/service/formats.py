"""Exports of a plan version in the forms command-centre systems import.

- SUMO ``tlLogic`` + ``WAUT`` (:func:`mobility.signals.plans_to_sumo`), read back by ``plans_from_sumo``;
- GA/T 1049.2-style JSON: ``StageParam`` (stages and the signal groups they serve), ``PlanParam`` with its
  ``StageTiming`` list (green, yellow, all-red, min and max green per stage), ``DayPlanParam`` periods and a
  ``ScheduleParam`` (days of the week);
- NTCIP 1202-style JSON: a single-ring ``sequence`` of phases (one phase per stage), the ``phase`` table
  (minimum green, maximum, yellow change, red clearance), the ``split`` table (split = green + yellow +
  all-red, the coordinated phase marked) and the ``pattern`` (cycle, offset, split and sequence numbers).

Both JSON forms follow the field names of those standards for the objects a fixed-time plan needs; they
are exchange documents, not complete controller databases.
"""

from __future__ import annotations

from typing import Any

from ..signals.plan import SignalPlan, plans_to_sumo

__all__ = ["FORMATS", "export_version"]

FORMATS = ("sumo", "gat1049", "ntcip1202")


def _hhmm(seconds: float) -> str:
    s = round(seconds) % 86400 if seconds < 86400 else 86400
    return "24:00" if s == 86400 else f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def gat1049(plan: SignalPlan, plan_no: int, version: int) -> dict[str, Any]:
    """GA/T 1049.2-style document for one plan."""
    days = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
    stages = [{
        "CrossID": plan.junction, "StageNo": k + 1, "StageName": st.name or f"stage {k + 1}",
        "SignalGroupStatusList": (
            [{"SignalGroupNo": i + 1, "LampStatus": "green"} for i in st.green]
            + [{"SignalGroupNo": i + 1, "LampStatus": "green_permissive"} for i in st.permissive]
            + [{"SignalGroupNo": i + 1, "LampStatus": "stop_then_go"} for i in st.stop]),
    } for k, st in enumerate(plan.stages)]
    timing = [{"StageNo": k + 1, "Green": st.green_s, "Yellow": st.yellow_s, "AllRed": st.all_red_s,
               "MinGreen": st.min_green_s, "MaxGreen": st.max_green_s,
               "Passage": (st.passage_s or plan.actuation.passage_s) if plan.actuation is not None else None}
              for k, st in enumerate(plan.stages)]
    periods = [{"StartTime": _hhmm(plan.validity.start_s), "PlanNo": plan_no, "CtrlMode": "fixed_time"}]
    return {
        "standard": "GA/T 1049.2 (style)",
        "StageParamList": stages,
        "PlanParam": {"CrossID": plan.junction, "PlanNo": plan_no, "PlanName": plan.plan_id, "Version": version,
                      "CycleLen": plan.cycle_s, "CoordStageNo": plan.offset_reference.stage + 1, "OffSet": plan.offset_s,
                      "StageNoList": [k + 1 for k in range(len(plan.stages))], "StageTimingList": timing},
        "DayPlanParam": {"CrossID": plan.junction, "DayPlanNo": plan_no, "PeriodList": periods,
                         "EndTime": _hhmm(plan.validity.end_s)},
        "ScheduleParam": {"CrossID": plan.junction, "ScheduleNo": plan_no, "ScheduleType": "week",
                          "WeekDay": [days[d] for d in plan.validity.days], "DayPlanNo": plan_no},
        "SignalGroupCount": plan.n_links,
    }


def ntcip1202(plan: SignalPlan, plan_no: int, version: int) -> dict[str, Any]:
    """NTCIP 1202-style document for one plan (one ring, one phase per stage)."""
    act = plan.actuation
    # the phase options a field controller is set to: fixed time (non-actuated), actuated with a minimum
    # recall on every phase (SUMO runs each at least its minimum), or skipped without a call (no recall)
    options = (["enabled", "nonActuated"] if act is None else ["enabled"] if act.skip else ["enabled", "minVehicleRecall"])
    phases = [{"phaseNumber": k + 1, "phaseMinimumGreen": st.min_green_s, "phaseMaximum1": st.max_green_s,
               "phasePassage": (st.passage_s or act.passage_s) if act is not None else None,
               "phaseYellowChange": st.yellow_s, "phaseRedClear": st.all_red_s, "phaseRing": 1,
               "phaseOptions": options,
               "phaseMovements": {"protected": list(st.green), "permissive": list(st.permissive),
                                  "stopThenGo": list(st.stop)}}
              for k, st in enumerate(plan.stages)]
    coord = act.coordinated_stage if act is not None and act.coordinated else plan.offset_reference.stage
    splits = [{"splitNumber": plan_no, "splitPhase": k + 1, "splitTime": st.duration_s,
               "splitMode": "coordinatedPhase" if k == coord else "none", "splitCoordPhase": k == coord}
              for k, st in enumerate(plan.stages)]
    return {
        "standard": "NTCIP 1202 (style)",
        "intersection": plan.junction,
        "phaseTable": phases,
        "sequenceTable": [{"sequenceNumber": plan_no, "sequenceRingNumber": 1,
                           "sequenceData": [k + 1 for k in range(len(plan.stages))]}],
        "splitTable": splits,
        "patternTable": [{"patternNumber": plan_no, "patternName": f"{plan.plan_id} v{version}",
                          "patternMode": plan.kind,  # fixed, actuated (free), actuated-coordinated
                          "patternCycleTime": plan.cycle_s if act is None or act.coordinated else 0.0,
                          "patternOffsetTime": plan.offset_s,
                          "patternOffsetReference": "beginOfGreenOfCoordinatedPhase",
                          "patternSplitNumber": plan_no, "patternSequenceNumber": plan_no}],
        "timebaseSchedule": {"days": list(plan.validity.days), "start": _hhmm(plan.validity.start_s),
                             "end": _hhmm(plan.validity.end_s), "patternNumber": plan_no},
        "signalCount": plan.n_links,
    }


def export_version(doc: dict[str, Any], fmt: str) -> str | dict[str, Any]:
    """A stored version document in format ``fmt`` (SUMO XML as text, the others as JSON objects)."""
    plan = SignalPlan.model_validate(doc["signal_plan"])
    if fmt == "sumo":
        return plans_to_sumo([plan], provenance=f"mobility plan service: plan {doc['plan']} version {doc['version']} "
                                                f"({doc['state']})")
    if fmt == "gat1049":
        return gat1049(plan, doc["plan"], doc["version"])
    if fmt == "ntcip1202":
        return ntcip1202(plan, doc["plan"], doc["version"])
    raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
