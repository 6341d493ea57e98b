"""The live model: the dynamic engine's state corrected from the feeds every interval, incidents found in the
feeds, and the next hour predicted.

**State estimation** (an extended Kalman filter on demand, rolling horizon). The state is one multiplicative
factor per origin (the pairs that leave from one set of edges), applied to the departures from a window before
``now`` onwards; its prior is 1 with standard deviation ``prior_sd`` and it drifts as a random walk
(``process_sd`` a step). The observation is each trusted station's vehicle count in the newest feed step; the
observation model is the engine's loading: a station's count is the sum over routes of their flow times the
share of it that passes the station in that step (each route's passage times from the loaded edge travel
times), which is linear in the factors. The gain weighs each count by its Poisson variance plus
``obs_sd`` of it. The covariance is kept (:attr:`LiveModel.cov`), so the estimate says how sure it is.
The engine's queues, densities and route flows follow from the corrected demand: the estimate of the network's
state is the loading of the engine up to ``now`` (a deterministic replay of the same inputs, so forking it for
a prediction or a what-if repeats it exactly, signal timing included).

**Stations not trusted**: silent ones (:meth:`~mobility.live.sources.FeedGuard.silent`); a count further from the
model than ``outlier_z`` standard deviations of its innovation (the demand's uncertainty included) is not
taken (the filter's innovation gate), and a station gated ``outlier_steps`` times in a row while no alarm or
incident explains it (a detector stuck or miscounting) is flagged suspect and left out until it agrees again.

**Incidents**: every station's speed over the last ``alarm_window_s`` is compared with the model's without
incidents. A station is slow when that ratio, taken relative to the station's usual ratio, is below
``alarm_speed_ratio`` and also ``alarm_speed_z`` standard deviations below its usual spread, with at least
``alarm_min_veh`` vehicles in the window (a side street that a red light halves every few minutes raises
nothing); a station whose count falls ``alarm_flow_z`` standard deviations below the expected is starved. An
alarm held ``alarm_steps`` steps, or one step shorter when a station next to it on the road is alarmed too,
calls :meth:`LiveModel._detect`: the incident is placed just past the head of the slow stations and its
capacity left and start are fitted on the engine.

**Prediction**: the engine from the window start to ``now + horizon_s`` with the corrected demand and the
incidents found (lasting ``assumed_duration_s`` from their start unless the feeds show them longer).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ..dta import DynamicDemand, Incident
    from ..network import RoadNetwork
    from .feeds import StationTable

__all__ = ["Detection", "LiveModel", "StepReport"]

#: Weight of the counts against the speeds in an incident's fit (a queue behind a lane closed on a street below
#: its capacity slows the approaches long before the counts past it fall).
FLOW_WEIGHT = 0.2


@dataclass(frozen=True)
class Detection:
    """An incident found in the feeds: ``edge``, ``capacity_factor`` (share of its capacity left),
    ``begin_s`` (when it began, s), ``found_s`` (when the loop found it, s), ``score`` (the feeds' misfit
    with the incident against without it, 0-1: lower is a better explanation) and the ``stations`` whose alarm
    led to it."""

    edge: str
    capacity_factor: float
    begin_s: float
    found_s: float
    score: float
    stations: tuple[str, ...]


@dataclass
class StepReport:
    """What one step of the loop did: the time, the stations used and flagged, the alarms, the incidents
    found, the demand factors and the seconds each part took."""

    now_s: float
    records: int
    used: list[str]
    silent: list[str]
    suspect: list[str]
    alarms: list[str]
    detections: list[Detection]
    factors: np.ndarray
    factor_sd: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    refitted: list[Detection] = field(default_factory=list)


class LiveModel:
    """The dynamic engine kept in step with the feeds.

    Parameters
    ----------
    network : RoadNetwork
    demand : DynamicDemand
        The typical day's demand (the prior).
    stations : StationTable
        Where the feed's stations measure.
    step_s : float, s
        Feed step (the interval of the records assimilated at each update).
    horizon_s : float, s
        How far ahead a prediction runs.
    dt : float, s
        The engine's time step.
    packet_veh : float, veh
        The engine's packet size.
    prior_sd, process_sd : float
        Standard deviation of the demand factors' prior, and of their random walk per step.
    obs_sd : float
        Relative error of a count besides its Poisson noise.
    active_s : float, s
        Departures this long before ``now`` and later are corrected; earlier ones keep the factors they had.
    alarm_speed_ratio : float
        A station slower than this share of the model's speed is alarmed.
    alarm_flow_z : float
        A station whose count is this many standard deviations below the model's is alarmed.
    alarm_steps : int
        Steps in a row a station must be alarmed before an incident is placed (one fewer with an alarmed
        neighbour).
    alarm_speed_z : float
        How many standard deviations of its usual speed ratio a station must fall to be slow.
    alarm_min_veh : float, veh
        Fewest vehicles in the alarm window for a station's speed or count to raise an alarm.
    min_speed_sd : float
        Floor of the spread of a station's log speed ratio.
    lookback_s : float, s
        Candidate incidents began at most this long before ``now``.
    assumed_duration_s : float, s
        How long an incident is assumed to last from its start, for predictions and responses.
    outlier_z, outlier_steps : float, int
        A station whose count is this many standard deviations off the model this many assimilations in a row
        (with no alarm or incident to explain it) is suspect and left out.
    signals : bool or str
        The engine's signal model (:func:`mobility.dta`).
    alarm_window_s : float, s
        Window of the speeds and counts an alarm is judged on.
    baseline_s : float, s
        Window before it that gives each station's usual ratio to the model.
    assimilate_s : float, s
        The filter corrects the demand every this long, on the counts of that window.
    capacity_levels : sequence of float
        Capacity shares left that an incident's fit tries.
    """

    def __init__(self, network: RoadNetwork, demand: DynamicDemand, stations: StationTable, *, step_s: float = 60.0,
                 horizon_s: float = 3600.0, dt: float = 2.0, packet_veh: float = 1.0, prior_sd: float = 0.3,
                 process_sd: float = 0.05, obs_sd: float = 0.1, active_s: float = 900.0,
                 alarm_speed_ratio: float = 0.6, alarm_flow_z: float = 3.0, alarm_steps: int = 3,
                 alarm_speed_z: float = 3.0, alarm_min_veh: float = 8.0, min_speed_sd: float = 0.1,
                 lookback_s: float = 480.0, assumed_duration_s: float = 1800.0, outlier_z: float = 5.0,
                 outlier_steps: int = 3, signals: bool | str = True, alarm_window_s: float = 180.0,
                 baseline_s: float = 900.0, assimilate_s: float = 300.0,
                 capacity_levels: Sequence[float] = (0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.1, 0.0)) -> None:
        for name, v in (("step_s", step_s), ("horizon_s", horizon_s), ("dt", dt), ("packet_veh", packet_veh)):
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be a positive number, got {v!r}")
        unknown = [e for e in stations.edges if e not in network.edge_index]
        if unknown:
            raise InputError(f"stations measure edge(s) {unknown[:5]} the network {network.name!r} does not have; "
                             "fix the station table")
        self.network, self.demand0, self.stations = network, demand, stations
        self.step_s, self.horizon_s, self.dt, self.packet_veh = float(step_s), float(horizon_s), dt, packet_veh
        self.prior_sd, self.process_sd, self.obs_sd, self.active_s = prior_sd, process_sd, obs_sd, active_s
        self.alarm_speed_ratio, self.alarm_flow_z, self.alarm_steps = alarm_speed_ratio, alarm_flow_z, alarm_steps
        self.alarm_speed_z, self.alarm_min_veh, self.min_speed_sd = alarm_speed_z, alarm_min_veh, min_speed_sd
        self.lookback_s, self.assumed_duration_s = lookback_s, assumed_duration_s
        self.outlier_z, self.outlier_steps, self.signals = outlier_z, outlier_steps, signals
        self.alarm_window_s, self.baseline_s, self.assimilate_s = alarm_window_s, baseline_s, assimilate_s
        self.capacity_levels = tuple(capacity_levels)
        self.flow_weight = FLOW_WEIGHT
        # origins: pairs grouped by their origin edges
        keys: dict[tuple[int, ...], int] = {}
        self.pair_group = np.array([keys.setdefault(tuple(o), len(keys)) for o in demand.origins], dtype=np.int64)
        self.groups = [str(network.edge_ids[k[0]]) if len(k) == 1 else f"{len(k)} edges from "
                       f"{network.edge_ids[k[0]]}" for k in keys]
        G, K = len(keys), demand.n_intervals
        self.factors = np.ones((G, K))          # per origin and departure interval
        self.x = np.ones(G)                      # the filter's state: the factors of the active intervals
        self.cov = np.eye(G) * prior_sd ** 2
        self.station_ids = list(stations.edge)
        self.station_edge = np.array([network.edge(stations.edge[s]) for s in self.station_ids], dtype=np.int64)
        self.station_share = np.array([stations.lane_share.get(s, 1.0) for s in self.station_ids])
        # stations one edge apart along a road (one's end is the other's start; not the road's other direction)
        tails, heads = network.tail[self.station_edge], network.head[self.station_edge]
        follows = (heads[:, None] == tails[None, :]) & (tails[:, None] != heads[None, :])
        self.adjacent = follows | follows.T
        self.obs: dict[tuple[str, float], tuple[float, float]] = {}   # (station, end_s) -> (veh/h, m/s)
        self.incidents: list[Detection] = []
        self.alarm_count = np.zeros(len(self.station_ids), dtype=np.int64)
        self.log_ratio: list[tuple[float, np.ndarray]] = []
        self.last_slow = np.full(len(self.station_ids), -np.inf)
        self.outlier_count = np.zeros(len(self.station_ids), dtype=np.int64)
        self.suspect: set[str] = set()
        self.now_s = demand.t0
        self.run: xr.Dataset | None = None       # the latest loading (the estimate, and the prediction ahead)
        self.quiet: xr.Dataset | None = None      # the same without the incidents found (for alarms)
        self.history: list[StepReport] = []
        self.predictions: list[tuple[float, Any]] = []   # (issued at, station flows ahead)

    # ---- the engine -------------------------------------------------------------------------------------------
    def current_demand(self) -> DynamicDemand:
        """The demand with the estimated factors applied (the active intervals at the filter's state).

        Returns
        -------
        DynamicDemand
        """
        f = self.factors.copy()
        f[:, self._active():] = self.x[:, None]
        return replace(self.demand0, rates=self.demand0.rates * f[self.pair_group])

    def _active(self) -> int:
        d = self.demand0
        return int(np.clip((self.now_s - self.active_s - d.t0) // d.interval_s, 0, d.n_intervals))

    def engine_incidents(self, detections: Sequence[Detection] | None = None) -> list[Incident]:
        """The incidents found, as the engine's capacity drops (each lasting ``assumed_duration_s`` from its start,
        and at least until ``step_s`` after now).

        Parameters
        ----------
        detections : sequence of Detection, optional
            Default: those found so far.

        Returns
        -------
        list of Incident
        """
        from ..dta import Incident

        out = []
        for d in self.incidents if detections is None else detections:
            end = max(d.begin_s + self.assumed_duration_s, self.now_s + self.step_s)
            out.append(Incident(d.edge, d.begin_s, end, d.capacity_factor))
        return out

    def load(self, *, incidents: Sequence[Incident] | None = None, until_s: float | None = None,
             **kw: Any) -> xr.Dataset:
        """The engine's loading of the current demand from its start to ``until_s`` (default now plus the
        horizon), with the incidents found (or those given) and any what-if argument of :func:`mobility.dta`
        (``diversions``, ``signal_plans``, more ``incidents``).

        Parameters
        ----------
        incidents : sequence of Incident, optional
        until_s : float, s, optional
        **kw
            Passed to :func:`mobility.dta`.

        Returns
        -------
        xarray.Dataset
        """
        from ..dta import dta

        d = self.current_demand()
        end = self.now_s + self.horizon_s if until_s is None else until_s
        end = max(end, d.t0 + d.n_intervals * d.interval_s)
        inc = self.engine_incidents() if incidents is None else list(incidents)
        return dta(self.network, d, method="dnl", dt=self.dt, packet_veh=self.packet_veh, interval_s=self.step_s,
                   horizon_s=end - d.t0, signals=self.signals, incidents=inc, measure_gap=False, **kw)

    def station_flows(self, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's flow (veh/h, times the stations' lane shares) and speed (m/s) at the stations, by the
        loading's intervals: ``(interval ends, flows (interval, station), speeds (interval, station))``.

        Parameters
        ----------
        ds : xarray.Dataset
            A loading (:meth:`load`).

        Returns
        -------
        tuple of arrays
        """
        flow = ds["inflow_veh_h"].values[:, self.station_edge] * self.station_share
        tt = ds["travel_time_s"].values[:, self.station_edge]
        length = ds["edge_length_m"].values[self.station_edge]
        with np.errstate(invalid="ignore", divide="ignore"):
            speed = np.where(tt > 0, length / tt, np.nan)
        ends = ds["time"].values + float(ds.attrs["interval_s"])
        return ends, flow, speed

    # ---- observations --------------------------------------------------------------------------------------------
    def observe(self, records: pd.DataFrame) -> int:
        """Keep checked feed records (:class:`~mobility.live.feeds.FeedGuard`'s output): a station's flow and speed
        per step it ends in.

        Parameters
        ----------
        records : pandas.DataFrame

        Returns
        -------
        int
            Records kept.
        """
        n = 0
        for r in records.itertuples(index=False):
            if r.station not in self.stations:
                continue
            end = self.demand0.t0 + math.ceil((r.end_s - self.demand0.t0) / self.step_s - 1e-9) * self.step_s
            self.obs[(r.station, end)] = (r.flow_veh_h, r.speed_m_s)
            n += 1
        return n

    def observed(self, begin_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Observed mean flow (veh/h) and speed (m/s) at the stations over the steps ending in ``(begin_s, end_s]``
        (NaN where a station reported for less than half of them).

        Parameters
        ----------
        begin_s, end_s : float, s

        Returns
        -------
        tuple of arrays
        """
        ends = np.arange(end_s, begin_s + 1e-6, -self.step_s)
        f = np.full(len(self.station_ids), np.nan)
        v = np.full(len(self.station_ids), np.nan)
        for i, s in enumerate(self.station_ids):
            got = [self.obs[(s, t)] for t in ends if (s, t) in self.obs]
            if 2 * len(got) >= len(ends) and got:
                f[i] = float(np.mean([g[0] for g in got]))
                sp = [g[1] for g in got if math.isfinite(g[1])]
                v[i] = float(np.mean(sp)) if sp else np.nan
        return f, v

    def modelled(self, ds: xr.Dataset, begin_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The model's mean flow (veh/h) and speed (m/s) at the stations over ``(begin_s, end_s]``.

        Parameters
        ----------
        ds : xarray.Dataset
        begin_s, end_s : float, s

        Returns
        -------
        tuple of arrays
        """
        ends, f, v = self.station_flows(ds)
        m = (ends > begin_s + 1e-6) & (ends <= end_s + 1e-6)
        if not m.any():
            m = np.zeros(len(ends), dtype=bool)
            m[min(int(np.searchsorted(ends, end_s - 1e-6)), len(ends) - 1)] = True
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return f[m].mean(axis=0), np.nanmean(v[m], axis=0)

    # ---- one step ---------------------------------------------------------------------------------------------------
    def update(self, now_s: float, records: pd.DataFrame | None = None, *, silent: Sequence[str] = ()) -> StepReport:
        """Take the records up to ``now_s``, look for incidents, correct the demand (every ``assimilate_s``) and
        predict.

        Parameters
        ----------
        now_s : float, s
            The time the feed has reached.
        records : pandas.DataFrame, optional
            Checked records that arrived since the last step.
        silent : sequence of str
            Stations the feed guard reports silent (not trusted).

        Returns
        -------
        StepReport
        """
        secs: dict[str, float] = {}
        n = self.observe(records) if records is not None and len(records) else 0
        self.now_s = float(now_s)
        t0 = time.perf_counter()
        if self.run is None or float(self.run["time"].values[-1]) + self.step_s < self.now_s:
            self.run = self.load()
            self.quiet = self.run if not self.incidents else self.load(incidents=[])
        secs["prior"] = time.perf_counter() - t0
        now = self.now_s
        silent_set = set(silent)
        trusted = np.array([s not in silent_set for s in self.station_ids])
        # alarms: speed against the model without incidents over the last few steps, relative to the same ratio
        # over a baseline before them (a station's lasting bias against the model is no alarm)
        recent = (now - self.alarm_window_s, now)
        base = (now - self.baseline_s - self.alarm_window_s, now - self.alarm_window_s)
        f_r, v_r = self.observed(*recent)
        f_b, v_b = self.observed(*base)
        qf_r, qv_r = self.modelled(self.quiet, *recent)
        qf_b, qv_b = self.modelled(self.quiet, *base)
        with np.errstate(invalid="ignore", divide="ignore"):
            bias_v = np.where(np.isfinite(v_b) & (qv_b > 0), v_b / qv_b, 1.0)
            bias_f = np.where(np.isfinite(f_b) & (qf_b > 0), f_b / qf_b, 1.0)
            ratio_v = v_r / (qv_r * np.clip(bias_v, 0.5, 2.0))
            hours = self.alarm_window_s / 3600.0
            expect = qf_r * np.clip(bias_f, 0.5, 2.0) * hours
            z_f = (f_r * hours - expect) / np.sqrt(np.maximum(expect, 1.0) + (self.obs_sd * expect) ** 2)
            # how unusual the speed is for this station: its log ratio to the model against the spread of that
            # ratio over the baseline (a side street that a red light halves every few minutes is no alarm)
            log_ratio = np.log(v_r / qv_r)
        past = np.array([lr for t, lr in self.log_ratio if base[0] < t <= base[1]])
        if len(past) >= 5:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                spread = np.maximum(np.nanstd(past, axis=0), self.min_speed_sd)
                z_v = (log_ratio - np.nanmean(past, axis=0)) / spread
        else:
            z_v = np.full(len(self.station_ids), np.nan)
        self.log_ratio = [(t, lr) for t, lr in self.log_ratio if t > base[0]]
        enough = f_r * hours >= self.alarm_min_veh
        slow = (np.isfinite(ratio_v) & (ratio_v < self.alarm_speed_ratio) & np.isfinite(z_v)
                & (z_v < -self.alarm_speed_z) & enough)
        starved = np.isfinite(z_f) & (z_f < -self.alarm_flow_z) & (expect >= self.alarm_min_veh)
        alarm = (slow | starved) & trusted
        self.alarm_count = np.where(alarm, self.alarm_count + 1, 0)
        self.last_slow = np.where(slow & trusted, now, self.last_slow)
        # a station's usual ratio leaves out the steps it was slow in: a queue does not become the usual
        self.log_ratio.append((now, np.where(self.last_slow >= now - self.alarm_window_s, np.nan, log_ratio)))
        # slow now or within the alarm window: the queue's extent (a station at its head flickers)
        lately_slow = self.last_slow >= now - self.alarm_window_s
        t0 = time.perf_counter()
        found: list[Detection] = []
        explained = self._explained()
        # an alarm held for alarm_steps, or one step shorter when a station next to it (one edge up or down the
        # road) is alarmed too: a queue reaching over two stations
        backed = (self.adjacent & (self.alarm_count > 0)[None, :]).any(axis=1)
        ready = ((self.alarm_count >= self.alarm_steps)
                 | ((self.alarm_count >= self.alarm_steps - 1) & backed)) & ~explained
        warm = now >= self.demand0.t0 + self.baseline_s + self.alarm_window_s
        if ready.any() and warm:
            det = self._detect(np.flatnonzero(ready), lately_slow, starved)
            if det is not None:
                self.incidents.append(det)
                found.append(det)
                self.alarm_count[:] = 0
                self.run = self.load()
        secs["detect"] = time.perf_counter() - t0
        # the filter, every assimilate_s: trusted stations' counts over that window, away from alarms and incidents
        t0 = time.perf_counter()
        self.cov = self.cov + np.eye(len(self.x)) * self.process_sd ** 2 * (self.step_s / self.assimilate_s)
        used: list[str] = []
        if (now - self.demand0.t0) % self.assimilate_s < self.step_s / 2:
            explained = self._explained()
            win = (now - self.assimilate_s, now)
            f_obs, _ = self.observed(*win)
            f_mod, _ = self.modelled(self.run, *win)
            hours = self.assimilate_s / 3600.0
            cand = np.isfinite(f_obs) & ~alarm & ~explained & trusted
            idx = np.flatnonzero(cand)
            if idx.size:
                H_all = self._jacobian(self.run, win, idx)
                y_all, m_all = f_obs[idx] * hours, f_mod[idx] * hours
                R_all = np.maximum(m_all, 1.0) + (self.obs_sd * m_all) ** 2
                # innovation gate: a count further from the model than outlier_z standard deviations of the
                # innovation (the demand's uncertainty included) is not taken; held outlier_steps times, the
                # station is suspect until it agrees again
                z = (y_all - m_all) / np.sqrt(np.einsum("ij,jk,ik->i", H_all, self.cov, H_all) + R_all)
                out = np.zeros(len(self.station_ids), dtype=bool)
                out[idx] = np.abs(z) > self.outlier_z
                self.outlier_count = np.where(out, self.outlier_count + 1,
                                              np.where(cand, 0, self.outlier_count))
                self.suspect = {s for s, c in zip(self.station_ids, self.outlier_count, strict=True)
                                if c >= self.outlier_steps}
                keep = ~out[idx] & np.array([self.station_ids[i] not in self.suspect for i in idx], dtype=bool)
                if keep.any():
                    H, y, m = H_all[keep], y_all[keep], m_all[keep]
                    S = H @ self.cov @ H.T + np.diag(R_all[keep])
                    gain = self.cov @ H.T @ np.linalg.inv(S)
                    self.x = np.clip(self.x + gain @ (y - m), 0.2, 5.0)
                    self.cov = (np.eye(len(self.x)) - gain @ H) @ self.cov
                    self.cov = 0.5 * (self.cov + self.cov.T)
                    used = [self.station_ids[i] for i in idx[keep]]
        # freeze the factors of the intervals leaving the window
        self.factors[:, self._active():] = self.x[:, None]
        secs["estimate"] = time.perf_counter() - t0
        refitted: list[Detection] = []
        if self.incidents and (now - self.demand0.t0) % self.assimilate_s < self.step_s / 2:
            t0 = time.perf_counter()
            refitted = self.refit()
            secs["refit"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.run = self.load()
        self.quiet = self.run if not self.incidents else self.load(incidents=[])
        secs["predict"] = time.perf_counter() - t0
        ends, f_pred, v_pred = self.station_flows(self.run)
        ahead = ends > self.now_s
        self.predictions.append((self.now_s, (ends[ahead], f_pred[ahead], v_pred[ahead])))
        rep = StepReport(self.now_s, n, used, sorted(silent_set & set(self.station_ids)), sorted(self.suspect),
                         [s for s, a_ in zip(self.station_ids, alarm, strict=True) if a_], found, self.x.copy(),
                         np.sqrt(np.clip(np.diag(self.cov), 0, None)), secs, refitted)
        self.history.append(rep)
        return rep

    # ---- the parts -----------------------------------------------------------------------------------------------
    def _explained(self) -> np.ndarray:
        """Stations near an incident found (its edge, two edges downstream, four upstream): their readings are
        the incident's, not the demand's."""
        out = np.zeros(len(self.station_ids), dtype=bool)
        if not self.incidents:
            return out
        from ..incident.spec import upstream_layers

        near: set[int] = set()
        for d in self.incidents:
            e = self.network.edge(d.edge)
            near.add(e)
            near.update(x for layer in upstream_layers(self.network, {e}, 4) for x in layer)
            near.update(self._downstream(e, 2))
        return np.isin(self.station_edge, list(near))

    def _downstream(self, e: int, hops: int) -> set[int]:
        net = self.network
        out: set[int] = set()
        front = {e}
        for _ in range(hops):
            nxt = set()
            for a in front:
                h = int(net.head[a])
                nxt.update(int(b) for b in range(net.indptr[h], net.indptr[h + 1]))
            front = nxt - out
            out |= nxt
        return out

    def _jacobian(self, ds: xr.Dataset, window: tuple[float, float], used: np.ndarray) -> np.ndarray:
        """Vehicles each origin's active departures send past each used station within ``window``
        (per unit factor): ``(stations, origins)``."""
        d = self.demand0
        a = self._active()
        flow = ds["route_flow_veh"].values                   # (departure, route)
        pair = ds["route_pair"].values
        edges = ds["route_edges"].values
        tt = ds["travel_time_s"].values                     # (time, edge)
        t0, itv = float(ds["time"].values[0]), float(ds.attrs["interval_s"])
        free = ds["edge_length_m"].values / np.maximum(self.network.free_speed, 0.1)
        idx = self.network.edge_index
        col = {int(e): j for j, e in enumerate(self.station_edge[used])}
        H = np.zeros((len(used), len(self.x)))
        lo, hi = window
        T = d.interval_s
        for r in np.flatnonzero(flow[a:].sum(axis=0) > 1e-9):
            route = [idx[e] for e in edges[r].split()]
            hit = [(p, col[e]) for p, e in enumerate(route) if e in col]
            if not hit:
                continue
            g = self.pair_group[pair[r]]
            fac = max(self.x[g], 1e-6)
            for j in range(a, d.n_intervals):
                f = flow[j, r]
                if f <= 1e-9:
                    continue
                t = d.t0 + (j + 0.5) * T
                p_prev = 0
                for p, c in hit:
                    for q in range(p_prev, p):   # travel to the station's edge
                        m = min(max(int((t - t0) // itv), 0), tt.shape[0] - 1)
                        x = tt[m, route[q]]
                        t += x if np.isfinite(x) else free[route[q]]
                    p_prev = p
                    # departures spread over the interval: the share passing within the step
                    share = max(0.0, min(hi, t + T / 2) - max(lo, t - T / 2)) / T
                    H[c, g] += f * share / fac
        return H * self.station_share[used][:, None]

    def _passing(self, ds: xr.Dataset, hops: int = 4) -> dict[int, dict[int, float]]:
        """From each station's edge: the share of its vehicles (recent departures' routes) that go on to use each
        edge within ``hops`` edges (its own edge included, share 1)."""
        flow = ds["route_flow_veh"].values
        d = self.demand0
        j0 = int(np.clip((self.now_s - 1800.0 - d.t0) // d.interval_s, 0, max(d.n_intervals - 1, 0)))
        j1 = int(np.clip((self.now_s - d.t0) // d.interval_s + 1, j0 + 1, d.n_intervals))
        f = flow[j0:j1].sum(axis=0)
        idx = self.network.edge_index
        stations = set(int(e) for e in self.station_edge)
        through: dict[int, float] = {}
        onward: dict[int, dict[int, float]] = {}
        for r in np.flatnonzero(f > 1e-9):
            route = [idx[e] for e in ds["route_edges"].values[r].split()]
            for p, e in enumerate(route):
                if e in stations:
                    through[e] = through.get(e, 0.0) + f[r]
                    row = onward.setdefault(e, {})
                    for b in route[p:p + hops + 1]:
                        row[b] = row.get(b, 0.0) + f[r]
        return {e: {b: v / through[e] for b, v in row.items()} for e, row in onward.items()}

    def _detect(self, alarmed: np.ndarray, slow: np.ndarray, starved: np.ndarray) -> Detection | None:
        """Name the edge behind the alarms and fit its capacity left and start on the engine.

        A lane closed on a street slows the approaches behind it (the queue) while the street itself still moves;
        so the incident sits just past the head of the slow stations: the next edge most vehicles of a slow station
        take, where that edge is not itself a slow station (the model's routes give the shares); among several,
        the one the vehicles of most slow stations reach. A station that only lost vehicles points upstream: the
        edge that feeds it most. The capacity left and the start are then the engine's best fit to the feeds at
        the stations around it, among ``capacity_levels`` and starts within ``lookback_s``."""
        from ..incident.spec import upstream_layers

        net = self.network
        passing = self._passing(self.run)
        slow_edges = {int(self.station_edge[i]) for i in np.flatnonzero(slow)}
        starved_edges = {int(self.station_edge[i]) for i in alarmed if starved[i] and not slow[i]}
        known = {net.edge(d.edge) for d in self.incidents}
        scores: dict[int, float] = {}
        for e in slow_edges:
            # the next edge most of its vehicles take; a head of the queue if that edge is not a slow station
            nxt = {b: v for b, v in passing.get(e, {}).items() if b in self._downstream(e, 1)}
            if not nxt:
                continue
            b = max(sorted(nxt), key=lambda x: nxt[x])
            if b in slow_edges or b in known or str(net.edge_ids[b]).startswith(":"):
                continue
            # how many slow stations' vehicles reach it
            scores[b] = max(scores.get(b, 0.0), sum(passing.get(q, {}).get(b, 0.0) for q in slow_edges))
        for e in starved_edges:
            feeders = [x for layer in upstream_layers(net, {e}, 1) for x in layer]
            for b in feeders:
                if b not in known:
                    scores[b] = max(scores.get(b, 0.0), 0.5 * passing.get(b, {}).get(e, 0.5))
        if not scores:
            return None
        edge = max(sorted(scores), key=lambda b: scores[b])
        base, best = self._fit(edge, [float(t) for t in np.linspace(self.now_s - self.lookback_s,
                                                                        self.now_s - self.alarm_steps * self.step_s, 4)])
        return Detection(str(net.edge_ids[edge]), best[1], best[2], self.now_s, best[0] / base if base > 0 else 1.0,
                         tuple(self.station_ids[i] for i in alarmed))

    def _fit(self, edge: int, onsets: Sequence[float], others: Sequence[Detection] = ()) -> tuple[float, tuple[float, float, float]]:
        """The engine's best capacity left (among ``capacity_levels``) and start (among ``onsets``) of an incident on
        ``edge``, by the misfit to the feeds at the stations around it over the last ``lookback_s`` (speeds first;
        each station's lasting bias against the model taken out): ``(misfit without it, (misfit, factor, start))``."""
        from ..incident.spec import upstream_layers

        net = self.network
        w = self.alarm_window_s
        span = max(self.lookback_s, self.now_s - min(onsets))
        wins = [(t - w, t) for t in np.arange(self.now_s, self.now_s - span - 1e-6, -w)]
        obs = [self.observed(*win) for win in wins]
        base_win = (self.now_s - span - self.baseline_s, self.now_s - span)
        f_b, v_b = self.observed(*base_win)
        qf_b, qv_b = self.modelled(self.quiet if self.quiet is not None else self.run, *base_win)
        with np.errstate(invalid="ignore", divide="ignore"):
            bias_v = np.clip(np.where(np.isfinite(v_b) & (qv_b > 0), v_b / qv_b, 1.0), 0.5, 2.0)
            bias_f = np.clip(np.where(np.isfinite(f_b) & (qf_b > 0), f_b / qf_b, 1.0), 0.5, 2.0)
        hours = w / 3600.0
        near = {edge, *self._downstream(edge, 2), *(x for layer in upstream_layers(net, {edge}, 3) for x in layer)}
        # the engine queues on the closed edge itself (its bottleneck is the edge's end), a street queues before
        # the merge into the lanes left, upstream of it: the incident edge's own station is not compared
        local = np.isin(self.station_edge, list(near - {edge}))

        def misfit(ds: xr.Dataset) -> float:
            total = 0.0
            for (lo, hi), (fo, vo) in zip(wins, obs, strict=True):
                fm, vm = self.modelled(ds, lo, hi)
                fm, vm = fm * bias_f, vm * bias_v
                zf = (fo - fm) * hours / np.sqrt(np.maximum(fm * hours, 1.0) + (self.obs_sd * fm * hours) ** 2)
                with np.errstate(invalid="ignore", divide="ignore"):
                    zv = np.log(np.maximum(vo, 0.3) / np.maximum(vm, 0.3)) / 0.25
                # speeds weigh most: a queue behind a lane closed on a street below its capacity slows the
                # approaches long before the counts past it fall
                total += float(self.flow_weight * np.nansum(np.minimum(zf[local] ** 2, 100.0))
                               + np.nansum(np.minimum(zv[local] ** 2, 100.0)))
            return total

        until = self.now_s + self.step_s
        others = list(others)
        base = misfit(self.load(incidents=self.engine_incidents(others), until_s=until))
        best: tuple[float, float, float] | None = None
        for factor in self.capacity_levels:
            for t_on in onsets:
                inc = self.engine_incidents([*others, Detection(str(net.edge_ids[edge]), factor, float(t_on),
                                                                self.now_s, 0.0, ())])
                sc = misfit(self.load(incidents=inc, until_s=until))
                if best is None or sc < best[0]:
                    best = (sc, factor, float(t_on))
        assert best is not None
        return base, best

    def refit(self) -> list[Detection]:
        """Fit again the capacity left of the incidents found, on the feeds since they began (their start kept);
        the incidents whose capacity left changed.

        Returns
        -------
        list of Detection
        """
        changed = []
        for i, d in enumerate(self.incidents):
            others = [x for j, x in enumerate(self.incidents) if j != i]
            _, (score, factor, _) = self._fit(self.network.edge(d.edge), [d.begin_s], others)
            if factor != d.capacity_factor:
                self.incidents[i] = replace(d, capacity_factor=factor)
                changed.append(self.incidents[i])
        return changed
