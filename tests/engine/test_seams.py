"""The engine's seams: notices leave the engine as listener calls (SMS is the handlers' business), statuses are
kept by CHECK constraints, error codes are stable, and the status migration keeps the partial queue indexes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from engine.core import ProcessEngine
from engine.errors import Code, ConcurrencyConflict, EomsError, InvalidInput, NotAllowed
from engine.jobs.models import Job, JobStatus
from engine.jobs.service import enqueue
from engine.registry import HandlerRegistry
from engine.runtime.models import IncidentStatus, InstanceStatus
from engine.sla.notices import NOTICE_EVENTS, Notice
from engine.tasks.models import TaskStatus
from engine.worker import Worker
from tests.conftest import FakeClock, bpmn, user
from tests.engine.test_sla import act, start

PARTIAL_INDEXES = {"ix_human_task_warn_pending", "ix_human_task_due_pending", "ix_job_pending_due",
                   "ix_job_running_lock", "uq_process_instance_open_business_key"}


@pytest.fixture
def heard() -> list[tuple[str, Notice]]:
    return []


@pytest.fixture
def bare_pe(clock: FakeClock, heard: list[tuple[str, Notice]]) -> ProcessEngine:
    """An engine with no handlers package at all: only a listener that writes down every notice."""
    registry = HandlerRegistry()
    for event in NOTICE_EVENTS:
        registry.on(event, lambda ctx, notice: heard.append((notice.event, notice)))
    return ProcessEngine(registry, clock=clock)


def test_deadline_levels_and_urges_reach_listeners_and_the_engine_itself_sends_nothing(bare_pe, db, clock,
                                                                                        heard):
    pe = bare_pe
    with db.sessions.begin() as s:
        pe.repository.deploy(s, bpmn("timers/sla_24x7.bpmn"), "sla_24x7.bpmn")
    _, tid = start(pe, db)
    worker = Worker(pe, db.sessions, "seams")
    clock.advance(hours=3, seconds=1)
    assert worker.tick().sla_levels == 1
    clock.advance(hours=1)
    assert worker.tick().sla_levels == 1
    act(pe, db, "urge", tid, "sup", note="快点")
    assert [event for event, _ in heard] == ["task_warned", "task_overdue", "task_escalated", "task_urged"]
    warned, overdue, escalated, urged = (notice for _, notice in heard)
    assert (warned.key, overdue.key, escalated.key) == (f"sla-warning:{tid}", f"sla-overdue:{tid}",
                                                        f"sla-escalation:{tid}")
    with db.sessions() as s:
        holders = sorted(u.id for u in pe.identity.holders(s, warned.task.post_id, warned.task.org_unit_id))
        assert sorted(warned.recipients) == holders and holders
        assert escalated.recipients == [user(s, pe, "sup").id]
        assert (urged.actor.username, urged.details) == ("sup", {"note": "快点"})
        assert urged.key.startswith(f"urge:{tid}:")
        # no SMS handler is registered: the engine queued no job of its own
        assert s.scalars(select(Job)).all() == []


def test_an_unknown_error_code_is_refused():
    with pytest.raises(ValueError):
        EomsError("x", code="task.made_up")
    err = ConcurrencyConflict("task 3 is assigned to someone else", code=Code.TASK_CLAIMED_BY_OTHER,
                              details={"task": 3})
    assert err.to_dict() == {"code": "task.claimed_by_other", "message": "task 3 is assigned to someone else",
                             "details": {"task": 3}}
    assert InvalidInput("bad", {"reason": "required"}).to_dict()["details"] == {"fields": {"reason": "required"}}


def test_claimed_by_a_colleague_is_one_code_whichever_action_meets_it(pe, db, deploy):
    deploy("tasks/plain.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "plain", business_key="WO-9", data={}, actor=user(s, pe, "alice"))
        (task,) = result.tasks
        tid = task.id
    with db.sessions.begin() as s:
        pe.tasks.claim(s, tid, user(s, pe, "alice"))
    codes = set()
    for method, kwargs in (("claim", {}), ("unclaim", {}), ("complete", {"data": {}})):
        with db.sessions.begin() as s, pytest.raises(ConcurrencyConflict) as caught:
            getattr(pe.tasks, method)(s, tid, user(s, pe, "anna"), **kwargs)
        codes.add(caught.value.code)
    assert codes == {Code.TASK_CLAIMED_BY_OTHER}


@pytest.mark.parametrize(("table", "good"), [
    ("human_task", [s.value for s in TaskStatus]),
    ("process_instance", [s.value for s in InstanceStatus]),
    ("job", [s.value for s in JobStatus]),
])
def test_a_status_outside_its_enum_is_refused_by_the_database(pe, db, deploy, table, good):
    deploy("tasks/plain.bpmn")
    with db.sessions.begin() as s:
        pe.runtime.start(s, "plain", business_key="WO-1", data={}, actor=user(s, pe, "alice"))
        enqueue(s, "sms.send", {}, "check-1", now=pe.ctx.clock())
    for status in good:
        with db.sessions.begin() as s:
            s.execute(text(f"UPDATE {table} SET status = :s"), {"s": status})
    with pytest.raises(IntegrityError), db.sessions.begin() as s:
        s.execute(text(f"UPDATE {table} SET status = 'done_twice'"))
    with db.sessions() as s:
        assert s.execute(text(f"SELECT status FROM {table}")).scalars().all() == [good[-1]]


def test_incident_statuses_are_the_enum(pe, db):
    assert [s.value for s in IncidentStatus] == ["open", "resolved"]
    with db.sessions() as s:
        ddl = (s.execute(text("SELECT sql FROM sqlite_master WHERE name = 'incident'")).scalar()
               if db.kind == "sqlite" else
               s.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                              "WHERE conname = 'ck_incident_status'")).scalar())
    assert "'open'" in ddl and "'resolved'" in ddl


def test_status_migration_keeps_the_partial_indexes(db):
    with db.sessions() as s:
        if db.kind == "sqlite":
            rows = s.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        else:
            rows = s.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
        partial = {name for name, sql in rows if " WHERE " in sql.upper()}
    assert partial >= PARTIAL_INDEXES


def test_not_offered_and_step_rules_have_their_own_codes(pe, db, deploy):
    deploy("tasks/plain.bpmn")
    with db.sessions.begin() as s:
        (task,) = pe.runtime.start(s, "plain", business_key="WO-2", data={}, actor=user(s, pe, "alice")).tasks
        tid = task.id
    with db.sessions.begin() as s, pytest.raises(NotAllowed) as caught:
        pe.tasks.claim(s, tid, user(s, pe, "sup"))
    assert caught.value.code == Code.TASK_NOT_OFFERED
