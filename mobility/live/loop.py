"""The live loop: a feed source in, the model kept in step, incidents found, responses ranked for the operator.

:func:`run_live` takes any source of ``(now_s, FeedBatch)`` (:class:`~mobility.live.feeds.ReplaySource`,
:class:`~mobility.live.feeds.FolderWatcher`), checks every record (:class:`~mobility.live.feeds.FeedGuard`),
updates the :class:`~mobility.live.model.LiveModel` and, when it finds an incident, generates response plans
(:func:`mobility.incident.rank.candidate_responses`: detour messages at several compliance levels, metering,
signals retimed) and ranks them on the engine from the current state (:func:`mobility.incident.rank.rank_responses`
with the corrected demand). The plans go to the operator (and, with a client, to the plan service as drafts:
someone else approves them). Every prediction is scored against what the feeds show later
(:func:`prediction_quality`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ..network import RoadNetwork
    from ..scenario import Scenario
    from .feeds import FeedBatch, StationTable
    from .model import Detection, LiveModel, StepReport

__all__ = ["LiveResult", "prediction_quality", "run_live", "steps_table"]


@dataclass
class LiveResult:
    """What a live run did: the model (its state, history and predictions), the steps, the incidents found with
    their response rankings (``{incident id: DataFrame}``) and the engine's loading when each was found (its state
    then and its prediction ahead, ``at_detection``), the records dropped (``(source, reason)``) and the
    prediction quality over time."""

    model: LiveModel
    steps: list[StepReport]
    detections: list[Detection]
    rankings: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    at_detection: list[Any] = field(default_factory=list)
    recommended: dict[str, tuple[str, str]] = field(default_factory=dict)

    def quality(self, leads_s: Iterable[float] = (900.0, 1800.0, 3600.0)) -> pd.DataFrame:
        """:func:`prediction_quality` of the run's model."""
        return prediction_quality(self.model, leads_s)


def incident_spec(det: Detection, network: RoadNetwork, duration_s: float) -> Any:
    """A detection as an :class:`~mobility.incident.spec.IncidentSpec` (every lane of its edge at the capacity
    share left it was fitted with; lasting ``duration_s`` from its start).

    Parameters
    ----------
    det : Detection
    network : RoadNetwork
    duration_s : float, s

    Returns
    -------
    IncidentSpec
    """
    import re

    from ..incident.spec import IncidentSpec

    ident = re.sub(r"[^A-Za-z0-9_.\-]", "_", f"live_{det.edge}_{int(det.begin_s)}")[:100]
    return IncidentSpec(id=ident, edge=det.edge, begin_s=max(det.begin_s, 0.0), duration_s=duration_s,
                        capacity_left=min(max(det.capacity_factor, 0.0), 0.99),
                        description=f"found in the feeds at {det.found_s:.0f} s (stations {', '.join(det.stations)})")


def run_live(scenario: Scenario, source: Iterable[tuple[float, FeedBatch]], stations: StationTable, *,
             model: LiveModel | None = None, network: RoadNetwork | None = None, demand: Any = None,
             respond: bool = True, max_signs: int = 3, check: bool = False, top: int = 3,
             seeds: tuple[int, ...] = (1, 2), check_seeds: tuple[int, ...] = (3,), workers: int = 2, client: Any = None,
             progress: Callable[[StepReport, LiveModel], None] | None = None,
             on_ranking: Callable[[Detection, Any], None] | None = None, **model_kw: Any) -> LiveResult:
    """Run the live loop over ``source`` until it ends.

    Parameters
    ----------
    scenario : Scenario
        The typical day: network, demand window, signals.
    source : iterable of (float, FeedBatch)
        Feed batches with the time they run to (s).
    stations : StationTable
    model : LiveModel, optional
        A model to continue; by default one on ``demand`` (default: the scenario's, :func:`mobility.dta.demand_from_scenario`).
    network : RoadNetwork, optional
    demand : DynamicDemand, optional
        The prior demand (e.g. :func:`mobility.incident.rank.sumo_routes_demand` of a typical-day SUMO run).
    respond : bool
        Rank responses to each incident found.
    max_signs : int
        Detour signs tried per incident.
    check : bool
        Check ``top`` plans in SUMO (the scenario with the incident as found: the engine's best of each kind of
        response first) on ``seeds`` and keep the best only if it also beats no response on ``check_seeds``
        (:func:`mobility.incident.respond.check_responses`); the result is in ``recommended``.
    top : int
    seeds, check_seeds : tuple of int
    workers : int
        SUMO runs at once for the check.
    client : PlanClient, optional
        Submit each incident's recommended plan as a draft: the one SUMO confirmed with ``check``, else the engine's
        best if it beats no response there (marked as not checked in SUMO).
    progress : callable, optional
        ``progress(report, model)`` after every step.
    on_ranking : callable, optional
        ``on_ranking(detection, ranking)`` when responses are ranked.
    **model_kw
        :class:`LiveModel` settings.

    Returns
    -------
    LiveResult
    """
    from ..dta import demand_from_scenario
    from ..scenario import scenario_network
    from .sources import FeedGuard
    from .model import LiveModel

    t_start = time.perf_counter()
    net = network if network is not None else (model.network if model is not None else scenario_network(scenario))
    if model is None:
        model = LiveModel(net, demand if demand is not None else demand_from_scenario(scenario, net), stations,
                          **model_kw)
    lanes = {str(e): int(n) for e, n in zip(net.edge_ids, net.lanes, strict=True)}
    guard = FeedGuard(stations, lanes=lanes)
    out = LiveResult(model, [], [])
    secs = {"update": 0.0, "rank": 0.0}
    ranked_at: dict[tuple[str, float], float] = {}
    for now, batch in source:
        rec = guard.check(batch)
        t0 = time.perf_counter()
        rep = model.update(now, rec, silent=guard.silent(now))
        secs["update"] += time.perf_counter() - t0
        out.steps.append(rep)
        if progress is not None:
            progress(rep, model)
        out.detections += rep.detections
        out.at_detection += [model.run for _ in rep.detections]   # the state and prediction when it was found
        for det in [*rep.detections, *rep.refitted]:
            # rank on finding it, and again when its capacity left is re-fitted by 0.1 or more
            key = (det.edge, det.begin_s)
            if key in ranked_at and abs(ranked_at[key] - det.capacity_factor) < 0.1 - 1e-9:
                continue
            ranked_at[key] = det.capacity_factor
            if respond:
                t0 = time.perf_counter()
                ranking, plans, spec = _rank(scenario, model, det, max_signs)
                secs["rank"] += time.perf_counter() - t0
                ranking.attrs.update(found_s=det.found_s, incident=spec.id)
                out.rankings[spec.id] = ranking
                out.plans[spec.id] = plans
                if on_ranking is not None:
                    on_ranking(det, ranking)
                best = None
                if check:
                    t0 = time.perf_counter()
                    best = _check(scenario, spec, plans, ranking, top, seeds, check_seeds, workers)
                    secs["check"] = secs.get("check", 0.0) + time.perf_counter() - t0
                    out.recommended[spec.id] = best
                if client is not None and (best is None or best[0] != "no_response"):
                    sub = _submit(client, scenario, spec, ranking, plans, best)
                    if sub is not None:
                        out.submitted.append(sub)
    out.dropped = list(guard.dropped)
    secs["total"] = time.perf_counter() - t_start
    out.seconds = secs
    return out


def _rank(scenario: Scenario, model: LiveModel, det: Detection, max_signs: int) -> tuple[Any, dict[str, Any], Any]:
    from ..incident.rank import candidate_responses, rank_responses
    from ..signals.current import current_plans

    net = model.network
    spec = incident_spec(det, net, model.assumed_duration_s)
    own = current_plans(scenario) if net.net_file is not None else None
    plans = {p.id: p for p in candidate_responses(spec, net, max_signs=max_signs, current=own)}
    ranking = rank_responses(scenario, spec, list(plans.values()), network=net, demand=model.current_demand(),
                             dt=model.dt, packet_veh=model.packet_veh)
    return ranking, plans, spec


def _check(scenario: Scenario, spec: Any, plans: dict[str, Any], ranking: Any, top: int, seeds: tuple[int, ...],
           check_seeds: tuple[int, ...], workers: int) -> tuple[str, str]:
    """The plan SUMO confirms (or ``no_response``) and why."""
    import tempfile

    from .._errors import InputError
    from ..incident.respond import check_responses

    path = getattr(scenario, "source_file", None)
    if path is None:
        raise InputError("checking responses in SUMO needs the scenario's file: load the scenario from a file")
    with tempfile.TemporaryDirectory() as tmp:
        plan, reason, _, _ = check_responses(path, spec, plans, _one_of_each_kind(ranking, plans), top=top,
                                             seeds=seeds, check_seeds=check_seeds, workers=workers, workdir=tmp)
    return plan.id, reason


def _one_of_each_kind(ranking: Any, plans: dict[str, Any]) -> Any:
    """The ranking with the best plan of each kind (detours, metering, retimed signals and their mixes) first, in
    the engine's order, then the rest: the SUMO check then tries different responses, not the engine's three
    nearly alike (the engine's ranking of one kind against another is the least sure part of it)."""
    import pandas as pd

    seen: set[tuple[bool, bool, bool]] = set()
    first, rest = [], []
    for i, name in enumerate(ranking["plan"]):
        pl = plans[name]
        kind = (bool(pl.detours), bool(pl.metering), bool(pl.retiming))
        (first if kind not in seen else rest).append(i)
        seen.add(kind)
    return pd.concat([ranking.iloc[first], ranking.iloc[rest]]).reset_index(drop=True)


def _submit(client: Any, scenario: Scenario, spec: Any, ranking: Any, plans: dict[str, Any],
            checked: tuple[str, str] | None) -> dict[str, Any] | None:
    """The recommended plan as a draft: SUMO's choice when checked, else the engine's best if it beats no response
    there."""
    import datetime as dt

    from ..provenance import record

    vh = dict(zip(ranking["plan"], ranking["induced_vehicle_hours"], strict=True))
    best = checked[0] if checked is not None else next((p for p in ranking["plan"] if p != "no_response"), None)
    if best is None or best == "no_response" or (checked is None and vh[best] >= vh.get("no_response", math.inf)):
        return None
    t0 = dt.datetime.now(dt.UTC)
    t1 = t0 + dt.timedelta(seconds=spec.duration_s)
    kpis = {"engine_induced_vehicle_hours": float(vh[best]),
            "engine_no_response_induced_vehicle_hours": float(vh.get("no_response", math.nan))}
    provenance = {"scenario_hash": scenario.spec_hash, "scenario_name": scenario.name, "incident": spec.id,
                  **record(spec_hash=scenario.spec_hash, seeds=[])}
    return client.submit_response(plans[best], t0.isoformat(timespec="seconds"), t1.isoformat(timespec="seconds"),
                                  kpis, provenance, comment=f"mobility live, {spec.id}: " + (
                                      checked[1] if checked is not None else
                                      f"ranked first of {len(ranking)} on the engine (not checked in SUMO)"))


def prediction_quality(model: LiveModel, leads_s: Iterable[float] = (900.0, 1800.0, 3600.0), *,
                       window_s: float = 300.0) -> pd.DataFrame:
    """Each prediction scored against what the feeds showed later: per prediction and lead time, the share of
    stations whose flow over the ``window_s`` ending at the lead time had GEH < 5, the mean GEH and the mean
    absolute percentage error of their speeds.

    Parameters
    ----------
    model : LiveModel
    leads_s : iterable of float, s
        Lead times scored.
    window_s : float, s
        Flows and speeds are compared as means over this window.

    Returns
    -------
    pandas.DataFrame
        ``issued_s``, ``lead_s``, ``stations``, ``geh_under_5``, ``mean_geh``, ``speed_mape``; only predictions
        whose target window the feeds have reached.
    """
    import pandas as pd

    from ..calibration.fit import geh

    rows = []
    for issued, (ends, f_pred, v_pred) in model.predictions:
        for lead in leads_s:
            hi = issued + lead
            if hi > model.now_s + 1e-6:
                continue
            m = (ends > hi - window_s + 1e-6) & (ends <= hi + 1e-6)
            if not m.any():
                continue
            f_obs, v_obs = model.observed(hi - window_s, hi)
            fp = f_pred[m].mean(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                cnt = np.isfinite(v_pred[m]).sum(axis=0)
                vp = np.where(cnt > 0, np.nansum(v_pred[m], axis=0) / np.maximum(cnt, 1), np.nan)
            ok = np.isfinite(f_obs)
            if not ok.any():
                continue
            g = geh(fp[ok], f_obs[ok])
            okv = np.isfinite(v_obs) & np.isfinite(vp) & (v_obs > 0.5)
            mape = float(np.mean(np.abs(vp[okv] - v_obs[okv]) / v_obs[okv])) if okv.any() else math.nan
            rows.append({"issued_s": issued, "lead_s": float(lead), "stations": int(ok.sum()),
                         "geh_under_5": float(np.mean(g < 5)), "mean_geh": float(np.mean(g)), "speed_mape": mape})
    return pd.DataFrame(rows, columns=["issued_s", "lead_s", "stations", "geh_under_5", "mean_geh", "speed_mape"])


def steps_table(steps: list[StepReport]) -> pd.DataFrame:
    """One row per step: time, records, stations used / silent / suspect / alarmed, incidents found, the demand
    factors' mean and spread, and the step's wall time.

    Parameters
    ----------
    steps : list of StepReport

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    return pd.DataFrame([{"now_s": r.now_s, "records": r.records, "used": len(r.used), "silent": len(r.silent),
                          "suspect": len(r.suspect), "alarms": " ".join(r.alarms),
                          "incidents": " ".join(f"{d.edge}@{d.begin_s:.0f}" for d in r.detections),
                          "factor_mean": float(np.mean(r.factors)), "factor_sd_mean": float(np.mean(r.factor_sd)),
                          "seconds": float(sum(r.seconds.values()))} for r in steps])
