"""The plan service's SQLite store: tokens, intersections, plans and versions, idempotency keys, audit log.

Every change runs in one ``BEGIN IMMEDIATE`` transaction together with its audit record, so a crash
leaves either the whole change or nothing. SQLite runs in WAL mode with ``synchronous=FULL``: a
committed change survives a killed process or a power cut.

The audit log is append-only (triggers refuse ``UPDATE`` and ``DELETE``) and hash-chained: each record
stores the SHA-256 of the previous record's hash and its own canonical JSON, so editing, inserting or
removing a record anywhere but at the end breaks the chain (:meth:`PlanStore.verify_audit`). Removing
records from the end is only caught against a head hash kept elsewhere (``verify_audit`` returns it).

Version bodies are immutable (a trigger refuses changes to the plan, KPIs, provenance and author);
only the workflow state moves, draft -> approved -> published -> retired, each move bumping the
version's revision (its ETag).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InputError
from ._base import (
    SCOPES,
    STATES,
    TRANSITIONS,
    Conflict,
    _finite,
    _iso,
    _now,
    canonical_json,
    check_transition,
    parse_time,
)
from ._responses import RESPONSE_SCHEMA, ResponsesMixin

__all__ = ["SCOPES", "STATES", "TRANSITIONS", "AuditCheck", "Conflict", "PlanStore", "Token", "canonical_json",
           "parse_duration", "parse_time"]

GENESIS = "0" * 64
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS intersections (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, source TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY, junction TEXT NOT NULL REFERENCES intersections(id), name TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (junction, name));
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY, plan INTEGER NOT NULL REFERENCES plans(id), number INTEGER NOT NULL,
    body TEXT NOT NULL, kpis TEXT NOT NULL, provenance TEXT NOT NULL, comment TEXT NOT NULL,
    author TEXT NOT NULL, created_at TEXT NOT NULL,
    state TEXT NOT NULL, revision INTEGER NOT NULL, updated_at TEXT NOT NULL,
    approved_by TEXT, published_by TEXT, retired_by TEXT,
    UNIQUE (plan, number));
CREATE INDEX IF NOT EXISTS versions_updated ON versions (updated_at);
CREATE TABLE IF NOT EXISTS idempotency (
    subject TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (subject, key));
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    resource TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS versions_immutable BEFORE UPDATE OF plan, number, body, kpis, provenance, comment, author,
    created_at ON versions BEGIN SELECT RAISE(ABORT, 'plan versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS versions_no_delete BEFORE DELETE ON versions
    BEGIN SELECT RAISE(ABORT, 'plan versions are never deleted; retire them'); END;
"""


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` (or combinations such as ``1d12h``) as a timedelta."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    total, num = 0.0, ""
    for ch in text.strip().lower():
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in units and num:
            total += float(num) * units[ch]
            num = ""
        else:
            num = "x"
            break
    if num or total <= 0:
        raise InputError(f"--expires-in: {text!r} is not a duration; write e.g. 90d, 12h, 30m or 1d12h")
    if total > 10 * 366 * 86400:
        raise InputError(f"--expires-in: {text!r} is more than 10 years; give a shorter lifetime (tokens can be renewed)")
    return dt.timedelta(seconds=total)


@dataclass(frozen=True)
class Token:
    """An authenticated caller."""

    id: str
    subject: str
    scopes: frozenset[str]
    expires_at: str | None

    def expired(self) -> bool:
        return self.expires_at is not None and parse_time(self.expires_at) <= _now()


@dataclass(frozen=True)
class AuditCheck:
    """Result of :meth:`PlanStore.verify_audit`."""

    ok: bool
    records: int
    head: str
    first_bad_seq: int | None = None
    problem: str = ""


def _hash_secret(token_id: str, secret: str) -> str:
    return hashlib.sha256(f"{token_id}.{secret}".encode()).hexdigest()


class PlanStore(ResponsesMixin):
    """The service's data in one SQLite file; safe to share between threads (one connection per thread)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise InputError(f"--db {self.path}: folder {self.path.parent} does not exist")
        self._local = threading.local()
        try:
            self._conn().executescript("BEGIN IMMEDIATE;" + _SCHEMA + RESPONSE_SCHEMA + "COMMIT;")
            with self._write() as db:
                row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif row[0] != SCHEMA_VERSION:
                    raise InputError(f"{self.path}: database schema {row[0]}, this toolkit reads schema {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(f"--db {self.path}: not a usable plan-service database ({exc})") from exc

    # ---- connections and transactions ----------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            except sqlite3.Error as exc:
                raise InputError(f"--db {self.path}: cannot open the database ({exc})") from exc
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; writers queue on SQLite's lock, so stamps taken inside are ordered."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def _stamp(self, db: sqlite3.Connection) -> str:
        """A time strictly after every stamp stored so far (taken under the write lock)."""
        last = db.execute("SELECT value FROM meta WHERE key='last_stamp'").fetchone()
        t = _now()
        if last is not None:
            prev = parse_time(last[0])
            if t <= prev:
                t = prev + dt.timedelta(microseconds=1)
        s = _iso(t)
        db.execute("INSERT INTO meta VALUES ('last_stamp', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (s,))
        return s

    def _audit(self, db: sqlite3.Connection, at: str, actor: str, action: str, resource: str, details: dict[str, Any]) -> int:
        row = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        rec = {"seq": seq, "at": at, "actor": actor, "action": action, "resource": resource, "details": details}
        h = hashlib.sha256((prev + canonical_json(rec)).encode()).hexdigest()
        db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)", (seq, at, actor, action, resource,
                                                                 canonical_json(details), prev, h))
        return seq

    # ---- tokens -------------------------------------------------------------------------------
    def create_token(self, subject: str, scopes: list[str], *, expires_in: dt.timedelta | None = None,
                     actor: str = "cli") -> tuple[str, Token]:
        """A new token; the returned secret string is shown once and stored only hashed."""
        subject = subject.strip()
        if not subject:
            raise InputError("--subject: give the name of the person or system the token is for")
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise InputError(f"--scopes: unknown scope(s) {bad}; choose from {', '.join(SCOPES)}" if bad
                             else f"--scopes: give at least one of {', '.join(SCOPES)}")
        tid = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._write() as db:
            at = self._stamp(db)
            exp = _iso(parse_time(at) + expires_in) if expires_in else None
            db.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,NULL)",
                       (tid, subject, ",".join(sorted(set(scopes))), _hash_secret(tid, secret), at, exp))
            self._audit(db, at, actor, "token.create", f"tokens/{tid}",
                        {"subject": subject, "scopes": sorted(set(scopes)), "expires_at": exp})
        return f"mbt_{tid}.{secret}", Token(tid, subject, frozenset(scopes), exp)

    def revoke_token(self, token_id: str, *, actor: str = "cli") -> None:
        token_id = token_id.removeprefix("mbt_").split(".", 1)[0]
        with self._write() as db:
            row = db.execute("SELECT revoked_at FROM tokens WHERE id=?", (token_id,)).fetchone()
            if row is None:
                raise InputError(f"token {token_id!r} not found (see `mobility tokens list --db {self.path}`)")
            if row[0] is not None:
                return
            at = self._stamp(db)
            db.execute("UPDATE tokens SET revoked_at=? WHERE id=?", (at, token_id))
            self._audit(db, at, actor, "token.revoke", f"tokens/{token_id}", {})

    def list_tokens(self) -> list[dict[str, Any]]:
        with self._read() as db:
            return [{k: r[k] for k in ("id", "subject", "scopes", "created_at", "expires_at", "revoked_at")}
                    for r in db.execute("SELECT * FROM tokens ORDER BY created_at")]

    def authenticate(self, raw: str) -> Token | None:
        """The token for a bearer string, or None when unknown, malformed, revoked or expired."""
        if not raw.startswith("mbt_") or "." not in raw:
            return None
        tid, secret = raw[4:].split(".", 1)
        with self._read() as db:
            row = db.execute("SELECT * FROM tokens WHERE id=?", (tid,)).fetchone()
        if row is None or not hmac.compare_digest(row["secret_hash"], _hash_secret(tid, secret)):
            return None
        if row["revoked_at"] is not None:
            return None
        if row["expires_at"] is not None and parse_time(row["expires_at"]) <= _now():
            return None
        return Token(tid, row["subject"], frozenset(row["scopes"].split(",")), row["expires_at"])

    # ---- intersections ------------------------------------------------------------------------
    def put_intersections(self, models: dict[str, dict[str, Any]], source: str, *, actor: str = "cli") -> list[str]:
        """Store (or replace) intersection models (``SignalModel.to_dict()``); returns the ids that changed."""
        changed = []
        with self._write() as db:
            at = self._stamp(db)
            for tls, model in sorted(models.items()):
                body = canonical_json(model)
                old = db.execute("SELECT model FROM intersections WHERE id=?", (tls,)).fetchone()
                if old is not None and old[0] == body:
                    continue
                db.execute("INSERT INTO intersections VALUES (?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                           "model=excluded.model, source=excluded.source, updated_at=excluded.updated_at",
                           (tls, body, source, at))
                self._audit(db, at, actor, "intersection.replace" if old else "intersection.import",
                            f"intersections/{tls}", {"source": source, "n_links": model["n_links"],
                                                     "model_sha256": hashlib.sha256(body.encode()).hexdigest()})
                changed.append(tls)
        return changed

    def intersection(self, tls: str) -> dict[str, Any] | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM intersections WHERE id=?", (tls,)).fetchone()
        return None if row is None else {"id": row["id"], "source": row["source"], "updated_at": row["updated_at"],
                                         "model": json.loads(row["model"])}

    def change_stamp(self) -> str:
        """The stamp of the last change (any write moves it)."""
        row = self._conn().execute("SELECT value FROM meta WHERE key='last_stamp'").fetchone()
        return row[0] if row else ""

    def ping(self) -> int:
        """Number of stored intersections (a cheap read that proves the database answers)."""
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM intersections").fetchone()[0])

    def intersections(self) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("SELECT id, source, updated_at, model FROM intersections ORDER BY id").fetchall()
        out = []
        for r in rows:
            model = json.loads(r["model"])
            out.append({"id": r["id"], "source": r["source"], "updated_at": r["updated_at"], "n_links": model["n_links"],
                        "position": model.get("position")})
        return out

    # ---- plans and versions -------------------------------------------------------------------
    @staticmethod
    def _doc(r: sqlite3.Row) -> dict[str, Any]:
        return {
            "plan": r["plan"], "junction": r["junction"], "name": r["name"], "version": r["number"],
            "state": r["state"], "etag": f'"{r["id"]}.{r["revision"]}"', "revision": r["revision"],
            "author": r["author"], "approved_by": r["approved_by"], "published_by": r["published_by"],
            "retired_by": r["retired_by"], "created_at": r["created_at"], "updated_at": r["updated_at"],
            "comment": r["comment"], "kpis": json.loads(r["kpis"]), "provenance": json.loads(r["provenance"]),
            "signal_plan": json.loads(r["body"]),
        }

    _SELECT = "SELECT v.*, p.junction, p.name FROM versions v JOIN plans p ON p.id = v.plan "

    def create_version(self, plan: dict[str, Any], kpis: dict[str, float], provenance: dict[str, Any], comment: str,
                       author: str, *, idempotency: tuple[str, str] | None = None,
                       check: Any = None) -> tuple[int, dict[str, Any], bool]:
        """Store a new draft version of ``plan`` (a SignalPlan dict); returns (status, document, replayed).

        ``check(plan, intersection_model)`` runs inside the transaction against the stored model and raises
        to refuse the plan. ``idempotency`` is ``(key, request_hash)``: a repeated key with the same request
        returns the first answer, with another request a :class:`Conflict`.
        """
        _finite(kpis, "kpis")
        _finite(provenance, "provenance")
        _finite(plan, "plan")
        with self._write() as db:
            if idempotency is not None:
                key, rh = idempotency
                row = db.execute("SELECT * FROM idempotency WHERE subject=? AND key=?", (author, key)).fetchone()
                if row is not None:
                    if row["request_hash"] != rh:
                        raise Conflict(422, "idempotency-key-reused", "Idempotency-Key reused",
                                       f"Idempotency-Key {key!r} was used for a different request; use a new key per request")
                    return int(row["status"]), json.loads(row["response"]), True
            junction = plan["junction"]
            im = db.execute("SELECT model FROM intersections WHERE id=?", (junction,)).fetchone()
            if im is None:
                raise Conflict(422, "unknown-intersection", "Unknown intersection",
                               f"junction {junction!r} is not a stored intersection; import its network with "
                               "`mobility intersections import NET.net.xml --db DB` (GET /intersections lists them)",
                               junction=junction)
            if check is not None:
                check(plan, json.loads(im[0]))
            at = self._stamp(db)
            name = plan["plan_id"]
            prow = db.execute("SELECT id FROM plans WHERE junction=? AND name=?", (junction, name)).fetchone()
            pid = prow[0] if prow else db.execute("INSERT INTO plans (junction, name, created_at) VALUES (?,?,?)",
                                                  (junction, name, at)).lastrowid
            number = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE plan=?", (pid,)).fetchone()[0]
            body = canonical_json({**plan, "version": number})
            db.execute("INSERT INTO versions (plan, number, body, kpis, provenance, comment, author, created_at, state,"
                       " revision, updated_at) VALUES (?,?,?,?,?,?,?,?, 'draft', 1, ?)",
                       (pid, number, body, canonical_json(kpis), canonical_json(provenance), comment, author, at, at))
            self._audit(db, at, author, "version.create", f"plans/{pid}/versions/{number}",
                        {"junction": junction, "name": name, "body_sha256": hashlib.sha256(body.encode()).hexdigest()})
            doc = self._doc(db.execute(self._SELECT + "WHERE v.plan=? AND v.number=?", (pid, number)).fetchone())
            if idempotency is not None:
                db.execute("INSERT INTO idempotency VALUES (?,?,?,?,?,?)",
                           (author, idempotency[0], idempotency[1], 201, canonical_json(doc), at))
        return 201, doc, False

    def version(self, plan: int, number: int) -> dict[str, Any] | None:
        with self._read() as db:
            r = db.execute(self._SELECT + "WHERE v.plan=? AND v.number=?", (plan, number)).fetchone()
        return None if r is None else self._doc(r)

    def plans(self) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("SELECT p.*, COUNT(v.id) AS n, MAX(v.number) AS latest, "
                              "MAX(CASE WHEN v.state='published' THEN v.number END) AS published, "
                              "(SELECT v2.state FROM versions v2 WHERE v2.plan = p.id ORDER BY v2.number DESC LIMIT 1) "
                              "AS latest_state "
                              "FROM plans p LEFT JOIN versions v ON v.plan = p.id GROUP BY p.id ORDER BY p.id").fetchall()
        return [{"plan": r["id"], "junction": r["junction"], "name": r["name"], "created_at": r["created_at"],
                 "versions": r["n"], "latest_version": r["latest"], "published_version": r["published"],
                 "latest_state": r["latest_state"]} for r in rows]

    def versions(self, *, plan: int | None = None, state: str | None = None, updated_since: str | None = None,
                 junction: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Version documents, oldest change first; ``updated_since`` (exclusive) for polling."""
        where, args = [], []
        if plan is not None:
            where.append("v.plan=?")
            args.append(plan)
        if state is not None:
            where.append("v.state=?")
            args.append(state)
        if junction is not None:
            where.append("p.junction=?")
            args.append(junction)
        if updated_since is not None:
            where.append("v.updated_at > ?")
            args.append(_iso(parse_time(updated_since, "updated_since")))
        sql = self._SELECT + ("WHERE " + " AND ".join(where) if where else "") + " ORDER BY v.updated_at LIMIT ?"
        with self._read() as db:
            return [self._doc(r) for r in db.execute(sql, (*args, limit))]

    def published(self, updated_since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Published versions; with ``updated_since``, every version that was published or retired after it."""
        if updated_since is None:
            return self.versions(state="published", limit=limit)
        since = _iso(parse_time(updated_since, "updated_since"))
        with self._read() as db:
            rows = db.execute(self._SELECT + "WHERE v.updated_at > ? AND (v.state='published' OR "
                              "(v.state='retired' AND v.published_by IS NOT NULL)) ORDER BY v.updated_at LIMIT ?",
                              (since, limit)).fetchall()
        return [self._doc(r) for r in rows]

    def transition(self, plan: int, number: int, action: str, actor: str, if_match: str) -> dict[str, Any]:
        """Move a version along the workflow; ``if_match`` must be its current ETag."""
        target = TRANSITIONS[action][1]
        with self._write() as db:
            r = db.execute(self._SELECT + "WHERE v.plan=? AND v.number=?", (plan, number)).fetchone()
            if r is None:
                raise Conflict(404, "not-found", "Not found", f"plan {plan} has no version {number}")
            doc = self._doc(r)
            check_transition(doc, action, actor, if_match, f"plans/{plan}/versions/{number}")
            at = self._stamp(db)
            col = {"approve": "approved_by", "publish": "published_by", "retire": "retired_by"}[action]
            if action == "publish":
                # one plan in force per junction at a time: a published plan of another name may not overlap it
                from ..signals.plan import SignalPlan
                from ..signals.safety import validity_overlaps

                mine = SignalPlan.model_validate(doc["signal_plan"])
                for other in db.execute(self._SELECT + "WHERE p.junction=? AND v.state='published' AND v.plan<>?",
                                        (doc["junction"], plan)).fetchall():
                    o = self._doc(other)
                    if validity_overlaps(mine, SignalPlan.model_validate(o["signal_plan"])):
                        raise Conflict(409, "overlapping-validity", "Another plan is in force then",
                                       f"plans/{o['plan']}/versions/{o['version']} ({o['name']}) is published for junction "
                                       f"{doc['junction']} with a validity that overlaps this one; retire it or give the "
                                       "two plans different days or times of day", conflicting=f"plans/{o['plan']}")
                # one published version per plan: the one it replaces retires in the same transaction
                for old in db.execute("SELECT number FROM versions WHERE plan=? AND state='published'", (plan,)).fetchall():
                    db.execute("UPDATE versions SET state='retired', retired_by=?, revision=revision+1, updated_at=? "
                               "WHERE plan=? AND number=?", (actor, at, plan, old[0]))
                    self._audit(db, at, actor, "version.retire", f"plans/{plan}/versions/{old[0]}",
                                {"from": "published", "to": "retired", "replaced_by": number})
            cur = db.execute(f"UPDATE versions SET state=?, {col}=?, revision=revision+1, updated_at=? "
                             "WHERE plan=? AND number=? AND revision=?", (target, actor, at, plan, number, doc["revision"]))
            if cur.rowcount != 1:  # cannot happen under the write lock; refuse rather than guess
                raise Conflict(412, "etag-mismatch", "Precondition failed", "the version changed concurrently")
            self._audit(db, at, actor, f"version.{action}", f"plans/{plan}/versions/{number}",
                        {"from": doc["state"], "to": target})
            return self._doc(db.execute(self._SELECT + "WHERE v.plan=? AND v.number=?", (plan, number)).fetchone())

    # ---- audit --------------------------------------------------------------------------------
    def audit(self, after_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()
        return [{"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"], "resource": r["resource"],
                 "details": json.loads(r["details"]), "prev_hash": r["prev_hash"], "hash": r["hash"]} for r in rows]

    def verify_audit(self) -> AuditCheck:
        """Recompute the hash chain; the first record that does not fit is reported."""
        prev, n, expect = GENESIS, 0, 1
        with self._read() as db:
            for r in db.execute("SELECT * FROM audit ORDER BY seq"):
                n += 1
                seq = r["seq"]
                if seq != expect:
                    return AuditCheck(False, n, prev, seq, f"record {expect} is missing (next is {seq})")
                try:
                    details = json.loads(r["details"])
                except ValueError:
                    return AuditCheck(False, n, prev, seq, f"record {seq}: details are not JSON")
                rec = {"seq": seq, "at": r["at"], "actor": r["actor"], "action": r["action"], "resource": r["resource"],
                       "details": details}
                if r["prev_hash"] != prev:
                    return AuditCheck(False, n, prev, seq, f"record {seq}: prev_hash does not match record {seq - 1}'s hash")
                h = hashlib.sha256((prev + canonical_json(rec)).encode()).hexdigest()
                if h != r["hash"]:
                    return AuditCheck(False, n, prev, seq, f"record {seq} ({r['action']} {r['resource']}) was altered: "
                                                           "its content no longer gives its hash")
                prev, expect = h, seq + 1
        return AuditCheck(True, n, prev)
