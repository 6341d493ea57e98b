"""A small client of the plan service, for the centre's side (poll, fetch) and the optimiser's (submit).

>>> from mobility.service import PlanClient
>>> with PlanClient("http://127.0.0.1:8000", token) as c:     # doctest: +SKIP
...     for doc in c.poll():                                   # new publications and retirements
...         print(doc["junction"], doc["version"], doc["state"])
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ..signals.plan import SignalPlan

__all__ = ["PlanClient", "ServiceError"]


class ServiceError(Exception):
    """The service refused a request; ``problem`` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        kind = str(problem.get("type", "")).rsplit(":", 1)[-1]
        super().__init__(f"HTTP {status} {kind}: {problem.get('detail') or problem.get('title') or problem}")

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Safety violations of a refused plan (kind, junction, stage, movements, message)."""
        return list(self.problem.get("violations", []))


class PlanClient:
    """HTTP client of one plan service.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``http://127.0.0.1:8000``.
    token : str
        Bearer token (``mobility tokens create``).
    timeout_s : float
    """

    def __init__(self, url: str, token: str, *, timeout_s: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.cursor: str | None = None
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def __enter__(self) -> PlanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise ServiceError(0, {"type": "urn:mobility:problem:unreachable", "title": "Service unreachable",
                                   "detail": f"{method} {self.url}{path}: {exc}"}) from exc
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"title": r.reason_phrase, "detail": r.text[:500]}
            raise ServiceError(r.status_code, problem)
        if r.headers.get("content-type", "").startswith("application/json"):
            return r.json()
        return r.text

    # ---- centre side ------------------------------------------------------------------------
    def published(self, updated_since: str | None = None) -> dict[str, Any]:
        """``{"cursor": ..., "versions": [...]}``: published versions (or changes since a cursor)."""
        return self._call("GET", "/published", params={"updated_since": updated_since} if updated_since else None)

    def poll(self) -> list[dict[str, Any]]:
        """Versions published or retired since the last poll (all published ones on the first)."""
        out = self.published(self.cursor)
        self.cursor = out["cursor"] or self.cursor
        return out["versions"]

    def published_plans(self) -> list[SignalPlan]:
        """Every published plan as a :class:`SignalPlan`."""
        return [SignalPlan.model_validate(d["signal_plan"]) for d in self.published()["versions"]]

    def version(self, plan: int, number: int) -> dict[str, Any]:
        return self._call("GET", f"/plans/{plan}/versions/{number}")

    def export(self, plan: int, number: int, fmt: str = "sumo") -> str | dict[str, Any]:
        """A version as SUMO XML (text) or GA/T 1049.2- / NTCIP 1202-style JSON."""
        return self._call("GET", f"/plans/{plan}/versions/{number}/export/{fmt}")

    def intersections(self) -> list[dict[str, Any]]:
        return self._call("GET", "/intersections")

    def plans(self) -> list[dict[str, Any]]:
        return self._call("GET", "/plans")

    def audit(self, after_seq: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/audit", params={"after_seq": after_seq})

    # ---- optimiser side ---------------------------------------------------------------------
    def submit(self, plan: SignalPlan, kpis: dict[str, float], provenance: dict[str, Any], *, comment: str = "",
               idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a draft version; retried once on a broken connection with the same Idempotency-Key."""
        key = idempotency_key or str(uuid.uuid4())
        body = {"plan": plan.model_dump(mode="json"), "kpis": kpis, "provenance": provenance, "comment": comment}
        try:
            return self._call("POST", "/plans/versions", json=body, headers={"Idempotency-Key": key})
        except ServiceError as exc:
            if exc.status != 0:
                raise
            return self._call("POST", "/plans/versions", json=body, headers={"Idempotency-Key": key})

    def submit_all(self, plans: Sequence[SignalPlan], kpis: dict[str, float], provenance: dict[str, Any],
                   *, comment: str = "") -> list[dict[str, Any]]:
        return [self.submit(p, kpis, provenance, comment=comment) for p in plans]

    def _move(self, action: str, plan: int, number: int, etag: str | None) -> dict[str, Any]:
        etag = etag or self.version(plan, number)["etag"]
        return self._call("POST", f"/plans/{plan}/versions/{number}/{action}", headers={"If-Match": etag})

    def approve(self, plan: int, number: int, etag: str | None = None) -> dict[str, Any]:
        return self._move("approve", plan, number, etag)

    def publish(self, plan: int, number: int, etag: str | None = None) -> dict[str, Any]:
        return self._move("publish", plan, number, etag)

    def retire(self, plan: int, number: int, etag: str | None = None) -> dict[str, Any]:
        return self._move("retire", plan, number, etag)

    # ---- incident response plans ------------------------------------------------------------
    def submit_response(self, plan: Any, valid_from: str, valid_to: str, kpis: dict[str, float],
                        provenance: dict[str, Any], *, comment: str = "") -> dict[str, Any]:
        """Submit a draft version of an incident response plan.

        Parameters
        ----------
        plan : ResponsePlan
        valid_from, valid_to : str
            ISO 8601 times: when it may be put in force, and by when it must be out of force.
        kpis : dict of str to float
            What SUMO measured for it (e.g. ``induced_vehicle_hours``).
        provenance : dict
            ``scenario_hash``, ``seeds``, ``toolkit_version``, ``sumo_version``.
        comment : str

        Returns
        -------
        dict
            The stored version's document (state ``draft``).
        """
        body = {"plan": plan.model_dump(mode="json"), "valid_from": valid_from, "valid_to": valid_to, "kpis": kpis,
                "provenance": provenance, "comment": comment}
        return self._call("POST", "/responses/versions", json=body)

    def response_versions(self, state: str | None = None) -> list[dict[str, Any]]:
        """Response plan versions (in ``state`` when given)."""
        return self._call("GET", "/responses/versions", params={"state": state} if state else None)

    def move_response(self, action: str, response: int, number: int) -> dict[str, Any]:
        """``approve``, ``publish`` or ``retire`` a response plan version (its current ETag is fetched)."""
        etag = self._call("GET", f"/responses/{response}/versions/{number}")["etag"]
        return self._call("POST", f"/responses/{response}/versions/{number}/{action}", headers={"If-Match": etag})
