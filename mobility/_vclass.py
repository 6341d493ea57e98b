"""SUMO's vehicle classes as bit masks: the one table the network reader and :mod:`mobility.access` share."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._errors import InputError

__all__ = ["ALL", "VCLASSES", "mask_of", "names_of"]

# SUMO's vehicle classes (sumo/src/utils/common/SUMOVehicleClass.cpp), without the deprecated aliases
VCLASSES: tuple[str, ...] = (
    "private", "emergency", "authority", "army", "vip", "passenger", "hov", "taxi", "bus", "coach", "delivery",
    "truck", "trailer", "tram", "rail_urban", "rail", "rail_electric", "motorcycle", "moped", "bicycle",
    "pedestrian", "evehicle", "ship", "container", "cable_car", "subway", "aircraft", "wheelchair", "scooter",
    "drone", "custom1", "custom2",
)
_BIT = {v: np.uint64(1) << np.uint64(i) for i, v in enumerate(VCLASSES)}
ALL = np.uint64((1 << len(VCLASSES)) - 1)


def _bit(vclass: str) -> np.uint64:
    try:
        return _BIT[vclass]
    except KeyError:
        raise InputError(f"unknown vehicle class {vclass!r}; SUMO's classes are {', '.join(VCLASSES)}") from None


def mask_of(classes: Iterable[str]) -> np.uint64:
    """Bit mask of a set of SUMO vehicle class names (unknown and deprecated names are ignored).

    Parameters
    ----------
    classes : iterable of str
        SUMO vehicle class names.

    Returns
    -------
    numpy.uint64
    """
    m = np.uint64(0)
    for c in classes:
        b = _BIT.get(c)
        if b is not None:
            m |= b
    return m


def names_of(masks: np.ndarray) -> list[str]:
    """Space-separated class names of each mask in ``masks``."""
    m = np.asarray(masks, dtype=np.uint64)
    bits = [(m & b) != 0 for b in _BIT.values()]
    return [" ".join(v for v, on in zip(VCLASSES, col, strict=True) if on) for col in zip(*bits, strict=True)]

