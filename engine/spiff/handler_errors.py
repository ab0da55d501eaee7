"""BPMN errors thrown by service-task handlers, caught by the task's error boundary events.

SpiffWorkflow has no way for a service call to throw a BPMN error: whatever the handler raises stops the step,
so an error boundary event on a service task (BPMN 2.0.2 §10.5.2: "an Error Event ... interrupts the
Activity") never fires. A handler raises :class:`~engine.errors.BusinessError`; :func:`catch_on_boundary`
hands it to the error boundary event attached to that very task (the one naming the code, else one without a
code), which interrupts the task and takes its path.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import BusinessError


def catch_on_boundary(task: Task, err: BusinessError) -> bool:
    """Let an error boundary event of ``task`` catch ``err``; False when none is attached that catches it."""
    parent = task.parent
    if parent is None:
        return False
    waiting = [c for c in parent.children if c is not task and c.state == TaskState.WAITING
               and isinstance(c.task_spec, BoundaryEvent)
               and isinstance(c.task_spec.event_definition, ErrorEventDefinition)]
    exact = [c for c in waiting if c.task_spec.event_definition.code == err.error_code]
    catch_all = [c for c in waiting if not c.task_spec.event_definition.code]
    chosen = (exact or catch_all)[:1]
    if not chosen:
        return False
    boundary = chosen[0]
    payload = {**err.payload, "error_code": err.error_code, "error_message": err.message}
    boundary.task_spec.catch(boundary, BpmnEvent(boundary.task_spec.event_definition, payload=payload))
    boundary.task_spec._update(boundary)  # ready: the boundary join interrupts the task
    boundary.data.update(payload)
    return True


def describe(err: BusinessError, task: Task) -> str:
    """``BPMN error CRM_REJECTED (客户资料不全) thrown by the handler of 'Open the account'; no error boundary
    event on the task catches it``."""
    node = task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name
    detail = f" ({err.message})" if err.message else ""
    return (f"BPMN error {err.error_code}{detail} thrown by the handler of '{node}'; no error boundary event on "
            "the task catches it")
