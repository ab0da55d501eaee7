"""What the engine API's views share: ids and query arguments read strictly (a bad one is a 400, an id that
cannot exist a 404), offset paging over the engine's pages, times and data as JSON, and the resources — tasks,
work orders, definitions, incidents, history events — as ``schemas.py`` documents them.

The views live in ``definitions.py``, ``instances.py``, ``tasks.py`` and ``events.py``; each acts as the
client's user and leaves every decision about what that user may see and do to the engine's services and the
rules the web pages apply."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.forms import schema as form_schema
from engine.history.models import HistoryEvent
from engine.paging import Page
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, IncidentStatus, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus
from engine.tasks.queries import instance_facts
from handlers.tmf.times import iso
from webapp import db
from webapp.api.base import BAD_REQUEST, ApiProblem, say

PREFIX = "/api/v1"
MAX_ID = 2**31 - 1
TRUE, FALSE = ("true", "1"), ("false", "0")


# -- reading the request -------------------------------------------------------------------------------------
def known_id(value: int, what: str) -> int:
    """``value`` when a row could have it; an id out of range names nothing (404, as a missing row)."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist", details={what: value})
    return value


def bad_arg(name: str, expected: str) -> ApiProblem:
    return ApiProblem(400, BAD_REQUEST, say(f"参数 {name} 无效。", f"The parameter {name} is not valid."),
                      {"fields": {name: expected}})


def arg_bool(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise bad_arg(name, "true or false")


def arg_choice(name: str, choices: Sequence[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in choices:
        raise bad_arg(name, "one of " + ", ".join(choices))
    return value


def arg_int(name: str, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_arg(name, "integer") from None
    if not minimum <= number <= maximum:
        raise bad_arg(name, f"{minimum}-{maximum}")
    return number


def arg_time(name: str) -> datetime | None:
    """A date-time with its offset (``2026-03-02T10:00:00Z``)."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad_arg(name, "date-time") from None
    if moment.tzinfo is None:
        raise bad_arg(name, "date-time with an offset")
    return moment.astimezone(UTC)


def arg_text(name: str, max_length: int = 200) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > max_length:
        raise bad_arg(name, f"at most {max_length} characters")
    return value or None


def window(fetch: Callable[[int, int], Page[Any]], offset: int, limit: int) -> tuple[int, list[Any]]:
    """(total, the rows ``offset`` … ``offset + limit``) from an engine query that serves numbered pages."""
    number = offset // limit + 1
    page = fetch(number, limit)
    rows = list(page.items)[offset % limit:]
    if offset % limit and len(rows) < limit and page.total > offset + len(rows):
        rows += list(fetch(number + 1, limit).items)[: limit - len(rows)]
    return page.total, rows


# -- JSON ------------------------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` as JSON has it: times in UTC with Z, everything unknown as text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return str(value)


def form_fields(schema: dict[str, Any] | None) -> set[str]:
    """The data keys a form-js schema fills."""
    return {f.key for f in form_schema.fields((schema or {}).get("components") or [])}


# -- names behind ids ------------------------------------------------------------------------------------------
@dataclass
class Names:
    """Usernames, post codes and names, org codes and process names for a batch of rows."""

    users: dict[int, str] = field(default_factory=dict)
    posts: dict[int, tuple[str, str]] = field(default_factory=dict)
    orgs: dict[int, str] = field(default_factory=dict)
    definitions: dict[int, tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, s: Session, tasks: Iterable[HumanTask] = (), instances: Iterable[ProcessInstance] = (),
           user_ids: Iterable[int | None] = ()) -> Names:
        """The names these rows show, from the process's cache of them (``engine.identity.labels``)."""
        tasks, instances = list(tasks), list(instances)
        labels = db.engine().ctx.labels
        users = {i for i in user_ids if i} | {i for t in tasks for i in (t.assignee_id, t.completed_by_id) if i} | \
            {i.started_by_id for i in instances if i.started_by_id}
        return cls(labels.usernames(s, users), labels.posts(s, (t.post_id for t in tasks)),
                   labels.org_codes(s, [t.org_unit_id for t in tasks] + [i.org_unit_id for i in instances]),
                   labels.definitions(s, (i.definition_id for i in instances)))

    def user(self, user_id: int | None) -> str | None:
        return self.users.get(user_id) if user_id else None


# -- resources -------------------------------------------------------------------------------------------------
def task_href(task_id: int) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def instance_href(instance_id: int) -> str:
    return f"{PREFIX}/process-instances/{instance_id}"


def task_resources(s: Session, rows: Sequence[HumanTask], now: datetime,
                   names: Names | None = None) -> list[dict[str, Any]]:
    names = names or Names.of(s, rows)
    facts = instance_facts(s, {row.instance_id for row in rows})
    return [task_resource(row, names, now, facts[row.instance_id].flow if row.instance_id in facts else None,
                          facts[row.instance_id].customer if row.instance_id in facts else None) for row in rows]


def task_resource(row: HumanTask, names: Names, now: datetime, flow: str | None = None,
                  customer: str | None = None) -> dict[str, Any]:
    """A task as the API shows it: where it stands, whose it is and how its deadline goes."""
    post = names.posts.get(row.post_id) if row.post_id else None
    is_open = row.status == TaskStatus.READY
    if is_open:
        overdue = row.is_overdue(now)
        clock = row.suspended_at if row.suspended_at and row.suspended_at < now else now
        left = int((row.due_at - clock).total_seconds()) if row.due_at else None
    else:
        overdue = bool(row.due_at and row.completed_at and row.completed_at > row.due_at)
        left = None
    return {
        "id": row.id, "href": task_href(row.id), "instanceId": row.instance_id, "processKey": row.process_key,
        "processName": flow, "businessKey": row.business_key, "nodeId": row.node_id, "nodeName": row.node_name,
        "status": row.status, "post": post[0] if post else None, "postName": post[1] if post else None,
        "orgCode": names.orgs.get(row.org_unit_id), "assignee": names.user(row.assignee_id),
        "completedBy": names.user(row.completed_by_id), "customer": customer, "formKey": row.form_key,
        "allow": [a for a in (row.allow or "").split(",") if a], "timeLimit": row.time_limit,
        "createdAt": iso(row.created_at), "claimedAt": iso(row.claimed_at), "completedAt": iso(row.completed_at),
        "warnAt": iso(row.warn_at), "dueAt": iso(row.due_at), "suspended": row.suspended_at is not None,
        "overdue": overdue, "secondsLeft": left,
    }


def open_tasks(s: Session, instance_ids: Sequence[int]) -> dict[int, list[HumanTask]]:
    found: dict[int, list[HumanTask]] = {i: [] for i in instance_ids}
    if instance_ids:
        for row in s.scalars(select(HumanTask).where(HumanTask.instance_id.in_(instance_ids),
                                                     HumanTask.status == TaskStatus.READY).order_by(HumanTask.id)):
            found[row.instance_id].append(row)
    return found


def open_incident_counts(s: Session, instance_ids: Sequence[int]) -> dict[int, int]:
    if not instance_ids:
        return {}
    return dict(s.execute(select(Incident.instance_id, func.count()).where(
        Incident.instance_id.in_(instance_ids), Incident.status == IncidentStatus.OPEN)
        .group_by(Incident.instance_id)).tuples().all())


def instance_resources(s: Session, instances: Sequence[ProcessInstance], now: datetime) -> list[dict[str, Any]]:
    """Work orders with their open steps and how many open incidents each has."""
    ids = [i.id for i in instances]
    steps = open_tasks(s, ids)
    every = [t for rows in steps.values() for t in rows]
    names = Names.of(s, every, instances)
    incidents = open_incident_counts(s, ids)
    return [instance_resource(i, names, [task_resource(t, names, now) for t in steps[i.id]], incidents.get(i.id, 0))
            for i in instances]


def instance_resource(instance: ProcessInstance, names: Names, current: list[dict[str, Any]],
                      incidents: int) -> dict[str, Any]:
    name, version = names.definitions.get(instance.definition_id, (instance.process_key, 0))
    return {
        "id": instance.id, "href": instance_href(instance.id), "processKey": instance.process_key,
        "processName": name, "version": version, "definitionId": instance.definition_id,
        "businessKey": instance.business_key, "status": instance.status,
        "orgCode": names.orgs.get(instance.org_unit_id),
        "customer": instance.customer, "customerPhone": instance.customer_phone, "circuit": instance.circuit,
        "startedAt": iso(instance.started_at), "startedBy": names.user(instance.started_by_id),
        "endedAt": iso(instance.ended_at), "endReason": instance.end_reason, "currentSteps": current,
        "openIncidents": incidents,
    }


def incident_resource(row: Incident, business_key: str | None) -> dict[str, Any]:
    return {
        "id": row.id, "href": f"{PREFIX}/incidents/{row.id}", "instanceId": row.instance_id,
        "businessKey": business_key, "jobId": row.job_id, "nodeId": row.node_id or "", "kind": row.kind,
        "message": row.message or "", "status": row.status, "attempts": row.attempts,
        "createdAt": iso(row.created_at), "updatedAt": iso(row.updated_at), "resolvedAt": iso(row.resolved_at),
    }


def event_resource(event: HistoryEvent, names: Names) -> dict[str, Any]:
    return {"id": event.id, "type": event.event_type, "at": iso(event.at), "actor": names.user(event.actor_id),
            "nodeId": event.node_id, "taskId": event.human_task_id, "payload": plain(event.payload or {})}


def definition_resource(row: ProcessDefinition, names: Names) -> dict[str, Any]:
    return {"id": row.id, "href": f"{PREFIX}/process-definitions/{row.key}", "key": row.key, "name": row.name,
            "version": row.version, "sourceName": row.source_name or None, "deployedAt": iso(row.deployed_at),
            "deployedBy": names.user(row.deployed_by_id)}
