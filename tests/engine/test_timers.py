"""BPMN timers driven by the worker under a travelling wall clock: intermediate catch events (duration, date),
boundary timers (interrupting, non-interrupting, cycle) and timer start events (cycle, date).

SpiffWorkflow reads the wall clock, so time is moved with time-machine and the engine's clock is the real
``engine.db.utcnow`` (patched too). Each step checks the tick report, ``process_instance.next_timer_at``, the
``timer_fired`` history events, the task rows and that a second tick right after does nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from engine.core import ProcessEngine
from engine.errors import BpmnValidationError
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit
from engine.jobs.models import Job, TimerSchedule
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import TickReport, Worker
from handlers import build_registry
from handlers.sms.models import SmsMessage
from tests.conftest import bpmn, user, utc

T0 = utc(2026, 3, 2, 1, 0)  # Monday 09:00 in Asia/Shanghai


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pe(traveller: time_machine.Traveller) -> ProcessEngine:
    """The application's handlers (SMS with the outbox backend) on the wall clock time-machine moves."""
    return ProcessEngine(build_registry())


@pytest.fixture
def worker(pe, db) -> Worker:  # type: ignore[no-untyped-def]
    return Worker(pe, db.sessions, "test-worker")


# -- helpers -----------------------------------------------------------------------------------------------
def at(traveller: time_machine.Traveller, **delta: float) -> datetime:
    """Move the wall clock to T0 + delta."""
    moment = T0 + timedelta(**delta)
    traveller.move_to(moment)
    assert datetime.now(UTC) == moment
    return moment


def start(pe, db, process_key: str, business_key: str = "WO-1", starter: str = "alice") -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, process_key, business_key=business_key, data={},
                                actor=user(s, pe, starter)).instance.id


def instance(db, instance_id: int) -> ProcessInstance:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(ProcessInstance, instance_id)
        assert row is not None
        return row


def next_timer(db, instance_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    return instance(db, instance_id).next_timer_at


def rows_of(db, instance_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))
        return [(r.node_id, r.status) for r in rows]


def events(db, instance_id: int, event_type: str) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance_id,
                                                         HistoryEvent.event_type == event_type)
                              .order_by(HistoryEvent.id)))


def fired(db, instance_id: int) -> list[tuple[str, datetime]]:  # type: ignore[no-untyped-def]
    """(node, time) of every timer_fired event of the instance."""
    return [(e.node_id, e.at) for e in events(db, instance_id, "timer_fired")]


def pings(db, instance_id: int) -> int:  # type: ignore[no-untyped-def]
    return len([e for e in events(db, instance_id, "step_completed") if e.node_id == "ping"])


def quiet(report: TickReport) -> bool:
    return not report.busy()


def complete(pe, db, task_id: int, username: str = "alice") -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        pe.tasks.complete(s, task_id, user(s, pe, username), {})


def open_task(db, instance_id: int, node_id: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.node_id == node_id, HumanTask.status == "ready"))
        assert task_id is not None, f"no open {node_id} task"
        return task_id


def instances(db, process_key: str) -> list[ProcessInstance]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(ProcessInstance).where(ProcessInstance.process_key == process_key)
                              .order_by(ProcessInstance.id)))


def schedule(db, process_key: str) -> TimerSchedule | None:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.get(TimerSchedule, process_key)


def org_code(db, org_id: int) -> str:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.scalar(select(OrgUnit.code).where(OrgUnit.id == org_id))


# -- intermediate catch events ------------------------------------------------------------------------------
def test_duration_catch_events_fire_in_turn(pe, db, deploy, traveller, worker):
    deploy("timers/wait_duration.bpmn")
    iid = start(pe, db, "wait_duration")
    assert next_timer(db, iid) == T0 + timedelta(hours=1)
    assert (rows_of(db, iid), fired(db, iid)) == ([], [])

    at(traveller, minutes=59)
    report = worker.tick()
    assert report.timers_fired == 0 and quiet(report)
    assert next_timer(db, iid) == T0 + timedelta(hours=1)
    assert fired(db, iid) == []

    first = at(traveller, minutes=61)
    report = worker.tick()
    assert (report.timers_fired, report.errors) == (1, 0)
    assert fired(db, iid) == [("wait_hour", first)]
    (event,) = events(db, iid, "timer_fired")
    assert event.payload == {"name": "等一小时", "kind": "DurationTimerEventDefinition"}
    # the second wait counts from when it was reached, not from the start
    assert next_timer(db, iid) == first + timedelta(minutes=30)
    assert rows_of(db, iid) == []
    assert quiet(worker.tick())
    assert fired(db, iid) == [("wait_hour", first)]

    at(traveller, minutes=90)  # 30 minutes after the start, 29 after the second wait began
    assert quiet(worker.tick())
    assert next_timer(db, iid) == first + timedelta(minutes=30)

    second = at(traveller, minutes=92)
    assert worker.tick().timers_fired == 1
    assert fired(db, iid) == [("wait_hour", first), ("wait_half", second)]
    assert next_timer(db, iid) is None  # only a person is waited for now
    assert rows_of(db, iid) == [("after", "ready")]
    assert quiet(worker.tick())

    at(traveller, hours=10)
    assert quiet(worker.tick())
    complete(pe, db, open_task(db, iid, "after"))
    row = instance(db, iid)
    assert (row.status, row.next_timer_at) == ("completed", None)
    assert len(fired(db, iid)) == 2


def test_date_catch_event_fires_at_its_absolute_time(pe, db, deploy, traveller, worker):
    deploy("timers/wait_date.bpmn")
    iid = start(pe, db, "wait_date")
    noon_beijing = utc(2026, 3, 2, 4, 0)  # "2026-03-02T12:00:00+08:00"
    assert next_timer(db, iid) == noon_beijing

    at(traveller, hours=2, minutes=59, seconds=59)
    assert quiet(worker.tick())
    assert (next_timer(db, iid), fired(db, iid), rows_of(db, iid)) == (noon_beijing, [], [])

    moment = at(traveller, hours=3, seconds=1)
    assert worker.tick().timers_fired == 1
    assert fired(db, iid) == [("noon", moment)]
    (event,) = events(db, iid, "timer_fired")
    assert event.payload["kind"] == "TimeDateEventDefinition"
    assert next_timer(db, iid) is None
    assert rows_of(db, iid) == [("after", "ready")]
    assert quiet(worker.tick())
    at(traveller, days=3)
    assert quiet(worker.tick())
    assert len(fired(db, iid)) == 1


def test_tick_at_the_exact_due_instant_reports_only_what_fired(pe, db, deploy, traveller, worker):
    """The worker picks instances with next_timer_at <= now; what it reports must be what happened."""
    deploy("timers/wait_duration.bpmn")
    iid = start(pe, db, "wait_duration")
    due = next_timer(db, iid)
    assert due == T0 + timedelta(hours=1)
    version_before = instance(db, iid).version

    at(traveller, hours=1)  # exactly next_timer_at
    report = worker.tick()
    assert report.timers_fired == len(fired(db, iid))
    if not fired(db, iid):  # nothing fired: the instance should not have been rewritten either
        assert instance(db, iid).version == version_before

    moment = at(traveller, hours=1, seconds=1)
    worker.tick()
    assert fired(db, iid) == [("wait_hour", moment)]


def test_cancelled_instance_no_longer_waits_for_its_timer(pe, db, deploy, traveller, worker):
    deploy("timers/wait_duration.bpmn")
    iid = start(pe, db, "wait_duration")
    other = start(pe, db, "wait_duration", business_key="WO-2")
    at(traveller, minutes=30)
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, iid, actor=user(s, pe, "sup"), reason="客户撤单")
    row = instance(db, iid)
    assert (row.status, row.next_timer_at) == ("cancelled", None)
    at(traveller, minutes=61)
    assert worker.tick().timers_fired == 1  # only the other work order
    assert fired(db, iid) == []
    assert [node for node, _ in fired(db, other)] == ["wait_hour"]


def test_an_instance_that_cannot_advance_does_not_hold_up_other_timers(pe, db, deploy, traveller, worker):
    """The first instance due (by next_timer_at) has an unreadable state: the tick logs it, tries it again only
    after a delay, and fires the other work order's timer."""
    deploy("timers/wait_duration.bpmn")
    broken = start(pe, db, "wait_duration")
    at(traveller, minutes=1)
    other = start(pe, db, "wait_duration", business_key="WO-2")
    with db.sessions.begin() as s:
        s.get(ProcessInstance, broken).state = "{\"not\": \"a workflow\"}"  # type: ignore[union-attr]
    moment = at(traveller, minutes=70)
    report = worker.tick()
    assert (report.timers_fired, report.errors) == (1, 1)
    assert [node for node, _ in fired(db, other)] == ["wait_hour"]
    assert next_timer(db, broken) == moment + timedelta(minutes=5)
    assert worker.tick().errors == 0  # not retried on every tick


# -- boundary timers ---------------------------------------------------------------------------------------
def test_interrupting_boundary_timer_cancels_the_task(pe, db, deploy, traveller, worker):
    deploy("time/boundary.bpmn")
    iid = start(pe, db, "boundary_timer")
    work = open_task(db, iid, "work")
    assert next_timer(db, iid) == T0 + timedelta(seconds=2)

    at(traveller, seconds=1)
    assert quiet(worker.tick())
    assert rows_of(db, iid) == [("work", "ready")]
    assert next_timer(db, iid) == T0 + timedelta(seconds=2)

    moment = at(traveller, seconds=3)
    assert worker.tick().timers_fired == 1
    assert rows_of(db, iid) == [("work", "cancelled"), ("escalated", "ready")]
    assert fired(db, iid) == [("timeout", moment)]
    assert [e.human_task_id for e in events(db, iid, "task_cancelled")] == [work]
    with db.sessions() as s:
        assert s.get(HumanTask, work).completed_at == moment
    assert next_timer(db, iid) is None
    assert quiet(worker.tick())

    at(traveller, hours=1)
    assert quiet(worker.tick())
    assert len(fired(db, iid)) == 1
    complete(pe, db, open_task(db, iid, "escalated"))
    assert instance(db, iid).status == "completed"


def test_non_interrupting_boundary_timer_adds_a_task_and_its_sms_is_sent(pe, db, deploy, traveller, worker):
    with db.sessions.begin() as s:
        user(s, pe, "alice").phone = "13800000001"
    deploy("timers/boundary_remind.bpmn")
    iid = start(pe, db, "boundary_remind")
    work = open_task(db, iid, "work")
    assert next_timer(db, iid) == T0 + timedelta(minutes=30)

    at(traveller, minutes=29)
    assert quiet(worker.tick())
    assert rows_of(db, iid) == [("work", "ready")]

    moment = at(traveller, minutes=31)
    report = worker.tick()
    # the timer fires, the sms.send step queues a job and the same tick delivers it
    assert (report.timers_fired, report.jobs_done, report.errors) == (1, 1, 0)
    assert rows_of(db, iid) == [("work", "ready"), ("remind", "ready")]
    assert fired(db, iid) == [("half_hour", moment)]
    assert next_timer(db, iid) is None
    with db.sessions() as s:
        (job,) = s.scalars(select(Job).where(Job.instance_id == iid)).all()
        assert (job.kind, job.status, job.attempts) == ("sms.send", "done", 1)
        messages = s.scalars(select(SmsMessage).where(SmsMessage.instance_id == iid).order_by(SmsMessage.id)).all()
        alice, anna, gz_dispatcher = (user(s, pe, name).id for name in ("alice", "anna", "gz_dispatcher"))
    text = "【EOMS】预警：工单WO-1的“处理”环节将于今天到期，请尽快处理。"
    assert [(m.user_id, m.phone, m.status, m.template, m.backend, m.text) for m in messages] == [
        (alice, "13800000001", "stored", "warning", "outbox", text),
        (anna, "", "no_phone", "warning", "outbox", text),
        (gz_dispatcher, "13800000010", "stored", "warning", "outbox", text),  # the flows' dispatcher in GZ
    ]
    assert quiet(worker.tick())

    at(traveller, hours=5)  # a duration boundary timer fires once
    assert quiet(worker.tick())
    assert len(fired(db, iid)) == 1
    complete(pe, db, work)
    assert rows_of(db, iid) == [("work", "completed"), ("remind", "ready")]
    assert instance(db, iid).status == "running"
    complete(pe, db, open_task(db, iid, "remind"))
    assert instance(db, iid).status == "completed"


def test_cycle_boundary_timer_runs_its_branch_three_times(pe, db, deploy, traveller, worker):
    deploy("timers/boundary_cycle.bpmn")
    iid = start(pe, db, "boundary_cycle")
    assert next_timer(db, iid) == T0 + timedelta(minutes=10)

    at(traveller, minutes=9)
    assert quiet(worker.tick())
    assert pings(db, iid) == 0

    at(traveller, minutes=11)
    assert worker.tick().timers_fired == 1
    assert pings(db, iid) == 1
    assert next_timer(db, iid) == T0 + timedelta(minutes=20)
    assert quiet(worker.tick())
    assert pings(db, iid) == 1

    at(traveller, minutes=35)  # the occurrences at +20 and +30 are both due: both run, in one tick
    assert worker.tick().timers_fired == 1
    assert pings(db, iid) == 3
    assert rows_of(db, iid) == [("work", "ready")]
    assert next_timer(db, iid) is None  # R3: nothing more to wait for
    assert quiet(worker.tick())

    at(traveller, hours=3)
    assert quiet(worker.tick())
    assert pings(db, iid) == 3
    assert rows_of(db, iid) == [("work", "ready")]
    complete(pe, db, open_task(db, iid, "work"))
    row = instance(db, iid)
    assert (row.status, row.next_timer_at) == ("completed", None)


def test_cycle_boundary_timer_records_each_occurrence(pe, db, deploy, traveller, worker):
    deploy("timers/boundary_cycle.bpmn")
    iid = start(pe, db, "boundary_cycle")
    first = at(traveller, minutes=11)
    worker.tick()
    assert pings(db, iid) == 1
    assert fired(db, iid) == [("every10", first)]
    then = at(traveller, minutes=35)
    worker.tick()
    assert pings(db, iid) == 3
    assert fired(db, iid) == [("every10", first), ("every10", then), ("every10", then)]


# -- timer start events ------------------------------------------------------------------------------------
def test_cycle_start_timer_starts_one_instance_per_occurrence(pe, db, deploy, traveller, worker):
    (result,) = deploy("timers/start_cycle.bpmn")
    plan = schedule(db, "start_cycle")
    assert plan is not None
    assert (plan.definition_id, plan.expression, plan.next_due, plan.remaining, plan.interval_seconds,
            plan.org_code, plan.started_count) == (result.definition_id, '"R2/PT1H"', T0 + timedelta(hours=1), 2,
                                                   3600, "GZ", 0)

    at(traveller, minutes=59)
    report = worker.tick()
    assert report.processes_started == 0 and quiet(report)
    assert instances(db, "start_cycle") == []

    first = at(traveller, minutes=61)
    report = worker.tick()
    assert (report.processes_started, report.errors) == (1, 0)
    (one,) = instances(db, "start_cycle")
    assert (one.business_key, one.started_by_id, org_code(db, one.org_unit_id), one.started_at) == (
        "start_cycle-20260302020000", None, "GZ", first)
    plan = schedule(db, "start_cycle")
    assert (plan.next_due, plan.remaining, plan.started_count) == (T0 + timedelta(hours=2), 1, 1)
    assert worker.tick().processes_started == 0
    assert len(instances(db, "start_cycle")) == 1

    at(traveller, hours=2, minutes=1)
    assert worker.tick().processes_started == 1
    assert [i.business_key for i in instances(db, "start_cycle")] == [
        "start_cycle-20260302020000", "start_cycle-20260302030000"]
    plan = schedule(db, "start_cycle")
    assert (plan.next_due, plan.remaining, plan.started_count) == (None, 0, 2)

    for hours in (3, 4, 8, 30):  # R2: never a third
        at(traveller, hours=hours, minutes=1)
        assert worker.tick().processes_started == 0
    assert len(instances(db, "start_cycle")) == 2


def test_cycle_start_timer_instance_fires_its_start_event_once_at_once(pe, db, deploy, traveller, worker):
    """Each started instance is one occurrence: its start event fires when it is created and its flow runs
    once; the cycle is the schedule's business, not the instance's."""
    deploy("timers/start_cycle.bpmn")
    started = at(traveller, minutes=61)
    assert worker.tick().processes_started == 1
    (one,) = instances(db, "start_cycle")
    assert rows_of(db, one.id) == [("inspect", "ready")]
    assert fired(db, one.id) == [("hourly", started)]
    assert next_timer(db, one.id) is None

    at(traveller, hours=2, minutes=1)
    worker.tick()
    at(traveller, hours=6)
    worker.tick()
    one, two = instances(db, "start_cycle")
    assert rows_of(db, one.id) == [("inspect", "ready")]
    assert rows_of(db, two.id) == [("inspect", "ready")]
    assert len(fired(db, one.id)) == len(fired(db, two.id)) == 1


def test_date_start_timer_starts_one_instance_in_the_root_org(pe, db, deploy, traveller, worker):
    deploy("timers/start_date.bpmn")
    noon_beijing = utc(2026, 3, 2, 4, 0)
    plan = schedule(db, "start_date")
    assert plan is not None
    assert (plan.next_due, plan.remaining, plan.org_code) == (noon_beijing, 1, None)

    at(traveller, hours=2, minutes=59)
    assert quiet(worker.tick())
    assert instances(db, "start_date") == []

    moment = at(traveller, hours=3, minutes=1)
    assert worker.tick().processes_started == 1
    (one,) = instances(db, "start_date")
    assert (one.business_key, one.started_by_id, org_code(db, one.org_unit_id)) == (
        "start_date-20260302040000", None, "GD")
    assert rows_of(db, one.id) == [("inspect", "ready")]
    assert fired(db, one.id) == [("at_noon", moment)]
    assert next_timer(db, one.id) is None
    plan = schedule(db, "start_date")
    assert (plan.next_due, plan.remaining, plan.started_count) == (None, 0, 1)
    assert quiet(worker.tick())

    at(traveller, days=2)
    assert quiet(worker.tick())
    assert len(instances(db, "start_date")) == 1


def test_duration_start_timer_instance_starts_its_work_at_once(pe, db, deploy, traveller, worker):
    content = bpmn("timers/start_date.bpmn").replace(
        b'<bpmn:timeDate>"2026-03-02T12:00:00+08:00"</bpmn:timeDate>', b'<bpmn:timeDuration>"PT2H"</bpmn:timeDuration>')
    deploy("timers/start_date.bpmn", content)
    plan = schedule(db, "start_date")
    assert (plan.next_due, plan.remaining) == (T0 + timedelta(hours=2), 1)
    at(traveller, hours=1, minutes=59)
    assert quiet(worker.tick())
    moment = at(traveller, hours=2, minutes=1)
    assert worker.tick().processes_started == 1
    (one,) = instances(db, "start_date")
    assert one.business_key == "start_date-20260302030000"
    assert rows_of(db, one.id) == [("inspect", "ready")]  # the two hours were waited for by the schedule
    assert fired(db, one.id) == [("at_noon", moment)]
    assert next_timer(db, one.id) is None


def test_deploying_the_same_file_again_keeps_the_schedule(pe, db, deploy, traveller, worker):
    deploy("timers/start_cycle.bpmn")
    at(traveller, minutes=61)
    assert worker.tick().processes_started == 1
    at(traveller, minutes=90)
    (again,) = deploy("timers/start_cycle.bpmn")
    assert (again.version, again.created) == (1, False)
    plan = schedule(db, "start_cycle")
    assert (plan.next_due, plan.remaining, plan.started_count) == (T0 + timedelta(hours=2), 1, 1)


def test_a_new_version_without_a_start_timer_drops_the_schedule(pe, db, deploy, traveller, worker):
    deploy("timers/start_cycle.bpmn")
    assert schedule(db, "start_cycle") is not None
    plain = bpmn("timers/start_cycle.bpmn").replace(
        b'<bpmn:timerEventDefinition id="hourly_def"><bpmn:timeCycle>"R2/PT1H"</bpmn:timeCycle>'
        b'</bpmn:timerEventDefinition>', b"")
    (result,) = deploy("timers/start_cycle.bpmn", plain)
    assert (result.version, result.created) == (2, True)
    assert schedule(db, "start_cycle") is None
    at(traveller, hours=3)
    assert worker.tick().processes_started == 0


# -- timers refused at deploy ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "quoted", "element"), [
    ("timers/wait_duration.bpmn", b'"PT1H"', "wait_hour"),
    ("timers/wait_date.bpmn", b'"2026-03-02T12:00:00+08:00"', "noon"),
    ("timers/boundary_cycle.bpmn", b'"R3/PT10M"', "every10"),
    ("timers/start_cycle.bpmn", b'"R2/PT1H"', "hourly"),
])
def test_unquoted_timer_is_refused_at_deploy(pe, db, deploy, name, quoted, element):
    content = bpmn(name)
    assert quoted in content
    with pytest.raises(BpmnValidationError) as err:
        deploy(name, content.replace(quoted, quoted.strip(b'"')))
    assert [(i.rule, i.element_id) for i in err.value.issues] == [("bad-timer", element)]
    assert "must be quoted" in err.value.issues[0].message
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
        assert s.scalar(select(func.count()).select_from(TimerSchedule)) == 0


def test_start_timer_computed_from_data_is_refused_at_deploy(pe, db, deploy):
    """A start timer has no instance data to compute from: its value must be a literal text."""
    content = bpmn("timers/start_cycle.bpmn").replace(b'"R2/PT1H"', b"every_hour")
    with pytest.raises(BpmnValidationError) as err:
        deploy("timers/start_cycle.bpmn", content)
    assert [(i.rule, i.element_id) for i in err.value.issues] == [("bad-timer", "hourly")]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TimerSchedule)) == 0
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == 0
