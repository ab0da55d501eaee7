"""Task service: the human-task queue and what post holders do with a task.

Every action runs inside the caller's transaction, re-checks the task's state and the user's right to act
on it there, and records a history event. A task the user may not see is reported as not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.attachments.models import Attachment
from engine.attachments.service import AttachmentService
from engine.errors import Code, InvalidState
from engine.forms.schema import Field
from engine.forms.service import FormService
from engine.forms.validation import AttachmentCheck, Problem
from engine.history.service import record
from engine.identity.access import oversees
from engine.identity.models import User
from engine.paging import Page
from engine.runtime.executor import conflict_guard
from engine.runtime.service import RuntimeService, check_data
from engine.tasks.access import (
    actionable_task,
    claimed_by_other,
    live_task,
    load_with_instance,
    require_open,
    require_running,
    visible_task,
)
from engine.tasks.handover import HandoverActions
from engine.tasks.models import HumanTask, TaskStatus
from engine.tasks.queries import TaskFilter, query_tasks
from engine.tasks.rework import form_reason, notify_rework, reworked
from engine.tasks.timing import TimingActions


class TaskService(HandoverActions, TimingActions):
    """Query, claim, complete, transfer, return and annotate human tasks."""

    def __init__(self, runtime: RuntimeService, forms: FormService, attachments: AttachmentService):
        self.runtime = runtime
        self.forms = forms
        self.attachments = attachments

    def query(self, session: Session, user: User, *, scope: str = "inbox", filters: TaskFilter | None = None,
              page: int = 1, page_size: int = 50, sort: str | None = None) -> Page[HumanTask]:
        return query_tasks(session, user, scope=scope, filters=filters, page=page, page_size=page_size, sort=sort)

    def get(self, session: Session, task_id: int, user: User) -> HumanTask:
        """The task if the user may see it; otherwise :class:`NotFound` (no hint that it exists)."""
        return visible_task(session, task_id, user)

    def claim(self, session: Session, task_id: int, user: User) -> HumanTask:
        row = actionable_task(session, task_id, user)
        if row.assignee_id == user.id:
            return row
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            row.assignee_id, row.claimed_at = user.id, now
            session.flush()
        record(session, row.instance_id, "task_claimed", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now)
        return row

    def unclaim(self, session: Session, task_id: int, user: User) -> HumanTask:
        row = visible_task(session, task_id, user)
        require_open(row)
        if row.assignee_id is None:
            return row
        if row.assignee_id != user.id and not oversees(session, user, row.org_unit_id):
            raise claimed_by_other(row)
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            row.assignee_id, row.claimed_at = None, None
            session.flush()
        record(session, row.instance_id, "task_unclaimed", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now)
        return row

    def complete(self, session: Session, task_id: int, user: User, data: dict[str, Any]) -> list[HumanTask]:
        """Complete the task with ``data`` and run the instance on; returns the tasks that arrived."""
        check_data(data)
        known, instance = load_with_instance(session, task_id)
        row = actionable_task(session, task_id, user)
        require_running(row)
        assert instance is not None and instance.id == row.instance_id
        with conflict_guard(f"work order {row.business_key}"):
            op = self.runtime.open(session, instance, user.id)
            op.known_rows = known
            task = live_task(op.spiff_task(row.spiff_task_id), row)
            if row.form_key:
                form_id = op.definition.forms.get(row.form_key)
                if form_id is None:
                    raise InvalidState(f"form '{row.form_key}' of task {task_id} is not deployed with its process",
                                       code=Code.FORM_NOT_DEPLOYED, details={"form": row.form_key})
                data = self.forms.validate(session, row.form_key, form_id, data,
                                           self._attachment_check(session, row))
            task.set_data(**data)
            instance.take_search_fields(data)
            row.status, row.completed_at, row.completed_by_id = TaskStatus.COMPLETED, op.now, user.id
            row.assignee_id = row.assignee_id or user.id
            row.data = data
            record(session, instance.id, "task_completed", actor_id=user.id, human_task_id=row.id,
                   node_id=row.node_id, payload={"fields": sorted(data)}, at=op.now)
            self.runtime.ctx.emit("task_completed", session, op.now, row)
            op.advance(first=task, shared=data)
            created = op.save()
        reason = form_reason(self.forms.schema(session, form_id), data) if row.form_key else ""
        if reason:
            sent_back = reworked(session, created)
            notify_rework(self.runtime.ctx, session, self.runtime.identity, op.now, sent_back, actor=user,
                          from_step=row.node_name, reason=reason, event_id=row.id)
        return created

    def upload(self, session: Session, task_id: int, user: User, *, filename: str, data: bytes,
               accept: object = None) -> Attachment:
        """Attach a file to a task the user works on (to reference from the task's form, whose file field's
        ``accept`` it must then fit, or on its own: a photo from site, a customer's letter)."""
        row = actionable_task(session, task_id, user)
        attachment = self.attachments.store(session, instance_id=row.instance_id, human_task_id=row.id,
                                            user_id=user.id, filename=filename, data=data,
                                            now=self.runtime.ctx.clock(), accept=accept)
        record(session, row.instance_id, "attachment_added", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=attachment.created_at,
               payload={"attachment_id": attachment.id, "filename": attachment.filename, "size": attachment.size})
        return attachment

    def _attachment_check(self, session: Session, row: HumanTask) -> AttachmentCheck:
        def check(attachment_id: int, field: Field) -> Problem | None:
            found = session.get(Attachment, attachment_id)
            if found is None or found.instance_id != row.instance_id:
                return Problem("file_foreign", (("id", attachment_id),))
            accepted = self.attachments.accepted(field.component.get("accept"))
            if not any(found.filename.lower().endswith(a) for a in accepted):
                return Problem("file_type", (("name", found.filename), ("allowed", "、".join(accepted))))
            return None

        return check

