"""Delay against ETC penetration, each penetration at its best booth mix, measured in SUMO.

Booth schedules are compared over seeds by :func:`~mobility.tolling.study.compare_mixes` (the toll
plaza study), re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .mix import layout, surrogate_delay
from .plaza import DemandPeriod, PlazaSpec
from .study import compare_mixes

__all__ = ["compare_mixes", "penetration_curve"]


def penetration_curve(spec: PlazaSpec, flow_veh_h: float, penetrations: Sequence[float], *, seeds: Sequence[int] = (1,),
                      duration_s: float = 3600.0, processes: int = 2) -> Any:
    """Mean delay against ETC penetration at one flow, each at its best fixed mix (chosen by the surrogate)
    and measured in SUMO: a Dataset on ``penetration`` with ``delay_s`` (SUMO, mean over seeds),
    ``surrogate_delay_s`` and the mix (``etc``, ``mtc``, ``mixed``; -1 and NaN delays where no mix keeps up)."""
    import xarray as xr

    from .mix import configurations

    n = len(spec.booths)
    rows = []
    for pen in penetrations:
        best, best_d = None, np.inf
        for c in configurations(n, pen):
            d, ok = surrogate_delay(tuple(int(v) for v in c), flow_veh_h, pen, spec.mtc_service)
            if ok and d < best_d:
                best, best_d = tuple(int(v) for v in c), d
        rows.append((pen, best if best is not None else (-1, -1, -1), best_d))  # (-1, -1, -1): no mix keeps up
    if all(b[0] < 0 for _, b, _ in rows):
        raise InputError(f"no booth mix of {n} booths keeps up with {flow_veh_h:g} veh/h at any of the penetrations given")
    specs = {}
    for pen, best, _ in rows:
        if best[0] < 0:
            continue
        s = spec.model_copy(update={"booths": layout(best), "etc_penetration": pen,
                                    "demand": (DemandPeriod(begin_s=0, end_s=duration_s, flow_veh_h=flow_veh_h),)})
        specs[f"{pen:g}"] = PlazaSpec.model_validate(s.model_dump())
    measured = {}
    for key, s in specs.items():
        ds = compare_mixes(s, {key: None}, seeds=seeds, workers=processes)
        measured[key] = float(ds["delay_s"].mean())
    return xr.Dataset(
        {"delay_s": ("penetration", [measured.get(f"{p:g}", np.nan) for p, _, _ in rows],
                     {"units": "s", "long_name": "SUMO mean delay (NaN: no mix keeps up)"}),
         "surrogate_delay_s": ("penetration", [d for _, _, d in rows], {"units": "s"}),
         "etc": ("penetration", [b[0] for _, b, _ in rows]), "mtc": ("penetration", [b[1] for _, b, _ in rows]),
         "mixed": ("penetration", [b[2] for _, b, _ in rows])},
        coords={"penetration": [p for p, _, _ in rows]}, attrs={"flow_veh_h": flow_veh_h, "booths": n})
