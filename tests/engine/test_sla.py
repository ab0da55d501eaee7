"""SLA levels the worker's scan fires (warning, overdue, escalation), the SMS they send through the job queue,
suspension and urging; and the job queue itself: backoff, incidents, retry, idempotency keys.

The engine runs on the test's hand-moved clock with the application's handlers (SMS: outbox backend) and a
job kind that fails while the test's switch is on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.core import ProcessEngine
from engine.errors import InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.jobs.models import Job
from engine.jobs.service import enqueue
from engine.registry import JobContext
from engine.runtime.models import Incident
from engine.tasks.models import HumanTask
from engine.worker import Worker
from handlers import build_registry
from handlers.sms.models import SmsMessage
from tests.conftest import FakeClock, Switch, user, utc

PHONES = {"alice": "13800000001", "anna": "13800000002", "carol": "13800000003", "sup": "13900000001",
          "boss": "13900000009"}


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def pe(clock: FakeClock, switch: Switch) -> ProcessEngine:
    """The application's handlers plus a job kind ``test.fail`` that raises while the switch is on."""
    registry = build_registry()

    def fail(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
        switch.calls += 1
        if switch.failing:
            raise ConnectionError("CRM unreachable (simulated)")
        return {"ok": True, "attempt": ctx.attempt}

    registry.register_job("test.fail", fail)
    return ProcessEngine(registry, clock=clock)


@pytest.fixture
def worker(pe, db) -> Worker:  # type: ignore[no-untyped-def]
    return Worker(pe, db.sessions, "test-worker")


@pytest.fixture
def phones(pe, db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Give some users phone numbers (bob and mike keep none); returns every test user's id. The flows' users
    of the test world (gz_*, sz_*, gd_*) are made inactive: these scenarios count the classic holders only."""
    with db.sessions.begin() as s:
        for username, phone in PHONES.items():
            user(s, pe, username).phone = phone
        for other in s.scalars(select(User).where(User.username.like("gz\\_%", escape="\\")
                                                  | User.username.like("sz\\_%", escape="\\")
                                                  | User.username.like("gd\\_%", escape="\\"))):
            other.is_active = False
        return {name: user(s, pe, name).id
                for name in ("alice", "anna", "bob", "mike", "carol", "sup", "boss", "admin")}


# -- helpers -----------------------------------------------------------------------------------------------
def start(pe, db, process_key: str = "sla_24x7", business_key: str = "WO-1",  # type: ignore[no-untyped-def]
          starter: str = "alice", data: dict[str, Any] | None = None) -> tuple[int, int]:
    """Start an instance; its id and the id of its one new task."""
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key, data=data or {},
                                  actor=user(s, pe, starter))
        (task,) = result.tasks
        return result.instance.id, task.id


def task_row(db, task_id: int) -> HumanTask:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row


def act(pe, db, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, user(s, pe, username), *args, **kwargs)


def events(db, instance_id: int, *types: str) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance_id,
                                                         HistoryEvent.event_type.in_(types))
                              .order_by(HistoryEvent.id)))


def jobs(db, kind: str = "sms.send") -> list[Job]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def messages(db, template: str | None = None) -> list[SmsMessage]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        query = select(SmsMessage).order_by(SmsMessage.id)
        if template:
            query = query.where(SmsMessage.template == template)
        return list(s.scalars(query))


def sent(db, template: str) -> list[tuple[int | None, str, str]]:  # type: ignore[no-untyped-def]
    """(user, phone, status) of each message of the template, in the order written."""
    return [(m.user_id, m.phone, m.status) for m in messages(db, template)]


def tick_until_quiet(worker: Worker, times: int = 3) -> None:
    for _ in range(times):
        report = worker.tick()
        assert (report.sla_levels, report.jobs_done, report.jobs_retried, report.errors) == (0, 0, 0, 0), report


def warning_text(key: str, due: str) -> str:
    return f"【EOMS】预警：工单{key}的“抢修”环节将于{due}到期，请尽快处理。"


# -- warning, overdue, escalation ---------------------------------------------------------------------------
def test_warning_then_overdue_and_escalation_on_the_24x7_calendar(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    t0 = clock.now
    iid, tid = start(pe, db)
    row = task_row(db, tid)
    assert (row.warn_at, row.due_at, row.calendar) == (t0 + timedelta(hours=3), t0 + timedelta(hours=4), "24x7")

    clock.advance(hours=2, minutes=59)
    tick_until_quiet(worker, 1)
    assert (task_row(db, tid).warned_at, jobs(db), events(db, iid, "task_warned")) == (None, [], [])

    warned = clock.advance(minutes=2)
    report = worker.tick()
    assert (report.sla_levels, report.jobs_done, report.errors) == (1, 1, 0)
    row = task_row(db, tid)
    assert (row.warned_at, row.overdue_at) == (warned, None)
    (event,) = events(db, iid, "task_warned")
    assert (event.human_task_id, event.node_id, event.at) == (tid, "fix", warned)
    assert event.payload == {"to": [phones["alice"], phones["anna"]], "due_at": row.due_at.isoformat()}
    (job,) = jobs(db)
    assert (job.idempotency_key, job.status, job.attempts, job.instance_id) == (f"sla-warning:{tid}", "done", 1, iid)
    assert job.payload["template"] == "warning"
    # unclaimed: every dispatcher of GZ; the due time is shown in Beijing time (Mon 13:00)
    assert sent(db, "warning") == [(phones["alice"], PHONES["alice"], "stored"),
                                   (phones["anna"], PHONES["anna"], "stored")]
    assert {m.text for m in messages(db)} == {warning_text("WO-1", "03-02 13:00")}
    assert {(m.backend, m.instance_id, m.job_id) for m in messages(db)} == {("outbox", iid, job.id)}
    tick_until_quiet(worker)
    clock.advance(minutes=30)
    tick_until_quiet(worker)
    assert (len(jobs(db)), len(messages(db)), len(events(db, iid, "task_warned"))) == (1, 2, 1)

    clock.advance(minutes=28)  # t0 + 3h59: not yet due
    tick_until_quiet(worker, 1)
    overdue = clock.advance(minutes=2)
    report = worker.tick()
    assert (report.sla_levels, report.jobs_done, report.errors) == (1, 2, 0)
    row = task_row(db, tid)
    assert (row.warned_at, row.overdue_at, row.status) == (warned, overdue, "ready")
    late, escalated = events(db, iid, "task_overdue", "task_escalated")
    assert (late.event_type, late.at, late.human_task_id) == ("task_overdue", overdue, tid)
    assert late.payload == {"to": [phones["alice"], phones["anna"]], "due_at": row.due_at.isoformat()}
    assert (escalated.event_type, escalated.at, escalated.human_task_id) == ("task_escalated", overdue, tid)
    assert escalated.payload == {"to": [phones["sup"]]}
    assert [(j.idempotency_key, j.status) for j in jobs(db)] == [
        (f"sla-warning:{tid}", "done"), (f"sla-overdue:{tid}", "done"), (f"sla-escalation:{tid}", "done")]
    assert sent(db, "overdue") == [(phones["alice"], PHONES["alice"], "stored"),
                                   (phones["anna"], PHONES["anna"], "stored")]
    assert {m.text for m in messages(db, "overdue")} == {
        "【EOMS】超时：工单WO-1的“抢修”环节已于03-02 13:00超时，请立即处理。"}
    (boss_sms,) = messages(db, "escalation")
    assert (boss_sms.user_id, boss_sms.phone, boss_sms.text) == (
        phones["sup"], PHONES["sup"], "【EOMS】超时升级：工单WO-1的“抢修”环节已于03-02 13:00超时，当前处理人：未签收。")
    for hours in (0, 1, 24):
        clock.advance(hours=hours)
        tick_until_quiet(worker, 2)
    assert len(events(db, iid, "task_warned", "task_overdue", "task_escalated")) == 3
    assert (len(jobs(db)), len(messages(db))) == (3, 5)


def test_claimed_task_notifies_only_the_assignee(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, tid = start(pe, db, business_key="WO-7")
    act(pe, db, "claim", tid, "anna")
    clock.advance(hours=3, seconds=1)
    assert worker.tick().sla_levels == 1
    assert events(db, iid, "task_warned")[0].payload["to"] == [phones["anna"]]
    assert sent(db, "warning") == [(phones["anna"], PHONES["anna"], "stored")]
    assert messages(db)[0].text == warning_text("WO-7", "03-02 13:00")
    clock.advance(hours=1)
    assert worker.tick().sla_levels == 1
    assert sent(db, "overdue") == [(phones["anna"], PHONES["anna"], "stored")]
    (escalation,) = messages(db, "escalation")
    assert (escalation.user_id, escalation.text) == (
        phones["sup"], "【EOMS】超时升级：工单WO-7的“抢修”环节已于03-02 13:00超时，当前处理人：安娜。")


def test_users_without_a_phone_are_recorded_not_texted(pe, db, deploy, clock, worker, phones):
    with db.sessions.begin() as s:
        user(s, pe, "anna").phone = None
    deploy("timers/sla_24x7.bpmn")
    start(pe, db)
    clock.advance(hours=3, minutes=1)
    worker.tick()
    assert sent(db, "warning") == [(phones["alice"], PHONES["alice"], "stored"), (phones["anna"], "", "no_phone")]


def test_warn_and_due_passed_in_one_tick_fire_each_level_once(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, tid = start(pe, db)
    now = clock.advance(hours=5)  # the worker was down: both levels are due at once
    report = worker.tick()
    assert (report.sla_levels, report.jobs_done, report.errors) == (2, 3, 0)
    row = task_row(db, tid)
    assert (row.warned_at, row.overdue_at) == (now, now)
    assert [e.event_type for e in events(db, iid, "task_warned", "task_overdue", "task_escalated")] == [
        "task_warned", "task_overdue", "task_escalated"]
    for _ in range(5):
        clock.advance(minutes=7)
        tick_until_quiet(worker, 1)
    assert [len(messages(db, t)) for t in ("warning", "overdue", "escalation")] == [2, 2, 1]
    assert len(jobs(db)) == 3


def test_escalation_goes_up_to_the_nearest_unit_with_a_supervisor(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, _ = start(pe, db, business_key="SZ-1", starter="carol")  # SZ has no supervisor of its own
    clock.advance(hours=4, minutes=1)
    assert worker.tick().sla_levels == 2
    warned, late, escalated = events(db, iid, "task_warned", "task_overdue", "task_escalated")
    assert warned.payload["to"] == late.payload["to"] == [phones["carol"]]
    assert escalated.payload == {"to": [phones["boss"]]}
    assert sent(db, "escalation") == [(phones["boss"], PHONES["boss"], "stored")]
    assert sent(db, "overdue") == [(phones["carol"], PHONES["carol"], "stored")]
    assert not [m for m in messages(db) if m.user_id == phones["sup"]]


def test_each_occurrence_of_a_task_is_warned_once(pe, db, deploy, clock, worker, phones):
    """review_loop's fix step (4 h, warning at 75 %): sent back for rework it is a new occurrence."""
    deploy("review_loop.bpmn")
    iid, fix1 = start(pe, db, "review_loop", data={"rounds": 0, "approved": False})
    clock.advance(hours=3, minutes=1)
    assert worker.tick().sla_levels == 1
    (review,) = act(pe, db, "complete", fix1, "alice", {})
    (fix2,) = act(pe, db, "complete", review.id, "bob", {"approved": False})
    assert fix2.node_id == "fix" and fix2.id != fix1
    tick_until_quiet(worker, 1)
    clock.advance(hours=3, minutes=1)
    assert worker.tick().sla_levels == 1
    assert [e.human_task_id for e in events(db, iid, "task_warned")] == [fix1, fix2.id]
    assert [j.idempotency_key for j in jobs(db)] == [f"sla-warning:{fix1}", f"sla-warning:{fix2.id}"]
    assert task_row(db, fix1).overdue_at is None  # completed before it was due: never overdue
    clock.advance(hours=5)
    worker.tick()
    assert [e.human_task_id for e in events(db, iid, "task_overdue")] == [fix2.id]


def test_workday_calendar_counts_only_working_hours(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_workday.bpmn")
    clock.now = utc(2026, 3, 2, 8, 0)  # Monday 16:00 in Beijing: 1.5 working hours left today
    iid, tid = start(pe, db, "sla_workday")
    row = task_row(db, tid)
    warn_at, due_at = utc(2026, 3, 3, 2, 0), utc(2026, 3, 3, 3, 0)  # Tuesday 10:00 and 11:00 in Beijing
    assert (row.warn_at, row.due_at, row.calendar) == (warn_at, due_at, "workday")

    clock.advance(hours=4, minutes=1)  # Monday 20:01: a 24x7 task would be overdue by now
    tick_until_quiet(worker, 1)
    clock.now = warn_at - timedelta(minutes=1)
    tick_until_quiet(worker, 1)
    assert task_row(db, tid).warned_at is None

    clock.now = warn_at + timedelta(minutes=1)
    assert worker.tick().sla_levels == 1
    assert task_row(db, tid).warned_at == clock.now
    assert {m.text for m in messages(db)} == {warning_text("WO-1", "03-03 11:00")}
    clock.now = due_at - timedelta(seconds=1)
    tick_until_quiet(worker, 1)
    clock.now = due_at
    assert worker.tick().sla_levels == 1
    assert task_row(db, tid).overdue_at == due_at
    assert len(events(db, iid, "task_escalated")) == 1


def test_task_without_a_warning_lead_is_only_flagged_overdue(pe, db, deploy, clock, worker, phones):
    deploy("tasks/quick.bpmn")  # triage: PT1H on 24x7, no warnBefore / warnPercent
    iid, tid = start(pe, db, "quick")
    _, done = start(pe, db, "quick", business_key="WO-2")
    act(pe, db, "complete", done, "anna", {})
    assert task_row(db, tid).warn_at is None
    clock.advance(minutes=59)
    tick_until_quiet(worker, 1)
    clock.advance(minutes=2)
    assert worker.tick().sla_levels == 1  # the completed task of WO-2 is not overdue
    assert [e.event_type for e in events(db, iid, "task_warned", "task_overdue", "task_escalated")] == [
        "task_overdue", "task_escalated"]
    assert (messages(db, "warning"), len(messages(db, "overdue")), len(messages(db, "escalation"))) == ([], 2, 1)
    assert {m.text for m in messages(db, "overdue")} == {
        "【EOMS】超时：工单WO-1的“Triage”环节已于03-02 10:00超时，请立即处理。"}
    tick_until_quiet(worker)


# -- suspend and resume ------------------------------------------------------------------------------------
def test_suspended_task_is_not_warned_and_resume_shifts_its_deadlines(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    t0 = clock.now
    iid, tid = start(pe, db)
    clock.advance(hours=1)
    act(pe, db, "suspend", tid, "alice", reason="等待备件")
    clock.advance(hours=2, minutes=30)  # t0 + 3h30: past warn_at
    tick_until_quiet(worker, 1)
    clock.advance(hours=1, minutes=30)  # t0 + 5h: past due_at too
    tick_until_quiet(worker, 1)
    row = task_row(db, tid)
    assert (row.warned_at, row.overdue_at) == (None, None)
    assert (jobs(db), messages(db)) == ([], [])

    act(pe, db, "resume", tid, "alice", reason="备件到了")  # suspended for 4 h
    row = task_row(db, tid)
    assert (row.warn_at, row.due_at, row.paused_seconds, row.suspended_at) == (
        t0 + timedelta(hours=7), t0 + timedelta(hours=8), 4 * 3600, None)
    (resumed,) = events(db, iid, "task_resumed")
    assert resumed.payload["paused_seconds"] == 4 * 3600
    assert resumed.payload["due_at"] == (t0 + timedelta(hours=8)).isoformat()
    tick_until_quiet(worker, 1)

    clock.now = t0 + timedelta(hours=6, minutes=59)
    tick_until_quiet(worker, 1)
    clock.now = t0 + timedelta(hours=7, minutes=1)
    assert worker.tick().sla_levels == 1
    assert {m.text for m in messages(db)} == {warning_text("WO-1", "03-02 17:00")}
    clock.now = t0 + timedelta(hours=7, minutes=59)
    tick_until_quiet(worker, 1)
    clock.now = t0 + timedelta(hours=8, minutes=1)
    assert worker.tick().sla_levels == 1
    assert task_row(db, tid).overdue_at == clock.now
    assert [e.event_type for e in events(db, iid, "task_warned", "task_overdue", "task_escalated")] == [
        "task_warned", "task_overdue", "task_escalated"]


def test_task_suspended_after_its_warning_is_not_flagged_overdue_while_suspended(
        pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, tid = start(pe, db)
    clock.advance(hours=3, minutes=1)
    assert worker.tick().sla_levels == 1
    act(pe, db, "suspend", tid, "alice", reason="客户不在")
    clock.advance(hours=2)
    tick_until_quiet(worker, 1)
    assert task_row(db, tid).overdue_at is None
    act(pe, db, "resume", tid, "alice")
    row = task_row(db, tid)
    assert row.due_at == clock.now + timedelta(minutes=59)  # 59 minutes were left when it was suspended
    clock.advance(hours=1)
    assert worker.tick().sla_levels == 1
    assert len(events(db, iid, "task_warned")) == 1  # the warning is not repeated
    assert len(events(db, iid, "task_overdue")) == 1


def test_resume_on_the_workday_calendar_shifts_by_the_working_time_paused(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_workday.bpmn")
    iid, tid = start(pe, db, "sla_workday")  # Monday 09:00 in Beijing: warn 12:00, due 14:30
    row = task_row(db, tid)
    assert (row.warn_at, row.due_at) == (utc(2026, 3, 2, 4, 0), utc(2026, 3, 2, 6, 30))
    clock.now = utc(2026, 3, 2, 3, 0)  # 11:00
    act(pe, db, "suspend", tid, "alice", reason="等待客户")
    clock.now = utc(2026, 3, 2, 7, 0)  # 15:00: 4 h later, 2.5 h of them working time (11-12, 13:30-15)
    tick_until_quiet(worker, 1)
    act(pe, db, "resume", tid, "alice")
    row = task_row(db, tid)
    # paused_seconds holds the counted (working) time of the pause
    assert (row.warn_at, row.due_at, row.paused_seconds) == (utc(2026, 3, 2, 8, 0), utc(2026, 3, 2, 9, 0),
                                                             int(2.5 * 3600))
    tick_until_quiet(worker, 1)
    clock.now = utc(2026, 3, 2, 8, 1)  # 16:01
    assert worker.tick().sla_levels == 1
    assert {m.text for m in messages(db)} == {warning_text("WO-1", "03-02 17:00")}
    assert len(events(db, iid, "task_warned")) == 1


# -- urge --------------------------------------------------------------------------------------------------
def test_urge_by_the_supervisor_texts_the_assignee(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, tid = start(pe, db)
    act(pe, db, "claim", tid, "anna")
    clock.advance(minutes=10)
    act(pe, db, "urge", tid, "sup", note="客户在催")
    (event,) = events(db, iid, "task_urged")
    assert (event.actor_id, event.human_task_id, event.payload) == (
        phones["sup"], tid, {"note": "客户在催", "to": [phones["anna"]]})
    (job,) = jobs(db)
    assert (job.status, job.idempotency_key) == ("pending", f"urge:{tid}:{event.id}")
    report = worker.tick()
    assert (report.jobs_done, report.sla_levels) == (1, 0)
    (sms,) = messages(db)
    assert (sms.template, sms.user_id, sms.phone, sms.status, sms.text) == (
        "urge", phones["anna"], PHONES["anna"], "stored",
        "【EOMS】催办：主管甲催办工单WO-1的“抢修”环节，请尽快处理。客户在催")

    act(pe, db, "urge", tid, "boss", note="再催")  # a supervisor above the unit may urge too
    worker.tick()
    assert len(events(db, iid, "task_urged")) == 2
    assert [m.text.endswith("再催") for m in messages(db, "urge")] == [False, True]


def test_urge_without_a_note_is_delivered(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    _, tid = start(pe, db)
    act(pe, db, "urge", tid, "sup")  # unclaimed: every dispatcher of the unit
    report = worker.tick()
    assert (report.jobs_done, report.jobs_retried) == (1, 0), jobs(db)[0].last_error
    assert sent(db, "urge") == [(phones["alice"], PHONES["alice"], "stored"),
                                (phones["anna"], PHONES["anna"], "stored")]


def test_urge_is_for_supervisors_of_the_task_unit(pe, db, deploy, clock, worker, phones):
    deploy("timers/sla_24x7.bpmn")
    iid, tid = start(pe, db)
    _, sz_task = start(pe, db, business_key="SZ-1", starter="carol")
    act(pe, db, "claim", tid, "anna")
    for plain in ("alice", "anna"):  # they see the task (anna has it) but may not urge it
        with pytest.raises(NotAllowed):
            act(pe, db, "urge", tid, plain, note="快点")
    with pytest.raises(NotFound):  # bob, a reviewer, does not even see a dispatcher task
        act(pe, db, "urge", tid, "bob", note="快点")
    with pytest.raises(NotFound):  # sup oversees GZ only; an SZ task does not exist for him
        act(pe, db, "urge", sz_task, "sup", note="快点")
    act(pe, db, "complete", tid, "anna", {})
    with pytest.raises(InvalidState):
        act(pe, db, "urge", tid, "sup", note="快点")
    assert events(db, iid, "task_urged") == []
    assert jobs(db) == []


# -- the job queue -----------------------------------------------------------------------------------------
def test_failing_job_backs_off_becomes_an_incident_and_recovers_on_retry(pe, db, clock, worker, switch):
    t0 = clock.now
    with db.sessions.begin() as s:
        job_id = enqueue(s, "test.fail", {"order": "A-1"}, "crm:A-1", now=t0, max_attempts=4).id

    # attempt n fails at t and is due again at t + 10 s * 2^(n-1)
    schedule = [(t0, 1, 10), (t0 + timedelta(seconds=10), 2, 20), (t0 + timedelta(seconds=30), 3, 40)]
    for moment, attempt, wait in schedule:
        clock.now = moment - timedelta(seconds=1)
        if attempt > 1:
            tick_until_quiet(worker, 1)
        clock.now = moment
        report = worker.tick()
        assert (report.jobs_done, report.jobs_retried, report.errors) == (0, 1, 0)
        with db.sessions() as s:
            job = s.get(Job, job_id)
            assert (job.status, job.attempts, job.due_at) == ("pending", attempt, moment + timedelta(seconds=wait))
            assert job.last_error == "ConnectionError: CRM unreachable (simulated)"
            assert (job.locked_by, job.locked_until) == (None, None)
        with db.sessions() as s:
            assert s.scalars(select(Incident)).all() == []
    clock.now = t0 + timedelta(seconds=69)
    tick_until_quiet(worker, 1)
    failed_at = clock.now = t0 + timedelta(seconds=70)
    assert worker.tick().jobs_retried == 1
    with db.sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts, job.finished_at) == ("failed", 4, failed_at)
        (incident,) = s.scalars(select(Incident)).all()
        assert (incident.kind, incident.status, incident.job_id, incident.node_id, incident.attempts,
                incident.instance_id) == ("job", "open", job_id, "test.fail", 4, None)
        assert "CRM unreachable" in incident.message
    assert switch.calls == 4
    clock.advance(hours=5)
    tick_until_quiet(worker)
    assert switch.calls == 4

    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "alice"))
    switch.failing = False
    retried_at = clock.advance(minutes=1)
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident.id, actor=user(s, pe, "admin"))
    with db.sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts, job.due_at, job.finished_at) == ("pending", 0, retried_at, None)
        assert s.get(Incident, incident.id).status == "open"  # resolved only when the job succeeds
    report = worker.tick()
    assert (report.jobs_done, report.jobs_retried) == (1, 0)
    with db.sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.attempts, job.result, job.last_error) == ("done", 1, {"ok": True, "attempt": 1}, None)
        done = s.get(Incident, incident.id)
        assert (done.status, done.resolved_at) == ("resolved", retried_at)
    assert switch.calls == 5
    tick_until_quiet(worker)


def test_retried_job_that_still_fails_keeps_one_incident(pe, db, clock, worker, switch):
    with db.sessions.begin() as s:
        job_id = enqueue(s, "test.fail", {}, "crm:B-2", now=clock.now, max_attempts=2).id
    worker.tick()
    clock.advance(seconds=10)
    worker.tick()
    with db.sessions() as s:
        (incident,) = s.scalars(select(Incident)).all()
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident.id, actor=None)
    worker.tick()
    clock.advance(seconds=10)
    worker.tick()
    with db.sessions() as s:
        assert s.get(Job, job_id).status == "failed"
        (again,) = s.scalars(select(Incident)).all()
        assert (again.id, again.status, again.attempts) == (incident.id, "open", 2)
    assert switch.calls == 4


def test_same_idempotency_key_makes_one_job(pe, db, clock, worker, switch):
    switch.failing = False
    with db.sessions.begin() as s:
        first = enqueue(s, "test.fail", {"n": 1}, "crm:C-3", now=clock.now)
        again = enqueue(s, "test.fail", {"n": 2}, "crm:C-3", now=clock.now)
        assert again.id == first.id
    clock.advance(minutes=1)
    with db.sessions.begin() as s:
        later = pe.jobs.enqueue(s, "test.fail", {"n": 3}, "crm:C-3")
        assert later.id == first.id
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
        assert s.get(Job, first.id).payload == {"n": 1}
    assert worker.tick().jobs_done == 1
    with db.sessions.begin() as s:  # even once the job is done, the key stays taken
        assert enqueue(s, "test.fail", {"n": 4}, "crm:C-3", now=clock.now).id == first.id
    tick_until_quiet(worker)
    assert switch.calls == 1


def test_job_due_later_waits(pe, db, clock, worker, switch):
    switch.failing = False
    with db.sessions.begin() as s:
        enqueue(s, "test.fail", {}, "crm:D-4", now=clock.now, due_at=clock.now + timedelta(minutes=5))
    tick_until_quiet(worker, 1)
    clock.advance(minutes=5)
    assert worker.tick().jobs_done == 1
    assert switch.calls == 1


def test_job_claimed_by_a_worker_that_died_is_taken_over_after_its_lease(pe, db, clock, switch):
    switch.failing = False
    with db.sessions.begin() as s:
        job_id = enqueue(s, "test.fail", {}, "crm:E-5", now=clock.now).id
    with db.sessions.begin() as s:
        assert pe.jobs.claim(s, "dead-worker") == [job_id]  # … and the worker dies before running it
    with db.sessions() as s:
        job = s.get(Job, job_id)
        assert (job.status, job.locked_by, job.locked_until) == ("running", "dead-worker",
                                                                  clock.now + timedelta(seconds=60))
    other = Worker(pe, db.sessions, "other-worker")
    clock.advance(seconds=59)
    tick_until_quiet(other, 1)
    assert switch.calls == 0
    clock.advance(seconds=2)
    assert other.tick().jobs_done == 1
    with db.sessions() as s:
        job = s.get(Job, job_id)
        # each claim counts an attempt (committed before the job runs), so the dead worker's claim counts too
        assert (job.status, job.attempts, job.locked_by) == ("done", 2, None)
    with db.sessions.begin() as s:  # the dead worker coming back cannot run it a second time
        assert pe.jobs.run(s, job_id, "dead-worker") == "skipped"
    assert switch.calls == 1
