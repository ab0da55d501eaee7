"""BPMN constructs the engine must run as the specification says, through the services with persistence
(diagrams in tests/bpmn/conformance/). Time is moved with time-machine, as in test_timers."""
# ruff: noqa: F811 - the fixtures imported from test_timers are taken as test parameters of the same name

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import BpmnValidationError, NotFound
from engine.tasks.models import HumanTask, TaskStatus
from tests.conftest import bpmn, user
from tests.engine.test_timers import (  # noqa: F401 - fixtures: the wall clock moved by time-machine
    T0,
    at,
    instance,
    next_timer,
    open_task,
    pe,
    rows_of,
    start,
    traveller,
    worker,
)


def correlate(pe, db, instance_id: int, message: str, payload: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        pe.runtime.correlate(s, instance_id, message, payload or {})


# -- 2: a timer behind an event-based gateway ---------------------------------------------------------------
def test_event_based_gateway_gives_up_when_its_timer_fires(pe, db, deploy, traveller, worker):
    deploy("conformance/event_gateway_timer.bpmn")
    iid = start(pe, db, "event_gateway_timer")
    assert next_timer(db, iid) == T0 + timedelta(days=3)
    at(traveller, days=2, hours=23)
    worker.tick()
    assert rows_of(db, iid) == []
    at(traveller, days=3, seconds=1)
    report = worker.tick()
    assert report.timers_fired == 1, report
    assert rows_of(db, iid) == [("close", TaskStatus.READY)]
    assert next_timer(db, iid) is None
    worker.tick()
    assert rows_of(db, iid) == [("close", TaskStatus.READY)]


def test_event_based_gateway_takes_the_reply_and_forgets_its_timer(pe, db, deploy, traveller, worker):
    deploy("conformance/event_gateway_timer.bpmn")
    iid = start(pe, db, "event_gateway_timer")
    at(traveller, days=1)
    correlate(pe, db, iid, "customer_reply", {"answer": "已恢复"})
    assert rows_of(db, iid) == [("read_reply", TaskStatus.READY)]
    assert next_timer(db, iid) is None
    at(traveller, days=4)
    worker.tick()
    assert rows_of(db, iid) == [("read_reply", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "read_reply"), user(s, pe, "alice"), {})
    assert instance(db, iid).status == "completed"


# -- 1: event sub-processes ---------------------------------------------------------------------------------
def test_non_interrupting_event_subprocess_runs_beside_the_work(pe, db, deploy, traveller, worker):
    deploy("conformance/event_subprocess.bpmn")
    iid = start(pe, db, "event_subprocess")
    assert rows_of(db, iid) == [("work", TaskStatus.READY)]
    assert next_timer(db, iid) == T0 + timedelta(days=2)
    correlate(pe, db, iid, "customer_note", {"note": "请上午来"})
    assert rows_of(db, iid) == [("work", TaskStatus.READY), ("read_note", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "read_note"), user(s, pe, "alice"), {})
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "work"), user(s, pe, "alice"), {})
    assert instance(db, iid).status == "completed"
    assert next_timer(db, iid) is None


def test_interrupting_event_subprocess_cancels_the_work(pe, db, deploy, traveller, worker):
    deploy("conformance/event_subprocess.bpmn")
    iid = start(pe, db, "event_subprocess")
    correlate(pe, db, iid, "customer_withdraws")
    assert rows_of(db, iid) == [("work", TaskStatus.CANCELLED), ("confirm_withdraw", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "confirm_withdraw"), user(s, pe, "alice"), {})
    assert instance(db, iid).status == "completed"


def test_interrupting_timer_event_subprocess_fires_through_the_worker(pe, db, deploy, traveller, worker):
    deploy("conformance/event_subprocess.bpmn")
    iid = start(pe, db, "event_subprocess")
    at(traveller, days=2, seconds=1)
    assert worker.tick().timers_fired == 1
    assert rows_of(db, iid) == [("work", TaskStatus.CANCELLED)]
    assert instance(db, iid).status == "completed"


# -- 3, 4, 5: data objects, reserved ids, an uncaught error end event -------------------------------------
def test_a_data_object_deploys_and_carries_data_from_a_script_to_a_user_task(pe, db, deploy, traveller):
    deploy("conformance/data_object.bpmn")
    iid = start(pe, db, "data_object")
    assert rows_of(db, iid) == [("check", TaskStatus.READY)]
    with db.sessions() as s:
        row = s.get(HumanTask, open_task(db, iid, "check"))
        assert pe.runtime.task_data(s, row)["quote"] == 1200


@pytest.mark.parametrize("reserved", ["Start", "End", "StartEventJoin", "plain.EndJoin", "fix.BoundaryEventSplit"])
def test_ids_the_library_uses_for_its_own_tasks_are_refused_at_deploy(pe, db, deploy, reserved):
    content = bpmn("tasks/plain.bpmn").replace(b'"handle"', f'"{reserved}"'.encode()).replace(
        b">handle<", f">{reserved}<".encode())
    with pytest.raises(BpmnValidationError) as caught:
        deploy("reserved.bpmn", content)
    assert [(i.element_id, i.rule) for i in caught.value.issues] == [(reserved, "reserved-id")]
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "plain")


def test_an_uncaught_error_end_event_fails_the_instance_with_an_incident(pe, db, deploy, traveller):
    deploy("conformance/error_end.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "error_end", business_key="WO-E", data={"stock": 0}, actor=user(s, pe, "alice"))
        iid = result.instance.id
    row = instance(db, iid)
    assert (row.status, row.ended_at is not None) == ("failed", True)
    with db.sessions() as s:
        (incident,) = pe.management.incidents(s)
        assert (incident.instance_id, incident.kind, incident.node_id) == (iid, "error", "fail")
        assert "NO_RESOURCE" in incident.message and "No resource" in incident.message
        events = [e.event_type for e in pe.history.timeline(s, iid)]
        assert "instance_failed" in events and "instance_completed" not in events


def test_the_same_diagram_completes_when_no_error_is_thrown(pe, db, deploy, traveller):
    deploy("conformance/error_end.bpmn")
    with db.sessions.begin() as s:
        iid = pe.runtime.start(s, "error_end", business_key="WO-OK", data={"stock": 3},
                               actor=user(s, pe, "alice")).instance.id
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "handle"), user(s, pe, "alice"), {})
    assert instance(db, iid).status == "completed"
    with db.sessions() as s:
        assert pe.management.incidents(s) == []


# -- 8: an interrupting boundary event on a sub-process cancels everything inside it -----------------------
def test_an_escalation_thrown_inside_a_subprocess_interrupts_it(pe, db, deploy, traveller):
    deploy("conformance/boundary_on_subprocess.bpmn")
    iid = start(pe, db, "boundary_on_subprocess")
    assert sorted(rows_of(db, iid)) == [("decide", TaskStatus.READY), ("inspect", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "decide"), user(s, pe, "alice"), {})
    assert rows_of(db, iid) == [("inspect", TaskStatus.CANCELLED), ("decide", TaskStatus.COMPLETED),
                                ("handle", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "handle"), user(s, pe, "alice"), {})
    assert instance(db, iid).status == "completed"


def test_an_error_end_event_inside_a_subprocess_is_caught_by_its_boundary(pe, db, deploy, traveller):
    deploy("conformance/boundary_error_on_subprocess.bpmn")
    iid = start(pe, db, "boundary_error_on_subprocess")
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "decide"), user(s, pe, "alice"), {})
    assert rows_of(db, iid) == [("inspect", TaskStatus.CANCELLED), ("decide", TaskStatus.COMPLETED),
                                ("handle", TaskStatus.READY)]
    assert instance(db, iid).status == "running"  # caught: the instance goes on, it did not fail


def test_a_signal_end_event_inside_a_subprocess_is_caught_by_its_boundary(pe, db, deploy, traveller):
    deploy("conformance/boundary_signal_on_subprocess.bpmn")
    iid = start(pe, db, "boundary_signal_on_subprocess")
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "decide"), user(s, pe, "alice"), {})
    assert rows_of(db, iid) == [("inspect", TaskStatus.CANCELLED), ("decide", TaskStatus.COMPLETED),
                                ("handle", TaskStatus.READY)]


# -- 9: conditional events ----------------------------------------------------------------------------------
def test_a_conditional_catch_fires_when_another_branch_makes_its_condition_true(pe, db, deploy, traveller):
    deploy("conformance/conditional_catch.bpmn")
    with db.sessions.begin() as s:
        iid = pe.runtime.start(s, "conditional_catch", business_key="C-1", data={"stock": 0},
                               actor=user(s, pe, "alice")).instance.id
    assert rows_of(db, iid) == [("restock", TaskStatus.READY)]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, "restock"), user(s, pe, "alice"), {"stock": 3})
    assert rows_of(db, iid) == [("restock", TaskStatus.COMPLETED), ("ship", TaskStatus.READY)]


def test_a_conditional_catch_whose_condition_holds_on_entry_fires_at_once(pe, db, deploy, traveller):
    deploy("conformance/conditional_catch.bpmn")
    with db.sessions.begin() as s:
        iid = pe.runtime.start(s, "conditional_catch", business_key="C-2", data={"stock": 5},
                               actor=user(s, pe, "alice")).instance.id
    assert sorted(rows_of(db, iid)) == [("restock", TaskStatus.READY), ("ship", TaskStatus.READY)]


# -- refused rather than run wrongly ------------------------------------------------------------------------
PLAIN = bpmn("tasks/plain.bpmn").decode()


@pytest.mark.parametrize(("old", "new", "element", "rule"), [
    ('<bpmn:userTask id="handle" name="Handle"/>', '<bpmn:scriptTask id="handle" name="Handle"/>',
     "handle", "script-invalid"),
    ('<bpmn:userTask id="handle" name="Handle"/>',
     '<bpmn:adHocSubProcess id="handle" name="Handle"><bpmn:task id="inside"/></bpmn:adHocSubProcess>',
     "handle", "unsupported-element"),
    ('<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end"/><bpmn:subProcess id="on_error" triggeredByEvent="true">'
     '<bpmn:startEvent id="err_start"><bpmn:errorEventDefinition id="eed"/></bpmn:startEvent>'
     '<bpmn:sequenceFlow id="e1" sourceRef="err_start" targetRef="err_end"/><bpmn:endEvent id="err_end"/>'
     '</bpmn:subProcess>', "err_start", "unsupported-element"),
])
def test_constructs_the_engine_cannot_run_yet_are_refused_naming_the_element(pe, db, deploy, old, new, element,
                                                                                rule):
    with pytest.raises(BpmnValidationError) as caught:
        deploy("unsupported.bpmn", PLAIN.replace(old, new).encode())
    assert (element, rule) in [(i.element_id, i.rule) for i in caught.value.issues]
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "plain")


def test_only_executable_processes_are_deployed_and_each_is_checked(pe, db, deploy):
    other = ('<bpmn:process id="sketch" name="A sketch"><bpmn:startEvent id="s_start"/>'
             '<bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="s_task"/>'
             '<bpmn:scriptTask id="s_task"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
             '<bpmn:sequenceFlow id="s2" sourceRef="s_task" targetRef="s_end"/><bpmn:endEvent id="s_end"/>'
             '</bpmn:process></bpmn:definitions>')
    results = deploy("two.bpmn", PLAIN.replace("</bpmn:definitions>", other).encode())
    assert [r.key for r in results] == ["plain"]  # the sketch (no isExecutable) is neither checked nor deployed
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "sketch")


def test_after_an_interrupting_event_subprocess_fired_its_scope_listens_for_nothing_else(pe, db, deploy, traveller):
    deploy("conformance/event_subprocess.bpmn")
    iid = start(pe, db, "event_subprocess")
    correlate(pe, db, iid, "customer_withdraws")
    with db.sessions.begin() as s:
        result = pe.runtime.send_message(s, "customer_note", {"note": "too late"})
    assert result.woken == [] and result.started == []
    assert rows_of(db, iid) == [("work", TaskStatus.CANCELLED), ("confirm_withdraw", TaskStatus.READY)]


def test_a_manual_task_outside_any_lane_is_refused(pe, db, deploy):
    content = PLAIN.replace('<bpmn:endEvent id="end"/>',
                            '<bpmn:endEvent id="end"/><bpmn:manualTask id="loose" name="Loose"/>'
                            '<bpmn:startEvent id="start_2"/><bpmn:sequenceFlow id="x1" sourceRef="start_2" '
                            'targetRef="loose"/><bpmn:endEvent id="end_2"/><bpmn:sequenceFlow id="x2" '
                            'sourceRef="loose" targetRef="end_2"/>')
    with pytest.raises(BpmnValidationError) as caught:
        deploy("loose.bpmn", content.encode())
    assert ("loose", "user-task-without-lane") in [(i.element_id, i.rule) for i in caught.value.issues]


def test_a_conditional_event_behind_an_event_based_gateway_fires_on_entry(pe, db, deploy, traveller, worker):
    deploy("conformance/event_gateway_condition.bpmn")
    with db.sessions.begin() as s:
        paid = pe.runtime.start(s, "event_gateway_condition", business_key="EG-1", data={"paid": True},
                                actor=user(s, pe, "alice")).instance.id
        unpaid = pe.runtime.start(s, "event_gateway_condition", business_key="EG-2", data={"paid": False},
                                  actor=user(s, pe, "alice")).instance.id
    assert rows_of(db, paid) == [("read_reply", TaskStatus.READY)] and next_timer(db, paid) is None
    assert rows_of(db, unpaid) == [] and next_timer(db, unpaid) == T0 + timedelta(days=3)
    at(traveller, days=3, seconds=1)
    worker.tick()
    assert rows_of(db, unpaid) == [("close", TaskStatus.READY)]
