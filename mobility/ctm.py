"""Cell transmission model runs on a :class:`RoadNetwork` (numba kernel in ``numba_kernels.ctm``).

>>> net = mb.load_network("networks/corridor5.net.xml")                        # doctest: +SKIP
>>> ds = mb.run_ctm(net, {"W_J1": 1200.0}, duration_s=1800)                     # doctest: +SKIP
>>> ds.density.plot()                                                           # doctest: +SKIP

Every edge has a triangular fundamental diagram: free-flow speed from the network, capacity from the
network (veh/h over all lanes), jam density ``jam_density_veh_km_lane`` per lane, and the backward wave
speed that makes the triangle close, ``w = q_max / (k_jam - q_max / v)``. Vehicles turn at nodes by
``turning`` fractions; by default in proportion to the capacity of the edges they may turn into (U-turns
excluded). An edge whose head has no onward edge is an exit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ._errors import InputError
from .network import RoadNetwork


def _successors(network: RoadNetwork, e: int) -> np.ndarray:
    nxt = network.successors(e)
    return np.array([j for j in nxt if network.head[j] != network.tail[e] or network.tail[j] != network.head[e]],
                    dtype=np.int64)


def build_ctm(network: RoadNetwork, sources: Sequence[str], *, dt_s: float,
              turning: Mapping[tuple[str, str], float] | None = None, jam_density_veh_km_lane: float = 150.0):
    """Cells and junction arrays for ``network`` (see :class:`numba_kernels.ctm.CTMNetwork`).

    Returns ``(ctm, cells_per_edge, cell_length_m)``.
    """
    from numba_kernels.ctm import CTMNetwork

    if network.units.get("length") != "m" or network.units.get("free_speed") != "m/s":
        raise InputError(f"{network.name}: the CTM needs lengths in m and speeds in m/s (got "
                         f"{network.units.get('length')}, {network.units.get('free_speed')}); use a SUMO or generated network")
    if not dt_s > 0:
        raise InputError(f"dt_s must be > 0, got {dt_s!r}")
    E = network.n_edges
    v = network.free_speed  # m/s
    q = network.capacity / 3600.0  # veh/s
    lanes = np.maximum(network.lanes, 1.0)
    kj = jam_density_veh_km_lane / 1000.0 * lanes  # veh/m
    bad = np.flatnonzero(~(v > 0) | ~(q > 0) | ~(network.length > 0))
    if bad.size:
        e = bad[0]
        raise InputError(f"edge {network.edge_ids[e]}: speed {v[e]}, capacity {network.capacity[e]}, length "
                         f"{network.length[e]}; the CTM needs all three > 0")
    kc = q / v
    if np.any(kj <= kc):
        e = int(np.argmax(kj <= kc))
        raise InputError(f"edge {network.edge_ids[e]}: jam density {jam_density_veh_km_lane} veh/km/lane is below the "
                         f"critical density; raise jam_density_veh_km_lane")
    w = q / (kj - kc)
    ncell = np.maximum(1, np.floor(network.length / (v * dt_s) + 1e-9)).astype(np.int64)
    dx = network.length / ncell
    vr = v * dt_s / dx
    wr = w * dt_s / dx
    if np.any(vr > 1 + 1e-9):
        e = int(np.argmax(vr))
        raise InputError(f"edge {network.edge_ids[e]} ({network.length[e]:.1f} m at {v[e]:.1f} m/s) is shorter than "
                         f"one step of free flow with dt_s={dt_s}; use dt_s <= {network.length[e] / v[e]:.2f}")
    cs = np.zeros(E + 1, dtype=np.int64)
    cs[1:] = np.cumsum(ncell)
    idx = network.edge_index
    given: dict[int, dict[int, float]] = {}
    for (a, b), frac in (turning or {}).items():
        for name in (a, b):
            if name not in idx:
                raise InputError(f"turning: unknown edge {name!r}")
        ia, ib = idx[a], idx[b]
        if network.head[ia] != network.tail[ib]:
            raise InputError(f"turning: edge {b!r} does not start where {a!r} ends")
        if not 0 <= frac <= 1:
            raise InputError(f"turning ({a!r}, {b!r}) = {frac}; a fraction must be in [0, 1]")
        given.setdefault(ia, {})[ib] = float(frac)
    n_nodes = network.n_nodes
    ins: list[list[int]] = [[] for _ in range(n_nodes)]
    outs: list[list[int]] = [[] for _ in range(n_nodes)]
    succ = {e: _successors(network, e) for e in range(E)}
    for e in range(E):
        ins[network.head[e]].append(e)
    for m in range(n_nodes):  # the outgoing links of a node that some incoming link may turn into
        outs[m] = sorted({int(j) for e in ins[m] for j in succ[e]} | {int(j) for e in ins[m] for j in given.get(e, {})})
    in_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    out_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    turn_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    node_in: list[int] = []
    node_out: list[int] = []
    turn: list[float] = []
    for m in range(n_nodes):
        node_in += ins[m]
        node_out += outs[m]
        for e in ins[m]:
            row = np.zeros(len(outs[m]))
            if e in given:
                for j, frac in given[e].items():
                    row[outs[m].index(j)] = frac
                if len(outs[m]) and not np.isclose(row.sum(), 1.0, atol=1e-9):
                    raise InputError(f"turning fractions out of edge {network.edge_ids[e]} sum to {row.sum():.6f}; "
                                     "they must sum to 1")
            else:
                s = succ[e]
                if len(s):
                    share = network.capacity[s] / network.capacity[s].sum()
                    for j, frac in zip(s, share):
                        row[outs[m].index(int(j))] = frac
                elif len(outs[m]):
                    raise InputError(f"edge {network.edge_ids[e]} has no onward edge at node "
                                     f"{network.node_ids[m]} but other edges do; give its turning fractions")
            turn += list(row)
        in_ptr[m + 1] = len(node_in)
        out_ptr[m + 1] = len(node_out)
        turn_ptr[m + 1] = len(turn)
    src = []
    for s in sources:
        if s not in idx:
            raise InputError(f"inflow: unknown edge {s!r}")
        src.append(idx[s])
    ctm = CTMNetwork(cs, vr, wr, q * dt_s, kj * dx, in_ptr, np.asarray(node_in, dtype=np.int64), out_ptr,
                     np.asarray(node_out, dtype=np.int64), turn_ptr, np.asarray(turn, dtype=np.float64),
                     np.asarray(src, dtype=np.int64))
    ctm.check()
    return ctm, ncell, dx


def run_ctm(
    network: RoadNetwork,
    inflow: Mapping[str, float | Sequence[float]],
    *,
    duration_s: float,
    dt_s: float | None = None,
    period_s: float = 900.0,
    turning: Mapping[tuple[str, str], float] | None = None,
    jam_density_veh_km_lane: float = 150.0,
    record_every_s: float = 60.0,
) -> xr.Dataset:
    """Run the cell transmission model and return time x cell densities and flows.

    Parameters
    ----------
    network : RoadNetwork
        The road network (lengths, lanes, speeds and capacities of its edges).
    inflow : mapping edge id -> veh/h
        Demand entering at each source edge; a number, or a sequence of values per ``period_s`` period
        (the last one holds to the end).
    duration_s : float
        Simulated time.
    dt_s : float, optional
        Time step; default the largest step that gives every edge at least one cell, capped at 5 s.
    period_s : float, s
        Length of one demand period of ``inflow``.
    turning : mapping (from edge, to edge) -> fraction, optional
        Turning fractions; edges not listed split in proportion to the capacity of their successors.
    jam_density_veh_km_lane : float, veh/km per lane
        Jam density of every cell; with the capacity and free-flow speed it sets the backward wave speed.
    record_every_s : float
        Interval of the recorded states.

    Returns
    -------
    xarray.Dataset
        ``density`` (veh/km) and ``flow`` (veh/h out of each cell) on ``(time, cell)`` with cell
        coordinates ``edge`` and ``position_m`` (cell centre from the edge start); ``vehicles``,
        ``queued``, ``entered``, ``exited`` on ``time``; attrs with the step, cell counts and the vehicle
        balance ``conservation_error``.
    """
    from numba_kernels.ctm import simulate

    if not inflow:
        raise InputError("inflow is empty: give at least one source edge and its flow in veh/h")
    if dt_s is None:
        dt_s = float(min(5.0, np.floor(np.min(network.length / network.free_speed) * 10) / 10))
        dt_s = max(dt_s, 0.1)
    steps = int(round(duration_s / dt_s))
    rec = max(1, int(round(record_every_s / dt_s)))
    if steps < 1:
        raise InputError(f"duration_s={duration_s} is shorter than one step ({dt_s} s)")
    sources = list(inflow)
    ctm, ncell, dx = build_ctm(network, sources, dt_s=dt_s, turning=turning,
                               jam_density_veh_km_lane=jam_density_veh_km_lane)
    cols = []
    for s in sources:
        val = np.atleast_1d(np.asarray(inflow[s], dtype=np.float64))
        if np.any(val < 0) or not np.all(np.isfinite(val)):
            raise InputError(f"inflow {s!r}: flows must be finite and >= 0 veh/h, got {val}")
        cols.append(val)
    periods = max(len(c) for c in cols)
    table = np.zeros((periods, len(sources)))
    for i, c in enumerate(cols):
        table[:, i] = np.concatenate([c, np.full(periods - len(c), c[-1])]) * dt_s / 3600.0
    period_steps = max(1, int(round(period_s / dt_s)))
    out = simulate(ctm, steps, table, period_steps=period_steps, record_every=rec)
    cell_edge = np.repeat(np.asarray(network.edge_ids, dtype=str), ncell)
    within = np.concatenate([np.arange(k) for k in ncell])
    cell_dx = np.repeat(dx, ncell)
    pos = (within + 0.5) * cell_dx
    t = (np.arange(out["rec_n"].shape[0]) + 1) * rec * dt_s
    tot = out["rec_total"]
    balance = out["entered"] - (out["n"].sum() + out["queue"].sum() + out["exited"])
    from .provenance import stamp

    ds = xr.Dataset(
        {
            "density": (("time", "cell"), out["rec_n"] / (cell_dx / 1000.0), {"units": "veh/km", "long_name": "density"}),
            "flow": (("time", "cell"), out["rec_out"] * 3600.0 / dt_s, {"units": "veh/h", "long_name": "flow out of the cell"}),
            "vehicles": ("time", tot[:, 1], {"units": "veh", "long_name": "vehicles in cells"}),
            "queued": ("time", tot[:, 2], {"units": "veh", "long_name": "vehicles waiting at sources"}),
            "entered": ("time", tot[:, 0], {"units": "veh", "long_name": "cumulative vehicles generated"}),
            "exited": ("time", tot[:, 3], {"units": "veh", "long_name": "cumulative vehicles that left"}),
        },
        coords={"time": ("time", t, {"units": "s"}), "edge": ("cell", cell_edge),
                "position_m": ("cell", pos, {"units": "m"})},
        attrs={
            "title": f"cell transmission model on {network.name}",
            "dt_s": float(dt_s), "steps": steps, "cells": int(ncell.sum()), "duration_s": float(steps * dt_s),
            "jam_density_veh_km_lane": float(jam_density_veh_km_lane), "period_s": float(period_s),
            "entered": out["entered"], "exited": out["exited"], "conservation_error": float(balance),
            "network": network.name,
        },
    )
    return stamp(ds, sumo=False)
