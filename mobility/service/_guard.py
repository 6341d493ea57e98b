"""Limits the plan service enforces before a request reaches FastAPI: header sizes (431), a request body
size read no further than the limit (413), JSON bodies only (415), and an authenticated caller before a
body is read at all (401). Every refusal is an RFC 9457 problem document."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["MAX_BODY_BYTES", "MAX_HEADER_BYTES", "MAX_HEADERS_BYTES", "RequestGuard"]

#: Largest request body, bytes (a plan with its KPIs and provenance is a few kilobytes).
MAX_BODY_BYTES = 1024 * 1024
#: Largest single header and all headers together, bytes.
MAX_HEADER_BYTES = 8 * 1024
MAX_HEADERS_BYTES = 32 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _problem(send: Send, status: int, slug: str, title: str, detail: str, path: str,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"type": f"urn:mobility:problem:{slug}", "title": title, "status": status, "detail": detail,
                       "instance": path[:200]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware in front of the service; ``authenticated(token)`` says whether a bearer token is valid."""

    def __init__(self, app: Any, authenticated: Callable[[str], bool]) -> None:
        self.app = app
        self.authenticated = authenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        total = sum(len(k) + len(v) for k, v in headers)
        big = next((k for k, v in headers if len(k) + len(v) > MAX_HEADER_BYTES), None)
        if big is not None or total > MAX_HEADERS_BYTES:
            what = f"header {big.decode('latin-1')[:60]!r} is" if big is not None else "the headers are"
            await _problem(send, 431, "headers-too-large", "Request header fields too large",
                           f"{what} larger than allowed ({MAX_HEADER_BYTES} bytes a header, {MAX_HEADERS_BYTES} in all)",
                           path)
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        h = {k.lower(): v for k, v in headers}
        auth = h.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or not self.authenticated(token.strip()):
            await _problem(send, 401, "unauthenticated", "Authentication required",
                           "send Authorization: Bearer <token> with a valid token (create one with `mobility tokens create`)",
                           path, [(b"www-authenticate", b'Bearer realm="mobility"')])
            return
        length = h.get(b"content-length")
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in h
        ctype = h.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if has_body and ctype != "application/json" and not ctype.endswith("+json"):
            await _problem(send, 415, "unsupported-media-type", "Unsupported media type",
                           f"the body must be JSON (Content-Type: application/json), got {ctype[:60] or 'none'!r}", path)
            return
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _problem(send, 413, "body-too-large", "Request body too large",
                           f"the body may be at most {MAX_BODY_BYTES:,} bytes", path)
            return
        chunks, size = [], 0
        while True:  # read at most the limit, then stop reading
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _problem(send, 413, "body-too-large", "Request body too large",
                               f"the body may be at most {MAX_BODY_BYTES:,} bytes", path)
                return
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
