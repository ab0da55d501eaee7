"""Keeps the ``human_task`` table in step with an instance's READY user tasks (same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from SpiffWorkflow.task import Task
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.service import record
from engine.identity.models import Post
from engine.repository.cache import LoadedDefinition
from engine.repository.properties import TaskProperties
from engine.runtime.models import ProcessInstance
from engine.sla.service import TaskDeadlines
from engine.tasks.models import HumanTask


def sync_human_tasks(
    session: Session,
    instance: ProcessInstance,
    definition: LoadedDefinition,
    ready: list[Task],
    now: datetime,
    deadlines: Callable[[TaskProperties, datetime], TaskDeadlines],
    reason: str = "",
) -> tuple[list[HumanTask], list[str]]:
    """Create rows for new READY tasks, close rows whose task is no longer READY.

    ``deadlines(properties, start)`` computes warn/due times. A closed row becomes ``cancelled`` unless the
    caller already marked it (completed, returned). Returns the new rows and any calendar problems met.
    """
    open_rows = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "ready")
    ).all()
    ready_ids = {str(t.id): t for t in ready}
    for row in open_rows:
        if row.spiff_task_id not in ready_ids:
            row.status = "cancelled"
            row.completed_at = now
            record(session, instance.id, "task_cancelled", human_task_id=row.id, node_id=row.node_id,
                   payload={"reason": reason} if reason else None, at=now)
    known = {row.spiff_task_id for row in open_rows}
    created: list[HumanTask] = []
    problems: list[str] = []
    for spiff_id, task in ready_ids.items():
        if spiff_id in known:
            continue
        row, problem = _new_row(session, instance, definition, task, now, deadlines)
        if problem:
            problems.append(problem)
        session.add(row)
        session.flush()
        record(session, instance.id, "task_created", human_task_id=row.id, node_id=row.node_id,
               payload={"post": row.lane, "due_at": row.due_at.isoformat() if row.due_at else None}, at=now)
        created.append(row)
    return created, problems


def _new_row(session: Session, instance: ProcessInstance, definition: LoadedDefinition, task: Task,
             now: datetime, deadlines: Callable[[TaskProperties, datetime], TaskDeadlines]
             ) -> tuple[HumanTask, str | None]:
    spec = task.task_spec
    props = definition.task_properties(spec)
    lane = spec.lane
    post_id = None
    if lane:
        post_id = session.scalar(select(Post.id).where((Post.code == lane) | (Post.name == lane)).limit(1))
    times = deadlines(props, now)
    return HumanTask(
        instance_id=instance.id,
        spiff_task_id=str(task.id),
        process_key=instance.process_key,
        business_key=instance.business_key,
        node_id=spec.bpmn_id or spec.name,
        node_name=spec.bpmn_name or spec.bpmn_id or spec.name,
        lane=lane,
        post_id=post_id,
        org_unit_id=instance.org_unit_id,
        status="ready",
        form_key=props.form_key,
        allow=",".join(sorted(props.allow)),
        time_limit=props.time_limit and _iso(props.time_limit),
        calendar=props.calendar if props.time_limit else None,
        created_at=now,
        warn_at=times.warn_at,
        due_at=times.due_at,
    ), times.problem


def _iso(duration: object) -> str:
    d = duration
    clock = "".join(
        f"{v}{u}" for v, u in ((d.hours, "H"), (d.minutes, "M"), (d.seconds, "S")) if v  # type: ignore[attr-defined]
    )
    return "P" + (f"{d.days}D" if d.days else "") + (f"T{clock}" if clock else "")  # type: ignore[attr-defined]
