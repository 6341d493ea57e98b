"""``mobility serve``, ``mobility tokens ...``, ``mobility audit ...``, ``mobility intersections ...``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from ._cli_common import fail
from ._errors import InputError, MobilityError

DEFAULT_DB = Path("mobility-plans.db")
DbOption = Annotated[Path, typer.Option("--db", help="SQLite file of the plan service")]

tokens_app = typer.Typer(no_args_is_help=True, help="Access tokens of the plan service.")
audit_app = typer.Typer(no_args_is_help=True, help="The plan service's audit log.")
intersections_app = typer.Typer(no_args_is_help=True, help="Intersections (controller models) known to the plan service.")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _store(db: Path, *, create: bool = False):
    from .service.store import PlanStore

    if not create and not db.exists():
        raise InputError(f"--db {db}: no such database; start the service once (`mobility serve --db {db}`) or "
                         f"import a network (`mobility intersections import NET.net.xml --db {db}`)")
    return PlanStore(db)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    db: DbOption = DEFAULT_DB,
    network: Annotated[list[Path] | None, typer.Option("--network", "-n",
                                                       help="import this network's signals first (repeatable)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the command-centre plan service (FastAPI on uvicorn) over an SQLite file."""
    try:
        import uvicorn

        from .service.app import create_app
        from .signals import signal_models

        store = _store(db, create=True)
        for net in network or []:
            models = signal_models(net)
            store.put_intersections({k: m.to_dict() for k, m in models.items()}, source=str(net), actor=_actor())
        app = create_app(store)
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"plan service on http://{host}:{port} (database {db.resolve()}; OpenAPI at /openapi.json; the screen at "
               f"http://{host}:{port}/screen)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level == "debug")


@tokens_app.command("create")
def tokens_create(
    subject: Annotated[str, typer.Option(help="person or system the token is for (recorded as author/approver)")],
    scopes: Annotated[str, typer.Option(help="comma-separated: plans:read, plans:draft, plans:approve, plans:publish, "
                                              "audit:read")],
    db: DbOption = DEFAULT_DB,
    expires_in: Annotated[str | None, typer.Option(help="lifetime, e.g. 90d, 12h, 30m [default: never]")] = None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from .service.store import SCOPES, parse_duration

    try:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        unknown = sorted(set(wanted) - set(SCOPES)) or ([] if wanted else ["(none)"])
        if unknown:
            raise InputError(f"--scopes: unknown scope(s) {unknown}; choose from {', '.join(SCOPES)}")
        lifetime = parse_duration(expires_in) if expires_in else None  # checked before the database is touched
        store = _store(db, create=True)
        raw, tok = store.create_token(subject, wanted, expires_in=lifetime, actor=_actor())
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(raw)
    typer.echo(f"token {tok.id} for {tok.subject}: {', '.join(sorted(tok.scopes))}; expires "
               f"{tok.expires_at or 'never'}. It is shown only now: keep it secret.", err=True)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="token id (or the token itself)")], db: DbOption = DEFAULT_DB) -> None:
    """Revoke a token at once."""
    try:
        _store(db).revoke_token(token_id, actor=_actor())
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"revoked {token_id.removeprefix('mbt_').split('.', 1)[0]}")


@tokens_app.command("list")
def tokens_list(db: DbOption = DEFAULT_DB) -> None:
    """List tokens (never their secrets)."""
    from rich.console import Console
    from rich.table import Table

    try:
        rows = _store(db).list_tokens()
    except MobilityError as exc:
        raise fail(exc) from None
    t = Table()
    for c in ("id", "subject", "scopes", "created_at", "expires_at", "revoked_at"):
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(r[c] or "-") for c in ("id", "subject", "scopes", "created_at", "expires_at", "revoked_at")))
    Console().print(t)


@audit_app.command("verify")
def audit_verify(db: DbOption = DEFAULT_DB) -> None:
    """Recompute the audit log's hash chain; exit 1 when a record was altered, inserted or removed."""
    try:
        res = _store(db).verify_audit()
    except MobilityError as exc:
        raise fail(exc) from None
    if not res.ok:
        typer.echo(f"audit log TAMPERED: {res.problem} (checked {res.records} records)", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"audit log intact: {res.records} records, head hash {res.head}")


@audit_app.command("show")
def audit_show(db: DbOption = DEFAULT_DB, after_seq: Annotated[int, typer.Option(min=0, help="records after this one")] = 0,
               limit: Annotated[int, typer.Option(min=0, max=1_000_000, help="records to print at most")] = 50) -> None:
    """Print audit records."""
    try:
        rows = _store(db).audit(after_seq, limit)
    except MobilityError as exc:
        raise fail(exc) from None
    for r in rows:
        typer.echo(f"{r['seq']:>6} {r['at']} {r['actor']:<20} {r['action']:<20} {r['resource']} {r['details']}")


@intersections_app.command("import")
def intersections_import(network: Annotated[Path, typer.Argument(help="SUMO .net.xml")], db: DbOption = DEFAULT_DB) -> None:
    """Store the controller and stage model of every traffic light of a network."""
    from .signals import signal_models

    try:
        models = signal_models(network)
        if not models:
            raise InputError(f"{network}: the network has no traffic lights")
        changed = _store(db, create=True).put_intersections({k: m.to_dict() for k, m in models.items()},
                                                            source=str(network), actor=_actor())
    except MobilityError as exc:
        raise fail(exc) from None
    typer.echo(f"{len(models)} intersections from {network}; {len(changed)} new or changed")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_app, name="audit")
    app.add_typer(intersections_app, name="intersections")
