"""One operation on one instance: restore it, change it, run it to its next wait state, save it.

Everything happens in the caller's transaction: the instance row (compare-and-set on ``version``), the
human-task projection, history events and incidents are all written, or — when the transaction is rolled
back — none of them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.context import EngineContext
from engine.db import is_write_conflict
from engine.errors import Code, ConcurrencyConflict, EomsError, NotFound
from engine.history.service import record
from engine.registry import HandlerContext
from engine.repository.cache import LoadedDefinition
from engine.repository.models import ProcessDefinition
from engine.runtime.events import sync_instance as sync_subscriptions
from engine.runtime.models import Incident, IncidentStatus, InstanceStatus, ProcessInstance
from engine.runtime.projection import sync_human_tasks
from engine.spiff.bpmn_errors import describe as describe_error
from engine.spiff.bpmn_errors import uncaught_error
from engine.spiff.event_names import record_broadcasts, start_by, waiting_subscriptions
from engine.spiff.event_subprocess import watch_nested_triggers
from engine.spiff.scripting import EomsScriptEngine
from engine.spiff.stepping import (
    AUTOMATIC_RECORDED,
    StepFailure,
    compact,
    cycle_timer_counts,
    find_stall,
    is_finished,
    next_timer_due,
    ready_human_tasks,
    run_engine_steps,
)
from engine.tasks.models import HumanTask


@contextmanager
def conflict_guard(what: str) -> Iterator[None]:
    """Turn a lost compare-and-set or a stale database snapshot into :class:`ConcurrencyConflict`."""
    try:
        yield
    except StaleDataError:
        raise ConcurrencyConflict(
            f"{what} was changed by someone else at the same time; nothing was saved — reload and try again"
        ) from None
    except DBAPIError as err:
        if is_write_conflict(err):
            raise ConcurrencyConflict(
                f"{what} was changed by someone else at the same time; nothing was saved — reload and try again"
            ) from None
        raise


def load_definition(ctx: EngineContext, session: Session, definition_id: int) -> LoadedDefinition:
    """The parsed specs of a definition, from the cache or restored from its stored spec JSON."""

    def load() -> LoadedDefinition:
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"process definition {definition_id} does not exist")
        spec, subs = ctx.codec.load_spec(row.spec_json)
        return LoadedDefinition(row.id, row.key, row.version, spec, subs, dict(row.forms or {}))

    return ctx.specs.get(definition_id, load)


class InstanceOperation:
    """A restored instance being changed by one caller, saved once with :meth:`save`."""

    def __init__(self, ctx: EngineContext, session: Session, instance: ProcessInstance,
                 definition: LoadedDefinition, workflow: BpmnWorkflow, actor_id: int | None):
        self.ctx, self.session, self.instance = ctx, session, instance
        self.definition, self.workflow, self.actor_id = definition, workflow, actor_id
        self.now = ctx.clock()
        self.failure: StepFailure | None = None
        self.incident: Incident | None = None
        # the instance's open task rows when the caller has loaded them already (see ``TaskService.complete``)
        self.known_rows: list[HumanTask] | None = None
        workflow.script_engine = EomsScriptEngine(self._call_handler)
        self._signals_caught_inside = record_broadcasts(workflow)
        watch_nested_triggers(workflow)

    # -- running -----------------------------------------------------------------------------------------
    def spiff_task(self, spiff_task_id: str) -> Task | None:
        """The live task with this id, or None when the engine no longer has it."""
        try:
            return self.workflow.get_task_from_id(UUID(spiff_task_id))
        except (TaskNotFoundException, ValueError):
            return None

    def advance(self, first: Task | None = None, shared: dict[str, Any] | None = None) -> None:
        """Run ``first`` (checked by the caller) and the automatic steps; a failure becomes an incident.
        ``shared`` is the data given to ``first``, which waiting conditional events see."""
        limits = self.ctx.limits
        cycles_before = cycle_timer_counts(self.workflow)
        try:
            run_engine_steps(self.workflow, self._record_step, first=first, shared=shared,
                             max_steps=limits.max_automatic_steps, compact_keep=limits.compaction_keep)
        except StepFailure as failure:
            self.failure = failure
            self._open_incident(failure.task, failure.kind, failure.message)
            return
        finally:
            self._record_cycles(cycles_before)
        stall = find_stall(self.workflow)
        if stall is not None:
            self._open_incident(None, "stall", stall)

    def _record_step(self, task: Task) -> None:
        spec = task.task_spec
        if type(spec).__name__ in AUTOMATIC_RECORDED:
            record(self.session, self.instance.id, "step_completed", node_id=spec.bpmn_id,
                   payload={"name": spec.bpmn_name}, at=self.now)
        elif (isinstance(spec, CatchingEvent) and isinstance(spec.event_definition, TimerEventDefinition)
              and not isinstance(spec.event_definition, CycleTimerEventDefinition)):
            self._timer_fired(task)

    def _timer_fired(self, task: Task) -> None:
        spec = task.task_spec
        record(self.session, self.instance.id, "timer_fired", node_id=spec.bpmn_id,
               payload={"name": spec.bpmn_name, "kind": type(spec.event_definition).__name__}, at=self.now)

    def _record_cycles(self, before: dict[Any, tuple[Task, int]]) -> None:
        """One ``timer_fired`` per occurrence of a cycle timer (its branches start without the task running)."""
        after = cycle_timer_counts(self.workflow)
        for task_id, (task, remaining) in before.items():
            now_remaining = after.get(task_id, (task, 0))[1]
            for _ in range(max(0, remaining - now_remaining)):
                self._timer_fired(task)

    def _call_handler(self, task: Task, name: str, params: dict[str, Any]) -> Any:
        hctx = HandlerContext(
            session=self.session,
            instance_id=self.instance.id,
            process_key=self.instance.process_key,
            business_key=self.instance.business_key,
            org_unit_id=self.instance.org_unit_id,
            node_id=task.task_spec.bpmn_id or task.task_spec.name,
            step_id=str(task.id),
            data=copy.deepcopy(task.data),
            now=self.now,
        )
        with self.session.begin_nested():  # a failing handler's own writes are undone, ours are kept
            return self.ctx.handlers.call(name, hctx, params)

    def _open_incident(self, task: Task | None, kind: str, message: str) -> None:
        node_id = task.task_spec.bpmn_id or task.task_spec.name if task is not None else ""
        spiff_id = str(task.id) if task is not None else None
        existing = self.session.scalar(
            select(Incident).where(Incident.instance_id == self.instance.id, Incident.status == IncidentStatus.OPEN,
                                   Incident.node_id == node_id, Incident.kind == kind)
        )
        if existing is not None:
            existing.message, existing.spiff_task_id = message, spiff_id
            existing.attempts += 1
            existing.updated_at = self.now
            self.incident = existing
        else:
            self.incident = Incident(instance_id=self.instance.id, spiff_task_id=spiff_id, node_id=node_id,
                                     kind=kind, message=message, created_at=self.now, updated_at=self.now)
            self.session.add(self.incident)
            self.session.flush()
        event = "handler_failed" if kind == "handler" else "incident_opened"
        record(self.session, self.instance.id, event, node_id=node_id, actor_id=self.actor_id,
               payload={"incident_id": self.incident.id, "kind": kind, "message": message[:500]}, at=self.now)

    def _fail(self, error_end: Task) -> None:
        """An uncaught BPMN error ends the instance as failed, with an incident naming the error."""
        if not is_finished(self.workflow):
            self.workflow.cancel()
        message = describe_error(error_end)
        self._open_incident(error_end, "error", message)
        self.instance.status, self.instance.ended_at = InstanceStatus.FAILED, self.now
        self.instance.end_reason = message[:500]
        record(self.session, self.instance.id, "instance_failed", actor_id=self.actor_id, at=self.now,
               node_id=error_end.task_spec.bpmn_id, payload={"message": message})

    # -- saving ------------------------------------------------------------------------------------------
    def save(self, reason: str = "") -> list[HumanTask]:
        """Project human tasks, store state with a compare-and-set on ``version``; return new task rows."""
        limits = self.ctx.limits
        compact(self.workflow, limits.compaction_threshold, limits.compaction_keep)
        if len(self.workflow.tasks) > limits.max_tree_tasks and self.incident is None:
            self._open_incident(None, "engine", f"the instance has {len(self.workflow.tasks)} tasks in its tree "
                                                f"(limit {limits.max_tree_tasks}); a loop runs away")
        created, problems = sync_human_tasks(
            self.session, self.instance, self.definition, ready_human_tasks(self.workflow), self.now,
            lambda props, start: self.ctx.sla.deadlines(self.session, props, start), reason,
            posts=self.ctx.posts, known_rows=self.known_rows)
        for kind, message in problems:
            self._open_incident(None, kind, message)
        instance = self.instance
        error_end = uncaught_error(self.workflow) if instance.status == InstanceStatus.RUNNING else None
        if error_end is not None:
            self._fail(error_end)
        elif instance.status == InstanceStatus.RUNNING and is_finished(self.workflow):
            instance.status = InstanceStatus.COMPLETED if self.workflow.success else InstanceStatus.CANCELLED
            instance.ended_at = self.now
            # nothing runs again: the finished chain of tasks goes (the history keeps every step), the data stays
            compact(self.workflow, 0, limits.finished_keep)
            if instance.status == InstanceStatus.COMPLETED:
                record(self.session, instance.id, "instance_completed", actor_id=self.actor_id, at=self.now)
                self.ctx.emit("instance_completed", self.session, self.now, instance)
        # what the process threw and nothing in it caught, and the signals it caught itself (a broadcast)
        thrown = [*self.workflow.get_events(), *self._signals_caught_inside]
        self._signals_caught_inside.clear()
        if self.definition.listens:
            running = instance.status == InstanceStatus.RUNNING
            sync_subscriptions(self.session, instance, waiting_subscriptions(self.workflow) if running else set())
        instance.state = self.ctx.codec.dump_state(self.workflow)
        instance.serializer_version = SPIFF_FORMAT
        instance.next_timer_at = next_timer_due(self.workflow) if instance.status == InstanceStatus.RUNNING else None
        self.session.flush()
        if thrown and self.ctx.deliver is not None:
            self.ctx.deliver(self.session, instance, thrown)
        return created


@contextmanager
def library_guard(what: str) -> Iterator[None]:
    """A SpiffWorkflow exception outside a step (building or restoring a workflow) never leaves the engine:
    it becomes an :class:`EomsError` with the ``engine.failed`` code."""
    try:
        yield
    except SpiffWorkflowException as err:
        raise EomsError(f"{what}: the process engine refused it ({err})", code=Code.ENGINE_FAILED) from None


def open_instance(ctx: EngineContext, session: Session, instance: ProcessInstance,
                  actor_id: int | None) -> InstanceOperation:
    """Restore a stored instance for one operation."""
    definition = load_definition(ctx, session, instance.definition_id)
    with library_guard(f"work order {instance.business_key}"):
        workflow = ctx.codec.load_state(instance.state, definition.bundle)
    return InstanceOperation(ctx, session, instance, definition, workflow, actor_id)


def new_instance(ctx: EngineContext, session: Session, instance: ProcessInstance, definition: LoadedDefinition,
                 data: dict[str, Any], actor_id: int | None,
                 started_by: tuple[str, str] | None = None) -> InstanceOperation:
    """A fresh workflow for a new instance row (already added and flushed), with its start data; ``started_by``
    (kind, name) is the signal or message that starts it, so that only its start events may."""
    with library_guard(f"starting {definition.key}"):
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs)
        workflow.task_tree.data.update(copy.deepcopy(data))
        start = workflow.get_next_task(state=TaskState.READY)
        if start is not None:
            start.data.update(copy.deepcopy(data))
        if started_by is not None:
            start_by(workflow, started_by)
    return InstanceOperation(ctx, session, instance, definition, workflow, actor_id)
