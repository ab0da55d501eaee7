"""Keeps the ``human_task`` table in step with an instance's READY user tasks (same transaction)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.history.service import record
from engine.identity.lookup import PostLookup
from engine.identity.models import OrgUnit
from engine.repository.cache import LoadedDefinition
from engine.repository.properties import CALENDARS, TaskProperties
from engine.runtime.models import ProcessInstance
from engine.sla.durations import parse_duration
from engine.sla.service import TaskDeadlines
from engine.tasks.models import HumanTask, TaskStatus


def sync_human_tasks(
    session: Session,
    instance: ProcessInstance,
    definition: LoadedDefinition,
    ready: list[Task],
    now: datetime,
    deadlines: Callable[[TaskProperties, datetime], TaskDeadlines],
    reason: str = "",
    *,
    posts: PostLookup | None = None,
    known_rows: list[HumanTask] | None = None,
) -> tuple[list[HumanTask], list[tuple[str, str]]]:
    """Create rows for new READY tasks, close rows whose task is no longer READY.

    ``deadlines(properties, start)`` computes warn/due times. A closed row becomes ``cancelled`` unless the
    caller already marked it (completed, returned). Returns the new rows and the problems met, as
    ``(incident kind, message)`` pairs: the work goes on and an incident says what needs fixing.

    ``known_rows``: the instance's open rows, already loaded by the caller in this transaction (with rows it has
    closed since), which saves reading them again; ``posts``: the process's cached lane lookup.
    """
    if known_rows is not None:
        open_rows = [row for row in known_rows if row.status == TaskStatus.READY]
    else:
        open_rows = list(session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)
        ))
    ready_ids = {str(t.id): t for t in ready}
    for row in open_rows:
        if row.spiff_task_id not in ready_ids:
            row.status = TaskStatus.CANCELLED
            row.completed_at = now
            record(session, instance.id, "task_cancelled", human_task_id=row.id, node_id=row.node_id,
                   payload={"reason": reason} if reason else None, at=now)
    known = {row.spiff_task_id for row in open_rows}
    created: list[HumanTask] = []
    problems: list[tuple[str, str]] = []
    for spiff_id, task in ready_ids.items():
        if spiff_id in known:
            continue
        row = _new_row(session, instance, definition, task, now, deadlines, problems, posts)
        session.add(row)
        payload = {"post": row.lane, "due_at": row.due_at.isoformat() if row.due_at else None}
        if is_rework(task):
            payload["rework"] = True
        # the row has no id before the flush: the relationship fills the event's human_task_id then, so that the
        # new rows and all the action's events go to the database together in the caller's final flush
        record(session, instance.id, "task_created", node_id=row.node_id, payload=payload, at=now).task = row
        created.append(row)
    return created, problems


def _path_steps(task: Task) -> list[Task]:
    """The completed manual steps on this task's own path, oldest first (parallel branches are not on it)."""
    steps: list[Task] = []
    node = task.parent
    while node is not None:
        if node.task_spec.manual and node.state == TaskState.COMPLETED:
            steps.append(node)
        node = node.parent
    steps.reverse()
    return steps


def is_rework(task: Task) -> bool:
    """True for the step a 驳回/退回 sends the work back to: this step was done before on the path, and the step
    just before it first ran later than this step first ran — a jump backwards. Replaying the steps after it
    is not counted again, while every further rejection is."""
    steps = _path_steps(task)
    first: dict[int, int] = {}
    for index, step in enumerate(steps):
        first.setdefault(id(step.task_spec), index)
    mine = first.get(id(task.task_spec))
    if mine is None or not steps:
        return False
    return first[id(steps[-1].task_spec)] > mine


@dataclass(frozen=True)
class Placement:
    """Where a READY task goes and with which settings: lane and post, org unit, properties (limit evaluated)."""

    lane: str
    post_id: int | None
    org_unit_id: int
    props: TaskProperties


def place(session: Session, instance: ProcessInstance, definition: LoadedDefinition, task: Task,
          problems: list[tuple[str, str]], posts: PostLookup | None = None) -> Placement:
    """The post (lane, or the ``postVar`` variable), org unit and properties of ``task`` under ``definition``."""
    spec = task.task_spec
    node = spec.bpmn_name or spec.bpmn_id
    props = definition.task_properties(spec)
    lookup = posts or PostLookup(name_ttl=0)
    post_ref = spec.lane
    if props.post_var:
        post_ref = task.data.get(props.post_var) or post_ref
    post = lookup.find(session, str(post_ref)) if post_ref else None
    if post is None and post_ref != spec.lane:
        problems.append(("assignment", f"{node}: post '{post_ref}' (from {props.post_var}) does not exist; "
                                       f"the task went to lane '{spec.lane}'"))
        post = lookup.find(session, spec.lane) if spec.lane else None
    org_id = instance.org_unit_id
    if props.org_unit_var and task.data.get(props.org_unit_var):
        code = task.data[props.org_unit_var]
        found = session.scalar(select(OrgUnit.id).where(OrgUnit.code == str(code)))
        if found is None:
            problems.append(("assignment", f"{node}: org unit '{code}' (from {props.org_unit_var}) does not "
                                           "exist; the task stayed in the work order's unit"))
        else:
            org_id = found
    lane = spec.lane if post is None or post_ref == spec.lane else post.code
    return Placement(lane, post.id if post is not None else None, org_id, _with_limit(task, props, node, problems))


def _new_row(session: Session, instance: ProcessInstance, definition: LoadedDefinition, task: Task,
             now: datetime, deadlines: Callable[[TaskProperties, datetime], TaskDeadlines],
             problems: list[tuple[str, str]], posts: PostLookup | None) -> HumanTask:
    spec = task.task_spec
    node = spec.bpmn_name or spec.bpmn_id
    where = place(session, instance, definition, task, problems, posts)
    props = where.props
    times = deadlines(props, now)
    if times.problem:
        problems.append(("calendar", times.problem))
    return HumanTask(
        instance_id=instance.id,
        spiff_task_id=str(task.id),
        process_key=instance.process_key,
        business_key=instance.business_key,
        node_id=spec.bpmn_id or spec.name,
        node_name=node or spec.name,
        lane=where.lane,
        post_id=where.post_id,
        org_unit_id=where.org_unit_id,
        status=TaskStatus.READY,
        form_key=props.form_key,
        allow=",".join(sorted(props.allow)),
        time_limit=props.time_limit and iso_duration(props.time_limit),
        calendar=props.calendar if props.time_limit else None,
        created_at=now,
        warn_at=times.warn_at,
        due_at=times.due_at,
    )


def _with_limit(task: Task, props: TaskProperties, node: str, problems: list[tuple[str, str]]) -> TaskProperties:
    """Properties whose ``timeLimit`` expression (e.g. ``="PT2H" if vip else "PT4H"``) and ``calendar``
    expression (``=route_calendar``) are evaluated."""
    props = _with_calendar(task, props, node, problems)
    if not props.time_limit_expr:
        return props
    try:
        value = task.workflow.script_engine.evaluate(task, props.time_limit_expr)
        return replace(props, time_limit=parse_duration(str(value)), time_limit_expr=None)
    except (ValueError, SpiffWorkflowException) as err:
        problems.append(("deadline", f"{node}: timeLimit '={props.time_limit_expr}' gave no duration ({err}); "
                                     "the task has no deadline"))
        return replace(props, time_limit=None, time_limit_expr=None)


def _with_calendar(task: Task, props: TaskProperties, node: str,
                   problems: list[tuple[str, str]]) -> TaskProperties:
    if not props.calendar_expr:
        return props
    try:
        value = task.workflow.script_engine.evaluate(task, props.calendar_expr)
    except SpiffWorkflowException as err:
        value, reason = None, str(err)
    else:
        reason = f"gave {value!r}"
    if value in CALENDARS:
        return replace(props, calendar=str(value), calendar_expr=None)
    problems.append(("deadline", f"{node}: calendar '={props.calendar_expr}' {reason}, not one of "
                                 f"{', '.join(CALENDARS)}; the time limit is counted on {props.calendar}"))
    return replace(props, calendar_expr=None)


def iso_duration(duration: object) -> str:
    """``PT2H30M``, ``P1DT4H``: the ISO text of a duration."""
    d = duration
    clock = "".join(
        f"{v}{u}" for v, u in ((d.hours, "H"), (d.minutes, "M"), (d.seconds, "S")) if v  # type: ignore[attr-defined]
    )
    return "P" + (f"{d.days}D" if d.days else "") + (f"T{clock}" if clock else "")  # type: ignore[attr-defined]
