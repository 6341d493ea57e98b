"""A city's own SUMO scenario, as it is: a ``.sumocfg`` read as a toolkit scenario.

Engineers arrive with a scenario folder: a SUMO configuration naming the network, route files and
additional files (signal programs, detectors, bus stops, vehicle types, rerouters), written by SUMO's own
tools or by hand, often in older dialects. :func:`import_sumocfg` reads it the way SUMO does: SUMO itself
parses the configuration (``sumo -c CITY.sumocfg --save-configuration``), so old option spellings, options
given as element text and relative paths (resolved against the configuration's folder) mean exactly what
they mean to SUMO. The options the toolkit understands become scenario fields:

==========================================  ==================================================
SUMO option                                 scenario field
==========================================  ==================================================
``net-file``                                ``network``
``route-files``                             ``demand`` (``kind: files``)
``additional-files``                        ``additional_files`` (each checked by its content)
``begin``, ``end``, ``step-length``         ``begin_s``, ``end_s``, ``step_length_s``
``seed``                                    ``seed`` (SUMO's default 23423 when absent)
``time-to-teleport``, ``.remove``           ``sumo.time_to_teleport_s``, ``sumo.teleport_remove``
``collision.action``                        ``sumo.collision_action`` (SUMO's default ``teleport``)
==========================================  ==================================================

Every other option is kept and passed on to SUMO as it is (``sumo.extra_args``), files SUMO writes moved
into the run's folder; the toolkit's own outputs (trip info, summary, statistics, logs) replace the
configuration's, and GUI-only and console-reporting options are left out. :class:`SumocfgImport` lists what
was passed on and what was left out, once, so nothing is dropped silently. A run of the imported scenario
gives the same trips as ``sumo -c CITY.sumocfg`` with the same seed.

>>> imp = import_sumocfg("city/city.sumocfg")            # doctest: +SKIP
>>> imp.scenario.end_s, imp.passed_on                      # doctest: +SKIP
(3600.0, ('--device.rerouting.probability 0.2',))
>>> load_scenario("city/city.sumocfg")                     # the same scenario  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import InputError, ScenarioError, missing_file
from ._sumoxml import FileReport, check_sumo_file, walk
from .scenario import writes_file

__all__ = ["Detector", "SumocfgImport", "import_sumocfg", "is_sumocfg", "parse_sumo_time", "scenario_detectors",
           "save_sumocfg", "scenario_from_sumocfg"]

#: SUMO's seed when a configuration names none (``--seed`` default).
SUMO_DEFAULT_SEED = 23423
_CONFIG_ROOTS = ("sumoConfiguration", "configuration")
#: Outputs the toolkit writes itself in every run (its results Dataset holds them).
_OWN_OUTPUTS = ("tripinfo-output", "summary-output", "statistic-output", "error-log", "log", "message-log")
#: Options the toolkit sets itself.
_UNDERSTOOD = {"net-file", "route-files", "additional-files", "begin", "end", "step-length", "seed",
               "time-to-teleport", "time-to-teleport.remove", "collision.action", "configuration-file"}
_REPORT_PASSED = ("xml-validation", "xml-validation.net", "xml-validation.routes")


def parse_sumo_time(text: str) -> float:
    """A SUMO time value in seconds: ``"3600"``, ``"3600.5"``, ``"1:00:00"`` or ``"1:02:00:00"`` (d:h:m:s).

    Parameters
    ----------
    text : str

    Returns
    -------
    float, s

    Raises
    ------
    ValueError
        When the text is no SUMO time.
    """
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 4 or any(not p.strip() for p in parts):
        raise ValueError(f"{text!r} is not a SUMO time (seconds, or [[[d:]h:]m:]s)")
    total = 0.0
    for unit, p in zip((86400.0, 3600.0, 60.0, 1.0)[4 - len(parts):], parts, strict=True):
        x = float(p)
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"{text!r} is not a finite SUMO time")
        total += unit * x
    return total


def is_sumocfg(path: str | Path) -> bool:
    """True when ``path`` is a SUMO configuration: a ``.sumocfg`` file, or XML whose root is
    ``<sumoConfiguration>`` or ``<configuration>``.

    Parameters
    ----------
    path : path

    Returns
    -------
    bool
    """
    p = Path(path)
    if p.suffix.lower() == ".sumocfg":
        return True
    if p.suffix.lower() not in (".xml", ".cfg") or not p.is_file():
        return False
    head = p.read_bytes()[:4096].decode("utf-8", "replace")
    head = re.sub(r"<\?.*?\?>|<!--.*?-->", "", head, flags=re.S)
    m = re.search(r"<([A-Za-z_][\w.\-]*)", head)
    return bool(m and m.group(1) in _CONFIG_ROOTS)


@dataclass(frozen=True)
class SumocfgImport:
    """A SUMO configuration read as a scenario, and what became of each of its options.

    Attributes
    ----------
    scenario : Scenario
    source : Path
        The configuration file.
    options : dict
        Every option of the configuration, as SUMO read it (absolute paths), ``{name: value}``.
    passed_on : tuple of str
        Options passed on to SUMO as they are, ``"--name value"``.
    left_out : tuple of (str, str)
        Options left out, with the reason.
    ignored : tuple of str
        Elements of the scenario's files that SUMO ignores, ``"file:line: <name>"``.
    end_derived : bool
        The configuration has no ``end``; ``end_s`` was set from the last scheduled departure plus an hour.
    """

    scenario: Any
    source: Path
    options: dict[str, str]
    passed_on: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]
    end_derived: bool = False

    def summary(self) -> list[str]:
        """One line per fact a user should know about the import (what was passed on, left out, ignored)."""
        lines = []
        if self.passed_on:
            lines.append("passed on to SUMO as they are: " + ", ".join(self.passed_on))
        for name, why in self.left_out:
            lines.append(f"left out {name}: {why}")
        if self.ignored:
            lines.append("SUMO ignores these elements (not in its vocabulary): " + ", ".join(self.ignored[:8])
                         + (f" and {len(self.ignored) - 8} more" if len(self.ignored) > 8 else ""))
        if self.end_derived:
            lines.append(f"the configuration has no <end>: the run ends at {self.scenario.end_s:g} s (an hour after "
                         "the last scheduled departure); give end_s to change it")
        return lines


@functools.lru_cache(maxsize=1)
def _option_types() -> dict[str, str]:
    """SUMO's option name -> XSD option type (``fileOptionType``...), from the schema in the SUMO wheel."""
    try:
        import sumo

        xsd = Path(sumo.__file__).parent / "data" / "xsd" / "types" / "sumoConfigurationType.xsd"
        return dict(re.findall(r'<xsd:element name="([^"]+)" type="(\w+OptionType)"', xsd.read_text()))
    except (ImportError, OSError):  # pragma: no cover - the wheel is a dependency
        return {}


def _run_save(cfg: Path, out: Path, cwd: str) -> tuple[bool, str]:
    from ._sumo import binary, sumo_error_text

    try:
        r = subprocess.run([str(binary("sumo")), "-c", str(cfg), "--save-configuration", str(out)],
                           capture_output=True, text=True, timeout=120, cwd=cwd)
    except subprocess.TimeoutExpired:
        return False, "SUMO did not finish reading the configuration within 120 s"
    text = sumo_error_text(r.stderr + r.stdout) or (r.stderr + r.stdout).strip()[-400:]
    return r.returncode == 0 and out.is_file(), text


def _without_gui_options(path: Path, names: set[str], target: Path) -> None:
    """A copy of the configuration ``path`` at ``target`` without the options ``names``, its file options
    made absolute (against ``path``'s folder, as SUMO resolves them)."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)  # already checked by walk(): no DTD, no entities, within the limits
    types = _option_types()
    for parent in list(tree.getroot().iter()):
        for el in list(parent):
            if el.tag in names:
                parent.remove(el)
            elif types.get(el.tag) == "fileOptionType":
                value = el.get("value", el.text or "")
                parts = [x for x in re.split(r"[,\s]+", value.strip()) if x]
                value = ",".join(str((path.parent / x).resolve()) if not Path(x).is_absolute() else x for x in parts)
                if "value" in el.attrib:
                    el.set("value", value)
                else:
                    el.text = value
    tree.write(target, encoding="utf-8", xml_declaration=True)


def _normalised(path: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """``(category, option, value)`` of a configuration as SUMO reads it (paths made absolute by SUMO), and
    the options of SUMO's GUI that the command-line SUMO does not know, left out with the reason."""
    given: dict[str, str] = {}
    stack: list[str] = []

    def start(name: str, attrs: dict[str, str], line: int) -> None:
        stack.append(name)
        if len(attrs) > 64 or any(len(v) > 1 << 20 for v in attrs.values()):
            raise InputError(f"{path}:{line}: <{name}> has attributes past the limits of a SUMO configuration")
        if len(stack) == 3:
            given[name] = stack[1]

    root = walk(path, kind="config", what="SUMO configuration", start=start, end=lambda n: stack.pop())
    if root not in _CONFIG_ROOTS:
        raise InputError(f"{path}: not a SUMO configuration (the root element is <{root}>, SUMO's is "
                         "<sumoConfiguration> or <configuration>); give a .sumocfg file")
    left: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="mobility-cfg-") as tmp:
        out = Path(tmp) / "normal.sumocfg"
        ok, text = _run_save(path.resolve(), out, tmp)
        unknown = set(re.findall(r"No option with the name '([^']+)' exists", text))
        gui = {n for n in unknown if given.get(n) == "gui_only"}
        if not ok and unknown and gui == unknown:  # options of sumo-gui's builds (3D view...): leave them out
            copy = Path(tmp) / "without_gui.sumocfg"
            _without_gui_options(path, gui, copy)
            ok, text = _run_save(copy, out, tmp)
            left = [(n, "an option of sumo-gui only, which the command-line SUMO does not know") for n in sorted(gui)]
        if not ok:
            raise InputError(f"{path}: SUMO refuses this configuration: {text}; fix the option it names")
        rows: list[tuple[str, str, str]] = []
        stack.clear()

        def s2(name: str, attrs: dict[str, str], line: int) -> None:
            stack.append(name)
            if len(stack) == 3 and "value" in attrs:
                rows.append((stack[1], name, attrs["value"]))
            elif len(stack) == 2 and "value" in attrs:
                rows.append(("", name, attrs["value"]))

        walk(out, kind="config", what="SUMO configuration", start=s2, end=lambda n: stack.pop())
    return rows, left


def _files(value: str) -> list[Path]:
    return [Path(x) for x in re.split(r"[,\s]+", value.strip()) if x]


def _last_departure(files: list[Path]) -> float | None:
    latest: list[float] = []

    def start(name: str, a: dict[str, str], line: int) -> None:
        for key in (("depart", "end") if name in ("vehicle", "trip", "person", "container", "flow", "personFlow")
                    else ()):
            v = a.get(key)
            if v is not None:
                try:
                    latest.append(parse_sumo_time(v))
                except ValueError:
                    pass
    for f in files:
        walk(f, kind="routes", what="SUMO route file", start=start)
    return max(latest) if latest else None


def import_sumocfg(path: str | Path, *, end_s: float | None = None, name: str | None = None) -> SumocfgImport:
    """Read a SUMO configuration as a scenario, as SUMO reads it.

    Parameters
    ----------
    path : path
        The ``.sumocfg`` (any root SUMO accepts: ``<sumoConfiguration>``, ``<configuration>``).
    end_s : float, s, optional
        End of the simulated window, where the configuration has none (default: an hour after the last
        scheduled departure in the route files) or to override it.
    name : str, optional
        The scenario's name (default: the file's stem).

    Returns
    -------
    SumocfgImport
        The scenario and what became of every option.

    Raises
    ------
    ScenarioError
        A configuration SUMO refuses (with SUMO's own words), no network, files that are missing, not XML
        or that SUMO would refuse; each naming the file (and line).
    """
    from .scenario import scenario_from_dict

    p = Path(path)
    if not p.is_file():
        raise missing_file(p, "SUMO configuration")
    try:
        rows, left = _normalised(p)
    except InputError as exc:
        raise ScenarioError(str(exc)) from None
    opts = {n: v for _, n, v in rows}
    passed: list[str] = []
    extra: list[str] = []
    for cat, n, v in rows:
        if n in _UNDERSTOOD:
            continue
        if cat == "gui_only":
            left.append((n, "GUI only (the toolkit runs SUMO without its GUI)"))
        elif n == "random":
            if v.lower() in ("true", "1", "on", "yes", "x"):
                left.append((n, f"every run gets an explicit seed (recorded in its results); seed {opts.get('seed', SUMO_DEFAULT_SEED)}"))
        elif n.startswith(_OWN_OUTPUTS) or n in ("no-step-log", "duration-log.disable", "duration-log.statistics",
                                                 "verbose", "print-options", "no-warnings", "step-log.period"):
            left.append((n, "the toolkit writes its own outputs and logs (its results Dataset holds them)"
                         if n.startswith(_OWN_OUTPUTS) else "console reporting; the toolkit keeps SUMO's console quiet"))
        elif cat == "report" and n not in _REPORT_PASSED:
            left.append((n, "console reporting; the toolkit keeps SUMO's console quiet"))
        elif n.startswith(("save-configuration", "save-template", "save-schema", "save-commented")):
            left.append((n, "writes a configuration and quits; not a simulation option"))
        elif writes_file(n):
            rel = Path(v).name or "output.xml"
            extra += [f"--{n}", rel]
            passed.append(f"--{n} {rel} (written in the run's folder)")
        else:
            extra += [f"--{n}", v]
            passed.append(f"--{n} {v}")
    where = str(p)
    if "net-file" not in opts:
        raise ScenarioError(f"{where}: the configuration names no network (<net-file>); add one")
    network = Path(opts["net-file"])
    routes = _files(opts.get("route-files", ""))
    adds = _files(opts.get("additional-files", ""))
    validation = opts.get("xml-validation", "auto")
    ignored: list[str] = []
    for kind, files, opt in (("routes", routes, "route-files"), ("additional", adds, "additional-files")):
        for f in files:
            if not f.is_file():
                raise ScenarioError(f"{where}: <{opt}> names {f}, which does not exist; fix the path (relative to "
                                    "the configuration's folder)")
            try:
                rep: FileReport = check_sumo_file(f, kind=kind, validation=validation)  # type: ignore[arg-type]
            except InputError as exc:
                raise ScenarioError(f"{where}: {exc}") from None
            ignored += [f"{f.name}:{line}: <{el}>" for el, line in rep.ignored]
    def value(option: str, default: str, conv: Any) -> Any:
        try:
            return conv(opts.get(option, default))
        except ValueError:
            raise ScenarioError(f"{where}: option <{option}> is {opts[option]!r}, not a "
                                f"{'time (s, or h:m:s)' if conv is parse_sumo_time else 'number'}; fix it") from None

    begin = value("begin", "0", parse_sumo_time)
    derived = False
    if end_s is None and "end" in opts and value("end", "-1", parse_sumo_time) >= 0:
        end_s = value("end", "-1", parse_sumo_time)
    if end_s is None:
        last = _last_departure(routes + adds)
        if last is None:
            raise ScenarioError(f"{where}: the configuration has no <end> and its files schedule no departure; "
                                "give end_s (--end)")
        end_s, derived = max(last, begin) + 3600.0, True
    stem = name or re.sub(r"[^A-Za-z0-9_.\-]", "_", p.name.removesuffix(".sumocfg").removesuffix(".xml")) or "scenario"
    collision = opts.get("collision.action", "teleport")
    data: dict[str, Any] = {
        "name": stem,
        "description": f"imported from the SUMO configuration {p.name}",
        "network": str(network),
        "begin_s": begin,
        "end_s": end_s,
        "step_length_s": value("step-length", "1", parse_sumo_time),
        "seed": value("seed", str(SUMO_DEFAULT_SEED), int),
        "demand": {"kind": "files", "files": [str(f) for f in routes]},
        "additional_files": [str(f) for f in adds],
        "sumo": {
            "time_to_teleport_s": value("time-to-teleport", "300", parse_sumo_time),
            "teleport_remove": opts.get("time-to-teleport.remove", "false").lower() in ("true", "1", "on", "yes", "x"),
            "collision_action": collision,
            "warnings": False,  # SUMO's console stays quiet; its messages go to the run's error log
            "extra_args": extra,
        },
    }
    sc = scenario_from_dict(data, base_dir=p.parent, source=where, source_file=p.resolve())
    return SumocfgImport(sc, p.resolve(), opts, tuple(passed), tuple(left), tuple(ignored), derived)


def scenario_from_sumocfg(path: str | Path, *, end_s: float | None = None) -> Any:
    """The scenario of a SUMO configuration (see :func:`import_sumocfg`).

    Parameters
    ----------
    path : path
        The ``.sumocfg``.
    end_s : float, s, optional
        End of the simulated window where the configuration has none, or to override it.

    Returns
    -------
    Scenario
    """
    return import_sumocfg(path, end_s=end_s).scenario


# ---- detectors ---------------------------------------------------------------------------------------

_DETECTOR_TAGS = {"e1Detector": "e1", "inductionLoop": "e1", "instantInductionLoop": "e1",
                  "e2Detector": "e2", "laneAreaDetector": "e2", "e3Detector": "e3", "entryExitDetector": "e3"}


@dataclass(frozen=True)
class Detector:
    """A detector defined in a scenario's additional files.

    Attributes
    ----------
    id : str
    kind : {"e1", "e2", "e3"}
        Induction loop, lane-area detector, entry-exit detector.
    lanes : tuple of str
        The lanes it covers (an E3's entry lanes then exit lanes).
    pos_m : float, m
        Position on the (first) lane, from its start (negative values count from its end, as SUMO does).
    length_m : float, m
        Length covered (E2), else 0.
    period_s : float, s
        Aggregation period of its output (``period``/``freq``), NaN where not given.
    file : str
        Its output file as written in the definition.
    source : str
        ``file:line`` of the definition.
    """

    id: str
    kind: str
    lanes: tuple[str, ...]
    pos_m: float
    length_m: float
    period_s: float
    file: str
    source: str


def scenario_detectors(scenario: Any) -> list[Detector]:
    """Every detector (E1, E2, E3) defined in a scenario's additional files.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    list of Detector
        In file order. The calibration reads counts from their output, and actuated signal programs use
        the loops on their approaches.
    """
    out: list[Detector] = []
    for f in scenario.additional_files:
        cur: dict[str, Any] | None = None

        def num(v: str | None, default: float = float("nan")) -> float:
            try:
                return float(v) if v is not None else default
            except ValueError:
                return default

        def start(name: str, a: dict[str, str], line: int, f: Path = Path(f)) -> None:
            nonlocal cur
            kind = _DETECTOR_TAGS.get(name)
            if kind is not None:
                lanes = tuple(a.get("lanes", a.get("lane", "")).split())
                cur = {"id": a.get("id", ""), "kind": kind, "lanes": list(lanes), "pos_m": num(a.get("pos"), 0.0),
                       "length_m": num(a.get("length"), 0.0) if kind == "e2" else 0.0,
                       "period_s": num(a.get("period", a.get("freq"))), "file": a.get("file", ""),
                       "source": f"{f}:{line}"}
                if kind == "e2" and "endPos" in a and "length" not in a:
                    cur["length_m"] = num(a.get("endPos"), 0.0) - cur["pos_m"]
                if kind != "e3":
                    out.append(Detector(**{**cur, "lanes": tuple(cur["lanes"])}))
                    cur = None
            elif name in ("detEntry", "detExit") and cur is not None:
                cur["lanes"].append(a.get("lane", ""))
                if len(cur["lanes"]) == 1:
                    cur["pos_m"] = num(a.get("pos"), 0.0)

        def end(name: str) -> None:
            nonlocal cur
            if _DETECTOR_TAGS.get(name) == "e3" and cur is not None:
                out.append(Detector(**{**cur, "lanes": tuple(cur["lanes"])}))
                cur = None

        walk(f, kind="additional", what="SUMO additional file", start=start, end=end)
    return out


def save_sumocfg(scenario: Any, path: str | Path, *, network: Any = None) -> Path:
    """Write ``scenario`` as a SUMO configuration that ``sumo -c`` runs as the toolkit runs it.

    The demand is written beside it as ``<stem>.rou.xml`` (random and OD demand drawn with the scenario's
    seed; route files are named as they are), zones as ``<stem>.zones.add.xml``; the network and additional
    files are named by paths relative to the configuration. Every file is written atomically.

    Parameters
    ----------
    scenario : Scenario
    path : path
        The ``.sumocfg`` to write; its folder must exist.
    network : RoadNetwork, optional
        The scenario's network, if already read.

    Returns
    -------
    Path
        The configuration written.
    """
    import os
    from xml.sax.saxutils import quoteattr

    from ._io import write_text_atomic
    from .demand import write_routes, write_zones
    from .load import load_network
    from .scenario import RouteFileDemand

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {target}: folder {folder.resolve()} does not exist; create it first")
    stem = target.name.removesuffix(".sumocfg")
    net = network if network is not None else load_network(scenario.network)

    def rel(p: str | Path) -> str:
        try:
            return os.path.relpath(Path(p).resolve(), folder.resolve())
        except ValueError:
            return str(Path(p).resolve())

    routes = [Path(f) for f in scenario.demand.files] if isinstance(scenario.demand, RouteFileDemand) else []
    if not isinstance(scenario.demand, RouteFileDemand):
        routes = [write_routes(scenario, net, folder / f"{stem}.rou.xml")]
    adds = list(scenario.additional_files)
    zones = write_zones(scenario, folder / f"{stem}.zones.add.xml")
    if zones is not None:
        adds.insert(0, zones)
    s = scenario.sumo
    opts: list[tuple[str, str, str]] = [
        ("input", "net-file", rel(net.net_file or scenario.network)),
        ("input", "route-files", ",".join(rel(f) for f in routes)),
        ("input", "additional-files", ",".join(rel(f) for f in adds)),
        ("time", "begin", f"{scenario.begin_s:g}"),
        ("time", "end", f"{scenario.end_s:g}"),
        ("time", "step-length", f"{scenario.step_length_s:g}"),
        ("random_number", "seed", str(scenario.seed)),
        ("processing", "time-to-teleport", f"{s.time_to_teleport_s:g}"),
        ("processing", "time-to-teleport.remove", str(s.teleport_remove).lower()),
        ("processing", "collision.action", s.collision_action),
    ]
    extra = list(s.extra_args)
    i = 0
    while i < len(extra):
        name, eq, value = extra[i].partition("=")
        if not eq and i + 1 < len(extra) and not extra[i + 1].startswith("-"):
            value, i = extra[i + 1], i + 1
        elif not eq:
            value = "true"
        opts.append(("processing", name.lstrip("-"), value))
        i += 1
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<!-- written by mobility from scenario {scenario.name} -->",
             "<configuration>"]
    for cat in dict.fromkeys(c for c, _, _ in opts):
        lines.append(f"    <{cat}>")
        lines += [f"        <{n} value={quoteattr(v)}/>" for c, n, v in opts if c == cat and v != ""]
        lines.append(f"    </{cat}>")
    lines.append("</configuration>")
    return write_text_atomic(target, "\n".join(lines) + "\n")
