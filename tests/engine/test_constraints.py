"""The static constraints of BPMN 2.0.2 checked at deploy (engine/repository/constraints.py): one broken
diagram per rule, the refusal through the engine, no false alarm on the MIWG reference models, on the business
flows or on the engine's own test diagrams, and no traceback on odd documents."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.errors import BpmnValidationError, NotFound, ValidationIssue
from engine.repository import constraints
from engine.repository.constraints import MAX_ISSUES, RULES, check_constraints
from engine.repository.models import ProcessDefinition
from engine.repository.xmlsafe import load_bpmn_xml
from tests.conftest import BPMN_DIR, PROCESSES_DIR

CONSTRAINTS_DIR = BPMN_DIR / "constraints"
MIWG_DIR = Path("/work/shared/bpmn-samples/miwg")
CBASE = (CONSTRAINTS_DIR / "base.bpmn").read_text(encoding="utf-8")
VBASE = (BPMN_DIR / "validation" / "base.bpmn").read_text(encoding="utf-8")
# refused by the XML loader before any constraint runs
_NOT_BPMN = {"billion_laughs.bpmn", "malformed.bpmn", "xxe.bpmn"}


def changed(*replacements: tuple[str, str], base: str = CBASE) -> str:
    """``base`` with each ``(old, new)`` applied; every ``old`` must occur exactly once."""
    text = base
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def issues_of(text: str | bytes, filename: str = "case.bpmn") -> list[ValidationIssue]:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return check_constraints(load_bpmn_xml(content, filename), filename)


def cond(flow: str, source: str, target: str) -> tuple[str, str]:
    """Give the flow ``flow`` of the constraints base a condition."""
    old = f'<bpmn:sequenceFlow id="{flow}" sourceRef="{source}" targetRef="{target}"/>'
    return old, old[:-2] + "><bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>"


def trigger(event_open: str, definition: str) -> tuple[str, str]:
    """Turn an empty event element ``<bpmn:x id=".."/>`` into one with ``definition`` inside."""
    tag = event_open.split()[0][1:]
    return event_open, event_open[:-2] + f">{definition}</{tag}>"


PREP_TIMER = ('<bpmn:timerEventDefinition id="prep_timer"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
              "</bpmn:timerEventDefinition>")
TIMER_CATCH = ('<bpmn:timerEventDefinition id="timer_catch_def"><bpmn:timeDuration>"P3D"</bpmn:timeDuration>'
               "</bpmn:timerEventDefinition>")
ESCALATE = '<bpmn:escalationEventDefinition id="escalate_def" escalationRef="esc_late"/>'
ES_START = '<bpmn:messageEventDefinition id="es_start_def" messageRef="msg_cancel"/>'
F9 = '<bpmn:sequenceFlow id="f9" sourceRef="evgw" targetRef="timer_catch"/>'
F16 = '<bpmn:sequenceFlow id="f16" sourceRef="tell" targetRef="end2"/>'
START = '<bpmn:startEvent id="start" name="Order in"/>'
END2 = '<bpmn:endEvent id="end2" name="Told"/>'
RECEIVE = (F9, F9 + '<bpmn:sequenceFlow id="f9r" sourceRef="evgw" targetRef="rcv"/>'
           '<bpmn:receiveTask id="rcv" name="Wait for cancel" messageRef="msg_cancel"/>'
           '<bpmn:sequenceFlow id="f9r2" sourceRef="rcv" targetRef="merge"/>')
AD_HOC = (('<bpmn:subProcess id="work" name="Work">', '<bpmn:adHocSubProcess id="work" name="Work">'),
          ('</bpmn:subProcess>\n    <bpmn:boundaryEvent id="work_error"',
           '</bpmn:adHocSubProcess>\n    <bpmn:boundaryEvent id="work_error"'))


def case(name: str, rule: str, element_id: str, *replacements: tuple[str, str], base: str = CBASE) -> Any:
    """A diagram breaking ``rule`` at ``element_id``: ``base`` with the replacements applied."""
    return pytest.param(rule, element_id, replacements, base, id=name)


CASES = [
    # ids and references (the whole file)
    case("duplicate-id", "duplicate-id", "prepare",
         ("</bpmn:process>", '<bpmn:textAnnotation id="prepare"/></bpmn:process>')),
    case("ref-flow-target", "missing-reference", "f16", (F16, F16.replace("end2", "nowhere"))),
    case("ref-default", "missing-reference", "decide", ('default="f15"', 'default="f99"')),
    case("ref-attached-to", "missing-reference", "prep_timeout", ('attachedToRef="prepare"', 'attachedToRef="gone"')),
    case("ref-message", "missing-reference", "msg_catch", ('id="msg_catch_def" messageRef="msg_reply"',
                                                          'id="msg_catch_def" messageRef="msg_gone"')),
    case("ref-not-a-definition", "event-definition-ref-not-definition", "msg_catch",
         ('<bpmn:messageEventDefinition id="msg_catch_def" messageRef="msg_reply"/>',
          "<bpmn:eventDefinitionRef>msg_reply</bpmn:eventDefinitionRef>")),
    case("ref-error", "missing-reference", "work_error", ('errorRef="err_work"', 'errorRef="err_other"')),
    case("ref-escalation", "missing-reference", "escalate", ('escalationRef="esc_late"', 'escalationRef="esc_x"')),
    case("ref-signal", "missing-reference", "end", ('signalRef="sig_stop"', 'signalRef="sig_go"')),
    case("ref-message-flow", "missing-reference", "mf_tell", ('targetRef="pool_customer"', 'targetRef="pool_x"')),
    case("ref-lane-node", "missing-reference", "lane_dispatch",
         ("<bpmn:flowNodeRef>calc</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>calk</bpmn:flowNodeRef>"), base=VBASE),
    case("choreography", "choreography-not-supported", "chor",
         ("</bpmn:definitions>", '<bpmn:choreography id="chor"><bpmn:choreographyTask id="chor_task" '
                                 'initiatingParticipantRef="pool_eoms"/></bpmn:choreography></bpmn:definitions>')),
    # sequence flows
    case("flow-to-message", "flow-endpoint-not-flow-node", "f16", (F16, F16.replace("end2", "msg_reply"))),
    case("flow-into-subprocess", "flow-crosses-boundary", "f3", ('sourceRef="fork" targetRef="work"',
                                                                'sourceRef="fork" targetRef="sub_task"')),
    case("flow-into-other-pool", "flow-crosses-boundary", "f16", (F16, F16.replace("end2", "elsewhere")),
         ("</bpmn:definitions>", '<bpmn:process id="other"><bpmn:task id="elsewhere"/></bpmn:process>'
                                 "</bpmn:definitions>")),
    case("into-start", "start-event-incoming", "start", (F16, F16.replace("end2", "start"))),
    case("out-of-end", "end-event-outgoing", "end2",
         (END2, END2 + '<bpmn:sequenceFlow id="after" sourceRef="end2" targetRef="check"/>')),
    case("into-boundary", "boundary-event-incoming", "prep_timeout", (F16, F16.replace("end2", "prep_timeout"))),
    case("boundary-two-out", "boundary-event-outgoing", "prep_timeout",
         ('<bpmn:endEvent id="end_timeout" name="Gave up"/>', '<bpmn:endEvent id="end_timeout" name="Gave up"/>'
          '<bpmn:sequenceFlow id="f_timeout2" sourceRef="prep_timeout" targetRef="end_timeout"/>')),
    case("compensation-with-flow", "boundary-event-outgoing", "work_error",
         ('<bpmn:errorEventDefinition id="work_error_def" errorRef="err_work"/>',
          '<bpmn:compensateEventDefinition id="work_comp"/>')),
    case("default-elsewhere", "default-flow-not-outgoing", "decide", ('default="f15"', 'default="f12"')),
    # gateways
    case("pass-through", "gateway-no-split-or-join", "pass",
         ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>',
          '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pass"/><bpmn:exclusiveGateway id="pass" '
          'name="Pass" gatewayDirection="Diverging"/><bpmn:sequenceFlow id="f1b" sourceRef="pass" '
          'targetRef="prepare"/>')),
    case("diverging-declared-converging", "gateway-direction", "fork",
         ('gatewayDirection="Diverging"/>', 'gatewayDirection="Converging"/>')),
    case("converging-declared-mixed", "gateway-direction", "merge",
         ('name="Merge" gatewayDirection="Converging"', 'name="Merge" gatewayDirection="Mixed"')),
    case("event-gateway-one-way", "event-gateway-outgoing", "evgw", (F9, "")),
    case("event-gateway-to-link", "event-gateway-target", "timer_catch",
         (TIMER_CATCH, '<bpmn:linkEventDefinition id="timer_link" name="l"/>')),
    case("event-gateway-to-task", "event-gateway-target", "check",
         ('sourceRef="evgw" targetRef="timer_catch"', 'sourceRef="evgw" targetRef="check"')),
    case("event-gateway-receive-with-boundary", "event-gateway-target", "rcv", RECEIVE,
         ('<bpmn:exclusiveGateway id="merge"', '<bpmn:boundaryEvent id="rcv_timer" attachedToRef="rcv">'
          '<bpmn:timerEventDefinition/></bpmn:boundaryEvent><bpmn:exclusiveGateway id="merge"')),
    case("event-gateway-target-joined", "event-gateway-target-joins", "timer_catch",
         (F16, F16.replace("end2", "timer_catch"))),
    case("event-gateway-mixed", "event-gateway-mixed-targets", "evgw", RECEIVE),
    case("event-gateway-parallel", "event-gateway-parallel", "evgw",
         ('name="Reply or wait"/>', 'name="Reply or wait" eventGatewayType="Parallel"/>')),
    # conditions
    case("condition-after-fork", "condition-on-parallel-gateway-flow", "f3", cond("f3", "fork", "work")),
    case("condition-after-event-gateway", "condition-on-event-gateway-flow", "f8", cond("f8", "evgw", "msg_catch")),
    case("condition-after-start", "condition-on-event-flow", "f1", cond("f1", "start", "prepare")),
    case("condition-after-catch", "condition-on-event-flow", "f10", cond("f10", "msg_catch", "merge")),
    case("condition-after-boundary", "condition-on-event-flow", "f_timeout",
         cond("f_timeout", "prep_timeout", "end_timeout")),
    case("condition-sole-activity-flow", "condition-on-sole-activity-flow", "f2", cond("f2", "prepare", "fork")),
    # boundary events
    case("boundary-on-gateway", "boundary-event-not-on-activity", "prep_timeout",
         ('attachedToRef="prepare"', 'attachedToRef="fork"')),
    case("boundary-on-event", "boundary-event-not-on-activity", "prep_timeout",
         ('attachedToRef="prepare"', 'attachedToRef="msg_catch"')),
    case("boundary-on-inner-task", "boundary-event-scope", "prep_timeout",
         ('attachedToRef="prepare"', 'attachedToRef="sub_task"')),
    case("boundary-none", "boundary-event-trigger", "prep_timeout", (PREP_TIMER, "")),
    case("boundary-link", "boundary-event-trigger", "prep_timeout",
         (PREP_TIMER, '<bpmn:linkEventDefinition name="l"/>')),
    case("boundary-terminate", "boundary-event-trigger", "prep_timeout",
         (PREP_TIMER, "<bpmn:terminateEventDefinition/>")),
    case("cancel-boundary-on-subprocess", "cancel-outside-transaction", "pay_cancel",
         ('<bpmn:transaction id="pay" name="Pay">', '<bpmn:subProcess id="pay" name="Pay">'),
         ("</bpmn:transaction>", "</bpmn:subProcess>")),
    case("cancel-end-outside-transaction", "cancel-outside-transaction", "end_err",
         trigger('<bpmn:endEvent id="end_err" name="Failed"/>', "<bpmn:cancelEventDefinition/>")),
    case("non-interrupting-error-boundary", "non-interrupting-not-allowed", "work_error",
         ('attachedToRef="work"', 'attachedToRef="work" cancelActivity="false"')),
    case("non-interrupting-error-start", "non-interrupting-not-allowed", "es_start",
         (ES_START, '<bpmn:errorEventDefinition errorRef="err_work"/>'),
         ('name="Cancel requested">', 'name="Cancel requested" isInterrupting="false">')),
    # triggers per position
    case("error-start-at-top", "event-definition-not-allowed", "start",
         trigger(START, '<bpmn:errorEventDefinition errorRef="err_work"/>')),
    case("escalation-start-at-top-by-ref", "event-definition-not-allowed", "start",
         trigger(START, "<bpmn:eventDefinitionRef>top_esc</bpmn:eventDefinitionRef>"),
         ("</bpmn:definitions>", '<bpmn:escalationEventDefinition id="top_esc" escalationRef="esc_late"/>'
                                 "</bpmn:definitions>")),
    case("compensation-start-at-top", "event-definition-not-allowed", "start",
         trigger(START, "<bpmn:compensateEventDefinition/>")),
    case("link-start", "event-definition-not-allowed", "start", trigger(START, '<bpmn:linkEventDefinition name="l"/>')),
    case("link-end", "event-definition-not-allowed", "end2", trigger(END2, '<bpmn:linkEventDefinition name="l"/>')),
    case("timer-end", "event-definition-not-allowed", "end2", trigger(END2, "<bpmn:timerEventDefinition/>")),
    case("conditional-end", "event-definition-not-allowed", "end2",
         trigger(END2, "<bpmn:conditionalEventDefinition/>")),
    case("timer-throw", "event-definition-not-allowed", "escalate", (ESCALATE, "<bpmn:timerEventDefinition/>")),
    case("conditional-throw", "event-definition-not-allowed", "escalate",
         (ESCALATE, "<bpmn:conditionalEventDefinition/>")),
    case("terminate-throw", "event-definition-not-allowed", "escalate", (ESCALATE, "<bpmn:terminateEventDefinition/>")),
    case("cancel-throw", "event-definition-not-allowed", "escalate", (ESCALATE, "<bpmn:cancelEventDefinition/>")),
    case("error-catch", "event-definition-not-allowed", "timer_catch",
         (TIMER_CATCH, '<bpmn:errorEventDefinition errorRef="err_work"/>')),
    case("terminate-catch", "event-definition-not-allowed", "timer_catch",
         (TIMER_CATCH, "<bpmn:terminateEventDefinition/>")),
    case("catch-nothing", "catch-event-without-trigger", "idle",
         (F16, F16.replace("end2", "idle") + '<bpmn:intermediateCatchEvent id="idle" name="Idle"/>'
                                             '<bpmn:sequenceFlow id="f16b" sourceRef="idle" targetRef="end2"/>')),
    case("timer-start-in-subprocess", "subprocess-start-trigger", "sub_start",
         trigger('<bpmn:startEvent id="sub_start"/>', "<bpmn:timerEventDefinition/>")),
    # event sub-processes, ad-hoc sub-processes
    case("flow-into-event-subprocess", "event-subprocess-sequence-flow", "on_cancel",
         (F16, F16.replace("end2", "on_cancel"))),
    case("event-subprocess-two-starts", "event-subprocess-start-count", "on_cancel",
         ('<bpmn:sequenceFlow id="esf"', '<bpmn:startEvent id="es_start2"><bpmn:timerEventDefinition/>'
                                         '</bpmn:startEvent><bpmn:sequenceFlow id="esf"')),
    case("event-subprocess-none-start", "event-subprocess-start-trigger", "es_start", (ES_START, "")),
    case("event-subprocess-link-start", "event-subprocess-start-trigger", "es_start",
         (ES_START, '<bpmn:linkEventDefinition name="l"/>')),
    case("ad-hoc-start", "adhoc-subprocess-event", "sub_start", *AD_HOC),
    case("ad-hoc-end", "adhoc-subprocess-event", "sub_end", *AD_HOC),
    # activities
    case("start-quantity-zero", "activity-quantity-invalid", "check", ('startQuantity="1"', 'startQuantity="0"')),
    case("completion-quantity-fraction", "activity-quantity-invalid", "check",
         ('completionQuantity="1"', 'completionQuantity="1.5"')),
    case("loop-maximum-negative", "loop-maximum-invalid", "check", ('loopMaximum="3"', 'loopMaximum="-1"')),
    case("loop-maximum-words", "loop-maximum-invalid", "check", ('loopMaximum="3"', 'loopMaximum="three"')),
    case("loop-cardinality-negative", "loop-cardinality-negative", "sub_task",
         ("<bpmn:loopCardinality>3</bpmn:loopCardinality>", "<bpmn:loopCardinality> -2 </bpmn:loopCardinality>")),
    # message flows
    case("message-flow-to-own-task", "message-flow-same-pool", "mf_tell",
         ('targetRef="pool_customer"', 'targetRef="prepare"')),
    case("message-flow-to-own-pool", "message-flow-same-pool", "mf_tell",
         ('targetRef="pool_customer"', 'targetRef="pool_eoms"')),
]


@pytest.mark.parametrize(("rule", "element_id", "replacements", "base"), CASES)
def test_each_rule_names_the_element(rule: str, element_id: str, replacements: tuple[tuple[str, str], ...],
                                     base: str) -> None:
    text = changed(*replacements, base=base)
    found = [i for i in issues_of(text) if i.rule == rule and i.element_id == element_id]
    assert found, f"no {rule} on [{element_id}] among {[str(i) for i in issues_of(text)]}"
    element = etree.fromstring(text.encode()).xpath("//*[@id=$i]", i=element_id)[-1]  # a duplicate: the later
    label = element.get("name") or element_id
    for issue in found:
        assert issue.file == "case.bpmn" and issue.line == element.sourceline
        assert f"'{label}'" in issue.message, issue.message
        assert issue.message[0].islower() or issue.message.startswith(("event sub-process", "id ")), issue.message


def test_every_rule_has_a_case_and_a_text_in_both_languages() -> None:
    assert {c.values[0] for c in CASES} == set(RULES)
    for rule, (chinese, english) in RULES.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule), rule
        assert re.search(r"[\u4e00-\u9fff]", chinese), rule
        assert english.isascii() and english[0].isupper() and len(english) > 15, rule


def test_no_rule_outside_the_catalogue() -> None:
    folder = Path(constraints.__file__).parent
    source = "".join(p.read_text(encoding="utf-8") for p in folder.glob("constraints*.py"))
    used = set(re.findall(r'model\.add\([^,]+, "([a-z-]+)"', source))
    assert used == set(RULES)


def test_the_bases_break_no_rule() -> None:
    assert issues_of(CBASE) == []
    assert issues_of(VBASE) == []


@pytest.mark.parametrize(
    "replacements",
    [
        # a cancel end event inside a transaction, a non-interrupting timer boundary, an error start in an event
        # sub-process, a message start at the top, a link pair, a compensation boundary without flows
        (trigger('<bpmn:endEvent id="pay_end"/>', "<bpmn:cancelEventDefinition/>"),),
        (('attachedToRef="prepare"', 'attachedToRef="prepare" cancelActivity="false"'),),
        ((ES_START, '<bpmn:errorEventDefinition errorRef="err_work"/>'),),
        (trigger(START, '<bpmn:messageEventDefinition messageRef="msg_reply"/>'),),
        ((F16, F16.replace("end2", "link_out") + '<bpmn:intermediateThrowEvent id="link_out"><bpmn:linkEventDefinition '
                                                 'name="jump"/></bpmn:intermediateThrowEvent><bpmn:intermediateCatchEvent'
                                                 ' id="link_in"><bpmn:linkEventDefinition name="jump"/>'
                                                 '</bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f_link" '
                                                 'sourceRef="link_in" targetRef="end2"/>'),),
        (('<bpmn:errorEventDefinition id="work_error_def" errorRef="err_work"/>', "<bpmn:compensateEventDefinition/>"),
         ('<bpmn:sequenceFlow id="f_err" sourceRef="work_error" targetRef="end_err"/>', "")),
        # references the checks cannot or must not follow: a QName into the file's own namespace, one into an
        # imported file, and a call activity's calledElement (a process deployed from another file)
        (('<bpmn:definitions ', '<bpmn:definitions xmlns:tns="http://eoms.example/bpmn" '),
         ('id="msg_catch_def" messageRef="msg_reply"', 'id="msg_catch_def" messageRef="tns:msg_reply"')),
        (('<bpmn:definitions ', '<bpmn:definitions xmlns:ext="http://other.example/x" '),
         ('<bpmn:collaboration', '<bpmn:import namespace="http://other.example/x" location="x.bpmn" '
                                 'importType="http://www.omg.org/spec/BPMN/20100524/MODEL"/><bpmn:collaboration'),
         ('errorRef="err_work"', 'errorRef="ext:err_shared"')),
        (("<bpmn:task id=\"pay_task\" name=\"Charge\"/>",
          '<bpmn:callActivity id="pay_task" name="Charge" calledElement="billing_elsewhere"/>'),),
        # a gateway of no declared direction with one flow in and one out runs as a pass-through
        (('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>',
          '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pass"/><bpmn:exclusiveGateway id="pass" '
          'name="Pass"/><bpmn:sequenceFlow id="f1b" sourceRef="pass" targetRef="prepare"/>'),),
    ],
    ids=["cancel-end-in-transaction", "non-interrupting-timer", "error-event-subprocess", "message-start",
         "link-pair", "compensation-boundary", "qname-own-namespace", "qname-imported", "called-element",
         "pass-through-gateway"],
)
def test_what_the_specification_allows_is_not_refused(replacements: tuple[tuple[str, str], ...]) -> None:
    assert issues_of(changed(*replacements)) == []


def test_execution_rules_only_for_executable_processes_ids_and_references_everywhere() -> None:
    sleeping = ('isExecutable="true"', 'isExecutable="false"')
    assert issues_of(changed(sleeping, trigger(START, "<bpmn:errorEventDefinition/>"),
                             cond("f3", "fork", "work"), ('loopMaximum="3"', 'loopMaximum="-1"'))) == []
    found = issues_of(changed(sleeping, ("</bpmn:process>", '<bpmn:task id="prepare"/></bpmn:process>'),
                              ('default="f15"', 'default="f99"')))
    assert {(i.rule, i.element_id) for i in found} == {("duplicate-id", "prepare"), ("missing-reference", "decide")}


def test_duplicate_ids_count_diagram_elements_but_not_extension_attributes() -> None:
    shape = ('</bpmn:definitions>', '<bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
             'id="start"/></bpmn:definitions>')
    assert [(i.rule, i.element_id) for i in issues_of(changed(shape))] == [("duplicate-id", "start")]
    # two service tasks naming the same handler: spiffworkflow:serviceTaskOperator ids are not XML ids
    twice = VBASE.replace("</bpmn:process>", '<bpmn:serviceTask id="again"><bpmn:extensionElements>'
                          '<spiffworkflow:serviceTaskOperator id="test.echo"/></bpmn:extensionElements>'
                          "</bpmn:serviceTask></bpmn:process>")
    assert [i.rule for i in issues_of(twice)] == []


def test_choreography_inside_a_process_is_refused_once() -> None:
    found = issues_of(changed(("</bpmn:process>", '<bpmn:subChoreography id="sc"><bpmn:choreographyTask id="ct"/>'
                                                  "</bpmn:subChoreography></bpmn:process>")))
    assert [(i.rule, i.element_id) for i in found] == [("choreography-not-supported", "sc")]


# -- through the engine ------------------------------------------------------------------------------------
def test_deploy_refuses_the_file_naming_rule_and_element_and_stores_nothing(pe, db, deploy):
    flow = '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="triage"/>'
    content = changed((flow, flow[:-2] + "><bpmn:conditionExpression>True</bpmn:conditionExpression>"
                                         "</bpmn:sequenceFlow>"), base=VBASE).encode()
    with pytest.raises(BpmnValidationError) as info:
        deploy("vbase.bpmn", content)
    assert [(i.rule, i.element_id) for i in info.value.issues] == [("condition-on-event-flow", "f_start")]
    assert "[f_start] condition-on-event-flow" in str(info.value)
    assert info.value.details["issues"][0]["rule"] == "condition-on-event-flow"
    with db.sessions() as s:
        with pytest.raises(NotFound):
            pe.repository.latest(s, "vbase")
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0


# -- no false alarms ---------------------------------------------------------------------------------------
MIWG_FILES = sorted(MIWG_DIR.glob("*.bpmn"))
# Every MIWG reference model passes, also with its processes declared executable (so that the execution rules
# run on them): none is excluded.
MIWG_EXCLUDED: dict[str, str] = {}


@pytest.mark.skipif(not MIWG_FILES, reason="MIWG reference diagrams not present")
@pytest.mark.parametrize("path", MIWG_FILES, ids=[p.name for p in MIWG_FILES])
@pytest.mark.parametrize("executable", [False, True], ids=["as-is", "made-executable"])
def test_miwg_reference_models_break_no_constraint(path: Path, executable: bool) -> None:
    if path.name in MIWG_EXCLUDED:
        pytest.skip(MIWG_EXCLUDED[path.name])
    content = path.read_bytes()
    if executable:
        assert b'isExecutable="false"' in content
        content = content.replace(b'isExecutable="false"', b'isExecutable="true"')
    assert [str(i) for i in issues_of(content, path.name)] == []


DIAGRAMS = sorted([*PROCESSES_DIR.glob("*.bpmn"),
                   *(p for p in BPMN_DIR.rglob("*.bpmn") if p.name not in _NOT_BPMN and "constraints" not in p.parts)])


@pytest.mark.parametrize("path", DIAGRAMS, ids=[str(p.relative_to(p.parents[1])) for p in DIAGRAMS])
def test_business_flows_and_test_diagrams_break_no_constraint(path: Path) -> None:
    assert [str(i) for i in issues_of(path.read_bytes(), path.name)] == []


def test_the_seven_business_flows_are_checked() -> None:
    assert len(list(PROCESSES_DIR.glob("*.bpmn"))) == 7


# -- odd documents -----------------------------------------------------------------------------------------
B = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
ODD = [
    "<root/>",
    f"<bpmn:definitions {B}/>",
    f"<bpmn:process {B} isExecutable='true'><bpmn:sequenceFlow/><bpmn:sequenceFlow sourceRef='' targetRef=''/>"
    "<bpmn:boundaryEvent/><bpmn:exclusiveGateway default=''/><bpmn:eventBasedGateway/></bpmn:process>",
    f"<bpmn:sequenceFlow {B} id='x' sourceRef='x' targetRef='x'/>",
    f"<bpmn:definitions {B}><!-- c --><?pi x?><bpmn:process isExecutable='TRUE'><!-- c --><bpmn:startEvent id='s'>"
    "<!-- c --><bpmn:eventDefinitionRef/><bpmn:eventDefinitionRef>a:b:c</bpmn:eventDefinitionRef></bpmn:startEvent>"
    "<bpmn:sequenceFlow id='f' sourceRef='s' targetRef='s'><bpmn:conditionExpression/></bpmn:sequenceFlow>"
    "<bpmn:task id='t' startQuantity='' completionQuantity='99999999999999999999999999'>"
    "<bpmn:standardLoopCharacteristics loopMaximum='1_0'/><bpmn:multiInstanceLoopCharacteristics>"
    "<bpmn:loopCardinality/></bpmn:multiInstanceLoopCharacteristics><bpmn:process isExecutable='true'>"
    "<bpmn:endEvent id='e'/></bpmn:process></bpmn:task></bpmn:process></bpmn:definitions>",
    f"<bpmn:definitions {B}><bpmn:process id='p' isExecutable='true'><bpmn:subProcess id='sp' triggeredByEvent='true'"
    "/><bpmn:boundaryEvent id='b' attachedToRef='p'/><bpmn:boundaryEvent id='b2' attachedToRef='b2'/>"
    "<bpmn:sequenceFlow id='f' sourceRef='p' targetRef='sp'/></bpmn:process><bpmn:collaboration>"
    "<bpmn:messageFlow id='m' sourceRef='p' targetRef='p'/><bpmn:messageFlow/><bpmn:participant id='pa' "
    "processRef='pa'/><bpmn:messageFlow id='m2' sourceRef='pa' targetRef='pa'/></bpmn:collaboration>"
    "</bpmn:definitions>",
    f"<x:definitions xmlns:x='urn:not-bpmn'><x:process isExecutable='true'><x:startEvent id='s'/></x:process>"
    f"<bpmn:process {B} isExecutable='true'><x:task id='s'/><bpmn:userTask id='s'/></bpmn:process></x:definitions>",
]


@pytest.mark.parametrize("text", ODD, ids=[f"odd-{n}" for n in range(len(ODD))])
def test_odd_documents_give_issues_not_tracebacks(text: str) -> None:
    for found in issues_of(text):
        assert found.rule in RULES and found.message


@pytest.mark.parametrize("source", ["constraints", "validation", "miwg"])
def test_mutated_documents_give_issues_not_tracebacks(source: str) -> None:
    """Seeded random damage: attributes dropped or pointed elsewhere, elements moved, removed, copied, turned
    into another kind of element or given other text."""
    path = {"constraints": CONSTRAINTS_DIR / "base.bpmn", "validation": BPMN_DIR / "validation" / "base.bpmn",
            "miwg": MIWG_DIR / "B.2.0.bpmn"}[source]
    if not path.exists():
        pytest.skip(f"{path} not present")
    pristine = etree.fromstring(path.read_bytes().replace(b'isExecutable="false"', b'isExecutable="true"'))
    rng = random.Random(20260213)
    for _ in range(40 if source == "miwg" else 150):
        root = etree.fromstring(etree.tostring(pristine))
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        ids = [e.get("id") for e in elements if e.get("id")]
        tags = sorted({e.tag for e in elements})
        for _ in range(rng.randint(1, 4)):
            el, other = rng.choice(elements), rng.choice(elements)
            action = rng.randrange(7)
            if action == 0 and el.attrib:
                del el.attrib[rng.choice(list(el.attrib))]
            elif action == 1 and el.attrib:
                el.set(rng.choice(list(el.attrib)), rng.choice([*ids, "", "x:y", "-3", "true"]))
            elif action == 2 and el.getparent() is not None and other not in el.iter():
                other.append(el)
            elif action == 3 and el.getparent() is not None:
                el.getparent().remove(el)
            elif action == 4 and el.getparent() is not None:
                el.getparent().append(etree.fromstring(etree.tostring(el)))
            elif action == 5:
                el.tag = rng.choice(tags)
            elif action == 6:
                el.text = rng.choice([*ids, "", "-5", "x:y"])
        for found in check_constraints(etree.ElementTree(root), "mutant.bpmn"):
            assert found.rule in RULES and found.message


def test_a_large_process_is_checked_quickly() -> None:
    n = 3000
    nodes = "".join(f'<bpmn:task id="t{i}" name="Step {i}"/><bpmn:sequenceFlow id="f{i}" sourceRef="t{i}" '
                    f'targetRef="t{i + 1}"/>' for i in range(n))
    text = (f'<bpmn:definitions {B} id="d"><bpmn:process id="big" isExecutable="true"><bpmn:startEvent id="s"/>'
            f'<bpmn:sequenceFlow id="fs" sourceRef="s" targetRef="t0"/>{nodes}<bpmn:endEvent id="t{n}"/>'
            "</bpmn:process></bpmn:definitions>")
    began = time.perf_counter()
    assert issues_of(text) == []
    assert time.perf_counter() - began < 2.0
    broken = issues_of(text.replace('<bpmn:task id="t', '<bpmn:task startQuantity="0" id="t'))
    assert len(broken) == MAX_ISSUES and {i.rule for i in broken} == {"activity-quantity-invalid"}
