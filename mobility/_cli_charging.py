"""``mobility charging compare|optimise|frlm``: EV charging layouts, optimised and compared in SUMO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import CompareOptions, OutputOpt, PlotsOpt, QuietOpt, RetriesOpt, SchedulerOpt, SeedsOpt, TableOpt, TimeLimitOpt, WorkdirOpt, WorkersOpt, compare_command, init_command, fail  # noqa: E501
from ._errors import InputError, MobilityError

charging_app = typer.Typer(no_args_is_help=True,
                           help="EV charging placement: optimise layouts, compare them side by side in SUMO.")


@charging_app.command("compare")
def compare_cmd(
    study: Annotated[Path, typer.Argument(help="charging study YAML (scenarios/ev_charging/*.yaml)")],
    layouts: Annotated[str, typer.Option(
        help="comma-separated: layout files (YAML/JSON), optimal:pmedian:p=N, optimal:cover:p=N,radius_m=R, "
             "optimal:capacitated, greedy:p=N, random:p=N,seed=S; points=N in any of them")]
        = "optimal:pmedian:p=6,random:p=6,seed=1",
    points: Annotated[int | None, typer.Option(min=1, help="charging points per layout [default: the study's]")] = None,
    seeds: SeedsOpt = "3", workers: WorkersOpt = 2, output: OutputOpt = None, plots: PlotsOpt = None,
    table: TableOpt = None, scheduler: SchedulerOpt = None, time_limit: TimeLimitOpt = None, retries: RetriesOpt = 1,
    workdir: WorkdirOpt = None, quiet: QuietOpt = False,
) -> None:
    """Run each layout over the seeds and print one table (mean +/- sd over seeds)."""

    def before(console, study, alts):  # noqa: ANN001, ANN202
        for name, lay in alts.items():
            rep = lay["report"]
            solver = (f"  [{rep['status']}, objective {rep['objective']:.6g}, gap {rep['gap']:.2%}]"
                      if "gap" in rep else "")
            console.print(f"{name}: {len(lay['stations'])} stations, {sum(s['points'] for s in lay['stations'])} points"
                          f"{solver}", highlight=False)

    compare_command(study, "charging", (layouts, "--layouts"),
                    CompareOptions(seeds, workers, output, plots, table, scheduler, time_limit, retries, workdir, quiet),
                    before=before, points=points)


@charging_app.command("optimise")
def optimise_cmd(
    study: Annotated[Path, typer.Argument(help="charging study YAML")],
    method: Annotated[str, typer.Option(help="pmedian, cover, capacitated, greedy or random")] = "pmedian",
    p: Annotated[int, typer.Option(min=1, max=100_000, help="stations")] = 6,
    points: Annotated[int | None, typer.Option(help="charging points in all [default: the study's]")] = None,
    radius_m: Annotated[float | None, typer.Option(min=1e-6, max=1e7, help="coverage radius (cover), m")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="seed of the random layout")] = 1,
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
        raise fail(exc) from None
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
    range_: Annotated[float, typer.Option("--range", min=1e-9, max=1e12, help="vehicle range, in the network's length unit")] = 20.0,
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
        try:
            ps = [int(x) for x in p.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--p {p!r}: give whole numbers of stations, e.g. 1,2,3") from None
        if not ps or min(ps) < 1 or max(ps) > net.n_nodes:
            raise InputError(f"--p {p!r}: each number of stations must be from 1 to the network's {net.n_nodes} nodes")
        total = flows.sum()
        if not total > 0:
            raise InputError(f"{trips}: the OD matrix has no trips between different zones; nothing to serve")
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"{len(rts)} round trips, {total:.6g} flow; range {range_:g}")
    for k in ps:
        res = optimise.flow_refuelling(rts, flows, k, range_, n_sites=net.n_nodes)
        line = (f"p={k}: nodes {[str(net.node_ids[j]) for j in res.sites]}  served {res.objective:.6g} "
                f"({res.objective / total:.1%})  {res.status}, gap {res.gap:.2%}, {res.solve_time_s:.2f} s")
        if greedy:
            g = optimise.greedy_flow_refuelling(rts, flows, k, range_, n_sites=net.n_nodes)
            line += f"  | greedy {g.objective / total:.1%}"
        typer.echo(line)


@charging_app.command("init")
def init_cmd(
    network: Annotated[Path, typer.Argument(help="the city's network: .net.xml, or an OSM extract")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the study file to write")] = Path("charging.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite existing files")] = False,
) -> None:
    """Write a charging study and its traffic scenario for NETWORK, with defaults derived from the network."""
    init_command("charging", network, output, force=force)
