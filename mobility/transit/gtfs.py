"""Bus lines from a GTFS feed, through SUMO's ``gtfs2pt.py`` (from the wheel) on the study's network.

``gtfs2pt.py`` maps the feed's stops to the network's lanes and its trips to routes; it drops, without an
error, stops it cannot place. Here every stop served by the imported routes must be placed: a stop
further than ``max_stop_distance_m`` from a lane buses may use is an error naming the feed's ``stops.txt``
line and the stop id. The network must be geo-referenced (from OSM, or with a projection).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from .._errors import InputError, SimulationError
from .spec import LineSpec, StopSpec, TransitSpec

__all__ = ["gtfs_lines", "read_gtfs_table"]

BUS_ROUTE_TYPES = {3, *range(700, 800)}


def read_gtfs_table(feed: Path, name: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of one GTFS table as ``(line, {column: text})`` (a zip or a folder).

    Parameters
    ----------
    feed : Path
        The feed (zip file or folder).
    name : str
        Table file name, e.g. ``"stops.txt"``.

    Returns
    -------
    list of tuple
    """
    try:
        if feed.is_dir():
            text = (feed / name).read_text(encoding="utf-8-sig")
        else:
            with zipfile.ZipFile(feed) as z:
                text = z.read(name).decode("utf-8-sig")
    except (KeyError, FileNotFoundError):
        raise InputError(f"{feed}: GTFS table {name} is missing; a feed needs agency, stops, routes, trips, "
                         "stop_times and calendar (or calendar_dates)") from None
    except zipfile.BadZipFile:
        raise InputError(f"{feed}: not a zip file; give the GTFS feed as a zip or a folder") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [(i + 2, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for i, r in enumerate(reader)]


def _used_stops(spec: TransitSpec) -> tuple[dict[str, tuple[int, dict[str, str]]], set[str]]:
    """Stops of the feed's bus routes chosen by the study, with their ``stops.txt`` lines; the chosen trips' ids."""
    g = spec.gtfs
    assert g is not None
    routes = {r["route_id"]: r for _, r in read_gtfs_table(g.feed, "routes.txt")}
    if g.routes:
        unknown = [r for r in g.routes if r not in routes]
        if unknown:
            raise InputError(f"{g.feed}: routes.txt has no route_id {unknown[0]!r} (gtfs.routes in "
                             f"{spec.source_file or spec.name}); the feed's routes are {', '.join(sorted(routes)[:20])}")
        chosen = set(g.routes)
    else:
        chosen = {k for k, r in routes.items() if _int(r.get("route_type")) in BUS_ROUTE_TYPES}
    trips = {r["trip_id"] for _, r in read_gtfs_table(g.feed, "trips.txt") if r.get("route_id") in chosen}
    used = {r["stop_id"] for _, r in read_gtfs_table(g.feed, "stop_times.txt") if r.get("trip_id") in trips}
    stops = {r["stop_id"]: (line, r) for line, r in read_gtfs_table(g.feed, "stops.txt")}
    missing = sorted(used - set(stops))
    if missing:
        raise InputError(f"{g.feed}: stop_times.txt names stop {missing[0]!r}, which stops.txt does not define")
    return {s: stops[s] for s in used}, trips


def _clock(text: str) -> float:
    """Seconds of a GTFS time ``H:MM:SS`` (hours may pass 24)."""
    h, m, sec = (int(x) for x in text.split(":"))
    return 3600.0 * h + 60.0 * m + sec


def _timetables(feed: Path, trips: set[str]) -> dict[str, list[tuple[str, float, float]]]:
    """Per trip: ``(stop id, arrival s, departure s)`` in stop order."""
    rows: dict[str, list[tuple[int, str, float, float]]] = {}
    for line, r in read_gtfs_table(feed, "stop_times.txt"):
        if r.get("trip_id") not in trips:
            continue
        try:
            arr = _clock(r.get("arrival_time") or r["departure_time"])
            dep = _clock(r.get("departure_time") or r["arrival_time"])
            seq = int(r["stop_sequence"])
        except (KeyError, ValueError):
            raise InputError(f"{feed}:stop_times.txt:{line}: trip {r.get('trip_id')}: unreadable time or "
                             "stop_sequence; times are H:MM:SS") from None
        rows.setdefault(r["trip_id"], []).append((seq, r["stop_id"], arr, dep))
    return {t: [(sid, a, d) for _, sid, a, d in sorted(v)] for t, v in rows.items()}


def _int(v: Any) -> int:
    try:
        return int(str(v))
    except ValueError:
        return -1


def _gtfs2pt(spec: TransitSpec, net_file: Path, out: Path) -> tuple[Path, Path]:
    import sumo

    g = spec.gtfs
    assert g is not None
    tool = Path(sumo.SUMO_HOME) / "tools" / "import" / "gtfs" / "gtfs2pt.py"
    add, rou = out / "pt.add.xml", out / "pt.rou.xml"
    feed = Path(g.feed).resolve()
    if feed.is_dir():  # gtfs2pt.py reads zips only
        with zipfile.ZipFile(out / "feed.zip", "w") as z:
            for f in sorted(feed.glob("*.txt")):
                z.write(f, f.name)
        feed = out / "feed.zip"
    cmd = [sys.executable, str(tool), "-n", str(Path(net_file).resolve()), "--gtfs", str(feed),
           "--date", g.date, "--modes", "bus", "--route-output", str(rou), "--additional-output", str(add),
           "--use-gtfs-stopids", "--write-arrival", "--radius", f"{g.max_stop_distance_m:g}",
           "--duration", f"{g.dwell_s:g}"]
    env = dict(os.environ, SUMO_HOME=str(sumo.SUMO_HOME))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    try:
        done = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        raise SimulationError(f"gtfs2pt.py did not finish within 30 minutes on {g.feed}") from None
    if done.returncode != 0 or not add.is_file() or not rou.is_file():
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise InputError(f"{g.feed}: SUMO's gtfs2pt.py could not import the feed on {net_file.name}: {tail}")
    return add, rou


def gtfs_lines(spec: TransitSpec, net: Any, scenario: Any) -> list[LineSpec]:
    """The bus lines of the study's GTFS feed on the scenario's network, trips in the scenario's window.

    Parameters
    ----------
    spec : TransitSpec
        A study with ``gtfs``.
    net : RoadNetwork
    scenario : Scenario

    Returns
    -------
    list of LineSpec
        One per route pattern ``gtfs2pt.py`` writes, with its stops, timetable and departures.
    """
    g = spec.gtfs
    if g is None:
        return []
    used, trips = _used_stops(spec)
    with tempfile.TemporaryDirectory(prefix="mobility-gtfs-") as tmp:
        add, rou = _gtfs2pt(spec, Path(scenario.network), Path(tmp))
        stops = {el.get("id"): el for el in ET.parse(add).getroot().iter("busStop")}
        placed = {s[len("gtfs_"):] if s and s.startswith("gtfs_") else s for s in stops}
        off = sorted((line, sid, r) for sid, (line, r) in used.items() if sid not in placed)
        if off:
            line, sid, r = off[0]
            more = f" (and {len(off) - 1} more)" if len(off) > 1 else ""
            raise InputError(f"{g.feed}:stops.txt:{line}: stop {sid} ({r.get('stop_lat')}, {r.get('stop_lon')}) is off "
                             f"the network {Path(scenario.network).name}: no lane buses may use within "
                             f"{g.max_stop_distance_m:g} m{more}; clip the feed to the network's area, list the routes "
                             "inside it (gtfs.routes) or raise gtfs.max_stop_distance_m")
        root = ET.parse(rou).getroot()
        routes = {r.get("id"): r for r in root.iter("route")}
        patterns: dict[str, list[str]] = {}   # route pattern -> its trips (vehicle ids are <trip id>.<n>)
        for v in root.iter("vehicle"):
            patterns.setdefault(str(v.get("route")), []).append(str(v.get("id")).rsplit(".", 1)[0])
    tables = _timetables(g.feed, trips)
    lines = []
    for rid, r in routes.items():
        if rid not in trips or rid not in tables:  # gtfs2pt names a route pattern after its first trip
            continue
        first = tables[rid]
        t0 = first[0][2]
        st = []
        for s in r.iter("stop"):
            bs = stops[s.get("busStop")]
            sid = str(s.get("busStop"))[len("gtfs_"):]
            at = next((a for x, a, _ in first if x == sid), None)
            lane = str(bs.get("lane"))
            start, end = float(bs.get("startPos", 0)), float(bs.get("endPos", 0))
            st.append(StopSpec(id=str(s.get("busStop")), edge=lane.rsplit("_", 1)[0], pos_m=end,
                               length_m=max(end - start, 1.0), time_s=None if at is None else at - t0,
                               dwell_s=g.dwell_s))
        deps = sorted(tables[t][0][2] - g.offset_s for t in patterns.get(rid, []) if t in tables)
        deps = [d for d in deps if scenario.begin_s <= d < scenario.end_s]
        if not st or not deps:
            continue
        lines.append(LineSpec(id=f"gtfs_{rid}", route=str(r.get("edges")).split(), stops=st, departures_s=deps,
                              dwell_s=g.dwell_s, slack=0.0))
    if not lines:
        raise InputError(f"{g.feed}: no trip of the chosen routes runs on {g.date} within the scenario's window "
                         f"({scenario.begin_s:g}-{scenario.end_s:g} s after gtfs.offset_s {g.offset_s:g} s)")
    return lines
