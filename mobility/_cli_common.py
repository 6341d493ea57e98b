"""Helpers every ``mobility`` subcommand shares: errors, seeds, progress, saving, and the one ``compare`` step.

This module imports no subcommand; the subcommands import it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from ._errors import InputError, MobilityError

__all__ = ["CompareOptions", "compare_command", "fail", "figure_path", "parse_seeds", "progress_bar", "report", "save_figure",
           "split_words", "writable"]


def fail(exc: BaseException) -> typer.Exit:
    """Print ``error: ...`` on stderr (one line, no traceback) and return the exit to raise (code 2)."""
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure through a temporary file (format from the suffix)."""
    from ._io import atomic_path

    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        raise InputError(f"cannot write {path}: unknown figure format {fmt!r}; use .png, .svg or .pdf")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)


FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def figure_path(*paths: Path | None) -> None:
    """Refuse, before any work, a figure path that cannot be written or whose format matplotlib does not write."""
    writable(*paths)
    for p in paths:
        if p is not None and p.suffix.lower() not in FIGURE_SUFFIXES:
            raise InputError(f"cannot write figure {p}: unknown format {p.suffix or '(none)'!r}; use "
                             + ", ".join(FIGURE_SUFFIXES))


def can_write_in(folder: Path) -> bool:
    """True when a file can really be created in ``folder`` (a probe file, removed at once): root may pass
    ``os.access`` in folders no file can be written to (``/proc``, ``/sys``, read-only mounts)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mobility-probe-"):
            return True
    except OSError:
        return False


def writable(*paths: Path | None, suffix: str | None = None, what: str = "results") -> None:
    """Refuse, before any work, an output path whose folder is missing, that names a folder, or has the wrong suffix."""
    for p in paths:
        if p is None:
            continue
        if p.is_dir():
            raise InputError(f"cannot write {p}: it is a folder; give a file name")
        folder = p.parent if str(p.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(f"cannot write {p}: folder {p.parent} does not exist; create it first")
        if not os.access(folder, os.W_OK) or not can_write_in(folder):
            raise InputError(f"cannot write {p}: folder {folder} is not writable; choose another place")
    if suffix is not None and paths and paths[0] is not None and paths[0].suffix != suffix:
        raise InputError(f"--output {paths[0]}: {what} are {suffix} files; use a {suffix} file name")


def parse_seeds(text: str) -> list[int]:
    """``5`` -> seeds 1..5; ``3,7,9`` -> those seeds."""
    from .seeds import check_seed

    try:
        if "," in text:
            seeds = [int(x) for x in text.split(",") if x.strip()]
        else:
            n = int(text)
            if not 1 <= n <= 100_000:
                raise ValueError
            seeds = list(range(1, n + 1))
    except ValueError:
        raise InputError(f"--seeds {text!r}: give a count from 1 to 100000 (5 runs seeds 1-5) or a list (1,2,3)") from None
    if len(set(seeds)) != len(seeds) or not seeds:
        raise InputError(f"--seeds {text!r}: seeds must be distinct")
    return [check_seed(s, what="--seeds") for s in seeds]


def split_words(text: str, *, option: str) -> list[str]:
    """Split ``a.yaml,optimal:cover:p=8,radius_m=400,random:p=6,seed=2`` into words: a ``key=value`` piece
    belongs to the word before it when that word has a ``:``."""
    words: list[str] = []
    for piece in (x.strip() for x in text.replace(";", ",").split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and words and ":" in words[-1]:
            words[-1] += "," + piece
        else:
            words.append(piece)
    if not words:
        raise InputError(f"{option} is empty; name at least one")
    return words


def progress_bar(console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


def report(console: Any, total: int | None, run: Callable[[Any], Any], fmt: Callable[[Any], str], *, output: Path | None,
           table: Path | None, plots: Path | None = None, figures: Callable[[Any], Any] | None = None,
           quiet: bool = False, description: str = "simulating") -> Any:
    """``run(progress)`` under a progress bar of ``total`` runs; the Dataset saved to ``output``, the table
    (``fmt(ds)``) to ``table`` when given, and the ``(file name, figure)`` pairs ``figures(ds)`` yields into
    the folder ``plots``. Prints the table and where the results went; returns the Dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._io import write_text_atomic
    from .results import save_results

    if quiet:
        ds = run(None)
    else:
        with progress_bar(console) as bar:
            task = bar.add_task(description, total=total, last="")
            ds = run(lambda i, n, what: bar.update(task, completed=i, total=n, last=what))
    if output is not None:
        save_results(ds, output)
    text = fmt(ds)
    if table is not None:
        write_text_atomic(table, text + "\n")
    if plots is not None and figures is not None:
        plots.mkdir(parents=True, exist_ok=True)
        for name, fig in figures(ds):
            save_figure(fig, plots / name)
            plt.close(fig)
    typer.echo(text)
    if output is not None:
        console.print(f"results: {output}")
    return ds


# ---- the one compare step of every application ------------------------------------------------
SeedsOpt = Annotated[str, typer.Option(help="count (5 = seeds 1-5) or a comma-separated list")]
WorkersOpt = Annotated[int, typer.Option(min=1, max=4096, help="simulations in parallel (one process each)")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file (.nc)")]
PlotsOpt = Annotated[Path | None, typer.Option(help="folder for the figures (created if missing)")]
TableOpt = Annotated[Path | None, typer.Option(help="also write the table as Markdown")]
SchedulerOpt = Annotated[str | None, typer.Option(help="run on a Dask scheduler at this address (tcp://host:8786)")]
TimeLimitOpt = Annotated[float | None, typer.Option("--time-limit", min=0.001, help="hard limit per run, s")]
RetriesOpt = Annotated[int, typer.Option(min=0, max=100, help="re-runs after a crash, a killed worker or the time limit")]
WorkdirOpt = Annotated[Path | None, typer.Option(help="keep every run under this folder; running again reuses finished runs")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
TokenOpt = Annotated[str | None, typer.Option(envvar="MOBILITY_TOKEN", help="bearer token with plans:draft "
                                              "(or the MOBILITY_TOKEN environment variable)")]


def check_publish(publish: str | None, token: str | None) -> None:
    """``--publish`` given without a token is an input error."""
    if publish and not token:
        raise InputError("--publish needs a token with plans:draft: --token or the MOBILITY_TOKEN environment variable")


class CompareOptions:
    """The options every ``<application> compare`` takes, gathered."""

    def __init__(self, seeds: str, workers: int, output: Path | None, plots: Path | None, table: Path | None,
                 scheduler: str | None, time_limit: float | None, retries: int, workdir: Path | None, quiet: bool) -> None:
        self.seeds, self.workers, self.output, self.plots, self.table = seeds, workers, output, plots, table
        self.scheduler, self.time_limit, self.retries, self.workdir, self.quiet = scheduler, time_limit, retries, workdir, quiet


def compare_command(study_file: Path, kind: str, words: Sequence[Any] | tuple[str, str], opts: CompareOptions, *,
                    update: Callable[[Any], Any] | None = None, before: Callable[[Any, Any], None] | None = None,
                    **options: Any) -> Any:
    """Read the study once, run ``words`` x seeds on the executor, save, tabulate and plot.

    ``words`` is a list of alternatives, or ``(text, option)``: the comma-separated text of that option.
    ``update(spec)`` may change the spec first (a command-line override); ``before(console, study)`` may
    print what is about to run. Exits with code 2 and a one-line error on bad input.
    """
    from rich.console import Console

    from .study import compare, format_table, get_kind, study_figures

    console = Console()
    client = None
    try:
        if isinstance(words, tuple):
            words = split_words(words[0], option=words[1])
        writable(opts.output, suffix=".nc")
        writable(opts.table)
        seeds = parse_seeds(opts.seeds)
        k = get_kind(kind)
        spec = k.read(study_file)
        if update is not None:
            spec = update(spec)
        study = k.resolve(spec)
        alts = k.alternatives(study, list(words), **options)
        if before is not None:
            before(console, study, alts)
        if opts.scheduler is not None:
            from distributed import Client

            client = Client(opts.scheduler)
        return report(console, len(alts) * len(seeds),
                      lambda progress: compare(study, alts, seeds=seeds, workers=opts.workers, client=client,
                                               time_limit_s=opts.time_limit, retries=opts.retries, workdir=opts.workdir,
                                               progress=progress),
                      format_table, output=opts.output, table=opts.table, plots=opts.plots,
                      figures=lambda ds: study_figures(study, ds), quiet=opts.quiet,
                      description=f"{study.name}: {len(alts)} {k.what} x {len(seeds)} seeds")
    except MobilityError as exc:
        raise fail(exc) from None
    finally:
        if client is not None:
            client.close()


def init_command(kind: str, network: Path, output: Path, *, centre: str | None = None, force: bool = False) -> None:
    """``mobility parking|charging init``: write a study and its traffic scenario with the network's defaults."""
    from .defaults import write_study
    from .study import get_kind, load_study

    try:
        study, traffic = write_study(kind, network, output, centre=centre, force=force)
        desc = get_kind(kind).describe(load_study(study, kind=kind))  # it reads back, against the network
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"wrote {study} and {traffic}: {desc}")
    typer.echo(f"next: mobility {kind} compare {study}")
