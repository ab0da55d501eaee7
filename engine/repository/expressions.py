"""Every expression and script of a diagram compiled under the sandbox rules at deploy, naming its element.

What the sandbox would refuse when the step runs (an import, ``open``, a dunder attribute, a syntax error) is
refused here instead: scripts, pre- and post-scripts, sequence-flow conditions, conditional events' conditions,
loop and multi-instance expressions, data-association transformations and assignments, message payloads,
correlation retrieval expressions, service parameters and timers.
"""

from __future__ import annotations

import ast
import re

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.errors import ValidationIssue
from engine.repository.graph import FLOW_NODES, NS, local
from engine.spiff.scripting import check_source

_ISO_LIKE = re.compile(r"^(R\d*/)?P[\dTYMWDHS.]+$|^\d{4}-\d{2}-\d{2}")

# (path under a process, rule, label): expressions evaluated for a value
_EXPRESSIONS = (
    (".//bpmn:conditionExpression", "condition-invalid", ""),
    (".//bpmn:conditionalEventDefinition/bpmn:condition", "condition-invalid", "conditional event: "),
    (".//bpmn:loopCondition", "expression-invalid", "loopCondition: "),
    (".//bpmn:loopCardinality", "expression-invalid", "loopCardinality: "),
    (".//bpmn:completionCondition", "expression-invalid", "completionCondition: "),
    (".//bpmn:transformation", "expression-invalid", "transformation: "),
    (".//bpmn:assignment/bpmn:from", "expression-invalid", "assignment: "),
    (".//spiffworkflow:messagePayload", "expression-invalid", "messagePayload: "),
)


def check_expressions(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Compile every script, condition, parameter and timer expression of the executable processes."""
    issues: list[ValidationIssue] = []
    root = tree.getroot()
    executable = [p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable", "false").lower() == "true"]

    def add(el: etree._Element, rule: str, message: str) -> None:
        own = _owner(el, root)
        issues.append(ValidationIssue(filename, own.get("id", ""), rule, message, own.sourceline))

    for el in _each(executable, ".//bpmn:scriptTask/bpmn:script"):
        if (problem := check_source(el.text or "", "exec")) is not None:
            add(el, "script-invalid", problem)
    for tag in ("preScript", "postScript"):
        for el in _each(executable, f".//spiffworkflow:{tag}"):
            if (problem := check_source(el.text or "", "exec")) is not None:
                add(el, "script-invalid", f"{tag}: {problem}")
    for path, rule, label in _EXPRESSIONS:
        for el in _each(executable, path):
            text = (el.text or "").strip()
            if text and (problem := check_source(text, "eval")) is not None:
                add(el, rule, f"{label}{problem}")
    for el in root.iterfind(".//bpmn:correlationPropertyRetrievalExpression/bpmn:messagePath", NS):
        text = (el.text or "").strip()
        if text and (problem := check_source(text, "eval")) is not None:
            prop = el.getparent().getparent()
            issues.append(ValidationIssue(filename, prop.get("id", ""), "expression-invalid",
                                          f"correlation messagePath: {problem}", prop.sourceline))
    for el in _each(executable, ".//spiffworkflow:parameter"):
        value = el.get("value") or ""
        if (problem := check_source(value, "eval")) is not None:
            add(el, "parameter-invalid", f"parameter '{el.get('id')}': {problem}")
    for timer in _each(executable, ".//bpmn:timerEventDefinition"):
        for el in timer:
            if local(el) not in ("timeDuration", "timeDate", "timeCycle"):
                continue
            if (problem := timer_problem(local(el), (el.text or "").strip())) is not None:
                add(el, "bad-timer", problem)
    return issues


def _owner(el: etree._Element, root: etree._Element) -> etree._Element:
    """The flow node or sequence flow an expression belongs to (not its definition's own id)."""
    while el is not None and local(el) not in FLOW_NODES and local(el) not in ("sequenceFlow", "process"):
        el = el.getparent()
    return el if el is not None else root


def _each(scopes: list[etree._Element], path: str) -> list[etree._Element]:
    return [el for scope in scopes for el in scope.iterfind(path, NS)]


def timer_problem(kind: str, expression: str) -> str | None:
    """What is wrong with a timer expression of ``kind`` (timeDuration, timeDate, timeCycle), or None."""
    if not expression:
        return f"{kind} is empty"
    if _ISO_LIKE.match(expression):
        return f"{kind} '{expression}' must be quoted: timer values are expressions, write \"{expression}\""
    if (problem := check_source(expression, "eval")) is not None:
        return problem
    try:
        literal = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        return None  # computed from data at run time
    if not isinstance(literal, str):
        return f"{kind} must evaluate to an ISO-8601 text, not {type(literal).__name__}"
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(literal)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.get_datetime(literal)
    except Exception:
        return f"{kind} '{literal}' is not a valid ISO-8601 value"
    return None
