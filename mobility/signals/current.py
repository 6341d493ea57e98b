"""The program a scenario runs at each signal: the network's own, replaced by its additional files' programs.

Real scenarios ship their cities' timing plans as ``tlLogic`` elements in additional files (the last program
loaded for a signal is the one SUMO runs) and switch them by time of day with ``WAUT`` definitions. Every
controller, the optimiser's baseline and the reports take the program from :func:`current_plans`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .._errors import InputError
from .plan import SignalPlan, _actuation_from_sumo, _safe_id, plan_from_phases, plans_from_net

__all__ = ["current_plans"]


def current_plans(scenario: Any, *, at_s: float | None = None, default_max_green_s: float = 90.0
                  ) -> dict[str, SignalPlan]:
    """The program SUMO runs at each traffic light of ``scenario``: ``{tls id: plan}``.

    A ``tlLogic`` in the scenario's additional files replaces the network's own program of that signal (the
    last one loaded is the one SUMO runs), and a ``WAUT`` switches a signal between programs by time of day:
    its program in force at ``at_s`` (default: the scenario's begin) is taken. Real scenarios ship their
    cities' timing plans this way; every controller, the optimiser's baseline and the reports use these.
    Actuated programs keep their actuation (minimum and maximum greens, passage time).

    Parameters
    ----------
    scenario : Scenario
    at_s : float, s, optional
        Time of day whose WAUT program is taken.
    default_max_green_s : float, s
        Maximum green of a phase that gives no ``maxDur`` (at least its duration).

    Returns
    -------
    dict of str to SignalPlan
    """
    from .._sumoxml import walk

    out = dict(plans_from_net(scenario.network, default_max_green_s=default_max_green_s))
    programs: dict[tuple[str, str], SignalPlan] = {}
    wauts: dict[str, tuple[str, list[tuple[float, str]]]] = {}
    waut_of: dict[str, str] = {}
    for f in scenario.additional_files:
        f = Path(f)
        cur: dict[str, Any] = {}

        def start(name: str, a: dict[str, str], line: int, f: Path = f) -> None:
            nonlocal cur
            if name == "tlLogic":
                cur = {"attrs": dict(a), "phases": [], "params": {}, "line": line}
            elif name == "phase" and cur:
                cur["phases"].append(dict(a))
            elif name == "param" and cur:
                cur["params"][a.get("key", "")] = a.get("value", "")
            elif name == "WAUT":
                wauts[a.get("id", "")] = (a.get("startProg", ""), [])
                cur_waut[0] = a.get("id", "")
            elif name == "wautSwitch" and cur_waut[0] in wauts:
                wauts[cur_waut[0]][1].append((float(a.get("time", 0)), a.get("to", "")))
            elif name == "wautJunction":
                waut_of[a.get("junctionID", "")] = a.get("wautID", "")

        def end(name: str, f: Path = f) -> None:
            nonlocal cur
            if name != "tlLogic" or not cur:
                return
            a, tid = cur["attrs"], cur["attrs"].get("id", "")
            where = f"{f}:{cur['line']}: tlLogic {tid!r}"
            try:
                offset = float(a.get("offset", 0))
            except ValueError:
                raise InputError(f"{where}: offset {a.get('offset')!r} is not a number") from None
            act = None
            if a.get("type") == "actuated":
                el = ET.Element("tlLogic", a)
                for k, v in cur["params"].items():
                    ET.SubElement(el, "param", {"key": k, "value": v})
                act = _actuation_from_sumo(el)
            try:
                plan = plan_from_phases(tid, cur["phases"], plan_id=_safe_id(a.get("programID", "0")), offset=offset,
                                        where=where, default_max_green_s=default_max_green_s,
                                        **({"actuation": act} if act is not None else {}))
            except InputError:
                cur = {}
                return  # not stage-based (NEMA, rail signals...): SUMO runs it; the toolkit keeps the network's view
            programs[(tid, a.get("programID", ""))] = plan
            out[tid] = plan  # the last program loaded is the one SUMO runs
            cur = {}

        cur_waut = [""]
        walk(f, kind="additional", what="SUMO additional file", start=start, end=end)
    t = (scenario.begin_s if at_s is None else at_s) % 86400.0
    for tid, wid in waut_of.items():
        if wid not in wauts:
            continue
        prog, switches = wauts[wid]
        for when, to in sorted(switches):
            if when % 86400.0 <= t:
                prog = to
        if (tid, prog) in programs:
            out[tid] = programs[(tid, prog)]
    return out
