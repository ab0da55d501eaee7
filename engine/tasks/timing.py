"""The task's clock: 挂起 (suspend) and resume, 催办 (urge), extension requests and grants."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.errors import Code, InvalidState, NotAllowed
from engine.history.service import record
from engine.identity.access import oversees
from engine.identity.models import User
from engine.runtime.executor import conflict_guard
from engine.sla.calendar import SHANGHAI
from engine.sla.extension import Extension, ExtensionPlan, parse_extension
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

    def preview_extension(self, session: Session, task_id: int, user: User, *, by: str | None = None,
                          until: datetime | str | None = None) -> ExtensionPlan:
        """The deadline an extension ``by`` a duration or ``until`` a new deadline would give, on the task's own
        calendar; nothing changes. Whoever may ask for (the holder, where the step allows ``extend``) or grant
        (a supervisor of the task's unit) an extension may see it."""
        row = visible_task(session, task_id, user)
        require_open(row)
        if not oversees(session, user, row.org_unit_id):
            actionable_task(session, task_id, user, action="extend")
        return self._plan(session, row, parse_extension(by, until))

    def request_extension(self, session: Session, task_id: int, user: User, *, by: str | None = None,
                          until: datetime | str | None = None, reason: str) -> HumanTask:
        """延期申请: ask the supervisors of the task's unit for more time — ``by`` a duration or ``until`` a new
        deadline (the step must allow ``extend``); the history keeps what was asked and the deadline it gives."""
        row = actionable_task(session, task_id, user, action="extend")
        reason = required_text(reason, "reason")
        asked = parse_extension(by, until)
        plan = self._plan(session, row, asked) if row.due_at is not None or asked.until is not None else None
        now = self.runtime.ctx.clock()
        bosses = supervisors(session, self.runtime.identity, row)
        payload: dict[str, Any] = {**asked.payload(), "reason": reason, "to": bosses}
        if plan is not None:
            payload.update({"from": plan.current.isoformat(), "proposed": plan.due_at.isoformat()})
        event = record(session, row.instance_id, "extension_requested", actor_id=user.id, human_task_id=row.id,
                       node_id=row.node_id, at=now, payload=payload)
        session.flush()
        asked_for = asked.by if asked.until is None else f"至 {asked.until.astimezone(SHANGHAI):%m-%d %H:%M}"
        self.runtime.ctx.emit("extension_requested", session, now,
                              Notice("extension_requested", row, bosses, f"extension:{row.id}:{event.id}", actor=user,
                                     details={**asked.payload(), "by": asked_for, "reason": reason}))
        return row

    def grant_extension(self, session: Session, task_id: int, user: User, *, by: str | None = None,
                        until: datetime | str | None = None, reason: str) -> HumanTask:
        """Move a task's deadline later — ``by`` a duration or ``until`` a new deadline — on its calendar
        (supervisors of its unit); a warning or overdue flag that no longer applies is cleared, so the new
        deadline is watched again. The history keeps what was asked, and the deadline before and after."""
        row = visible_task(session, task_id, user)
        require_open(row)
        if not oversees(session, user, row.org_unit_id):
            raise NotAllowed(f"only a supervisor of the task's unit may extend task {task_id}")
        reason = required_text(reason, "reason")
        plan = self._plan(session, row, parse_extension(by, until))
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            self.runtime.ctx.sla.apply_extension(row, plan, now)
            session.flush()
        record(session, row.instance_id, "task_extended", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now,
               payload={**plan.asked.payload(), "reason": reason, "from": plan.current.isoformat(),
                        "to": plan.due_at.isoformat()})
        return row

    def _plan(self, session: Session, row: HumanTask, asked: Extension) -> ExtensionPlan:
        """The extension counted on the task's calendar (a task without a deadline has nothing to extend)."""
        if row.due_at is None:
            raise InvalidState(f"task {row.id} has no deadline to extend", code=Code.TASK_NO_DEADLINE,
                               details={"task": row.id})
        return self.runtime.ctx.sla.plan_extension(session, row, asked, self.runtime.ctx.clock())
