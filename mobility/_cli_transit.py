"""``mobility transit``: transit signal priority options and taxi dispatchers measured side by side in SUMO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import CompareOptions, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, WorkdirOpt, WorkersOpt, compare_command  # noqa: E501
from ._errors import InputError, MobilityError

transit_app = typer.Typer(no_args_is_help=True,
                          help="Buses and taxis: compare transit signal priority options, taxi dispatchers, fleet sizes.")


@transit_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="transit study YAML (scenarios/transit/*_bus.yaml)")],
    priority: Annotated[str, typer.Option(help="comma-separated: none, extension, early-green, both, conditional")]
        = "none,extension,early-green,conditional",
    controller: Annotated[str | None, typer.Option(
        help="signal controller priority works with: fixed, actuated, greedy, maxpressure, adaptive, optimised "
             "[default: the study's]")] = None,
    seeds: SeedsOpt = "5", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run each priority option over the seeds and print one table (mean +/- sd over seeds)."""

    def update(spec):  # noqa: ANN001, ANN202
        if controller is None:
            return spec
        from .signals.control import CONTROLLERS

        if controller not in CONTROLLERS or controller == "webster":
            raise InputError(f"--controller {controller!r}: choose fixed, actuated, greedy, maxpressure, adaptive or optimised")
        return spec.model_copy(update={"controller": controller})

    compare_command(study, "transit", (priority, "--priority"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet),
                    update=update)


@transit_app.command("taxi")
def taxi_cmd(
    study: Annotated[Path, typer.Argument(help="taxi study YAML (scenarios/transit/*_taxi.yaml)")],
    dispatchers: Annotated[str, typer.Option(help="comma-separated: greedy, greedyClosest, greedyShared, "
                                                  "routeExtension, assignment")]
        = "greedy,greedyClosest,greedyShared,routeExtension,assignment",
    seeds: SeedsOpt = "5", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run each dispatch algorithm over the seeds and print one table (mean +/- sd over seeds)."""
    compare_command(study, "taxi", (dispatchers, "--dispatchers"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet))


@transit_app.command("fleet-size")
def fleet_cmd(
    study: Annotated[Path, typer.Argument(help="taxi study YAML")],
    dispatcher: Annotated[str, typer.Option(help="dispatch algorithm")] = "assignment",
    sizes: Annotated[str | None, typer.Option(help="comma-separated fleet sizes [default: the study's sizes]")] = None,
    target: Annotated[float | None, typer.Option(help="mean wait target, s [default: the study's]")] = None,
    seeds: SeedsOpt = "3", workers: WorkersOpt = 2,
) -> None:
    """Sweep fleet sizes and print the smallest whose mean wait meets the target."""
    from ._cli_common import fail, parse_seeds, split_words
    from .study import load_study
    from .transit.taxi import fleet_size_sweep, smallest_fleet

    try:
        st = load_study(study, kind="taxi")
        ns = [int(x) for x in split_words(sizes, option="--sizes")] if sizes else None
        ds = fleet_size_sweep(st, dispatcher, sizes=ns, seeds=parse_seeds(seeds), workers=workers)
        goal = target if target is not None else st.spec.waiting_target_s
        for n in ds["fleet"].values:
            d = ds.sel(fleet=n)
            typer.echo(f"{int(n):5d} taxis: mean wait {float(d['mean_waiting_s'].mean()):6.0f} s, p95 "
                       f"{float(d['p95_waiting_s'].mean()):6.0f} s, unserved {float(d['unserved'].mean()):5.1f}")
        best = smallest_fleet(ds, goal)
        typer.echo(f"smallest fleet meeting a {goal:g} s mean wait: {best if best is not None else 'none of these sizes'}")
    except ValueError as exc:
        raise fail(InputError(f"--sizes: {exc}; give whole numbers")) from None
    except MobilityError as exc:
        raise fail(exc) from None
