"""Validate a BPMN file for deployment: XML safety, structure, lanes, handlers, properties, scripts, timers."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.spiff.parser import VALIDATOR
from SpiffWorkflow.spiff.specs.defaults import ServiceTask, UserTask

from engine.errors import BpmnValidationError, ValidationIssue
from engine.repository.constraints import check_constraints
from engine.repository.expressions import check_expressions
from engine.repository.graph import FLOW_NODES, NS, check_paths_to_end, element_line, is_event_subprocess, local
from engine.repository.normalize import normalized
from engine.repository.properties import parse_task_properties
from engine.repository.unsupported import check_unsupported
from engine.repository.xmlsafe import load_bpmn_xml
from engine.spiff import data_mapping
from engine.spiff.event_subprocess import mark as mark_event_subprocess
from engine.spiff.parser import EomsBpmnParser
from engine.spiff.scripting import check_source

_SPIFF_MESSAGES = [
    ("Multiple outgoing flows", "multiple-outgoing-flows",
     "an activity has more than one outgoing sequence flow; route them through a gateway"),
    ("without condition", "missing-condition",
     "an outgoing flow of an exclusive gateway has no condition and is not the default flow"),
    ("Exactly one start event", "subprocess-start-event", "a subprocess needs exactly one start event"),
    ("has no implementation", "unsupported-element", "data stores are not supported"),
]
# task-spec names SpiffWorkflow gives its own control tasks; a flow node id equal to one would be mistaken for it
RESERVED_IDS = frozenset({"Start", "End", "Root", "StartEventSplit", "StartEventJoin"})
RESERVED_SUFFIXES = (".EndJoin", ".BoundaryEventSplit", ".BoundaryEventJoin")


@dataclass
class ParsedFile:
    """A BPMN file that passed validation: its XML tree and, per executable process, the parsed specs."""

    filename: str
    tree: etree._ElementTree
    specs: dict[str, tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def parse_and_validate(content: bytes, filename: str, posts: Container[str], handlers: Container[str],
                       forms: Container[str] | None = None,
                       deployed: Callable[[str], bytes | None] | None = None) -> ParsedFile:
    """Parse ``content`` and run every check; raise :class:`BpmnValidationError` listing all problems.

    ``posts`` holds the codes and names of posts that exist, ``handlers`` the registered handler names,
    ``forms`` the form keys that exist (None: not checked). ``deployed(key)`` gives the BPMN of the deployed
    process a call activity names when it is not in this file (the callee is bound at deploy).
    """
    tree = load_bpmn_xml(content, filename)
    rewritten = normalized(tree)  # what the library runs (same ids and lines); scripts from global tasks too
    issues = (check_constraints(tree, filename) + _check_reserved_ids(tree, filename)
              + check_unsupported(tree, filename) + check_paths_to_end(tree, filename)
              + check_expressions(rewritten, filename))
    if any(i.rule == "reserved-id" for i in issues):  # the library would misread the file: say only what is wrong
        raise BpmnValidationError(_unique(issues))
    parsed = ParsedFile(filename, tree)
    parser = EomsBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(rewritten, filename=filename)
        called, missing = _add_called_processes(parser, rewritten, deployed, filename)  # (global tasks inlined)
        if missing:
            raise BpmnValidationError(_unique(issues + missing))
        trees = [tree, *called]
        executable = {p.get("id") for p in tree.getroot().iterfind("bpmn:process", NS)
                      if p.get("isExecutable", "false").lower() == "true"}
        process_ids = [pid for pid in parser.get_process_ids() if pid in executable]  # checked = what runs
        for pid in process_ids:
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
            for own_tree, procs in _by_tree(trees, spec, subprocess_specs):
                _apply_inner_lanes(own_tree, {p.name: p for p in procs if p is not spec})
                _mark_event_subprocesses(own_tree, procs)
                data_mapping.attach(own_tree, procs)
            parsed.specs[pid] = (spec, subprocess_specs)
            parsed.names[pid] = spec.description or pid
    except ValidationException as err:
        spiff_issue = _from_spiff(err, tree, filename)
        if spiff_issue.element_id or not any(i.rule == spiff_issue.rule for i in issues):
            issues.append(spiff_issue)  # (the library's words without an element add nothing to ours)
        raise BpmnValidationError(issues) from None
    if not process_ids:
        issues.append(ValidationIssue(filename, "", "no-executable-process",
                                      'the file has no process with isExecutable="true"'))
    for spec, subprocess_specs in parsed.specs.values():
        for proc in [spec, *subprocess_specs.values()]:
            issues.extend(_check_task_specs(proc, tree, filename, posts, handlers, forms))
    if issues:
        raise BpmnValidationError(_unique(issues))
    return parsed


def _add_called_processes(parser: EomsBpmnParser, tree: etree._ElementTree,
                          deployed: Callable[[str], bytes | None] | None, filename: str
                          ) -> tuple[list[etree._ElementTree], list[ValidationIssue]]:
    """Give the parser the deployed processes this file's call activities name but do not contain (and, in
    turn, the ones those call); the call activities whose process is nowhere are the issues."""
    if deployed is None:
        return [], []
    known = {p.get("id") for p in tree.getroot().iterfind("bpmn:process", NS)}
    added: list[etree._ElementTree] = []
    missing: list[ValidationIssue] = []
    pending = [tree]
    while pending:
        current = pending.pop()
        for call in current.getroot().iter(f"{{{NS['bpmn']}}}callActivity"):
            key = (call.get("calledElement") or "").strip()
            content = deployed(key) if key and key not in known else None
            if content is None:
                if key and key not in known and current is tree:
                    missing.append(ValidationIssue(
                        filename, call.get("id", ""), "unknown-called-process",
                        f"call activity '{call.get('name') or call.get('id')}' calls process '{key}', which is "
                        "neither in this file nor deployed", call.sourceline))
                continue
            other = normalized(load_bpmn_xml(content, f"{key}.bpmn"))
            parser.add_bpmn_xml(other, filename=f"{key}.bpmn (deployed)")
            known |= {p.get("id") for p in other.getroot().iterfind("bpmn:process", NS)}
            added.append(other)
            pending.append(other)
    return added, missing


def _by_tree(trees: list[etree._ElementTree], spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]
             ) -> list[tuple[etree._ElementTree, list[BpmnProcessSpec]]]:
    """The process specs grouped by the file (tree) whose elements they were parsed from."""
    groups: dict[int, list[BpmnProcessSpec]] = {}
    for proc in [spec, *subprocess_specs.values()]:
        index = next((i for i, t in enumerate(trees) if t.getroot().xpath("//*[@id=$i]", i=proc.name)), 0)
        groups.setdefault(index, []).append(proc)
    return [(trees[i], procs) for i, procs in groups.items()]


def _apply_inner_lanes(tree: etree._ElementTree, subprocess_specs: dict[str, BpmnProcessSpec]) -> None:
    """Give tasks inside an embedded subprocess the lanes its own laneSet declares (SpiffWorkflow gives them
    all the lane of the subprocess node, so a review inside a per-unit branch would go to the wrong post)."""
    for name, sub_spec in subprocess_specs.items():
        found = tree.getroot().xpath("//*[@id=$i]", i=name)
        if not found:
            continue
        lanes = {ref.text.strip(): lane.get("name") for lane in found[0].iterfind("bpmn:laneSet/bpmn:lane", NS)
                 for ref in lane.iterfind("bpmn:flowNodeRef", NS) if ref.text}
        for task_spec in sub_spec.task_specs.values():
            lane = lanes.get(getattr(task_spec, "bpmn_id", None) or "")
            if lane:
                task_spec.lane = lane


def _check_reserved_ids(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Flow node ids the engine uses for its own control tasks are refused (renaming them is enough)."""
    issues = []
    for el in tree.getroot().iter():
        node_id = el.get("id") if isinstance(el.tag, str) and local(el) in FLOW_NODES else None
        if node_id and (node_id in RESERVED_IDS or node_id.endswith(RESERVED_SUFFIXES)):
            issues.append(ValidationIssue(filename, node_id, "reserved-id",
                                          f"the id '{node_id}' is reserved by the process engine; give "
                                          f"{local(el)} '{el.get('name') or node_id}' another id", el.sourceline))
    return issues


def _mark_event_subprocesses(tree: etree._ElementTree, procs: list[BpmnProcessSpec]) -> None:
    """Tell the engine which sub-processes are event sub-processes and whether their start interrupts
    (SpiffWorkflow parses them as plain sub-processes; see ``engine.spiff.event_subprocess``)."""
    marks: dict[str, bool] = {}
    for el in tree.getroot().iter(f"{{{NS['bpmn']}}}subProcess"):
        if is_event_subprocess(el) and el.get("id"):
            start = el.find("bpmn:startEvent", NS)
            marks[el.get("id")] = start is None or start.get("isInterrupting", "true").lower() != "false"
    for proc in procs:
        for task_spec in proc.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) in marks:
                mark_event_subprocess(task_spec, interrupting=marks[task_spec.bpmn_id])


def _from_spiff(err: ValidationException, tree: etree._ElementTree, filename: str) -> ValidationIssue:
    text = str(err).strip()
    rule, message = "bpmn-structure", text.rstrip(". ")
    for needle, known_rule, known_message in _SPIFF_MESSAGES:
        if needle in text:
            rule, message = known_rule, known_message
            break
    element_id = getattr(err, "id", "") or ""
    line = element_line(tree, element_id)
    if line is None and getattr(err, "line_number", None):
        line = int(err.line_number)
    if rule == "bpmn-structure" and not element_id and "XML" in text:
        rule = "bpmn-schema"
    return ValidationIssue(filename, element_id, rule, message, line)


def _check_task_specs(proc: BpmnProcessSpec, tree: etree._ElementTree, filename: str,
                      posts: Container[str], handlers: Container[str],
                      forms: Container[str] | None) -> list[ValidationIssue]:
    issues = []
    for task_spec in proc.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        line = element_line(tree, bpmn_id)
        if isinstance(task_spec, StartEvent) and forms is not None:
            form_key = getattr(task_spec, "extensions", {}).get("properties", {}).get("formKey")
            if form_key and form_key not in forms:
                issues.append(ValidationIssue(filename, bpmn_id, "unknown-form",
                                              f"formKey '{form_key}' is not a deployed form", line))
        if isinstance(task_spec, UserTask) or getattr(task_spec, "manual", False):  # manual and plain tasks too
            lane = task_spec.lane
            if not lane:
                issues.append(ValidationIssue(filename, bpmn_id, "user-task-without-lane",
                                              "a task people do must sit in a lane that names a post", line))
            elif lane not in posts:
                issues.append(ValidationIssue(filename, bpmn_id, "lane-unknown-post",
                                              f"lane '{lane}' is not the code or name of a post", line))
        if isinstance(task_spec, UserTask):
            props = task_spec.extensions.get("properties", {})
            parsed_props, problems = parse_task_properties(props)
            for prop, problem in problems:
                rule = "bad-time-limit" if prop in ("timeLimit", "warnBefore", "warnPercent") else "bad-property"
                issues.append(ValidationIssue(filename, bpmn_id, rule, f"{prop}: {problem}", line))
            if parsed_props.time_limit_expr and (error := check_source(parsed_props.time_limit_expr, "eval")):
                issues.append(ValidationIssue(filename, bpmn_id, "bad-time-limit", f"timeLimit: {error}", line))
            if parsed_props.calendar_expr and (error := check_source(parsed_props.calendar_expr, "eval")):
                issues.append(ValidationIssue(filename, bpmn_id, "bad-property", f"calendar: {error}", line))
            if parsed_props.form_key and forms is not None and parsed_props.form_key not in forms:
                issues.append(ValidationIssue(filename, bpmn_id, "unknown-form",
                                              f"formKey '{parsed_props.form_key}' is not a deployed form", line))
        if isinstance(task_spec, ServiceTask) and task_spec.operation_name not in handlers:
            issues.append(ValidationIssue(filename, bpmn_id, "unknown-handler",
                                          f"no handler named '{task_spec.operation_name}' is registered", line))
    return issues


def _unique(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    seen, result = set(), []
    for issue in issues:
        key = (issue.element_id, issue.rule, issue.message)
        if key not in seen:
            seen.add(key)
            result.append(issue)
    return result
