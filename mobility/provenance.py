"""Provenance: the one function that stamps every Dataset the toolkit writes.

Every artefact carries the toolkit and SUMO versions, what it describes (a scenario or study hash),
the seeds, the command and the time it was made. Modules hand their own descriptive attributes
(``title``, a scenario name, solver settings) to :func:`stamp`; none of them writes the provenance
keys itself.

>>> import xarray as xr
>>> ds = stamp(xr.Dataset(), title="example", seeds=[1, 2])
>>> sorted(k for k in ds.attrs if k in PROVENANCE_KEYS)   # doctest: +NORMALIZE_WHITESPACE
['command', 'created', 'seeds', 'sumo_version', 'toolkit', 'toolkit_version']
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import json
import sys
from pathlib import Path
from collections.abc import Sequence
from typing import Any

__all__ = ["PROVENANCE_KEYS", "command_line", "record", "stamp", "sumo_version", "toolkit_version"]

#: Attributes :func:`stamp` owns.
PROVENANCE_KEYS = ("toolkit", "toolkit_version", "sumo_version", "spec_hash", "seed", "seeds", "command", "created")


def toolkit_version() -> str:
    """The installed toolkit's version (``0+unknown`` when run from a bare source tree).

    Returns
    -------
    str
    """
    try:
        return md.version("mobility")
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def sumo_version() -> str:
    """The installed eclipse-sumo version ('' when SUMO is not installed).

    Returns
    -------
    str
    """
    from ._sumo import installed_versions

    return installed_versions().get("eclipse-sumo") or ""


def command_line() -> str:
    """The command that is running, as a user would type it (``mobility ...`` for the CLI).

    Returns
    -------
    str
    """
    argv = list(sys.argv)
    if not argv or not argv[0]:
        return "python"
    if argv[0].endswith(("mobility", "mobility/cli.py")):
        return " ".join(["mobility", *argv[1:]])
    return " ".join([Path(argv[0]).name, *argv[1:]])


def record(*, spec_hash: str | None = None, seeds: Sequence[int] | int | None = None, command: str | None = None,
           sumo: bool = True) -> dict[str, Any]:
    """The provenance keys as a plain mapping (for JSON documents such as a plan's provenance).

    Parameters
    ----------
    spec_hash : str, optional
        Hash of what the document describes.
    seeds : int or list of int, optional
    command : str, optional
        The command that made it (default: this process's command line).
    sumo : bool
        Record the SUMO version.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {"toolkit": "mobility", "toolkit_version": toolkit_version()}
    if sumo:
        out["sumo_version"] = sumo_version()
    if spec_hash is not None:
        out["spec_hash"] = spec_hash
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        out["seed"] = int(seeds)
        out["seeds"] = [int(seeds)]
    elif seeds is not None:
        out["seeds"] = [int(x) for x in seeds]
    out["command"] = command if command is not None else command_line()
    out["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return out


def stamp(ds: Any, *, spec_hash: str | None = None, seeds: Sequence[int] | int | None = None,
          command: str | None = None, sumo: bool = True, **attrs: Any) -> Any:
    """Stamp ``ds`` (an :class:`xarray.Dataset`) in place with provenance and return it.

    Parameters
    ----------
    ds : xarray.Dataset
    spec_hash : str, optional
        Hash of what the Dataset describes (a scenario's or study's ``spec_hash``).
    seeds : int or list of int, optional
        The seed(s) behind the numbers; a single seed is also written as ``seed``.
    command : str, optional
        The command that made it (default: the Dataset's own ``command``, else this process's command line).
    sumo : bool
        Record the SUMO version (False for results that involve no SUMO run).
    **attrs
        Descriptive attributes of the caller (``title``, ``scenario_name``, ...); lists and mappings are
        stored as JSON so the Dataset stays netCDF-writable.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.
    """
    for k, v in attrs.items():
        if v is not None:
            ds.attrs[k] = json.dumps(v, sort_keys=True) if isinstance(v, dict | list | tuple) else v
    rec = record(spec_hash=spec_hash, seeds=seeds, command=command or ds.attrs.get("command") or None, sumo=sumo)
    rec["seeds"] = json.dumps(rec["seeds"]) if "seeds" in rec else None
    ds.attrs.update({k: v for k, v in rec.items() if v is not None})
    return ds
