"""Event sub-processes as BPMN 2.0.2 §10.3.6 defines them, on top of SpiffWorkflow 3.2.

SpiffWorkflow parses an event sub-process as a plain sub-process (it looks for a namespaced
``triggeredByEvent`` attribute, which BPMN files never have) and then:
- starts one with a timer (or none) start event as a parallel branch at process start, so the process
  waits for that timer even after its normal flow ended — it never completes;
- never interrupts: an interrupting start event leaves the rest of the scope running.

- starts one with a message or signal start only when it sits at the top level of the process: inside a
  sub-process it is never started (nothing subscribes to it, a caught event passes it by).

The repository marks each event sub-process spec when it deploys (:func:`mark`); after every engine step
:func:`settle` applies the specification: a triggered *interrupting* event sub-process cancels everything
else in its scope, and a scope whose work is done cancels the event sub-processes still waiting for their
trigger, so the scope ends. :func:`watch_nested_triggers` starts those inside sub-processes when their event
arrives, and :func:`trigger` starts one with the scope's current data (conditional starts use it too).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

MARK = "eomsEventSubprocess"  # key in the task spec's extensions (serialized with the spec)


def mark(task_spec: TaskSpec, *, interrupting: bool) -> None:
    """Record on a sub-process spec that it is an event sub-process, and whether its start interrupts."""
    extensions = getattr(task_spec, "extensions", None)
    if isinstance(extensions, dict):
        extensions[MARK] = {"interrupting": interrupting}


def _marker(task: Task) -> dict[str, bool] | None:
    extensions = getattr(task.task_spec, "extensions", None)
    found = extensions.get(MARK) if isinstance(extensions, dict) else None
    return found if isinstance(found, dict) else None


def _open(task: Task) -> bool:
    return bool(task.state & TaskState.NOT_FINISHED_MASK)


def _is_scope_end(task: Task) -> bool:
    return task.task_spec.name == "End" or task.task_spec.name.endswith(".EndJoin")


def _scopes(workflow: BpmnWorkflow) -> Iterator[object]:
    yield workflow
    yield from list(workflow.subprocesses.values())


def _triggered(workflow: BpmnWorkflow, task: Task) -> bool:
    """An event sub-process has been triggered once its start event has fired."""
    if task.state == TaskState.COMPLETED:
        return True
    sub = workflow.subprocesses.get(task.id)
    if sub is None:
        return bool(getattr(task, "triggered", False))
    starts = [t for t in sub.tasks.values() if t.task_spec.__class__.__name__ == "StartEvent"]
    return any(t.state == TaskState.COMPLETED for t in starts)


def interrupted(workflow: BpmnWorkflow, scope: object) -> bool:
    """Whether an interrupting event sub-process of ``scope`` has fired: the scope then listens for nothing else."""
    return _fired_interrupting(workflow, list(scope.tasks.values())) is not None  # type: ignore[attr-defined]


def _fired_interrupting(workflow: BpmnWorkflow, tasks: list[Task]) -> Task | None:
    """The interrupting event sub-process of these scope tasks that has fired (it may have run to its end)."""
    for task in tasks:
        marker = _marker(task)
        if marker and marker.get("interrupting") and task.state != TaskState.CANCELLED and _triggered(workflow, task):
            return task
    return None


def settle(workflow: BpmnWorkflow) -> bool:
    """Apply interruption and scope end to every scope; True when a task was cancelled (run steps again)."""
    changed = False
    for scope in _scopes(workflow):
        tasks = list(scope.tasks.values())  # type: ignore[attr-defined]
        marked = [t for t in tasks if _marker(t) is not None and t.state != TaskState.CANCELLED]
        if not marked:
            continue
        winner = _fired_interrupting(workflow, marked)
        if winner is not None:  # it may have run to its end in the same step: the rest of the scope still stops
            if _interrupt(tasks, winner):
                _wake_scope_end(list(scope.tasks.values()))  # type: ignore[attr-defined]
                changed = True
            continue
        listeners = [t for t in marked if _open(t)]
        waiting = [t for t in listeners if not _triggered(workflow, t)]
        others = [t for t in tasks if _open(t) and t not in listeners and not _is_scope_end(t)]
        running = [t for t in listeners if t not in waiting]
        if waiting and not others and not running:
            for task in waiting:
                task.cancel()
            _wake_scope_end(tasks)
            changed = True
    return changed


def _interrupt(tasks: list[Task], winner: Task) -> bool:
    """Cancel every open task of the scope except ``winner`` (and the scope's end, which it reaches)."""
    keep = set()
    node: Task | None = winner
    while node is not None:
        keep.add(node.id)
        node = node.parent
    changed = False
    for task in tasks:
        if task.id in keep or not _open(task) or _is_scope_end(task):
            continue
        parent = task.parent
        if parent is not None and _open(parent) and parent.id not in keep:
            continue  # cancelled with its parent
        task.cancel()
        changed = True
    return changed


def _wake_scope_end(tasks: list[Task]) -> None:
    """A scope's end join waits for every branch; have it look again now that the listeners are gone."""
    for task in tasks:
        if task.state == TaskState.WAITING and task.task_spec.name.endswith(".EndJoin"):
            task.task_spec._update(task)


def trigger(workflow: BpmnWorkflow, scope: Any, name: str, data: dict[str, Any]) -> Task:
    """Start event sub-process ``name`` of ``scope`` with ``data`` (what SpiffWorkflow does for a caught trigger,
    plus the branch's path to the scope's end, without which the sub-process could not end its scope)."""
    start_spec = scope.spec.start
    spec = scope.spec.task_specs[name]
    if start_spec not in spec.inputs:
        start_spec.connect(spec)
        spec.connect(scope.spec.end)
    root = scope.task_tree
    child = root._add_child(spec, TaskState.FUTURE)
    child.triggered = True
    child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
    kept, root.data = root.data, copy.deepcopy(data)  # the new branch inherits the scope's current data
    try:
        child.task_spec._update(child)
    finally:
        root.data = kept
    sub = workflow.subprocesses.get(child.id)
    for task in list(sub.tasks.values()) if sub is not None else []:
        if task.task_spec.name == "Start" or (task.state == TaskState.WAITING and task.task_spec.name in
                                              {s.name for s in sub.spec.bpmn_start_events}):
            task.data = copy.deepcopy(data)
            if task.state == TaskState.WAITING:
                task.task_spec._update(task)
    return child


def watch_nested_triggers(workflow: BpmnWorkflow) -> None:
    """Have an event caught by ``workflow`` start the matching event sub-processes inside its sub-processes."""
    manager = workflow.event_manager
    catch = manager.catch

    def catching(event: BpmnEvent, internal: bool = True) -> int:
        if event.target is None:
            for scope in list(workflow.subprocesses.values()):
                _trigger_matching(workflow, scope, event)
        return catch(event, internal)

    manager.catch = catching  # on this workflow object only; the library's class is left alone


def _trigger_matching(workflow: BpmnWorkflow, scope: Any, event: BpmnEvent) -> None:
    if scope.is_completed() or interrupted(workflow, scope):
        return
    for name in getattr(scope.spec.start, "trigger_specs", []):
        sp_spec = workflow.subprocess_specs.get(name)
        starts = getattr(sp_spec, "bpmn_start_events", [])
        if not any(ts.event_definition == event.event_definition for ts in starts):
            continue
        if _waiting_instance(workflow, scope, name):
            continue
        last = scope.last_task if scope.last_task is not None else scope.task_tree
        trigger(workflow, scope, name, last.data)


def _waiting_instance(workflow: BpmnWorkflow, scope: Any, name: str) -> bool:
    """Whether an instance of event sub-process ``name`` in ``scope`` still waits for its start (reused)."""
    for task in scope.tasks.values():
        sub = workflow.subprocesses.get(task.id) if task.task_spec.name == name else None
        if sub is not None and any(t.state == TaskState.WAITING for t in sub.tasks.values()
                                   if t.task_spec.name in {s.name for s in sub.spec.bpmn_start_events}):
            return True
    return False
