"""The documentation site's generated pages: every public function and class documented exactly once, every
command of the CLI in its reference, every benchmark table on a page (Sphinx itself runs in CI: docs/build.py)."""

from __future__ import annotations

import importlib
import importlib.util
import re

import typer

from mobility._api import public_api, public_modules
from mobility.cli import app

from .conftest import ROOT


def _ext():
    spec = importlib.util.spec_from_file_location("mobility_docs", ROOT / "docs" / "_ext" / "mobility_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_api_pages_document_every_public_object_once(tmp_path) -> None:
    pages = _ext()._api_pages(tmp_path)
    assert pages[0] == "mobility" and set(pages) <= set(public_modules())
    text = "\n".join((tmp_path / "api" / f"{m}.md").read_text() for m in pages)
    documented = re.findall(r"^\.\. auto(?:function|class):: (\S+)$", text, flags=re.M)
    assert len(documented) == len(set(documented)), "an object is documented twice"
    # each documented name resolves to a distinct public object, and every public object is there
    objs = []
    for name in documented:
        module, attr = name.rsplit(".", 1)
        objs.append(getattr(importlib.import_module(module), attr))
    assert len({id(o) for o in objs}) == len(objs)
    assert {id(o) for o in objs} == {id(o) for o in public_api().values()}


def test_cli_page_lists_every_command(tmp_path) -> None:
    _ext()._cli_page(tmp_path)
    text = (tmp_path / "cli" / "index.md").read_text()

    def paths(cmd, prefix):
        for name, sub in getattr(cmd, "commands", {}).items():
            if not sub.hidden:
                yield f"{prefix} {name}"
                yield from paths(sub, f"{prefix} {name}")

    commands = list(paths(typer.main.get_command(app), "mobility"))
    assert len(commands) > 20
    missing = [c for c in commands if f"`{c}`" not in text]
    assert not missing, missing
    assert "Usage: mobility signals optimise [OPTIONS]" in text  # each command's own help


def test_benchmark_pages_include_every_results_table(tmp_path) -> None:
    names = _ext()._benchmark_pages(tmp_path)
    assert names == sorted(p.stem for p in (ROOT / "benchmarks" / "results").glob("*.md"))
    for name in names:
        page = (tmp_path / "benchmarks" / f"{name}.md").read_text()
        rel = re.search(r"\{include\} (\S+)", page).group(1)
        assert (tmp_path / "benchmarks" / rel).resolve() == (ROOT / "benchmarks" / "results" / f"{name}.md")


def test_guide_pages_hold_every_readme_section_once(tmp_path) -> None:
    ext = _ext()
    names = ext._guide_pages(tmp_path)
    heads = ext.readme_sections()
    assert len(names) == len(heads) - len(ext.STARTED) and set(ext.STARTED) <= set(heads)
    starts = [re.search(r':start-after: "(.*)"', (tmp_path / "guide" / f"{n}.md").read_text()).group(1) for n in names]
    assert starts == [h for h in heads if h not in ext.STARTED]  # in the README's order, none twice
    # known sections: the guide has signal control and the cluster, never a line from inside a code block
    assert {"## Signal control", "## Running on a cluster"} <= set(starts) and "## Two commands" not in starts
    assert not any(h.startswith("## ") and h[3:].startswith("#") for h in starts)
    assert any(n.endswith("_signal_control") for n in names)
    getting_started = (ROOT / "docs" / "getting_started.md").read_text()
    assert f'"{ext.STARTED[0]}"' in getting_started and f'"{heads[len(ext.STARTED)]}"' in getting_started
