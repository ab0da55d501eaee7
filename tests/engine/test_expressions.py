"""Every expression a diagram carries is compiled under the sandbox at deploy (issue 10, item 6): what would
be refused when the step runs is refused at deploy instead, naming the element and the rule; nothing stored.
Every rule a refusal can name has a text in Chinese and English, which the command line prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.errors import BpmnValidationError, NotFound
from engine.repository.rules import RULES, rule_text
from eoms.cli import main

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/'
        'MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">')
LANE = ('<bpmn:laneSet id="ls"><bpmn:lane id="l" name="dispatcher"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>'
        '<bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')


def diagram(task: str, before: str = "", extra: str = "") -> bytes:
    """A process start -> t -> e where ``task`` is the element t; ``before`` goes ahead of the process."""
    return (f'{HEAD}{before}<bpmn:process id="exprs" isExecutable="true">{LANE}<bpmn:startEvent id="s"/>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>{task}'
            f'<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>{extra}'
            f'</bpmn:process></bpmn:definitions>').encode()


BAD = "open('/etc/passwd').read()"
CASES = {
    "conditional-catch": (f'<bpmn:intermediateCatchEvent id="t"><bpmn:conditionalEventDefinition id="c">'
                          f'<bpmn:condition>{BAD}</bpmn:condition></bpmn:conditionalEventDefinition>'
                          f'</bpmn:intermediateCatchEvent>', "condition-invalid", "conditional event"),
    "loop-condition": (f'<bpmn:userTask id="t"><bpmn:standardLoopCharacteristics id="lc"><bpmn:loopCondition>'
                       f'{BAD}</bpmn:loopCondition></bpmn:standardLoopCharacteristics></bpmn:userTask>',
                       "expression-invalid", "loopCondition"),
    "loop-cardinality": ('<bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics id="mi"><bpmn:loopCardinality>'
                         '__import__("os").getpid()</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
                         '</bpmn:userTask>', "expression-invalid", "loopCardinality"),
    "completion-condition": (f'<bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics id="mi">'
                             f'<bpmn:loopCardinality>3</bpmn:loopCardinality><bpmn:completionCondition>{BAD}</bpmn:completionCondition>'
                             f'</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>', "expression-invalid",
                             "completionCondition"),
    "transformation": (f'<bpmn:userTask id="t"><bpmn:ioSpecification id="io"><bpmn:dataInput id="x"/>'
                       f'<bpmn:inputSet id="is"><bpmn:dataInputRefs>x</bpmn:dataInputRefs></bpmn:inputSet>'
                       f'<bpmn:outputSet id="os"/></bpmn:ioSpecification><bpmn:dataInputAssociation id="a">'
                       f'<bpmn:targetRef>x</bpmn:targetRef><bpmn:transformation>{BAD}</bpmn:transformation>'
                       f'</bpmn:dataInputAssociation></bpmn:userTask>', "expression-invalid", "transformation"),
    "assignment": (f'<bpmn:userTask id="t"><bpmn:ioSpecification id="io"><bpmn:dataInput id="x"/>'
                   f'<bpmn:inputSet id="is"><bpmn:dataInputRefs>x</bpmn:dataInputRefs></bpmn:inputSet>'
                   f'<bpmn:outputSet id="os"/></bpmn:ioSpecification><bpmn:dataInputAssociation id="a">'
                   f'<bpmn:targetRef>x</bpmn:targetRef><bpmn:assignment id="as"><bpmn:from>{BAD}</bpmn:from>'
                   f'<bpmn:to>x</bpmn:to></bpmn:assignment></bpmn:dataInputAssociation></bpmn:userTask>',
                   "expression-invalid", "assignment"),
    "message-payload": (f'<bpmn:intermediateThrowEvent id="t"><bpmn:messageEventDefinition id="m" messageRef="msg">'
                        f'<bpmn:extensionElements><spiffworkflow:messagePayload>{BAD}</spiffworkflow:messagePayload>'
                        f'</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateThrowEvent>',
                        "expression-invalid", "messagePayload"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_expression_the_sandbox_would_stop_is_refused_at_deploy(pe, db, deploy, case):
    task, rule, label = CASES[case]
    before = '<bpmn:message id="msg" name="quote"/>' if case == "message-payload" else ""
    with pytest.raises(BpmnValidationError) as caught:
        deploy("exprs.bpmn", diagram(task, before))
    found = [(i.element_id, i.rule) for i in caught.value.issues]
    assert found == [("t", rule)], caught.value.issues
    assert caught.value.issues[0].message.startswith(label) or label in caught.value.issues[0].message
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "exprs")


def test_a_correlation_retrieval_expression_is_compiled_too(pe, db, deploy):
    before = ('<bpmn:message id="msg" name="quote"/><bpmn:correlationProperty id="cp_order" name="order">'
              '<bpmn:correlationPropertyRetrievalExpression messageRef="msg"><bpmn:messagePath>'
              f'{BAD}</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>')
    task = ('<bpmn:intermediateCatchEvent id="t"><bpmn:messageEventDefinition id="m" messageRef="msg"/>'
            '</bpmn:intermediateCatchEvent>')
    with pytest.raises(BpmnValidationError) as caught:
        deploy("exprs.bpmn", diagram(task, before))
    assert [(i.element_id, i.rule) for i in caught.value.issues] == [("cp_order", "expression-invalid")]


def test_the_same_expressions_written_safely_deploy(pe, db, deploy):
    task = ('<bpmn:userTask id="t"><bpmn:multiInstanceLoopCharacteristics id="mi"><bpmn:loopCardinality>2'
            '</bpmn:loopCardinality><bpmn:completionCondition>len(str(nrOfCompletedInstances)) &gt; 5'
            '</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>')
    (result,) = deploy("exprs.bpmn", diagram(task))
    assert result.key == "exprs"


def test_every_rule_the_engine_can_name_has_a_text_in_both_languages():
    folder = Path(__file__).resolve().parents[2]
    source = "".join(p.read_text(encoding="utf-8") for sub in ("engine", "eoms", "webapp")
                     for p in (folder / sub).rglob("*.py"))
    named = set(re.findall(r'ValidationIssue\([^()]*?, "([a-z]+(?:-[a-z]+)+)"', source))
    named |= set(re.findall(r'add\(\w+, "([a-z]+(?:-[a-z]+)+)"', source))
    named |= set(re.findall(r'rule(?:, text)? = "([a-z]+(?:-[a-z]+)+)"', source))
    named |= set(re.findall(r'_error\(filename, "([a-z]+(?:-[a-z]+)+)"', source))
    named |= set(re.findall(r'\("\.//[^"]*", "([a-z]+(?:-[a-z]+)+)"', source))  # expression paths
    assert {"unknown-handler", "dead-end", "xml-malformed", "expression-invalid"} <= named  # the scan works
    assert named - set(RULES) == set()
    for rule, (chinese, english) in RULES.items():
        assert re.search(r"[\u4e00-\u9fff]", chinese) and english.isascii() and english[0].isupper(), rule
    assert rule_text("dead-end", "en").startswith("A node") and rule_text("no-such-rule") == "no-such-rule"


def test_the_command_line_names_file_element_and_rule_in_both_languages(db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EOMS_DATABASE_URL", db.url)
    path = tmp_path / "broken.bpmn"
    path.write_bytes(diagram(CASES["loop-cardinality"][0]))
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(path)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "broken.bpmn:" in err and "[t] expression-invalid" in err
    assert RULES["expression-invalid"][0] in err and RULES["expression-invalid"][1] in err
