"""The command-centre plan service (FastAPI).

The service publishes plan packages that the centre's traffic-management system pulls and imports
after human approval; it never drives field controllers. Resources:

- ``GET /intersections``, ``GET /intersections/{id}``: the controller and stage model of each signal,
  imported from a network with ``mobility intersections import``;
- ``POST /plans/versions``: submit a draft version of a plan (safety-checked against the stored
  intersection; ``Idempotency-Key`` honoured); ``GET /plans``, ``GET /plans/{plan}/versions``,
  ``GET /plans/{plan}/versions/{n}`` (with an ``ETag``);
- ``POST /plans/{plan}/versions/{n}/approve|publish|retire`` with ``If-Match``: the workflow
  draft -> approved -> published -> retired; the approver must not be the author;
- ``GET /published?updated_since=T``: what the centre polls;
- ``GET /plans/{plan}/versions/{n}/export/{sumo|gat1049|ntcip1202}``;
- ``POST /responses/versions``, ``GET /responses/versions``, ``GET /responses/{r}/versions/{n}``,
  ``POST /responses/{r}/versions/{n}/approve|publish|retire``: incident response plans (detour messages,
  metering) with a validity window, through the same workflow;
- ``GET /audit``: the hash-chained audit log.

Every error is an RFC 9457 problem document (``application/problem+json``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import InputError
from ..incident.response import ResponsePlan
from ..signals.plan import SignalPlan
from ..signals.safety import SignalModel, validate_plan
from ._guard import RequestGuard
from .formats import export_version
from .store import TRANSITIONS, Conflict, PlanStore, Token, canonical_json

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1.0.0"
PROBLEM = "application/problem+json"


def _problem(status: int, slug: str, title: str, detail: str, instance: str = "", headers: dict[str, str] | None = None,
             **extra: Any) -> JSONResponse:
    body = {"type": f"urn:mobility:problem:{slug}", "title": title, "status": status, "detail": detail,
            **({"instance": instance} if instance else {}), **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class Provenance(BaseModel):
    """Where a version comes from: enough to re-run the simulation that justified it."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    scenario_hash: str = Field(min_length=1, max_length=200, description="Scenario.spec_hash of the scenario measured")
    seeds: list[int] = Field(min_length=1, max_length=1000, description="SUMO seeds of the runs behind the KPIs")
    toolkit_version: str = Field(min_length=1, max_length=100)
    sumo_version: str = Field(min_length=1, max_length=100)


class VersionCreate(BaseModel):
    """A draft version: the plan, the KPIs measured in simulation, and their provenance."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    plan: SignalPlan
    kpis: dict[Annotated[str, Field(max_length=100)], Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=1, description="KPIs of the simulation that justified the plan, e.g. mean_delay_s")
    provenance: Provenance
    comment: str = Field("", max_length=4000)


class ResponseVersionCreate(BaseModel):
    """A draft version of an incident response plan: the plan, when it may be in force, the KPIs measured in
    simulation and their provenance."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    plan: ResponsePlan
    valid_from: str = Field(max_length=64, description="ISO 8601 time the plan may be put in force from")
    valid_to: str = Field(max_length=64, description="ISO 8601 time it must be out of force by")
    kpis: dict[Annotated[str, Field(max_length=100)], Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=1, description="KPIs of the simulation that justified the plan, e.g. induced_vehicle_hours")
    provenance: Provenance
    comment: str = Field("", max_length=4000)


class ResponseVersionDoc(BaseModel):
    response: int
    name: str
    incident: str
    version: int
    state: Literal["draft", "approved", "published", "retired"]
    etag: str
    revision: int
    valid_from: str
    valid_to: str
    author: str
    approved_by: str | None
    published_by: str | None
    retired_by: str | None
    created_at: str
    updated_at: str
    comment: str
    kpis: dict[str, float]
    provenance: dict[str, Any]
    response_plan: dict[str, Any]


class VersionDoc(BaseModel):
    plan: int
    junction: str
    name: str
    version: int
    state: Literal["draft", "approved", "published", "retired"]
    etag: str
    revision: int
    author: str
    approved_by: str | None
    published_by: str | None
    retired_by: str | None
    created_at: str
    updated_at: str
    comment: str
    kpis: dict[str, float]
    provenance: dict[str, Any]
    signal_plan: dict[str, Any]


class PublishedList(BaseModel):
    cursor: str | None = Field(description="pass as updated_since on the next poll (null: nothing new)")
    versions: list[VersionDoc]


class PlanSummary(BaseModel):
    plan: int
    junction: str
    name: str
    created_at: str
    versions: int
    latest_version: int | None
    published_version: int | None
    latest_state: Literal["draft", "approved", "published", "retired"] | None = None


class IntersectionSummary(BaseModel):
    id: str
    source: str
    updated_at: str
    n_links: int
    position: list[float] | None = Field(None, description="[x, y] in the network's coordinates, m")


class Caller(BaseModel):
    subject: str
    scopes: list[str]
    expires_at: str | None


class AuditVerification(BaseModel):
    ok: bool
    records: int
    head: str = Field(description="hash of the last record (the chain's head)")
    first_bad_seq: int | None
    problem: str


class AuditRecord(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    resource: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, unknown, expired or revoked token"},
    403: {"model": Problem, "description": "the token lacks the scope"},
    422: {"model": Problem, "description": "invalid request"},
}


def create_app(db: str | Path | PlanStore) -> FastAPI:
    """The service over the SQLite file ``db`` (created if absent)."""
    store = db if isinstance(db, PlanStore) else PlanStore(db)
    app = FastAPI(title="mobility plan service", version=API_VERSION,
                  description=(__doc__ or "").split("\n\n", 1)[1] if __doc__ else "")
    app.state.store = store
    bearer = HTTPBearer(auto_error=False)

    # Every change to the store moves its change stamp (meta.last_stamp), including token revocations made
    # by `mobility tokens revoke` in another process. Reads check the stamp (one indexed row) and reuse
    # what they computed under the same stamp: token look-ups and the published list.
    tokens_seen: dict[str, tuple[str, Token | None]] = {}
    published_seen: dict[str | None, tuple[str, bytes]] = {}

    def remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= 1024:
            cache.clear()
        cache[key] = value

    def need(scope: str) -> Any:
        async def dep(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Token:
            if cred is None or cred.scheme.lower() != "bearer":
                raise Conflict(401, "unauthenticated", "Authentication required",
                               "send Authorization: Bearer <token> (create one with `mobility tokens create`)")
            stamp = store.change_stamp()
            request.state.stamp = stamp
            hit = tokens_seen.get(cred.credentials)
            if hit is not None and hit[0] == stamp:
                tok = hit[1]
            else:
                tok = store.authenticate(cred.credentials)
                remember(tokens_seen, cred.credentials, (stamp, tok))
            if tok is None or tok.expired():
                raise Conflict(401, "invalid-token", "Invalid token", "the token is unknown, expired or revoked")
            if scope not in tok.scopes:
                raise Conflict(403, "insufficient-scope", "Insufficient scope",
                               f"this request needs scope {scope}; the token of {tok.subject!r} has "
                               f"{', '.join(sorted(tok.scopes))}", required_scope=scope)
            return tok
        return Depends(dep)

    def token_valid(raw: str) -> bool:
        tok = store.authenticate(raw)
        return tok is not None and not tok.expired()

    app.add_middleware(RequestGuard, authenticated=token_valid)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # a bug: still a problem document, no trace
        return _problem(500, "internal-error", "Internal server error",
                        f"the service failed on this request ({type(exc).__name__}); it is logged", str(request.url.path))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="mobility"'} if exc.status == 401 else None
        if exc.status == 403 and exc.slug == "insufficient-scope":
            headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{exc.extra["required_scope"]}"'}
        return _problem(exc.status, exc.slug, exc.title, exc.detail, str(request.url.path), headers, **exc.extra)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _problem(422, "invalid-input", "Invalid input", str(exc), str(request.url.path))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        head = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        return _problem(422, "invalid-request", "Invalid request",
                        f"{'.'.join(head['loc'])}: {head['msg']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                        str(request.url.path), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return _problem(exc.status_code, "http-" + str(exc.status_code), titles.get(exc.status_code, "HTTP error"),
                        str(exc.detail), str(request.url.path), getattr(exc, "headers", None))

    def found(doc: dict[str, Any] | None, what: str) -> dict[str, Any]:
        if doc is None:
            raise Conflict(404, "not-found", "Not found", f"{what} does not exist")
        return doc

    def versioned(doc: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
        return JSONResponse(doc, status_code=status, headers={"ETag": doc["etag"], **headers})

    @app.get("/health", tags=["service"], summary="Liveness and database check")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "intersections": store.ping(), "api_version": API_VERSION}

    @app.get("/intersections", tags=["intersections"], response_model=list[IntersectionSummary], responses=_ERRORS)
    def intersections(_: Token = need("plans:read")) -> list[dict[str, Any]]:
        return store.intersections()

    @app.get("/intersections/{tls}", tags=["intersections"], responses=_ERRORS)
    def intersection(tls: Annotated[str, PathParam(max_length=500)], _: Token = need("plans:read")) -> dict[str, Any]:
        return found(store.intersection(tls), f"intersection {tls!r}")

    @app.post("/plans/versions", tags=["plans"], status_code=201, response_model=VersionDoc,
              responses={**_ERRORS, 201: {"description": "the stored draft, with ETag and Location"},
                         409: {"model": Problem}})
    async def create_version(
        request: Request,
        body: VersionCreate,
        tok: Token = need("plans:draft"),
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """Submit a draft version; the plan must pass the safety validation against the stored intersection.

        The server numbers versions per (junction, plan_id): the body's ``plan.version`` is replaced.
        """
        plan = body.plan.model_dump(mode="json")
        idem = None
        if idempotency_key is not None:
            idem = (idempotency_key, hashlib.sha256(canonical_json(body.model_dump(mode="json")).encode()).hexdigest())

        def check(p: dict[str, Any], model: dict[str, Any]) -> None:
            violations = validate_plan(body.plan, SignalModel.from_dict(model))
            if violations:
                raise Conflict(422, "unsafe-plan", "Unsafe signal plan",
                               f"{len(violations)} safety rule(s) broken: {violations[0].message}",
                               violations=[v.as_dict() for v in violations])

        from starlette.concurrency import run_in_threadpool

        status, doc, replayed = await run_in_threadpool(
            store.create_version, plan, body.kpis, body.provenance.model_dump(mode="json"), body.comment, tok.subject,
            idempotency=idem, check=check)
        headers = {"Location": f"/plans/{doc['plan']}/versions/{doc['version']}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return versioned(doc, status, **headers)

    @app.get("/plans", tags=["plans"], response_model=list[PlanSummary], responses=_ERRORS)
    def plans(_: Token = need("plans:read")) -> list[dict[str, Any]]:
        return store.plans()

    @app.get("/plans/{plan}/versions", tags=["plans"], response_model=list[VersionDoc], responses=_ERRORS)
    def versions(plan: Annotated[int, PathParam(ge=1, le=2**62)],
                 state: Annotated[Literal["draft", "approved", "published", "retired"] | None, Query()] = None,
                 _: Token = need("plans:read")) -> list[dict[str, Any]]:
        return store.versions(plan=plan, state=state)

    @app.get("/plans/{plan}/versions/{number}", tags=["plans"], response_model=VersionDoc,
             responses={**_ERRORS, 404: {"model": Problem}})
    def version(plan: Annotated[int, PathParam(ge=1, le=2**62)], number: Annotated[int, PathParam(ge=1, le=2**62)],
                _: Token = need("plans:read")) -> JSONResponse:
        return versioned(found(store.version(plan, number), f"plans/{plan}/versions/{number}"))

    def transition_route(action: str) -> None:
        scope = TRANSITIONS[action][2]

        def move(plan: Annotated[int, PathParam(ge=1, le=2**62)], number: Annotated[int, PathParam(ge=1, le=2**62)],
                 if_match: Annotated[str | None, Header(max_length=200)] = None,
                 tok: Token = need(scope)) -> JSONResponse:
            if not if_match:
                raise Conflict(428, "precondition-required", "If-Match required",
                               f"send If-Match with the version's ETag (GET /plans/{plan}/versions/{number}) to {action} it")
            return versioned(store.transition(plan, number, action, tok.subject, if_match))

        frm, to, _ = TRANSITIONS[action]
        app.post(f"/plans/{{plan}}/versions/{{number}}/{action}", tags=["workflow"], response_model=VersionDoc,
                 name=action, summary=f"{action.capitalize()} a version ({' or '.join(frm)} -> {to}; scope {scope})",
                 responses={**_ERRORS, 404: {"model": Problem}, 409: {"model": Problem}, 412: {"model": Problem},
                            428: {"model": Problem}})(move)

    for action in TRANSITIONS:
        transition_route(action)

    @app.get("/published", tags=["centre"], response_model=PublishedList, responses=_ERRORS)
    async def published(request: Request,
                        updated_since: Annotated[str | None, Query(max_length=64, description="ISO 8601 time, exclusive; "
                                                                   "the cursor of the previous poll")] = None,
                        _: Token = need("plans:read")) -> Response:
        """Published versions; with ``updated_since``, every version published or retired after that time."""
        stamp = request.state.stamp
        hit = published_seen.get(updated_since)
        if hit is None or hit[0] != stamp:
            docs = store.published(updated_since)
            body = canonical_json({"cursor": docs[-1]["updated_at"] if docs else updated_since, "versions": docs}).encode()
            hit = (stamp, body)
            remember(published_seen, updated_since, hit)
        return Response(hit[1], media_type="application/json")

    @app.get("/plans/{plan}/versions/{number}/export/{fmt}", tags=["plans"],
             responses={**_ERRORS, 404: {"model": Problem},
                        200: {"content": {"application/json": {}, "application/xml": {}}}})
    def export(plan: Annotated[int, PathParam(ge=1, le=2**62)], number: Annotated[int, PathParam(ge=1, le=2**62)],
               fmt: Literal["sumo", "gat1049", "ntcip1202"], _: Token = need("plans:read")) -> Response:
        doc = found(store.version(plan, number), f"plans/{plan}/versions/{number}")
        out = export_version(doc, fmt)
        if isinstance(out, str):
            return Response(out, media_type="application/xml", headers={"ETag": doc["etag"]})
        return JSONResponse(out, headers={"ETag": doc["etag"]})

    # ---- incident response plans ----------------------------------------------------------------
    @app.post("/responses/versions", tags=["responses"], status_code=201, response_model=ResponseVersionDoc,
              responses={**_ERRORS, 409: {"model": Problem}})
    def create_response_version(body: ResponseVersionCreate, tok: Token = need("plans:draft")) -> JSONResponse:
        """Submit a draft version of an incident response plan (detour messages, metering) with its validity."""
        doc = store.create_response_version(body.plan.model_dump(mode="json"), body.valid_from, body.valid_to,
                                            body.kpis, body.provenance.model_dump(mode="json"), body.comment,
                                            tok.subject)
        return versioned(doc, 201, Location=f"/responses/{doc['response']}/versions/{doc['version']}")

    @app.get("/responses/versions", tags=["responses"], response_model=list[ResponseVersionDoc], responses=_ERRORS)
    def response_versions(
        state: Annotated[Literal["draft", "approved", "published", "retired"] | None, Query()] = None,
        updated_since: Annotated[str | None, Query(max_length=64, description="ISO 8601 time, exclusive")] = None,
        _: Token = need("plans:read"),
    ) -> list[dict[str, Any]]:
        """Response plan versions, oldest change first (poll with ``updated_since``)."""
        return store.response_versions(state=state, updated_since=updated_since)

    @app.get("/responses/{response}/versions/{number}", tags=["responses"], response_model=ResponseVersionDoc,
             responses={**_ERRORS, 404: {"model": Problem}})
    def response_version(response: Annotated[int, PathParam(ge=1, le=2**62)],
                         number: Annotated[int, PathParam(ge=1, le=2**62)],
                         _: Token = need("plans:read")) -> JSONResponse:
        return versioned(found(store.response_version(response, number), f"responses/{response}/versions/{number}"))

    def response_transition_route(action: str) -> None:
        scope = TRANSITIONS[action][2]

        def move(response: Annotated[int, PathParam(ge=1, le=2**62)], number: Annotated[int, PathParam(ge=1, le=2**62)],
                 if_match: Annotated[str | None, Header(max_length=200)] = None,
                 tok: Token = need(scope)) -> JSONResponse:
            if not if_match:
                raise Conflict(428, "precondition-required", "If-Match required",
                               f"send If-Match with the version's ETag (GET /responses/{response}/versions/{number}) "
                               f"to {action} it")
            return versioned(store.transition_response(response, number, action, tok.subject, if_match))

        frm, to, _ = TRANSITIONS[action]
        app.post(f"/responses/{{response}}/versions/{{number}}/{action}", tags=["responses"],
                 response_model=ResponseVersionDoc, name=f"response_{action}",
                 summary=f"{action.capitalize()} a response plan version ({' or '.join(frm)} -> {to}; scope {scope})",
                 responses={**_ERRORS, 404: {"model": Problem}, 409: {"model": Problem}, 412: {"model": Problem},
                            428: {"model": Problem}})(move)

    for action in TRANSITIONS:
        response_transition_route(action)

    @app.get("/audit", tags=["audit"], response_model=list[AuditRecord], responses=_ERRORS)
    def audit(after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0, limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
              _: Token = need("audit:read")) -> list[dict[str, Any]]:
        return store.audit(after_seq, limit)

    @app.get("/whoami", tags=["service"], response_model=Caller, responses=_ERRORS)
    def whoami(tok: Token = need("plans:read")) -> dict[str, Any]:
        """The caller of this token: its subject, scopes and expiry (what a screen may show)."""
        return {"subject": tok.subject, "scopes": sorted(tok.scopes), "expires_at": tok.expires_at}

    @app.get("/audit/verify", tags=["audit"], response_model=AuditVerification, responses=_ERRORS)
    def audit_verify(_: Token = need("audit:read")) -> dict[str, Any]:
        """Recompute the audit log's hash chain: whether it is intact, its head hash, the first record that is not."""
        c = store.verify_audit()
        return {"ok": c.ok, "records": c.records, "head": c.head, "first_bad_seq": c.first_bad_seq, "problem": c.problem}

    from .screen import add_screen

    add_screen(app)
    return app
