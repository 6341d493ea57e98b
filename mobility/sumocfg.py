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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import InputError
from ._sumocfg import is_sumocfg, parse_sumo_time, read_sumocfg
from ._sumoxml import walk

__all__ = ["Detector", "SumocfgImport", "import_sumocfg", "is_sumocfg", "parse_sumo_time", "scenario_detectors",
           "save_sumocfg", "scenario_from_sumocfg"]

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
    r = read_sumocfg(p, end_s=end_s, name=name)
    sc = scenario_from_dict(r["data"], base_dir=p.parent, source=str(p), source_file=p.resolve())
    return SumocfgImport(sc, p.resolve(), r["options"], tuple(r["passed_on"]), tuple(r["left_out"]), tuple(r["ignored"]),
                         r["end_derived"])


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
