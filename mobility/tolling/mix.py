"""The booth mix by time of day: a queueing surrogate to search, CP-SAT over periods, SUMO to check.

For every configuration (how many booths are ETC, MTC and mixed) and period, the surrogate estimates
the mean delay per vehicle at the plaza: tagged and untagged flows are split over the booths they may
use (the split into mixed booths is searched, as drivers picking the shortest queue balance it), each
booth is a single-server queue: ETC booths with the ETC headway as service, MTC booths as M/G/1 with
exceptional first service (payment, plus the move-up when queued; see :mod:`.queueing`), mixed booths
with the mixture of both (Pollaczek-Khinchine). Configurations that load a booth above ``rho_max`` or
queue more than ``storage_veh`` vehicles at a booth on average (spill-back onto the approach) are
infeasible. :func:`optimise_mix` then picks one configuration per period with
:func:`optimise.lane_mix.lane_mix_schedule` and returns a :class:`TollPlazaConfig`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._errors import InputError
from .plaza import BoothType, PlazaSpec, ServiceTime

__all__ = ["BoothModel", "PeriodPlan", "TollPlazaConfig", "configurations", "layout", "optimise_mix", "surrogate_delay"]

TYPES: tuple[BoothType, ...] = ("etc", "mtc", "mixed")


class BoothModel(BaseModel):
    """Service parameters of the surrogate (defaults: measured in SUMO with the plaza defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    etc_headway_s: float = Field(2.33, gt=0, description="3600 / ETC booth capacity (about 1,545 veh/h)")
    etc_cv: float = Field(0.3, ge=0)
    move_up_s: float = Field(5.0, ge=0, description="next car driving up to the service point")
    rho_max: float = Field(0.95, gt=0, le=1)
    storage_veh: float = Field(15.0, gt=0, description="mean queue per booth that reaches back to the fan-out")


def configurations(n_booths: int, penetration: float) -> np.ndarray:
    """Every (etc, mtc, mixed) count triple summing to ``n_booths`` that serves both vehicle kinds present."""
    out = []
    for e in range(n_booths + 1):
        for m in range(n_booths + 1 - e):
            x = n_booths - e - m
            if penetration > 0 and e + x == 0:
                continue
            if penetration < 1 and m + x == 0:
                continue
            out.append((e, m, x))
    return np.array(out, dtype=int)


def _pk(lam: np.ndarray, es: np.ndarray, es2: np.ndarray) -> np.ndarray:
    rho = lam * es
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1, lam * es2 / (2 * (1 - rho)), np.inf)


def surrogate_delay(counts: tuple[int, int, int], flow_veh_h: float, penetration: float, payment: ServiceTime,
                    model: BoothModel | None = None, grid: int = 21) -> tuple[float, bool]:
    """Mean delay per vehicle of one configuration at one flow, and whether it is feasible.

    The delay counts queueing at the booths and the untagged vehicles' payment time.

    Parameters
    ----------
    counts : (int, int, int)
        Booths of each kind: ETC, MTC, mixed.
    flow_veh_h : float
        Arrivals, veh/h.
    penetration : float
        Share of tagged (ETC) vehicles, 0..1.
    payment : ServiceTime
        Manual payment time distribution.
    model : BoothModel, optional
        ETC headway and move-up times (default: :class:`BoothModel` defaults).
    grid : int
        Points per axis of the search over how tagged and untagged drivers split onto mixed booths.

    Returns
    -------
    (float, bool)
        Mean delay per vehicle, s, and whether every booth stays below saturation.
    """
    bm = model or BoothModel()
    e, m, x = counts
    lam = flow_veh_h / 3600.0
    lt, lu = penetration * lam, (1 - penetration) * lam
    if lam <= 0:
        return (1 - penetration) * payment.mean_s, True
    a = np.linspace(0, 1, grid) if (x > 0 and e > 0) else np.array([1.0 if e == 0 else 0.0])
    b = np.linspace(0, 1, grid) if (x > 0 and m > 0) else np.array([1.0 if m == 0 else 0.0])
    A, B = np.meshgrid(a, b, indexing="ij")
    he, he2 = bm.etc_headway_s, bm.etc_headway_s**2 * (1 + bm.etc_cv**2)
    p, p2, mu = payment.mean_s, payment.second_moment, bm.move_up_s
    total = np.zeros_like(A)
    ok = np.ones_like(A, dtype=bool)
    if e > 0:
        le = lt * (1 - A) / e
        w = _pk(le, np.full_like(le, he), np.full_like(le, he2))
        ok &= (le * he <= bm.rho_max) & (le * w <= bm.storage_veh)
        total += e * le * w
    if m > 0:
        lm = lu * (1 - B) / m
        es, es2 = p + mu, p2 + 2 * mu * p + mu * mu
        rho = lm * es
        with np.errstate(divide="ignore", invalid="ignore"):
            wq = np.where(rho < 1, lm * es2 / (2 * (1 - rho)) + lm * (p2 - es2) / (2 * (1 - rho + lm * p)), np.inf)
            p0 = np.where(rho < 1, (1 - rho) / (1 - rho + lm * p), 0.0)
        w = wq + mu * (1 - p0)
        ok &= (rho <= bm.rho_max) & (lm * wq <= bm.storage_veh)
        total += m * lm * w
    if x > 0:
        lx_t, lx_u = lt * A / x, lu * B / x
        lx = lx_t + lx_u
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(lx > 0, lx_t / lx, 0.0)
        es = q * he + (1 - q) * (p + mu)
        es2 = q * he2 + (1 - q) * (p2 + 2 * mu * p + mu * mu)
        w = _pk(lx, es, es2)
        ok &= (lx * es <= bm.rho_max) & (lx * w <= bm.storage_veh)
        total += x * lx * w
    mean = np.where(ok, total / lam, np.inf) + (1 - penetration) * p
    if not np.isfinite(mean).any():
        with np.errstate(invalid="ignore"):
            return float(np.nanmin(np.where(np.isfinite(total), total / lam, np.inf))) + (1 - penetration) * p, False
    return float(mean.min()), True


def layout(counts: tuple[int, int, int]) -> tuple[BoothType, ...]:
    """Booth types rightmost first, each type spread evenly across the plaza, so that every approach lane
    leads to booths of every type and no lane carries one kind's whole flow (drivers line up for their
    side of the plaza long before it: a plaza with its ETC booths bunched on one side overloads those
    lanes).

    Parameters
    ----------
    counts : (int, int, int)
        Booths of each kind: ETC, MTC, mixed.

    Returns
    -------
    tuple of str
        The kind of each booth, rightmost first.
    """
    e, m, x = counts
    n = e + m + x
    slots: list[tuple[float, int, BoothType]] = []
    for t, c in (("mtc", m), ("etc", e), ("mixed", x)):
        slots += [((j + 0.5) * n / c, len(slots), t) for j in range(c)]
    return tuple(t for _, _, t in sorted(slots))


class PeriodPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_s: float
    end_s: float
    flow_veh_h: float
    booths: tuple[BoothType, ...]
    etc: int
    mtc: int
    mixed: int
    surrogate_delay_s: float
    measured_delay_s: float | None = None


class TollPlazaConfig(BaseModel):
    """A booth schedule an operator can apply: one layout per period of the day."""

    model_config = ConfigDict(extra="forbid")
    plaza: str
    n_booths: int
    etc_penetration: float
    periods: list[PeriodPlan]
    best_fixed: tuple[int, int, int] | None = Field(None, description="the best single (etc, mtc, mixed) mix, for comparison")
    solver: dict[str, Any] = Field(default_factory=dict)

    def schedule(self) -> list[tuple[float, tuple[BoothType, ...]]]:
        """``(start_s, booths)`` per period, for :func:`~mobility.tolling.simulate.run_plaza`."""
        return [(p.start_s, p.booths) for p in self.periods]

    def save(self, path: str | Path) -> Path:
        from .._io import write_text_atomic

        return write_text_atomic(path, json.dumps(self.model_dump(mode="json"), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TollPlazaConfig:
        from .._spec import read_mapping, validate

        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: toll plaza configuration not found")
        data, root = read_mapping(p, what="booth schedule", hint="plaza, periods, ...")
        return validate(data, cls, source=str(p), root=root)


def optimise_mix(spec: PlazaSpec, *, model: BoothModel | None = None, max_changes: int | None = 4,
                 max_switches: int | None = None, time_limit_s: float = 30.0) -> TollPlazaConfig:
    """One booth configuration per demand period of ``spec``, by the surrogate and CP-SAT.

    Parameters
    ----------
    spec : PlazaSpec
        The plaza and its demand periods.
    model : BoothModel, optional
        ETC headway and move-up times (default: :class:`BoothModel` defaults).
    max_changes : int, optional
        Most booths whose kind changes between two consecutive periods (None: no limit).
    max_switches : int, optional
        Most periods at which the layout changes at all (None: no limit).
    time_limit_s : float
        CP-SAT time limit, s.

    Returns
    -------
    TollPlazaConfig
        A layout per period with its surrogate delay, the best single mix for comparison, and the solver's
        status, objective (veh h of delay), bound and gap.
    """
    from optimise.lane_mix import lane_mix_schedule

    n = len(spec.booths)
    periods = list(spec.demand)
    shares = [spec.penetration(p) for p in periods]
    # configurations that serve every kind of vehicle present at some time of the day
    cfg = configurations(n, 0.5 if (min(shares) < 1 and max(shares) > 0) else shares[0])
    cost = np.full((len(periods), len(cfg)), np.inf)
    mean = np.full_like(cost, np.inf)
    for i, per in enumerate(periods):
        hours = (per.end_s - per.begin_s) / 3600.0
        for c, counts in enumerate(cfg):
            d, ok = surrogate_delay(tuple(int(v) for v in counts), per.flow_veh_h, shares[i], spec.mtc_service, model)
            mean[i, c] = d
            if ok:
                cost[i, c] = d * per.flow_veh_h * hours / 3600.0  # vehicle-hours of delay
    for i in range(len(periods)):
        if not np.isfinite(cost[i]).any():  # nothing keeps up: take the least bad and say so
            if not np.isfinite(mean[i]).any():
                per = periods[i]
                raise InputError(f"plaza {spec.name}: field 'demand.{i}': {per.flow_veh_h:g} veh/h "
                                 f"({per.begin_s:g}-{per.end_s:g} s, ETC share {shares[i]:g}) is more than any mix of "
                                 f"its {n} booths can carry; add booths or lower the flow")
            c = int(np.argmin(mean[i]))
            cost[i, c] = mean[i, c] * periods[i].flow_veh_h * (periods[i].end_s - periods[i].begin_s) / 3600.0 / 3600.0
    layouts = [layout(tuple(int(v) for v in c)) for c in cfg]
    changes = np.array([[sum(a != b for a, b in zip(la, lb, strict=True)) for lb in layouts] for la in layouts])
    res = lane_mix_schedule(cost, changes, max_changes=max_changes, max_switches=max_switches, time_limit_s=time_limit_s)
    fixed_tot = np.where(np.isfinite(cost), cost, np.inf).sum(axis=0)
    best_fixed = int(np.argmin(fixed_tot)) if np.isfinite(fixed_tot).any() else None
    plans: list[PeriodPlan] = []
    for i, (per, c) in enumerate(zip(periods, res.choice, strict=True)):
        e, m, x = (int(v) for v in cfg[c])
        plans.append(PeriodPlan(start_s=per.begin_s, end_s=per.end_s, flow_veh_h=per.flow_veh_h, booths=layouts[c],
                                etc=e, mtc=m, mixed=x, surrogate_delay_s=float(mean[i, c])))
    solver = {"status": res.status, "objective_veh_h": res.objective, "bound_veh_h": res.bound, "gap": res.gap,
              "solve_time_s": res.solve_time_s, "max_changes": max_changes, "max_switches": max_switches,
              "best_fixed_objective_veh_h": float(fixed_tot[best_fixed]) if best_fixed is not None else math.inf}
    return TollPlazaConfig(plaza=spec.name, n_booths=n, etc_penetration=spec.etc_penetration, periods=plans,
                           best_fixed=tuple(int(v) for v in cfg[best_fixed]) if best_fixed is not None else None,
                           solver=solver)

