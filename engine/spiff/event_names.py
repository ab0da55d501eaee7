"""Which signals and messages a process listens to, read from SpiffWorkflow specs and task states."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.spiff.event_subprocess import interrupted
from engine.spiff.stepping import all_tasks

SIGNAL, MESSAGE = "signal", "message"
Subscription = tuple[str, str]  # (kind, name)


def kinds_of(definition: object) -> set[Subscription]:
    """The (kind, name) pairs an event definition listens to (a multiple definition: each of its parts)."""
    parts = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    found: set[Subscription] = set()
    for part in parts:
        if isinstance(part, SignalEventDefinition) and part.name:
            found.add((SIGNAL, part.name))
        elif isinstance(part, MessageEventDefinition) and part.name:
            found.add((MESSAGE, part.name))
    return found


def start_subscriptions(spec: BpmnProcessSpec) -> set[Subscription]:
    """What starts a new instance of the process: its signal and message start events."""
    found: set[Subscription] = set()
    for start in spec.bpmn_start_events:
        found |= kinds_of(getattr(start, "event_definition", None))
    return found


def waiting_subscriptions(workflow: BpmnWorkflow) -> set[Subscription]:
    """What a running instance waits for: waiting catch events (also behind an event-based gateway) and the
    start events of its signal- and message-triggered event sub-processes."""
    found: set[Subscription] = set()
    for task in all_tasks(workflow):
        if task.state == TaskState.WAITING:
            found |= kinds_of(getattr(task.task_spec, "event_definition", None))
    for scope in [workflow, *workflow.subprocesses.values()]:
        if interrupted(workflow, scope):
            continue  # an interrupting event sub-process fired: its scope's other triggers are off
        start = getattr(getattr(scope, "spec", None), "start", None)
        for name in getattr(start, "trigger_specs", []):
            sub_spec = workflow.subprocess_specs.get(name)
            if sub_spec is not None:
                found |= start_subscriptions(sub_spec)
    return found


def listens(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> bool:
    """Whether any element of the process catches a signal or a message (else nothing needs syncing)."""
    for proc in [spec, *subprocess_specs.values()]:
        for task_spec in proc.task_specs.values():
            if kinds_of(getattr(task_spec, "event_definition", None)):
                return True
    return False


def record_broadcasts(workflow: BpmnWorkflow) -> list[BpmnEvent]:
    """BPMN signals are broadcasts: one the instance catches itself must still reach other instances, but
    SpiffWorkflow hands on only the events nothing inside caught. Watch the instance's own event manager and
    return the list of signals it threw and caught itself (filled as the workflow runs)."""
    caught_inside: list[BpmnEvent] = []
    manager = workflow.event_manager
    catch = manager.catch

    def watching(event: BpmnEvent, internal: bool = True) -> int:
        count = catch(event, internal)
        if internal and count and isinstance(event.event_definition, SignalEventDefinition):
            caught_inside.append(event)
        return count

    manager.catch = watching  # on this workflow object only; the library's class is left alone
    return caught_inside


def start_by(workflow: BpmnWorkflow, trigger: Subscription) -> None:
    """A new instance is being started by ``trigger``: only the start events that catch it may start it
    (BPMN 2.0.2 §10.5.2: each start event creates the instance when *its* trigger occurs). SpiffWorkflow runs a
    none start at once, so a process with a none and a message start could never be started by the message."""
    for _ in range(5):  # the control tasks ahead of the start events: Start, then the start-event split
        ready = [t for t in workflow.get_tasks(state=TaskState.READY)
                 if t.task_spec.name in ("Start", "StartEventSplit")]
        if not ready:
            break
        for task in ready:
            task.run()
    starts = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
              if t.task_spec in workflow.spec.bpmn_start_events]
    if not any(trigger in kinds_of(getattr(t.task_spec, "event_definition", None)) for t in starts):
        return  # nothing catches it: leave the instance as it is (the catch reports the mismatch)
    for task in starts:
        if trigger not in kinds_of(getattr(task.task_spec, "event_definition", None)):
            task.cancel()
