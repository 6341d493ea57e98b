"""What a scenario's own SUMO files hold: vehicle types, trip ends by type, and a type re-equipped for a run.

Applications that work on a city's own scenario (demand ``kind: files``) read its vehicle types and trips
from the SUMO files as SUMO would, through the checked reader (:mod:`mobility._sumoxml`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ._errors import InputError
from ._io import open_maybe_gzip, write_text_atomic
from ._sumoxml import walk

_VEHICLES = ("vehicle", "trip", "flow")


def file_vtypes(files: Sequence[str | Path]) -> dict[str, tuple[Path, dict[str, str]]]:
    """Vehicle types the files define: ``{id: (file, attributes)}`` (the first definition of each id)."""
    out: dict[str, tuple[Path, dict[str, str]]] = {}
    for f in files:
        def start(name: str, a: dict[str, str], line: int, f: Path = Path(f)) -> None:
            if name == "vType" and "id" in a:
                out.setdefault(a["id"], (f, dict(a)))
        walk(f, kind="routes", what="SUMO route file", start=start)
    return out


def _rate(a: dict[str, str], begin: float, end: float) -> float:
    """Vehicles a ``<flow>`` inserts over ``[begin, end)`` of the window (expected value)."""
    try:
        b = float(a.get("begin", begin))
        e = float(a.get("end", end))
        span = max(0.0, min(e, end) - max(b, begin))
        if "number" in a:
            full = max(e - b, 1e-9)
            return float(a["number"]) * min(1.0, span / full)
        if "vehsPerHour" in a:
            return float(a["vehsPerHour"]) * span / 3600.0
        if "probability" in a:
            return float(a["probability"]) * span
        if "period" in a:
            p = a["period"]
            m = re.fullmatch(r"exp\(([^)]+)\)", p.strip())
            return span * float(m.group(1)) if m else span / max(float(p), 1e-9)
    except ValueError:
        return 0.0
    return 0.0


def timed_trips(files: Sequence[str | Path], type_ids: set[str] | None, *, begin_s: float, end_s: float
                ) -> list[tuple[float, float, str, str, list[str] | None, float]]:
    """Every vehicle, trip and flow of the files whose type is in ``type_ids`` (all types when ``None``;
    ``DEFAULT_VEHTYPE`` for vehicles without one) departing in the window ``[begin_s, end_s)``:
    ``(first departure s, last departure s, origin edge, destination edge, route edges or None, vehicles)``.
    A vehicle or trip departs at one time (both times equal); a flow spreads its vehicles over its span
    within the window. Routes are the vehicle's own (inline or by reference); trips have none."""
    routes: dict[str, list[str]] = {}
    out: list[tuple[float, float, str, str, list[str] | None, float]] = []
    stack: list[dict[str, str]] = []

    def start(name: str, a: dict[str, str], line: int) -> None:
        if name in _VEHICLES:
            stack.append(dict(a, _tag=name))
        elif name == "route":
            edges = a.get("edges", "").split()
            if stack and "_edges" not in stack[-1]:
                stack[-1]["_edges"] = " ".join(edges)
            elif "id" in a:
                routes[a["id"]] = edges

    def end(name: str) -> None:
        if name not in _VEHICLES or not stack:
            return
        a = stack.pop()
        if type_ids is not None and a.get("type", "DEFAULT_VEHTYPE") not in type_ids:
            return
        edges = a["_edges"].split() if "_edges" in a else routes.get(a.get("route", ""), [])
        o = a.get("from") or (edges[0] if edges else None)
        d = a.get("to") or (edges[-1] if edges else None)
        if o is None or d is None:
            return  # trips between zones or junctions: no edge ends to weigh
        if name == "flow":
            n = _rate(a, begin_s, end_s)
            try:
                t0 = max(begin_s, float(a.get("begin", begin_s)))
                t1 = min(end_s, float(a.get("end", end_s)))
            except ValueError:
                t0, t1 = begin_s, end_s
        else:
            try:
                t0 = t1 = float(a.get("depart", "0"))
            except ValueError:
                t0 = t1 = begin_s  # "triggered" and the like: counted once at the start
            n = 1.0 if begin_s <= t0 < end_s else 0.0
        if n > 0:
            out.append((t0, t1, o, d, edges if len(edges) > 1 and "via" not in a else None, n))

    for f in files:
        walk(f, kind="routes", what="SUMO route file", start=start, end=end)
    return out


def trip_ends(files: Sequence[str | Path], type_ids: set[str], *, begin_s: float, end_s: float
              ) -> list[tuple[str, str, float]]:
    """``(origin edge, destination edge, vehicles)`` of every vehicle, trip and flow whose type is in
    ``type_ids`` (``DEFAULT_VEHTYPE`` for vehicles without one), over the window ``[begin_s, end_s)``."""
    return [(o, d, n) for _, _, o, d, _, n in timed_trips(files, type_ids, begin_s=begin_s, end_s=end_s)]


def equip_vtype(src: str | Path, target: str | Path, type_id: str, attributes: dict[str, str],
                params: dict[str, str]) -> Path:
    """A copy of ``src`` at ``target`` in which the vehicle type ``type_id`` carries ``attributes`` (replacing
    those it had) and ``params`` (before its own ``<param>`` children, which keep precedence). Nothing else in
    the file changes. Used to give a city's own vehicle type a device (a battery) for one run."""
    import xml.parsers.expat

    src = Path(src)
    offsets: list[int] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(name: str, a: dict[str, str]) -> None:
        if name == "vType" and a.get("id") == type_id:
            offsets.append(parser.CurrentByteIndex)

    parser.StartElementHandler = start
    with open_maybe_gzip(src) as fh:
        data = fh.read()
    parser.Parse(data, True)
    if not offsets:
        raise InputError(f"{src}: defines no vehicle type {type_id!r}")
    off = offsets[0]
    close = data.index(b">", off)
    tag = data[off:close + 1].decode("utf-8", "replace")
    selfclosing = tag.rstrip(">").rstrip().endswith("/")
    body = tag.rstrip(">").rstrip().rstrip("/") if selfclosing else tag.rstrip(">")
    for k in attributes:
        body = re.sub(rf"\s{re.escape(k)}\s*=\s*(\"[^\"]*\"|'[^']*')", "", body)
    body += "".join(f" {k}={quoteattr(v)}" for k, v in attributes.items())
    kids = "".join(f"\n        <param key={quoteattr(k)} value={quoteattr(v)}/>" for k, v in params.items())
    new = body + ">" + kids + ("\n    </vType>" if selfclosing else "")
    text = data[:off].decode("utf-8", "replace") + new + data[close + 1:].decode("utf-8", "replace")
    return write_text_atomic(target, text)
