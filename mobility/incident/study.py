"""Incident response as a study: response plans x seeds in SUMO on one executor, one Dataset, one table.

A study file::

    kind: incident
    name: crash_b1c1
    scenario: ../signal_control/grid3x3.yaml
    incident: {id: crash, edge: B1C1, begin_s: 1800, duration_s: 1800, capacity_left: 0.2}
    responses: [detour_north.yaml]      # response plan files (optional)

The alternatives are ``no_incident`` (the scenario as it is: what the incident adds is measured against it),
``no_response``, ``generated`` (every plan :func:`~mobility.incident.rank.candidate_responses` makes),
response plan files, or, from Python, a mapping of names to :class:`~mobility.incident.response.ResponsePlan`.
``induced_vehicle_hours`` is each run's vehicle-hours less those of ``no_incident`` on the same seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from .._errors import InputError
from .._spec import Spec
from ..study import Column, Study, StudyFileKind
from .spec import IncidentSpec

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["KIND", "IncidentStudy", "IncidentStudySpec"]


class IncidentStudySpec(Spec):
    """An incident response study (see the module docstring).

    Attributes
    ----------
    name : str
    scenario : Path
        The traffic scenario YAML (or ``.sumocfg``), relative to the study file.
    incident : IncidentSpec
    responses : list of Path
        Response plan files, relative to the study file.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    kind: str = Field("incident", pattern="^incident$")
    scenario: Path
    incident: IncidentSpec
    responses: list[Path] = Field(default_factory=list, max_length=200)
    source_file: Path | None = Field(None, exclude=True)


class IncidentStudy(StudyFileKind):
    """Response plans to one incident on one traffic scenario."""

    name = "incident"
    spec_model = IncidentStudySpec
    dim = "response"
    what = "response plans"
    default_alternatives = ("no_incident", "no_response", "generated")
    baseline = "no_response"
    preload = ("mobility.incident.simulate",)
    table = (
        Column("induced_vehicle_hours", "incident veh h", "veh h", "{:.1f}"),
        Column("vehicle_hours", "veh h", "veh h", "{:.1f}"),
        Column("mean_delay_s", "delay s", "s", "{:.1f}"),
        Column("max_queue_veh", "max queue", "veh", "{:.1f}"),
        Column("clearance_s", "clearance s", "s", "{:.0f}"),
        Column("spillback_s", "spill-back s", "s", "{:.0f}"),
        Column("left_over", "left over", "veh", "{:.1f}"),
        Column("guidance_followed", "diverted", "veh", "{:.0f}"),
    )

    def from_dict(self, data: dict[str, Any], *, base_dir: Path, source: str) -> IncidentStudySpec:
        spec = super().from_dict(data, base_dir=base_dir, source=source)
        return spec.model_copy(update={"responses": [p if p.is_absolute() else Path(base_dir) / p
                                                     for p in spec.responses]})

    def read(self, path: Path) -> IncidentStudySpec:
        spec = super().read(path)
        base = Path(path).resolve().parent
        return spec.model_copy(update={"responses": [p if p.is_absolute() else base / p for p in spec.responses]})

    def scenario_of(self, spec: IncidentStudySpec) -> tuple[Any, Any]:
        from ..scenario import load_scenario_with_network
        from .spec import check_incident

        scenario, network = load_scenario_with_network(spec.scenario)
        check_incident(spec.incident, network, scenario, source=str(spec.source_file or spec.name))
        return scenario, network

    def describe(self, study: Study) -> str:
        inc = study.spec.incident
        return (f"incident study {study.name}: scenario {study.scenario.name}, incident {inc.id} on {inc.edge} "
                f"from {inc.begin_s:g} s for {inc.duration_s:g} s, {len(study.spec.responses)} response file(s)")

    def alternatives(self, study: Study, words: Sequence[Any], **options: Any) -> dict[str, Any]:
        from .rank import candidate_responses
        from .response import ResponsePlan, load_response

        out: dict[str, Any] = {}

        def put(name: str, payload: dict[str, Any]) -> None:
            if name in out:
                raise InputError(f"two response plans are called {name!r}; rename one")
            out[name] = payload

        for w in words:
            if isinstance(w, ResponsePlan):
                put(w.id, {"incident": True, "plan": w.model_dump(mode="json")})
            elif str(w) == "no_incident":
                put("no_incident", {"incident": False, "plan": None})
            elif str(w) == "no_response":
                put("no_response", {"incident": True, "plan": None})
            elif str(w) == "generated":
                for p in candidate_responses(study.spec.incident, study.network):
                    if p.id != "no_response":
                        put(p.id, {"incident": True, "plan": p.model_dump(mode="json")})
            else:
                p = Path(str(w))
                if not p.is_file():
                    raise InputError(f"unknown response {w!r}: give no_incident, no_response, generated or a response "
                                     "plan file")
                plan = load_response(p, study.network)
                put(plan.id, {"incident": True, "plan": plan.model_dump(mode="json")})
        if not out:
            raise InputError("give at least one response plan")
        return out

    def run(self, study: Study, alternative: Any, seed: int, workdir: Path) -> xr.Dataset:
        import xarray as xr

        from .response import ResponsePlan
        from .simulate import affected_edges, incident_kpis, priority_kpis, run_incident

        inc = study.spec.incident
        plan = ResponsePlan.model_validate(alternative["plan"]) if alternative.get("plan") else None
        ds = run_incident(study.scenario, inc if alternative.get("incident", True) else None, plan, seed=seed,
                          workdir=workdir)
        kpi = {**incident_kpis(ds, affected_edges(inc, study.network), inc, study.network), **priority_kpis(ds)}
        units = {"vehicle_hours": "veh h", "mean_delay_s": "s", "arrived": "veh", "left_over": "veh",
                 "max_queue_veh": "veh", "guidance_followed": "veh", "emergency_travel_time_s": "s",
                 "emergency_longest_stop_s": "s", "cross_street_delay_s": "s", "preemption_violations": "1",
                 "spillback_s": "s"}
        out = xr.Dataset({k: ((), v, {"units": units[k]}) for k, v in kpi.items()})
        edges = [e for e in affected_edges(inc, study.network) if e in set(ds["edge"].values.tolist())]
        queue = ds["edge_halting"].sel(edge=edges).sum("edge")
        out["queue_veh"] = (("time",), queue.values, {"units": "veh", "long_name": "halting vehicles where the "
                                                     "incident's queue stands, per edge-data interval"})
        return out.assign_coords(time=np.asarray(queue["time"].values, dtype=float))

    def finish(self, study: Study, alternatives: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
        if "no_incident" in ds[self.dim].values:
            calm = {self.dim: "no_incident"}
            ds["induced_vehicle_hours"] = ds["vehicle_hours"] - ds["vehicle_hours"].sel(calm, drop=True)
            # clearance: from the incident's end until its queue is within 2 vehicles of no incident's
            end = max(ev.end_s for ev in study.spec.incident.events())
            t = np.asarray(ds["time"].values, dtype=float)
            step = float(np.median(np.diff(t))) if t.size > 1 else 0.0
            extra = (ds["queue_veh"] - ds["queue_veh"].sel(calm, drop=True)).transpose(self.dim, "seed", "time").values
            late = (extra > 2.0) & (t + step > end)[None, None, :]
            last = np.where(late.any(axis=2), (t + step)[np.argmax(np.cumsum(late, axis=2), axis=2)] - end, 0.0)
            ds["clearance_s"] = ((self.dim, "seed"), np.maximum(last, 0.0),
                                 {"units": "s", "long_name": "from the incident's end until its queue is within 2 "
                                  "vehicles of no incident's (edge-data intervals)"})
        else:
            ds["induced_vehicle_hours"] = ds["vehicle_hours"] * float("nan")
            ds["clearance_s"] = ds["vehicle_hours"] * float("nan")
        ds["induced_vehicle_hours"].attrs.update(units="veh h", long_name="vehicle-hours the incident adds: less "
                                                 "those of no_incident on the same seed")
        ds.attrs.update(incident=study.spec.incident.model_dump_json())
        return ds


KIND = IncidentStudy()
