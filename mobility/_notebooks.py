"""Run the user-story notebooks in ``notebooks/``: for the test suite and for the documentation site.

A notebook may carry shorter windows and fewer seeds in its metadata (``metadata.mobility.quick``); with
``quick=True`` that source goes in a cell right after the cell tagged ``parameters``, as papermill does. Its story
is the same, it runs in a fraction of the time. ``metadata.mobility.requires_shared`` names the folder under
``../shared/benchmarks`` it reads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Public benchmark data beside the repository (``MOBILITY_SHARED`` names another parent folder); the tests read it
#: from here too.
SHARED = Path(os.environ.get("MOBILITY_SHARED", ROOT.parent / "shared")) / "benchmarks"


def needs_shared(path: Path) -> Path | None:
    """The folder under ``../shared/benchmarks`` notebook ``path`` reads, or None when it reads none.

    Parameters
    ----------
    path : Path
        A notebook file.

    Returns
    -------
    Path or None
        The folder it names in ``metadata.mobility.requires_shared`` (which may be absent on this machine).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    need = nb.metadata.get("mobility", {}).get("requires_shared")
    return SHARED / need if need else None


def execute_notebook(path: Path, out: Path | None = None, *, quick: bool = False, timeout_s: float = 600.0):
    """Execute notebook ``path`` top to bottom in a fresh kernel, in its own folder.

    Parameters
    ----------
    path : Path
        The notebook.
    out : Path, optional
        Where to write the executed notebook (atomically: a temporary name, then a rename).
    quick : bool
        Inject the notebook's quick parameters (``metadata.mobility.quick``) after its ``parameters`` cell.
    timeout_s : float, s
        Longest a single cell may run.

    Returns
    -------
    tuple of (nbformat.NotebookNode, float)
        The executed notebook and the wall time, s.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises (the notebook is not written).
    ValueError
        When ``quick`` is asked of a notebook with quick parameters but no cell tagged ``parameters``.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    source = nb.metadata.get("mobility", {}).get("quick")
    if quick and source:
        at = next((k for k, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
        if at is None:
            raise ValueError(f"{path}: quick parameters need a cell tagged 'parameters' (cell metadata tags); "
                             "tag the cell that sets the notebook's parameters")
        source = "# quick parameters (a shorter window, fewer seeds; the same story)\n" + source
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    t0 = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    # the kernel draws inline (figures kept in the notebook) whatever MPLBACKEND the caller runs under (Agg in CI)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client.execute(env=env)
    wall = time.perf_counter() - t0
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, out)
    return nb, wall
