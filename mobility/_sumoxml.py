"""The one checked reader of SUMO's XML files: additional, route, configuration and network files.

Every SUMO XML file the toolkit reads goes through :func:`walk`, a streaming expat parse (gzipped files
too) that refuses what no SUMO file holds and what could harm the reader, each with ``file:line:col``:
text that is not XML, document type declarations and entities (entity expansion, external entities),
nesting deeper than :data:`MAX_DEPTH`, and more bytes (after decompression) than the file kind allows.

Files are judged by their content, as SUMO judges them, not by the spelling of their root element: SUMO
reads an additional file whatever its root (``<additional>``, ``<add>``, ``<routes>``...) and takes the
elements it knows. :func:`check_sumo_file` does the same: elements of SUMO's vocabulary for that file
kind (read from the XSD schemas shipped in the SUMO wheel) are what the file holds; other elements are
ignored by SUMO and listed in the report, unless the file declares its schema and validation is on
(SUMO's default ``--xml-validation auto``), where SUMO stops with "no declaration found for element" and
so does this check. A network given where an additional file belongs is refused (SUMO would load its
edges a second time).

:func:`check_network_file` checks every attribute of a ``.net.xml`` that the toolkit reads (edge, lane,
junction, connection, request, tlLogic and phase attributes) for its type before any reader uses it.
"""

from __future__ import annotations

import functools
import re
import xml.parsers.expat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._errors import InputError, missing_file
from ._io import open_maybe_gzip

__all__ = ["FileReport", "MAX_BYTES", "MAX_DEPTH", "check_network_file", "check_sumo_file", "rebase_outputs",
           "sumo_vocabulary", "walk"]

Kind = Literal["additional", "routes", "config", "network"]

#: Most bytes (decompressed) a file of each kind may hold. Route files of a city run to gigabytes.
MAX_BYTES: dict[str, int] = {
    "additional": 1 << 30,
    "routes": 8 << 30,
    "config": 4 << 20,
    "network": 4 << 30,
    "output": 8 << 30,
}
#: Deepest element nesting accepted (SUMO's own files nest at most 5 deep).
MAX_DEPTH = 64
#: Deepest chain of ``<include href=...>`` followed in route files.
MAX_INCLUDES = 8

StartHandler = Callable[[str, dict[str, str], int], None]
EndHandler = Callable[[str], None]


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def walk(path: str | Path, *, kind: str, what: str, start: StartHandler | None = None,
         end: EndHandler | None = None, text: Callable[[str], None] | None = None, max_bytes: int | None = None,
         max_depth: int = MAX_DEPTH) -> str:
    """Stream the XML file ``path`` through expat, calling ``start(name, attrs, line)`` and ``end(name)``.

    Parameters
    ----------
    path : path
        The file (plain or gzipped).
    kind : str
        The file kind, which sets the byte limit (:data:`MAX_BYTES`).
    what : str
        How the file is named in errors ("SUMO additional file", ...).
    start, end : callable, optional
        Element handlers; an :class:`~mobility.InputError` they raise propagates unchanged.
    text : callable, optional
        ``text(data)`` with the character data between tags.
    max_bytes : int, optional
        Overrides the kind's byte limit, bytes.
    max_depth : int
        Deepest element nesting accepted.

    Returns
    -------
    str
        The root element's name.

    Raises
    ------
    InputError
        ``file:line:col: problem; fix`` for a missing file, text that is not XML, a DTD or entity,
        nesting or size past the limits.
    """
    p = Path(path)
    if not p.is_file():
        raise missing_file(p, what)
    limit = max_bytes if max_bytes is not None else MAX_BYTES.get(kind, MAX_BYTES["additional"])
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    depth = 0
    root = ""

    def where() -> str:
        return f"{p}:{parser.CurrentLineNumber}:{parser.CurrentColumnNumber + 1}"

    def on_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, root
        depth += 1
        if depth == 1:
            root = name
        if depth > max_depth:
            raise _Refused(f"{where()}: elements nested deeper than {max_depth} levels; no {what} nests like this")
        if start is not None:
            start(name, attrs, parser.CurrentLineNumber)

    def on_end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if end is not None:
            end(name)

    def no_dtd(*_: object) -> None:
        raise _Refused(f"{where()}: a document type declaration (<!DOCTYPE ...>); SUMO's files hold none and "
                       "entities are not expanded here - remove it")

    def no_entity(*_: object) -> None:
        raise _Refused(f"{where()}: an entity declaration; remove it (SUMO's files define no entities)")

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    if text is not None:
        parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_entity
    parser.ExternalEntityRefHandler = lambda *a: 0  # type: ignore[assignment]
    seen = 0
    try:
        with open_maybe_gzip(p) as fh:
            while True:
                block = fh.read(1 << 20)
                seen += len(block)
                if seen > limit:
                    raise _Refused(f"{p}: more than {limit / 2**20:.0f} MiB (decompressed); a {what} this large "
                                   "is refused - split it or check that it is the file you meant")
                parser.Parse(block, not block)
                if not block:
                    break
    except _Refused as exc:
        raise InputError(exc.message) from None
    except xml.parsers.expat.ExpatError as exc:
        hint = "the file is empty" if seen == 0 else "the file is truncated or not XML"
        raise InputError(f"{p}:{exc.lineno}:{exc.offset + 1}: not a readable {what} "
                         f"({xml.parsers.expat.errors.messages[exc.code] if exc.code else exc}); {hint} - "
                         "fix or regenerate it") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{p}: cannot read the {what} ({exc}); a gzipped file may be truncated") from None
    return root


# ---- SUMO's element vocabulary, from the XSD schemas in the SUMO wheel --------------------------------

_XSD_FILES = {
    "additional": ("additional_file.xsd", "routes_file.xsd", "types/route.xsd", "types/base.xsd", "types/taz.xsd",
                   "types/meandata.xsd"),
    "routes": ("routes_file.xsd", "types/route.xsd", "types/base.xsd"),
}
#: Used only where the SUMO wheel's schemas cannot be found.
_FALLBACK = frozenset(
    "additional routes vType vTypeDistribution route routeDistribution vehicle flow trip person personFlow container "
    "containerFlow interval include param stop walk ride personTrip transport tranship tlLogic phase condition "
    "assignment function WAUT wautSwitch wautJunction e1Detector inductionLoop e2Detector laneAreaDetector e3Detector "
    "entryExitDetector detEntry detExit instantInductionLoop edgeData laneData timedEvent busStop trainStop "
    "containerStop chargingStation parkingArea space access rerouter closingReroute closingLaneReroute destProbReroute "
    "routeProbReroute parkingAreaReroute viaProbReroute variableSpeedSign step calibrator routeProbe vaporizer poly poi "
    "taz tazSource tazSink location carFollowing-Krauss".split())


@functools.lru_cache(maxsize=4)
def sumo_vocabulary(kind: str = "additional") -> frozenset[str]:
    """The element names SUMO reads from a file of ``kind`` ("additional" or "routes").

    Read from the XSD schemas of the installed SUMO wheel (``sumo/data/xsd``).

    Parameters
    ----------
    kind : {"additional", "routes"}

    Returns
    -------
    frozenset of str
    """
    try:
        import sumo

        base = Path(sumo.__file__).parent / "data" / "xsd"
    except ImportError:  # pragma: no cover - the wheel is a dependency
        return _FALLBACK
    names: set[str] = set()
    for rel in _XSD_FILES.get(kind, _XSD_FILES["additional"]):
        f = base / rel
        if f.is_file():
            names.update(re.findall(r'<xsd:element\s+name="([^"]+)"', f.read_text(errors="replace")))
    return frozenset(names) if names else _FALLBACK


@dataclass
class FileReport:
    """What :func:`check_sumo_file` found in one file.

    Attributes
    ----------
    path : Path
    root : str
        The root element's name.
    counts : dict
        Elements of SUMO's vocabulary, by name: how many.
    ignored : list of (str, int)
        Elements SUMO ignores (not in its vocabulary for the file kind), with the line of the first of each.
    includes : list of Path
        Files pulled in by ``<include href=...>``.
    """

    path: Path
    root: str
    counts: dict[str, int] = field(default_factory=dict)
    ignored: list[tuple[str, int]] = field(default_factory=list)
    includes: list[Path] = field(default_factory=list)

    @property
    def loads_nothing(self) -> bool:
        """True when SUMO takes no element from the file."""
        return not any(n not in ("param", "location", "metadata") for n in self.counts) and not self.includes


_SCHEMA = re.compile(r"(additional_file|routes_file)\.xsd")


def check_sumo_file(path: str | Path, *, kind: Literal["additional", "routes"] = "additional",
                    validation: str = "auto", _depth: int = 0) -> FileReport:
    """Check an additional or route file as SUMO would load it, by its content.

    Parameters
    ----------
    path : path
        The file (plain or gzipped).
    kind : {"additional", "routes"}
        How it is given to SUMO (``-a`` or ``-r``); SUMO reads route elements from both.
    validation : {"auto", "always", "never", "local"}
        SUMO's ``--xml-validation``: with ``auto`` a file that declares its schema is validated, and an
        element outside SUMO's vocabulary stops the run (and is refused here); otherwise it is ignored.

    Returns
    -------
    FileReport

    Raises
    ------
    InputError
        Not XML, a DTD or entity, past the size or nesting limits, a network given as an additional file,
        an element SUMO's schema validation would refuse, an ``<include>`` of a missing file.
    """
    p = Path(path)
    what = "SUMO additional file" if kind == "additional" else "SUMO route file"
    vocab = sumo_vocabulary(kind)
    rep = FileReport(p, "")
    first_ignored: dict[str, int] = {}
    state = {"schema": False, "depth": 0}

    def start(name: str, attrs: dict[str, str], line: int) -> None:
        state["depth"] += 1
        if state["depth"] == 1:
            loc = attrs.get("xsi:noNamespaceSchemaLocation", "")
            state["schema"] = bool(_SCHEMA.search(loc))
            if name == "net":
                raise InputError(f"{p}:{line}: a SUMO network (<net>), given as an {what}; give it as the "
                                 "scenario's network")
            if name in vocab:
                rep.counts[name] = rep.counts.get(name, 0) + 1
            return
        if name in vocab:
            rep.counts[name] = rep.counts.get(name, 0) + 1
            if name == "include":
                href = attrs.get("href", "")
                inc = (p.parent / href) if href and not Path(href).is_absolute() else Path(href)
                if not href or not inc.is_file():
                    raise InputError(f"{p}:{line}: <include href={href!r}> names a file that does not exist; "
                                     "fix the path (relative to this file)")
                if _depth >= MAX_INCLUDES:
                    raise InputError(f"{p}:{line}: includes nested deeper than {MAX_INCLUDES} files")
                sub = check_sumo_file(inc, kind=kind, validation=validation, _depth=_depth + 1)
                rep.includes.append(inc.resolve())
                for k, v in sub.counts.items():
                    rep.counts[k] = rep.counts.get(k, 0) + v
            return
        if state["schema"] and validation in ("auto", "always"):
            raise InputError(f"{p}:{line}: no declaration found for element '{name}' (SUMO validates this file "
                             "against its schema and stops here); remove the element, fix its spelling, or run "
                             "with --xml-validation never")
        first_ignored.setdefault(name, line)

    def end(_: str) -> None:
        state["depth"] -= 1

    rep.root = walk(p, kind=kind, what=what, start=start, end=end)
    rep.ignored = sorted(first_ignored.items(), key=lambda x: x[1])
    return rep


# ---- networks ------------------------------------------------------------------------------------------

_INT, _FLOAT, _TEXT = "integer", "number", "text"
#: The attributes of a SUMO network that the toolkit reads, with the type each must have.
NETWORK_ATTRIBUTES: dict[str, dict[str, str]] = {
    "location": {},
    "edge": {"id": _TEXT, "from": _TEXT, "to": _TEXT, "priority": _INT},
    "lane": {"id": _TEXT, "index": _INT, "speed": _FLOAT, "length": _FLOAT, "width": _FLOAT},
    "junction": {"id": _TEXT, "x": _FLOAT, "y": _FLOAT, "z": _FLOAT},
    "request": {"index": _INT},
    "connection": {"from": _TEXT, "to": _TEXT, "fromLane": _INT, "toLane": _INT, "linkIndex": _INT,
                   "linkIndex2": _INT},
    "tlLogic": {"id": _TEXT, "offset": _FLOAT},
    "phase": {"duration": _FLOAT, "minDur": _FLOAT, "maxDur": _FLOAT},
    "roundabout": {},
}
#: Attributes a network element cannot do without.
NETWORK_REQUIRED: dict[str, tuple[str, ...]] = {
    "edge": ("id",),
    "lane": ("id", "index", "speed", "length"),
    "junction": ("id", "x", "y"),
    "request": ("index",),
    "connection": ("from", "to", "fromLane", "toLane"),
    "tlLogic": ("id",),
    "phase": ("duration", "state"),
}
_INT_RE = re.compile(r"[+-]?\d+")
_SHAPE_RE = re.compile(r"\s*([+-]?[\d.eE+-]+,[+-]?[\d.eE+-]+(,[+-]?[\d.eE+-]+)?\s*)*")
_STATE_RE = re.compile(r"[rRyYgGsuoOx]*")


def _bad_value(kind: str, v: str) -> bool:
    if kind == _INT:
        return _INT_RE.fullmatch(v.strip()) is None
    if kind == _FLOAT:
        try:
            x = float(v)
        except ValueError:
            return True
        return x != x or x in (float("inf"), float("-inf"))
    return False


def _check_network(path: Path) -> None:
    edge_fn = [""]

    def start(name: str, a: dict[str, str], line: int) -> None:
        spec = NETWORK_ATTRIBUTES.get(name)
        if spec is None:
            return
        if name == "edge":
            edge_fn[0] = a.get("function", "")
        where = f"{path}:{line}: <{name}{' id=' + repr(a['id']) if 'id' in a else ''}>"
        for att in NETWORK_REQUIRED.get(name, ()):
            if att not in a:
                raise InputError(f"{where} has no '{att}' attribute; the network is incomplete - rebuild it with "
                                 "netconvert")
        for att, typ in spec.items():
            v = a.get(att)
            if v is not None and _bad_value(typ, v):
                raise InputError(f"{where}: attribute '{att}' must be an {typ}, got {v!r}; fix the value or rebuild "
                                 "the network with netconvert")
        if name == "connection" and "tl" in a and "linkIndex" not in a:
            raise InputError(f"{where}: a signalised connection (tl={a['tl']!r}) without 'linkIndex'; SUMO cannot "
                             "tell which signal controls it - rebuild the network with netconvert")
        if name == "lane" and "shape" in a and _SHAPE_RE.fullmatch(a["shape"]) is None:
            raise InputError(f"{where}: attribute 'shape' must be 'x,y x,y ...', got {a['shape'][:60]!r}")
        if name == "lane" and edge_fn[0] != "internal" and float(a["length"]) < 0:
            raise InputError(f"{where}: negative length {a['length']}; rebuild the network with netconvert")
        if name == "phase" and _STATE_RE.fullmatch(a["state"]) is None:
            raise InputError(f"{where}: phase state {a['state']!r} holds letters that are no SUMO signal "
                             "(r R y Y g G s u o O); fix the program")

    root = walk(path, kind="network", what="SUMO network", start=start)
    if root != "net":
        raise InputError(f"{path}: not a SUMO network (the root element is <{root}>, a network's is <net>); "
                         "give a .net.xml written by netconvert")


@functools.lru_cache(maxsize=32)
def _check_network_cached(key: tuple[str, int, int]) -> None:
    _check_network(Path(key[0]))


def check_network_file(path: str | Path) -> None:
    """Check a SUMO network's XML and every attribute of it the toolkit reads, before any reader uses it.

    Parameters
    ----------
    path : path
        The ``.net.xml`` (or ``.net.xml.gz``).

    Raises
    ------
    InputError
        ``file:line: <element id=...>: attribute 'x' must be an integer, got 'abc'; fix`` and the like:
        not XML, a missing required attribute (a signalised connection without ``linkIndex``), a number
        that is not one, a phase state with letters SUMO does not know.
    """
    p = Path(path)
    if not p.is_file():
        raise missing_file(p, "SUMO network")
    st = p.stat()
    _check_network_cached((str(p.resolve()), st.st_size, st.st_mtime_ns))


# ---- outputs of additional files, written in the run's folder --------------------------------------------

#: Attributes naming a file SUMO writes, per element of an additional file.
OUTPUT_ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys(("inductionLoop", "e1Detector", "instantInductionLoop", "laneAreaDetector", "e2Detector",
                     "entryExitDetector", "e3Detector", "edgeData", "laneData", "routeProbe", "vTypeProbe"), "file"),
    "calibrator": "output",
    "timedEvent": "dest",
}
#: Attributes naming a file SUMO reads, per element of an additional file (relative to that file).
INPUT_ATTRIBUTES: dict[str, str] = {"rerouter": "file", "variableSpeedSign": "file"}
_NO_FILE = ("", "NUL", "/dev/null", "nul")


def rebase_outputs(path: str | Path, folder: str | Path) -> tuple[Path, list[str]] | None:
    """A copy of the additional file ``path`` in ``folder`` whose outputs SUMO writes there, or ``None``
    when the file writes nothing.

    Every output attribute (a detector's ``file``, a calibrator's ``output``, a timed event's ``dest``)
    keeps only its file name, so runs never write into the scenario's folder nor over one another; file
    inputs (a rerouter's definitions) are made absolute. Nothing else in the file changes, byte for byte.

    Parameters
    ----------
    path : path
        The additional file (plain or gzipped).
    folder : path
        The run's folder.

    Returns
    -------
    (Path, list of str) or None
        The copy and the output file names it writes.
    """
    src = Path(path)
    edits: list[tuple[int, str, str, str]] = []  # (byte offset of the tag, element, attribute, new value)
    holder: dict[str, object] = {}

    def start(name: str, a: dict[str, str], line: int) -> None:
        parser = holder["parser"]
        for table, rebase in ((OUTPUT_ATTRIBUTES, True), (INPUT_ATTRIBUTES, False)):
            att = table.get(name)
            if att is None or att not in a or a[att] in _NO_FILE:
                continue
            v = a[att]
            new = Path(v).name if rebase else (v if Path(v).is_absolute() else str((src.parent / v).resolve()))
            if rebase or new != v:  # an output is kept even when unchanged: the copy's folder is the run's
                edits.append((parser.CurrentByteIndex, name, att, new))  # type: ignore[attr-defined]

    # walk() owns the parser; a second light pass with byte offsets does the edits
    parser = xml.parsers.expat.ParserCreate()
    holder["parser"] = parser
    parser.StartElementHandler = lambda n, a: start(n, a, parser.CurrentLineNumber)
    walk(src, kind="additional", what="SUMO additional file")  # refuses what it must, first
    with open_maybe_gzip(src) as fh:
        data = fh.read()
    parser.Parse(data, True)
    if not any(e[1] in OUTPUT_ATTRIBUTES for e in edits):
        return None
    out = bytearray()
    pos = 0
    names: list[str] = []
    pattern = {}
    for offset, name, att, new in edits:
        close = data.index(b">", offset)
        tag = data[offset:close]
        key = (att,)
        if key not in pattern:
            pattern[key] = re.compile(rb"(\s" + re.escape(att.encode()) + rb"\s*=\s*)(\"[^\"]*\"|'[^']*')")
        m = pattern[key].search(tag)
        if m is None:  # pragma: no cover - expat saw the attribute, so it is there
            continue
        from xml.sax.saxutils import quoteattr

        out += data[pos:offset + m.start(2)] + quoteattr(new).encode()
        pos = offset + m.end(2)
        if name in OUTPUT_ATTRIBUTES:
            names.append(new)
    out += data[pos:]
    import hashlib

    tag8 = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:8]
    target = Path(folder) / f"rebased_{tag8}_{src.name.removesuffix('.gz')}"
    target.write_bytes(bytes(out))
    return target, sorted(set(names))
