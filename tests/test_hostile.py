"""Hostile and malformed input over every file kind and option (the corpus in ``tests/hostile.py``): each case
exits with code 2 and one error line naming the file or option, with no traceback and nothing left behind.
The corpus runs in a subprocess whose address space is capped, so a bomb fails the test, not the machine."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .hostile import cases

#: Address-space cap of the corpus process (numba and SUMO's libraries map a few GB of virtual memory).
CAP_BYTES = 8 * 2**30


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    kinds = collections.Counter(c.kind for c in cases())
    assert sum(kinds.values()) >= 300
    assert set(kinds) >= {"scenario", "parking", "charging", "plaza", "sweep", "option", "tntp", "plans", "layout",
                          "schedule", "network", "csv", "orlib", "counts", "sumocfg", "additional", "routes",
                          "transit", "taxi"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> list[dict]:
    folder = tmp_path_factory.mktemp("hostile")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (%d, %d)); "
            "from tests.hostile import main; sys.exit(main(sys.argv[1:]))" % (CAP_BYTES, CAP_BYTES))
    n = 2  # two shards side by side, each in its own capped process
    procs = [subprocess.Popen([sys.executable, "-c", code, str(folder / f"outcomes{k}.json"), f"{k}/{n}"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for k in range(n)]
    outcomes = []
    for k, p in enumerate(procs):
        _, err = p.communicate(timeout=1200)
        assert p.returncode == 0, err[-3000:]
        outcomes += json.loads((folder / f"outcomes{k}.json").read_text())
    assert len(outcomes) == len(cases())  # every case ran once
    return outcomes


def _failures(outcomes: list[dict], what: str) -> list[str]:
    bad = []
    for o in outcomes:
        label = f"{o['kind']}: {o['name']}"
        if what == "traceback" and o["traceback"]:
            bad.append(f"{label}: {o['exception']}")
        elif what == "accepted" and o["exit"] == 0 and not o["may_pass"]:
            bad.append(label)
        elif what == "exit" and o["exit"] not in (0, 2):
            bad.append(f"{label}: exit {o['exit']}")
        elif what == "message" and o["exit"] == 2 and not (o["one_line"] and o["names_file"]):
            bad.append(f"{label}: {o['output'][-300:]}")
        elif what == "left" and o["left_behind"]:
            bad.append(f"{label}: {o['left_behind']}")
    return bad


@pytest.mark.parametrize("what", ["traceback", "accepted", "exit", "message", "left"])
def test_no_hostile_input_crashes_passes_or_leaves_files(outcomes: list[dict], what: str) -> None:
    assert _failures(outcomes, what) == []


def test_a_case_that_should_pass_does(tmp_path: Path) -> None:
    """The runner itself can tell a good file from a bad one (otherwise the corpus proves nothing)."""
    from .hostile import Case, _abs, _dump, _load, run_case

    good = Case("scenario", "good", {"s.yaml": _dump(_abs(_load("scenarios/signal_control/grid3x3.yaml")))},
                ["scenario", "validate", "s.yaml"])
    o = run_case(good, tmp_path / "good")
    assert o["exit"] == 0 and not o["traceback"]
    bad = Case("scenario", "bad", {"s.yaml": good.files["s.yaml"].replace(b"end_s: 7200", b"end_s: .nan")},
               ["scenario", "validate", "s.yaml"])
    o = run_case(bad, tmp_path / "bad")
    assert o["exit"] == 2 and o["one_line"] and o["names_file"]
