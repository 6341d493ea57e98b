"""``mobility sweep plan|run``: scenario sweeps on a local process pool or a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import fail
from ._errors import MobilityError

sweep_app = typer.Typer(no_args_is_help=True, help="Scenario sweeps: parameter grids x seeds, resumable, local or on Dask.")


@sweep_app.command("plan")
def plan_cmd(sweep: Annotated[Path, typer.Argument(help="sweep YAML file")]) -> None:
    """Show the runs of a sweep and which are finished already."""
    from rich.console import Console
    from rich.table import Table

    from .sweep import is_finished, load_sweep, plan_runs

    try:
        spec = load_sweep(sweep)
        runs = plan_runs(spec)
    except MobilityError as exc:
        raise fail(exc) from None
    t = Table(title=f"sweep {spec.name}: {len(runs)} runs -> {spec.output}")
    for col in ("run id", *spec.vary, "seed", "state"):
        t.add_column(col)
    done = 0
    for r in runs:
        finished = is_finished(spec.output / r.id)
        done += finished
        failed = (spec.output / r.id / "error.json").is_file()
        t.add_row(r.id, *(str(r.params[k]) for k in spec.vary), str(r.seed),
                  "finished" if finished else ("failed" if failed else "to run"))
    console = Console()
    console.print(t)
    console.print(f"{done} finished, {len(runs) - done} to run; base scenario {spec.base}; fixed overrides {spec.set or 'none'}")
    if spec.cluster is not None:
        from .sweep import cluster_job_script

        try:
            script = cluster_job_script(spec)
        except MobilityError as exc:
            raise fail(exc) from None
        console.print(f"each of the {spec.cluster.jobs} {spec.cluster.kind.upper()} jobs will run:", highlight=False)
        console.print(script, highlight=False, markup=False)


@sweep_app.command("run")
def run_cmd(
    sweep: Annotated[Path, typer.Argument(help="sweep YAML file")],
    scheduler: Annotated[str | None, typer.Option(help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=4096, help="local worker processes [default: the sweep "
                                                "file's]")] = None,
    retries: Annotated[int | None, typer.Option(min=0, max=100, help="re-runs of a crashed or killed run [default: the "
                                                "sweep file's]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run the runs that are not finished yet and combine every run into one Dataset.

    Exit code 1 when some runs failed after their retries (the Dataset is written all the same).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .sweep import load_sweep, plan_runs, run_sweep

    console = Console()
    try:
        spec = load_sweep(sweep)
        total = len(plan_runs(spec))
        if quiet:
            res = run_sweep(spec, workers=workers, scheduler=scheduler, retries=retries)
        else:
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
                          TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), console=console, transient=True) as bar:
                task = bar.add_task(f"sweep {spec.name}", total=None, counts="", eta="")

                def progress(done: int, failed: int, remaining: int, eta: float | None, event: str) -> None:
                    bar.update(task, completed=done + failed, total=done + failed + remaining,
                               counts=f"{done} done, {failed} failed, {remaining} to go",
                               eta=f"~{eta:.0f} s left" if eta is not None else "")
                    if event.startswith(("retry", "FAILED")):
                        console.print(event, highlight=False)

                res = run_sweep(spec, workers=workers, scheduler=scheduler, retries=retries, progress=progress)
    except MobilityError as exc:
        raise fail(exc) from None
    console.print(f"sweep {spec.name}: {total} runs: {len(res.ran)} run now, {len(res.skipped)} finished before, "
                  f"{len(res.failed)} failed; {res.seconds:.1f} s; results {res.path}")
    for rid, why in res.failed.items():
        console.print(f"  failed {rid}: {why}", highlight=False)
    if res.failed:
        raise typer.Exit(code=1)
