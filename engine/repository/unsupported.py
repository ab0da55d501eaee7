"""Constructs the engine cannot run as BPMN 2.0.2 defines them: refused at deploy, naming the element, rather
than deployed and run wrongly (docs/BPMN.md, "Known limits")."""

from __future__ import annotations

from lxml import etree

from engine.errors import ValidationIssue
from engine.repository.graph import NS, is_event_subprocess

BPMN = f"{{{NS['bpmn']}}}"
PYTHON_FORMATS = frozenset({"python", "py", "text/python", "text/x-python", "application/x-python",
                            "application/python"})
ACTIVITIES = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "subProcess", "transaction", "callActivity", "adHocSubProcess")


def check_unsupported(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Every element of the executable processes that the engine would run differently from the standard."""
    issues: list[ValidationIssue] = []

    def add(el: etree._Element, rule: str, message: str) -> None:
        issues.append(ValidationIssue(filename, el.get("id", ""), rule, message, el.sourceline))

    for process in tree.getroot().iterfind("bpmn:process", NS):
        if process.get("isExecutable", "false").lower() != "true":
            continue
        for el in process.iter(f"{BPMN}adHocSubProcess"):
            add(el, "unsupported-element", "ad-hoc sub-processes are not supported yet")
        for el in process.iter(f"{BPMN}scriptTask"):
            if el.find("bpmn:script", NS) is None:
                add(el, "script-invalid", f"script task '{el.get('name') or el.get('id')}' has no script")
            script_format = (el.get("scriptFormat") or "python").strip().lower()
            if script_format not in PYTHON_FORMATS:
                add(el, "unsupported-element", f"scriptFormat '{el.get('scriptFormat')}' is not supported: "
                                               "scripts are Python, run in the sandbox")
        for el in process.iter(f"{BPMN}dataStoreReference"):
            name = " ".join((el.get("name") or el.get("id") or "").split())
            add(el, "unsupported-element", f"data store '{name}' is not supported: keep the data in the work "
                                           "order (data objects or variables)")
        _event_subprocess_starts(process, add)
        _compensation(process, add)
        _quantities(process, add)
        for transaction in process.iter(f"{BPMN}transaction"):
            _cancel_without_boundary(process, transaction, add)
    return issues


def _event_subprocess_starts(process: etree._Element, add) -> None:  # type: ignore[no-untyped-def]
    for sub in process.iter(f"{BPMN}subProcess"):
        start = sub.find("bpmn:startEvent", NS) if is_event_subprocess(sub) else None
        for kind in ("error", "escalation", "compensate"):
            if start is not None and start.find(f"bpmn:{kind}EventDefinition", NS) is not None:
                add(start, "unsupported-element",
                    f"an event sub-process started by {kind if kind != 'compensate' else 'compensation'} is not "
                    "supported yet; catch it with a boundary event on a sub-process instead")


def _compensation(process: etree._Element, add) -> None:  # type: ignore[no-untyped-def]
    """Compensation handlers never run, so throwing compensation would silently undo nothing."""
    for tag in ("intermediateThrowEvent", "endEvent"):
        for el in process.iter(f"{BPMN}{tag}"):
            if el.find("bpmn:compensateEventDefinition", NS) is not None:
                add(el, "unsupported-element", "compensation is not supported yet: a compensation event would "
                                               "undo nothing; model the undo steps as ordinary tasks")
    for tag in ACTIVITIES:
        for el in process.iter(f"{BPMN}{tag}"):
            if el.get("isForCompensation", "false").lower() == "true":
                add(el, "unsupported-element", "compensation handlers (isForCompensation) are not supported yet; "
                                               "model the undo steps as ordinary tasks")


def _quantities(process: etree._Element, add) -> None:  # type: ignore[no-untyped-def]
    """Tokens are not counted: an activity runs once per arriving token and ends with one."""
    for tag in ACTIVITIES:
        for el in process.iter(f"{BPMN}{tag}"):
            for attr in ("startQuantity", "completionQuantity"):
                value = (el.get(attr) or "1").strip()
                if value.isdigit() and int(value) > 1:
                    add(el, "unsupported-element", f"{attr}={value} is not supported: the engine starts an "
                                                   "activity once per arriving token and ends it with one")


def _cancel_without_boundary(process: etree._Element, transaction: etree._Element, add) -> None:  # type: ignore[no-untyped-def]
    """A cancel end event is caught by a cancel boundary event on its transaction (BPMN 2.0.2 §10.5.3)."""
    tid = transaction.get("id")
    caught = any(b.get("attachedToRef") == tid and b.find("bpmn:cancelEventDefinition", NS) is not None
                 for b in process.iter(f"{BPMN}boundaryEvent"))
    if caught:
        return
    for end in transaction.iter(f"{BPMN}endEvent"):
        if end.find("bpmn:cancelEventDefinition", NS) is not None:
            add(end, "unsupported-element", f"transaction '{transaction.get('name') or tid}' has no cancel "
                                            "boundary event to catch this cancel end event")
