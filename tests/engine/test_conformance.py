"""BPMN constructs the engine must run as the specification says, through the services with persistence
(diagrams in tests/bpmn/conformance/). Time is moved with time-machine, as in test_timers."""

from __future__ import annotations

from datetime import timedelta

from engine.tasks.models import TaskStatus
from tests.conftest import user
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
