"""Recorded feeds from SUMO: a scenario run (with an incident the loop is not told of, if wanted) whose edge data
at a share of the edges is the feed, and the rest the truth the loop's predictions are scored on.

Use it to rehearse the live loop on a network before its real feeds exist, and to measure it: the loop is
given only the feed file and the station table; :class:`RecordedFeed` keeps the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..incident.spec import IncidentSpec
    from ..scenario import Scenario
    from .feeds import StationTable

__all__ = ["RecordedFeed", "edge_truth", "record_feed"]


@dataclass
class RecordedFeed:
    """A SUMO run's edge data as a feed: ``path`` (the edge-data file), ``stations`` (the fed edges),
    ``held_out`` (edges measured but not fed: the truth to score predictions on), ``incident`` (what happened,
    None if nothing), ``seed`` (SUMO's) and the run's results ``ds``."""

    path: Path
    stations: StationTable
    held_out: list[str]
    incident: IncidentSpec | None
    seed: int
    ds: Any


def record_feed(scenario: Scenario, incident: IncidentSpec | None, *, seed: int, workdir: str | Path,
                share: float = 0.4, split_seed: int = 0, step_s: float = 60.0,
                min_flow_veh_h: float = 60.0) -> RecordedFeed:
    """Run ``scenario`` in SUMO (with ``incident`` if given) writing edge data every ``step_s``, and split the
    edges that carry traffic into fed stations (``share`` of them, drawn by ``split_seed``) and held-out ones.

    Parameters
    ----------
    scenario : Scenario
    incident : IncidentSpec or None
    seed : int
        SUMO's seed.
    workdir : path
        Folder for the run (created).
    share : float
        Share of the used edges that feed the loop.
    split_seed : int
        Seed of the draw of the fed edges.
    step_s : float, s
        Edge-data interval.
    min_flow_veh_h : float, veh/h
        Edges carrying less over the run are no station (a detector on an empty street tells nothing).

    Returns
    -------
    RecordedFeed
    """
    from .._sumo import FILES
    from ..incident.simulate import run_incident
    from ..seeds import rng
    from .feeds import StationTable

    if not 0 < share < 1:
        raise ValueError(f"share must lie in (0, 1), got {share!r}")
    w = Path(workdir)
    w.mkdir(parents=True, exist_ok=True)
    sc = scenario.model_copy(update={"outputs": scenario.outputs.model_copy(update={"interval_s": step_s,
                                                                                     "edge_data": True})})
    ds = run_incident(sc, incident, seed=seed, workdir=w)
    entered = ds["edge_entered"].values
    span_h = (sc.end_s - sc.begin_s) / 3600.0
    used = [str(e) for e, n in zip(ds["edge"].values, entered.sum(axis=0), strict=True) if n / span_h >= min_flow_veh_h]
    used = [e for e in used if not e.startswith(":")]
    order = rng(split_seed, "live", "stations").permutation(len(used))
    n_fed = max(1, int(round(share * len(used))))
    fed = sorted(used[i] for i in order[:n_fed])
    held = sorted(used[i] for i in order[n_fed:])
    return RecordedFeed(w / FILES["edges"], StationTable.for_edges(fed), held, incident, seed, ds)


def edge_truth(feed: RecordedFeed, edges: list[str], begin_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Vehicles per hour that entered or departed on ``edges`` between ``begin_s`` and ``end_s`` in the recorded run,
    and their mean speed: the truth a prediction is scored on.

    Parameters
    ----------
    feed : RecordedFeed
    edges : list of str
    begin_s, end_s : float, s

    Returns
    -------
    tuple of arrays
        Flow (veh/h) and mean speed (m/s) per edge, NaN where the run has no record.
    """
    from .feeds import StationTable, read_feed

    b = read_feed(feed.path, StationTable.for_edges(edges))
    r = b.records
    r = r[(r["begin_s"] >= begin_s - 1e-6) & (r["end_s"] <= end_s + 1e-6)]
    g = r.groupby("edge")
    flow = g["flow_veh_h"].mean().reindex(edges).to_numpy()
    speed = g["speed_m_s"].mean().reindex(edges).to_numpy()
    return flow, speed
