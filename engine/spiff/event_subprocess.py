"""Event sub-processes as BPMN 2.0.2 §10.3.6 defines them, on top of SpiffWorkflow 3.2.

SpiffWorkflow parses an event sub-process as a plain sub-process (it looks for a namespaced
``triggeredByEvent`` attribute, which BPMN files never have) and then:
- starts one with a timer (or none) start event as a parallel branch at process start, so the process
  waits for that timer even after its normal flow ended — it never completes;
- never interrupts: an interrupting start event leaves the rest of the scope running.

The repository marks each event sub-process spec when it deploys (:func:`mark`); after every engine step
:func:`settle` applies the specification: a triggered *interrupting* event sub-process cancels everything
else in its scope, and a scope whose work is done cancels the event sub-processes still waiting for their
trigger, so the scope ends.
"""

from __future__ import annotations

from collections.abc import Iterator

from SpiffWorkflow.bpmn import BpmnWorkflow
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
