"""From an incident to a recommended response: generate, rank in seconds, check the best in SUMO, recommend only
what beats no response on seeds it was not chosen on.

    incident --> routes SUMO's drivers take (one run) --> candidate plans --> engine ranking (seconds)
             --> top plans x seeds in SUMO (incident study) --> the best --> checked on other seeds
             --> recommended plan, or no response with the reason
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ..network import RoadNetwork
    from ..scenario import Scenario
    from .response import ResponsePlan
    from .spec import IncidentSpec

__all__ = ["ResponseRecommendation", "check_responses", "plot_incident_queues", "plot_response_ranking", "ranking_table", "respond"]

#: SUMO seed of the run that gives the engine its routes (not one a comparison uses by default).
ROUTES_SEED = 10_000


@dataclass
class ResponseRecommendation:
    """What :func:`respond` found.

    Attributes
    ----------
    plan : ResponsePlan
        The recommended plan (``no_response`` when none beat it on the check seeds).
    reason : str
        Why it is recommended, in one sentence with the figures.
    ranking : pandas.DataFrame
        The engine's ranking of every generated plan (:func:`~mobility.incident.rank.rank_responses`).
    checked : xarray.Dataset
        The SUMO runs of the top plans on the choosing seeds (incident study Dataset).
    confirmed : xarray.Dataset or None
        The chosen plan and no response on the check seeds.
    plans : dict of str to ResponsePlan
        Every generated plan by id.
    engine : dict of str to xarray.Dataset
        The engine's result of every plan and of ``no_incident`` (:func:`mobility.dta`'s).
    edges : list of str
        Where the incident's queue stands (:func:`~mobility.incident.simulate.affected_edges`).
    seconds : dict of str to float
        Wall time of each step: ``routes``, ``rank``, ``sumo``.
    """

    plan: ResponsePlan
    reason: str
    ranking: pd.DataFrame
    checked: xr.Dataset
    confirmed: xr.Dataset | None
    plans: dict[str, ResponsePlan] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)


def respond(scenario: Scenario | str | Path, incident: IncidentSpec, *, network: RoadNetwork | None = None,
            top: int = 3, seeds: Sequence[int] = (1, 2, 3), check_seeds: Sequence[int] = (4, 5), workers: int = 2,
            workdir: str | Path | None = None, progress: Callable[[str], None] | None = None
            ) -> ResponseRecommendation:
    """Generate responses to ``incident``, rank them on the dynamic engine, run the ``top`` in SUMO on ``seeds``
    and recommend the best only if it also beats no response on ``check_seeds``.

    Parameters
    ----------
    scenario : Scenario or path
        The traffic scenario (a YAML or ``.sumocfg`` path, or a loaded Scenario with its file).
    incident : IncidentSpec
    network : RoadNetwork, optional
    top : int
        Plans the engine ranks best that SUMO checks.
    seeds : sequence of int
        SUMO seeds the best plan is chosen on.
    check_seeds : sequence of int
        Other SUMO seeds it must also beat no response on.
    workers : int
        SUMO runs at once (processes).
    workdir : path, optional
        Keep the runs there (a temporary folder otherwise).
    progress : callable, optional
        ``progress(message)`` at each step.

    Returns
    -------
    ResponseRecommendation
    """
    from .._errors import InputError
    from ..scenario import load_scenario, load_scenario_with_network
    from .rank import candidate_responses, rank_responses, sumo_routes_demand
    from .spec import check_incident

    say = progress or (lambda _m: None)
    path = Path(scenario) if isinstance(scenario, (str, Path)) else getattr(scenario, "source_file", None)
    if path is None:
        raise InputError("respond needs the scenario's file (its SUMO runs read it): pass its path")
    sc, net = (load_scenario(path), network) if network is not None else load_scenario_with_network(path)
    check_incident(incident, net, sc)
    if set(seeds) & set(check_seeds):
        raise InputError(f"check_seeds {list(check_seeds)} must differ from seeds {list(seeds)}")
    secs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        (root / "routes").mkdir(exist_ok=True)
        say("routes: one SUMO run without the incident")
        demand = sumo_routes_demand(sc, net, seed=ROUTES_SEED, workdir=root / "routes")
        secs["routes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        from ..signals.current import current_plans

        own = current_plans(sc) if net.net_file is not None else None
        plans = {p.id: p for p in candidate_responses(incident, net, current=own)}
        engine: dict[str, Any] = {}
        ranking = rank_responses(sc, incident, list(plans.values()), network=net, demand=demand, keep=engine)
        secs["rank"] = time.perf_counter() - t0
        say(f"ranked {len(plans)} plans on the engine in {secs['rank']:.1f} s; best {ranking['plan'][0]}")
        t0 = time.perf_counter()
        plan, reason, checked, confirmed = check_responses(path, incident, plans, ranking, top=top, seeds=seeds,
                                                           check_seeds=check_seeds, workers=workers,
                                                           workdir=root, progress=say)
        secs["sumo"] = time.perf_counter() - t0
    say(reason)
    from .simulate import affected_edges

    return ResponseRecommendation(plan=plan, reason=reason, engine=engine, edges=affected_edges(incident, net), ranking=ranking, checked=checked, confirmed=confirmed, plans=plans,
                                  seconds=secs)


def check_responses(scenario: str | Path, incident: IncidentSpec, plans: dict[str, ResponsePlan], ranking: pd.DataFrame,
                    *, top: int = 3, seeds: Sequence[int] = (1, 2, 3), check_seeds: Sequence[int] = (4, 5),
                    workers: int = 2, workdir: str | Path, progress: Callable[[str], None] | None = None
                    ) -> tuple[ResponsePlan, str, xr.Dataset, xr.Dataset | None]:
    """Run the ``top`` plans of an engine ranking in SUMO on ``seeds`` (with no response and no incident), pick the
    one that adds the fewest vehicle-hours, and keep it only if it also beats no response on ``check_seeds``.

    Parameters
    ----------
    scenario : path
        The scenario's file (YAML or ``.sumocfg``).
    incident : IncidentSpec
    plans : dict of str to ResponsePlan
        The ranked plans by id (``no_response`` among them).
    ranking : pandas.DataFrame
        :func:`~mobility.incident.rank.rank_responses`'s, best first.
    top : int
        Plans checked.
    seeds, check_seeds : sequence of int
        SUMO seeds the best is chosen on, and the other seeds it must beat no response on.
    workers : int
        SUMO runs at once.
    workdir : path
        Folder for the runs (``choose`` and ``check`` inside).
    progress : callable, optional

    Returns
    -------
    tuple
        ``(plan, reason, checked, confirmed)``: the recommended plan (``no_response`` when none beat it), why, the
        SUMO runs on ``seeds`` and those on ``check_seeds`` (None when no plan got that far).
    """
    from ..study import compare, get_kind
    from .study import IncidentStudySpec

    say = progress or (lambda _m: None)
    root = Path(workdir)
    best = [p for p in ranking["plan"] if p != "no_response"][:max(1, top)]
    kind = get_kind("incident")
    study = kind.resolve(IncidentStudySpec(name=f"{incident.id}_response", scenario=Path(scenario), incident=incident))

    def alts(ids: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"no_incident": {"incident": False, "plan": None},
                               "no_response": {"incident": True, "plan": None}}
        out.update({i: {"incident": True, "plan": plans[i].model_dump(mode="json")} for i in ids})
        return out

    say(f"SUMO: {len(best)} plans, no response and no incident on seeds {list(seeds)}")
    checked = compare(study, alts(best), seeds=list(seeds), workers=workers, workdir=root / "choose")
    induced = checked["induced_vehicle_hours"].mean("seed")
    chosen = min(best, key=lambda i: float(induced.sel(response=i)))
    none_vh = float(induced.sel(response="no_response"))
    confirmed = None
    if float(induced.sel(response=chosen)) >= none_vh:
        return plans["no_response"], (
            f"none of the engine's top {len(best)} plans beat no response in SUMO on seeds {list(seeds)} (best "
            f"{chosen}: {float(induced.sel(response=chosen)):.1f} against {none_vh:.1f} incident veh h)"), checked, None
    say(f"SUMO: {chosen} against no response on check seeds {list(check_seeds)}")
    confirmed = compare(study, alts([chosen]), seeds=list(check_seeds), workers=workers, workdir=root / "check")
    c = confirmed["induced_vehicle_hours"].mean("seed")
    c_plan, c_none = float(c.sel(response=chosen)), float(c.sel(response="no_response"))
    if c_plan < c_none:
        return plans[chosen], (f"{chosen} cuts the incident's vehicle-hours from {c_none:.1f} to {c_plan:.1f} "
                               f"({(c_none - c_plan) / c_none:.0%}) in SUMO on check seeds {list(check_seeds)}, not "
                               f"those it was chosen on"), checked, confirmed
    return plans["no_response"], (f"{chosen}, best on seeds {list(seeds)}, did not beat no response on check seeds "
                                  f"{list(check_seeds)} ({c_plan:.1f} against {c_none:.1f} incident veh h)"), checked, confirmed


def ranking_table(rec: ResponseRecommendation) -> pd.DataFrame:
    """The engine's ranking beside SUMO's incident vehicle-hours (mean over the choosing seeds) where SUMO ran
    the plan.

    Parameters
    ----------
    rec : ResponseRecommendation

    Returns
    -------
    pandas.DataFrame
    """
    t = rec.ranking.copy()
    induced = rec.checked["induced_vehicle_hours"].mean("seed")
    ran = set(str(x) for x in induced["response"].values)
    t["sumo_induced_vehicle_hours"] = [float(induced.sel(response=p)) if p in ran else np.nan for p in t["plan"]]
    t["recommended"] = t["plan"] == rec.plan.id
    return t


def plot_response_ranking(table: pd.DataFrame, *, ax: Any = None) -> tuple[Any, Any]:
    """The plans' incident vehicle-hours: the engine's (bars, best at the top) and SUMO's mean where it ran them
    (dots); the recommended plan in bold.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`ranking_table`'s.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 0.3 * len(table) + 1.2))
    else:
        fig = ax.figure
    y = np.arange(len(table))[::-1]
    ax.barh(y, table["induced_vehicle_hours"], color="#9db4d0", label="dynamic engine")
    if "sumo_induced_vehicle_hours" in table:
        ax.plot(table["sumo_induced_vehicle_hours"], y, "o", color="#c0392b", label="SUMO (mean over seeds)")
    ax.set_yticks(y, table["plan"])
    if "recommended" in table:
        for label, rec in zip(ax.get_yticklabels(), table["recommended"], strict=True):
            label.set_fontweight("bold" if rec else "normal")
    ax.set_xlabel("vehicle-hours the incident adds [veh h]")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25 * 8 / max(len(table), 8)), ncol=2, frameon=False)
    fig.tight_layout()
    return fig, ax


def plot_incident_queues(rec: ResponseRecommendation, *, ax: Any = None) -> tuple[Any, Any]:
    """Queue growth and clearance where the incident's queue stands (the engine's vehicles beyond free flow on
    :attr:`ResponseRecommendation.edges`, over time): no incident, no response and the recommended plan.

    Parameters
    ----------
    rec : ResponseRecommendation
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (Figure, Axes)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 3.6))
    else:
        fig = ax.figure
    shown = ["no_incident", "no_response"] + ([rec.plan.id] if rec.plan.id != "no_response" else [])
    styles = {"no_incident": ("#7f8c8d", ":"), "no_response": ("#c0392b", "-")}
    for name in shown:
        ds = rec.engine.get(name)
        if ds is None:
            continue
        q = ds["queue_veh"].sel(edge=[e for e in rec.edges if e in set(ds["edge"].values.tolist())]).sum("edge")
        color, ls = styles.get(name, ("#2471a3", "-"))
        ax.plot(ds["time"].values / 60.0, q.values, ls, color=color, label=name)
    inc = rec.plans.get("no_response")
    ax.set_xlabel("time [min]")
    ax.set_ylabel("queued vehicles near the incident")
    ax.legend(frameon=False)
    ax.set_title(f"incident {inc.incident if inc else ''}: queue growth and clearance (dynamic engine)")
    fig.tight_layout()
    return fig, ax
