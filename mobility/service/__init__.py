"""Command-centre plan service: versioned, validated, authenticated signal plans with an audit trail.

Server side: :func:`create_app` (FastAPI) over a :class:`PlanStore` (one SQLite file), started by
``mobility serve``. Centre side: :class:`PlanClient` polls and fetches published plans; the optimiser
submits drafts with it (``mobility signals optimise ... --publish URL``).
"""

from .client import PlanClient, ServiceError
from .store import SCOPES, STATES, AuditCheck, PlanStore, Token

__all__ = ["SCOPES", "STATES", "AuditCheck", "PlanClient", "PlanStore", "ServiceError", "Token", "create_app"]


def create_app(db):  # noqa: ANN001, ANN201  (FastAPI is imported on first use)
    """The plan service (a FastAPI app) over the SQLite file ``db``, created if absent.

    Parameters
    ----------
    db : str, Path or PlanStore
        The store's SQLite file, or a store already open.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``mobility serve`` does).
    """
    from .app import create_app as _create

    return _create(db)
