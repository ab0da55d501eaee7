"""Event sub-processes started by a condition (BPMN 2.0.2 §10.3.6, §10.5.2), through the engine services with
persistence: they start when their condition becomes true on the process data, also when it holds on entry;
interrupting ones stop their scope; non-interrupting ones run beside the work, once per rise of the condition."""

from __future__ import annotations

from engine.tasks.models import TaskStatus
from tests.conftest import user
from tests.engine.test_timers import instance, open_task, rows_of


def begin(pe, db, key: str, data: dict) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, key, business_key="WO-C", data=data, actor=user(s, pe, "alice")).instance.id


def finish(pe, db, iid: int, node: str, data: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, open_task(db, iid, node), user(s, pe, "alice"), data or {})


def ready(db, iid: int) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(node for node, status in rows_of(db, iid) if status == TaskStatus.READY)


def test_an_interrupting_conditional_start_fires_when_a_step_makes_it_true(pe, db, deploy):
    deploy("conformance/conditional_event_subprocess.bpmn")
    iid = begin(pe, db, "conditional_esp", {"amount": 100})
    assert ready(db, iid) == ["intake"]
    finish(pe, db, iid, "intake", {"cancelled": True})
    assert ready(db, iid) == ["close_out"]  # "work" never stays open: the scope was interrupted
    finish(pe, db, iid, "close_out")
    assert instance(db, iid).status == "completed"


def test_a_conditional_start_whose_condition_holds_on_entry_fires_at_once(pe, db, deploy):
    deploy("conformance/conditional_event_subprocess.bpmn")
    iid = begin(pe, db, "conditional_esp", {"cancelled": True, "amount": 100})
    assert ready(db, iid) == ["close_out"]


def test_a_non_interrupting_conditional_start_runs_beside_the_work_once_per_rise(pe, db, deploy):
    deploy("conformance/conditional_event_subprocess.bpmn")
    iid = begin(pe, db, "conditional_esp", {"amount": 100})
    finish(pe, db, iid, "intake", {"amount": 20000})
    assert ready(db, iid) == ["approve", "work"]
    finish(pe, db, iid, "approve")  # the amount is still above 10000: no second approval
    assert ready(db, iid) == ["work"]
    finish(pe, db, iid, "work")
    assert instance(db, iid).status == "completed"


def test_a_false_condition_starts_nothing_and_the_process_ends_normally(pe, db, deploy):
    deploy("conformance/conditional_event_subprocess.bpmn")
    iid = begin(pe, db, "conditional_esp", {"amount": 100, "cancelled": False})
    finish(pe, db, iid, "intake")
    finish(pe, db, iid, "work")
    assert instance(db, iid).status == "completed"
    assert {node for node, _ in rows_of(db, iid)} == {"intake", "work"}


def test_a_conditional_start_inside_a_sub_process_interrupts_only_that_scope(pe, db, deploy):
    deploy("conformance/conditional_esp_nested.bpmn")
    iid = begin(pe, db, "conditional_esp_nested", {})
    assert ready(db, iid) == ["diagnose"]
    finish(pe, db, iid, "diagnose", {"urgent": True})
    assert ready(db, iid) == ["escalate"]
    finish(pe, db, iid, "escalate")
    assert ready(db, iid) == ["close"]  # the sub-process ended through its event sub-process; the process goes on
    finish(pe, db, iid, "close")
    assert instance(db, iid).status == "completed"


def test_a_message_event_sub_process_inside_a_sub_process_starts_when_its_message_arrives(pe, db, deploy):
    """SpiffWorkflow starts message- and signal-triggered event sub-processes only at the top level."""
    deploy("conformance/message_esp_nested.bpmn")
    iid = begin(pe, db, "message_esp_nested", {})
    with db.sessions.begin() as s:
        pe.runtime.correlate(s, iid, "urgent", {"reason": "VIP"})
    assert ready(db, iid) == ["escalate"]
    finish(pe, db, iid, "escalate")
    assert ready(db, iid) == ["close"]
    finish(pe, db, iid, "close")
    assert instance(db, iid).status == "completed"
