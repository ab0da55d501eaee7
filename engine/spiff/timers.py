"""Timer start events: finding them in a spec, scheduling them, and firing one in a new instance.

SpiffWorkflow runs every cycle of a timer start event inside one instance. EOMS follows the behaviour
analysts know from other engines instead: each time a start timer falls due, the worker starts a new
instance (a new work order) and fires its start event at once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from engine.errors import Code, EomsError


@dataclass(frozen=True)
class StartTimer:
    """A process's timer start event: its expression and where instances it starts belong."""

    node_id: str
    kind: str  # date | duration | cycle
    expression: str
    org_code: str | None


@dataclass(frozen=True)
class Schedule:
    next_due: datetime | None
    remaining: int  # occurrences left; -1 = no end
    interval: timedelta


def start_timer_of(spec: BpmnProcessSpec) -> StartTimer | None:
    """The timer start event of a process, if it has one."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent) and isinstance(task_spec.event_definition, TimerEventDefinition):
            definition = task_spec.event_definition
            kind = ("cycle" if isinstance(definition, CycleTimerEventDefinition)
                    else "duration" if isinstance(definition, DurationTimerEventDefinition) else "date")
            props = getattr(task_spec, "extensions", {}).get("properties", {})
            return StartTimer(task_spec.bpmn_id, kind, definition.expression, props.get("orgUnit") or None)
    return None


def schedule_for(timer: StartTimer, now: datetime) -> Schedule:
    """When a start timer first falls due and how it repeats; its expression must be a literal text."""
    try:
        value = ast.literal_eval(timer.expression)
    except (ValueError, SyntaxError):
        raise EomsError(f"start timer {timer.node_id}: '{timer.expression}' must be a quoted ISO-8601 text",
                        code=Code.BPMN_INVALID, details={"element_id": timer.node_id}) from None
    if timer.kind == "date":
        return Schedule(TimerEventDefinition.get_datetime(value), 1, timedelta(0))
    if timer.kind == "duration":
        parsed = TimerEventDefinition.parse_iso_duration(value)
        return Schedule(now + TimerEventDefinition.get_timedelta_from_start(parsed, now), 1, timedelta(0))
    cycles, start, interval = TimerEventDefinition.parse_iso_recurring_interval(value)
    remaining = -1 if cycles is None or cycles < 0 else int(cycles)
    if interval <= timedelta(0):
        raise EomsError(f"start timer {timer.node_id}: '{value}' repeats with no interval", code=Code.BPMN_INVALID,
                        details={"element_id": timer.node_id})
    if len(str(value).split("/")) == 2:  # R[n]/duration: the first occurrence one interval from now
        return Schedule(now + interval if remaining != 0 else None, remaining, interval)
    first = start
    while first < now and remaining != 0:  # an explicit start in the past: skip the occurrences already gone
        first += interval
        remaining = remaining - 1 if remaining > 0 else remaining
    return Schedule(first if remaining != 0 else None, remaining, interval)


def fire_start_timers(workflow: BpmnWorkflow, now: datetime) -> int:
    """Make a new instance's waiting timer start event fire once, now; returns how many were fired."""
    past = (now - timedelta(milliseconds=1)).isoformat()
    fired = 0
    for task in list(workflow.tasks.values()):
        spec = task.task_spec
        if task.state != TaskState.WAITING or not isinstance(spec, StartEvent):
            continue
        definition = spec.event_definition
        if isinstance(definition, CycleTimerEventDefinition):
            task._set_internal_data(event_value={"cycles": 1, "next": past, "duration": 1.0})
        elif isinstance(definition, TimeDateEventDefinition | DurationTimerEventDefinition):
            task._set_internal_data(event_value=past)
        else:
            continue
        fired += 1
    return fired
