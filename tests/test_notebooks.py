"""Every notebook in notebooks/ runs top to bottom without error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import ROOT, shared_path

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Shorter windows and fewer seeds for the suite, injected after a notebook's cell tagged "parameters" (as
#: papermill does): the notebooks' story is the same, the suite's time stays within CI's limit.
QUICK = {
    "02_assignment.ipynb": "chicago_rgap = 1e-5\nchicago_bfw_iter = 40",
    "03_signal_control.ipynb": "end_s = 900.0\nseeds = [1]",
    "04_sweeps.ipynb": "end_s = 600\nlevels = [600, 1400]\nseeds = 1",
    "05_toll_plaza.ipynb": "day_s = (32400.0, 36000.0)\ncurve_s = 600.0",
    "06_ev_charging.ipynb": "seeds = [1]",
    "07_parking_guidance.ipynb": "end_s = 3000.0",
    "09_calibration.ipynb": "seeds = [1]",
    "10_incident_command.ipynb": "end_s = 1200.0\nincident_begin_s, incident_duration_s = 300.0, 600.0\ntop = 1\n"
                                 "seeds, check_seeds = [1], [2]",
    "11_live_operations.ipynb": "replay_end_s = 2100.0\nprior = 'scenario'",
    "12_buses_and_taxis.ipynb": "end_s = 900.0\nseeds = [1]\noptions = ['none', 'early-green']\ntaxi_sizes = [12]\n"
                                "taxi_seeds = [1]\ntaxi_end_s = 900.0",
}


def _inject(nb: nbformat.NotebookNode, source: str) -> None:
    """Put ``source`` in a cell right after the notebook's "parameters" cell."""
    at = next((k for k, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    assert at is not None, "a notebook with quick parameters needs a cell tagged 'parameters'"
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    needs = nb.metadata.get("mobility", {}).get("requires_shared")
    if needs:
        shared_path(needs)  # skips, with the reason, when ../shared/benchmarks is absent
    if path.name in QUICK:
        _inject(nb, QUICK[path.name])
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
