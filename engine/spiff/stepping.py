"""Running a restored workflow to its next wait state, safely.

* errors from scripts, handlers and the engine are caught with the failing task and its data is restored to
  what it was before the step ran (so a retry starts clean);
* a long loop never stalls silently: completed chains at the top of the task tree are compacted, and a
  workflow that is neither finished nor waiting for anything is reported as a stall;
* READY user tasks and timers are found by a flat scan (SpiffWorkflow's tree walks stop at depth 1,000).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.errors import BusinessError, EomsError, HandlerError, ScriptError
from engine.spiff.boundary_repeat import rearm as rearm_boundaries
from engine.spiff.conditional_starts import fire_conditional_starts
from engine.spiff.event_subprocess import settle as settle_event_subprocesses
from engine.spiff.handler_errors import catch_on_boundary
from engine.spiff.handler_errors import describe as describe_business_error

AUTOMATIC_RECORDED = ("ServiceTask", "ScriptTask", "SendTask", "BusinessRuleTask")


@dataclass
class StepFailure(Exception):
    """An automatic step failed; the task is left in ERROR with its input data restored."""

    task: Task | None
    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    """Every task of the workflow and its subprocesses, without depth limit."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def ready_human_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """READY user/manual tasks, found by a flat scan."""
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]


def is_finished(workflow: BpmnWorkflow) -> bool:
    """True when no task is unfinished (a flat scan: SpiffWorkflow's ``is_completed`` stops at depth 1,000)."""
    return not any(t.state & TaskState.NOT_FINISHED_MASK for t in all_tasks(workflow))


def _automatic_ready(workflow: BpmnWorkflow) -> bool:
    return any(t.state == TaskState.READY and not t.task_spec.manual for t in all_tasks(workflow))


def run_engine_steps(
    workflow: BpmnWorkflow,
    on_step: Callable[[Task], None] | None = None,
    *,
    first: Task | None = None,
    shared: dict[str, Any] | None = None,
    max_steps: int = 20_000,
    compact_keep: int = 60,
) -> None:
    """Run ``first`` (a task the caller checked), then automatic steps until only human work, timers or events
    remain; any failure raises :class:`StepFailure` with the failing task's input data restored.

    ``shared`` is the data a person gave ``first``; waiting conditional events see it (process data).
    Due timers are fired too (``refresh_timers`` then steps, repeated while anything automatic is READY). A
    loop of automatic steps keeps working past SpiffWorkflow's depth limit (the finished chain is compacted
    between rounds) until ``max_steps`` steps in one operation, which stops a diagram that loops for ever.
    """
    snapshots: dict[Any, dict[str, Any]] = {}
    ran: list[Task] = []
    steps = 0

    def will_run(task: Task) -> None:
        snapshots.clear()
        snapshots[task.id] = copy.deepcopy(task.data)

    def did_run(task: Task) -> None:
        nonlocal steps
        steps += 1
        ran.append(task)
        if on_step is not None:
            on_step(task)
        if steps > max_steps:
            raise _RunawayLoop(task)

    try:
        if first is not None:
            will_run(first)
            first.run()
            did_run(first)
            share_with_conditions(workflow, shared or {})
        workflow.refresh_timers()
        while True:
            try:
                workflow.do_engine_steps(will_run, did_run)
            except (BusinessError, SpiffWorkflowException) as err:
                if not _thrown_to_boundary(workflow, err, snapshots):
                    raise
                continue
            workflow.refresh_timers()
            recent = ran[-200:]
            if (settle_event_subprocesses(workflow) or fire_conditions(workflow)
                    or fire_conditional_starts(workflow, recent, shared or {}) or rearm_boundaries(workflow, recent)):
                continue
            if workflow.get_next_task(state=TaskState.READY, manual=False) is not None:
                continue
            if not _automatic_ready(workflow) or compact(workflow, 0, compact_keep) == 0:
                return
    except _RunawayLoop as err:
        raise StepFailure(err.task, "engine", f"more than {max_steps} automatic steps in one go: the diagram "
                                              "loops without waiting for a person, a timer or a message") from None
    except SpiffWorkflowException as err:
        task = getattr(err, "task", None)
        if task is not None and task.id in snapshots:
            task.data = snapshots[task.id]
        raise StepFailure(task, _kind(err), _message(err)) from err
    except ScriptError as err:  # a conditional start's condition failed (not for want of data)
        raise StepFailure(ran[-1] if ran else None, "script", str(err)) from err
    except RecursionError as err:
        raise StepFailure(None, "engine", "the task tree is too deep (a loop taken too many times)") from err
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as err:
        # the library itself failed on a construct it accepted: an incident on the step, never a raw error
        task = next((t for t in all_tasks(workflow) if t.id in snapshots), None)
        if task is not None:
            task.data = snapshots[task.id]
        raise StepFailure(task, "engine", f"the process engine failed here: {type(err).__name__}: {err}") from err


def share_with_conditions(workflow: BpmnWorkflow, data: dict[str, Any]) -> None:
    """BPMN evaluates a conditional event against the process data; SpiffWorkflow evaluates it against the
    waiting task's own copy, which never sees what a person entered on another branch. Give every waiting
    conditional event what the step just completed changed, and let it look at its condition again."""
    if not data:
        return
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING or not _waits_for_a_condition(task):
            continue
        task.data.update(copy.deepcopy(data))
        _fire_if_true(task)


def fire_conditions(workflow: BpmnWorkflow) -> bool:
    """Conditions inside a multiple event — what SpiffWorkflow makes of an event-based gateway — are never
    evaluated by the library; look at them after every step. True when one fired."""
    fired = False
    for task in all_tasks(workflow):
        if task.state == TaskState.WAITING and isinstance(getattr(task.task_spec, "event_definition", None),
                                                          MultipleEventDefinition) and _waits_for_a_condition(task):
            fired |= _fire_if_true(task)
    return fired


def _fire_if_true(task: Task) -> bool:
    definition = task.task_spec.event_definition
    if isinstance(definition, ConditionalEventDefinition):
        if definition.has_fired(task):  # (``_update`` would inherit the old data again)
            task._ready()
            return True
        return False
    for part in getattr(definition, "event_definitions", []):
        if isinstance(part, ConditionalEventDefinition) and part.has_fired(task):
            task.task_spec.catch(task, BpmnEvent(part))  # the gateway takes this branch
            task.task_spec._update(task)
            return True
    return False


def _thrown_to_boundary(workflow: BpmnWorkflow, err: BaseException, snapshots: dict[Any, dict[str, Any]]) -> bool:
    """A handler threw a BPMN error: the failing task's error boundary event takes over (True), else the error
    becomes the step's failure."""
    cause = _root_cause(err)
    if not isinstance(cause, BusinessError):
        return False
    task = next((t for t in all_tasks(workflow) if t.id in snapshots), None)
    if task is None:
        return False
    task.data = snapshots[task.id]
    if catch_on_boundary(task, cause):
        return True
    raise StepFailure(task, "error", describe_business_error(cause, task)) from None


def _waits_for_a_condition(task: Task) -> bool:
    return _waits_for(task, ConditionalEventDefinition)


class _RunawayLoop(Exception):
    def __init__(self, task: Task):
        self.task = task


def _root_cause(err: BaseException) -> BaseException:
    seen = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EomsError):
            return current
        inner = current.__cause__ or getattr(current, "exception", None) or current.__context__
        if inner is None:
            return current
        current = inner
    return err


def _kind(err: BaseException) -> str:
    cause = _root_cause(err)
    if isinstance(cause, HandlerError):
        return "handler"
    if isinstance(cause, ScriptError):
        return "script"
    return "engine"


def _message(err: BaseException) -> str:
    cause = _root_cause(err)
    task = getattr(err, "task", None)
    where = f"{task.task_spec.bpmn_name or task.task_spec.bpmn_id}: " if task is not None else ""
    if isinstance(cause, EomsError):
        return f"{where}{cause}"
    return f"{where}{type(cause).__name__}: {cause}" if cause is not err else f"{where}{err}"


def find_stall(workflow: BpmnWorkflow) -> str | None:
    """Why the workflow cannot move on although it is not finished, or None when it is fine."""
    if is_finished(workflow):
        return None
    waiting_states = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    live = [t for t in all_tasks(workflow) if t.state & waiting_states]
    if not live:
        return "the instance is not finished but has no ready, waiting or running step"
    automatic_ready = [t for t in live if t.state == TaskState.READY and not t.task_spec.manual]
    if automatic_ready:
        names = ", ".join(sorted({t.task_spec.bpmn_id or t.task_spec.name for t in automatic_ready}))
        return f"automatic step(s) {names} are ready but the engine cannot reach them"
    return None


def compact(workflow: BpmnWorkflow, threshold: int, keep: int) -> int:
    """Drop completed tasks from the straight chain at the top of the task tree; returns how many.

    Loops (reject → rework → review …) append to the task tree for ever and SpiffWorkflow's tree walks get
    slower and finally stop at depth 1,000. Completed single-child links far above every open task carry no
    state the engine still needs (EOMS keeps its own history), so the chain is cut, keeping the last ``keep``
    links so that returning to a recent step still works.
    """
    if len(workflow.tasks) < threshold:
        return 0
    root = workflow.task_tree
    chain: list[Task] = []
    node = root.children[0] if len(root.children) == 1 else None
    while node is not None and node.state == TaskState.COMPLETED and len(node.children) == 1:
        sub = workflow.subprocesses.get(node.id)
        if sub is not None and not sub.completed:
            break
        chain.append(node)
        node = node.children[0]
    removable = chain[:-keep] if len(chain) > keep else []
    if not removable:
        return 0
    survivor = chain[len(removable)]
    for task in removable:
        if task.id in workflow.subprocesses:
            workflow.delete_subprocess(task)
        del workflow.tasks[task.id]
    root._children = [survivor.id]
    survivor._parent = root.id
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = survivor
    return len(removable)


def cycle_timer_counts(workflow: BpmnWorkflow) -> dict[Any, tuple[Task, int]]:
    """Waiting cycle timers and how many occurrences each has left (unbounded cycles count down from -1)."""
    counts = {}
    for task in all_tasks(workflow):
        spec = task.task_spec
        if task.state != TaskState.WAITING or not isinstance(spec, CatchingEvent):
            continue
        if not isinstance(spec.event_definition, CycleTimerEventDefinition):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict) and isinstance(value.get("cycles"), int):
            counts[task.id] = (task, value["cycles"])
    return counts


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest due time of any waiting timer, or None: plain timer catch events (intermediate, boundary,
    event sub-process starts) and timers inside a multiple event — which is also what SpiffWorkflow makes of
    an event-based gateway (the gateway waits, holding its catch events' definitions)."""
    due: list[datetime] = []
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING or not _waits_for_a_timer(task):
            continue
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        if isinstance(value, str) and value:
            due.append(TimerEventDefinition.get_datetime(value))
    return min(due) if due else None


def _waits_for_a_timer(task: Task) -> bool:
    return _waits_for(task, TimerEventDefinition)


def _waits_for(task: Task, kind: type) -> bool:
    """Whether the task's event definition is of ``kind``, alone or inside a multiple event."""
    definition = getattr(task.task_spec, "event_definition", None)
    parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return any(isinstance(d, kind) for d in parts)
