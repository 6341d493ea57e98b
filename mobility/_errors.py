"""The toolkit's exception family.

Every error raised for bad input says what is wrong, where (file, line, field, id) and how to fix it.
Input problems derive from :class:`ValueError`, run-time failures from :class:`RuntimeError`, so callers
can catch either the specific class or the builtin.
"""

from __future__ import annotations

from pathlib import Path


class MobilityError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class InputError(MobilityError, ValueError):
    """A file, argument or field the caller supplied is missing or invalid."""


class NetworkError(InputError):
    """A road network file cannot be read or is inconsistent."""


class ScenarioError(InputError):
    """A scenario file does not validate."""


class DemandError(InputError):
    """Demand refers to something the network does not have, or is otherwise invalid."""


class SimulationError(MobilityError, RuntimeError):
    """SUMO failed while running; the message carries SUMO's own error text."""


class SumoVersionError(MobilityError, RuntimeError):
    """The installed SUMO distributions (eclipse-sumo, libsumo, traci, sumolib) disagree."""


class SumoVersionWarning(UserWarning):
    """Issued at import time when the SUMO distributions disagree (simulations will refuse to start)."""


def missing_file(path: str | Path, what: str, *, hint: str = "") -> InputError:
    """An :class:`InputError` for a file that does not exist, naming the resolved path."""
    p = Path(path)
    msg = f"{what} not found: {p} (resolved to {p.resolve()})"
    if hint:
        msg += f"; {hint}"
    return InputError(msg)
