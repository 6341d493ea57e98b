"""``mobility tolling compare|optimise``: toll plazas in SUMO and the booth mix by time of day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import CompareOptions, figure_path, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, WorkdirOpt, WorkersOpt, compare_command, fail, parse_seeds, save_figure  # noqa: E501
from ._errors import InputError, MobilityError

tolling_app = typer.Typer(no_args_is_help=True, help="ETC toll plazas: simulate, compare booth mixes, optimise the schedule.")


def _table(ds: Any, title: str) -> None:
    """Mean delay per period for each mix (the operator's view of a schedule)."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    t.add_column("period")
    t.add_column("flow (veh/h)")
    for m in ds["mix"].values:
        t.add_column(f"{m} delay (s)")
    for k in range(ds.sizes["period"]):
        start = float(ds["period_start_s"][k])
        row = [f"{start / 3600:05.2f} h", f"{float(ds['period_flow_veh_h'][k]):.0f}"]
        row += [f"{float(ds['period_delay_s'].sel(mix=m).isel(period=k).mean()):.1f}" for m in ds["mix"].values]
        t.add_row(*row)
    t.add_row("day", "", *[f"{float(ds['delay_s'].sel(mix=m).mean()):.1f} ± {float(ds['delay_s'].sel(mix=m).std()):.1f}"
                           for m in ds["mix"].values])
    Console().print(t)


def _penetration_figure(plaza: Path, seeds: str, workers: int, path: Path) -> None:
    from .plots import plot_delay_vs_penetration
    from .tolling import load_plaza
    from .tolling.compare import penetration_curve

    spec = load_plaza(plaza)
    peak = max(p.flow_veh_h for p in spec.demand)
    curve = penetration_curve(spec, peak, [0.1, 0.3, 0.5, 0.7, 0.9], seeds=parse_seeds(seeds)[:1], duration_s=1800.0,
                              processes=workers)
    fig, _ = plot_delay_vs_penetration(curve)
    save_figure(fig, path)


@tolling_app.command("compare")
def compare_cmd(
    plaza: Annotated[Path, typer.Argument(help="plaza YAML file")],
    mixes: Annotated[str, typer.Option(help="comma-separated: as_built (the plaza's own booths) and booth schedule "
                                            "JSON files (mobility tolling optimise)")] = "as_built",
    penetration_plot: Annotated[Path | None, typer.Option(
        help="figure: delay against ETC penetration (0.1-0.9) at the plaza's peak flow, each at its best mix")] = None,
    seeds: SeedsOpt = "3", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Simulate the plaza's booth schedules over seeds; one table, delay per period, figures."""
    _compare(plaza, (mixes, "--mixes"), penetration_plot,
             CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet))


def _compare(plaza: Path, words: list[str] | tuple[str, str], penetration_plot: Path | None, opts: CompareOptions) -> Any:
    try:
        figure_path(penetration_plot)
    except MobilityError as exc:
        raise fail(exc) from None
    ds = compare_command(plaza, "tolling", words, opts)
    _table(ds, "mean delay per vehicle by period")
    if penetration_plot is not None:
        try:
            _penetration_figure(plaza, opts.seeds, opts.workers, penetration_plot)
        except MobilityError as exc:
            raise fail(exc) from None
    return ds


@tolling_app.command("evaluate")
def evaluate_cmd(
    plaza: Annotated[Path, typer.Argument(help="plaza YAML file")],
    config: Annotated[list[Path] | None, typer.Option("--config", "-c", help="booth schedule JSON (mobility tolling optimise); repeatable")] = None,
    seeds: Annotated[str, typer.Option(help="count (5 = seeds 1-5) or list")] = "3",
    processes: Annotated[int, typer.Option(min=1, help="simulations in parallel")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file")] = None,
    plot: Annotated[Path | None, typer.Option(help="figure: delay by period for each mix")] = None,
    penetration_plot: Annotated[Path | None, typer.Option(
        help="figure: delay against ETC penetration (0.1-0.9) at the plaza's peak flow, each at its best mix")] = None,
) -> None:
    """The plaza's own booths and any schedules given, over seeds (``mobility tolling compare`` under its
    older name and options: ``--config`` is ``--mixes``, ``--processes`` is ``--workers``)."""
    from .plots import plot_toll_periods

    try:
        figure_path(plot)
    except MobilityError as exc:
        raise fail(exc) from None
    words = ["as_built", *(str(c) for c in config or [])]
    ds = _compare(plaza, words, penetration_plot, CompareOptions(seeds, processes, output, None, None, None, None, 1, None, True))
    if plot is not None:
        try:
            save_figure(plot_toll_periods(ds)[0], plot)
        except MobilityError as exc:
            raise fail(exc) from None


@tolling_app.command("optimise")
def optimise_cmd(
    plaza: Annotated[Path, typer.Argument(help="plaza YAML file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="booth schedule JSON (TollPlazaConfig)")] = Path("toll_schedule.json"),
    max_changes: Annotated[int, typer.Option(help="booths that may change type at one period boundary (-1: any)")] = 4,
    max_switches: Annotated[int, typer.Option(help="period boundaries with a change (-1: any)")] = -1,
    seeds: Annotated[str, typer.Option(help="seeds to re-measure the schedule against the best fixed mix and the plaza's own booths (0: no)")] = "3",
    processes: Annotated[int, typer.Option(min=1, max=4096, help="SUMO processes in parallel")] = 2,
    nc: Annotated[Path | None, typer.Option("--results", help="also save the re-measurement Dataset (netCDF)")] = None,
) -> None:
    """Booth mix per period (queueing surrogate + CP-SAT), re-measured in SUMO; writes the schedule as JSON."""
    from rich.console import Console

    from .results import save_results
    from .tolling import layout, load_plaza, optimise_mix
    from .tolling.compare import compare_mixes

    console = Console()
    try:
        if output.suffix != ".json":
            raise InputError(f"--output {output}: the schedule is JSON; use a .json file name")
        spec = load_plaza(plaza)
        try:
            cfg = optimise_mix(spec, max_changes=None if max_changes < 0 else max_changes,
                               max_switches=None if max_switches < 0 else max_switches)
        except InputError as exc:
            raise InputError(f"{plaza}: {exc}") from None
        sd = [] if seeds.strip() == "0" else parse_seeds(seeds)
        if sd:
            mixes: dict[str, Any] = {"optimised": cfg.schedule(), "as_built": None}
            if cfg.best_fixed is not None:
                mixes["best_fixed"] = [(spec.begin_s, layout(cfg.best_fixed))]
            ds = compare_mixes(spec, mixes, seeds=sd, workers=processes)
            for k, per in enumerate(cfg.periods):
                per.measured_delay_s = float(ds["period_delay_s"].sel(mix="optimised").isel(period=k).mean())
            cfg.solver["measured_day_delay_s"] = {m: float(ds["delay_s"].sel(mix=m).mean()) for m in mixes}
            cfg.solver["measured_seeds"] = sd
            if nc is not None:
                save_results(ds, nc)
        cfg.save(output)
    except MobilityError as exc:
        raise fail(exc) from None
    s = cfg.solver
    console.print(f"CP-SAT {s['status']}, gap {s['gap']:.2%}: surrogate delay {s['objective_veh_h']:.1f} veh·h "
                  f"(best fixed mix {cfg.best_fixed}: {s['best_fixed_objective_veh_h']:.1f} veh·h)")
    for per in cfg.periods:
        console.print(f"  {per.start_s / 3600:05.2f} h  {per.flow_veh_h:>5.0f} veh/h  etc {per.etc} mtc {per.mtc} mixed {per.mixed}  "
                      f"[{' '.join(per.booths)}]  surrogate {per.surrogate_delay_s:.1f} s"
                      + (f", SUMO {per.measured_delay_s:.1f} s" if per.measured_delay_s is not None else ""), highlight=False)
    if sd:
        _table(ds, f"{spec.name}: re-measured in SUMO, seeds {sd}")
    console.print(f"schedule: {output}")
