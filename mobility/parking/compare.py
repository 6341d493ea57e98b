"""Compare guidance strategies on one study: each strategy x seed in its own process, one Dataset out.

>>> from mobility.parking import load_parking, compare_strategies, format_table   # doctest: +SKIP
>>> spec = load_parking("scenarios/parking/district.yaml")                       # doctest: +SKIP
>>> ds = compare_strategies(spec, ["none", "realtime"], seeds=[1, 2, 3])          # doctest: +SKIP
>>> print(format_table(ds))                                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._errors import InputError
from .._pool import run_in_processes
from .simulate import STRATEGIES
from .spec import ParkingSpec

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["compare_strategies", "comparison_table", "format_table"]

#: KPIs in the comparison table: (variable, column title, format).
TABLE = [
    ("mean_search_time_s", "search s", "{:.1f}"),
    ("p95_search_time_s", "search p95 s", "{:.0f}"),
    ("mean_cruising_m", "cruising m", "{:.0f}"),
    ("mean_walking_m", "walking m", "{:.0f}"),
    ("failed_parkings", "failed", "{:.1f}"),
    ("lot_share", "in lots", "{:.0%}"),
    ("reroutes_mean", "reroutes", "{:.2f}"),
    ("mean_delay_s", "network delay s", "{:.1f}"),
    ("parked", "parked", "{:.1f}"),
]


def _run_one(spec: ParkingSpec, strategy: str, seed: int, workdir: str | None) -> xr.Dataset:
    from .simulate import run_parking

    wd = None if workdir is None else Path(workdir) / f"{strategy}_s{seed}"
    return run_parking(spec, strategy, seed=seed, workdir=wd)


def compare_strategies(spec: ParkingSpec, strategies: Sequence[str] = STRATEGIES, *, seeds: Sequence[int] = (1, 2, 3),
                       workers: int = 2, workdir: str | Path | None = None,
                       progress: Callable[[int, int, str], None] | None = None) -> xr.Dataset:
    """Run every strategy with every seed (a fresh process per run: one libsumo simulation per process).

    Returns a Dataset with dims ``strategy`` and ``seed`` for the KPIs (``mean_search_time_s``,
    ``mean_cruising_m``, ``mean_walking_m``, ``failed_parkings``, ...), ``area`` and ``time`` for
    ``occupancy``, and ``vehicle`` for the per-seeker values (NaN where a seed has no such vehicle).
    """
    import xarray as xr

    strategies = list(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise InputError(f"unknown strategies {bad}; choose from {', '.join(STRATEGIES)}")
    if len(set(strategies)) != len(strategies):
        raise InputError(f"strategies repeat: {strategies}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("give at least one seed")
    wd = None if workdir is None else str(workdir)
    results = run_in_processes(_run_one, [((st, s), (spec, st, s, wd)) for st in strategies for s in seeds],
                               workers=workers, progress=progress, describe=lambda k: f"{k[0]} seed {k[1]}")
    per = []
    for st in strategies:
        rows = [results[(st, s)].drop_vars("parked_area") for s in seeds]
        per.append(xr.concat(rows, dim=xr.DataArray(seeds, dims="seed", name="seed"), coords="minimal", join="outer",
                             compat="override", combine_attrs="drop_conflicts"))
    ds = xr.concat(per, dim=xr.DataArray(strategies, dims="strategy", name="strategy"), coords="minimal", join="outer",
                   compat="override", combine_attrs="drop_conflicts")
    ds["capacity"] = ds["capacity"].isel(strategy=0, seed=0, drop=True)
    for k in ("strategy", "seed"):
        ds.attrs.pop(k, None)
    ds.attrs.update(seeds=seeds, parking_study=spec.name, compliance=spec.compliance)
    return ds


def comparison_table(ds: xr.Dataset, *, baseline: str | None = "none") -> pd.DataFrame:
    """One row per strategy: the KPIs' mean over seeds (``<kpi> sd``: spread), and the search time's
    change against ``baseline`` when that strategy is in the Dataset."""
    import pandas as pd

    rows = []
    for st in ds.strategy.values:
        d = ds.sel(strategy=st)
        row: dict[str, object] = {"strategy": str(st)}
        for var, title, _ in TABLE:
            row[title] = float(d[var].mean("seed", skipna=True))
            row[f"{title} sd"] = float(d[var].std("seed", skipna=True, ddof=1)) if d.sizes["seed"] > 1 else float("nan")
        rows.append(row)
    t = pd.DataFrame(rows).set_index("strategy")
    if baseline is not None and baseline in t.index:
        t["search vs " + baseline] = t["search s"] / t.loc[baseline, "search s"] - 1.0
    return t


def format_table(ds: xr.Dataset, *, baseline: str | None = "none") -> str:
    """The comparison as a Markdown table (mean +/- sd over seeds)."""
    t = comparison_table(ds, baseline=baseline)
    rel = [c for c in t.columns if c.startswith("search vs ")]
    head = ["strategy"] + [title for _, title, _ in TABLE] + rel
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for st, r in t.iterrows():
        cells = [str(st)]
        for _, title, fmt in TABLE:
            v, sd = r[title], r[f"{title} sd"]
            cells.append(fmt.format(v) + ("" if not np.isfinite(sd) or sd == 0 else " +/- " + fmt.format(sd)))
        cells += [f"{r[c]:+.0%}" for c in rel]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
