"""Incident response plans in the plan service's store: versions with a validity window, the same workflow as
signal plans (draft -> approved -> published -> retired, the approver not the author), every change in the audit
log within its own transaction.

A response plan (:class:`mobility.incident.response.ResponsePlan`) is network-wide: it is stored by its id
(``name``) and the incident it answers, not by junction. Publishing a version retires the version of the same
plan published before it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from ._base import TRANSITIONS, Conflict, _finite, _iso, canonical_json, check_transition, parse_time

__all__ = ["RESPONSE_SCHEMA", "ResponsesMixin"]

RESPONSE_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, incident TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS response_versions (
    id INTEGER PRIMARY KEY, response INTEGER NOT NULL REFERENCES responses(id), number INTEGER NOT NULL,
    body TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, kpis TEXT NOT NULL,
    provenance TEXT NOT NULL, comment TEXT NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL,
    state TEXT NOT NULL, revision INTEGER NOT NULL, updated_at TEXT NOT NULL,
    approved_by TEXT, published_by TEXT, retired_by TEXT, UNIQUE (response, number));
CREATE INDEX IF NOT EXISTS response_versions_updated ON response_versions (updated_at);
CREATE TRIGGER IF NOT EXISTS response_versions_immutable BEFORE UPDATE OF response, number, body, valid_from,
    valid_to, kpis, provenance, comment, author, created_at ON response_versions
    BEGIN SELECT RAISE(ABORT, 'response plan versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS response_versions_no_delete BEFORE DELETE ON response_versions
    BEGIN SELECT RAISE(ABORT, 'response plan versions are never deleted; retire them'); END;
"""

_SELECT = "SELECT v.*, r.name, r.incident FROM response_versions v JOIN responses r ON r.id = v.response "


def _doc(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "response": r["response"], "name": r["name"], "incident": r["incident"], "version": r["number"],
        "state": r["state"], "etag": f'"r{r["id"]}.{r["revision"]}"', "revision": r["revision"],
        "valid_from": r["valid_from"], "valid_to": r["valid_to"], "author": r["author"],
        "approved_by": r["approved_by"], "published_by": r["published_by"], "retired_by": r["retired_by"],
        "created_at": r["created_at"], "updated_at": r["updated_at"], "comment": r["comment"],
        "kpis": json.loads(r["kpis"]), "provenance": json.loads(r["provenance"]),
        "response_plan": json.loads(r["body"]),
    }


class ResponsesMixin:
    """Response plan versions (mixed into :class:`~mobility.service.store.PlanStore`)."""

    def create_response_version(self, plan: dict[str, Any], valid_from: str, valid_to: str, kpis: dict[str, float],
                                provenance: dict[str, Any], comment: str, author: str) -> dict[str, Any]:
        """Store a new draft version of a response plan (a ResponsePlan dict) valid from ``valid_from`` to
        ``valid_to`` (ISO 8601); returns its document."""
        _finite(kpis, "kpis")
        _finite(provenance, "provenance")
        _finite(plan, "response_plan")
        t0, t1 = parse_time(valid_from, "valid_from"), parse_time(valid_to, "valid_to")
        if not t1 > t0:
            raise Conflict(422, "invalid-validity", "Invalid validity window",
                           f"valid_to ({valid_to}) must be after valid_from ({valid_from})")
        with self._write() as db:  # type: ignore[attr-defined]
            at = self._stamp(db)  # type: ignore[attr-defined]
            name, incident = plan["id"], plan["incident"]
            row = db.execute("SELECT id, incident FROM responses WHERE name=?", (name,)).fetchone()
            if row is not None and row["incident"] != incident:
                raise Conflict(409, "response-incident-mismatch", "Plan answers another incident",
                               f"response plan {name!r} answers incident {row['incident']!r}; give this plan for "
                               f"{incident!r} another id")
            rid = row[0] if row else db.execute("INSERT INTO responses (name, incident, created_at) VALUES (?,?,?)",
                                                (name, incident, at)).lastrowid
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM response_versions WHERE response=?",
                                (rid,)).fetchone()[0]
            body = canonical_json(plan)
            db.execute("INSERT INTO response_versions (response, number, body, valid_from, valid_to, kpis, provenance,"
                       " comment, author, created_at, state, revision, updated_at) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?, 'draft', 1, ?)",
                       (rid, number, body, _iso(t0), _iso(t1), canonical_json(kpis), canonical_json(provenance),
                        comment, author, at, at))
            self._audit(db, at, author, "response.create", f"responses/{rid}/versions/{number}",  # type: ignore[attr-defined]
                        {"name": name, "incident": incident, "body_sha256": hashlib.sha256(body.encode()).hexdigest()})
            return _doc(db.execute(_SELECT + "WHERE v.response=? AND v.number=?", (rid, number)).fetchone())

    def response_version(self, response: int, number: int) -> dict[str, Any] | None:
        """One response plan version's document, or None."""
        with self._read() as db:  # type: ignore[attr-defined]
            r = db.execute(_SELECT + "WHERE v.response=? AND v.number=?", (response, number)).fetchone()
        return None if r is None else _doc(r)

    def response_versions(self, *, state: str | None = None, updated_since: str | None = None,
                          limit: int = 1000) -> list[dict[str, Any]]:
        """Response plan versions, oldest change first; ``updated_since`` (exclusive) for polling."""
        where, args = [], []
        if state is not None:
            where.append("v.state=?")
            args.append(state)
        if updated_since is not None:
            where.append("v.updated_at > ?")
            args.append(_iso(parse_time(updated_since, "updated_since")))
        sql = _SELECT + ("WHERE " + " AND ".join(where) if where else "") + " ORDER BY v.updated_at LIMIT ?"
        with self._read() as db:  # type: ignore[attr-defined]
            return [_doc(r) for r in db.execute(sql, (*args, limit))]

    def transition_response(self, response: int, number: int, action: str, actor: str, if_match: str
                            ) -> dict[str, Any]:
        """Move a response plan version along the workflow; ``if_match`` must be its current ETag."""
        target = TRANSITIONS[action][1]
        with self._write() as db:  # type: ignore[attr-defined]
            r = db.execute(_SELECT + "WHERE v.response=? AND v.number=?", (response, number)).fetchone()
            if r is None:
                raise Conflict(404, "not-found", "Not found", f"response {response} has no version {number}")
            doc = _doc(r)
            check_transition(doc, action, actor, if_match, f"responses/{response}/versions/{number}")
            at = self._stamp(db)  # type: ignore[attr-defined]
            if action == "publish":   # one published version per response plan
                for old in db.execute("SELECT number FROM response_versions WHERE response=? AND state='published'",
                                      (response,)).fetchall():
                    db.execute("UPDATE response_versions SET state='retired', retired_by=?, revision=revision+1, "
                               "updated_at=? WHERE response=? AND number=?", (actor, at, response, old[0]))
                    self._audit(db, at, actor, "response.retire",  # type: ignore[attr-defined]
                                f"responses/{response}/versions/{old[0]}",
                                {"from": "published", "to": "retired", "replaced_by": number})
            col = {"approve": "approved_by", "publish": "published_by", "retire": "retired_by"}[action]
            db.execute(f"UPDATE response_versions SET state=?, {col}=?, revision=revision+1, updated_at=? "
                       "WHERE response=? AND number=?", (target, actor, at, response, number))
            self._audit(db, at, actor, f"response.{action}", f"responses/{response}/versions/{number}",  # type: ignore[attr-defined]
                        {"from": doc["state"], "to": target})
            return _doc(db.execute(_SELECT + "WHERE v.response=? AND v.number=?", (response, number)).fetchone())
