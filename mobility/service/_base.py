"""What the plan service's store and API share: scopes, workflow, canonical JSON, times, the conflict error."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from .._errors import InputError

__all__ = ["SCOPES", "STATES", "TRANSITIONS", "Conflict", "canonical_json", "check_transition", "parse_time"]

#: What a token may do.
SCOPES = ("plans:read", "plans:draft", "plans:approve", "plans:publish", "audit:read")
STATES = ("draft", "approved", "published", "retired")
#: action -> (states it may start from, state it leads to, scope it needs)
TRANSITIONS = {
    "approve": (("draft",), "approved", "plans:approve"),
    "publish": (("approved",), "published", "plans:publish"),
    "retire": (("draft", "approved", "published"), "retired", "plans:publish"),
}


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, finite numbers only: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str, what: str = "time") -> dt.datetime:
    """An ISO 8601 time; without a zone it is taken as UTC."""
    try:
        t = dt.datetime.fromisoformat(text.strip())
        t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
        t.astimezone(dt.UTC)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-11-22T08:00:00Z)") from None
    except OverflowError:
        raise InputError(f"{what}: {text!r} is outside the times the service stores (years 1-9999 in UTC)") from None
    return t


def _finite(obj: Any, where: str) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise InputError(f"{where}: numbers must be finite, got {obj}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(obj, list | tuple):
        for k, v in enumerate(obj):
            _finite(v, f"{where}[{k}]")


class Conflict(Exception):
    """A request that clashes with the stored state: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra


def check_transition(doc: dict[str, Any], action: str, actor: str, if_match: str, resource: str) -> None:
    """Refuse a workflow move of the version ``doc`` (at ``resource``): a stale ``If-Match`` (412), a state the
    action does not start from (409), an approval by the version's author (403, four eyes)."""
    sources = TRANSITIONS[action][0]
    if if_match.strip() not in (doc["etag"], "W/" + doc["etag"]):
        raise Conflict(412, "etag-mismatch", "Precondition failed",
                       f"If-Match {if_match} does not match the version's ETag {doc['etag']}: it changed "
                       "since you read it; GET it again and decide anew", etag=doc["etag"])
    if doc["state"] not in sources:
        raise Conflict(409, "invalid-transition", "Invalid transition",
                       f"cannot {action} a version in state {doc['state']!r} (allowed from: {', '.join(sources)})",
                       state=doc["state"])
    if action == "approve" and actor == doc["author"]:
        raise Conflict(403, "four-eyes", "Approver must differ from author",
                       f"{actor!r} wrote {resource} and cannot approve it; another person with plans:approve must")
