"""``mobility parking compare``: parking guidance strategies measured side by side in SUMO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._errors import InputError, MobilityError

parking_app = typer.Typer(no_args_is_help=True,
                          help="Parking guidance: compare strategies (none, static, realtime, optimised) in SUMO.")


@parking_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="parking study YAML (scenarios/parking/*.yaml)")],
    strategies: Annotated[str, typer.Option(help="comma-separated: none, static, realtime, optimised")]
        = "none,static,realtime,optimised",
    seeds: Annotated[str, typer.Option(help="count (5 = seeds 1-5) or list")] = "5",
    compliance: Annotated[float | None, typer.Option(help="share of drivers who follow guidance [default: the study's]")]
        = None,
    workers: Annotated[int, typer.Option(help="simulations in parallel (one process each)")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file")] = None,
    plots: Annotated[Path | None, typer.Option(help="folder for the occupancy, map and search-time figures")] = None,
    table: Annotated[Path | None, typer.Option(help="also write the table as Markdown")] = None,
) -> None:
    """Run each strategy over the seeds and print one table (mean +/- sd over seeds)."""
    from rich.console import Console

    from ._cli_signals import _seeds, _simulate_and_report
    from .cli import _fail
    from .parking import compare_strategies, format_table, load_parking

    console = Console()
    try:
        spec = load_parking(study)
        if compliance is not None:
            if not 0 <= compliance <= 1:
                raise InputError(f"--compliance {compliance}: give a share between 0 and 1")
            spec = spec.model_copy(update={"compliance": compliance})
        names = [s.strip() for s in strategies.split(",") if s.strip()]
        sd = _seeds(seeds)

        def figures(ds):
            from .parking.spec import parking_scenario
            from .plots import (
                plot_parking_map,
                plot_parking_occupancy,
                plot_search_times,
            )

            yield "occupancy.png", plot_parking_occupancy(ds)[0]
            yield "search_times.png", plot_search_times(ds)[0]
            yield "occupancy_map.png", plot_parking_map(ds, parking_scenario(spec)[1])[0]

        _simulate_and_report(
            console, len(names) * len(sd), lambda progress: compare_strategies(spec, names, seeds=sd, workers=workers,
                                                                              progress=progress),
            format_table, output=output, table=table, plots=plots, figures=figures)
    except MobilityError as exc:
        raise _fail(exc) from None
