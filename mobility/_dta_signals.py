"""Signals in the dynamic engine: each signalised turn's green share over the cycle (actuated programs) and its
capacity factor second by second (fixed-time programs), from the network's own programs or given plans."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .network import RoadNetwork

__all__ = ["signal_green_shares", "signal_states", "windowed_states"]


def signal_green_shares(network: RoadNetwork, plans: dict[str, Any] | None = None) -> dict[tuple[int, int], float]:
    """Green share of every signalised turn (edge to edge) over its program's cycle: protected and permissive
    green both count, permissive at half (it yields).

    Parameters
    ----------
    network : RoadNetwork
        A SUMO network (others have no signals: an empty result).
    plans : dict of str to SignalPlan, optional
        The programs (default: the network's own).

    Returns
    -------
    dict of (int, int) to float
    """
    if network.net_file is None:
        return {}
    models, own, _ = _programs(str(network.net_file))
    out: dict[tuple[int, int], float] = {}
    for _, p, i, key in _turns(network, models, plans if plans is not None else own):
        g = sum(st.green_s for st in p.stages if i in st.green) + 0.5 * sum(
            st.green_s for st in p.stages if i in st.permissive)
        out[key] = max(out.get(key, 0.0), min(1.0, g / p.cycle_s))
    return out


@functools.lru_cache(maxsize=8)
def _read_programs(net_file: str, mtime_ns: int) -> tuple[dict[str, Any], dict[str, Any], frozenset[str]]:
    from ._sumoxml import walk
    from .signals.plan import plans_from_net
    from .signals.safety import signal_models

    varying: set[str] = set()

    def start(name: str, a: dict[str, str], line: int) -> None:
        if name == "tlLogic" and a.get("type", "static") != "static":
            varying.add(a.get("id", ""))
    walk(net_file, kind="network", what="SUMO network", start=start)
    return signal_models(net_file), plans_from_net(net_file), frozenset(varying)


def _programs(net_file: str) -> tuple[dict[str, Any], dict[str, Any], frozenset[str]]:
    """The network's signal models, its own programs and the signals whose program is not fixed-time, read once
    per file version (a dynamic equilibrium or a ranking of many plans loads the network many times)."""
    import os

    return _read_programs(net_file, os.stat(net_file).st_mtime_ns)


def _turns(network: RoadNetwork, models: dict[str, Any], plans: dict[str, Any]) -> Any:
    """``(tls, plan, signal index, (from edge, to edge))`` of every signalised vehicle turn the plans control."""
    ei = network.edge_index
    for tls, p in plans.items():
        m = models.get(tls)
        if m is None:
            continue
        for i, mv in m.movements.items():
            if not (mv.pedestrian or mv.from_edge not in ei or mv.to_edge not in ei):
                yield tls, p, i, (ei[mv.from_edge], ei[mv.to_edge])


def signal_states(network: RoadNetwork, plans: dict[str, Any] | None = None) -> dict[tuple[int, int], np.ndarray]:
    """Second by second over its cycle, the capacity factor of every turn (edge to edge) of a fixed-time signal:
    1 in protected green, 0.5 in permissive green (it yields), 0 otherwise; entry ``i`` is the state in the
    second ``[i, i + 1)`` of every cycle counted from time 0 (the program's offset is applied). Actuated
    programs are left out (their timing varies: :func:`signal_green_shares` gives their cycle average).

    Parameters
    ----------
    network : RoadNetwork
        A SUMO network (others have no signals: an empty result).
    plans : dict of str to SignalPlan, optional
        The programs (default: the network's own).

    Returns
    -------
    dict of (int, int) to numpy.ndarray
        One float per second of the cycle (the cycle rounded to whole seconds).
    """
    if network.net_file is None:
        return {}
    models, own, varying = _programs(str(network.net_file))
    if plans is not None:
        varying = frozenset()  # given plans: their own actuation says which ones vary
    out: dict[tuple[int, int], np.ndarray] = {}
    fixed = {tls: p for tls, p in (plans if plans is not None else own).items()
             if tls not in varying and getattr(p, "actuation", None) is None}
    timing: dict[str, tuple[int, np.ndarray, list[float]]] = {}
    for tls, p, i, key in _turns(network, models, fixed):
        if tls not in timing:
            cycle = max(1, int(round(p.cycle_s)))
            pos = (np.arange(cycle) + 0.5 - p.sumo_offset_s) % p.cycle_s  # position in the program of each second
            timing[tls] = (cycle, pos, p.stage_starts())
        cycle, pos, starts = timing[tls]
        state = np.zeros(cycle)
        for st, b in zip(p.stages, starts, strict=True):
            on = (pos >= b) & (pos < b + st.green_s)
            if i in st.green:
                state[on] = 1.0
            elif i in st.permissive:
                state[on] = np.maximum(state[on], 0.5)
        out[key] = np.maximum(out[key], state) if key in out and len(out[key]) == cycle else state
    return out


def windowed_states(base: dict[tuple[int, int], np.ndarray],
                    windows: Sequence[tuple[dict[tuple[int, int], np.ndarray], float, float]],
                    until_s: float) -> dict[tuple[int, int], np.ndarray]:
    """Turn states with other programs in force over time windows: a turn a window retimes gets one state per
    second from time 0 to ``until_s`` (its own cycle outside the window, the window's inside), whole cycles of
    its own program long, so that it repeats its own cycle after.

    Parameters
    ----------
    base : dict of (int, int) to numpy.ndarray
        :func:`signal_states` of the programs in force otherwise.
    windows : sequence of (states, begin s, end s)
        :func:`signal_states` of the programs in force from ``begin`` to ``end``.
    until_s : float, s
        The last time the states are needed.

    Returns
    -------
    dict of (int, int) to numpy.ndarray
    """
    out = dict(base)
    for states, begin, end in windows:
        for key, alt in states.items():
            own = base.get(key)
            if own is None or len(alt) == 0:
                continue
            n = int(np.ceil(max(until_s, 1.0) / len(own))) * len(own)
            cur = out[key] if len(out[key]) == n else np.resize(own, n)
            cur = cur.copy()
            t = np.arange(n)
            on = (t >= begin) & (t < end)
            cur[on] = alt[t[on] % len(alt)]
            out[key] = cur
    return out
