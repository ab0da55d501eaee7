"""Non-interrupting boundary events that fire every time their event occurs (BPMN 2.0.2 §10.5.4: a
non-interrupting boundary event "can be triggered multiple times" while its activity runs).

SpiffWorkflow creates one waiting boundary event per activity: after the first message or signal it has
fired, and the next one finds nobody waiting. After every engine step our layer puts a fresh waiting copy
beside the activity for each non-interrupting message, signal or escalation boundary event that has fired
while the activity is still open. (Cycle timers repeat by themselves; a conditional boundary event fires once,
see docs/BPMN.md.)
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

REPEATING = (MessageEventDefinition, SignalEventDefinition, EscalationEventDefinition)


def rearm(workflow: BpmnWorkflow, tasks: list[Task]) -> bool:
    """Give each fired non-interrupting boundary event among ``tasks`` a waiting successor; True if any."""
    added = False
    for fired in tasks:
        spec = fired.task_spec
        if (not isinstance(spec, BoundaryEvent) or spec.cancel_activity
                or not isinstance(spec.event_definition, REPEATING) or fired.state != TaskState.COMPLETED):
            continue
        split = fired.parent
        if split is None or not _activity_open(split):
            continue
        if any(c.task_spec is spec and c.state == TaskState.WAITING for c in split.children):
            continue
        fresh = split._add_child(spec, TaskState.FUTURE)
        fresh.task_spec._predict(fresh, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        fresh.task_spec._update(fresh)  # waits for the next occurrence
        added = True
    return added


def _activity_open(split: Task) -> bool:
    main = next((c for c in split.children if not isinstance(c.task_spec, BoundaryEvent)), None)
    return main is not None and bool(main.state & TaskState.NOT_FINISHED_MASK)
