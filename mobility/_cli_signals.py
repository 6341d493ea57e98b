"""``mobility signals ...``: compare controllers, optimise plans, validate plan files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import CompareOptions, figure_path, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, WorkdirOpt, WorkersOpt, compare_command, fail, progress_bar, save_figure, split_words, writable  # noqa: E501
from ._errors import InputError, MobilityError

signals_app = typer.Typer(no_args_is_help=True, help="Signal control: evaluate controllers, optimise and check plans.")


def _no_teleport(teleport: bool):  # noqa: ANN202
    """The scenario update of ``--no-teleport`` (the default, as RESCO): jammed vehicles are never teleported."""
    def update(sc):  # noqa: ANN001, ANN202
        return sc if teleport else sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
    return update


@signals_app.command("compare")
def compare_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    controllers: Annotated[str, typer.Option(help="comma-separated: fixed,actuated,webster,greedy,maxpressure,adaptive (recommended),optimised")]
    = "fixed,actuated,maxpressure,adaptive,optimised",
    teleport: Annotated[bool, typer.Option(help="let SUMO teleport jammed vehicles (default: never, as RESCO)")] = False,
    min_green_s: Annotated[float, typer.Option(min=1.0, max=300.0, help="adaptive controllers' minimum green, s")] = 10.0,
    seeds: SeedsOpt = "5", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run signal controllers over seeds and compare their delay, queues and throughput."""
    from .signals.control import AdaptiveSettings

    compare_command(scenario, "signals", (controllers, "--controllers"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet),
                    update=_no_teleport(teleport), settings=AdaptiveSettings(min_green_s=min_green_s), plan_workers=workers)


@signals_app.command("evaluate")
def evaluate_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    controllers: Annotated[str, typer.Option(help="comma-separated: fixed,actuated,webster,greedy,maxpressure,adaptive (recommended),optimised")]
    = "fixed,actuated,maxpressure,adaptive,optimised",
    seeds: Annotated[str, typer.Option(help="number of seeds (1..N) or a comma-separated list")] = "5",
    processes: Annotated[int, typer.Option(min=1, help="simulations run in parallel (one process each)")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="netCDF file with dims controller and seed")] = None,
    plot: Annotated[Path | None, typer.Option(help="figure: delay by controller and queues over time")] = None,
    teleport: Annotated[bool, typer.Option(help="let SUMO teleport jammed vehicles (default: never, as RESCO)")] = False,
    min_green_s: Annotated[float, typer.Option(min=1.0, max=300.0, help="adaptive controllers' minimum green, s")] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """``mobility signals compare`` under its older name and options (``--processes`` is ``--workers``;
    ``--plot FILE`` writes the one figure that ``--plots DIR`` writes as ``controllers.png``)."""
    from .signals.control import AdaptiveSettings
    from .signals.study import KIND

    try:
        words = split_words(controllers, option="--controllers")
        figure_path(plot)
    except MobilityError as exc:
        raise fail(exc) from None
    ds = compare_command(scenario, "signals", words,
                         CompareOptions(seeds, processes, output, None, None, None, None, 1, None, quiet),
                         update=_no_teleport(teleport), settings=AdaptiveSettings(min_green_s=min_green_s),
                         plan_workers=processes)
    if plot is not None:
        import matplotlib.pyplot as plt

        try:
            for _, fig in KIND.figures(None, ds):  # type: ignore[arg-type]
                save_figure(fig, plot)
                plt.close(fig)
        except MobilityError as exc:
            raise fail(exc) from None


@signals_app.command("optimise")
def optimise_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file stem: writes STEM.json and STEM.add.xml")] = Path("plans"),
    method: Annotated[str, typer.Option(help="optimised (CP-SAT, refined in SUMO) or webster")] = "optimised",
    refine: Annotated[bool, typer.Option(help="measure candidate plans in SUMO and keep the best")] = True,
    processes: Annotated[int, typer.Option(help="simulations run in parallel while refining")] = 2,
    time_limit_s: Annotated[float, typer.Option(help="CP-SAT time limit per model, s")] = 10.0,
    publish: Annotated[str | None, typer.Option(help="submit the plans as drafts to the plan service at this URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="MOBILITY_TOKEN", help="bearer token with plans:draft "
                                              "(or the MOBILITY_TOKEN environment variable)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Recommend fixed-time plans for a scenario; write them as JSON and as a SUMO additional file.

    With ``--publish URL`` each plan is also submitted to the command-centre plan service as a draft,
    with the KPIs measured in SUMO and the run's provenance; an approver then reviews it there.
    """
    from rich.console import Console
    from rich.table import Table

    from .scenario import load_scenario
    from .signals.evaluate import recommend_plans
    from .signals.timing import optimise_plans, webster_plans, write_plan_files

    console = Console()
    try:
        if method not in ("optimised", "webster"):
            raise InputError(f"--method must be optimised or webster, got {method!r}")
        if publish and not token:
            raise InputError("--publish needs a token with plans:draft: --token or the MOBILITY_TOKEN environment variable")
        writable(output)
        sc = load_scenario(scenario)
        sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
        if method == "webster":
            plans = webster_plans(sc)
        elif refine:
            if quiet:
                plans = recommend_plans(sc, processes=processes, time_limit_s=time_limit_s)
            else:
                with progress_bar(console) as bar:
                    task = bar.add_task(f"{sc.name}: refining in SUMO", total=None, last="")
                    plans = recommend_plans(sc, processes=processes, time_limit_s=time_limit_s,
                                            progress=lambda n, total, label: bar.update(task, completed=n, total=total, last=label))
        else:
            plans = optimise_plans(sc, time_limit_s=time_limit_s)
        js, xml = write_plan_files(plans, output)
    except MobilityError as exc:
        raise fail(exc) from None
    t = Table(title=f"{sc.name}: {method} plans")
    for col in ("junction", "plan", "cycle (s)", "offset (s)", "greens (s)", "model status", "gap"):
        t.add_column(col)
    for p in plans:
        m = p.metadata
        t.add_row(p.junction, p.plan_id, f"{p.cycle_s:.1f}", f"{p.offset_s:.1f}", " ".join(f"{st.green_s:g}" for st in p.stages),
                  str(m.get("status", "-")), f"{m['gap']:.2%}" if "gap" in m else "-")
    console.print(t)
    ref = plans[0].metadata.get("refinement") if plans else None
    if ref:
        console.print("measured in SUMO (tuning seeds " + ", ".join(map(str, ref["tuning_seeds"])) + "): " +
                      ", ".join(f"{c['candidate']} {c['mean_delay_s']:.1f} s" for c in ref["candidates"]) +
                      f"; chosen {ref['chosen']}; the network's current plans: {ref['current_mean_delay_s']:.1f} s "
                      f"({ref['improvement_vs_current']:+.0%} saved)")
    console.print(f"plans: {js} and {xml}")
    if publish:
        try:
            kpis, provenance = _measured(sc, plans, method, processes)
            docs = _submit(publish, token or "", plans, kpis, provenance, comment=f"mobility signals optimise {scenario}")
        except MobilityError as exc:
            raise fail(exc) from None
        for d in docs:
            console.print(f"submitted {d['junction']} plan {d['name']} as draft version {d['version']}: "
                          f"{publish.rstrip('/')}/plans/{d['plan']}/versions/{d['version']}")


def _measured(sc: Any, plans: list[Any], method: str, processes: int) -> tuple[dict[str, float], dict[str, Any]]:
    """KPIs of ``plans`` on the tuning seeds (from the refinement when it measured them) and provenance."""
    from .provenance import record
    from .signals.evaluate import TUNING_SEED_BASE, evaluate

    ref = plans[0].metadata.get("refinement") if plans else None
    if ref:
        seeds = list(ref["tuning_seeds"])
        kpis = {"mean_delay_s": float(ref["measured_mean_delay_s"]), "current_mean_delay_s": float(ref["current_mean_delay_s"]),
                "improvement_vs_current": float(ref["improvement_vs_current"])}
    else:
        seeds = [TUNING_SEED_BASE, TUNING_SEED_BASE + 1]
        ds = evaluate(sc, [method, "fixed"], seeds=seeds, processes=processes, plans={method: list(plans)})
        d, cur = (float(ds["mean_delay_s"].sel(controller=c).mean()) for c in (method, "fixed"))
        kpis = {"mean_delay_s": d, "current_mean_delay_s": cur, "improvement_vs_current": 1.0 - d / cur if cur > 0 else 0.0,
                "never_departed": float(ds["never_departed"].sel(controller=method).mean())}
    provenance = {"scenario_hash": sc.spec_hash, "scenario_name": sc.name, "scenario_file": str(sc.source_file or ""),
                  "method": method, **record(spec_hash=sc.spec_hash, seeds=seeds)}
    return kpis, provenance


def _submit(url: str, token: str, plans: list[Any], kpis: dict[str, float], provenance: dict[str, Any],
            comment: str) -> list[dict[str, Any]]:
    from .service.client import PlanClient, ServiceError

    with PlanClient(url, token) as client:
        try:
            return client.submit_all(plans, kpis, provenance, comment=comment)
        except ServiceError as exc:
            raise InputError(f"--publish {url}: {exc}") from None


@signals_app.command("validate")
def validate_cmd(
    plans: Annotated[Path, typer.Argument(help="plans JSON (mobility signals optimise) or SUMO additional/network file")],
    network: Annotated[Path, typer.Option("--network", "-n", help="SUMO network the plans are for")],
) -> None:
    """Check plans against the safety rules (conflicts, yellow, minimum green, cycle, offset, coverage, one plan
    in force per junction at a time)."""
    from rich.console import Console

    from .signals import load_plans, plans_from_sumo, signal_models, validate_plan
    from .signals.safety import overlapping_plans

    try:
        items = load_plans(plans) if plans.suffix == ".json" else plans_from_sumo(plans)
        models = signal_models(network)
        problems = []
        for p in items:
            if p.junction not in models:
                raise InputError(f"{plans}: plan {p.plan_id} is for junction {p.junction!r}, which has no traffic light in {network}")
            problems += validate_plan(p, models[p.junction])
        problems += overlapping_plans(items)
    except MobilityError as exc:
        raise fail(exc) from None
    console = Console()
    if problems:
        for v in problems:
            console.print(f"[red]unsafe[/] {v.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"ok: {len(items)} plan(s) safe for {network}")
