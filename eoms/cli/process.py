"""Process commands: deploy, validate, start, the task queue, incidents, history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from engine.errors import BpmnValidationError, ValidationIssue
from engine.forms.service import parse_form
from engine.repository.calls import in_call_order, processes_of
from engine.repository.rules import rule_text
from engine.tasks.models import HumanTask
from engine.tasks.queries import SCOPES
from eoms.cli.common import App, emit_json, iso, local_time, parse_json_object, pass_app, print_table


def register_process_commands(cli: click.Group) -> None:
    for command in (deploy, validate, start, tasks, claim, complete, transfer, return_task, annotate,
                    suspend, resume, urge, cancel, incidents, retry, history):
        cli.add_command(command)


def process_files(paths: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """The form files (``*.json``) and BPMN files named; a directory contributes every one inside it."""
    forms: list[Path] = []
    diagrams: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            forms.extend(sorted(path.rglob("*.json")))
            diagrams.extend(sorted(path.rglob("*.bpmn")))
        elif path.is_file() and path.suffix == ".json":
            forms.append(path)
        elif path.is_file():
            diagrams.append(path)
        else:
            raise click.BadParameter(f"'{raw}' does not exist", param_hint="PATH")
    if not diagrams and not forms:
        raise click.BadParameter("no .bpmn or form .json files found", param_hint="PATH")
    return forms, diagrams


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def deploy(app: App, paths: tuple[str, ...], as_json: bool) -> None:
    """Validate and deploy forms (*.json) and BPMN files; a changed file becomes the next version."""
    forms, diagrams = process_files(paths)
    results = []
    with app.transaction() as s:
        for path in forms:
            f = app.engine.forms.deploy(s, path.stem, path.read_bytes(), path.name)
            results.append({"kind": "form", "key": f.key, "version": f.version, "name": f.key, "file": str(path),
                            "new": f.created})
        by_name = {str(path): path for path in diagrams}
        for name, content in in_call_order([(str(path), path.read_bytes()) for path in diagrams]):
            for r in app.engine.repository.deploy(s, content, by_name[name].name):
                results.append({"kind": "process", "key": r.key, "version": r.version, "name": r.name,
                                "file": name, "new": r.created})
    if as_json:
        emit_json(results)
        return
    for r in results:
        if r["kind"] == "process" or r["new"]:
            click.echo(f"{r['kind']} {r['key']} version {r['version']} ({'deployed' if r['new'] else 'unchanged'})"
                       f"{' ' + str(r['name']) if r['kind'] == 'process' else ''}")
    unchanged_forms = sum(1 for r in results if r["kind"] == "form" and not r["new"])
    if unchanged_forms:
        click.echo(f"{unchanged_forms} form(s) unchanged")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def validate(app: App, paths: tuple[str, ...], as_json: bool) -> None:
    """Check forms and BPMN files without deploying; exits non-zero when any file has errors."""
    forms, diagrams = process_files(paths)
    report: list[dict[str, object]] = []
    issues: list[ValidationIssue] = []
    for path in forms:
        try:
            parse_form(path.read_bytes(), path.name)
            report.append({"file": str(path), "ok": True, "processes": []})
        except BpmnValidationError as err:
            issues.extend(err.issues)
            report.append({"file": str(path), "ok": False, "errors": [_issue(i) for i in err.issues]})
    batch = processes_of([(str(path), path.read_bytes()) for path in diagrams])
    with app.transaction() as s:
        for path in diagrams:
            try:
                parsed = app.engine.repository.validate(s, path.read_bytes(), path.name,
                                                        extra_forms={f.stem for f in forms}, extra_processes=batch)
                report.append({"file": str(path), "ok": True, "processes": sorted(parsed.specs)})
            except BpmnValidationError as err:
                issues.extend(err.issues)
                report.append({"file": str(path), "ok": False, "errors": [_issue(i) for i in err.issues]})
    if as_json:
        emit_json(report)
    else:
        for entry in report:
            if entry["ok"] and entry["processes"]:
                click.echo(f"{entry['file']}: ok ({', '.join(entry['processes'])})")  # type: ignore[arg-type]
        oks = sum(1 for e in report if e["ok"] and not e["processes"])
        if oks:
            click.echo(f"{oks} form file(s): ok")
    if issues:
        if not as_json:
            for issue in issues:
                click.echo(issue_line(issue), err=True)
        raise SystemExit(1)


def _issue(i: ValidationIssue) -> dict[str, object]:
    return {"element_id": i.element_id, "rule": i.rule, "message": i.message, "line": i.line,
            "rule_zh": rule_text(i.rule, "zh"), "rule_en": rule_text(i.rule, "en")}


def issue_line(issue: ValidationIssue) -> str:
    """One refusal for the terminal: where, the element, the rule and its text in Chinese and English."""
    return f"error: {issue} （{rule_text(issue.rule, 'zh')} / {rule_text(issue.rule, 'en')}）"


@click.command()
@click.argument("key")
@click.option("--business-key", required=True, help="the work order number")
@click.option("--data", default="{}", help="start data as a JSON object")
@click.option("--as", "username", required=True, help="who starts it")
@click.option("--org", "org_code", help="org unit of the work (default: the starter's)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def start(app: App, key: str, business_key: str, data: str, username: str, org_code: str | None,
          as_json: bool) -> None:
    """Start an instance of the newest version of KEY; prints the instance id."""
    payload = parse_json_object(data, "--data")
    with app.transaction() as s:
        actor = app.engine.identity.get_user(s, username)
        result = app.engine.runtime.start(s, key, business_key=business_key, data=payload, actor=actor,
                                          org_code=org_code)
        out = {"instance_id": result.instance.id, "status": result.instance.status,
               "tasks": [t.id for t in result.tasks],
               "incident": result.incident.message if result.incident else None}
    if as_json:
        emit_json(out)
    else:
        click.echo(out["instance_id"])
        if out["incident"]:
            click.echo(f"warning: incident opened: {out['incident']}", err=True)


def task_dict(t: HumanTask, names: dict[int, str]) -> dict[str, object]:
    return {
        "id": t.id, "instance_id": t.instance_id, "business_key": t.business_key, "node_id": t.node_id,
        "name": t.node_name, "post": t.lane, "assignee": names.get(t.assignee_id or 0, ""),
        "status": t.status, "created_at": iso(t.created_at), "warn_at": iso(t.warn_at), "due_at": iso(t.due_at),
    }


@click.command()
@click.option("--as", "username", required=True, help="whose queue")
@click.option("--scope", type=click.Choice(SCOPES), default="inbox",
              help="inbox = mine + unclaimed of my posts")
@click.option("--page", default=1, show_default=True)
@click.option("--page-size", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def tasks(app: App, username: str, scope: str, page: int, page_size: int, as_json: bool) -> None:
    """A user's work queue, sorted by due time."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        result = app.engine.tasks.query(s, u, scope=scope, page=page, page_size=page_size)
        names = app.engine.identity.usernames(s, (t.assignee_id for t in result.items))
        rows = [task_dict(t, names) for t in result.items]
    if as_json:
        emit_json({"total": result.total, "page": page, "page_size": page_size, "tasks": rows})
        return
    display = [{**r, "created": local_time_from(r["created_at"]), "warn": local_time_from(r["warn_at"]),
                "due": local_time_from(r["due_at"])} for r in rows]
    print_table(display, ["id", "instance_id", "business_key", "node_id", "name", "post", "assignee", "status",
                          "created", "warn", "due"])
    click.echo(f"{result.total} task(s); page {page} of {result.pages}; times in Asia/Shanghai")


def local_time_from(value: object) -> str:
    return local_time(datetime.fromisoformat(value)) if isinstance(value, str) else "-"


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@pass_app
def claim(app: App, task_id: int, username: str) -> None:
    """Claim an unclaimed task of one of your posts."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        row = app.engine.tasks.claim(s, task_id, u)
        click.echo(f"task {row.id} ({row.node_name}) claimed by {u.username}")


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--data", default="{}", help="form data as a JSON object")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def complete(app: App, task_id: int, username: str, data: str, as_json: bool) -> None:
    """Complete a task with form data; prints the tasks that arrive next."""
    payload = parse_json_object(data, "--data")
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        created = app.engine.tasks.complete(s, task_id, u, payload)
        instance = app.engine.runtime.get(s, app.engine.tasks.get(s, task_id, u).instance_id)
        out = {"task_id": task_id, "instance_status": instance.status,
               "next_tasks": [{"id": t.id, "node_id": t.node_id, "name": t.node_name, "post": t.lane}
                              for t in created]}
    if as_json:
        emit_json(out)
        return
    click.echo(f"task {task_id} completed; instance {instance.id} is {out['instance_status']}")
    for t in out["next_tasks"]:  # type: ignore[union-attr]
        click.echo(f"  next: task {t['id']} {t['name']} ({t['post']})")


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--to-user", help="username of the new assignee")
@click.option("--to-post", help="post code: back to that post's pool")
@click.option("--to-org", help="org unit code for --to-post (default: unchanged)")
@click.option("--reason", required=True)
@pass_app
def transfer(app: App, task_id: int, username: str, to_user: str | None, to_post: str | None,
             to_org: str | None, reason: str) -> None:
    """转派: hand a task to a person or a post."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        app.engine.tasks.transfer(s, task_id, u, reason=reason, to_user=to_user, to_post=to_post, to_org=to_org)
        click.echo(f"task {task_id} transferred to {to_user or to_post}")


@click.command("return")
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--reason", required=True)
@pass_app
def return_task(app: App, task_id: int, username: str, reason: str) -> None:
    """退回: send the work back to the previous step."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        row = app.engine.tasks.return_to_previous(s, task_id, u, reason=reason)
        click.echo(f"task {task_id} returned; step {row.node_name} reopened as task {row.id}")


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--text", required=True)
@pass_app
def annotate(app: App, task_id: int, username: str, text: str) -> None:
    """批注: add a note to a task."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        app.engine.tasks.annotate(s, task_id, u, text)
        click.echo(f"note added to task {task_id}")


@click.command()
@click.argument("instance_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--reason", required=True)
@pass_app
def cancel(app: App, instance_id: int, username: str, reason: str) -> None:
    """Cancel a running instance (supervisors and admins)."""
    with app.transaction() as s:
        u = app.engine.identity.get_user(s, username)
        app.engine.runtime.cancel(s, instance_id, actor=u, reason=reason)
        click.echo(f"instance {instance_id} cancelled")


@click.command()
@click.option("--all", "show_all", is_flag=True, help="include resolved incidents")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def incidents(app: App, show_all: bool, as_json: bool) -> None:
    """Failed steps waiting for a retry."""
    with app.transaction() as s:
        rows = [{"id": i.id, "instance_id": i.instance_id, "node_id": i.node_id, "kind": i.kind,
                 "status": i.status, "attempts": i.attempts, "created_at": iso(i.created_at),
                 "message": i.message}
                for i in app.engine.management.incidents(s, status=None if show_all else "open")]
    if as_json:
        emit_json(rows)
    else:
        print_table(rows, ["id", "instance_id", "node_id", "kind", "status", "attempts", "message"])


@click.command()
@click.argument("incident_id", type=int)
@click.option("--as", "username", help="who retries (default: the system)")
@pass_app
def retry(app: App, incident_id: int, username: str | None) -> None:
    """Run a failed step again."""
    with app.transaction() as s:
        actor = app.engine.identity.get_user(s, username) if username else None
        incident = app.engine.management.retry_incident(s, incident_id, actor=actor)
        status, message = incident.status, incident.message
    if status == "resolved":
        click.echo(f"incident {incident_id} resolved")
    else:
        raise click.ClickException(f"incident {incident_id} failed again: {message}")


@click.command()
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@pass_app
def history(app: App, instance_id: int, as_json: bool) -> None:
    """The timeline of an instance."""
    with app.transaction() as s:
        app.engine.runtime.get(s, instance_id)
        events = app.engine.history.timeline(s, instance_id)
        names = app.engine.identity.usernames(s, (e.actor_id for e in events))
        rows = [{"at": iso(e.at), "event": e.event_type, "node_id": e.node_id or "", "task_id": e.human_task_id,
                 "actor": names.get(e.actor_id or 0, "system"), "payload": e.payload} for e in events]
    if as_json:
        emit_json(rows)
        return
    print_table([{**r, "at": local_time_from(r["at"]), "payload": _short(r["payload"])} for r in rows],
                ["at", "event", "node_id", "task_id", "actor", "payload"])


def _short(payload: object) -> str:
    text = "" if not payload else str(payload)
    return text if len(text) <= 80 else text[:77] + "..."


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--reason", required=True)
@pass_app
def suspend(app: App, task_id: int, username: str, reason: str) -> None:
    """挂起: pause a task's clock."""
    with app.transaction() as s:
        app.engine.tasks.suspend(s, task_id, app.engine.identity.get_user(s, username), reason=reason)
    click.echo(f"task {task_id} suspended")


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--reason", default="")
@pass_app
def resume(app: App, task_id: int, username: str, reason: str) -> None:
    """Resume a suspended task; its deadline moves by the paused time."""
    with app.transaction() as s:
        row = app.engine.tasks.resume(s, task_id, app.engine.identity.get_user(s, username), reason=reason)
        due = local_time(row.due_at)
    click.echo(f"task {task_id} resumed; due {due}")


@click.command()
@click.argument("task_id", type=int)
@click.option("--as", "username", required=True)
@click.option("--note", default="")
@pass_app
def urge(app: App, task_id: int, username: str, note: str) -> None:
    """催办 (supervisors): an SMS to whoever has the task."""
    with app.transaction() as s:
        app.engine.tasks.urge(s, task_id, app.engine.identity.get_user(s, username), note=note)
    click.echo(f"task {task_id} urged")
