"""Sphinx extension for the toolkit's site: API pages from the public API, the guide from the README's sections,
the CLI reference, benchmark pages.

The pages it writes (``api/``, ``guide/``, ``cli/``, ``benchmarks/``) are generated at each build from the code and from
``benchmarks/results/``; they are not kept in the repository.
"""

from __future__ import annotations

import inspect
import re
import os
from pathlib import Path

import typer

from mobility._api import public_modules, public_objects
from mobility.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"



def _write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (Sphinx rebuilds only what changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
    return re.sub(r":(?:py:)?(\w+):`", r"{\1}`", first)  # reST roles in MyST syntax


def _api_pages(docs: Path = DOCS) -> list[str]:
    """One page per public module; each function or class is documented once, on its first subject module."""
    modules = public_modules()
    claimed: dict[int, str] = {}
    order = modules[1:] + modules[:1]  # subject modules claim first, the top-level page documents the rest
    for module in order:
        for name, obj in public_objects(module):
            claimed.setdefault(id(obj), f"{module}.{name}")
    written = []
    for module in modules:
        objs = public_objects(module)
        if not objs:
            continue
        lines = [f"# `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", "   :no-members:", "```", "",
                 "| name | what it does |", "|---|---|"]
        for name, obj in objs:
            lines.append(f"| {{py:obj}}`{name} <{claimed[id(obj)]}>` | {_summary(obj)} |")
        lines.append("")
        for name, obj in objs:
            target = claimed[id(obj)]
            if target != f"{module}.{name}":
                continue
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            lines += ["```{eval-rst}", f".. {kind}:: {target}", *(["   :members:"] if kind == "autoclass" else []),
                      "```", ""]
        _write(docs / "api" / f"{module}.md", "\n".join(lines))
        written.append(module)
    return written


def _cli_help(cmd, ctx) -> list[str]:
    """The help of ``cmd`` and, below it, of each of its subcommands, as MyST sections."""
    path = ctx.command_path
    depth = min(path.count(" ") + 1, 4)
    title = "Commands of `mobility`" if depth == 1 else f"`{path}`"
    out = [f"{'#' * (depth + 1)} {title}", "", "```text", cmd.get_help(ctx).rstrip(), "```", ""]
    for name in getattr(cmd, "commands", {}):
        sub = cmd.commands[name]
        if getattr(sub, "hidden", False):
            continue
        out += _cli_help(sub, sub.context_class(sub, info_name=name, parent=ctx, max_content_width=100,
                                                terminal_width=100))
    return out


def _cli_page(docs: Path = DOCS) -> None:
    """The CLI reference, from the ``mobility`` command's own help texts."""
    cmd = typer.main.get_command(app)
    ctx = cmd.context_class(cmd, info_name="mobility", max_content_width=100, terminal_width=100)
    lines = ["# Command line", "", "Generated from the `mobility` command's own help: `mobility COMMAND --help` "
             "prints the same.", ""] + _cli_help(cmd, ctx)
    _write(docs / "cli" / "index.md", "\n".join(lines))


def readme_sections(readme: Path = ROOT / "README.md") -> list[str]:
    """The README's ``## `` headings outside code blocks, in order."""
    out, fenced = [], False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            out.append(line)
    return out


#: The README sections the getting-started page holds; the guide has a page for each of the others.
STARTED = ("## Two commands", "## The documentation site")


def _guide_pages(docs: Path = DOCS) -> list[str]:
    """One guide page per README section (after getting started), each included from the README itself."""
    text = (ROOT / "README.md").read_text()
    heads = readme_sections()
    twice = [h for h in heads if text.count(h) > 1]
    if twice:
        raise ValueError(f"README.md: the heading(s) {twice} also appear elsewhere in the file; the guide pages "
                         "include the README section by section and need each heading once")
    out = []
    for k, head in enumerate(heads):
        if head in STARTED:
            continue
        title = head[3:].strip()
        slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        name = f"{k:02d}_{slug}"
        opts = [f':start-after: "{head}"'] + ([f':end-before: "{heads[k + 1]}"'] if k + 1 < len(heads) else [])
        _write(docs / "guide" / f"{name}.md", "\n".join([f"# {title}", "", "```{include} ../../README.md", *opts,
                                                         "```", ""]))
        out.append(name)
    return out


def _benchmark_pages(docs: Path = DOCS) -> list[str]:
    """One page per results table in ``benchmarks/results/``."""
    out = []
    for md in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        rel = os.path.relpath(md, docs / "benchmarks")
        _write(docs / "benchmarks" / md.name, f"```{{include}} {rel}\n```\n")
        out.append(md.stem)
    return out


def _generate(app_) -> None:
    _api_pages()
    _guide_pages()
    _cli_page()
    _benchmark_pages()


def setup(app_):
    """Register the page generator with Sphinx.

    Parameters
    ----------
    app_ : sphinx.application.Sphinx
        The Sphinx application.

    Returns
    -------
    dict
        The extension's metadata.
    """
    app_.connect("builder-inited", _generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
