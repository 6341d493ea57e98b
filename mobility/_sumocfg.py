"""Reading a SUMO configuration as SUMO reads it (the private half of :mod:`mobility.sumocfg`).

SUMO itself parses the configuration (``sumo -c CITY.sumocfg --save-configuration``); this module turns the
options into scenario fields and keeps what it passes on and leaves out. It imports nothing of the scenario
model, so :func:`mobility.load_scenario` can read a configuration without an import cycle.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ._errors import InputError, ScenarioError, missing_file
from ._sumoxml import FileReport, check_sumo_file, walk

__all__ = ["SUMO_DEFAULT_SEED", "is_sumocfg", "parse_sumo_time", "read_sumocfg", "writes_file"]

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



#: Options (without dashes) naming a file SUMO writes that do not end in "output".
_WRITTEN_FILES = frozenset({"netstate-dump", "save-state.files", "save-state.prefix", "log", "l", "message-log",
                            "error-log", "output-prefix", "save-configuration", "C", "save-template", "save-commented"})


def writes_file(option: str) -> bool:
    """True when the SUMO option ``option`` (with or without leading dashes) names a file SUMO writes.

    Parameters
    ----------
    option : str
        E.g. ``"--fcd-output"``, ``"device.rerouting.output"``, ``"save-state.files"``.

    Returns
    -------
    bool
    """
    name = option.lstrip("-")
    return name.endswith("output") or name in _WRITTEN_FILES


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


def read_sumocfg(path: str | Path, *, end_s: float | None = None, name: str | None = None) -> dict[str, Any]:
    """The scenario fields of a SUMO configuration as SUMO reads it, and what became of each option.

    Returns ``{"data": scenario fields, "options": {name: value}, "passed_on": [...], "left_out": [(name, why)],
    "ignored": ["file:line: <el>"], "end_derived": bool}``; :func:`mobility.sumocfg.import_sumocfg` validates
    the fields as a :class:`~mobility.Scenario`. Raises :class:`~mobility.ScenarioError` naming the file."""
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
    return {"data": data, "options": opts, "passed_on": passed, "left_out": left, "ignored": ignored,
            "end_derived": derived}


