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
    from .calibration import format_fit, read_counts
    from .provenance import toolkit_version

    say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        if method not in ("routes", "odme"):
            raise InputError(f"--method {method!r}: choose routes or odme")
        tntp = scenario.name.endswith(".tntp")
        if method == "odme" and not tntp:
            raise InputError(f"--method odme works on zone networks (TNTP *_net.tntp); {scenario} is not one. "
                             "Use --method routes for a SUMO scenario")
        if method == "routes" and tntp:
            raise InputError(f"--method routes calibrates a SUMO scenario; for {scenario} use --method odme")
        writable(output, suffix=".tntp" if tntp else ".yaml", what="calibrated scenarios" if not tntp else "OD matrices")
        writable(report_file, suffix=".nc", what="reports")
        figure_path(plot, map_plot)
        if not scenario.is_file():
            raise InputError(f"{scenario}: file not found")
        if method == "odme":
            from .calibration import estimate_od, od_matrix
            from .load import load_network
            from .tntp import od_from_tntp, write_tntp_trips

            net = load_network(scenario)
            cs = read_counts(list(counts), net, attribute=attribute)
            ds = estimate_od(net, cs, od_from_tntp(trips) if trips else None, method=assignment,
                             regularisation=regularisation, holdout=holdout, holdout_seed=seed or 0, progress=say)
            if ds.sizes["period"] > 1:
                say(f"{ds.sizes['period']} periods: writing one matrix per period beside {output}")
                for k in range(ds.sizes["period"]):
                    write_tntp_trips(od_matrix(ds, k), output.with_name(f"{output.stem}_p{k}{output.suffix}"))
            else:
                write_tntp_trips(od_matrix(ds, 0), output)
        else:
            from .calibration.routes import calibrate_routes
            from .scenario import load_scenario_with_network, save_scenario

            from .sumocfg import scenario_detectors

            sc, net = load_scenario_with_network(scenario)
            # the scenario's own loops define its E1 outputs: the output file can be given alone
            cs = read_counts(list(counts), net, attribute=attribute, definitions=scenario_detectors(sc))
            cal, ds = calibrate_routes(sc, cs, network=net, holdout=holdout, holdout_seed=seed or 0, seed=seed,
                                       iterations=iterations,
                                       alternatives=alternatives, regularisation=regularisation, workdir=workdir,
                                       time_limit_s=time_limit, retries=retries, progress=say)
            save_scenario(cal, output, header=f"{cal.name}: {sc.name} calibrated to {', '.join(map(str, counts))} by "
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
