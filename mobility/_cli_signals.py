"""``mobility signals ...``: compare controllers, optimise plans, validate plan files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import CompareOptions, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, TokenOpt, WorkdirOpt, WorkersOpt, check_publish, compare_command, fail, figure_path, progress_bar, save_figure, split_words, writable  # noqa: E501
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
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file or SUMO configuration (.sumocfg)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file stem: writes STEM.json and STEM.add.xml")] = Path("plans"),
    method: Annotated[str, typer.Option(help="optimised (actuated-coordinated plans checked against the current "
                                              "program), fixed-time (CP-SAT, refined in SUMO) or webster")] = "optimised",
    refine: Annotated[bool, typer.Option(help="measure candidate plans in SUMO and keep the best")] = True,
    processes: Annotated[int, typer.Option(min=1, max=4096, help="simulations run in parallel while refining")] = 2,
    time_limit_s: Annotated[float, typer.Option(min=0.1, max=3600, help="CP-SAT time limit per model, s")] = 10.0,
    publish: Annotated[str | None, typer.Option(help="submit the plans as drafts to the plan service at this URL")] = None,
    token: TokenOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Recommend signal plans for a scenario; write them as JSON and as a SUMO additional file.

    By default (``optimised``) the plans are actuated-coordinated timing sheets, chosen in SUMO among
    candidates that always include the program the scenario runs and SUMO's default actuated control, and
    recommended only where they also beat the current program on seeds they were not chosen on; elsewhere
    the current program stays and the output says why. With ``--publish URL`` each recommended plan is
    submitted to the command-centre plan service as a draft, with its measured KPIs and provenance.
    """
    from rich.console import Console
    from rich.table import Table

    from .scenario import load_scenario
    from .signals.actuated import actuated_from, recommend_actuated
    from .signals.current import current_plans
    from .signals.evaluate import recommend_plans
    from .signals.safety import signal_models
    from .signals.timing import optimise_plans, webster_plans

    console = Console()
    try:
        if method not in ("optimised", "fixed-time", "webster"):
            raise InputError(f"--method must be optimised, fixed-time or webster, got {method!r}")
        check_publish(publish, token)
        writable(output)
        sc = load_scenario(scenario)
        sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
        kw: dict[str, Any] = {"processes": processes, "time_limit_s": time_limit_s}
        if method == "webster":
            plans = webster_plans(sc, base=current_plans(sc))
        elif not refine:
            fixed = optimise_plans(sc, base=current_plans(sc), time_limit_s=time_limit_s)
            plans = fixed if method == "fixed-time" else actuated_from(fixed, signal_models(sc.network))
        else:
            run = recommend_actuated if method == "optimised" else recommend_plans
            if quiet:
                plans = run(sc, **kw)
            else:
                with progress_bar(console) as bar:
                    task = bar.add_task(f"{sc.name}: measuring candidates in SUMO", total=None, last="")
                    plans = run(sc, **kw, progress=lambda n, total, label: bar.update(task, completed=n, total=total,
                                                                                       last=label))
        from .signals import plans_to_sumo, save_plans

        deploy = [p for p in plans if not p.metadata.get("kept_current")]
        js = save_plans(plans, output.with_name(output.name + ".json"))  # every junction, the kept ones flagged
        xml = None
        if deploy:  # what SUMO runs: the recommended plans (the kept junctions run the scenario's own program)
            xml = output.with_name(output.name + ".add.xml")
            plans_to_sumo(deploy, xml, provenance="mobility signal plans")
    except MobilityError as exc:
        raise fail(exc) from None
    t = Table(title=f"{sc.name}: {method} plans")
    for col in ("junction", "plan", "kind", "cycle (s)", "offset (s)", "greens (s)", "decision"):
        t.add_column(col)
    for p in plans:
        m = p.metadata
        t.add_row(p.junction, p.plan_id, p.kind, f"{p.cycle_s:.1f}", f"{p.offset_s:.1f}",
                  " ".join(f"{st.green_s:g}" for st in p.stages),
                  "current program kept" if m.get("kept_current") else "recommended")
    console.print(t)
    rec = plans[0].metadata.get("recommendation") if plans else None
    if rec:
        cands = ", ".join(f"{n} {c['mean_delay_s']:.1f} s [{c['stranded']:g}]" for n, c in rec["candidates"].items())
        console.print(f"measured in SUMO on the training seeds {rec['training_seeds']} (mean delay [stranded]): "
                      f"{cands}; chosen {rec['chosen']}", highlight=False, markup=False)
        if "check" in rec:
            chk = ", ".join(f"{n} {c['mean_delay_s']:.1f} s [{c['stranded']:g}]" for n, c in rec["check"].items())
            console.print(f"checked on the seeds {rec['check_seeds']}: {chk}", highlight=False, markup=False)
        if rec["decision"] == "kept":
            console.print(f"the current program stays: {rec['reason']}", highlight=False, markup=False)
        else:
            console.print(f"recommended: {100 * rec['improvement_vs_current']:.0f}% less delay than the current program "
                          "on the check seeds", highlight=False)
    ref = plans[0].metadata.get("refinement") if plans else None
    if ref:
        console.print("measured in SUMO (tuning seeds " + ", ".join(map(str, ref["tuning_seeds"])) + "): " +
                      ", ".join(f"{c['candidate']} {c['mean_delay_s']:.1f} s" for c in ref["candidates"]) +
                      f"; chosen {ref['chosen']}; the network's current plans: {ref['current_mean_delay_s']:.1f} s "
                      f"({ref['improvement_vs_current']:+.0%} saved)")
    console.print(f"plans: {js}" + (f" and {xml}" if xml else " (no plan to deploy: the current program stays)"))
    if publish:
        if not deploy:
            console.print("nothing submitted: every junction keeps its current program")
            return
        try:
            kpis, provenance = _measured(sc, deploy, method, processes)
            docs = _submit(publish, token or "", deploy, kpis, provenance, comment=f"mobility signals optimise {scenario}")
        except MobilityError as exc:
            raise fail(exc) from None
        for d in docs:
            console.print(f"submitted {d['junction']} plan {d['name']} as draft version {d['version']}: "
                          f"{publish.rstrip('/')}/plans/{d['plan']}/versions/{d['version']}")


def _measured(sc: Any, plans: list[Any], method: str, processes: int) -> tuple[dict[str, float], dict[str, Any]]:
    """KPIs of ``plans`` on the seeds they were checked on (from the recommendation or refinement when it measured
    them) and provenance."""
    from .provenance import record
    from .signals.evaluate import TUNING_SEED_BASE, evaluate

    rec = plans[0].metadata.get("recommendation") if plans else None
    ref = plans[0].metadata.get("refinement") if plans else None
    if rec and "check" in rec:
        seeds = list(rec["check_seeds"])
        new, cur = rec["check"][rec["chosen"]], rec["check"]["current"]
        kpis = {"mean_delay_s": float(new["mean_delay_s"]), "current_mean_delay_s": float(cur["mean_delay_s"]),
                "improvement_vs_current": float(rec["improvement_vs_current"]),
                "stranded": float(new["stranded"]), "current_stranded": float(cur["stranded"])}
    elif ref:
        seeds = list(ref["tuning_seeds"])
        kpis = {"mean_delay_s": float(ref["measured_mean_delay_s"]), "current_mean_delay_s": float(ref["current_mean_delay_s"]),
                "improvement_vs_current": float(ref["improvement_vs_current"])}
    else:
        seeds = [TUNING_SEED_BASE, TUNING_SEED_BASE + 1]
        name = "measured"
        ds = evaluate(sc, [name, "fixed"], seeds=seeds, processes=processes, plans={name: list(plans)})
        d, cur = (float(ds["mean_delay_s"].sel(controller=c).mean()) for c in (name, "fixed"))
        kpis = {"mean_delay_s": d, "current_mean_delay_s": cur, "improvement_vs_current": 1.0 - d / cur if cur > 0 else 0.0,
                "never_departed": float(ds["never_departed"].sel(controller=name).mean())}
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
