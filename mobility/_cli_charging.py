"""``mobility charging compare|optimise|frlm``: EV charging layouts, optimised and compared in SUMO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._errors import InputError, MobilityError

charging_app = typer.Typer(no_args_is_help=True,
                           help="EV charging placement: optimise layouts, compare them side by side in SUMO.")


def _fail(exc: BaseException) -> typer.Exit:
    from .cli import _fail as fail

    return fail(exc)


def split_layouts(text: str) -> list[str]:
    """Split ``a.yaml,optimal:cover:p=8,radius_m=400,random:p=6,seed=2`` into layout words: a
    ``key=value`` piece belongs to the word before it."""
    words: list[str] = []
    for piece in (x.strip() for x in text.replace(";", ",").split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and words and ":" in words[-1]:
            words[-1] += "," + piece
        else:
            words.append(piece)
    if not words:
        raise InputError("--layouts is empty; e.g. --layouts optimal:pmedian:p=6,random:p=6,seed=1")
    return words


@charging_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="charging study YAML (scenarios/ev_charging/*.yaml)")],
    layouts: Annotated[str, typer.Option(
        help="comma-separated: layout files (YAML/JSON), optimal:pmedian:p=N, optimal:cover:p=N,radius_m=R, "
             "optimal:capacitated, greedy:p=N, random:p=N,seed=S; points=N in any of them")]
        = "optimal:pmedian:p=6,random:p=6,seed=1",
    points: Annotated[int | None, typer.Option(help="charging points per layout [default: the study's]")] = None,
    seeds: Annotated[str, typer.Option(help="count (3 = seeds 1-3) or list")] = "3",
    workers: Annotated[int, typer.Option(help="simulations in parallel (one process each)")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file")] = None,
    plots: Annotated[Path | None, typer.Option(help="folder for the map, utilisation and waiting figures")] = None,
    table: Annotated[Path | None, typer.Option(help="also write the table as Markdown")] = None,
) -> None:
    """Run each layout over the seeds and print one table (mean +/- sd over seeds)."""
    from rich.console import Console

    from ._cli_signals import _seeds, _simulate_and_report
    from .charging import build_layouts, compare_layouts, format_table, load_charging

    console = Console()
    try:
        spec = load_charging(study)
        words = split_layouts(layouts)
        lays = build_layouts(spec, words, points=points)
        for lay in lays:
            rep = lay.report
            solver = (f"  [{rep['status']}, objective {rep['objective']:.6g}, gap {rep['gap']:.2%}]"
                      if "gap" in rep else "")
            console.print(f"{lay.name}: {len(lay.stations)} stations, {lay.points} points{solver}", highlight=False)
        sd = _seeds(seeds)

        def figures(ds):
            from .charging.compare import charging_scenario
            from .plots import (
                plot_charging_layouts,
                plot_charging_utilisation,
                plot_charging_waiting,
            )

            yield "layouts_map.png", plot_charging_layouts(ds, charging_scenario(spec)[1])[0]
            yield "utilisation.png", plot_charging_utilisation(ds)[0]
            yield "waiting.png", plot_charging_waiting(ds)[0]

        _simulate_and_report(
            console, len(lays) * len(sd), lambda progress: compare_layouts(spec, lays, seeds=sd, workers=workers,
                                                                          progress=progress),
            format_table, output=output, table=table, plots=plots, figures=figures)
    except MobilityError as exc:
        raise _fail(exc) from None


@charging_app.command("optimise")
def optimise_cmd(
    study: Annotated[Path, typer.Argument(help="charging study YAML")],
    method: Annotated[str, typer.Option(help="pmedian, cover, capacitated, greedy or random")] = "pmedian",
    p: Annotated[int, typer.Option(help="stations")] = 6,
    points: Annotated[int | None, typer.Option(help="charging points in all [default: the study's]")] = None,
    radius_m: Annotated[float | None, typer.Option(help="coverage radius (cover)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the random layout")] = 1,
    output: Annotated[Path, typer.Option("--output", "-o", help="layout JSON")] = Path("layout.json"),
) -> None:
    """Build one layout from the study's demand and candidate sites and write it as JSON."""
    from .charging import build_layouts, load_charging

    try:
        if output.suffix not in (".json", ".yaml", ".yml"):
            raise InputError(f"--output {output}: a layout is written as JSON; use a .json file name")
        spec = load_charging(study)
        word = {"greedy": f"greedy:p={p}", "random": f"random:p={p},seed={seed}"}.get(
            method, f"optimal:{method}:p={p}" + (f",radius_m={radius_m}" if radius_m is not None else ""))
        lay = build_layouts(spec, [word], points=points)[0]
        lay.to_json(output)
    except MobilityError as exc:
        raise _fail(exc) from None
    rep = lay.report
    typer.echo(f"{lay.name}: {len(lay.stations)} stations, {lay.points} points; "
               + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in rep.items()))
    for s in lay.stations:
        typer.echo(f"  {s.site:<14} edge {s.edge:<10} {s.points} x {s.power_kw:g} kW")
    typer.echo(f"layout: {output}")


@charging_app.command("frlm")
def frlm_cmd(
    network: Annotated[Path, typer.Argument(help="TNTP *_net.tntp file")],
    trips: Annotated[Path, typer.Argument(help="TNTP *_trips.tntp OD matrix")],
    p: Annotated[str, typer.Option(help="stations to open: one number or a list (1,2,3,4)")] = "1,2,3,4",
    range_: Annotated[float, typer.Option("--range", help="vehicle range, in the network's length unit")] = 20.0,
    greedy: Annotated[bool, typer.Option(help="also report the greedy baseline")] = True,
) -> None:
    """Flow-refuelling location on a TNTP network (round trips on shortest paths, sites at nodes)."""
    import optimise

    from .charging import od_round_trips
    from .tntp import network_from_tntp, od_from_tntp

    try:
        net = network_from_tntp(network)
        od = od_from_tntp(trips)
        rts, flows, _ = od_round_trips(net, od.flows)
        ps = [int(x) for x in p.split(",") if x.strip()]
    except (MobilityError, ValueError) as exc:
        raise _fail(exc if isinstance(exc, MobilityError) else InputError(str(exc))) from None
    total = flows.sum()
    typer.echo(f"{len(rts)} round trips, {total:.6g} flow; range {range_:g}")
    for k in ps:
        res = optimise.flow_refuelling(rts, flows, k, range_, n_sites=net.n_nodes)
        line = (f"p={k}: nodes {[str(net.node_ids[j]) for j in res.sites]}  served {res.objective:.6g} "
                f"({res.objective / total:.1%})  {res.status}, gap {res.gap:.2%}, {res.solve_time_s:.2f} s")
        if greedy:
            g = optimise.greedy_flow_refuelling(rts, flows, k, range_, n_sites=net.n_nodes)
            line += f"  | greedy {g.objective / total:.1%}"
        typer.echo(line)
