"""``mobility incident``: check an incident file, and generate, rank, check and recommend responses to it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import (
    CompareOptions,
    OutputOpt,
    PlotsOpt,
    QuietOpt,
    RetriesOpt,
    SchedulerOpt,
    SeedsOpt,
    TableOpt,
    TimeLimitOpt,
    TokenOpt,
    WorkdirOpt,
    WorkersOpt,
    check_publish,
    compare_command,
    fail,
    parse_seeds,
    save_figure,
)
from ._errors import InputError, MobilityError

incident_app = typer.Typer(help="Incidents: check an incident file; rank responses and recommend one.",
                           no_args_is_help=True)


@incident_app.command("check")
def check_cmd(
    incident: Annotated[Path, typer.Argument(help="incident YAML")],
    scenario: Annotated[Path, typer.Option("--scenario", help="the traffic scenario (YAML or .sumocfg)")],
) -> None:
    """Check an incident file against the scenario's network and window."""
    from .incident import load_incident
    from .scenario import load_scenario_with_network

    try:
        sc, net = load_scenario_with_network(scenario)
        inc = load_incident(incident, net, sc)
    except MobilityError as exc:
        raise fail(exc) from None
    for i, ev in enumerate(inc.events()):
        lanes = "all lanes" if ev.lanes is None else f"lanes {ev.lanes}"
        what = "closed" if ev.capacity_left == 0 else f"{ev.capacity_left:.0%} of their capacity left"
        typer.echo(f"{inc.id}{'' if i == 0 else f' (secondary {i})'}: {ev.edge}, {lanes} {what}, from "
                   f"{ev.begin_s:g} s for {ev.duration_s:g} s")


@incident_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="incident study YAML (scenarios/incident/*.yaml)")],
    responses: Annotated[str, typer.Option(help="comma-separated: no_incident, no_response, generated, or response "
                                                "plan files")] = "no_incident,no_response,generated",
    seeds: SeedsOpt = "5", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run each response plan over the seeds in SUMO and print one table (mean +/- sd over seeds); the incident's
    vehicle-hours are each run's less those of no_incident on the same seed."""
    compare_command(study, "incident", (responses, "--responses"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet))


@incident_app.command("respond")
def respond_cmd(
    incident: Annotated[Path, typer.Argument(help="incident YAML")],
    scenario: Annotated[Path, typer.Option("--scenario", help="the traffic scenario (YAML or .sumocfg)")],
    top: Annotated[int, typer.Option(min=1, max=50, help="plans the engine ranks best that SUMO checks")] = 3,
    seeds: Annotated[str, typer.Option(help="SUMO seeds the best plan is chosen on: a count (3 = 1,2,3) or a "
                                             "list")] = "3",
    check_seeds: Annotated[str, typer.Option("--check-seeds", help="other seeds it must also beat no response "
                                             "on (a list)")] = "101,102",
    workers: Annotated[int, typer.Option(min=1, max=256, help="SUMO runs at once")] = 2,
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the ranking, the recommended plan "
                                         "and the figure")] = Path("response"),
    publish: Annotated[str | None, typer.Option(help="submit the recommended plan as a draft to the plan service "
                                                     "at this URL")] = None,
    token: TokenOpt = None,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="ISO 8601 time the plan may be put in "
                                                   "force from (default: now); it stays valid for the incident's "
                                                   "duration")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Generate responses to an incident, rank them on the dynamic engine in seconds, check the best in SUMO and
    recommend one only if it beats no response on seeds it was not chosen on. Writes ``ranking.csv``,
    ``response_plan.json`` (the recommendation) and ``ranking.png`` in ``--output``; with ``--publish URL`` the
    recommendation goes to the plan service as a draft for approval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._io import atomic_path
    from .incident import load_incident
    from .incident.respond import plot_incident_queues, plot_response_ranking, ranking_table, respond
    from .scenario import load_scenario_with_network

    say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        check_publish(publish, token)
        start = _valid_from(valid_from) if publish else None
        choose, check = parse_seeds(seeds), parse_seeds(check_seeds if "," in check_seeds else check_seeds + ",")
        if output.exists() and not output.is_dir():
            raise InputError(f"--output {output}: a file is there; give a folder")
        output.mkdir(parents=True, exist_ok=True)
        sc, net = load_scenario_with_network(scenario)
        inc = load_incident(incident, net, sc)
        rec = respond(scenario, inc, network=net, top=top, seeds=choose, check_seeds=check, workers=workers,
                      progress=say)
        table = ranking_table(rec)
        with atomic_path(output / "ranking.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.3f")
        with atomic_path(output / "response_plan.json") as tmp:
            tmp.write_text(rec.plan.to_json() + "\n")
        fig, _ = plot_response_ranking(table)
        save_figure(fig, output / "ranking.png")
        plt.close(fig)
        fig, _ = plot_incident_queues(rec)
        save_figure(fig, output / "queues.png")
        plt.close(fig)
        _worst_moment(rec, net, output / "worst_moment.png")
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"recommended: {rec.plan.id} — {rec.reason}")
    typer.echo(f"engine ranking {rec.seconds['rank']:.1f} s, SUMO checks {rec.seconds['sumo']:.0f} s; "
               f"written in {output}: ranking.csv, response_plan.json, ranking.png, queues.png, worst_moment.png")
    if publish:
        if rec.confirmed is None or rec.plan.id == "no_response":
            typer.echo("nothing submitted: no plan beat no response")
            return
        try:
            d = _submit(publish, token or "", rec, sc, inc, start, check)
        except MobilityError as exc:
            raise fail(exc) from None
        typer.echo(f"submitted {rec.plan.id} as draft version {d['version']}: "
                   f"{publish.rstrip('/')}/responses/{d['response']}/versions/{d['version']}")


def _worst_moment(rec: Any, net: Any, path: Path) -> None:
    """The network coloured by the engine's density when the incident's queue is longest without a response."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .plots import plot_network

    ds = rec.engine["no_response"]
    q = ds["queue_veh"].sel(edge=[e for e in rec.edges if e in set(ds["edge"].values.tolist())]).sum("edge").values
    k = int(np.argmax(q))
    fig, ax = plot_network(net, ds["density_veh_km"].isel(time=k), label="density [veh/km]")
    ax.set_title(f"no response, {float(ds['time'].values[k]) / 60:.0f} min: the incident's longest queue")
    save_figure(fig, path)
    plt.close(fig)


def _valid_from(text: str | None) -> str:
    """``--valid-from`` checked (ISO 8601), or now."""
    import datetime as dt

    if text is None:
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--valid-from {text!r}: not an ISO 8601 time (e.g. 2026-12-07T08:05:00Z)") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")


def _submit(url: str, token: str, rec: Any, sc: Any, inc: Any, start: str | None, check: list[int]) -> dict[str, Any]:
    """Submit the recommended plan with the KPIs of its check seeds."""
    import datetime as dt

    from .provenance import record
    from .service.client import PlanClient, ServiceError

    c = rec.confirmed["induced_vehicle_hours"].mean("seed")
    kpis = {"induced_vehicle_hours": float(c.sel(response=rec.plan.id)),
            "no_response_induced_vehicle_hours": float(c.sel(response="no_response"))}
    provenance = {"scenario_hash": sc.spec_hash, "scenario_name": sc.name, "incident": inc.id,
                  **record(spec_hash=sc.spec_hash, seeds=check)}
    t0 = dt.datetime.fromisoformat(start or _valid_from(None))
    t1 = t0 + dt.timedelta(seconds=inc.duration_s)
    with PlanClient(url, token) as client:
        try:
            return client.submit_response(rec.plan, t0.isoformat(), t1.isoformat(), kpis, provenance,
                                          comment=f"mobility incident respond: {rec.reason}")
        except ServiceError as exc:
            raise InputError(f"--publish {url}: {exc}") from None


def register(app: typer.Typer) -> None:
    """Add the ``incident`` commands to ``app``."""
    app.add_typer(incident_app, name="incident")
