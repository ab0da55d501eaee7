"""Task service: the human-task queue and what post holders do with a task.

Every action runs inside the caller's transaction, re-checks the task's state and the user's right to act
on it there, and records a history event. A task the user may not see is reported as not found.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ConcurrencyConflict, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.history.service import record
from engine.identity.access import holds_post_in, oversees
from engine.identity.models import OrgUnit, Post, User
from engine.jobs.service import enqueue
from engine.runtime.executor import conflict_guard
from engine.runtime.models import ProcessInstance
from engine.runtime.service import RuntimeService, check_data
from engine.sla.scanner import SMS_JOB, recipients, task_params
from engine.tasks.models import HumanTask
from engine.tasks.queries import Page, TaskFilter, query_tasks

MAX_TEXT = 2000


def is_offered_to(user: User, row: HumanTask) -> bool:
    """Open and either assigned to the user or unclaimed for one of the user's posts in the user's unit."""
    if row.status != "ready":
        return False
    if row.assignee_id is not None:
        return row.assignee_id == user.id
    return holds_post_in(user, row.post_id, row.org_unit_id)


def can_view(session: Session, user: User, row: HumanTask) -> bool:
    """Holders of the task's post in its unit, its assignee and completer, and supervisors above it."""
    return (
        holds_post_in(user, row.post_id, row.org_unit_id)
        or row.assignee_id == user.id
        or row.completed_by_id == user.id
        or oversees(session, user, row.org_unit_id)
    )


class TaskService:
    """Query, claim, complete, transfer, return and annotate human tasks."""

    def __init__(self, runtime: RuntimeService):
        self.runtime = runtime

    def query(self, session: Session, user: User, *, scope: str = "inbox", filters: TaskFilter | None = None,
              page: int = 1, page_size: int = 50) -> Page[HumanTask]:
        return query_tasks(session, user, scope=scope, filters=filters, page=page, page_size=page_size)

    def get(self, session: Session, task_id: int, user: User) -> HumanTask:
        """The task if the user may see it; otherwise :class:`NotFound` (no hint that it exists)."""
        row = session.get(HumanTask, task_id)
        if row is None or not can_view(session, user, row):
            raise NotFound(f"task {task_id} does not exist")
        return row

    def claim(self, session: Session, task_id: int, user: User) -> HumanTask:
        row = self._actionable(session, task_id, user)
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
        row = self.get(session, task_id, user)
        self._require_open(row)
        if row.assignee_id is None:
            return row
        if row.assignee_id != user.id and not oversees(session, user, row.org_unit_id):
            raise NotAllowed(f"task {task_id} is assigned to someone else")
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
        row = self._actionable(session, task_id, user)
        self._require_running(row)
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        with conflict_guard(f"work order {row.business_key}"):
            op = self.runtime.open(session, instance, user.id)
            task = self._live_task(op.spiff_task(row.spiff_task_id), row)
            task.set_data(**data)
            row.status, row.completed_at, row.completed_by_id = "completed", op.now, user.id
            row.assignee_id = row.assignee_id or user.id
            row.data = data
            record(session, instance.id, "task_completed", actor_id=user.id, human_task_id=row.id,
                   node_id=row.node_id, payload={"fields": sorted(data)}, at=op.now)
            op.run_task(task)
            return op.save()

    def transfer(self, session: Session, task_id: int, user: User, *, reason: str,
                 to_user: str | None = None, to_post: str | None = None, to_org: str | None = None) -> HumanTask:
        """转派: hand the task to a person, or back to the pool of a post (optionally in another unit)."""
        row = self._actionable(session, task_id, user, action="transfer")
        reason = _text(reason, "reason")
        if bool(to_user) == bool(to_post):
            raise InvalidInput("transfer to exactly one of a person or a post", {"to": "choose one"})
        if to_org and not to_post:
            raise InvalidInput("an org unit applies only to a transfer to a post", {"to_org": "needs to_post"})
        before = {"assignee_id": row.assignee_id, "post_id": row.post_id, "org_unit_id": row.org_unit_id}
        if to_user:
            target = session.scalar(select(User).where(User.username == to_user, User.is_active.is_(True)))
            if target is None:
                raise NotFound(f"user '{to_user}' does not exist")
            if target.id == user.id and row.assignee_id == user.id:
                raise InvalidInput("the task is already yours", {"to_user": "same person"})
            row.assignee_id, row.claimed_at = target.id, None
            after = {"to_user": target.username}
        else:
            post = session.scalar(select(Post).where((Post.code == to_post) | (Post.name == to_post)))
            if post is None:
                raise NotFound(f"post '{to_post}' does not exist")
            org_id = row.org_unit_id
            if to_org:
                org = session.scalar(select(OrgUnit).where(OrgUnit.code == to_org))
                if org is None:
                    raise NotFound(f"org unit '{to_org}' does not exist")
                org_id = org.id
            row.post_id, row.lane, row.org_unit_id, row.assignee_id, row.claimed_at = post.id, post.code, org_id, \
                None, None
            after = {"to_post": post.code, "to_org": to_org}
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            session.flush()
        record(session, row.instance_id, "task_transferred", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, payload={"reason": reason, "from": before, **after}, at=now)
        return row

    def return_to_previous(self, session: Session, task_id: int, user: User, *, reason: str) -> HumanTask:
        """退回: reopen the previous user step on this path for the person who did it; returns its new row."""
        row = self._actionable(session, task_id, user, action="return")
        self._require_running(row)
        reason = _text(reason, "reason")
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        with conflict_guard(f"work order {row.business_key}"):
            op = self.runtime.open(session, instance, user.id)
            task = self._live_task(op.spiff_task(row.spiff_task_id), row)
            previous = _previous_user_task(task)
            if previous is None:
                raise InvalidState(f"task {task_id} has no earlier step to return to")
            previous_row = session.scalar(
                select(HumanTask).where(HumanTask.instance_id == instance.id,
                                        HumanTask.spiff_task_id == str(previous.id),
                                        HumanTask.status == "completed")
                .order_by(HumanTask.id.desc()).limit(1)
            )
            row.status, row.completed_at = "returned", op.now
            event = record(session, instance.id, "task_returned", actor_id=user.id, human_task_id=row.id,
                           node_id=row.node_id, at=op.now,
                           payload={"reason": reason, "to_node": previous.task_spec.bpmn_id})
            op.workflow.reset_from_task_id(previous.id)
            op.advance()
            created = op.save(reason="returned")
            reopened = next((r for r in created if r.spiff_task_id == str(previous.id)), None)
            if reopened is None:
                raise InvalidState(f"the earlier step of task {task_id} did not reopen")
            if previous_row is not None and previous_row.completed_by_id is not None:
                reopened.assignee_id = previous_row.completed_by_id
            event.payload = {**event.payload, "to_task": reopened.id}
            session.flush()
        return reopened

    def suspend(self, session: Session, task_id: int, user: User, *, reason: str) -> HumanTask:
        """挂起: stop the task's clock (the step must allow it); nobody can complete it until it resumes."""
        row = self._actionable(session, task_id, user, action="suspend")
        reason = _text(reason, "reason")
        if row.suspended_at is not None:
            raise InvalidState(f"task {task_id} is already suspended")
        now = self.runtime.ctx.clock()
        with conflict_guard(f"task {task_id}"):
            row.suspended_at = now
            session.flush()
        record(session, row.instance_id, "task_suspended", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, payload={"reason": reason}, at=now)
        return row

    def resume(self, session: Session, task_id: int, user: User, *, reason: str = "") -> HumanTask:
        """Resume a suspended task; its warn and due times move later by the paused (working) time."""
        row = self.get(session, task_id, user)
        self._require_open(row)
        if row.suspended_at is None:
            raise InvalidState(f"task {task_id} is not suspended")
        if not (is_offered_to(user, row) or oversees(session, user, row.org_unit_id)):
            raise NotAllowed(f"task {task_id} is not offered to {user.username}")
        sla = self.runtime.ctx.sla
        now = self.runtime.ctx.clock()
        paused_from = row.suspended_at
        paused = sla.paused_time(session, row.calendar, paused_from, now)
        with conflict_guard(f"task {task_id}"):
            row.due_at = sla.shift(session, row.calendar, row.due_at, paused)
            row.warn_at = sla.shift(session, row.calendar, row.warn_at, paused)
            row.paused_seconds += int(paused.total_seconds())
            row.suspended_at = None
            session.flush()
        record(session, row.instance_id, "task_resumed", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, at=now,
               payload={"reason": reason.strip()[:MAX_TEXT], "paused_seconds": int((now - paused_from).total_seconds()),
                        "paused_counted_seconds": int(paused.total_seconds()),
                        "due_at": row.due_at.isoformat() if row.due_at else None})
        return row

    def urge(self, session: Session, task_id: int, user: User, *, note: str = "") -> HumanTask:
        """催办 by a supervisor of the task's org unit: an SMS to whoever has the task, and a history event."""
        row = self.get(session, task_id, user)
        self._require_open(row)
        if not oversees(session, user, row.org_unit_id):
            raise NotAllowed(f"only a supervisor of the task's org unit may urge task {task_id}")
        now = self.runtime.ctx.clock()
        users = recipients(session, self.runtime.identity, row)
        event = record(session, row.instance_id, "task_urged", actor_id=user.id, human_task_id=row.id,
                       node_id=row.node_id, at=now, payload={"note": note.strip()[:MAX_TEXT], "to": users})
        session.flush()
        if users:
            params = {**task_params(session, row), "urger": user.display_name, "note": note.strip()[:200]}
            enqueue(session, SMS_JOB, {"template": "urge", "to": [{"user_id": u} for u in users], "params": params},
                    f"urge:{row.id}:{event.id}", now=now, instance_id=row.instance_id)
        return row

    def annotate(self, session: Session, task_id: int, user: User, text: str) -> None:
        """批注: a note on the task, visible in the instance history."""
        row = self.get(session, task_id, user)
        text = _text(text, "text")
        record(session, row.instance_id, "task_annotated", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, payload={"text": text}, at=self.runtime.ctx.clock())

    # -- helpers -----------------------------------------------------------------------------------------
    def _actionable(self, session: Session, task_id: int, user: User, action: str | None = None) -> HumanTask:
        row = self.get(session, task_id, user)
        self._require_open(row)
        if not is_offered_to(user, row) and not (action and oversees(session, user, row.org_unit_id)):
            if row.assignee_id is not None and row.assignee_id != user.id:
                raise ConcurrencyConflict(f"task {task_id} is assigned to someone else")
            raise NotAllowed(f"task {task_id} is not offered to {user.username}")
        if action and not row.allows(action):
            raise NotAllowed(f"step '{row.node_name}' does not allow {action}")
        return row

    @staticmethod
    def _require_open(row: HumanTask) -> None:
        if row.status != "ready":
            raise InvalidState(f"task {row.id} is already {row.status}")

    @staticmethod
    def _require_running(row: HumanTask) -> None:
        if row.suspended_at is not None:
            raise InvalidState(f"task {row.id} is suspended; resume it first")

    @staticmethod
    def _live_task(task: Task | None, row: HumanTask) -> Task:
        if task is None or task.state != TaskState.READY:
            raise ConcurrencyConflict(f"task {row.id} is no longer ready; it was changed by someone else")
        return task


def _previous_user_task(task: Task) -> Task | None:
    node = task.parent
    while node is not None:
        if node.task_spec.manual and node.state == TaskState.COMPLETED:
            return node
        node = node.parent
    return None


def _text(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} is required", {field: "required"})
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field} is longer than {MAX_TEXT} characters", {field: "too long"})
    return value
