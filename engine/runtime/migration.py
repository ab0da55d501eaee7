"""Moving running work orders to another version of their process (SpiffWorkflow's spec diff underneath).

Running instances stay on their version unless an analyst moves them. :func:`check` says, for one instance,
whether it can move and why not, without changing anything: every step it has been through or waits in must
still exist in the new version (SpiffWorkflow restores a task only by its spec), every sub-process it is in
too, and a multi-instance step in progress does not move. :func:`migrate` moves one instance in the caller's
transaction: its state is re-pointed at the new specs (open steps keep their arrival time, waiting timers
their due time), the open task rows take the new version's post, form, actions and time limit (deadlines
counted again from arrival), and the history says who moved it from which version.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import EngineContext
from engine.errors import EomsError, InvalidInput, NotFound
from engine.history.models import HistoryEvent
from engine.history.service import record
from engine.repository.cache import LoadedDefinition
from engine.repository.models import ProcessDefinition
from engine.runtime.executor import InstanceOperation, load_definition, open_instance
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.runtime.projection import iso_duration, place
from engine.spiff.stepping import all_tasks
from engine.tasks.models import HumanTask, TaskStatus

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass(frozen=True)
class Reason:
    """Why an instance cannot move: a stable ``code`` (pages translate it), what it is about, English text."""

    code: str
    subject: str
    text: str


@dataclass
class MigrationCheck:
    """Whether one instance can move to the target version, and why not."""

    instance_id: int
    business_key: str
    from_version: int
    to_version: int
    steps: list[str] = field(default_factory=list)  # where it stands now
    reasons: list[Reason] = field(default_factory=list)
    moved: bool = False

    @property
    def ok(self) -> bool:
        return not self.reasons


def target_of(session: Session, process_key: str, version: int | None) -> ProcessDefinition:
    """The version instances move to (the newest when ``version`` is None)."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == process_key)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    row = session.scalar(query.order_by(ProcessDefinition.version.desc()).limit(1))
    if row is None:
        raise NotFound(f"process '{process_key}' has no version {version}", details={"process": process_key})
    return row


def check(ctx: EngineContext, session: Session, instance: ProcessInstance, target_id: int,
          actor_id: int | None = None) -> MigrationCheck:
    """Whether ``instance`` can move to definition ``target_id`` (nothing is changed)."""
    op, target, result = _prepare(ctx, session, instance, target_id, actor_id)
    if op is not None and target is not None and result.ok:
        _move(ctx, op, target, result)
    return result


def migrate(ctx: EngineContext, session: Session, instance: ProcessInstance, target_id: int,
            actor_id: int | None) -> MigrationCheck:
    """Move ``instance`` to definition ``target_id`` in the caller's transaction (when it can move)."""
    op, target, result = _prepare(ctx, session, instance, target_id, actor_id)
    if op is None or target is None or not result.ok:
        return result
    _move(ctx, op, target, result)
    if not result.ok:
        return result
    from_id = instance.definition_id
    op.definition = target
    instance.definition_id = target.definition_id
    op.advance()
    op.save(reason="migrated")
    _replace_open_rows(ctx, session, instance, target, op)
    record(session, instance.id, "instance_migrated", actor_id=actor_id, at=op.now,
           payload={"from_version": result.from_version, "to_version": result.to_version,
                    "from_definition_id": from_id, "to_definition_id": target.definition_id})
    result.moved = True
    return result


def _prepare(ctx: EngineContext, session: Session, instance: ProcessInstance, target_id: int,
             actor_id: int | None) -> tuple[InstanceOperation | None, LoadedDefinition | None, MigrationCheck]:
    current = load_definition(ctx, session, instance.definition_id)
    target = load_definition(ctx, session, target_id)
    result = MigrationCheck(instance.id, instance.business_key, current.version, target.version)
    if target.key != instance.process_key:
        raise InvalidInput(f"version {target.version} belongs to '{target.key}', not '{instance.process_key}'",
                           {"target": "another process"})
    if instance.status != InstanceStatus.RUNNING:
        result.reasons.append(Reason("not_running", str(instance.status),
                                     f"the work order is {instance.status}, not running"))
        return None, None, result
    if target.definition_id == instance.definition_id:
        result.reasons.append(Reason("same_version", str(target.version),
                                     f"the work order already runs on version {target.version}"))
        return None, None, result
    op = open_instance(ctx, session, instance, actor_id)
    result.steps = sorted({_label(t) for t in all_tasks(op.workflow) if t.state & OPEN and _visible(t)})
    return op, target, result


def _move(ctx: EngineContext, op: InstanceOperation, target: LoadedDefinition, result: MigrationCheck) -> None:
    """Re-point ``op.workflow`` at the target specs, or fill ``result.reasons``."""
    workflow = op.workflow
    registry = ctx.codec.spec_registry
    try:
        top, subs = diff_workflow(registry, workflow, target.spec, target.subprocess_specs)
    except Exception as err:  # the library met a construct it cannot compare
        result.reasons.append(Reason("not_comparable", str(err),
                                     f"the versions cannot be compared ({type(err).__name__}: {err})"))
        return
    scopes = [(workflow, top, target.spec)]
    for sub_id, diff in subs.items():
        sub = workflow.subprocesses[sub_id]
        if diff is None:
            result.reasons.append(Reason("subprocess_removed", sub.spec.name,
                                         f"sub-process '{sub.spec.name}' does not exist in version {target.version}"))
            continue
        scopes.append((sub, diff, target.subprocess_specs[sub.spec.name]))
    for _, diff, _ in scopes:
        for task in diff.removed:
            if not _visible(task) or not task.state & (OPEN | TaskState.FINISHED_MASK):
                continue  # a predicted step on a path not taken yet: predicted again on the new paths
            waiting = bool(task.state & OPEN)
            where = "it waits in" if waiting else "it went through"
            result.reasons.append(Reason("open_step_removed" if waiting else "done_step_removed", _label(task),
                                         f"step '{_label(task)}', which {where}, is not in version "
                                         f"{target.version}"))
    for task in all_tasks(workflow):
        if task.state & OPEN and isinstance(task.task_spec, LoopTask):
            result.reasons.append(Reason("multi_instance_open", _label(task),
                                         f"multi-instance step '{_label(task)}' is in progress"))
    if result.reasons:
        return
    waiting = TaskState.READY | TaskState.WAITING
    kept = {t.id: (copy.deepcopy(t.internal_data), copy.deepcopy(t.data)) for t in all_tasks(workflow)
            if t.state & waiting}
    for scope, diff, spec in scopes:  # open steps are re-predicted on the new paths (same task ids)
        migrate_workflow(diff, scope, spec, reset_mask=waiting)
    for task in all_tasks(workflow):  # a waiting timer keeps its due time, a step its data
        if task.id in kept and task.state & waiting:
            internal, data = kept[task.id]
            task.internal_data.update(internal)
            task.data = data
    try:
        ctx.codec.load_state(ctx.codec.dump_state(workflow), target.bundle)
    except (EomsError, KeyError, ValueError, TypeError) as err:
        result.reasons.append(Reason("state_unstorable", str(err), f"the moved state cannot be stored ({err})"))


def _replace_open_rows(ctx: EngineContext, session: Session, instance: ProcessInstance, target: LoadedDefinition,
                       op: InstanceOperation) -> None:
    """Open task rows take the target's post, form, actions and limit; deadlines counted from arrival."""
    extended = set(session.scalars(select(HistoryEvent.human_task_id).where(
        HistoryEvent.instance_id == instance.id, HistoryEvent.event_type == "task_extended")))
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.status == TaskStatus.READY)).all()
    ignored: list[tuple[str, str]] = []
    for row in rows:
        task = op.spiff_task(row.spiff_task_id)
        if task is None:
            continue
        where = place(session, instance, target, task, ignored)
        props = where.props
        row.lane, row.post_id, row.org_unit_id = where.lane, where.post_id, where.org_unit_id
        row.form_key, row.allow = props.form_key, ",".join(sorted(props.allow))
        row.node_name = task.task_spec.bpmn_name or row.node_name
        if row.id in extended:
            continue  # an extension granted by a supervisor stands
        row.time_limit = iso_duration(props.time_limit) if props.time_limit else None
        row.calendar = props.calendar if props.time_limit else None
        times = ctx.sla.deadlines(session, props, row.created_at, timedelta(seconds=row.paused_seconds or 0))
        if times.problem is None:
            row.warn_at, row.due_at = times.warn_at, times.due_at
            if row.due_at is None or row.due_at > op.now:
                row.overdue_at = None
            if row.warn_at is None or row.warn_at > op.now:
                row.warned_at = None
    session.flush()


def _visible(task: Task) -> bool:
    """A step of the diagram (not one of SpiffWorkflow's own control tasks)."""
    return bool(getattr(task.task_spec, "bpmn_id", None))


def _label(task: Task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name

