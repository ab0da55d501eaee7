"""API clients (接口客户端): create one with a scoped bearer token, list, revoke, rotate, read the call log."""

from __future__ import annotations

from datetime import timedelta

import click

from eoms.cli.common import SHANGHAI, App, emit_json, local_time, pass_app, print_table
from webapp.api import clients
from webapp.api.models import ApiClient

LIST_COLUMNS = ["name", "user", "scopes", "prefix", "rate", "created", "expires", "revoked", "last_used"]
TOKEN_WARNING = ("the token is shown only now: copy it into the calling system's configuration; only its "
                 "SHA-256 is stored, so it cannot be shown again (`eoms api-client rotate` issues a new one)")


def register_api_client_commands(cli: click.Group) -> None:
    cli.add_command(api_client)


@click.group("api-client")
def api_client() -> None:
    """Clients of the integration API: their scoped bearer tokens and their calls."""


def _scope_list(raw: str) -> list[str]:
    return sorted({s.strip() for s in raw.split(",") if s.strip()})


def _print_token(verb: str, client: ApiClient, token: str) -> None:
    click.echo(f"API client {client.name} {verb}: acts as {client.user.username}, scopes {', '.join(client.scopes)}"
               + (f", expires {local_time(client.expires_at)}" if client.expires_at else ""))
    click.echo(f"token: {token}")
    click.echo(f"event signing secret: {client.secret}  (X-Hub-Signature-256 of the events sent to its listeners)")
    click.echo(f"warning: {TOKEN_WARNING}")


@api_client.command("create")
@click.argument("name")
@click.option("--user", "username", required=True, help="username of the account the client acts as")
@click.option("--scopes", required=True, help=f"comma-separated, of: {', '.join(clients.SCOPES)}")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="the token stops working after N days")
@click.option("--rate", type=int, default=600, show_default=True, help="at most N calls a minute")
@click.option("--description", default="", help="what the client is (up to 200 characters)")
@pass_app
def create(app: App, name: str, username: str, scopes: str, expires_days: int | None, rate: int,
           description: str) -> None:
    """Create the client NAME; its token is printed once."""
    with app.transaction() as s:
        user = app.engine.identity.get_user(s, username)  # an unknown or disabled user is an error
        now = app.engine.ctx.clock()
        expires_at = now + timedelta(days=expires_days) if expires_days else None
        new = clients.create(s, name, user=user, scopes=_scope_list(scopes), now=now, expires_at=expires_at,
                             rate_per_minute=rate, description=description)
        app.audit(s, "api_client.create", "api_client", new.client.name, user=username, scopes=new.client.scopes)
        _print_token("created", new.client, new.token)


@api_client.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def list_clients(app: App, as_json: bool) -> None:
    """Every client (times in Asia/Shanghai)."""
    with app.transaction() as s:
        rows = [{"name": c.name, "user": c.user.username, "scopes": ",".join(c.scopes), "prefix": c.token_prefix,
                 "rate": c.rate_per_minute, "created": local_time(c.created_at),
                 "expires": local_time(c.expires_at), "revoked": local_time(c.revoked_at),
                 "last_used": local_time(c.last_used_at)} for c in clients.listed(s)]
    emit_json(rows) if as_json else print_table(rows, LIST_COLUMNS)


@api_client.command("revoke")
@click.argument("name")
@pass_app
def revoke(app: App, name: str) -> None:
    """Revoke NAME's token at once (the client stays listed, with its calls)."""
    with app.transaction() as s:
        client = clients.revoke(s, name, app.engine.ctx.clock())
        app.audit(s, "api_client.revoke", "api_client", client.name)
        click.echo(f"API client {client.name} revoked at {local_time(client.revoked_at)}")


@api_client.command("rotate")
@click.argument("name")
@pass_app
def rotate(app: App, name: str) -> None:
    """Give NAME a new token (the old one stops working at once); the new token is printed once."""
    with app.transaction() as s:
        new = clients.rotate(s, name)
        app.audit(s, "api_client.rotate", "api_client", new.client.name)
        _print_token("rotated", new.client, new.token)


@api_client.command("calls")
@click.option("--client", "name", help="only this client's calls")
@click.option("--status", type=click.IntRange(100, 599), help="only calls answered with this HTTP status")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def calls(app: App, name: str | None, status: int | None, limit: int, as_json: bool) -> None:
    """The newest calls first (times in Asia/Shanghai)."""
    with app.transaction() as s:
        client_id = clients.by_name(s, name).id if name else None  # an unknown client is an error
        names = {c.id: c.name for c in clients.listed(s)}
        total, found = clients.calls(s, client_id=client_id, status=status, limit=limit)
        rows = [{"at": c.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
                 "client": names.get(c.client_id or 0, "-"), "method": c.method, "path": c.path,
                 "status": c.status, "ms": c.duration_ms,
                 "from": c.remote_addr or "-"} for c in found]
    if as_json:
        emit_json({"total": total, "calls": rows})
        return
    print_table(rows, ["at", "client", "method", "path", "status", "ms", "from"])
    if total > len(rows):
        click.echo(f"({len(rows)} of {total} calls; --limit shows more)")
