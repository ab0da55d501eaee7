"""Event sub-processes started by a condition (BPMN 2.0.2 §10.3.6, §10.5.2 "Conditional").

SpiffWorkflow registers an event sub-process whose start event is not a none or timer start as a *trigger* of
its scope, started only when an equal event is caught. A condition is never thrown as an event, so a
conditional event sub-process never starts. BPMN says it starts when its condition becomes true on the
process data; our layer looks after every engine step.

The condition is evaluated on the scope's current data: the data of the latest step that ran in the scope (or
inside it) during this operation, with what a person just entered. It fires on the change from false to true:
once for an interrupting start (the scope then stops), again for a non-interrupting one each time the
condition becomes true anew. The last value per trigger is kept in the scope's root task (stored with the
instance), so a restart does not fire it twice. A condition naming data not there yet is false.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.task import Task

from engine.errors import ScriptError
from engine.spiff.event_subprocess import interrupted, trigger

STATE = "eoms_conditional_starts"  # key in the scope root's internal data: {trigger name: last value}


def fire_conditional_starts(workflow: BpmnWorkflow, ran: Iterable[Task], shared: dict[str, Any]) -> bool:
    """Start every conditional event sub-process whose condition has just become true; True when one did."""
    ran = list(ran)
    fired = False
    for scope in [workflow, *list(workflow.subprocesses.values())]:
        triggers = _conditional_triggers(workflow, scope)
        if not triggers or scope.is_completed() or interrupted(workflow, scope):
            continue
        data = _scope_data(scope, ran, shared)
        if data is None:
            continue
        state = scope.task_tree.internal_data.setdefault(STATE, {})
        for name, condition in triggers:
            holds = _holds(workflow, condition, data)
            if holds and not state.get(name):
                trigger(workflow, scope, name, data)
                fired = True
            state[name] = holds
    return fired


def _conditional_triggers(workflow: BpmnWorkflow, scope: Any) -> list[tuple[str, str]]:
    triggers = []
    for name in getattr(scope.spec.start, "trigger_specs", []):
        sp_spec = workflow.subprocess_specs.get(name)
        for start in getattr(sp_spec, "bpmn_start_events", []) if sp_spec is not None else []:
            if isinstance(start.event_definition, ConditionalEventDefinition):
                triggers.append((name, start.event_definition.expression))
    return triggers


def _scope_data(scope: Any, ran: list[Task], shared: dict[str, Any]) -> dict[str, Any] | None:
    """The data of the latest step of this operation in ``scope`` or below it, with what a person entered."""
    for task in reversed(ran):
        wf = task.workflow
        while wf is not None and wf is not scope:
            wf = wf.parent_workflow
        if wf is scope:
            return {**task.data, **shared}
    return None


def _holds(workflow: BpmnWorkflow, condition: str, data: dict[str, Any]) -> bool:
    try:
        return bool(workflow.script_engine.environment.evaluate(condition, data))
    except ScriptError as err:
        if isinstance(err.__cause__, NameError):
            return False  # the data it looks at is not there yet
        raise
