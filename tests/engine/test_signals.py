"""Signals and messages between instances (BPMN 2.0.2 §10.5.1): a signal reaches every waiting instance and
starts every process with a signal start event; a message reaches one waiting instance, else starts a process
with a message start event. Through the engine services, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import InvalidInput, NotAllowed
from engine.history.models import HistoryEvent
from engine.runtime.models import EventSubscription, ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import user

FLOWS = ("signal_thrower", "signal_waiter", "signal_started", "message_thrower", "message_waiter",
         "message_started")


@pytest.fixture
def flows(deploy):  # type: ignore[no-untyped-def]
    for key in FLOWS:
        deploy(f"conformance/{key}.bpmn")


def start(pe, db, key: str, business_key: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, key, business_key=business_key, data={}, actor=user(s, pe, "alice")).instance.id


def open_steps(db, key: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(business key, step) of every open task of the flow, in order."""
    with db.sessions() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.process_key == key, HumanTask.status == "ready")
                         .order_by(HumanTask.id))
        return [(r.business_key, r.node_id) for r in rows]


def complete(pe, db, business_key: str) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        row = s.scalar(select(HumanTask).where(HumanTask.business_key == business_key, HumanTask.status == "ready"))
        pe.tasks.complete(s, row.id, user(s, pe, "alice"), {})


def status(db, instance_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.get(ProcessInstance, instance_id).status


def subscriptions(db) -> list[tuple[str, str, str, bool]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        rows = s.scalars(select(EventSubscription).order_by(EventSubscription.process_key, EventSubscription.id))
        return [(r.process_key, r.kind, r.name, r.instance_id is not None) for r in rows]


def test_a_thrown_signal_wakes_every_waiter_and_starts_every_signal_started_process(pe, db, flows):
    w1, w2 = start(pe, db, "signal_waiter", "W-1"), start(pe, db, "signal_waiter", "W-2")
    thrower = start(pe, db, "signal_thrower", "T-1")
    assert ("signal_waiter", "signal", "outage_cleared", True) in subscriptions(db)
    assert ("signal_started", "signal", "outage_cleared", False) in subscriptions(db)
    complete(pe, db, "T-1")
    assert status(db, thrower) == "completed"
    assert open_steps(db, "signal_waiter") == [("W-1", "notify"), ("W-2", "notify")]
    (started,) = open_steps(db, "signal_started")
    assert started[1] == "review"
    assert [k for k, *_ in subscriptions(db)].count("signal_waiter") == 0  # nobody waits any more
    with db.sessions() as s:
        (thrown,) = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == thrower,
                                                         HistoryEvent.event_type == "signal_thrown")).all()
        assert thrown.payload["woken"] == [w1, w2] and len(thrown.payload["started"]) == 1


def test_broadcast_signal_is_one_api_for_the_cli_the_web_and_the_api(pe, db, flows):
    waiter = start(pe, db, "signal_waiter", "W-3")
    with db.sessions.begin() as s:
        result = pe.runtime.broadcast_signal(s, "outage_cleared", {"region": "GZ"}, actor=user(s, pe, "sup"),
                                             org_code="GZ")
    assert result.woken == [waiter] and len(result.started) == 1 and result.failed == []
    with db.sessions.begin() as s:
        again = pe.runtime.broadcast_signal(s, "outage_cleared", org_code="GZ")
    assert again.woken == [] and len(again.started) == 1  # the waiter moved on; a start event always starts
    with db.sessions() as s:
        started = s.get(ProcessInstance, result.started[0])
        assert started.org_unit_id == user(s, pe, "alice").org_unit_id
    with db.sessions.begin() as s, pytest.raises(InvalidInput):
        pe.runtime.broadcast_signal(s, "  ")


def test_a_message_reaches_one_waiter_then_starts_a_process(pe, db, flows):
    start(pe, db, "message_waiter", "M-1")
    start(pe, db, "message_waiter", "M-2")
    start(pe, db, "message_thrower", "MT-1")
    start(pe, db, "message_thrower", "MT-2")
    start(pe, db, "message_thrower", "MT-3")
    complete(pe, db, "MT-1")
    assert open_steps(db, "message_waiter") == [("M-1", "ship")]
    complete(pe, db, "MT-2")
    assert open_steps(db, "message_waiter") == [("M-1", "ship"), ("M-2", "ship")]
    assert open_steps(db, "message_started") == []
    complete(pe, db, "MT-3")  # nobody waits: the message start event receives it
    assert [step for _, step in open_steps(db, "message_started")] == ["book"]


def test_a_signal_nobody_listens_to_changes_nothing(pe, db, flows):
    with db.sessions.begin() as s:
        result = pe.runtime.broadcast_signal(s, "nobody_listens")
    assert (result.woken, result.started, result.failed) == ([], [], [])


def test_only_supervisors_admins_and_the_system_send_signals(pe, db, flows):
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.runtime.broadcast_signal(s, "outage_cleared", actor=user(s, pe, "alice"))
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.runtime.send_message(s, "order_ready", actor=user(s, pe, "alice"))
    assert open_steps(db, "signal_started") == []


def test_a_signal_the_thrower_catches_itself_still_reaches_the_others(pe, db, flows, deploy):
    deploy("conformance/signal_self.bpmn")
    start(pe, db, "signal_waiter", "W-9")
    start(pe, db, "signal_self", "S-1")
    with db.sessions.begin() as s:
        row = s.scalar(select(HumanTask).where(HumanTask.business_key == "S-1", HumanTask.node_id == "decide"))
        pe.tasks.complete(s, row.id, user(s, pe, "alice"), {})
    assert open_steps(db, "signal_self") == [("S-1", "inner")]  # caught inside …
    assert open_steps(db, "signal_waiter") == [("W-9", "notify")]  # … and broadcast to the others
    assert len(open_steps(db, "signal_started")) == 1


def test_a_process_with_a_none_and_a_message_start_starts_through_the_one_triggered(pe, db, deploy):
    """BPMN 2.0.2 §10.5.2: each start event creates the instance when its own trigger occurs."""
    deploy("conformance/two_starts.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.send_message(s, "crm_order", {"order_no": "CRM-1"}, actor=user(s, pe, "admin"))
    (by_message,) = result.started
    by_hand = start(pe, db, "two_starts", "WO-HAND")
    with db.sessions() as s:
        def steps(iid: int) -> list[tuple[str, str]]:
            rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == iid).order_by(HumanTask.id))
            return [(r.node_id, r.status) for r in rows]

        assert steps(by_message) == [("check_crm_order", "ready")]
        assert steps(by_hand) == [("type_in", "ready")]
        row = s.scalar(select(HumanTask).where(HumanTask.instance_id == by_message))
        assert pe.runtime.task_data(s, row)["order_no"] == "CRM-1"
