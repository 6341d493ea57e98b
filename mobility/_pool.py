"""Simulation runs in spawned processes: one libsumo simulation per process, a fresh process per run."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from ._errors import InputError, SimulationError

__all__ = ["run_in_processes"]


def run_in_processes(fn: Callable[..., Any], jobs: Sequence[tuple[Hashable, tuple[Any, ...]]], *, workers: int,
                     progress: Callable[[int, int, str], None] | None = None,
                     describe: Callable[[Any], str] = str) -> dict[Any, Any]:
    """``{key: fn(*args)}`` for every ``(key, args)`` in ``jobs``, ``workers`` processes at a time.

    Even one worker is a separate process (libsumo keeps global state). ``progress(done, total, describe(key))``
    is called as runs finish. An InputError from a run is raised as it is; any other failure stops the rest and
    is raised as a SimulationError naming the run.
    """
    out: dict[Any, Any] = {}
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))), mp_context=ctx, max_tasks_per_child=1) as ex:
        futs = {ex.submit(fn, *args): key for key, args in jobs}
        for i, f in enumerate(as_completed(futs), 1):
            key = futs[f]
            try:
                out[key] = f.result()
            except InputError:
                for other in futs:
                    other.cancel()
                raise
            except Exception as exc:
                for other in futs:
                    other.cancel()
                raise SimulationError(f"{describe(key)} failed: {exc}") from exc
            if progress is not None:
                progress(i, len(jobs), describe(key))
    return out
