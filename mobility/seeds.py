"""Seeds: one helper for every random stream the toolkit draws.

A run's seed is the root; every use of randomness asks for a named sub-stream of it, so streams for
different purposes (demand, a vehicle's battery, a driver's compliance, payment times) never overlap,
whatever the seed values. Built on :class:`numpy.random.SeedSequence`: the names are hashed into the
``spawn_key``, so ``rng(1, "battery", "ev7")`` is the same stream in every process and every run.

>>> a = rng(1, "demand").random()
>>> b = rng(1, "demand").random()
>>> a == b and a != rng(2, "demand").random() and a != rng(1, "other").random()
True
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._errors import InputError

__all__ = ["check_seed", "rng", "sub_seed"]

#: Largest seed SUMO accepts (its option is a 32-bit signed int).
MAX_SEED = 2**31 - 1


def check_seed(seed: object, *, what: str = "seed") -> int:
    """``seed`` as an int in ``0..2**31-1``, or an InputError saying how to fix it.

    Parameters
    ----------
    seed : int
    what : str
        How the error names the seed (an option or field).

    Returns
    -------
    int
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputError(f"{what}: give a whole number from 0 to {MAX_SEED}, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise InputError(f"{what}: {seed} is outside 0..{MAX_SEED} (SUMO's seed range)")
    return int(seed)


def _key(names: tuple[str | int, ...]) -> tuple[int, ...]:
    return tuple(int.from_bytes(hashlib.sha256(str(n).encode()).digest()[:4], "little") for n in names)


def _sequence(seed: int, names: tuple[str | int, ...]) -> np.random.SeedSequence:
    if not names:
        raise InputError("name the sub-stream (e.g. rng(seed, 'demand')) so that streams cannot collide")
    return np.random.SeedSequence(check_seed(seed), spawn_key=_key(names))


def rng(seed: int, *names: str | int) -> np.random.Generator:
    """The generator of the sub-stream ``names`` of ``seed`` (e.g. ``rng(seed, "battery", vehicle_id)``).

    Parameters
    ----------
    seed : int
    *names : str or int
        The sub-stream's names: the same names give the same stream whatever else draws from ``seed``.

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng(_sequence(seed, names))


def sub_seed(seed: int, *names: str | int) -> int:
    """A seed for a tool that takes an integer (SUMO's ``--seed``), drawn from the sub-stream ``names``.

    Parameters
    ----------
    seed : int
    *names : str or int

    Returns
    -------
    int
        In ``0..2**31-1``.
    """
    return int(_sequence(seed, names).generate_state(1, np.uint32)[0] % (MAX_SEED + 1))
