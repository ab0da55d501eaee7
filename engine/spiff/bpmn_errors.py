"""BPMN errors nobody catches. SpiffWorkflow treats an error end event whose error no boundary event catches
as a normal end: the instance "completes successfully". BPMN 2.0.2 (§10.5.5) says an uncaught error ends the
process abnormally; the executor uses :func:`uncaught_error` to end such an instance as failed."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.stepping import all_tasks


def _error_of(task: Task) -> ErrorEventDefinition | None:
    definition = getattr(task.task_spec, "event_definition", None)
    return definition if isinstance(definition, ErrorEventDefinition) else None


def uncaught_error(workflow: BpmnWorkflow) -> Task | None:
    """The error end event that threw an error no error boundary event (or error event sub-process) caught."""
    thrown = [t for t in all_tasks(workflow)
              if t.state == TaskState.COMPLETED and isinstance(t.task_spec, EndEvent) and _error_of(t) is not None]
    if not thrown:
        return None
    catchers = [_error_of(t) for t in all_tasks(workflow)
                if t.state == TaskState.COMPLETED and not isinstance(t.task_spec, EndEvent)
                and _error_of(t) is not None]
    for task in thrown:
        code = _error_of(task).code  # type: ignore[union-attr]
        if not any(c is not None and (not c.code or c.code == code) for c in catchers):
            return task
    return None


def describe(task: Task) -> str:
    """``NO_RESOURCE (No resource)`` thrown by end event 'fail'."""
    error = _error_of(task)
    code = (error.code if error is not None else "") or "(no code)"
    name = error.name if error is not None and error.name and error.name != code else ""
    node = task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name
    return f"uncaught BPMN error {code}{f' ({name})' if name else ''} thrown by end event '{node}'"
