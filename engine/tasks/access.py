"""Who may see and act on a task, and the checks every task action repeats inside its transaction."""

from __future__ import annotations

from functools import cache

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from engine.errors import Code, ConcurrencyConflict, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.identity.access import holds_post_in, oversees
from engine.identity.models import User
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus

MAX_TEXT = 2000


def is_offered_to(user: User, row: HumanTask) -> bool:
    """Open and either assigned to the user or unclaimed for one of the user's posts in the user's unit."""
    if row.status != TaskStatus.READY:
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



@cache
def _load_with_instance_statement() -> Select[tuple[HumanTask, ProcessInstance]]:
    """Built once: composing a two-entity SELECT costs about a millisecond of Python, more than running it."""
    task_id = bindparam("task_id")
    target = aliased(HumanTask)
    instance_of = select(target.instance_id).where(target.id == task_id).scalar_subquery()
    return (
        select(HumanTask, ProcessInstance)
        .outerjoin(ProcessInstance, and_(ProcessInstance.id == HumanTask.instance_id, HumanTask.id == task_id))
        .where(HumanTask.instance_id == instance_of, or_(HumanTask.status == TaskStatus.READY, HumanTask.id == task_id))
    )


def load_with_instance(session: Session, task_id: int) -> tuple[list[HumanTask], ProcessInstance | None]:
    """Task ``task_id``, its instance and the instance's other open rows in one statement (they land in the
    session, where :func:`visible_task` and ``session.get`` find them while the caller holds them); the instance's
    columns come back on the task's own result row only. Returns the rows read and the instance (none and None
    when the task does not exist)."""
    rows = session.execute(_load_with_instance_statement(), {"task_id": task_id}).tuples().all()
    return [row for row, _ in rows], next((instance for _, instance in rows if instance is not None), None)


def visible_task(session: Session, task_id: int, user: User) -> HumanTask:
    """The task if the user may see it; otherwise :class:`NotFound` (no hint that it exists)."""
    row = session.get(HumanTask, task_id)
    if row is None or not can_view(session, user, row):
        raise NotFound(f"task {task_id} does not exist", details={"task": task_id})
    return row


def actionable_task(session: Session, task_id: int, user: User, action: str | None = None) -> HumanTask:
    """An open task the user may act on: offered to them, or — for ``action`` — overseen by them; the step
    must allow ``action``."""
    row = visible_task(session, task_id, user)
    require_open(row)
    if not is_offered_to(user, row) and not (action and oversees(session, user, row.org_unit_id)):
        if row.assignee_id is not None and row.assignee_id != user.id:
            raise claimed_by_other(row)
        raise NotAllowed(f"task {task_id} is not offered to {user.username}", code=Code.TASK_NOT_OFFERED,
                         details={"task": task_id})
    if action and not row.allows(action):
        raise NotAllowed(f"step '{row.node_name}' does not allow {action}", code=Code.TASK_ACTION_NOT_ALLOWED,
                         details={"task": task_id, "action": action, "step": row.node_name})
    return row


def claimed_by_other(row: HumanTask) -> ConcurrencyConflict:
    """The one error for "a colleague has claimed this task", whichever action met it."""
    return ConcurrencyConflict(f"task {row.id} is assigned to someone else", code=Code.TASK_CLAIMED_BY_OTHER,
                               details={"task": row.id, "assignee_id": row.assignee_id})


def require_open(row: HumanTask) -> None:
    if row.status != TaskStatus.READY:
        raise InvalidState(f"task {row.id} is already {row.status}", code=Code.TASK_NOT_READY,
                           details={"task": row.id, "status": str(row.status)})


def require_running(row: HumanTask) -> None:
    if row.suspended_at is not None:
        raise InvalidState(f"task {row.id} is suspended; resume it first", code=Code.TASK_SUSPENDED,
                           details={"task": row.id})


def live_task(task: Task | None, row: HumanTask) -> Task:
    """The engine's READY task behind a row; anything else means someone changed it first."""
    if task is None or task.state != TaskState.READY:
        raise ConcurrencyConflict(f"task {row.id} is no longer ready; it was changed by someone else",
                                  details={"task": row.id})
    return task


def required_text(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} is required", {field: "required"})
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field} is longer than {MAX_TEXT} characters", {field: "too long"})
    return value
