"""Structural checks on the BPMN XML itself: every scope has an end, every reachable node can reach one."""

from __future__ import annotations

from collections import defaultdict, deque

from lxml import etree

from engine.errors import ValidationIssue
from engine.repository.normalize_links import link_pairs

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

FLOW_NODES = frozenset(
    {"startEvent", "endEvent", "task", "userTask", "serviceTask", "scriptTask", "manualTask", "sendTask",
     "receiveTask", "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
     "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
     "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
SCOPES = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
MAX_REPORTED = 20


def local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def check_paths_to_end(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Every executable process and subprocess has an end event, and every node can reach one."""
    issues: list[ValidationIssue] = []
    for process in tree.getroot().iterfind("bpmn:process", NS):
        if process.get("isExecutable", "false").lower() != "true":
            continue
        for scope in [process, *(e for e in process.iter() if local(e) in SCOPES and e is not process)]:
            issues.extend(_check_scope(scope, filename))
    return issues[:MAX_REPORTED]


def is_event_subprocess(el: etree._Element) -> bool:
    """An event sub-process: started by its own start event's trigger, never by a sequence flow."""
    return local(el) == "subProcess" and el.get("triggeredByEvent", "false").lower() == "true"


def _check_scope(scope: etree._Element, filename: str) -> list[ValidationIssue]:
    nodes = {el.get("id"): el for el in scope
             if local(el) in FLOW_NODES and el.get("id") and not is_event_subprocess(el)}
    scope_id = scope.get("id", "")
    if local(scope) == "adHocSubProcess":
        return []
    if not nodes:
        return [ValidationIssue(filename, scope_id, "empty-process", "contains no flow elements", _line(scope))]
    successors: dict[str, set[str]] = defaultdict(set)
    for flow in scope.iterfind("bpmn:sequenceFlow", NS):
        src, dst = flow.get("sourceRef"), flow.get("targetRef")
        if src in nodes and dst in nodes:
            successors[src].add(dst)
    for node_id, el in nodes.items():
        if local(el) == "boundaryEvent" and el.get("attachedToRef") in nodes:
            successors[el.get("attachedToRef")].add(node_id)
    for src, dst in _link_jumps(scope, nodes):
        successors[src].add(dst)
    ends = [i for i, el in nodes.items() if local(el) == "endEvent"]
    if not ends:
        return [ValidationIssue(filename, scope_id, "no-end-event",
                                "has no end event: every flow needs an end", _line(scope))]
    predecessors: dict[str, set[str]] = defaultdict(set)
    for src, dsts in successors.items():
        for dst in dsts:
            predecessors[dst].add(src)
    reaches_end = set(ends)
    queue = deque(ends)
    while queue:
        for prev in predecessors[queue.popleft()]:
            if prev not in reaches_end:
                reaches_end.add(prev)
                queue.append(prev)
    issues = []
    for node_id, el in nodes.items():
        if node_id in reaches_end or _is_compensation(el):
            continue
        if not successors[node_id]:
            rule, text = "dead-end", f"{local(el)} '{el.get('name') or node_id}' has no outgoing sequence flow"
        else:
            rule, text = "no-path-to-end", f"{local(el)} '{el.get('name') or node_id}' can never reach an end event"
        issues.append(ValidationIssue(filename, node_id, rule, text, _line(el)))
    return issues


def _link_jumps(scope: etree._Element, nodes: dict[str, etree._Element]) -> list[tuple[str, str]]:
    """A link throw event continues at its catch event (the pairs the rewrite for the library makes, so the
    check and the run agree: an ambiguous or unpaired throw stays a dead end)."""
    return [(throw.get("id"), catch.get("id")) for throw, catch in link_pairs(scope)
            if throw.get("id") in nodes and catch.get("id") in nodes]


def _is_compensation(el: etree._Element) -> bool:
    if el.get("isForCompensation", "false").lower() == "true":
        return True
    return local(el) == "boundaryEvent" and el.find("bpmn:compensateEventDefinition", NS) is not None


def _line(el: etree._Element) -> int | None:
    return el.sourceline if isinstance(el.sourceline, int) else None


def element_line(tree: etree._ElementTree, element_id: str) -> int | None:
    """The source line of the element with this id, for messages (SpiffWorkflow never sets one)."""
    if not element_id:
        return None
    found = tree.getroot().xpath("//*[@id=$i]", i=element_id)
    return _line(found[0]) if found else None
