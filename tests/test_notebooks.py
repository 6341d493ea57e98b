"""Every notebook in notebooks/ runs top to bottom without error.

The suite runs each on its quick parameters (``metadata.mobility.quick``: shorter windows and fewer seeds, the same
story) and keeps the executed copy in ``test-artifacts/notebooks/``, where ``docs/build.py --executed`` takes the
documentation site's story pages from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mobility._notebooks import execute_notebook, needs_shared

from .conftest import ROOT, shared_path

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXECUTED = ROOT / "test-artifacts" / "notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    need = needs_shared(path)
    if need is not None:
        shared_path(need.name)  # skips, with the reason, when ../shared/benchmarks is absent
    execute_notebook(path, EXECUTED / path.name, quick=True)  # a cell that raises fails the test with its traceback
