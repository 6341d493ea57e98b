"""Traffic counts in: SUMO edge data, SUMO induction loops (E1) with their definitions, and CSV tables.

A :class:`Counts` table holds one row per location and interval: the vehicles that passed in ``[begin_s,
end_s)`` and, where known, their mean speed. A location is an edge (``kind`` ``edge``), a turn from one edge
into the next (``turn``, written ``from>to``), or a set of induction loops on the lanes of one edge
(``detector``). Every row keeps the file and line it came from, so a later problem (an edge no route
reaches, two counts for one interval) names where to fix it.

Formats
-------
* SUMO edge data / meandata (``<data>`` or ``<meandata>``): ``<interval begin end>`` holding ``<edge id
  entered=...>`` (the attribute is ``entered`` unless told; with ``entered``, the edge's ``departed`` is added:
  an edge count is every vehicle that passes it, those that start their trip on it too, as a loop counts
  them) and
  ``<edgeRelation from to count>`` (turn counts; ``entered`` or ``count``).
* SUMO E1 output (``<detector>``): ``<interval begin end id nVehContrib speed>``; the loops' lanes come
  from their definition file (``<additional>`` with ``<inductionLoop id lane pos>``), given among the files.
  The loops of one edge and interval are summed; if they do not cover every lane of the edge the location
  keeps the share of lanes they do cover (``lanes``/``edge_lanes``) and the fit treats it accordingly.
* CSV: ``location,begin_s,end_s,count_veh[,speed_m_s]`` with ``location`` an edge id, a detector id or
  ``from>to``.
"""

from __future__ import annotations

import math
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._spec import MAX_SPEC_BYTES, read_csv_rows, read_text

__all__ = ["Counts", "CountsError", "read_counts", "counts_from_rows"]

#: Largest count file read (an edge-data file of a city for a day is tens of MiB).
MAX_COUNT_BYTES = 8 * MAX_SPEC_BYTES
CSV_COLUMNS = ("location", "begin_s", "end_s", "count_veh")


class CountsError(InputError):
    """A count file or a count in it that cannot be used; the message names file, line and location."""


@dataclass(frozen=True)
class Counts:
    """Counts per location and interval (parallel arrays, one entry per row).

    ``location`` is the location's name (an edge id, ``from>to`` or the detector ids joined by ``+``);
    ``kind`` is ``edge``, ``turn`` or ``detector``; ``edges`` holds the edge ids it refers to (one, or two for
    a turn); ``lane_share`` is the share of the edge's lanes a detector location covers (1 elsewhere);
    ``source`` is ``file:line``.
    """

    location: tuple[str, ...]
    kind: tuple[str, ...]
    edges: tuple[tuple[str, ...], ...]
    begin_s: np.ndarray
    end_s: np.ndarray
    count_veh: np.ndarray
    speed_m_s: np.ndarray
    lane_share: np.ndarray
    source: tuple[str, ...]
    files: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.location)

    @property
    def locations(self) -> list[str]:
        """Distinct locations in first-seen order."""
        return list(dict.fromkeys(self.location))

    @property
    def intervals(self) -> list[tuple[float, float]]:
        """Distinct ``(begin_s, end_s)`` intervals, in time order."""
        return sorted({(float(b), float(e)) for b, e in zip(self.begin_s, self.end_s, strict=True)})

    @property
    def flow_veh_h(self) -> np.ndarray:
        """Each count as an hourly flow."""
        return self.count_veh * 3600.0 / (self.end_s - self.begin_s)

    def select(self, mask: np.ndarray) -> Counts:
        """The rows where ``mask`` holds."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        pick = lambda t: tuple(t[i] for i in idx)  # noqa: E731
        return Counts(pick(self.location), pick(self.kind), pick(self.edges), self.begin_s[idx], self.end_s[idx],
                      self.count_veh[idx], self.speed_m_s[idx], self.lane_share[idx], pick(self.source), self.files)

    def split(self, holdout: float, seed: int) -> tuple[Counts, Counts]:
        """``(fitted, held_out)``: a share ``holdout`` of the locations (all their intervals) drawn by ``seed``."""
        from ..seeds import rng

        if not 0.0 <= holdout < 1.0:
            raise CountsError(f"holdout must be in [0, 1), got {holdout!r}")
        locs = sorted(self.locations)
        n_out = int(round(holdout * len(locs)))
        if holdout > 0 and n_out == 0:
            n_out = 1
        if n_out >= len(locs) and holdout > 0:
            raise CountsError(f"holdout {holdout:g} of {len(locs)} location(s) leaves none to fit; lower it")
        out = set(rng(seed, "calibration", "holdout").choice(locs, size=n_out, replace=False).tolist()) if n_out else set()
        held = np.array([loc in out for loc in self.location], dtype=bool)
        return self.select(~held), self.select(held)

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"location": self.location, "kind": self.kind, "begin_s": self.begin_s,
                             "end_s": self.end_s, "count_veh": self.count_veh, "speed_m_s": self.speed_m_s,
                             "lane_share": self.lane_share, "source": self.source})


# ---- XML ---------------------------------------------------------------------------------------------------
def _xml_elements(path: Path, text: str) -> tuple[str, list[tuple[int, str, dict[str, str], tuple[str, ...]]]]:
    """``(root tag, [(line, tag, attributes, ancestor tags)])`` of an XML file, entities refused."""
    parser = xml.parsers.expat.ParserCreate()
    out: list[tuple[int, str, dict[str, str], tuple[str, ...]]] = []
    stack: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        out.append((parser.CurrentLineNumber, tag, attrs, tuple(stack)))
        stack.append(tag)

    def end(tag: str) -> None:
        stack.pop()

    def entity(*_: Any) -> None:
        raise CountsError(f"{path}:{parser.CurrentLineNumber}: XML entity declarations are not accepted in a count file")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise CountsError(f"{path}:{exc.lineno}: not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)})") from None
    if not out:
        raise CountsError(f"{path}: no XML elements")
    return out[0][1], out


def _number(path: Path, line: int, what: str, text: str | None, where: str) -> float:
    if text is None:
        raise CountsError(f"{path}:{line}: {where}: missing attribute {what!r}")
    try:
        v = float(text)
    except ValueError:
        raise CountsError(f"{path}:{line}: {where}: {what}={text!r} is not a number") from None
    if not math.isfinite(v):
        raise CountsError(f"{path}:{line}: {where}: {what}={text!r} is not finite; give a number")
    return v


def _speed(path: Path, line: int, a: dict[str, str], where: str) -> float:
    """An element's mean ``speed`` (m/s): NaN when absent or negative (SUMO writes -1 where nobody passed)."""
    if "speed" not in a:
        return math.nan
    v = _number(path, line, "speed", a["speed"], where)
    return v if v >= 0 else math.nan


Row = dict[str, Any]


def _edge_data(path: Path, elements: list, attribute: str) -> list[Row]:
    rows: list[Row] = []
    interval: tuple[float, float] | None = None
    for line, tag, a, _ in elements[1:]:
        if tag == "interval":
            interval = (_number(path, line, "begin", a.get("begin"), "interval"),
                        _number(path, line, "end", a.get("end"), "interval"))
            continue
        if tag not in ("edge", "edgeRelation"):
            continue
        if interval is None:
            raise CountsError(f"{path}:{line}: <{tag}> outside an <interval>; put it inside <interval begin end>")
        if tag == "edge":
            loc, kind, edges = a.get("id"), "edge", (a.get("id"),)
            if loc is None:
                raise CountsError(f"{path}:{line}: <edge> without an id")
        else:
            f, t = a.get("from"), a.get("to")
            if f is None or t is None:
                raise CountsError(f"{path}:{line}: <edgeRelation> needs 'from' and 'to'")
            loc, kind, edges = f"{f}>{t}", "turn", (f, t)
        key = attribute if attribute in a else ("count" if "count" in a else None)
        if key is None:
            continue  # an edge without the counted attribute (SUMO writes empty edges on request): no count
        n = _number(path, line, key, a.get(key), f"location {loc!r}")
        if tag == "edge" and key == "entered" and "departed" in a:
            n += _number(path, line, "departed", a["departed"], f"location {loc!r}")
        rows.append(dict(location=loc, kind=kind, edges=edges, begin_s=interval[0], end_s=interval[1],
                         count_veh=n,
                         speed_m_s=_speed(path, line, a, f"location {loc!r}"), source=f"{path}:{line}"))
    return rows


def _loop_definitions(path: Path, elements: list) -> dict[str, tuple[str, str]]:
    """Induction loops of an additional file: id -> (lane, ``file:line``)."""
    out = {}
    for line, tag, a, _ in elements[1:]:
        if tag in ("inductionLoop", "e1Detector"):
            if "id" not in a or "lane" not in a:
                raise CountsError(f"{path}:{line}: <{tag}> needs 'id' and 'lane'")
            out[a["id"]] = (a["lane"], f"{path}:{line}")
    return out


def _loop_output(path: Path, elements: list) -> list[tuple[str, float, float, float, float, str]]:
    out = []
    for line, tag, a, _ in elements[1:]:
        if tag != "interval":
            continue
        det = a.get("id")
        if det is None:
            raise CountsError(f"{path}:{line}: <interval> of an E1 output without the detector id")
        where = f"detector {det!r}"
        out.append((det, _number(path, line, "begin", a.get("begin"), where),
                    _number(path, line, "end", a.get("end"), where),
                    _number(path, line, "nVehContrib", a.get("nVehContrib"), where),
                    _speed(path, line, a, where), f"{path}:{line}"))
    return out


def _csv(path: Path) -> list[Row]:
    rows = []
    try:
        table = read_csv_rows(path, CSV_COLUMNS)
    except CountsError:
        raise
    except InputError as exc:
        raise CountsError(str(exc)) from None
    for line, r in table:
        loc = r["location"]
        if not loc:
            raise CountsError(f"{path}:{line}: empty location; give an edge id, a detector id or from>to")
        where = f"location {loc!r}"
        speed = r.get("speed_m_s", "")
        kind, edges = ("turn", tuple(loc.split(">", 1))) if ">" in loc else ("edge?", (loc,))
        rows.append(dict(location=loc, kind=kind, edges=edges,
                         begin_s=_number(path, line, "begin_s", r["begin_s"] or None, where),
                         end_s=_number(path, line, "end_s", r["end_s"] or None, where),
                         count_veh=_number(path, line, "count_veh", r["count_veh"] or None, where),
                         speed_m_s=_number(path, line, "speed_m_s", speed, where) if speed else math.nan,
                         source=f"{path}:{line}"))
    return rows


# ---- the reader ----------------------------------------------------------------------------------------
def read_counts(paths: str | Path | list[str | Path], network: Any = None, *, attribute: str = "entered",
                definitions: Any = ()) -> Counts:
    """Read count files (edge data, E1 output + loop definitions, CSV) into one :class:`Counts` table.

    With ``network`` (a :class:`~mobility.RoadNetwork`), edges, turns and detector lanes are checked against
    it. Every problem is an error naming the file, line and location: unknown edges or detectors, negative
    or non-finite counts, an interval that ends before it begins, two counts of one location whose
    intervals overlap, a file without a single count.

    Parameters
    ----------
    paths : path or list of paths
        Count files; an additional file (any root) holding ``<inductionLoop>`` definitions is read as the
        definitions of the loops of E1 outputs.
    network : RoadNetwork, optional
    attribute : str
        The edge-data attribute that counts vehicles (``entered``, plus the edge's ``departed``: the vehicles that
        pass the edge, as a loop on it counts them).
    definitions : list of Detector, optional
        Induction loops already known, e.g. a scenario's own (:func:`mobility.scenario_detectors`), so that
        its E1 output can be given alone.

    Returns
    -------
    Counts
    """
    files = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    if not files:
        raise CountsError("no count file given; pass at least one with --counts FILE")
    rows: list[Row] = []
    loops: dict[str, tuple[str, str]] = {d.id: (d.lanes[0], d.source) for d in definitions
                                         if d.kind == "e1" and d.lanes}
    loop_rows: list[tuple[Path, list]] = []
    for p in files:
        if not p.is_file():
            raise CountsError(f"count file not found: {p} (resolved to {p.resolve()})")
        text = read_text(p, what="count file", limit=MAX_COUNT_BYTES, error=CountsError)
        if p.suffix.lower() in (".csv", ".txt") or not text.lstrip().startswith("<"):
            got = _csv(p)
        else:
            root, elements = _xml_elements(p, text)
            if root in ("data", "meandata"):
                got = _edge_data(p, elements, attribute)
            elif root == "detector":
                loop_rows.append((p, _loop_output(p, elements)))
                continue
            elif defs := _loop_definitions(p, elements):  # loop definitions, whatever the root (<additional>, <add>)
                loops.update(defs)
                continue
            else:
                raise CountsError(f"{p}:1: <{root}> is not a count file; give SUMO edge data (<data>/<meandata>), "
                                  "E1 output (<detector>) with its <additional> loop definitions, or a CSV table "
                                  f"with columns {','.join(CSV_COLUMNS)}")
        if not got:
            raise CountsError(f"{p}: no counts in the file (no <edge> with '{attribute}' or 'count', no rows); "
                              "check the file and --attribute")
        rows += got
    for p, out in loop_rows:
        if not out:
            raise CountsError(f"{p}: an E1 output without a single <interval>")
        rows += _group_loops(p, out, loops, network)
    csv_detectors = [r for r in rows if r["kind"] == "edge?" and r["location"] in loops]
    if csv_detectors:
        rows = [r for r in rows if not (r["kind"] == "edge?" and r["location"] in loops)]
        out_rows = [(r["location"], r["begin_s"], r["end_s"], r["count_veh"], r["speed_m_s"], r["source"])
                    for r in csv_detectors]
        rows += _group_loops(Path(csv_detectors[0]["source"].rsplit(":", 1)[0]), out_rows, loops, network)
    for r in rows:
        if r["kind"] == "edge?":
            r["kind"] = "edge"
    counts = counts_from_rows(rows, files=tuple(str(p) for p in files))
    if network is not None:
        check_against_network(counts, network)
    return counts


def _group_loops(path: Path, out: list, loops: dict[str, tuple[str, str]], network: Any) -> list[Row]:
    """Sum the loops of one edge and interval into one detector location."""
    groups: dict[tuple[str, float, float], list] = {}
    for det, b, e, n, speed, src in out:
        if det not in loops:
            hint = "; give the <additional> file that defines the loops as one more --counts file" if not loops else ""
            raise CountsError(f"{src}: detector {det!r} is not defined in the loop definitions{hint}")
        lane = loops[det][0]
        edge = lane.rsplit("_", 1)[0]
        groups.setdefault((edge, b, e), []).append((det, lane, n, speed, src))
    rows = []
    for (edge, b, e), items in groups.items():
        lanes = sorted({lane for _, lane, *_ in items})
        n_lanes = _lane_count(network, edge) if network is not None else len(lanes)
        dets = "+".join(sorted(d for d, *_ in items))
        total = sum(n for _, _, n, _, _ in items)
        sp = [s for *_, s, _ in items if not math.isnan(s)]
        rows.append(dict(location=dets, kind="detector", edges=(edge,), begin_s=b, end_s=e, count_veh=total,
                         speed_m_s=float(np.mean(sp)) if sp else math.nan, source=items[0][4],
                         lane_share=len(lanes) / max(n_lanes, len(lanes))))
    return rows


def _lane_count(network: Any, edge: str) -> int:
    i = network.edge_index.get(edge)
    return 1 if i is None else int(network.lanes[i])


def counts_from_rows(rows: list[Row], files: tuple[str, ...] = ()) -> Counts:
    """A :class:`Counts` table from row dicts, checked for negative counts, empty and overlapping intervals.

    Parameters
    ----------
    rows : list of dict
        ``location``, ``kind``, ``edges``, ``begin_s``, ``end_s``, ``count_veh``, ``source`` and optionally
        ``speed_m_s`` and ``lane_share``.
    files : tuple of str
        The files the rows came from.

    Returns
    -------
    Counts
    """
    if not rows:
        raise CountsError("no counts given")
    seen: dict[str, list[tuple[float, float, str]]] = {}
    for r in rows:
        where = f"{r['source']}: location {r['location']!r}"
        if r["count_veh"] < 0:
            raise CountsError(f"{where}: negative count {r['count_veh']:g}; counts are vehicles, >= 0")
        if not r["end_s"] > r["begin_s"]:
            raise CountsError(f"{where}: the interval [{r['begin_s']:g}, {r['end_s']:g}) is empty; end must be after begin")
        if r["begin_s"] < 0:
            raise CountsError(f"{where}: begin {r['begin_s']:g} s is negative; times are seconds from the start")
        seen.setdefault(r["location"], []).append((r["begin_s"], r["end_s"], r["source"]))
    for loc, spans in seen.items():
        spans.sort()
        for (b0, e0, s0), (b1, e1, s1) in zip(spans, spans[1:], strict=False):
            if b1 < e0:
                raise CountsError(f"{s1}: location {loc!r}: interval [{b1:g}, {e1:g}) overlaps [{b0:g}, {e0:g}) "
                                  f"given at {s0}; give each location non-overlapping intervals")
    f = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    return Counts(tuple(r["location"] for r in rows), tuple(r["kind"] for r in rows),
                  tuple(tuple(r["edges"]) for r in rows), f("begin_s"), f("end_s"), f("count_veh"),
                  np.array([float(r.get("speed_m_s", math.nan)) for r in rows]),
                  np.array([float(r.get("lane_share", 1.0)) for r in rows]), tuple(r["source"] for r in rows), files)


def check_against_network(counts: Counts, network: Any) -> None:
    """Every edge and turn of ``counts`` must exist in ``network`` (turns: the second edge follows the first)."""
    import difflib

    index = network.edge_index
    for loc, kind, edges, src in zip(counts.location, counts.kind, counts.edges, counts.source, strict=True):
        for e in edges:
            if e not in index:
                near = difflib.get_close_matches(e, list(index), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                what = "detector lane's edge" if kind == "detector" else "edge"
                raise CountsError(f"{src}: location {loc!r}: {what} {e!r} is not in network {network.name!r}{hint}")
        if kind == "turn":
            a, b = index[edges[0]], index[edges[1]]
            if b not in set(network.successors(a).tolist()):
                raise CountsError(f"{src}: location {loc!r}: edge {edges[1]!r} does not follow {edges[0]!r} in "
                                  f"network {network.name!r}; a turn count names two consecutive edges")
