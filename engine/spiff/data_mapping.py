"""Data inputs and outputs of activities and events, mapped the way BPMN 2.0.2 §10.4 says.

SpiffWorkflow 3.2 reads a task's ``ioSpecification`` but not its data associations' targets: a
``dataInputAssociation`` from a data object to a data input fails with "Missing data input" unless both have
the same id, and a task with an ``ioSpecification`` replaces the whole token's data with its inputs, then with
its outputs, so every other variable of the work order is gone for the steps after it. A catch event's
``dataOutput`` (the message or signal payload) is dropped, and a throw event's ``dataInput`` is never sent.

Our layer replaces the task's ``ioSpecification`` by two mapping objects that SpiffWorkflow calls through its
own data-association hooks:

- :class:`InputMapping` (last of the input associations, after the library copied the data objects in) puts
  each data input into the task's data under the input's id: from the association's source (a data object or a
  variable), its ``transformation`` or its ``assignment``; an input nobody feeds is read from the variable of
  the same id, as SpiffWorkflow does; a missing one fails the step with "Missing data input".
- :class:`OutputMapping` (first of the output associations) takes each data output when the task completes
  (missing: "Missing data output"), removes the inputs again (what they shadowed comes back) and writes each
  output to its association's target (a data object, then stored by the library) or leaves it as a variable.

The rest of the data flows on untouched. A catch event's ``dataOutput`` receives the event's payload and a throw
event's ``dataInput`` fed from a data object becomes its payload (through the spiff event definitions'
variable and expression).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.serializer.helpers.spec import BpmnDataSpecificationConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.data_spec import BpmnDataSpecification

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
STASH = "eoms_shadowed_inputs"


class InputMapping(BpmnDataSpecification):
    """Feeds a task's data inputs when it becomes ready (see the module docstring)."""

    def __init__(self, bpmn_id: str, bpmn_name: str | None = None, rules: list[dict[str, Any]] | None = None):
        super().__init__(bpmn_id, bpmn_name)
        self.rules = rules or []

    def get(self, my_task: Any) -> None:
        values = {}
        for rule in self.rules:
            values[rule["id"]] = _value(my_task, rule, "Missing data input")
        shadowed = {key: my_task.data[key] for key in values if key in my_task.data}
        my_task.internal_data[STASH] = {"keys": list(values), "shadowed": shadowed}
        my_task.data.update(values)


class OutputMapping(BpmnDataSpecification):
    """Takes a task's data outputs when it completes and writes them to their targets."""

    def __init__(self, bpmn_id: str, bpmn_name: str | None = None, rules: list[dict[str, Any]] | None = None):
        super().__init__(bpmn_id, bpmn_name)
        self.rules = rules or []

    def set(self, my_task: Any) -> None:
        outputs = [(rule, _value(my_task, rule, "Missing data output")) for rule in self.rules]
        stash = my_task.internal_data.pop(STASH, None) or {"keys": [], "shadowed": {}}
        for key in stash["keys"]:
            my_task.data.pop(key, None)
        my_task.data.update(stash["shadowed"])
        for rule, value in outputs:
            if rule.get("target"):
                my_task.data.pop(rule["id"], None)
                my_task.data[rule["target"]] = value
            else:
                my_task.data[rule["id"]] = value

    def get(self, my_task: Any) -> None:  # listed among output associations only; nothing to read
        return None


def _value(my_task: Any, rule: dict[str, Any], missing: str) -> Any:
    if rule.get("expression"):
        return my_task.workflow.script_engine.evaluate(my_task, rule["expression"])
    source = rule.get("source") or rule["id"]
    if source not in my_task.data:
        raise WorkflowDataException(f"{missing} '{rule['id']}' (from '{source}')", task=my_task)
    return deepcopy(my_task.data[source])


class MappingConverter(BpmnDataSpecificationConverter):
    """Stores the mapping rules with the spec."""

    def to_dict(self, data_spec: Any) -> dict[str, Any]:
        return {**super().to_dict(data_spec), "rules": data_spec.rules}


SERIALIZER_CONFIG = {InputMapping: MappingConverter, OutputMapping: MappingConverter}


def attach(tree: etree._ElementTree, procs: list[BpmnProcessSpec]) -> None:
    """Replace SpiffWorkflow's handling of every ``ioSpecification`` and event data in ``procs`` by ours."""
    root = tree.getroot()
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for proc in procs:
        for task_spec in proc.task_specs.values():
            element = by_id.get(getattr(task_spec, "bpmn_id", None) or "")
            if element is None:
                continue
            if getattr(task_spec, "io_specification", None) is not None:
                _attach_io(task_spec, element, root)
            definition = getattr(task_spec, "event_definition", None)
            if definition is not None:
                _attach_event_data(task_spec, definition, element, root)


def _attach_io(task_spec: Any, element: etree._Element, root: etree._Element) -> None:
    io = task_spec.io_specification
    inputs = {ref.bpmn_id for ref in io.data_inputs}
    outputs = {ref.bpmn_id for ref in io.data_outputs}
    in_rules = {key: {"id": key} for key in sorted(inputs)}
    out_rules = {key: {"id": key} for key in sorted(outputs)}
    for assoc in element.iterfind("bpmn:dataInputAssociation", NS):
        target = _text(assoc.find("bpmn:targetRef", NS))
        sources = [_text(s) for s in assoc.iterfind("bpmn:sourceRef", NS)]
        _fill(in_rules, target, assoc, _variable(root, sources[0]) if len(sources) == 1 else None)
    for assoc in element.iterfind("bpmn:dataOutputAssociation", NS):
        source = _text(assoc.find("bpmn:sourceRef", NS))
        target = _text(assoc.find("bpmn:targetRef", NS))
        if source in out_rules and target:
            out_rules[source]["target"] = _variable(root, target)
        transformation = _text(assoc.find("bpmn:transformation", NS))
        if source in out_rules and transformation:
            out_rules[source]["expression"] = transformation
    task_spec.io_specification = None
    task_spec.data_input_associations = [*task_spec.data_input_associations,
                                         InputMapping(f"{task_spec.bpmn_id}:inputs", rules=list(in_rules.values()))]
    task_spec.data_output_associations = [OutputMapping(f"{task_spec.bpmn_id}:outputs",
                                                        rules=list(out_rules.values())),
                                          *task_spec.data_output_associations]


def _fill(rules: dict[str, dict[str, Any]], target: str, assoc: etree._Element, source: str | None) -> None:
    """One data input association: a source, a transformation of the sources, or assignments."""
    if target in rules:
        if source:
            rules[target]["source"] = source
        transformation = _text(assoc.find("bpmn:transformation", NS))
        if transformation:
            rules[target]["expression"] = transformation
    for assignment in assoc.iterfind("bpmn:assignment", NS):
        to = _text(assignment.find("bpmn:to", NS))
        expression = _text(assignment.find("bpmn:from", NS))
        if to in rules and expression:
            rules[to]["expression"] = expression


def _attach_event_data(task_spec: Any, definition: Any, element: etree._Element, root: etree._Element) -> None:
    """A catch event's data output takes the payload; a throw event's data input gives it."""
    output = element.find("bpmn:dataOutput", NS)
    if output is not None and output.get("id"):
        output_id = output.get("id")
        for attr in ("message_var", "variable"):
            if hasattr(definition, attr) and getattr(definition, attr) is None:
                setattr(definition, attr, output_id)
        rule: dict[str, Any] = {"id": output_id}
        for assoc in element.iterfind("bpmn:dataOutputAssociation", NS):
            if _text(assoc.find("bpmn:sourceRef", NS)) == output_id and _text(assoc.find("bpmn:targetRef", NS)):
                rule["target"] = _variable(root, _text(assoc.find("bpmn:targetRef", NS)))
        task_spec.data_output_associations = [OutputMapping(f"{task_spec.bpmn_id}:outputs", rules=[rule]),
                                              *task_spec.data_output_associations]
    data_input = element.find("bpmn:dataInput", NS)
    if data_input is not None and hasattr(definition, "expression") and definition.expression is None:
        for assoc in element.iterfind("bpmn:dataInputAssociation", NS):
            if _text(assoc.find("bpmn:targetRef", NS)) != data_input.get("id"):
                continue
            transformation = _text(assoc.find("bpmn:transformation", NS))
            sources = [_variable(root, _text(s)) for s in assoc.iterfind("bpmn:sourceRef", NS)]
            if transformation:
                definition.expression = transformation
            elif len(sources) == 1 and sources[0].isidentifier():
                definition.expression = sources[0]


def _variable(root: etree._Element, ref: str) -> str:
    """The variable an item-aware reference stands for: a data object reference names its data object."""
    found = root.xpath("//*[@id=$i]", i=ref) if ref else []
    if found and found[0].get("dataObjectRef"):
        return found[0].get("dataObjectRef")
    return ref


def _text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""
