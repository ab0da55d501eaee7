"""Handing work on: 转派 (transfer), 退回 (return to the previous step), 批注 (annotations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Code, InvalidInput, InvalidState, NotFound
from engine.history.service import record
from engine.identity import directory
from engine.identity.models import OrgUnit, Post, User
from engine.runtime.executor import conflict_guard
from engine.runtime.models import ProcessInstance
from engine.tasks.access import actionable_task, live_task, require_running, required_text, visible_task
from engine.tasks.models import HumanTask, TaskStatus
from engine.tasks.rework import notify_rework

if TYPE_CHECKING:
    from engine.runtime.service import RuntimeService


class HandoverActions:
    """Part of :class:`engine.tasks.service.TaskService`."""

    runtime: RuntimeService

    def transfer(self, session: Session, task_id: int, user: User, *, reason: str,
                 to_user: str | None = None, to_post: str | None = None, to_org: str | None = None) -> HumanTask:
        """转派: hand the task to a person, or back to the pool of a post (optionally in another unit); only to those
        :mod:`engine.identity.directory` allows."""
        row = actionable_task(session, task_id, user, action="transfer")
        reason = required_text(reason, "reason")
        if bool(to_user) == bool(to_post):
            raise InvalidInput("transfer to exactly one of a person or a post", {"to": "choose one"},
                               code=Code.TRANSFER_TARGET)
        if to_org and not to_post:
            raise InvalidInput("an org unit applies only to a transfer to a post", {"to_org": "needs to_post"},
                               code=Code.TRANSFER_TARGET)
        before = {"assignee_id": row.assignee_id, "post_id": row.post_id, "org_unit_id": row.org_unit_id}
        if to_user:
            target = session.scalar(select(User).where(User.username == to_user, User.is_active.is_(True)))
            if target is None:
                raise NotFound(f"user '{to_user}' does not exist", code=Code.TRANSFER_TARGET,
                               details={"fields": {"to_user": "unknown"}})
            if target.id == user.id and row.assignee_id == user.id:
                raise InvalidInput("the task is already yours", {"to_user": "same person"}, code=Code.TRANSFER_TARGET)
            directory.require_person(session, user, row, target)  # the rule the picker lists (engine/identity)
            row.assignee_id, row.claimed_at = target.id, None
            after = {"to_user": target.username}
        else:
            post = session.scalar(select(Post).where((Post.code == to_post) | (Post.name == to_post)))
            if post is None:
                raise NotFound(f"post '{to_post}' does not exist", code=Code.TRANSFER_TARGET,
                               details={"fields": {"to_post": "unknown"}})
            org_id = row.org_unit_id
            if to_org:
                org = session.scalar(select(OrgUnit).where(OrgUnit.code == to_org))
                if org is None:
                    raise NotFound(f"org unit '{to_org}' does not exist", code=Code.TRANSFER_TARGET,
                                   details={"fields": {"to_org": "unknown"}})
                org_id = org.id
            directory.require_pool(session, user, row, post, org_id, named_unit=bool(to_org))
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
        row = actionable_task(session, task_id, user, action="return")
        require_running(row)
        reason = required_text(reason, "reason")
        instance = session.get(ProcessInstance, row.instance_id)
        assert instance is not None
        with conflict_guard(f"work order {row.business_key}"):
            op = self.runtime.open(session, instance, user.id)
            task = live_task(op.spiff_task(row.spiff_task_id), row)
            previous = _previous_user_task(task)
            if previous is None:
                raise InvalidState(f"task {task_id} has no earlier step to return to", code=Code.TASK_NO_EARLIER_STEP)
            previous_row = session.scalar(
                select(HumanTask).where(HumanTask.instance_id == instance.id,
                                        HumanTask.spiff_task_id == str(previous.id),
                                        HumanTask.status == TaskStatus.COMPLETED)
                .order_by(HumanTask.id.desc()).limit(1)
            )
            row.status, row.completed_at = TaskStatus.RETURNED, op.now
            event = record(session, instance.id, "task_returned", actor_id=user.id, human_task_id=row.id,
                           node_id=row.node_id, at=op.now,
                           payload={"reason": reason, "to_node": previous.task_spec.bpmn_id})
            op.workflow.reset_from_task_id(previous.id)
            op.advance()
            created = op.save(reason="returned")
            reopened = next((r for r in created if r.spiff_task_id == str(previous.id)), None)
            if reopened is None:
                raise InvalidState(f"the earlier step of task {task_id} did not reopen", code=Code.TASK_NO_EARLIER_STEP)
            if previous_row is not None and previous_row.completed_by_id is not None:
                reopened.assignee_id = previous_row.completed_by_id
            event.payload = {**event.payload, "to_task": reopened.id}
            session.flush()
        notify_rework(self.runtime.ctx, session, self.runtime.identity, op.now, [reopened], actor=user,
                      from_step=row.node_name, reason=reason, event_id=event.id)
        return reopened

    def annotate(self, session: Session, task_id: int, user: User, text: str) -> None:
        """批注: a note on the task, visible in the instance history."""
        row = visible_task(session, task_id, user)
        text = required_text(text, "text")
        record(session, row.instance_id, "task_annotated", actor_id=user.id, human_task_id=row.id,
               node_id=row.node_id, payload={"text": text}, at=self.runtime.ctx.clock())


def _previous_user_task(task: Task) -> Task | None:
    node = task.parent
    while node is not None:
        if node.task_spec.manual and node.state == TaskState.COMPLETED:
            return node
        node = node.parent
    return None
