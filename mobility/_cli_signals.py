"""``mobility signals ...``: evaluate controllers, optimise plans, validate plan files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._errors import InputError, MobilityError

signals_app = typer.Typer(no_args_is_help=True, help="Signal control: evaluate controllers, optimise and check plans.")


def _fail(exc: BaseException) -> typer.Exit:
    from .cli import _fail as fail  # the main CLI's one-line error, exit code 2

    return fail(exc)


def _writable(*paths: Path | None) -> None:
    for p in paths:
        if p is not None and not (p.parent if str(p.parent) else Path(".")).is_dir():
            raise InputError(f"cannot write {p}: folder {p.parent} does not exist; create it first")


def _seeds(text: str) -> list[int]:
    """``5`` -> seeds 1..5; ``3,7,9`` -> those seeds."""
    try:
        if "," in text:
            seeds = [int(x) for x in text.split(",") if x.strip()]
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = list(range(1, n + 1))
    except ValueError:
        raise InputError(f"--seeds {text!r}: give a count (5 runs seeds 1-5) or a list (1,2,3)") from None
    return seeds


def _simulate_and_report(console: Any, total: int, run: Any, fmt: Any, *, output: Any, table: Any,
                         plots: Any = None, figures: Any = None) -> Any:
    """``run(progress)`` under a progress bar of ``total`` runs; the Dataset saved to ``output``, the table
    (``fmt(ds)``) to ``table`` when given, and the ``(file name, figure)`` pairs that ``figures(ds)`` yields into
    the folder ``plots``. Prints the table and where the results went; returns the Dataset."""
    import matplotlib.pyplot as plt

    from ._io import write_text_atomic
    from .cli import _save_figure
    from .results import save_results

    with _progress_bar(console) as bar:
        task = bar.add_task("simulating", total=total, last="")
        ds = run(lambda i, n, what: bar.update(task, completed=i, last=what))
    if output is not None:
        save_results(ds, output)
    text = fmt(ds)
    if table is not None:
        write_text_atomic(table, text + "\n")
    if plots is not None and figures is not None:
        plots.mkdir(parents=True, exist_ok=True)
        for name, fig in figures(ds):
            _save_figure(fig, plots / name)
            plt.close(fig)
    typer.echo(text)
    if output is not None:
        console.print(f"results: {output}")
    return ds


def _progress_bar(console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


@signals_app.command("evaluate")
def evaluate_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    controllers: Annotated[str, typer.Option(help="comma-separated: fixed,actuated,webster,greedy,maxpressure,optimised")]
    = "fixed,actuated,webster,greedy,maxpressure,optimised",
    seeds: Annotated[str, typer.Option(help="number of seeds (1..N) or a comma-separated list")] = "5",
    processes: Annotated[int, typer.Option(help="simulations run in parallel (one process each)")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="netCDF file with dims controller and seed")] = None,
    plot: Annotated[Path | None, typer.Option(help="figure: delay by controller and queues over time")] = None,
    teleport: Annotated[bool, typer.Option(help="let SUMO teleport jammed vehicles (default: never, as RESCO)")] = False,
    min_green_s: Annotated[float, typer.Option(help="adaptive controllers' minimum green, s")] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run signal controllers over seeds and compare their delay, queues and throughput."""
    from rich.console import Console
    from rich.table import Table

    from .scenario import load_scenario
    from .signals.control import AdaptiveSettings
    from .signals.evaluate import evaluate, summary_table

    console = Console()
    try:
        if output is not None and output.suffix != ".nc":
            raise InputError(f"--output {output}: results are netCDF; use a .nc file name")
        _writable(output, plot)
        sc = load_scenario(scenario)
        if not teleport:
            sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
        names = [c.strip() for c in controllers.split(",") if c.strip()]
        seed_list = _seeds(seeds)
        settings = AdaptiveSettings(min_green_s=min_green_s)
        if quiet:
            ds = evaluate(sc, names, seeds=seed_list, processes=processes, settings=settings)
        else:
            with _progress_bar(console) as bar:
                task = bar.add_task(f"{sc.name}: simulations", total=None, last="")
                ds = evaluate(sc, names, seeds=seed_list, processes=processes, settings=settings,
                              progress=lambda n, total, label: bar.update(task, completed=n, total=total, last=label))
        ds.attrs["command"] = " ".join(["mobility", *sys.argv[1:]])
        if output is not None:
            from .results import save_results

            save_results(ds, output)
        if plot is not None:
            _evaluation_figure(ds, plot)
    except MobilityError as exc:
        raise _fail(exc) from None
    t = Table(title=f"{sc.name}: {len(seed_list)} seeds (mean; delay ± sd over seeds)")
    for col in ("controller", "mean delay (s)", "trip time (s)", "waiting (s)", "queue (veh)", "throughput (veh/h)",
                "unfinished", "never departed"):
        t.add_column(col, justify="left" if col == "controller" else "right", no_wrap=col == "controller")
    for r in summary_table(ds):
        t.add_row(r["controller"], f"{r['mean_delay_s']:.1f} ± {r['mean_delay_sd_s']:.1f}", f"{r['mean_travel_time_s']:.1f}",
                  f"{r['mean_waiting_time_s']:.1f}", f"{r['mean_queue_veh']:.1f}", f"{r['throughput_veh_h']:.0f}",
                  f"{r['unfinished']:.1f}", f"{r['never_departed']:.1f}")
    console.print(t)
    if output is not None:
        console.print(f"results: {output}")


def _evaluation_figure(ds: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .cli import _save_figure
    from .plots import plot_controller_delay, plot_junction_queues

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), layout="constrained")
    plot_controller_delay(ds, ax=axes[0])
    if "queue" in ds:
        import numpy as np

        best = str(ds["controller"].values[int(np.argmin(ds["mean_delay_s"].mean("seed").values))])
        plot_junction_queues(ds, best, ax=axes[1])
    _save_figure(fig, path)
    plt.close(fig)


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
        _writable(output)
        sc = load_scenario(scenario)
        sc = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})
        if method == "webster":
            plans = webster_plans(sc)
        elif refine:
            if quiet:
                plans = recommend_plans(sc, processes=processes, time_limit_s=time_limit_s)
            else:
                with _progress_bar(console) as bar:
                    task = bar.add_task(f"{sc.name}: refining in SUMO", total=None, last="")
                    plans = recommend_plans(sc, processes=processes, time_limit_s=time_limit_s,
                                            progress=lambda n, total, label: bar.update(task, completed=n, total=total, last=label))
        else:
            plans = optimise_plans(sc, time_limit_s=time_limit_s)
        js, xml = write_plan_files(plans, output)
    except MobilityError as exc:
        raise _fail(exc) from None
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
            raise _fail(exc) from None
        for d in docs:
            console.print(f"submitted {d['junction']} plan {d['name']} as draft version {d['version']}: "
                          f"{publish.rstrip('/')}/plans/{d['plan']}/versions/{d['version']}")


def _measured(sc: Any, plans: list[Any], method: str, processes: int) -> tuple[dict[str, float], dict[str, Any]]:
    """KPIs of ``plans`` on the tuning seeds (from the refinement when it measured them) and provenance."""
    from .results import _toolkit_version
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
    from ._sumo import installed_versions

    provenance = {"scenario_hash": sc.spec_hash, "scenario_name": sc.name, "scenario_file": str(sc.source_file or ""),
                  "seeds": seeds, "method": method,
                  "toolkit_version": _toolkit_version(), "sumo_version": installed_versions().get("eclipse-sumo") or "unknown"}
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
    """Check plans against the safety rules (conflicts, yellow, minimum green, cycle, offset, coverage)."""
    from rich.console import Console

    from .signals import load_plans, plans_from_sumo, signal_models, validate_plan

    try:
        items = load_plans(plans) if plans.suffix == ".json" else plans_from_sumo(plans)
        models = signal_models(network)
        problems = []
        for p in items:
            if p.junction not in models:
                raise InputError(f"{plans}: plan {p.plan_id} is for junction {p.junction!r}, which has no traffic light in {network}")
            problems += validate_plan(p, models[p.junction])
    except MobilityError as exc:
        raise _fail(exc) from None
    console = Console()
    if problems:
        for v in problems:
            console.print(f"[red]unsafe[/] {v.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"ok: {len(items)} plan(s) safe for {network}")
