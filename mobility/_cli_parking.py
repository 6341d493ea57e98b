"""``mobility parking compare``: parking guidance strategies measured side by side in SUMO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import CompareOptions, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, WorkdirOpt, WorkersOpt, compare_command, init_command  # noqa: E501
from ._errors import InputError

parking_app = typer.Typer(no_args_is_help=True,
                          help="Parking guidance: compare strategies (none, static, realtime, optimised) in SUMO.")


@parking_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="parking study YAML (scenarios/parking/*.yaml)")],
    strategies: Annotated[str, typer.Option(help="comma-separated: none, static, realtime, optimised")]
        = "none,static,realtime,optimised",
    compliance: Annotated[float | None, typer.Option(help="share of drivers who follow guidance [default: the study's]")]
        = None,
    seeds: SeedsOpt = "5", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run each strategy over the seeds and print one table (mean +/- sd over seeds)."""

    def update(spec):  # noqa: ANN001, ANN202
        if compliance is None:
            return spec
        if not 0 <= compliance <= 1:
            raise InputError(f"--compliance {compliance}: give a share between 0 and 1")
        return spec.model_copy(update={"compliance": compliance})

    compare_command(study, "parking", (strategies, "--strategies"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet),
                    update=update)


@parking_app.command("init")
def init_cmd(
    network: Annotated[Path, typer.Argument(help="the city's network: .net.xml, or an OSM extract")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the study file to write")] = Path("parking.yaml"),
    centre: Annotated[str | None, typer.Option(help="junction id drivers head for [default: the network's middle]")]
        = None,
    force: Annotated[bool, typer.Option(help="overwrite existing files")] = False,
) -> None:
    """Write a parking study and its traffic scenario for NETWORK, with defaults derived from the network."""
    init_command("parking", network, output, centre=centre, force=force)
