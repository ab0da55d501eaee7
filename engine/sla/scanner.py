"""The SLA scan the worker runs each tick: warn tasks that reached warn_at, flag and escalate overdue ones.

Each level fires once per task occurrence (``warned_at`` / ``overdue_at`` are set in the same transaction as
the SMS jobs and history events); the queries read partial indexes holding only tasks still to be flagged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.service import record
from engine.identity.models import User
from engine.identity.service import IdentityService
from engine.jobs.service import enqueue
from engine.sla.calendar import SHANGHAI
from engine.tasks.models import HumanTask

SMS_JOB = "sms.send"


def recipients(session: Session, identity: IdentityService, row: HumanTask) -> list[int]:
    """The assignee, or every holder of the task's post in its org unit when nobody has claimed it."""
    if row.assignee_id:
        return [row.assignee_id]
    if row.post_id is None:
        return []
    return [u.id for u in identity.holders(session, row.post_id, row.org_unit_id)]


def task_params(session: Session, row: HumanTask) -> dict[str, str]:
    assignee = session.get(User, row.assignee_id) if row.assignee_id else None
    return {
        "business_key": row.business_key,
        "step": row.node_name,
        "due": row.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if row.due_at else "-",
        "assignee": assignee.display_name if assignee else "未签收",
    }


def _pending(session: Session, column: object, flag: object, now: datetime, limit: int) -> list[HumanTask]:
    query = (
        select(HumanTask)
        .where(HumanTask.status == "ready", flag.is_(None), HumanTask.suspended_at.is_(None),  # type: ignore[attr-defined]
               column <= now)  # type: ignore[operator]
        .order_by(column).limit(limit)  # type: ignore[arg-type]
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query).all())


def scan_deadlines(session: Session, identity: IdentityService, now: datetime, limit: int = 200) -> int:
    """Flag and notify what passed its warning or due time; returns how many levels fired."""
    fired = 0
    for row in _pending(session, HumanTask.warn_at, HumanTask.warned_at, now, limit):
        row.warned_at = now
        users = recipients(session, identity, row)
        record(session, row.instance_id, "task_warned", human_task_id=row.id, node_id=row.node_id, at=now,
               payload={"to": users, "due_at": row.due_at.isoformat() if row.due_at else None})
        notify_sms(session, "warning", users, task_params(session, row), f"sla-warning:{row.id}", row, now)
        fired += 1
    for row in _pending(session, HumanTask.due_at, HumanTask.overdue_at, now, limit):
        row.overdue_at = now
        params = task_params(session, row)
        users = recipients(session, identity, row)
        record(session, row.instance_id, "task_overdue", human_task_id=row.id, node_id=row.node_id, at=now,
               payload={"to": users, "due_at": row.due_at.isoformat() if row.due_at else None})
        notify_sms(session, "overdue", users, params, f"sla-overdue:{row.id}", row, now)
        bosses = [u.id for u in identity.supervisors_for(session, row.org_unit_id)]
        record(session, row.instance_id, "task_escalated", human_task_id=row.id, node_id=row.node_id, at=now,
               payload={"to": bosses})
        notify_sms(session, "escalation", bosses, params, f"sla-escalation:{row.id}", row, now)
        fired += 1
    return fired


def notify_sms(session: Session, template: str, user_ids: list[int], params: dict[str, str], key: str,
               row: HumanTask, now: datetime) -> None:
    """Queue the SMS ``template`` about ``row`` to ``user_ids`` as one job (once per ``key``)."""
    if not user_ids:
        return
    enqueue(session, SMS_JOB, {"template": template, "to": [{"user_id": u} for u in user_ids], "params": params},
            key, now=now, instance_id=row.instance_id)
