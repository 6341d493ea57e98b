"""SUMO phases of stage-based plans: green and clearance states, and the phases of actuated programs.

Kept apart from :mod:`mobility.signals.plan` (the plan model) so both stay readable; the functions take a plan
and read its stages, cycle and actuation.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

# The plan model's classes (``mobility.signals.plan``): that module imports this one, so they are named here, not
# imported (the package has no import cycles, type-only ones included).
SignalPlan = Stage = Actuation = Any

GREEN = frozenset("Gg")


def _green_state(plan: SignalPlan, st: Stage) -> str:
    s = ["r"] * plan.n_links
    for i in plan.off_links:
        s[i] = "O"
    for i in st.stop:
        s[i] = "s"
    for i in st.permissive:
        s[i] = "g"
    for i in st.green:
        s[i] = "G"
    return "".join(s)


def _clearance_state(cur: str, nxt: str, *, yellow: bool) -> str:
    out = []
    for a, b in zip(cur, nxt, strict=True):
        if a in GREEN and b in GREEN and not (a == "G" and b == "g"):
            out.append(a)  # a movement green in both stages keeps its green through the change
        elif a in GREEN:  # losing its green, or its protection (G -> g): yellow, then red
            out.append("y" if yellow else "r")
        elif a == b and a in "sO":
            out.append(a)
        else:
            out.append("r")
    return "".join(out)


def phase_states(plan: SignalPlan) -> list[tuple[str, float, Stage | None]]:
    """SUMO phases of ``plan``: ``(state, duration_s, stage)`` with ``stage`` None for clearance phases.

    Parameters
    ----------
    plan : SignalPlan

    Returns
    -------
    list of tuple
        ``(SUMO state, duration s, stage or None)`` in cycle order.
    """
    greens = [_green_state(plan, st) for st in plan.stages]
    phases: list[tuple[str, float, Stage | None]] = []
    for k, st in enumerate(plan.stages):
        nxt = greens[(k + 1) % len(greens)]
        phases.append((greens[k], st.green_s, st))
        if st.yellow_s > 0:
            phases.append((_clearance_state(greens[k], nxt, yellow=True), st.yellow_s, None))
        if st.all_red_s > 0:
            phases.append((_clearance_state(greens[k], nxt, yellow=False), st.all_red_s, None))
    return phases


# ---- reading SUMO programs ------------------------------------------------------------------------
def _skip_phase_lines(p: SignalPlan) -> list[str]:
    """The phases of an actuated plan that skips stages nobody waits for: the stages and the clearances to the
    next one in their order first, then a clearance from every stage to every other stage. Each stage's green
    lists itself and then its clearances in the stages' order (``next``): SUMO goes on to the called stage
    with the most active detectors (the first in order on a tie), and with no call anywhere the green rests
    where it is."""
    greens = [_green_state(p, st) for st in p.stages]
    n = len(p.stages)
    rows: list[dict[str, Any]] = []
    green_at: list[int] = []
    out_of: dict[tuple[int, int], int] = {}

    def clearance(k: int, j: int, extra: bool) -> None:
        st = p.stages[k]
        first = len(rows)
        name = f' name="mobility.skip {k}-{j}"' if extra else ""
        if st.yellow_s > 0:
            rows.append({"state": _clearance_state(greens[k], greens[j], yellow=True), "dur": st.yellow_s, "name": name})
        if st.all_red_s > 0:
            rows.append({"state": _clearance_state(greens[k], greens[j], yellow=False), "dur": st.all_red_s, "name": name})
        out_of[(k, j)] = first if len(rows) > first else -1  # -1: straight on to the next green
        if len(rows) > first:
            rows[-1]["to"] = j  # every clearance names the green it leads to (SUMO follows it to judge calls)
            if len(rows) - first == 2:
                rows[first]["to_phase"] = first + 1

    for k, st in enumerate(p.stages):
        green_at.append(len(rows))
        rows.append({"state": greens[k], "dur": st.green_s, "stage": k})
        clearance(k, (k + 1) % n, extra=False)
    for k in range(n):
        for step in range(2, n):
            clearance(k, (k + step) % n, extra=True)
    lines = []
    for r in rows:
        extra = ""
        if "stage" in r:
            k = r["stage"]
            st = p.stages[k]
            targets = [out_of[(k, (k + step) % n)] for step in range(1, n)]
            # the stage itself first: with no call elsewhere it rests in green (a field controller's dwell), and
            # it ends as soon as another stage is called and its own gap runs out or it reaches its maximum
            nxt = [green_at[k]] + [t if t >= 0 else green_at[(k + step) % n]
                                   for step, t in zip(range(1, n), targets, strict=True)]
            extra = f' minDur="{st.min_green_s:g}" maxDur="{st.max_green_s:g}" next="{" ".join(map(str, nxt))}"'
            if st.passage_s is not None:
                extra += f' vehext="{st.passage_s:g}"'
            if st.name:
                extra += f" name={quoteattr(st.name)}"
        else:
            extra = r["name"]
            if "to_phase" in r:
                extra += f' next="{r["to_phase"]}"'
            elif "to" in r:
                extra += f' next="{green_at[r["to"]]}"'
        lines.append(f'        <phase duration="{r["dur"]:g}" state="{r["state"]}"{extra}/>')
    return lines


def _phase_lines(p: SignalPlan) -> list[str]:
    """The ``<phase>`` elements of a plan. A coordinated-actuated plan forces every other stage off at the end
    of its split (``latestEnd``) and ends the coordinated stage at its yield point: the phase after it may only
    begin in the two seconds after the yield point (``earlyTarget`` on SUMO's cycle clock ``c:``), so the
    coordinated stage holds its green, whenever it started, until its yield point comes round (its maximum
    green must reach it: the safety check makes sure)."""
    act = p.actuation
    if act is not None and act.skip:
        return _skip_phase_lines(p)
    phases = phase_states(p)
    coord = act is not None and act.coordinated
    ends = p.green_ends() if coord else []
    greens = [i for i, (_, _, st) in enumerate(phases) if st is not None]
    after = (greens[act.coordinated_stage] + 1) % len(phases) if coord and act is not None else -1
    out = []
    k = -1
    for i, (state, dur, st) in enumerate(phases):
        extra = ""
        if st is not None:
            k += 1
            hold = coord and act is not None and k == act.coordinated_stage
            extra = f' minDur="{st.min_green_s:g}" maxDur="{st.max_green_s:g}"'
            if coord and not hold:
                extra += f' latestEnd="{ends[k]:g}"'
            if act is not None and st.passage_s is not None:
                extra += f' vehext="{st.passage_s:g}"'
            if st.name:
                extra += f" name={quoteattr(st.name)}"
        if i == after:
            y = ends[act.coordinated_stage]  # type: ignore[union-attr]
            hi = y + 2.0
            cond = (f"c: &gt;= {y:g} and c: &lt; {hi:g}" if hi <= p.cycle_s
                    else f"c: &gt;= {y:g} or c: &lt; {hi - p.cycle_s:g}")
            extra += f' earlyTarget="{cond}"'
        out.append(f'        <phase duration="{dur:g}" state="{state}"{extra}/>')
    return out


def _actuation_params(p: SignalPlan, act: Actuation) -> list[str]:
    """SUMO's parameters of an actuated tlLogic for ``act``."""
    params = {"max-gap": f"{act.passage_s:g}", "detector-gap": f"{act.detector_gap_s:g}",
              "detector-length": f"{act.detector_length_m:g}", "jam-threshold": f"{act.jam_threshold_s:g}"}
    if act.coordinated:
        params.update({"coordinated": "true", "cycleTime": f"{p.cycle_s:g}"})
    params.update(act.detectors)  # custom detectors: lane -> induction loop
    return [f"        <param key={quoteattr(k)} value={quoteattr(v)}/>" for k, v in params.items()]


