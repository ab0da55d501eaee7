"""The SLA scan the worker runs each tick: flag tasks that reached warn_at, flag and escalate overdue ones.

Each level fires once per task occurrence (``warned_at`` / ``overdue_at`` are set in the same transaction as
the history events and the listeners' work, e.g. SMS jobs); the queries read partial indexes holding only
tasks still to be flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.service import record
from engine.identity.service import IdentityService
from engine.sla.notices import Notice, holders, supervisors
from engine.tasks.models import HumanTask, TaskStatus

Emit = Callable[[str, Session, datetime, object], None]


def _pending(session: Session, column: object, flag: object, now: datetime, limit: int) -> list[HumanTask]:
    query = (
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.READY, flag.is_(None),  # type: ignore[attr-defined]
               HumanTask.suspended_at.is_(None), column <= now)  # type: ignore[operator]
        .order_by(column).limit(limit)  # type: ignore[arg-type]
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query).all())


def _level(session: Session, emit: Emit, event: str, row: HumanTask, users: list[int], key: str,
           now: datetime) -> None:
    payload: dict[str, object] = {"to": users}
    if event != "task_escalated":
        payload["due_at"] = row.due_at.isoformat() if row.due_at else None
    record(session, row.instance_id, event, human_task_id=row.id, node_id=row.node_id, at=now, payload=payload)
    emit(event, session, now, Notice(event, row, users, key))


def scan_deadlines(session: Session, identity: IdentityService, now: datetime, emit: Emit,
                   limit: int = 200) -> int:
    """Flag what passed its warning or due time, record it and tell the listeners; returns how many levels
    fired."""
    fired = 0
    for row in _pending(session, HumanTask.warn_at, HumanTask.warned_at, now, limit):
        row.warned_at = now
        _level(session, emit, "task_warned", row, holders(session, identity, row), f"sla-warning:{row.id}", now)
        fired += 1
    for row in _pending(session, HumanTask.due_at, HumanTask.overdue_at, now, limit):
        row.overdue_at = now
        _level(session, emit, "task_overdue", row, holders(session, identity, row), f"sla-overdue:{row.id}", now)
        _level(session, emit, "task_escalated", row, supervisors(session, identity, row),
               f"sla-escalation:{row.id}", now)
        fired += 1
    return fired
