"""``mobility live``: run the live loop on a scenario from recorded or arriving detector feeds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ._cli_common import TokenOpt, check_publish, fail
from ._errors import InputError, MobilityError


def _clock(t: float) -> str:
    t = max(t, 0.0)
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d}"


def live_cmd(
    scenario: Annotated[Path, typer.Argument(help="the typical day's scenario (YAML or .sumocfg)")],
    feed: Annotated[list[Path], typer.Option("--feed", help="feed file(s) to replay (SUMO edge data or E1 output, "
                                             "PeMS-style CSV, DATEX II XML/JSON), or with --watch the folder "
                                             "they arrive in")],
    stations: Annotated[Path | None, typer.Option(help="station table: CSV station,edge[,lanes] or SUMO loop "
                                                       "definitions (default for SUMO edge data: every edge in "
                                                       "it)")] = None,
    replay_speed: Annotated[float, typer.Option("--replay-speed", help="simulated seconds per wall second "
                                                "(0: as fast as the loop runs)")] = 0.0,
    watch: Annotated[bool, typer.Option(help="read files as they land in the --feed folder")] = False,
    timeout: Annotated[float, typer.Option(help="with --watch: stop after this many seconds without a new "
                                           "file")] = 600.0,
    step: Annotated[float, typer.Option(help="feed step, s")] = 60.0,
    horizon: Annotated[float, typer.Option(help="prediction horizon, s")] = 3600.0,
    begin: Annotated[float | None, typer.Option(help="replay from this time, s")] = None,
    end: Annotated[float | None, typer.Option(help="replay until this time, s")] = None,
    prior: Annotated[str, typer.Option(help="the demand the loop starts from: 'sumo' (the scenario's routes as "
                                            "one SUMO run drives them) or 'scenario' (its demand on the engine's "
                                            "routes)")] = "sumo",
    prior_seed: Annotated[int, typer.Option("--prior-seed", help="SUMO seed of the prior's run")] = 99,
    no_respond: Annotated[bool, typer.Option("--no-respond", help="do not rank responses")] = False,
    check: Annotated[bool, typer.Option(help="check the engine's top three responses in SUMO (the scenario with the "
                                             "incident as found, seeds 1-2, then seed 3) before recommending one")] = True,
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for steps.csv, incidents.csv, "
                                         "ranking_*.csv, quality.csv, dropped.csv")] = Path("live"),
    publish: Annotated[str | None, typer.Option(help="submit each incident's best-ranked plan as a draft to the "
                                                     "plan service at this URL")] = None,
    token: TokenOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Run the live loop: every feed step the records are checked (unknown stations, negative flows, repeats,
    time going back, stale records are dropped and said), the engine's demand is corrected from the counts, an
    incident is looked for in the speeds and counts, and the next hour is predicted; each incident found gets
    response plans ranked on the engine from the current state (with --publish the best goes to the plan
    service as a draft for four-eyes approval). With --check (the default) the engine's three best are run in
    SUMO and one is recommended only if it beats no response there, on a seed it was not chosen on."""
    import pandas as pd

    from ._io import atomic_path
    from .live.feeds import FeedError, StationTable, read_feed, read_stations
    from .live.sources import FolderWatcher, ReplaySource
    from .live.loop import prediction_quality, run_live, steps_table
    from .scenario import load_scenario_with_network

    say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
    try:
        if prior not in ("sumo", "scenario"):
            raise InputError(f"--prior must be 'sumo' or 'scenario', got {prior!r}")
        check_publish(publish, token)
        if not replay_speed >= 0:
            raise InputError(f"--replay-speed must be >= 0, got {replay_speed}")
        if output.exists() and not output.is_dir():
            raise InputError(f"--output {output}: a file is there; give a folder")
        sc, net = load_scenario_with_network(scenario)
        if stations is not None:
            table = read_stations(stations, net)
        else:
            files = [p for p in feed if p.is_file()] if not watch else []
            if not files:
                raise InputError("--stations is needed (the feed does not name its edges); give a CSV "
                                 "station,edge[,lanes] or the loops' definition file")
            b = read_feed(files[0])
            edges = sorted(set(b.records["edge"]) & set(map(str, net.edge_ids)))
            if not edges:
                raise InputError(f"--feed {files[0]}: names no edge of the network {net.name}; give --stations")
            table = StationTable.for_edges(edges)
        speed = math.inf if replay_speed == 0 else replay_speed
        if watch:
            if len(feed) != 1 or not feed[0].is_dir():
                raise InputError("--watch takes one --feed folder")
            source: Any = FolderWatcher(feed[0], table, timeout_s=timeout)
        else:
            missing = [p for p in feed if not p.is_file()]
            if missing:
                raise InputError(f"--feed {missing[0]}: not found (resolved to {missing[0].resolve()})")
            source = ReplaySource(feed, table, step_s=step, speed=speed, begin_s=begin, end_s=end)
        demand = None
        if prior == "sumo":
            import tempfile

            from .incident.rank import sumo_routes_demand

            say(f"prior: the scenario's routes from one SUMO run (seed {prior_seed})")
            with tempfile.TemporaryDirectory() as tmp:
                demand = sumo_routes_demand(sc, net, seed=prior_seed, workdir=tmp)
        say(f"{len(table)} stations; {net.n_edges} edges; step {step:g} s; horizon {horizon / 60:g} min")

        def progress(rep: Any, model: Any) -> None:
            x, sd = rep.factors, rep.factor_sd
            line = (f"{_clock(rep.now_s)}  records {rep.records:4d} | used {len(rep.used):3d} silent "
                    f"{len(rep.silent):3d} suspect {len(rep.suspect):3d} | demand x{x.mean():.2f} "
                    f"(+-{sd.mean():.2f}) | {sum(rep.seconds.values()):.1f} s")
            if rep.alarms:
                line += f" | alarms {' '.join(rep.alarms[:6])}{' ...' if len(rep.alarms) > 6 else ''}"
            say(line)
            for d in rep.detections:
                say(f"  INCIDENT on {d.edge}: {d.capacity_factor:.0%} of its capacity left since "
                    f"{_clock(d.begin_s)} (stations {', '.join(d.stations)})")

        def ranked(det: Any, ranking: Any) -> None:
            base = ranking.loc[ranking["plan"] == "no_response", "induced_vehicle_hours"]
            none = float(base.iloc[0]) if len(base) else math.nan
            say(f"  responses for {det.edge}, best first (incident vehicle-hours; no response {none:.1f}):")
            for r in ranking.head(3).itertuples():
                say(f"    {r.rank}. {r.plan}: {r.induced_vehicle_hours:.1f}")

        client = None
        if publish:
            from .service.client import PlanClient

            client = PlanClient(publish, token or "")
        try:
            res = run_live(sc, source, table, network=net, demand=demand, respond=not no_respond, check=check, client=client,
                           progress=progress, on_ranking=ranked, step_s=step, horizon_s=horizon)
        finally:
            if client is not None:
                client.close()
        output.mkdir(parents=True, exist_ok=True)
        with atomic_path(output / "steps.csv") as tmp:
            steps_table(res.steps).to_csv(tmp, index=False, float_format="%.3f")
        with atomic_path(output / "incidents.csv") as tmp:
            pd.DataFrame([{"edge": d.edge, "capacity_left": d.capacity_factor, "begin_s": d.begin_s,
                           "found_s": d.found_s, "stations": " ".join(d.stations)} for d in res.detections],
                         columns=["edge", "capacity_left", "begin_s", "found_s", "stations"]).to_csv(tmp, index=False)
        for ident, ranking in res.rankings.items():
            with atomic_path(output / f"ranking_{ident}.csv") as tmp:
                ranking.to_csv(tmp, index=False, float_format="%.3f")
        with atomic_path(output / "quality.csv") as tmp:
            prediction_quality(res.model).to_csv(tmp, index=False, float_format="%.3f")
        with atomic_path(output / "dropped.csv") as tmp:
            pd.DataFrame(res.dropped, columns=["source", "reason"]).to_csv(tmp, index=False)
    except (MobilityError, FeedError) as exc:
        raise fail(exc) from None
    q = prediction_quality(res.model)
    q30 = q[q["lead_s"] == 1800.0]
    typer.echo(f"{len(res.steps)} steps in {res.seconds['total']:.1f} s; {len(res.detections)} incident(s) found; "
               f"{len(res.dropped)} record(s) dropped"
               + (f"; 30-min predictions: GEH < 5 at {q30['geh_under_5'].mean():.0%} of stations on average"
                  if len(q30) else ""))
    for ident, (plan, reason) in res.recommended.items():
        typer.echo(f"{ident}: recommended {plan} — {reason}")
    if res.submitted:
        typer.echo(f"submitted {len(res.submitted)} draft(s) to {publish}")
    typer.echo(f"written in {output}: steps.csv, incidents.csv, quality.csv, dropped.csv"
               + (", " + ", ".join(f"ranking_{i}.csv" for i in res.rankings) if res.rankings else ""))


def register(app: typer.Typer) -> None:
    """Add the ``live`` command to ``app``."""
    app.command("live")(live_cmd)
