"""Feeds in: what a traffic centre receives from its detectors, read into one table, checked record by record.

A feed record is one station's measurement over one interval: vehicles per hour, mean speed and occupancy, on
a network edge (the station table says which edge and which of its lanes a station covers). Readers:

* **SUMO** edge data (``<data>``/``<meandata>``, every edge a station; the flow is the vehicles that entered
  the edge plus those that departed on it, as a loop on the edge counts them) and E1 induction-loop output
  (``<detector>``, a loop a station; the loops' lanes come from their definition file).
* **PeMS-style station CSV**: a header naming ``station``, ``timestamp``, the flow (``flow`` in all lanes or
  ``flow_1``, ``flow_2``, ... per lane, vehicles counted in the interval), the speed (``speed_mph``,
  ``speed_km_h`` or ``speed_m_s``) and ``occupancy`` (a share, 0-1); or PeMS's own headerless 5-minute
  station files (timestamp, station, district, freeway, direction, lane type, station length, samples,
  % observed, total flow, average occupancy, average speed in mph, then five columns per lane).
* **DATEX II v3** ``MeasuredDataPublication`` in XML or JSON: per ``siteMeasurements``, the site
  (``measurementSiteReference``), the time (``measurementTimeDefault``), flows (``vehicleFlowRate``, veh/h,
  summed over the site's lanes), speeds (``averageVehicleSpeed/speed``, km/h, weighted by flow) and
  occupancy (``occupancy/percentage``).
* **Parking occupancy** per area, in the parking application's CSV (``area,timestamp,occupied[,capacity]``).

Times become seconds of simulated time: a timestamp ``t`` is ``t - origin``, with ``origin`` midnight of the
feed's first day unless given (so a scenario that runs from 07:00 starts at 25200 s).

A truncated file keeps the records read before the break and says where it broke. Checking records as they come
and playing or watching feeds: :mod:`mobility.live.sources`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError

__all__ = ["COLUMNS", "FeedBatch", "FeedError", "StationTable", "read_feed", "read_parking_occupancy", "read_stations"]

#: Columns of a feed table, in order.
COLUMNS = ("station", "edge", "begin_s", "end_s", "flow_veh_h", "speed_m_s", "occupancy", "lane_share", "source")
#: Largest feed file read, bytes.
MAX_FEED_BYTES = 64 * 2**20
MPH = 0.44704


class FeedError(InputError):
    """A feed file that cannot be read at all (the message names the file and line and the fix)."""


# ---- stations ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StationTable:
    """Where each station measures: ``edge`` (a network edge id) and ``lane_share`` (the share of the edge's
    lanes it covers; a loop on one lane of a two-lane road is 0.5), with the ``file:line`` of its definition."""

    edge: dict[str, str]
    lane_share: dict[str, float] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)

    def __contains__(self, station: object) -> bool:
        return station in self.edge

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def edges(self) -> list[str]:
        """The edges the stations measure, each once, in station order."""
        return list(dict.fromkeys(self.edge.values()))

    @classmethod
    def for_edges(cls, edges: Sequence[str]) -> StationTable:
        """Every edge its own station, covering all its lanes (SUMO edge data)."""
        return cls({str(e): str(e) for e in edges}, {str(e): 1.0 for e in edges})


def read_stations(path: str | Path, network: Any = None) -> StationTable:
    """Read a station table: a CSV ``station,edge[,lanes]`` (``lanes``: the lane indices it covers, space
    separated, SUMO's numbering; all lanes when empty), or a SUMO additional file of induction loops
    (``<inductionLoop id lane>``; loops on one edge stay separate stations).

    Parameters
    ----------
    path : path
    network : RoadNetwork, optional
        Checks the edges and lanes, and gives the lane shares.

    Returns
    -------
    StationTable

    Raises
    ------
    FeedError
        A missing column, an unknown edge or lane, a station defined twice; the message names file and line.
    """
    p = Path(path)
    text = _text(p)
    edge: dict[str, str] = {}
    share: dict[str, float] = {}
    source: dict[str, str] = {}

    def add(station: str, e: str, lanes: list[int] | None, line: int) -> None:
        if station in edge:
            raise FeedError(f"{p}:{line}: station {station!r} defined twice (first at {source[station]}); "
                            "give each station one row")
        n = 1
        if network is not None:
            if str(e) not in network.edge_index:
                raise FeedError(f"{p}:{line}: station {station!r}: network {network.name!r} has no edge {e!r}")
            n = max(int(network.lanes[network.edge(e)]), 1)
            bad = [i for i in lanes or [] if not 0 <= i < n]
            if bad:
                raise FeedError(f"{p}:{line}: station {station!r}: edge {e!r} has {n} lane(s), not lane(s) {bad}")
        edge[station], source[station] = str(e), f"{p}:{line}"
        share[station] = min(1.0, len(lanes) / n) if lanes and network is not None else 1.0

    if text.lstrip().startswith("<"):
        elements, err = _xml(p)
        if err:
            raise FeedError(err)
        for line, tag, a, _ in elements:
            if tag in ("inductionLoop", "e1Detector"):
                if "id" not in a or "lane" not in a:
                    raise FeedError(f"{p}:{line}: <{tag}> needs 'id' and 'lane'")
                e, _, idx = a["lane"].rpartition("_")
                if not e or not idx.isdigit():
                    raise FeedError(f"{p}:{line}: lane {a['lane']!r} is not EDGE_INDEX")
                add(a["id"], e, [int(idx)], line)
    else:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or [c.strip() for c in rows[0][:2]] != ["station", "edge"]:
            raise FeedError(f"{p}:1: a station table starts with the header station,edge[,lanes]")
        has_lanes = len(rows[0]) > 2 and rows[0][2].strip() == "lanes"
        for i, r in enumerate(rows[1:], start=2):
            if not r or not any(c.strip() for c in r):
                continue
            if len(r) < 2 or not r[0].strip() or not r[1].strip():
                raise FeedError(f"{p}:{i}: a row needs a station and an edge")
            lanes = None
            if has_lanes and len(r) > 2 and r[2].strip():
                try:
                    lanes = [int(x) for x in r[2].split()]
                except ValueError:
                    raise FeedError(f"{p}:{i}: lanes {r[2]!r} must be lane indices separated by spaces") from None
            add(r[0].strip(), r[1].strip(), lanes, i)
    if not edge:
        raise FeedError(f"{p}: no station in the table")
    return StationTable(edge, share, source)


# ---- files ---------------------------------------------------------------------------------------------------
def _text(p: Path) -> str:
    if not p.is_file():
        raise FeedError(f"feed file not found: {p} (resolved to {p.resolve()})")
    size = p.stat().st_size
    if size > MAX_FEED_BYTES:
        raise FeedError(f"{p}: a feed file of {size / 2**20:.0f} MiB is too large; split it (limit "
                        f"{MAX_FEED_BYTES // 2**20} MiB)")
    raw = p.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise FeedError(f"{p}:{line}: not UTF-8 text; save the file as UTF-8") from None


Element = tuple[int, str, dict[str, str], list[str]]


def _xml(p: Path, *, texts: bool = False) -> tuple[list[Element], str]:
    """The elements of an XML feed file ``(line, local tag, attributes, [text])`` read up to its end or to the first
    problem (:func:`mobility._sumoxml.walk`'s guards: not XML, truncated, a DTD or entity, too deep or large); the
    problem (``file:line: what``) or ''."""
    from .._sumoxml import walk

    out: list[Element] = []
    stack: list[Element] = []

    def start(tag: str, attrs: dict[str, str], line: int) -> None:
        el = (line, tag.rpartition(":")[2], {k.rpartition(":")[2]: v for k, v in attrs.items()}, [])
        out.append(el)
        stack.append(el)

    def end(_tag: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1][3].append(data)

    try:
        walk(p, kind="additional", what="feed file", start=start, end=end, text=chars if texts else None,
             max_bytes=MAX_FEED_BYTES)
    except InputError as exc:
        return out, str(exc)
    return out, ""


def _num(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


_FORMATS = ("%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S")


def _timestamp(text: str) -> datetime | float | None:
    """A timestamp: ISO 8601 or PeMS's ``MM/DD/YYYY HH:MM:SS`` (a datetime, UTC when it names no zone), or a
    plain number of seconds (a float); None when unreadable."""
    s = text.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        d = None
        for f in _FORMATS:
            try:
                d = datetime.strptime(s, f)
                break
            except ValueError:
                continue
    if d is None:
        return None
    return d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)


class _Clock:
    """Timestamps to seconds of simulated time from ``origin`` (midnight of the first timestamp's day)."""

    def __init__(self, origin: datetime | None) -> None:
        self.origin = origin if origin is None or origin.tzinfo else origin.replace(tzinfo=timezone.utc)

    def __call__(self, t: datetime | float) -> float:
        if isinstance(t, float):
            return t
        if self.origin is None:
            self.origin = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return (t - self.origin).total_seconds()


@dataclass
class FeedBatch:
    """Records read from a feed, and what was dropped while reading (``(source, reason)``)."""

    records: Any   # pandas.DataFrame with :data:`COLUMNS`
    dropped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in COLUMNS[2:8]:
        df[c] = df[c].astype(float)
    return df


def read_feed(path: str | Path, stations: StationTable | None = None, *, origin: datetime | None = None,
              interval_s: float | None = None, kind: str = "auto") -> FeedBatch:
    """Read one feed file into records (:data:`COLUMNS`).

    Parameters
    ----------
    path : path
    stations : StationTable, optional
        Maps stations to edges (needed for PeMS and DATEX II; SUMO edge data names its edges; E1 output needs
        the loops' definitions). Records of stations it does not hold keep ``edge`` empty (a
        :class:`FeedGuard` drops them).
    origin : datetime, optional
        Time 0 of the simulated clock (default: midnight of the feed's first day).
    interval_s : float, s, optional
        Length of each measurement interval where the file does not say it (default: the smallest step between
        one station's timestamps, else 300 s for PeMS and 60 s for DATEX II).
    kind : {"auto", "sumo", "pems", "datex"}
        The format (default: from the content).

    Returns
    -------
    FeedBatch
        The records, and the rows dropped while reading with the reason (a truncated file keeps what came
        before the break).

    Raises
    ------
    FeedError
        The file is missing, too large, not text, or in no format a feed comes in.
    """
    p = Path(path)
    text = _text(p)
    head = text.lstrip()[:4000]
    if kind == "auto":
        if head.startswith("{") or head.startswith("["):
            kind = "datex"
        elif head.startswith("<"):
            kind = "datex" if re.search(r"MeasuredDataPublication|siteMeasurements|d2LogicalModel|payload", head) else "sumo"
        else:
            kind = "pems"
    clock = _Clock(origin)
    if kind == "sumo":
        return _sumo(p, text, stations)
    if kind == "pems":
        return _pems(p, text, stations, clock, interval_s)
    if kind == "datex":
        return _datex(p, text, stations, clock, interval_s)
    raise FeedError(f"kind must be 'auto', 'sumo', 'pems' or 'datex', got {kind!r}")


def _sumo(p: Path, text: str, stations: StationTable | None) -> FeedBatch:
    elements, err = _xml(p)
    dropped = [(str(p), err + " (the records before it are kept)")] if err else []
    if not elements:
        raise FeedError(err or f"{p}: empty XML")
    root = elements[0][1]
    rows: list[dict[str, Any]] = []
    if root in ("data", "meandata"):
        interval: tuple[float, float] | None = None
        for line, tag, a, _ in elements[1:]:
            if tag == "interval":
                interval = (_num(a.get("begin")), _num(a.get("end")))
            elif tag == "edge" and interval is not None:
                e = a.get("id", "")
                n = _num(a.get("entered", "nan")) + _num(a.get("departed", "0"))
                span = interval[1] - interval[0]
                st = e if stations is None else e if e in stations else None
                if stations is not None and st is None:
                    continue   # edge data covers every edge; only the table's stations are the feed
                speed = _num(a.get("speed"))
                occ = _num(a.get("occupancy"))
                rows.append(dict(station=e, edge=e, begin_s=interval[0], end_s=interval[1],
                                 flow_veh_h=n * 3600.0 / span if span > 0 else math.nan,
                                 speed_m_s=speed if speed >= 0 else math.nan,
                                 occupancy=occ / 100.0 if occ >= 0 else math.nan,
                                 lane_share=1.0 if stations is None else stations.lane_share.get(e, 1.0),
                                 source=f"{p}:{line}"))
    elif root == "detector":
        for line, tag, a, _ in elements[1:]:
            if tag != "interval":
                continue
            st = a.get("id", "")
            b, e = _num(a.get("begin")), _num(a.get("end"))
            n = _num(a.get("nVehContrib"))
            speed, occ = _num(a.get("speed")), _num(a.get("occupancy"))
            rows.append(dict(station=st, edge=stations.edge.get(st, "") if stations is not None else "",
                             begin_s=b, end_s=e, flow_veh_h=n * 3600.0 / (e - b) if e > b else math.nan,
                             speed_m_s=speed if speed >= 0 else math.nan,
                             occupancy=occ / 100.0 if occ >= 0 else math.nan,
                             lane_share=stations.lane_share.get(st, 1.0) if stations is not None else 1.0,
                             source=f"{p}:{line}"))
    else:
        raise FeedError(f"{p}:1: <{root}> is not a SUMO feed; give edge data (<data>/<meandata>) or E1 output "
                        "(<detector>)")
    return FeedBatch(_frame(rows), dropped)


def _step(times: dict[str, list[float]], default: float) -> float:
    steps = [d for ts in times.values() for d in np.diff(sorted(set(ts))) if d > 0]
    return float(min(steps)) if steps else default


def _pems(p: Path, text: str, stations: StationTable | None, clock: _Clock, interval_s: float | None) -> FeedBatch:
    rows_in = list(csv.reader(io.StringIO(text, newline="")))
    dropped: list[tuple[str, str]] = []
    if not rows_in:
        raise FeedError(f"{p}: empty feed file")
    header = [c.strip().lower() for c in rows_in[0]]
    raw: list[tuple[int, str, datetime | float, float, float, float]] = []   # line, station, t, veh, speed, occ
    if "station" in header and "timestamp" in header:
        col = {c: i for i, c in enumerate(header)}
        lane_cols = sorted((i for c, i in col.items() if re.fullmatch(r"flow_\d+", c)), key=lambda i: header[i])
        if "flow" not in col and not lane_cols:
            raise FeedError(f"{p}:1: no flow column; name it 'flow' (all lanes) or flow_1, flow_2, ... (per lane)")
        speed_col, factor = next(((col[c], f) for c, f in (("speed_m_s", 1.0), ("speed_km_h", 1 / 3.6),
                                                             ("speed_mph", MPH)) if c in col), (None, 1.0))
        for i, r in enumerate(rows_in[1:], start=2):
            if not r or not any(x.strip() for x in r):
                continue
            if len(r) < len(header):
                dropped.append((f"{p}:{i}", f"{len(r)} of {len(header)} columns (a truncated row)"))
                continue
            t = _timestamp(r[col["timestamp"]])
            if t is None:
                dropped.append((f"{p}:{i}", f"timestamp {r[col['timestamp']]!r} is not a time"))
                continue
            veh = _num(r[col["flow"]]) if "flow" in col else float(sum(_num(r[j]) for j in lane_cols))
            occ = _num(r[col["occupancy"]]) if "occupancy" in col else math.nan
            raw.append((i, r[col["station"]].strip(), t, veh,
                        _num(r[speed_col]) * factor if speed_col is not None else math.nan, occ))
    else:
        # PeMS's own 5-minute station file: no header
        for i, r in enumerate(rows_in, start=1):
            if not r or not any(x.strip() for x in r):
                continue
            if len(r) < 12:
                dropped.append((f"{p}:{i}", f"{len(r)} columns; a PeMS station row has at least 12 (truncated?)"))
                continue
            t = _timestamp(r[0])
            if t is None:
                if i == 1:
                    raise FeedError(f"{p}:1: neither a header naming station,timestamp,flow... nor a PeMS station "
                                    f"row (its first field {r[0]!r} is not a time)")
                dropped.append((f"{p}:{i}", f"timestamp {r[0]!r} is not a time"))
                continue
            occ = _num(r[10])
            raw.append((i, r[1].strip(), t, _num(r[9]), _num(r[11]) * MPH, occ))
    secs = [(i, st, clock(t), veh, sp, occ) for i, st, t, veh, sp, occ in raw]
    by: dict[str, list[float]] = {}
    for _, st, t, *_ in secs:
        by.setdefault(st, []).append(t)
    span = interval_s or _step(by, 300.0)
    rows = [dict(station=st, edge=stations.edge.get(st, "") if stations is not None else "", begin_s=t,
                 end_s=t + span, flow_veh_h=veh * 3600.0 / span, speed_m_s=sp,
                 occupancy=occ / 100.0 if occ > 1.0 else occ,
                 lane_share=stations.lane_share.get(st, 1.0) if stations is not None else 1.0, source=f"{p}:{i}")
            for i, st, t, veh, sp, occ in secs]
    return FeedBatch(_frame(rows), dropped)


def _datex(p: Path, text: str, stations: StationTable | None, clock: _Clock, interval_s: float | None) -> FeedBatch:
    """DATEX II v3 measured data: each ``siteMeasurements`` becomes a record (flows summed, speeds weighted by
    flow)."""
    dropped: list[tuple[str, str]] = []
    sites: list[tuple[str, str, str | None, list[float], list[float], list[float], float]] = []
    if text.lstrip().startswith("<"):
        elements, err = _xml(p, texts=True)
        if err:
            dropped.append((str(p), err + " (the complete site measurements before it are kept)"))
        cur: dict[str, Any] | None = None
        for line, tag, a, body in elements:
            val = "".join(body).strip()
            if tag == "siteMeasurements":
                if cur is not None:
                    sites.append(_site(cur))
                cur = {"line": line, "site": "", "time": None, "flow": [], "speed": [], "occ": [], "period": math.nan}
                continue
            if cur is None:
                continue
            if tag == "measurementSiteReference":
                cur["site"] = a.get("id", "")
            elif tag == "measurementTimeDefault":
                cur["time_el"] = (line, body)
            elif tag == "vehicleFlowRate":
                cur["flow"].append(body)
            elif tag == "speed":
                cur["speed"].append(body)
            elif tag == "percentage":
                cur["occ"].append(body)
            elif tag == "period":
                cur["period_el"] = body
        if cur is not None:
            last = _site(cur)
            # a site cut short by a truncation is not complete: drop it
            if err:
                dropped.append((f"{p}:{cur['line']}", f"site {last[1]!r} cut short by the truncation"))
            else:
                sites.append(last)
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FeedError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg}); a truncated file cannot be read "
                            "in part") from None
        for k, sm in enumerate(_json_sites(doc)):
            ref = sm.get("measurementSiteReference", {})
            site = str(ref.get("id", "")) if isinstance(ref, dict) else str(ref)
            flows = _json_values(sm, "vehicleFlowRate", None)
            speeds = _json_values(sm, "speed", "averageVehicleSpeed")
            occ = _json_values(sm, "percentage", "occupancy")
            period = _json_values(sm, "period", None)
            sites.append((f"{p}:site {k + 1}", site, str(sm.get("measurementTimeDefault", "")) or None, flows,
                          speeds, occ, period[0] if period else math.nan))
    rows: list[dict[str, Any]] = []
    parsed = []
    for src, site, t_text, flows, speeds, occ, period in sites:
        t = _timestamp(t_text) if t_text else None
        if t is None:
            dropped.append((src, f"site {site!r}: no readable measurementTimeDefault ({t_text!r})"))
            continue
        parsed.append((src, site, clock(t), flows, speeds, occ, period))
    by: dict[str, list[float]] = {}
    for _, site, t, *_ in parsed:
        by.setdefault(site, []).append(t)
    default = interval_s or _step(by, 60.0)
    for src, site, t, flows, speeds, occ, period in parsed:
        good = [f for f in flows if math.isfinite(f)]
        flow = float(sum(good)) if good else math.nan
        if any(f < 0 for f in good):
            flow = -1.0   # the guard drops it with its reason
        w = [max(f, 0.0) for f in flows] if len(flows) == len(speeds) else [1.0] * len(speeds)
        sp = [(s, wi) for s, wi in zip(speeds, w, strict=False) if math.isfinite(s) and s >= 0]
        speed = (sum(s * wi for s, wi in sp) / sum(wi for _, wi in sp) if sp and sum(wi for _, wi in sp) > 0
                 else (float(np.mean([s for s, _ in sp])) if sp else math.nan))
        span = period if math.isfinite(period) and period > 0 else default
        good_occ = [o for o in occ if math.isfinite(o) and o >= 0]
        rows.append(dict(station=site, edge=stations.edge.get(site, "") if stations is not None else "",
                         begin_s=t - span if math.isfinite(period) else t, end_s=t if math.isfinite(period) else t + span,
                         flow_veh_h=flow, speed_m_s=speed / 3.6 if math.isfinite(speed) else math.nan,
                         occupancy=float(np.mean(good_occ)) / 100.0 if good_occ else math.nan,
                         lane_share=stations.lane_share.get(site, 1.0) if stations is not None else 1.0, source=src))
    return FeedBatch(_frame(rows), dropped)


def _site(cur: dict[str, Any]) -> tuple[str, str, str | None, list[float], list[float], list[float], float]:
    t_el = cur.get("time_el")
    t_text = "".join(t_el[1]).strip() if t_el else None
    period = _num("".join(cur.get("period_el", [])).strip()) if cur.get("period_el") else math.nan
    vals = lambda key: [_num("".join(b).strip()) for b in cur[key]]  # noqa: E731
    return (f"line {cur['line']}", cur["site"], t_text, vals("flow"), vals("speed"), vals("occ"), period)


def _json_sites(doc: Any) -> Iterator[dict[str, Any]]:
    """Every ``siteMeasurements`` object of a DATEX II JSON document, wherever it sits."""
    stack = [doc]
    while stack:
        x = stack.pop(0)
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "siteMeasurements":
                    yield from (v if isinstance(v, list) else [v])
                else:
                    stack.append(v)
        elif isinstance(x, list):
            stack.extend(x)


def _json_values(x: Any, key: str, under: str | None, inside: bool = False) -> list[float]:
    """Numbers under ``key`` anywhere in ``x`` (within an ``under`` object when given), in document order."""
    out: list[float] = []
    if isinstance(x, dict):
        for k, v in x.items():
            ok = inside or under is None
            if k == key and ok and not isinstance(v, dict | list):
                out.append(_num(v))
            else:
                out += _json_values(v, key, under, inside or k == under)
    elif isinstance(x, list):
        for v in x:
            out += _json_values(v, key, under, inside)
    return out


def read_parking_occupancy(path: str | Path, *, origin: datetime | None = None) -> Any:
    """Parking occupancy per area: the parking application's results (a netCDF with ``occupancy`` on
    ``(area, time)`` and ``capacity`` on ``area``, as :func:`mobility.parking.simulate` writes them; the first
    seed where there are several), or a CSV ``area,timestamp,occupied[,capacity]`` with its area ids.

    Parameters
    ----------
    path : path
    origin : datetime, optional
        Time 0 of the simulated clock for a CSV's timestamps (default: midnight of the first day).

    Returns
    -------
    pandas.DataFrame
        ``area``, ``time_s``, ``occupied`` (vehicles), ``capacity`` (spaces, NaN when not given), ``source``.

    Raises
    ------
    FeedError
        A missing column or variable, a timestamp or count that is not one, a negative count, an occupancy above
        capacity.
    """
    import pandas as pd

    p = Path(path)
    if p.suffix.lower() == ".nc":
        return _parking_results(p)
    rows = list(csv.reader(io.StringIO(_text(p), newline="")))
    header = [c.strip() for c in rows[0]] if rows else []
    need = ["area", "timestamp", "occupied"]
    if header[:3] != need:
        raise FeedError(f"{p}:1: a parking occupancy table starts with the header area,timestamp,occupied[,capacity]")
    clock = _Clock(origin)
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if not r or not any(c.strip() for c in r):
            continue
        t = _timestamp(r[1]) if len(r) > 1 else None
        if t is None:
            raise FeedError(f"{p}:{i}: timestamp {r[1] if len(r) > 1 else ''!r} is not a time")
        occ = _num(r[2]) if len(r) > 2 else math.nan
        cap = _num(r[3]) if len(r) > 3 and r[3].strip() else math.nan
        if not occ >= 0:
            raise FeedError(f"{p}:{i}: area {r[0]!r}: occupied {r[2] if len(r) > 2 else ''!r} must be a count >= 0")
        if math.isfinite(cap) and occ > cap:
            raise FeedError(f"{p}:{i}: area {r[0]!r}: {occ:g} occupied of {cap:g} spaces; check the count or the capacity")
        out.append({"area": r[0].strip(), "time_s": clock(t), "occupied": occ, "capacity": cap, "source": f"{p}:{i}"})
    return pd.DataFrame(out, columns=["area", "time_s", "occupied", "capacity", "source"])


def _parking_results(p: Path) -> Any:
    """Occupancy rows of a parking results file (``occupancy(area, time)``, ``capacity(area)``)."""
    import pandas as pd
    import xarray as xr

    try:
        with xr.open_dataset(p) as ds:
            if "occupancy" not in ds or "area" not in ds["occupancy"].dims or "time" not in ds["occupancy"].dims:
                raise FeedError(f"{p}: no 'occupancy' on (area, time); give the parking application's results file")
            occ = ds["occupancy"]
            for d in [d for d in occ.dims if d not in ("area", "time")]:
                occ = occ.isel({d: 0})
            cap = ds["capacity"] if "capacity" in ds else None
            if cap is not None:
                for d in [d for d in cap.dims if d != "area"]:
                    cap = cap.isel({d: 0})
            occ = occ.load()
            cap_v = cap.values if cap is not None else np.full(occ.sizes["area"], np.nan)
    except (OSError, ValueError) as exc:
        raise FeedError(f"{p}: not a readable netCDF file ({exc})") from None
    areas = [str(a) for a in occ["area"].values] if "area" in occ.coords else [str(i) for i in range(occ.sizes["area"])]
    times = occ["time"].values.astype(float) if "time" in occ.coords else np.arange(occ.sizes["time"], dtype=float)
    rows = [{"area": a, "time_s": float(t), "occupied": float(occ.values[i, k]), "capacity": float(cap_v[i]),
             "source": f"{p}:occupancy[{a}, {t:g}]"}
            for i, a in enumerate(areas) for k, t in enumerate(times)]
    return pd.DataFrame(rows, columns=["area", "time_s", "occupied", "capacity", "source"])
