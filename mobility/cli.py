"""The ``mobility`` command line: a thin layer over the library functions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ._cli_common import fail, figure_path, save_figure, writable
from ._errors import MobilityError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Traffic and mobility simulation and optimisation.")
scenario_app = typer.Typer(no_args_is_help=True, help="Scenario files.")
network_app = typer.Typer(no_args_is_help=True, help="Road networks.")
app.add_typer(scenario_app, name="scenario")
app.add_typer(network_app, name="network")



@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file, or a SUMO configuration (.sumocfg)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file [default: <name>.nc]")] = None,
    seed: Annotated[int | None, typer.Option(min=0, max=2**31 - 1, help="override the scenario's seed")] = None,
    backend: Annotated[str, typer.Option(help="libsumo (in-process) or traci")] = "libsumo",
    plot: Annotated[Path | None, typer.Option(help="also write a figure (map of mean speed + vehicles over time)")] = None,
    workdir: Annotated[Path | None, typer.Option(help="keep SUMO's files in this existing folder")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a scenario in SUMO: progress bar, KPI table, results file (and optional plot)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .results import KPI_UNITS, kpis
    from .scenario import load_scenario_with_network
    from .simulation import run_scenario

    console = Console()
    try:
        if backend not in ("libsumo", "traci"):
            raise MobilityError(f"--backend must be libsumo or traci, got {backend!r}")
        sc, net = load_scenario_with_network(scenario)  # the network is read once, here
        _print_import_notes(scenario, console)
        out = output or Path(f"{sc.name}.nc")
        writable(out, suffix=".nc")
        figure_path(plot)
        if workdir is not None and not workdir.is_dir():
            raise MobilityError(f"--workdir {workdir}: folder not found; create it first")
        cmd = " ".join(["mobility", *sys.argv[1:]])
        b: Literal["libsumo", "traci"] = "traci" if backend == "traci" else "libsumo"
        if quiet:
            ds = run_scenario(sc, seed=seed, backend=b, output=out, workdir=workdir, command=cmd, network=net)
        else:
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[now]}"),
                          TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task(f"{sc.name} (seed {seed if seed is not None else sc.seed})",
                                    total=sc.duration_s, now="")
                ds = run_scenario(sc, seed=seed, backend=b, output=out, workdir=workdir, command=cmd, network=net,
                                  progress=lambda now, end: bar.update(task, completed=now - sc.begin_s,
                                                                       now=f"t={now:.0f}/{end:.0f} s"))
        if plot is not None:
            _write_run_plot(ds, net, plot)
    except MobilityError as exc:
        raise fail(exc) from None
    from rich.table import Table

    table = Table(title=f"{sc.name}: seed {ds.attrs['seed']}, {sc.duration_s:.0f} s simulated", title_justify="left")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for k, v in kpis(ds).items():
        table.add_row(k, f"{v:.2f}" if isinstance(v, float) else str(v), KPI_UNITS.get(k, ""))
    console.print(table)
    if "demand_draws" in ds.attrs:
        console.print(f"random demand: {ds.attrs['demand_trips']} trips; {100 * ds.attrs['demand_rejected_share']:.1f}% "
                      f"of {ds.attrs['demand_draws']} origin-destination draws rejected (same edge or closer than "
                      "min_distance_m)")
    console.print(f"results: {out}" + (f"   plot: {plot}" if plot else ""))


def _print_import_notes(path: Path, console: Any) -> None:
    """For a SUMO configuration: what became of its options, said once (nothing is dropped silently)."""
    from .sumocfg import import_sumocfg, is_sumocfg

    if is_sumocfg(path):
        for line in import_sumocfg(path).summary():
            console.print(f"{path.name}: {line}", highlight=False, soft_wrap=True)


@scenario_app.command("import")
def scenario_import(
    config: Annotated[Path, typer.Argument(help="SUMO configuration (.sumocfg)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="scenario YAML file to write")],
    end_s: Annotated[float | None, typer.Option("--end", min=0, help="end of the simulated window, s (where the "
                                                "configuration has none, or to override it)")] = None,
) -> None:
    """Read a SUMO configuration as SUMO reads it and write it as a scenario YAML file. Options the toolkit
    does not model are kept and passed on to SUMO; what was passed on and what was left out is listed."""
    from .scenario import save_scenario, scenario_network
    from .sumocfg import import_sumocfg

    try:
        writable(output, suffix=".yaml", what="scenarios")
        imp = import_sumocfg(config, end_s=end_s)
        net = scenario_network(imp.scenario)
        save_scenario(imp.scenario, output, header=f"Imported from {config.name} by `mobility scenario import`.")
    except MobilityError as exc:
        raise fail(exc) from None
    for line in imp.summary():
        typer.echo(f"{config.name}: {line}")
    typer.echo(f"ok: {output} ({imp.scenario.name}: {net.n_edges} edges, {len(imp.scenario.demand.files)} route "
               f"file(s), {len(imp.scenario.additional_files)} additional file(s), {imp.scenario.begin_s:g}-"
               f"{imp.scenario.end_s:g} s, seed {imp.scenario.seed})")


@scenario_app.command("export")
def scenario_export(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="SUMO configuration to write (.sumocfg); the "
                                         "demand is written beside it")],
) -> None:
    """Write a scenario as a SUMO configuration that `sumo -c` runs as the toolkit runs it."""
    from .scenario import load_scenario_with_network
    from .sumocfg import save_sumocfg

    try:
        writable(output, suffix=".sumocfg", what="SUMO configurations")
        sc, net = load_scenario_with_network(scenario)
        path = save_sumocfg(sc, output, network=net)
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"ok: {path} (run it with: sumo -c {path})")


def _write_run_plot(ds: Any, net: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_network, plot_vehicles

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained", gridspec_kw={"width_ratios": [1, 1.3]})
    if "edge_speed" in ds:
        plot_network(net, ds["edge_speed"], ax=a1)
    plot_vehicles(ds, ax=a2)
    save_figure(fig, path)
    plt.close(fig)


@scenario_app.command("validate")
def scenario_validate(
    files: Annotated[list[Path], typer.Argument(help="scenario, study, plaza or sweep YAML file(s), or SUMO "
                                                     "configurations (.sumocfg)")],
) -> None:
    """Check scenario and study files: every field, the network, the edges the demand names, and what a study
    derives from them (parking areas, candidate sites). The kind of a file is its ``kind:`` key, else the one
    reader that accepts it (scenario, parking, charging, toll plaza); a file with ``base:`` and ``vary:`` is a
    sweep."""
    from ._spec import read_mapping
    from .study import detect_kind, get_kind

    failed = 0
    for f in files:
        try:
            from .sumocfg import is_sumocfg

            if is_sumocfg(f):
                from .scenario import load_scenario_with_network
                from .sumocfg import import_sumocfg

                notes = import_sumocfg(f).summary()
                sc, net = load_scenario_with_network(f)
                typer.echo(f"ok: {f} (SUMO configuration: {sc.name}, {net.n_edges} edges, {sc.begin_s:g}-{sc.end_s:g} s)")
                for line in notes:
                    typer.echo(f"  {line}")
                continue
            head, _ = read_mapping(f, what="scenario or study file")
            if "base" in head and ("vary" in head or "seeds" in head) and "network" not in head:
                from .sweep import load_sweep, plan_runs

                sw = load_sweep(f)
                typer.echo(f"ok: {f} (sweep {sw.name} of a {sw.study_kind} study: {len(plan_runs(sw))} runs)")
                continue
            kind = get_kind(detect_kind(f))
            study = kind.resolve(kind.read(f))
            typer.echo(f"ok: {f} ({kind.describe(study)})")
        except MobilityError as exc:
            fail(exc)
            failed += 1
    if failed:
        raise typer.Exit(code=2)


@network_app.command("info")
def network_info(
    path: Annotated[Path, typer.Argument(help=".net.xml, .osm or *_net.tntp file")],
    edges: Annotated[bool, typer.Option("--edges", help="also list every edge")] = False,
) -> None:
    """Sizes, units and totals of a network."""
    from .load import load_network

    try:
        net = load_network(path)
    except MobilityError as exc:
        raise fail(exc) from None
    for k, v in net.summary().items():
        typer.echo(f"{k:>15}: {v}")
    if edges:
        for i, e in enumerate(net.edge_ids):
            typer.echo(f"{e}\t{net.node_ids[net.tail[i]]}->{net.node_ids[net.head[i]]}\t"
                       f"length={net.length[i]:g}\tlanes={net.lanes[i]:g}\tspeed={net.free_speed[i]:g}")


@network_app.command("import")
def network_import(
    osm: Annotated[Path, typer.Argument(help="OpenStreetMap extract: .osm or .osm.xml (gzipped or not), or .osm.pbf")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the .net.xml file to write")],
    keep_vclasses: Annotated[str, typer.Option(help="comma-separated vehicle classes whose roads are kept")] =
        "passenger,bus,delivery,truck,evehicle,taxi",
    signals: Annotated[str, typer.Option(help="osm: the signals OSM tags; guess: also signalise junctions of fast "
                                              "major roads")] = "osm",
) -> None:
    """Convert an OSM extract into a SUMO network you keep (netconvert: junctions joined, ramps and roundabouts
    guessed, signals from OSM), and print what was kept and dropped per road type."""
    from .osm import import_osm

    try:
        writable(output)
        if not output.name.endswith(".net.xml"):
            raise MobilityError(f"--output {output}: a SUMO network file name ends in .net.xml")
        if signals not in ("osm", "guess"):
            raise MobilityError(f"--signals must be osm or guess, got {signals!r}")
        classes = [c.strip() for c in keep_vclasses.split(",") if c.strip()]
        _, rep = import_osm(osm, output, keep_vclasses=classes, signals=signals)  # type: ignore[arg-type]
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(rep.table())
    typer.echo(f"wrote {output}")


@network_app.command("build")
def network_build(
    kind: Annotated[str, typer.Argument(help="grid, corridor or spider")],
    output: Annotated[Path, typer.Argument(help="the .net.xml file to write")],
    size: Annotated[int, typer.Option(min=2, max=200, help="grid: junctions per side; corridor: junctions; spider: arms")] = 3,
    spacing_m: Annotated[float, typer.Option(min=10.0, max=10_000.0, help="distance between junctions, m")] = 200.0,
    lanes: Annotated[int, typer.Option(min=1, max=8, help="lanes per direction (corridor: on the arterial)")] = 2,
    speed_m_s: Annotated[float, typer.Option(min=1.0, max=100.0, help="speed limit, m/s")] = 13.89,
) -> None:
    """Generate a network with SUMO's netgenerate/netconvert."""
    from .network import generate_corridor, generate_grid, generate_spider

    try:
        if kind == "grid":
            net = generate_grid(output, n=size, length_m=spacing_m, lanes=lanes, speed_m_s=speed_m_s)
        elif kind == "corridor":
            net = generate_corridor(output, junctions=size, spacing_m=spacing_m, main_lanes=lanes, main_speed_m_s=speed_m_s)
        elif kind == "spider":
            net = generate_spider(output, arms=size, space_radius_m=spacing_m, lanes=lanes, speed_m_s=speed_m_s)
        else:
            raise MobilityError(f"unknown network kind {kind!r}; choose grid, corridor or spider")
    except MobilityError as exc:
        raise fail(exc) from None
    s = net.summary()
    typer.echo(f"wrote {output}: {s['nodes']} nodes, {s['edges']} edges, {s['signals']} signals")


@app.command()
def assign(
    network: Annotated[Path, typer.Argument(help="network: *_net.tntp, .net.xml or .osm")],
    trips: Annotated[Path, typer.Option("--trips", help="OD matrix, TNTP *_trips.tntp")],
    rgap: Annotated[float, typer.Option(min=1e-15, max=1.0, help="stop at this relative gap (TSTT - SPTT) / TSTT")] = 1e-6,
    method: Annotated[str, typer.Option(help="gp (gradient projection), bfw, cfw or fw")] = "gp",
    max_iter: Annotated[int | None, typer.Option(min=1, max=10_000_000, help="iteration cap [default: 500 for gp, 10000 otherwise]")] = None,
    first_thru_node: Annotated[int | None, typer.Option(help="TNTP: override <FIRST THRU NODE>")] = None,
    threads: Annotated[int | None, typer.Option(min=1, max=4096, help="threads for the shortest-path kernel [default: all cores]")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the flows Dataset (netCDF)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """User-equilibrium assignment; prints the gap as it falls and writes the link flows."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .assignment import assign as run_assign
    from .load import load_network
    from .results import save_results
    from .tntp import od_from_tntp

    console = Console(stderr=True)
    try:
        writable(output, suffix=".nc", what="flows")
        if first_thru_node is not None and network.suffix != ".tntp":
            raise MobilityError("--first-thru-node applies to TNTP networks only")
        kw = {"first_thru_node": first_thru_node} if first_thru_node is not None else {}
        net = load_network(network, **kw)
        od = od_from_tntp(trips)
        if not od.total - float(od.flows.trace()) > 0:
            raise MobilityError(f"{trips}: the OD matrix holds no trips between distinct zones (intra-zonal trips are "
                                "not loaded); give a matrix with flow between zones")
        if quiet:
            ds = run_assign(net, od, method=method, rgap=rgap, max_iter=max_iter, threads=threads)
        else:
            import math

            target = -math.log10(rgap)
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[gap]}"),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task(f"{net.name} {method}", total=target, gap="")

                def show(k: int, gap: float, obj: float) -> None:
                    done = min(target, max(0.0, -math.log10(gap))) if gap > 0 else target
                    bar.update(task, completed=done, gap=f"iteration {k}: gap {gap:.2e}, objective {obj:.8g}")

                ds = run_assign(net, od, method=method, rgap=rgap, max_iter=max_iter, threads=threads, progress=show)
        ds.attrs["command"] = " ".join(["mobility", *sys.argv[1:]])
        if output is not None:
            save_results(ds, output)
    except MobilityError as exc:
        raise fail(exc) from None
    a = ds.attrs
    state = "converged" if a["converged"] else f"NOT converged (max_iter reached, target {rgap:g})"
    typer.echo(f"{a['network']}: {a['method']} {state} in {a['iterations']} iterations, {a['seconds']:.2f} s")
    typer.echo(f"relative gap {a['rgap']:.3e}   Beckmann objective {a['objective']:.10g}   TSTT {a['tstt']:.10g}")
    if output is not None:
        typer.echo(f"flows: {output}")


@app.command()
def versions() -> None:
    """Versions of the toolkit and of the SUMO distributions (which must agree)."""
    from ._sumo import installed_versions, version_problem
    from .provenance import toolkit_version

    typer.echo(f"mobility: {toolkit_version()}")
    for k, v in installed_versions().items():
        typer.echo(f"{k}: {v}")
    problem = version_problem()
    if problem:
        raise fail(MobilityError(problem))
    typer.echo("SUMO distributions agree.")


def _add_signals() -> None:
    from ._cli_signals import signals_app

    app.add_typer(signals_app, name="signals")


_add_signals()


def _add_service() -> None:
    from ._cli_service import register

    register(app)


_add_service()


def _add_sweep() -> None:
    from ._cli_sweep import sweep_app

    app.add_typer(sweep_app, name="sweep")


_add_sweep()


def _add_tolling() -> None:
    from ._cli_tolling import tolling_app

    app.add_typer(tolling_app, name="tolling")


_add_tolling()


def _add_charging() -> None:
    from ._cli_charging import charging_app

    app.add_typer(charging_app, name="charging")


_add_charging()


def _add_parking() -> None:
    from ._cli_parking import parking_app

    app.add_typer(parking_app, name="parking")


_add_parking()


def _add_calibrate() -> None:
    from ._cli_calibrate import register

    register(app)


_add_calibrate()


def _add_dta() -> None:
    from ._cli_dta import register

    register(app)


_add_dta()


def _add_incident() -> None:
    from ._cli_incident import register

    register(app)


_add_incident()


def _add_live() -> None:
    from ._cli_live import register

    register(app)


_add_live()


def _add_transit() -> None:
    from ._cli_transit import transit_app

    app.add_typer(transit_app, name="transit")


_add_transit()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
