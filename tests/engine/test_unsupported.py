"""Constructs the engine would run differently from BPMN 2.0.2 are refused at deploy, naming the element and
the rule, with nothing stored (issue 10: "run exactly as BPMN defines it, or be refused")."""

from __future__ import annotations

import pytest

from engine.errors import BpmnValidationError, NotFound
from tests.engine.test_expressions import diagram

TASK = '<bpmn:userTask id="t" name="Work"/>'
CASES = {
    "script-format": ('<bpmn:scriptTask id="t" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script>'
                      '</bpmn:scriptTask>', "", "t", "scriptFormat 'groovy'"),
    "start-quantity": ('<bpmn:userTask id="t" startQuantity="2"/>', "", "t", "startQuantity=2"),
    "completion-quantity": ('<bpmn:userTask id="t" completionQuantity="3"/>', "", "t", "completionQuantity=3"),
    "compensation-throw": ('<bpmn:intermediateThrowEvent id="t"><bpmn:compensateEventDefinition id="c"/>'
                           '</bpmn:intermediateThrowEvent>', "", "t", "compensation is not supported"),
    "compensation-end": (TASK, '<bpmn:endEvent id="undo_end"><bpmn:compensateEventDefinition id="c"/></bpmn:endEvent>'
                         '<bpmn:sequenceFlow id="fx" sourceRef="s2" targetRef="undo_end"/>'
                         '<bpmn:startEvent id="s2"/>', "undo_end", "compensation is not supported"),
    "compensation-handler": (TASK, '<bpmn:userTask id="undo" isForCompensation="true"/>', "undo",
                             "isForCompensation"),
    "cancel-without-boundary": ('<bpmn:transaction id="t" name="Book"><bpmn:startEvent id="ts"/>'
                                '<bpmn:sequenceFlow id="t1" sourceRef="ts" targetRef="tc"/>'
                                '<bpmn:endEvent id="tc"><bpmn:cancelEventDefinition id="cd"/></bpmn:endEvent>'
                                '</bpmn:transaction>', "", "tc", "no cancel boundary event"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_construct_that_would_run_wrongly_is_refused_naming_it(pe, db, deploy, case):
    task, extra, element, fragment = CASES[case]
    with pytest.raises(BpmnValidationError) as caught:
        deploy("unsupported.bpmn", diagram(task, extra=extra))
    found = [i for i in caught.value.issues if i.rule == "unsupported-element"]
    assert [i.element_id for i in found] == [element], caught.value.issues
    assert fragment in found[0].message and found[0].line
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "exprs")


@pytest.mark.parametrize("task", [
    '<bpmn:scriptTask id="t" scriptFormat="text/x-python"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
    '<bpmn:userTask id="t" startQuantity="1" completionQuantity="1"/>',
])
def test_the_supported_forms_of_the_same_attributes_deploy(pe, db, deploy, task):
    (result,) = deploy("supported.bpmn", diagram(task))
    assert result.key == "exprs"


def test_a_data_store_is_refused_naming_its_reference(pe, db, deploy):
    task = ('<bpmn:userTask id="t"><bpmn:dataOutputAssociation id="o"><bpmn:targetRef>ds_ref</bpmn:targetRef>'
            '</bpmn:dataOutputAssociation></bpmn:userTask>')
    content = diagram(task, '<bpmn:dataStore id="ds" name="Inventory"/>',
                      '<bpmn:dataStoreReference id="ds_ref" dataStoreRef="ds" name="Inventory"/>')
    with pytest.raises(BpmnValidationError) as caught:
        deploy("store.bpmn", content)
    assert [(i.element_id, i.rule) for i in caught.value.issues] == [("ds_ref", "unsupported-element")]
    assert "data store 'Inventory'" in caught.value.issues[0].message
