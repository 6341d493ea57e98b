"""Where the SUMO binaries are, and whether the installed SUMO distributions agree.

The binaries come from the ``eclipse-sumo`` wheel; nobody has to set ``SUMO_HOME``.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import subprocess
import warnings
from pathlib import Path

from ._errors import SimulationError, SumoVersionError, SumoVersionWarning

#: The files a run writes in its work folder, by role.
FILES = {
    "routes": "routes.rou.xml",
    "outputs": "outputs.add.xml",
    "zones": "zones.add.xml",
    "edges": "edgedata.xml",
    "trips": "tripinfo.xml",
    "summary": "summary.xml",
    "statistics": "statistics.xml",
    "signals": "tls_switches.xml",
    "errors": "sumo-errors.log",
    "stderr": "sumo-stderr.log",
}

SUMO_DISTRIBUTIONS = ("eclipse-sumo", "libsumo", "traci", "sumolib")


def installed_versions() -> dict[str, str | None]:
    """Installed version of each SUMO distribution (``None`` where it is not installed).

    Returns
    -------
    dict of str to str or None
        ``{distribution: version}`` for eclipse-sumo, libsumo, traci and sumolib.
    """
    out: dict[str, str | None] = {}
    for name in SUMO_DISTRIBUTIONS:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def version_problem(versions: dict[str, str | None] | None = None) -> str | None:
    """A sentence describing a missing or mismatched SUMO distribution, or ``None`` when all agree."""
    versions = installed_versions() if versions is None else versions
    missing = [k for k, v in versions.items() if v is None]
    if missing:
        return (
            f"SUMO distribution(s) not installed: {', '.join(missing)}; "
            "install them with: pip install eclipse-sumo libsumo traci sumolib (all the same version)"
        )
    distinct = sorted({v for v in versions.values() if v is not None})
    if len(distinct) > 1:
        listing = ", ".join(f"{k}=={v}" for k, v in versions.items())
        newest = distinct[-1]
        return (
            f"SUMO distributions disagree ({listing}); results would depend on which one runs. Fix with: "
            f"pip install eclipse-sumo=={newest} libsumo=={newest} traci=={newest} sumolib=={newest}"
        )
    return None


def warn_on_version_problem() -> None:
    """Issue a :class:`SumoVersionWarning` at import time when the distributions disagree."""
    problem = version_problem()
    if problem:
        warnings.warn(problem, SumoVersionWarning, stacklevel=3)


def require_consistent_versions() -> str:
    """Raise :class:`SumoVersionError` unless all SUMO distributions agree; return the version."""
    versions = installed_versions()
    problem = version_problem(versions)
    if problem:
        raise SumoVersionError(problem)
    return str(versions["eclipse-sumo"])


@functools.cache
def sumo_home() -> Path:
    """The SUMO installation inside the ``eclipse-sumo`` wheel."""
    try:
        import sumo  # the eclipse-sumo wheel
    except ImportError as exc:  # pragma: no cover - the wheel is a core dependency
        raise SumoVersionError(
            "the eclipse-sumo wheel is not installed; install it with: pip install eclipse-sumo"
        ) from exc
    return Path(sumo.SUMO_HOME)


def binary(name: str) -> Path:
    """Absolute path of a SUMO binary (``sumo``, ``sumo-gui``, ``netconvert``, ``netgenerate``...)."""
    exe = sumo_home() / "bin" / name
    if os.name == "nt":
        exe = exe.with_suffix(".exe")
    if not exe.exists():
        raise SumoVersionError(f"SUMO binary {name!r} not found at {exe}; reinstall with: pip install --force-reinstall eclipse-sumo")
    return exe


def sumo_env() -> dict[str, str]:
    """Environment for SUMO subprocesses: the caller's, with ``SUMO_HOME`` pointing at the wheel."""
    env = dict(os.environ)
    env["SUMO_HOME"] = str(sumo_home())
    return env


def run_tool(name: str, args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Run a SUMO command-line tool; raise :class:`SimulationError` with its error text on failure."""
    cmd = [str(binary(name)), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=sumo_env(), check=False)
    if proc.returncode != 0:
        text = sumo_error_text(proc.stderr + proc.stdout) or (proc.stderr or proc.stdout).strip()
        raise SimulationError(f"{what} failed ({name} exit code {proc.returncode}): {text}")
    return proc


def sumo_error_text(text: str) -> str:
    """The ``Error:`` lines of SUMO's output, joined on one line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("Error", "Fatal"))]
    return " | ".join(lines)
