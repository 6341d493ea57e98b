"""Feed records checked as they come, and the sources that deliver them.

:class:`FeedGuard` checks each record: unknown stations, negative or missing flows, flows no lane carries, a
record that repeats one already taken or goes back in time, records older than the guard's horizon, stations
silent for longer than ``silent_s`` (flagged, not trusted). Nothing is raised for a bad record: it is dropped
and the reason kept (:attr:`FeedGuard.dropped`), so a loop reading a live feed keeps running.

:class:`ReplaySource` plays recorded files interval by interval at a chosen speed; :class:`FolderWatcher`
yields the records of files as they land in a folder. Both give the same batches, so a loop runs the same on
recorded and live data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .feeds import FeedBatch, FeedError, StationTable, _frame, read_feed

__all__ = ["FeedGuard", "FolderWatcher", "ReplaySource"]


class FeedGuard:
    """Checks feed records as they arrive; keeps what it dropped and why, and which stations fell silent.

    Parameters
    ----------
    stations : StationTable
        The stations the loop knows; records of others are dropped.
    max_age_s : float, s
        Records ending more than this before the latest time seen are stale and dropped.
    silent_s : float, s
        A station without a record for this long is flagged silent (its edge is not trusted until it reports
        again).
    max_flow_veh_h_lane : float, veh/h per lane
        Flows above this per covered lane are not physical and are dropped.
    """

    def __init__(self, stations: StationTable, *, max_age_s: float = 900.0, silent_s: float = 600.0,
                 max_flow_veh_h_lane: float = 3000.0, lanes: dict[str, int] | None = None) -> None:
        self.stations = stations
        self.max_age_s = max_age_s
        self.silent_s = silent_s
        self.max_flow = max_flow_veh_h_lane
        self.lanes = lanes or {}
        self.last_end: dict[str, float] = {}
        self.now_s = -math.inf
        self.dropped: list[tuple[str, str]] = []
        self.gaps: list[tuple[str, float, float]] = []

    def check(self, batch: FeedBatch | Any) -> Any:
        """The records of ``batch`` that pass, in time order; the others go to :attr:`dropped` with a reason.

        Parameters
        ----------
        batch : FeedBatch or pandas.DataFrame

        Returns
        -------
        pandas.DataFrame
            The accepted records (:data:`COLUMNS`).
        """
        records = batch.records if isinstance(batch, FeedBatch) else batch
        if isinstance(batch, FeedBatch):
            self.dropped += batch.dropped
        keep = []
        df = records.sort_values(["end_s", "station"], kind="stable")
        for r in df.itertuples(index=False):
            why = self._why(r)
            if why:
                self.dropped.append((r.source, f"station {r.station!r}: {why}"))
                continue
            last = self.last_end.get(r.station)
            if last is not None and r.begin_s - last > self.silent_s:
                self.gaps.append((r.station, last, r.begin_s))
            self.last_end[r.station] = r.end_s
            self.now_s = max(self.now_s, r.end_s)
            keep.append(r._asdict())
        return _frame(keep)

    def _why(self, r: Any) -> str:
        if r.station not in self.stations:
            return "unknown station (not in the station table); add it there or ignore it"
        if not (math.isfinite(r.begin_s) and math.isfinite(r.end_s) and r.end_s > r.begin_s):
            return f"interval [{r.begin_s}, {r.end_s}) is not one"
        if not math.isfinite(r.flow_veh_h):
            return "no flow"
        if r.flow_veh_h < 0:
            return f"negative flow {r.flow_veh_h:g} veh/h"
        if math.isfinite(r.speed_m_s) and r.speed_m_s < 0:
            return f"negative speed {r.speed_m_s:g} m/s"
        lanes = self.lanes.get(r.edge, 1) * (r.lane_share if r.lane_share > 0 else 1.0)
        if r.flow_veh_h > self.max_flow * max(lanes, 1.0):
            return f"flow {r.flow_veh_h:.0f} veh/h is more than {self.max_flow:.0f} veh/h a lane can carry"
        last = self.last_end.get(r.station)
        if last is not None:
            if r.end_s <= last and r.begin_s < last:
                return (f"interval [{r.begin_s:g}, {r.end_s:g}) s repeats or goes back before the last one taken "
                        f"(ended {last:g} s)")
        if r.end_s < self.now_s - self.max_age_s:
            return f"stale: ends {self.now_s - r.end_s:.0f} s before the latest record (limit {self.max_age_s:g} s)"
        return ""

    def silent(self, now_s: float | None = None) -> list[str]:
        """Stations with no record in the last ``silent_s`` (before ``now_s``, default the latest time seen);
        a station never heard from counts as silent.

        Parameters
        ----------
        now_s : float, s, optional

        Returns
        -------
        list of str
        """
        now = self.now_s if now_s is None else now_s
        return [s for s in self.stations.edge if self.last_end.get(s, -math.inf) < now - self.silent_s]


# ---- sources ---------------------------------------------------------------------------------------------------
class ReplaySource:
    """Plays recorded feed files interval by interval: each batch holds the records that end in
    ``(t, t + step_s]``, and the source waits ``step_s / speed`` wall seconds between batches (``speed`` inf: no
    waiting).

    Parameters
    ----------
    paths : list of path
        Feed files (any format :func:`read_feed` reads).
    stations : StationTable, optional
    step_s : float, s
        Simulated time a batch covers.
    speed : float
        Simulated seconds per wall second (inf: as fast as the loop takes them).
    begin_s, end_s : float, s, optional
        Play only this window.
    origin : datetime, optional
        Time 0 of the simulated clock.
    """

    def __init__(self, paths: Sequence[str | Path], stations: StationTable | None = None, *, step_s: float = 60.0,
                 speed: float = math.inf, begin_s: float | None = None, end_s: float | None = None,
                 origin: datetime | None = None) -> None:
        import pandas as pd

        if not step_s > 0 or not speed > 0:
            raise InputError(f"step_s and speed must be positive, got {step_s!r} and {speed!r}")
        self.step_s, self.speed = float(step_s), float(speed)
        frames, self.dropped = [], []
        for p in paths:
            try:
                b = read_feed(p, stations, origin=origin)
            except FeedError as exc:
                self.dropped.append((str(p), f"file not read: {exc}"))
                continue
            frames.append(b.records)
            self.dropped += b.dropped
        self.records = pd.concat(frames, ignore_index=True) if frames else _frame([])
        ends = self.records["end_s"].to_numpy()
        self.begin_s = float(begin_s) if begin_s is not None else (float(np.nanmin(ends)) - step_s if len(ends) else 0.0)
        self.end_s = float(end_s) if end_s is not None else (float(np.nanmax(ends)) if len(ends) else 0.0)

    def __iter__(self) -> Iterator[tuple[float, FeedBatch]]:
        """``(now_s, batch)`` per step: the simulated time the batch runs to and its records."""
        t = self.begin_s
        first = True
        ends = self.records["end_s"].to_numpy()
        while t < self.end_s - 1e-9:
            nxt = t + self.step_s
            if not first and math.isfinite(self.speed):
                time.sleep(self.step_s / self.speed)
            mask = (ends > t) & (ends <= nxt)
            yield nxt, FeedBatch(self.records[mask].reset_index(drop=True), self.dropped if first else [])
            first = False
            t = nxt


class FolderWatcher:
    """Yields the records of feed files as they land in ``folder`` (a file is read once its size has stopped
    changing; files already there at the start are read first, oldest first).

    Parameters
    ----------
    folder : path
    stations : StationTable, optional
    poll_s : float, s
        Wall time between looks at the folder.
    pattern : str
        Glob of the files to read.
    timeout_s : float, s, optional
        Stop after this long without a new file (None: never).
    origin : datetime, optional
    """

    def __init__(self, folder: str | Path, stations: StationTable | None = None, *, poll_s: float = 1.0,
                 pattern: str = "*", timeout_s: float | None = None, origin: datetime | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"feed folder not found: {self.folder} (resolved to {self.folder.resolve()})")
        self.stations, self.poll_s, self.pattern, self.timeout_s = stations, poll_s, pattern, timeout_s
        self.clock_origin = origin
        self.seen: dict[str, tuple[float, int]] = {}

    def __iter__(self) -> Iterator[tuple[float, FeedBatch]]:
        """``(now_s, batch)`` per new file: the latest record end seen so far and the file's records."""
        last_new = time.monotonic()
        sizes: dict[str, int] = {}
        now = -math.inf
        while True:
            new = False
            files = sorted((p for p in self.folder.glob(self.pattern) if p.is_file() and not p.name.startswith(".")),
                           key=lambda q: (q.stat().st_mtime, q.name))
            for p in files:
                st = p.stat()
                key = (st.st_mtime, st.st_size)
                if self.seen.get(p.name) == key:
                    continue
                if sizes.get(p.name) != st.st_size:   # still being written: look again next time
                    sizes[p.name] = st.st_size
                    continue
                self.seen[p.name] = key
                new = True
                try:
                    b = read_feed(p, self.stations, origin=self.clock_origin)
                except FeedError as exc:
                    yield now, FeedBatch(_frame([]), [(str(p), f"file not read: {exc}")])
                    continue
                if len(b.records):
                    now = max(now, float(b.records["end_s"].max()))
                yield now, b
            if new:
                last_new = time.monotonic()
            elif self.timeout_s is not None and time.monotonic() - last_new > self.timeout_s:
                return
            time.sleep(self.poll_s)


