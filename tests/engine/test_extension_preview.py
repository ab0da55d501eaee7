"""延期 through the engine: the preview of the new deadline on the task's own calendar — by a duration (hours on
24x7; days on ``workday`` are working days, so weekends and holidays are skipped) or to a chosen new deadline —
and request/grant taking either form, with the history keeping what was asked; refusals carry
``input.invalid`` and the field's problem, and change nothing.

2026 per ``chinesecalendar``: Mid-autumn Fri 09-25 (09-26/27 the weekend), National Day 10-01..07, Sat 10-10 a
make-up working day. Work windows 08:30–12:00 and 13:30–17:30 (7.5 working hours a day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.errors import Code, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.sla.calendar import SHANGHAI
from engine.sla.extension import MAX_EXTENSION_DAYS
from engine.tasks.models import HumanTask
from tests.conftest import user

STEP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_{key}"
    targetNamespace="http://eoms.example/bpmn">
  <bpmn:process id="{key}" name="Extension on {calendar}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="dispatcher">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>handle</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
    <bpmn:userTask id="handle" name="Handle">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="timeLimit" value="{limit}"/>
        <spiffworkflow:property name="warnBefore" value="PT2H"/>
        <spiffworkflow:property name="calendar" value="{calendar}"/>
        <spiffworkflow:property name="allow" value="{allow}"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def step(key: str, calendar: str, limit: str, allow: str = "transfer,extend") -> bytes:
    return STEP.format(key=key, calendar=calendar, limit=limit, allow=allow).encode()


def sh(text: str) -> datetime:
    """'2026-09-24 10:00' in Beijing time, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def start(pe, db, key: str, business_key: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, key, business_key=business_key, data={}, actor=user(s, pe, "alice"))
        return result.instance.id, result.tasks[0].id


def act(pe, db, method: str, task_id: int, username: str, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, user(s, pe, username), **kwargs)


def task_row(db, task_id: int) -> HumanTask:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row


def events(pe, db, instance_id: int, kind: str) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return [e for e in pe.history.timeline(s, instance_id) if e.event_type == kind]


@pytest.fixture
def continuous(pe, db, deploy, clock) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A 24x7 step of four hours arriving Mon 2026-03-02 09:00: due 13:00, warned 11:00."""
    deploy("ext_24x7.bpmn", step("ext_24x7", "24x7", "PT4H"))
    clock.now = sh("2026-03-02 09:00")
    return start(pe, db, "ext_24x7", "EXT-1")


@pytest.fixture
def workday(pe, db, deploy, clock) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A workday step of one working day arriving Thu 2026-09-24 10:00: Fri 09-25 is Mid-autumn and 09-26/27
    the weekend, so it is due Mon 09-28 10:00 (warned two working hours before: Thu 09-24 17:00)."""
    deploy("ext_workday.bpmn", step("ext_workday", "workday", "P1D"))
    clock.now = sh("2026-09-24 10:00")
    return start(pe, db, "ext_workday", "EXT-2")


def test_hours_on_a_24x7_step_are_previewed_asked_for_and_granted(pe, db, continuous):
    instance_id, task_id = continuous
    assert (task_row(db, task_id).due_at, task_row(db, task_id).warn_at) == (sh("2026-03-02 13:00"),
                                                                             sh("2026-03-02 11:00"))
    plan = act(pe, db, "preview_extension", task_id, "alice", by="PT4H")
    assert (plan.current, plan.due_at, plan.warn_at) == (sh("2026-03-02 13:00"), sh("2026-03-02 17:00"),
                                                         sh("2026-03-02 15:00"))
    assert (plan.calendar, plan.working, plan.added, plan.in_working_time) == ("24x7", False, timedelta(hours=4),
                                                                                True)
    assert act(pe, db, "preview_extension", task_id, "alice", by=f"P{MAX_EXTENSION_DAYS}D").due_at == sh(
        "2026-04-01 13:00")
    too_far = refusal(pe, db, "preview_extension", task_id, "alice", by=f"P{MAX_EXTENSION_DAYS}DT1S")
    assert too_far.details["latest"] == sh("2026-04-01 13:00").isoformat()
    assert task_row(db, task_id).due_at == sh("2026-03-02 13:00")  # a preview changes nothing

    act(pe, db, "request_extension", task_id, "alice", by="PT4H", reason="等待备件")
    (asked,) = events(pe, db, instance_id, "extension_requested")
    assert asked.payload == {"by": "PT4H", "reason": "等待备件", "to": [user_id(pe, db, "sup")],
                             "from": sh("2026-03-02 13:00").isoformat(), "proposed": sh("2026-03-02 17:00").isoformat()}
    assert task_row(db, task_id).due_at == sh("2026-03-02 13:00")  # asking moves nothing

    act(pe, db, "grant_extension", task_id, "sup", by="PT4H", reason="同意")
    row = task_row(db, task_id)
    assert (row.due_at, row.warn_at) == (sh("2026-03-02 17:00"), sh("2026-03-02 15:00"))
    (granted,) = events(pe, db, instance_id, "task_extended")
    assert granted.payload == {"by": "PT4H", "reason": "同意", "from": sh("2026-03-02 13:00").isoformat(),
                               "to": sh("2026-03-02 17:00").isoformat()}


def user_id(pe, db, username: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return int(user(s, pe, username).id)


def test_days_on_a_workday_step_skip_the_weekend_and_the_holidays(pe, db, workday):
    instance_id, task_id = workday
    assert task_row(db, task_id).due_at == sh("2026-09-28 10:00")
    # two working days after Mon 09-28 10:00: Tue 09-29, Wed 09-30
    plan = act(pe, db, "preview_extension", task_id, "sup", by="P2D")
    assert (plan.due_at, plan.calendar, plan.working, plan.added) == (sh("2026-09-30 10:00"), "workday", True,
                                                                      timedelta(hours=15))
    act(pe, db, "grant_extension", task_id, "sup", by="P2D", reason="客户出差")
    assert task_row(db, task_id).due_at == sh("2026-09-30 10:00")
    # three more: National Day 10-01..07 is skipped; Thu 10-08, Fri 10-09 and the make-up Saturday 10-10
    assert act(pe, db, "preview_extension", task_id, "alice", by="P3D").due_at == sh("2026-10-10 10:00")
    # eight working hours: 2 h and 4 h on Wed 09-30, then 2 h after the holiday, from 08:30 on Thu 10-08
    hours = act(pe, db, "preview_extension", task_id, "alice", by="PT8H")
    assert (hours.due_at, hours.added) == (sh("2026-10-08 10:30"), timedelta(hours=8))
    act(pe, db, "grant_extension", task_id, "boss", by="P3D", reason="国庆放假")
    row = task_row(db, task_id)
    assert row.due_at == sh("2026-10-10 10:00")
    # the warning moved the same working days: Thu 09-24 17:00 → Tue 09-29 17:00 → Fri 10-09 17:00
    assert row.warn_at == sh("2026-10-09 17:00")
    assert [e.payload["to"] for e in events(pe, db, instance_id, "task_extended")] == [
        sh("2026-09-30 10:00").isoformat(), sh("2026-10-10 10:00").isoformat()]


def test_a_new_deadline_on_a_workday_step(pe, db, workday):
    instance_id, task_id = workday
    # local time without an offset is Beijing time; the warning moves by the working time added
    plan = act(pe, db, "preview_extension", task_id, "alice", until="2026-09-29T15:00")
    # Mon 10:00-12:00 and 13:30-17:30 (6 h), Tue 08:30-12:00 and 13:30-15:00 (5 h)
    assert (plan.due_at, plan.added, plan.in_working_time) == (sh("2026-09-29 15:00"), timedelta(hours=11), True)
    act(pe, db, "request_extension", task_id, "alice", until="2026-09-29T15:00", reason="需要上门")
    (asked,) = events(pe, db, instance_id, "extension_requested")
    assert (asked.payload["until"], asked.payload["proposed"]) == (sh("2026-09-29 15:00").isoformat(),
                                                                  sh("2026-09-29 15:00").isoformat())
    assert "by" not in asked.payload
    evening = act(pe, db, "preview_extension", task_id, "sup", until=sh("2026-09-29 19:00"))
    assert (evening.due_at, evening.in_working_time) == (sh("2026-09-29 19:00"), False)  # kept as chosen
    act(pe, db, "grant_extension", task_id, "sup", until="2026-09-29 15:00", reason="同意")
    row = task_row(db, task_id)
    # the warning moved by the same 11 working hours (Thu 17:00 → Tue 11:30), so it stays 2 working hours before
    assert (row.due_at, row.warn_at) == (sh("2026-09-29 15:00"), sh("2026-09-29 11:30"))
    (granted,) = events(pe, db, instance_id, "task_extended")
    assert granted.payload == {"until": sh("2026-09-29 15:00").isoformat(), "reason": "同意",
                               "from": sh("2026-09-28 10:00").isoformat(), "to": sh("2026-09-29 15:00").isoformat()}


def refusal(pe, db, method: str, task_id: int, username: str, **kwargs: Any) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        act(pe, db, method, task_id, username, **kwargs)
    assert caught.value.code == Code.INPUT_INVALID
    return caught.value


def test_a_new_deadline_not_later_than_the_current_one_is_refused_and_nothing_changes(pe, db, workday, clock):
    instance_id, task_id = workday
    due = sh("2026-09-28 10:00")
    for until in ("2026-09-28T09:00", "2026-09-28T10:00"):
        for method, who in (("preview_extension", "alice"), ("request_extension", "alice"),
                            ("grant_extension", "sup")):
            extra = {} if method == "preview_extension" else {"reason": "早一点"}
            err = refusal(pe, db, method, task_id, who, until=until, **extra)
            assert err.details == {"fields": {"until": "not after the deadline"}, "due_at": due.isoformat()}
    assert task_row(db, task_id).due_at == due
    assert events(pe, db, instance_id, "extension_requested") == events(pe, db, instance_id, "task_extended") == []
    # once overdue, a new deadline between the old one and now is in the past
    clock.now = sh("2026-09-29 09:00")
    err = refusal(pe, db, "grant_extension", task_id, "sup", until="2026-09-28T17:00", reason="补批")
    assert err.field_errors == {"until": "in the past"}


def test_what_cannot_be_an_extension(pe, db, workday):
    _, task_id = workday
    # 30 working days after Mon 09-28 10:00: 09-29, 09-30, 10-08, 10-09, the make-up Sat 10-10, then five weeks
    # of Mondays to Fridays (10-12 … 11-13)
    latest = sh("2026-11-13 10:00")
    too_far = refusal(pe, db, "preview_extension", task_id, "alice", by=f"P{MAX_EXTENSION_DAYS + 1}D")
    assert too_far.field_errors == {"by": "too large"}
    assert (too_far.details["max_days"], too_far.details["calendar"]) == (MAX_EXTENSION_DAYS, "workday")
    assert too_far.details["latest"] == latest.isoformat()
    assert act(pe, db, "preview_extension", task_id, "alice", by=f"P{MAX_EXTENSION_DAYS}D").due_at == latest
    assert act(pe, db, "preview_extension", task_id, "alice", until="2026-11-13T10:00").due_at == latest
    assert refusal(pe, db, "preview_extension", task_id, "alice", until="2026-11-13T10:01").field_errors == {
        "until": "too large"}
    assert refusal(pe, db, "grant_extension", task_id, "sup", by="PT300H", reason="x").field_errors == {
        "by": "too large"}  # 300 working hours are 40 working days
    assert refusal(pe, db, "preview_extension", task_id, "alice", until="明天下午").field_errors == {
        "until": "not a date and time"}
    assert refusal(pe, db, "preview_extension", task_id, "alice", by="一小时").field_errors == {"by": "not a duration"}
    assert refusal(pe, db, "preview_extension", task_id, "alice", by="PT0H").field_errors == {"by": "not a duration"}
    assert refusal(pe, db, "preview_extension", task_id, "alice").field_errors == {"by": "required"}
    assert refusal(pe, db, "preview_extension", task_id, "alice", by="P1D", until="2026-09-29T10:00").field_errors == {
        "until": "one of by, until"}
    assert refusal(pe, db, "request_extension", task_id, "alice", by="P1D", reason=" ").field_errors == {
        "reason": "required"}


def test_who_may_preview(pe, db, deploy, workday):
    _, task_id = workday
    with pytest.raises(NotFound):  # Shenzhen does not see a Guangzhou task
        act(pe, db, "preview_extension", task_id, "carol", by="P1D")
    deploy("ext_no.bpmn", step("ext_no", "workday", "P1D", allow="transfer"))
    _, fixed = start(pe, db, "ext_no", "EXT-3")
    with pytest.raises(NotAllowed) as refused:  # the holder may not ask where the step does not allow it
        act(pe, db, "preview_extension", fixed, "alice", by="P1D")
    assert refused.value.code == Code.TASK_ACTION_NOT_ALLOWED
    assert act(pe, db, "preview_extension", fixed, "sup", by="P1D").due_at > task_row(db, fixed).due_at
    act(pe, db, "complete", task_id, "alice", data={})
    with pytest.raises(InvalidState):
        act(pe, db, "preview_extension", task_id, "alice", by="P1D")


def test_a_step_without_a_deadline_has_nothing_to_extend(pe, db, deploy):
    deploy("ext_none.bpmn", step("ext_none", "24x7", "PT1H").replace(
        b'<spiffworkflow:property name="timeLimit" value="PT1H"/>', b"").replace(
        b'<spiffworkflow:property name="warnBefore" value="PT2H"/>', b""))
    _, task_id = start(pe, db, "ext_none", "EXT-4")
    assert task_row(db, task_id).due_at is None
    with pytest.raises(InvalidState) as none:
        act(pe, db, "preview_extension", task_id, "sup", by="P1D")
    assert none.value.code == Code.TASK_NO_DEADLINE
    with pytest.raises(InvalidState):
        act(pe, db, "request_extension", task_id, "alice", until="2026-12-01T10:00", reason="x")
