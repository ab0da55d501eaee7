"""The task's clock: 挂起 (suspend) and resume, 催办 (urge), extension requests and grants."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine.errors import Code, InvalidInput, InvalidState, NotAllowed
from engine.history.service import record
from engine.identity.access import oversees
from engine.identity.models import User
from engine.runtime.executor import conflict_guard
from engine.sla.durations import Duration, parse_duration
from engine.sla.notices import Notice, holders, supervisors
from engine.tasks.access import (
    MAX_TEXT,
    actionable_task,
    is_offered_to,
    require_open,
    required_text,
    visible_task,
)
from engine.tasks.models import HumanTask

if TYPE_CHECKING:
    from engine.runtime.service import RuntimeService


class TimingActions:
    """Part of :class:`engine.tasks.service.TaskService`."""

    runtime: RuntimeService

    def suspend(self, session: Session, task_id: int, user: User, *, reason: str) -> HumanTask:
        """挂起: stop the task's clock (the step must allow it); nobody can complete it until it resumes."""
        row = actionable_task(session, task_id, user, action="suspend")
        reason = required_text(reason, "reason")
        if row.suspended_at is not None:
            raise InvalidState(f"task {task_id} is already suspended", code=Code.TASK_SUSPENDED)
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            self.runtime.ctx.sla.pause(row, now)
            session.flush()
        record(session, row.instance_id, "task_suspended", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, payload={"reason": reason}, at=now)
        return row

    def resume(self, session: Session, task_id: int, user: User, *, reason: str = "") -> HumanTask:
        """Resume a suspended task; its warn and due times move later by the paused (working) time."""
        row = visible_task(session, task_id, user)
        require_open(row)
        if row.suspended_at is None:
            raise InvalidState(f"task {task_id} is not suspended", code=Code.TASK_NOT_SUSPENDED)
        if not (is_offered_to(user, row) or oversees(session, user, row.org_unit_id)):
            raise NotAllowed(f"task {task_id} is not offered to {user.username}", code=Code.TASK_NOT_OFFERED)
        now = self.runtime.ctx.clock()
        paused_from = row.suspended_at
        with conflict_guard(f"task {task_id}"):
            paused = self.runtime.ctx.sla.resume(session, row, now)
            session.flush()
        record(session, row.instance_id, "task_resumed", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now,
               payload={"reason": reason.strip()[:MAX_TEXT], "paused_seconds": int((now - paused_from).total_seconds()),
                        "paused_counted_seconds": int(paused.total_seconds()),
                        "due_at": row.due_at.isoformat() if row.due_at else None})
        return row

    def urge(self, session: Session, task_id: int, user: User, *, note: str = "") -> HumanTask:
        """催办 by a supervisor of the task's org unit: an SMS to whoever has the task, and a history event."""
        row = visible_task(session, task_id, user)
        require_open(row)
        if not oversees(session, user, row.org_unit_id):
            raise NotAllowed(f"only a supervisor of the task's org unit may urge task {task_id}")
        now = self.runtime.ctx.clock()
        users = holders(session, self.runtime.identity, row)
        event = record(session, row.instance_id, "task_urged", actor_id=user.id, human_task_id=row.id,
                       node_id=row.node_id, at=now, payload={"note": note.strip()[:MAX_TEXT], "to": users})
        session.flush()
        self.runtime.ctx.emit("task_urged", session, now, Notice("task_urged", row, users, f"urge:{row.id}:{event.id}",
                                                                 actor=user, details={"note": note.strip()[:200]}))
        return row

    def request_extension(self, session: Session, task_id: int, user: User, *, by: str, reason: str) -> HumanTask:
        """延期申请: ask the supervisors of the task's unit for more time (the step must allow ``extend``)."""
        row = actionable_task(session, task_id, user, action="extend")
        reason = required_text(reason, "reason")
        _extension(by)  # a request names a real duration
        now = self.runtime.ctx.clock()
        bosses = supervisors(session, self.runtime.identity, row)
        event = record(session, row.instance_id, "extension_requested", actor_id=user.id, human_task_id=row.id,
                       node_id=row.node_id, at=now, payload={"by": by, "reason": reason, "to": bosses})
        session.flush()
        self.runtime.ctx.emit("extension_requested", session, now,
                              Notice("extension_requested", row, bosses, f"extension:{row.id}:{event.id}", actor=user,
                                     details={"by": by, "reason": reason}))
        return row

    def grant_extension(self, session: Session, task_id: int, user: User, *, by: str, reason: str) -> HumanTask:
        """Move a task's deadline later by ``by`` on its calendar (supervisors of its unit); a warning or
        overdue flag that no longer applies is cleared, so the new deadline is watched again."""
        row = visible_task(session, task_id, user)
        require_open(row)
        if not oversees(session, user, row.org_unit_id):
            raise NotAllowed(f"only a supervisor of the task's unit may extend task {task_id}")
        if row.due_at is None:
            raise InvalidState(f"task {task_id} has no deadline to extend", code=Code.TASK_NO_DEADLINE)
        reason = required_text(reason, "reason")
        extra = _extension(by)
        now = self.runtime.ctx.clock()
        old_due = row.due_at
        with conflict_guard(f"task {task_id}"):
            self.runtime.ctx.sla.extend_task(session, row, extra, now)
            session.flush()
        record(session, row.instance_id, "task_extended", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now,
               payload={"by": by, "reason": reason, "from": old_due.isoformat(), "to": row.due_at.isoformat()})
        return row


def _extension(by: str) -> Duration:
    try:
        return parse_duration(by)
    except ValueError as err:
        raise InvalidInput(str(err), {"by": "not a duration"}) from None
