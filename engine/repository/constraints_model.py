"""The index the static-constraint checks share: ids, sequence flows by end, boundary events by host, scopes.

Built in one pass over the tree. Only elements in the BPMN model namespace take part; anything else (DI,
extensions, comments) is ignored except for id uniqueness, which covers every OMG namespace.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from lxml import etree

from engine.errors import ValidationIssue
from engine.repository.graph import BPMN_NS, FLOW_NODES

OMG_PREFIX = "http://www.omg.org/spec/"
ACTIVITIES = frozenset({"task", "userTask", "serviceTask", "scriptTask", "manualTask", "sendTask", "receiveTask",
                        "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"})
SUB_PROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
GATEWAYS = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
                      "complexGateway"})
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"})
TRIGGERS = {
    "messageEventDefinition": "message", "timerEventDefinition": "timer", "signalEventDefinition": "signal",
    "errorEventDefinition": "error", "escalationEventDefinition": "escalation",
    "compensateEventDefinition": "compensation", "conditionalEventDefinition": "conditional",
    "linkEventDefinition": "link", "terminateEventDefinition": "terminate", "cancelEventDefinition": "cancel",
}
_SPELLED = {"eventBasedGateway": "event-based gateway", "subProcess": "sub-process",
            "adHocSubProcess": "ad-hoc sub-process"}
_WORDS = re.compile(r"(?<!^)(?=[A-Z])")
_SPACES = re.compile(r"\s+")


def kind(el: object) -> str:
    """The local name of a BPMN-model element; '' for anything else (other namespaces, comments, text)."""
    if not isinstance(el, etree._Element) or not isinstance(el.tag, str):
        return ""
    qname = etree.QName(el)
    return qname.localname if qname.namespace == BPMN_NS else ""


def words(name: str) -> str:
    """``userTask`` → ``user task``, ``adHocSubProcess`` → ``ad-hoc sub-process``."""
    return _SPELLED.get(name) or _WORDS.sub(" ", name).lower()


def article(word: str) -> str:
    """``error`` → ``an error``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def clip(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters (a message quotes the file, it does not copy it)."""
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(el: etree._Element) -> str:
    """How a message names an element: its kind and its name (or id), e.g. ``user task 'Review'``."""
    label = clip(el.get("name") or "") or clip(el.get("id") or "") or "?"
    what = "event sub-process" if is_event_subprocess(el) else words(kind(el) or "element")
    return f"{what} '{label}'"


def is_true(el: etree._Element, attribute: str, default: bool = False) -> bool:
    value = el.get(attribute)
    return default if value is None else value.strip().lower() == "true"


def is_event_subprocess(el: etree._Element) -> bool:
    return kind(el) in SUB_PROCESSES and is_true(el, "triggeredByEvent")


def process_above(el: etree._Element) -> etree._Element | None:
    """The process an element sits in, if any."""
    parent = el.getparent()
    while parent is not None and kind(parent) != "process":
        parent = parent.getparent()
    return parent


def line_of(el: etree._Element) -> int | None:
    return el.sourceline if isinstance(el.sourceline, int) else None


@dataclass
class Model:
    """One BPMN file, indexed for the checks, and the issues found so far."""

    filename: str
    root: etree._Element
    ids: dict[str, etree._Element] = field(default_factory=dict)
    duplicates: list[tuple[etree._Element, etree._Element]] = field(default_factory=list)
    outgoing: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    incoming: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    attached: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    elements: list[etree._Element] = field(default_factory=list)
    message_flows: list[etree._Element] = field(default_factory=list)
    choreographies: list[etree._Element] = field(default_factory=list)
    processes: list[etree._Element] = field(default_factory=list)
    process_of: dict[str, etree._Element] = field(default_factory=dict)
    external: frozenset[str] = frozenset()
    target_ns: str = ""
    issues: list[ValidationIssue] = field(default_factory=list)

    @classmethod
    def build(cls, tree: etree._ElementTree | etree._Element, filename: str) -> Model:
        root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
        target_ns = root.get("targetNamespace") or ""
        imports = {child.get("namespace") or "" for child in root if kind(child) == "import"}
        model = cls(filename, root, target_ns=target_ns, external=frozenset(imports - {"", target_ns}))
        model._index()
        return model

    def _index(self) -> None:
        for el in self.root.iter():
            if not isinstance(el.tag, str):
                continue
            element_id = el.get("id")
            if element_id is not None and (etree.QName(el).namespace or "").startswith(OMG_PREFIX):
                first = self.ids.setdefault(element_id, el)
                if first is not el:
                    self.duplicates.append((first, el))
            name = kind(el)
            if not name:
                continue
            if name == "process":
                self.processes.append(el)
            elif name == "sequenceFlow":
                self.outgoing[el.get("sourceRef") or ""].append(el)
                self.incoming[el.get("targetRef") or ""].append(el)
            elif name == "boundaryEvent":
                self.attached[self.local_ref(el, el.get("attachedToRef") or "")].append(el)
            elif name == "messageFlow":
                self.message_flows.append(el)
            elif name in ("choreography", "choreographyTask", "subChoreography", "callChoreography",
                          "globalChoreographyTask"):
                self.choreographies.append(el)
            if name in FLOW_NODES and element_id and (process := process_above(el)) is not None:
                self.process_of.setdefault(element_id, process)
            self.elements.append(el)

    # -- references ---------------------------------------------------------------------------------------
    def local_ref(self, el: etree._Element, ref: str) -> str:
        """The id a reference names (a QName's prefix dropped); '' when it points into an imported file."""
        ref = ref.strip()
        if ":" not in ref:
            return ref
        prefix, name = ref.split(":", 1)
        namespace = el.nsmap.get(prefix)
        if namespace is not None and namespace in self.external:
            return ""
        return name

    def resolve(self, el: etree._Element, ref: str | None) -> etree._Element | None:
        if not ref:
            return None
        local = self.local_ref(el, ref)
        return self.ids.get(local) if local else None

    def triggers(self, event: etree._Element) -> list[tuple[str, etree._Element]]:
        """The triggers of an event, from its own definitions and its eventDefinitionRefs: (trigger, element)."""
        found = []
        for child in event:
            name = kind(child)
            if name in TRIGGERS:
                found.append((TRIGGERS[name], child))
            elif name == "eventDefinitionRef":
                target = self.resolve(child, child.text)
                if target is not None and kind(target) in TRIGGERS:
                    found.append((TRIGGERS[kind(target)], target))
        return found

    def outgoing_of(self, el: etree._Element) -> list[etree._Element]:
        element_id = el.get("id")
        return self.outgoing.get(element_id, []) if element_id else []

    def incoming_of(self, el: etree._Element) -> list[etree._Element]:
        element_id = el.get("id")
        return self.incoming.get(element_id, []) if element_id else []

    def executable(self, process: etree._Element | None) -> bool:
        return process is not None and is_true(process, "isExecutable")

    # -- issues -------------------------------------------------------------------------------------------
    def add(self, el: etree._Element, rule: str, message: str) -> None:
        self.issues.append(ValidationIssue(self.filename, el.get("id") or "", rule, message, line_of(el)))
