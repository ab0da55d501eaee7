"""Administration commands: schema, org units, posts, users."""

from __future__ import annotations

from pathlib import Path

import click

from engine.identity.models import ROLES
from engine.migrate import upgrade_to_head
from eoms.cli.common import App, emit_json, pass_app, print_table
from eoms.demo import DEFAULT_PASSWORD, seed_demo
from eoms.wiring import build_engine
from webapp.auth.attempts import unlock as unlock_logins


def register_admin_commands(cli: click.Group) -> None:
    cli.add_command(init_db)
    cli.add_command(seed_demo_command)
    cli.add_command(org)
    cli.add_command(post)
    cli.add_command(user)


@click.command("init-db")
@pass_app
def init_db(app: App) -> None:
    """Create or upgrade the database schema to the newest migration."""
    upgrade_to_head(app.db)
    click.echo(f"database ready: {app.db.url.render_as_string(hide_password=True)}")


@click.command("seed-demo")
@click.option("--processes", "processes_dir", default="processes", show_default=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path), help="folder of BPMN files to deploy")
@click.option("--password", envvar="EOMS_DEMO_PASSWORD", default=DEFAULT_PASSWORD, show_default=True,
              help="password of every demo user (env EOMS_DEMO_PASSWORD)")
@pass_app
def seed_demo_command(app: App, processes_dir: Path, password: str) -> None:
    """Demo organisation, users for every post, the flows deployed and work orders in flight (idempotent)."""
    summary = seed_demo(lambda clock: build_engine(app.settings, clock), app.sessions, processes_dir, password)
    click.echo(f"deployed: {', '.join(summary.deployed) or '-'}")
    click.echo(f"demo work orders created: {summary.instances_created}")
    click.echo(f"demo users (password: {password}):")
    for username, name, what in summary.users:
        click.echo(f"  {username:<16} {name:<8} {what}")


@click.group()
def org() -> None:
    """Org units (regions, departments)."""


@org.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", help="code of the parent org unit")
@pass_app
def org_add(app: App, code: str, name: str, parent: str | None) -> None:
    with app.transaction() as s:
        unit = app.engine.identity.add_org_unit(s, code, name, parent)
        app.audit(s, "org.create", "org_unit", unit.code, name=unit.name, path=unit.path)
        click.echo(f"org unit {unit.code} ({unit.name}) added at {unit.path}")


@org.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def org_list(app: App, as_json: bool) -> None:
    with app.transaction() as s:
        rows = [{"code": u.code, "name": u.name, "path": u.path} for u in app.engine.identity.list_org_units(s)]
    emit_json(rows) if as_json else print_table(rows, ["code", "name", "path"])


@click.group()
def post() -> None:
    """Posts (岗位)."""


@post.command("add")
@click.argument("code")
@click.argument("name")
@pass_app
def post_add(app: App, code: str, name: str) -> None:
    with app.transaction() as s:
        p = app.engine.identity.add_post(s, code, name)
        app.audit(s, "post.create", "post", p.code, name=p.name)
        click.echo(f"post {p.code} ({p.name}) added")


@post.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def post_list(app: App, as_json: bool) -> None:
    with app.transaction() as s:
        rows = [{"code": p.code, "name": p.name} for p in app.engine.identity.list_posts(s)]
    emit_json(rows) if as_json else print_table(rows, ["code", "name"])


@click.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="the person's name")
@click.option("--password", required=True, help="at least 8 characters; stored hashed")
@click.option("--post", "posts", multiple=True, help="post code; repeat for several posts")
@click.option("--org", "org_code", required=True, help="org unit code")
@click.option("--role", type=click.Choice(ROLES), default="user")
@click.option("--phone", help="mobile number for SMS notices")
@pass_app
def user_add(app: App, username: str, display_name: str, password: str, posts: tuple[str, ...],
             org_code: str, role: str, phone: str | None) -> None:
    """Add a user holding the given posts in an org unit."""
    codes = [c.strip() for p in posts for c in p.split(",") if c.strip()]
    with app.transaction() as s:
        u = app.engine.identity.add_user(s, username, display_name=display_name, password=password,
                                         org_code=org_code, post_codes=codes, role=role, phone=phone)
        app.audit(s, "user.create", "user", u.username, org_unit=org_code, posts=codes, role=role)
        click.echo(f"user {u.username} ({u.display_name}) added to {org_code} as {role}"
                   + (f", posts {', '.join(codes)}" if codes else ""))


@user.command("unlock")
@click.argument("username")
@pass_app
def user_unlock(app: App, username: str) -> None:
    """Forget USERNAME's failed logins: the login throttle lets the user in at once."""
    with app.transaction() as s:
        app.engine.identity.get_user(s, username)  # an unknown name is an error, not a silent no-op
        forgotten = unlock_logins(s, username)
        app.audit(s, "user.unlock", "user", username, failed_logins=forgotten)
    click.echo(f"user {username}: {forgotten} failed login(s) forgotten")
