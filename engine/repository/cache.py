"""An in-process LRU cache of parsed specs per definition id (specs are read-only and shared)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from engine.repository.properties import TaskProperties, parse_task_properties
from engine.spiff.event_names import listens


@dataclass
class LoadedDefinition:
    """A definition's specs, ready to run, with per-task properties parsed on first use."""

    definition_id: int
    key: str
    version: int
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    forms: dict[str, int] = field(default_factory=dict)  # formKey → form_definition.id pinned at deploy
    _props: dict[str, TaskProperties] = field(default_factory=dict)

    @cached_property
    def start_form(self) -> str | None:
        """The formKey of the process's start event, if it has one (looked up once per loaded definition)."""
        for task_spec in self.spec.task_specs.values():
            if type(task_spec).__name__ == "StartEvent" and getattr(task_spec, "bpmn_id", None):
                key = getattr(task_spec, "extensions", {}).get("properties", {}).get("formKey")
                if key:
                    return str(key)
        return None

    @cached_property
    def listens(self) -> bool:
        """Whether the process catches any signal or message (else its instances need no subscriptions)."""
        return listens(self.spec, self.subprocess_specs)

    @property
    def bundle(self) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        return self.spec, self.subprocess_specs

    def find_task_spec(self, node_id: str) -> object | None:
        """The task spec with this BPMN id in the process or one of its subprocesses."""
        for proc in (self.spec, *self.subprocess_specs.values()):
            found = proc.task_specs.get(node_id)
            if found is not None:
                return found
        return None

    def task_properties(self, task_spec: object) -> TaskProperties:
        """The parsed properties of a user task spec (validated at deploy time)."""
        name = task_spec.name  # type: ignore[attr-defined]
        if name not in self._props:
            raw = getattr(task_spec, "extensions", {}).get("properties", {})
            self._props[name] = parse_task_properties(raw)[0]
        return self._props[name]


class SpecCache:
    """Thread-safe LRU of :class:`LoadedDefinition` keyed by definition id."""

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self._items: OrderedDict[int, LoadedDefinition] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, definition_id: int, load: Callable[[], LoadedDefinition]) -> LoadedDefinition:
        with self._lock:
            item = self._items.get(definition_id)
            if item is not None:
                self._items.move_to_end(definition_id)
                return item
        item = load()
        with self._lock:
            self._items[definition_id] = item
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return item
