"""Signals and messages from the command line: the same engine calls the web pages and the API make."""

from __future__ import annotations

import click

from eoms.cli.common import App, emit_json, parse_json_object, pass_app


def register_event_commands(cli: click.Group) -> None:
    cli.add_command(signal)
    cli.add_command(message)


def _send(app: App, kind: str, name: str, data: str, username: str | None, org_code: str | None,
          as_json: bool) -> None:
    payload = parse_json_object(data, "--data")
    with app.transaction() as s:
        actor = app.engine.identity.get_user(s, username) if username else None
        send = app.engine.runtime.broadcast_signal if kind == "signal" else app.engine.runtime.send_message
        result = send(s, name, payload, actor=actor, org_code=org_code)
    out = {"woken": result.woken, "started": result.started, "failed": result.failed}
    if as_json:
        emit_json(out)
        return
    click.echo(f"{kind} {name}: woke {len(result.woken)} instance(s) {result.woken}, "
               f"started {len(result.started)} {result.started}")
    for failure in result.failed:
        click.echo(f"warning: not delivered to {failure}", err=True)


@click.command()
@click.argument("name")
@click.option("--data", default="{}", help="the signal's data as a JSON object")
@click.option("--as", "username", help="who throws it (a supervisor or admin; default: the system)")
@click.option("--org", "org_code", help="org unit of the work orders it starts (default: the root unit)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def signal(app: App, name: str, data: str, username: str | None, org_code: str | None, as_json: bool) -> None:
    """Broadcast signal NAME: every waiting work order catches it, every signal start event starts."""
    _send(app, "signal", name, data, username, org_code, as_json)


@click.command()
@click.argument("name")
@click.option("--data", default="{}", help="the message's data as a JSON object")
@click.option("--as", "username", help="who sends it (a supervisor or admin; default: the system)")
@click.option("--org", "org_code", help="org unit of a work order it starts (default: the root unit)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def message(app: App, name: str, data: str, username: str | None, org_code: str | None, as_json: bool) -> None:
    """Send message NAME to the work order waiting for it, else start the process it starts."""
    _send(app, "message", name, data, username, org_code, as_json)
