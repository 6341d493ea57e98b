"""Signal control as a study: controllers x seeds on one executor, one Dataset, one table.

The study file is the traffic scenario itself; the alternatives are controllers: ``fixed`` (the
network's programs), ``actuated`` (SUMO's), ``webster`` and ``optimised`` plans computed once before the
runs, the adaptive ``greedy`` and ``maxpressure``, or plans of your own by name.

>>> import mobility as mb                                                            # doctest: +SKIP
>>> study = mb.load_study("scenarios/signal_control/grid3x3.yaml")                  # doctest: +SKIP
>>> ds = mb.compare(study, ["fixed", "actuated", "maxpressure"], seeds=3)            # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from ..study import Column, Study, StudyKind
from .control import ADAPTIVE, CONTROLLERS, AdaptiveSettings, controller_payload

if TYPE_CHECKING:
    import xarray as xr

    from ..scenario import Scenario

__all__ = ["KIND", "SignalsStudy", "watchdog_limits"]

#: Definition of the delay every signal comparison reports.
DELAY_DEFINITION = ("RESCO: sum(timeLoss + departDelay) / (trips + never departed); never-departed vehicles wait "
                    "until the end")


class SignalsStudy(StudyKind):
    """Signal controllers on one traffic scenario."""

    name = "signals"
    dim = "controller"
    what = "controllers"
    default_alternatives = ("fixed", "actuated", "maxpressure", "adaptive", "optimised")
    baseline = "fixed"
    preload = ("mobility.signals.control",)
    table = (
        Column("mean_delay_s", "mean delay s", "s", "{:.1f}"),
        Column("mean_travel_time_s", "trip time s", "s", "{:.1f}"),
        Column("mean_waiting_time_s", "waiting s", "s", "{:.1f}"),
        Column("mean_queue_veh", "queue veh", "veh", "{:.1f}"),
        Column("throughput_veh_h", "throughput veh/h", "veh/h", "{:.0f}"),
        Column("unfinished", "unfinished", "veh", "{:.1f}"),
        Column("never_departed", "never departed", "veh", "{:.1f}"),
        Column("stranded", "stranded", "veh", "{:.1f}"),
    )

    def read(self, path: Path) -> Scenario:
        from ..scenario import load_scenario

        return load_scenario(path, check_network=False)

    def from_dict(self, data: dict[str, Any], *, base_dir: Path, source: str) -> Scenario:
        from ..scenario import scenario_from_dict

        return scenario_from_dict(data, base_dir=base_dir, source=source)

    def spec_from_json(self, data: dict[str, Any]) -> Scenario:
        from ..scenario import Scenario

        return Scenario.model_validate(data)

    def resolve(self, spec: Scenario) -> Study:
        from ..scenario import scenario_network

        return Study(self.name, spec, spec, scenario_network(spec))

    def describe(self, study: Study) -> str:
        sc = study.spec
        return f"{sc.name}, {sc.demand.kind} demand, {sc.duration_s:.0f} s, seed {sc.seed}"

    def alternatives(self, study: Study, words: Sequence[Any], *, plans: Mapping[str, Sequence[Any]] | None = None,
                     settings: AdaptiveSettings | None = None, optimise_options: dict[str, Any] | None = None,
                     backend: str = "libsumo", plan_workers: int = 2, plan_progress: Any = None, **options: Any
                     ) -> dict[str, Any]:
        from .evaluate import controller_plans

        names = [str(w) for w in words]
        plans = dict(plans or {})
        unknown = [c for c in names if c not in CONTROLLERS and c not in plans]
        if unknown:
            raise InputError(f"unknown controller(s) {unknown}; choose from {', '.join(CONTROLLERS)} or pass their plans")
        if len(set(names)) != len(names):
            raise InputError(f"controllers repeat: {names}")
        out: dict[str, Any] = {}
        records: dict[str, Any] = {}
        for c in names:
            if c in ("webster", "optimised") and c not in plans:
                opts = dict(optimise_options or {})
                if c == "optimised":
                    from .actuated import recommend_actuated

                    opts.setdefault("processes", plan_workers)
                    opts.setdefault("progress", plan_progress)
                    known = ("training_seeds", "check_seeds", "passages_s", "max_green_factor", "saturation_veh_h",
                             "min_gain", "processes", "time_limit_s", "progress")
                    full = recommend_actuated(study.spec, network=study.network,
                                              **{k: v for k, v in opts.items() if k in known})
                    records[c] = full[0].metadata.get("recommendation") if full else None
                    plans[c] = [p for p in full if not p.metadata.get("kept_current")]  # kept: the scenario's own
                else:
                    plans[c] = controller_plans(study.spec, c, **opts) or []
            run_as = c if c in ("fixed", "actuated", *ADAPTIVE) and c not in plans else "fixed"
            rules = settings
            if c == "adaptive" and (settings is None or (settings.watchdog and settings.watchdog_limits is None)):
                # the watchdog's limits: what the city's program holds, measured once on a tuning seed
                from dataclasses import replace

                rules = replace(settings or AdaptiveSettings(), watchdog_limits=watchdog_limits(study, processes=1))
            out[c] = controller_payload(run_as, plans=plans.get(c), settings=rules, backend=backend)
            if records.get(c) is not None:
                out[c]["recommendation"] = records[c]
        return out

    def check_alternatives(self, study: Study, words: Sequence[Any]) -> None:
        bad = [w for w in words if w not in CONTROLLERS]
        if bad:
            raise InputError(f"unknown controller(s) {bad}; choose from {', '.join(CONTROLLERS)}")

    def sweep_alternative(self, study: Study, word: Any, *, backend: str = "libsumo", **options: Any) -> tuple[str, Any]:
        if word is None:  # no controller named: the network's own programs, run as a plain scenario
            return "network programs", controller_payload(None, backend=backend)
        alts = self.alternatives(study, [word], backend=backend)
        return str(word), alts[str(word)]

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        import xarray as xr

        from ..results import KPI_UNITS, kpis
        from .control import run_controlled
        from .plan import SignalPlan

        t0 = time.perf_counter()
        sc = study.spec
        controller = alternative.get("controller")
        backend = alternative.get("backend") or "libsumo"
        if controller is None:  # the network's own programs, a plain run
            from ..simulation import run_scenario

            ds = run_scenario(sc, seed=seed, backend=backend, workdir=workdir, network=study.network)
        else:
            plans = [SignalPlan.model_validate(p) for p in alternative["plans"]] if alternative.get("plans") else None
            settings = AdaptiveSettings(**alternative["settings"]) if alternative.get("settings") else None
            ds = run_controlled(sc, controller, seed=seed, plans=plans, settings=settings, network=study.network,
                                workdir=workdir, backend=backend)
        k = kpis(ds)
        out = xr.Dataset({n: ((), np.float64(v), {"units": KPI_UNITS.get(n, "1")}) for n, v in k.items()})
        out["sumo_wall_s"] = ((), time.perf_counter() - t0, {"units": "s", "long_name": "wall time of the SUMO run and reading its outputs"})
        for var, long_name in (("watchdog_share", "share of junction-time the adaptive controller's watchdog gave back "
                                                  "to the city's program (NaN: no watchdog)"),
                               ("watchdog_fallbacks", "junctions handed back to their program by the watchdog")):
            out[var] = ((), float(ds[var]) if var in ds else np.nan, {"units": "1", "long_name": long_name})
        if "tls_queue" in ds:
            q = ds["tls_queue"]
            out["queue"] = (q.dims, q.values.astype(float), {"units": "veh", "long_name": "mean halting vehicles on the signal's approaches"})
            out = out.assign_coords({d: ds[d].values for d in q.dims})
            out["mean_queue_veh"] = ((), float(q.values.sum(axis=0).mean()) if q.size else np.nan,
                                     {"units": "veh", "long_name": "halting vehicles on the signals' approaches, time mean"})
        else:
            out["mean_queue_veh"] = ((), np.nan, {"units": "veh"})
        return out

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        import json

        ds["unfinished"] = ds["vehicles_unfinished"].astype(np.int64)
        ds["unfinished"].attrs.update(units="veh", long_name="vehicles still driving at the end")
        ds["never_departed"] = ds["vehicles_never_departed"].astype(np.int64)
        if "vehicles_stranded" in ds:
            ds["stranded"] = ds["vehicles_stranded"].astype(np.int64)
            ds["stranded"].attrs.update(units="veh", long_name="vehicles never inserted after waiting at least 60 s")
        ds["never_departed"].attrs.update(units="veh", long_name="vehicles never inserted (waiting to depart at the end)")
        ds["mean_delay_s"].attrs.update(long_name="mean delay per scheduled vehicle (timeLoss + departDelay; "
                                                  "never-departed wait to the end)")
        if "time" in ds.coords:
            ds["time"].attrs.update(units="s", long_name="start of the interval")
        sc = study.spec
        settings = next((a["settings"] for a in alternatives.values() if a.get("settings")), None)
        ds.attrs.update(scenario_name=sc.name, scenario_hash=sc.spec_hash, scenario_file=str(sc.source_file or ""),
                        adaptive_settings=json.dumps(settings or AdaptiveSettings().__dict__),
                        plans_json=json.dumps({c: a["plans"] for c, a in alternatives.items() if a.get("plans") is not None}),
                        recommendation_json=json.dumps({c: a["recommendation"] for c, a in alternatives.items()
                                                        if a.get("recommendation") is not None}, default=str),
                        delay_definition=DELAY_DEFINITION)
        return ds

    def figures(self, study: Study, ds: xr.Dataset) -> Iterator[tuple[str, Any]]:
        import matplotlib.pyplot as plt

        from ..plots import plot_controller_delay, plot_junction_queues

        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
        plot_controller_delay(ds, ax=axes[0])
        if "queue" in ds:
            best = str(ds["controller"].values[int(np.argmin(ds["mean_delay_s"].mean("seed").values))])
            plot_junction_queues(ds, best, ax=axes[1])
        yield "controllers.png", fig


KIND = SignalsStudy()


def watchdog_limits(study: Any, *, seed: int = 900_000, margin: float = 1.25, slack_veh: float = 5.0,
                    processes: int = 1) -> dict[str, float]:
    """What the program the city runs holds at each junction: the largest queue on its approaches (halting
    vehicles, per output interval) in a run of that program, times ``margin``, plus ``slack_veh``.

    Parameters
    ----------
    study : Study or Scenario
        The signals study (or its scenario).
    seed : int
        SUMO seed of the reference run (a tuning seed, never an evaluation's).
    margin : float
    slack_veh : float, veh
    processes : int

    Returns
    -------
    dict of str to float, veh
        The adaptive controller's watchdog limits (:attr:`AdaptiveSettings.watchdog_limits`).
    """
    from ..study import Study, compare, get_kind

    st = study if isinstance(study, Study) else get_kind("signals").resolve(study)
    ds = compare(st, {"current": controller_payload("fixed")}, seeds=[seed], workers=processes)
    if "queue" not in ds:
        return {}
    peak = ds["queue"].sel(controller="current").max(("seed", "time"))
    return {str(j): float(margin * v + slack_veh) for j, v in zip(peak["junction"].values, peak.values, strict=True)}
