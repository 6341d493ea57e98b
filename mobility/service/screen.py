"""The command centre's screen: a read-only web page served by the plan service itself.

``GET /screen`` serves the page and ``GET /screen/<asset>`` its script and style sheet, all shipped in the
package (the centre's network is closed: no CDN). The page holds no data: after sign-in with a token of
``plans:read`` scope (kept in the page's memory only, never in a URL or in storage) it reads the service's
JSON API (``/intersections``, ``/plans``, ``/published`` polled with ``updated_since``, ``/audit`` and
``/audit/verify`` with ``audit:read``). Every response carries a strict Content-Security-Policy: scripts, styles
and connections from the service only, no inline script, no framing; the page writes all text with
``textContent`` (ids are user data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ASSETS", "CSP", "add_screen"]

ASSETS = Path(__file__).with_name("assets")
#: The page's Content-Security-Policy.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_TYPES = {"screen.js": "text/javascript; charset=utf-8", "screen.css": "text/css; charset=utf-8"}
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}


def add_screen(app: Any) -> None:
    """Register the screen's routes on the plan service's FastAPI ``app``.

    Parameters
    ----------
    app : fastapi.FastAPI
    """
    from fastapi import HTTPException
    from fastapi.responses import Response

    def page() -> Response:
        return Response((ASSETS / "index.html").read_bytes(), media_type="text/html; charset=utf-8", headers=_HEADERS)

    def asset(name: str) -> Response:
        if name not in _TYPES:  # a fixed list: nothing else under the package is served
            raise HTTPException(404, f"no screen asset {name!r}")
        return Response((ASSETS / name).read_bytes(), media_type=_TYPES[name], headers=_HEADERS)

    app.get("/screen", include_in_schema=False)(page)
    app.get("/screen/{name}", include_in_schema=False)(asset)
