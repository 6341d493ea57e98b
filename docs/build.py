"""Build the documentation site: execute the story notebooks, then Sphinx with warnings as errors.

    python docs/build.py                      # every notebook on its own parameters, then the site
    python docs/build.py --quick              # the notebooks' quick parameters (as the test suite runs them)
    python docs/build.py --executed test-artifacts/notebooks   # take notebooks the test suite executed

The site is written to ``docs/_build/html`` (open ``index.html``). Executed notebooks are kept in
``docs/stories/`` and re-run only when their source is newer (``--force`` runs them all again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
STORIES = DOCS / "stories"


def _run(path: Path, out: Path, quick: bool, timeout_s: float) -> tuple[str, float, str]:
    from mobility._notebooks import execute_notebook

    try:
        _, wall = execute_notebook(path, out, quick=quick, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - reported with the notebook's name, the build stops
        return path.name, 0.0, f"{type(exc).__name__}: {str(exc)[-2000:]}"
    return path.name, wall, ""


def _absent(path: Path, need: Path, out: Path) -> None:
    """The story page of a notebook whose data is absent here: its cells without outputs, and why."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
        f"```{{note}}\nThis page was built without running the notebook: it reads `{need}`, absent where the site "
        "was built (public benchmark data beside the repository).\n```"))
    tmp = out.with_name(out.name + ".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)


def stories(quick: bool, executed: Path | None, force: bool, jobs: int, timeout_s: float) -> None:
    """Put an executed copy of every notebook in ``docs/stories/``; raise SystemExit naming any that failed."""
    from mobility._notebooks import needs_shared

    STORIES.mkdir(exist_ok=True)
    todo = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        out = STORIES / path.name
        given = executed / path.name if executed else None
        if given is not None and given.exists() and given.stat().st_mtime >= path.stat().st_mtime:
            shutil.copyfile(given, out.with_name(out.name + ".tmp"))
            os.replace(out.with_name(out.name + ".tmp"), out)
            print(f"  {path.name}: taken from {given}")
        elif not force and out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
            print(f"  {path.name}: up to date")
        elif (need := needs_shared(path)) is not None and not need.exists():
            _absent(path, need, out)
            print(f"  {path.name}: NOT executed, {need} is absent (the page says so)")
        else:
            todo.append(path)
    if not todo:
        return
    print(f"executing {len(todo)} notebook(s) on {jobs} process(es){' (quick parameters)' if quick else ''}...",
          flush=True)
    failed = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run, p, STORIES / p.name, quick, timeout_s) for p in todo]
        for k, fut in enumerate(as_completed(futures), 1):
            name, wall, error = fut.result()
            print(f"  [{k}/{len(todo)}] {name}: " + (f"FAILED: {error}" if error else f"{wall:.0f} s"), flush=True)
            if error:
                failed.append(name)
    if failed:
        raise SystemExit(f"notebooks that failed: {', '.join(failed)}; run them in Jupyter to see the cell, fix, "
                         "and build again")


def main(argv: list[str] | None = None) -> int:
    """Build the site; the exit status is Sphinx's (non-zero on any warning)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="run the notebooks on their quick parameters")
    ap.add_argument("--executed", type=Path, help="folder of notebooks already executed (e.g. by the test suite)")
    ap.add_argument("--force", action="store_true", help="execute every notebook again")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks run side by side")
    ap.add_argument("--timeout", type=float, default=1800.0, help="longest a notebook cell may run, s")
    ap.add_argument("--out", type=Path, default=DOCS / "_build" / "html", help="where the site goes")
    args = ap.parse_args(argv)
    import importlib.util

    missing = [m for m in ("sphinx", "myst_nb", "furo", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"docs/build.py: missing {', '.join(missing)}; install the documentation extras first: "
              f"{sys.executable} -m pip install -e \".[docs]\"", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    print("story notebooks:", flush=True)
    stories(args.quick, args.executed, args.force, args.jobs, args.timeout)
    print(f"sphinx (warnings are errors) -> {args.out}", flush=True)
    rc = subprocess.call([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          str(DOCS), str(args.out)])
    print(f"{'built' if rc == 0 else 'FAILED'} in {time.perf_counter() - t0:.0f} s: {args.out / 'index.html'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
