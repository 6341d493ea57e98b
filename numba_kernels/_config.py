"""Numba compilation flags, in one place.

``cache=True`` keeps compiled machine code in ``__pycache__`` so a second process starts at once;
``nogil=True`` lets callers run kernels from threads; ``fastmath`` stays off because the assignment
kernels rely on exact IEEE comparisons (ties in Dijkstra, zero flows in path shifts).
"""

from __future__ import annotations

import numba

JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
PARALLEL_JIT = dict(JIT, parallel=True)

njit = numba.njit(**JIT)
pjit = numba.njit(**PARALLEL_JIT)


def threads() -> int:
    """Threads numba's parallel kernels use now (``numba.set_num_threads`` changes it)."""
    return int(numba.get_num_threads())
