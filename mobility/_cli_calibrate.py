"""``mobility calibrate``: a scenario (or a TNTP matrix) calibrated to counts, with its fit report and plots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import RetriesOpt, TimeLimitOpt, WorkdirOpt, fail, figure_path, save_figure, writable
from ._errors import InputError, MobilityError


def calibrate(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML (method routes) or a TNTP *_net.tntp (method odme)")],
    counts: Annotated[list[Path], typer.Option("--counts", help="count file: SUMO edge data, E1 output (with its "
                                               "<additional> loop definitions as another --counts) or CSV; repeat")],
    output: Annotated[Path, typer.Option("--output", "-o", help="calibrated scenario (.yaml) or, for odme, matrix (.tntp)")],
    method: Annotated[str, typer.Option(help="routes (route flows checked in SUMO) or odme (OD matrix estimation)")] = "routes",
    trips: Annotated[Path | None, typer.Option("--trips", help="odme: seed matrix, TNTP *_trips.tntp [default: uniform]")] = None,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.9, help="share of the locations the fit never sees")] = 0.0,
    seed: Annotated[int | None, typer.Option(min=0, max=2**31 - 1, help="seed of the held-out draw and, for routes, "
                                             "SUMO's [default: 0 for the draw, the scenario's for SUMO]")] = None,
    report_file: Annotated[Path | None, typer.Option("--report", help="fit report Dataset (netCDF)")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="observed against calibrated counts (.png/.svg/.pdf)")] = None,
    map_plot: Annotated[Path | None, typer.Option("--map", help="GEH per counted edge on the network")] = None,
    iterations: Annotated[int, typer.Option(min=1, max=20, help="routes: SUMO checks")] = 3,
    alternatives: Annotated[int, typer.Option(min=0, max=5, help="routes: extra shortest paths per OD pair")] = 1,
    regularisation: Annotated[float, typer.Option(min=1e-12, max=1e6, help="pull towards the prior demand")] = 0.01,
    assignment: Annotated[str, typer.Option(help="odme: gp or bfw")] = "gp",
    attribute: Annotated[str, typer.Option(help="edge-data attribute that holds the counts")] = "entered",
    time_limit: TimeLimitOpt = None,
    retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Calibrate demand to counts; print the fit (GEH < 5 share, RMSE, R2) on fitted and held-out locations."""
    from .calibration import calibrate, format_fit
    from .provenance import toolkit_version

    say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        tntp = scenario.name.endswith(".tntp")
        writable(output, suffix=".tntp" if tntp else ".yaml", what="calibrated scenarios" if not tntp else "OD matrices")
        writable(report_file, suffix=".nc", what="reports")
        figure_path(plot, map_plot)
        if tntp:
            from .load import load_network

            net = load_network(scenario) if scenario.is_file() else None
        else:
            from .scenario import load_scenario_with_network

            if not scenario.is_file():
                raise InputError(f"{scenario}: file not found")
            sc, net = load_scenario_with_network(scenario)
        out, ds = calibrate(scenario, list(counts), method=method, network=net, holdout=holdout, seed=seed,
                            attribute=attribute, trips=trips, assignment=assignment, iterations=iterations,
                            alternatives=alternatives, regularisation=regularisation, workdir=workdir,
                            time_limit_s=time_limit, retries=retries, progress=say)
        if method == "odme":
            from .tntp import write_tntp_trips

            if len(out) > 1:
                say(f"{len(out)} periods: writing one matrix per period beside {output}")
                for k, od in enumerate(out):
                    write_tntp_trips(od, output.with_name(f"{output.stem}_p{k}{output.suffix}"))
            else:
                write_tntp_trips(out[0], output)
        else:
            from .scenario import save_scenario

            save_scenario(out, output, header=f"{out.name}: {sc.name} calibrated to {', '.join(map(str, counts))} by "
                          f"mobility {toolkit_version()} (routes, {ds.attrs['route_flows']} route flows)")
        ds.attrs["command"] = " ".join(["mobility", *sys.argv[1:]])
        if report_file is not None:
            from .results import save_results

            save_results(ds, report_file)
        if plot is not None or map_plot is not None:
            _plots(ds, net, plot, map_plot)
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(format_fit(ds))
    if ds.attrs.get("conflicts"):
        typer.echo(f"counts no route flows can meet: {ds.attrs['conflicts']}")
    typer.echo(f"wrote {output}" + (f", {report_file}" if report_file else ""))


def _plots(ds, net, plot: Path | None, map_plot: Path | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .calibration import plot_fit, plot_geh_map

    if plot is not None:
        fig, _ = plot_fit(ds)
        save_figure(fig, plot)
        plt.close(fig)
    if map_plot is not None:
        fig, _ = plot_geh_map(ds, net)
        save_figure(fig, map_plot)
        plt.close(fig)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
