"""A failing service-task handler becomes an incident: the user's work is kept, the step waits for a retry."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.identity.models import Post
from engine.runtime.executor import open_instance
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from tests.conftest import user

FLAKY = "runtime/flaky_service.bpmn"
REAL_ERROR = "network manager unreachable"


def start(pe, db, process_key, business_key="WO-1", data=None):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key,
                                  data=data if data is not None else {"order_no": business_key},
                                  actor=user(s, pe, "alice"))
        return result.instance.id, [t.id for t in result.tasks]


def complete(pe, db, task_id, username, data):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return [(t.id, t.node_id) for t in pe.tasks.complete(s, task_id, user(s, pe, username), data)]


def accept_failing(pe, db, deploy, business_key="WO-1"):  # type: ignore[no-untyped-def]
    """Deploy the flaky diagram, start it and complete 'accept' while the handler fails."""
    deploy(FLAKY)
    instance_id, (accept_id,) = start(pe, db, "flaky_service", business_key)
    assert complete(pe, db, accept_id, "alice", {"line": "L-7"}) == []
    return instance_id, accept_id


def incidents_of(s, instance_id):  # type: ignore[no-untyped-def]
    return s.scalars(select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)).all()


def events(s, pe, instance_id):  # type: ignore[no-untyped-def]
    return [(e.event_type, e.node_id) for e in pe.history.timeline(s, instance_id)]


def tasks_of(s, instance_id):  # type: ignore[no-untyped-def]
    rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
    return [(r.node_id, r.status) for r in rows]


def spiff_data(pe, s, instance_id, node_id):  # type: ignore[no-untyped-def]
    """The data of the (last) task of ``node_id`` in the stored state, restored through the engine's codec."""
    instance = s.get(ProcessInstance, instance_id)
    workflow = open_instance(pe.ctx, s, instance, None).workflow
    found = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == node_id]
    assert found, f"no task {node_id} in the stored state"
    return found[-1].data


def retry(pe, db, incident_id, username="admin"):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        incident = pe.management.retry_incident(s, incident_id, actor=user(s, pe, username))
        return incident.status, incident.attempts


# -- a handler failing after a user task -------------------------------------------------------------------
def test_failing_handler_keeps_the_completion_and_opens_an_incident(pe, db, deploy, switch):
    instance_id, accept_id = accept_failing(pe, db, deploy)
    assert switch.calls == 1
    with db.sessions() as s:
        accept = s.get(HumanTask, accept_id)
        assert (accept.status, accept.data) == ("completed", {"line": "L-7"})
        assert accept.completed_by_id == user(s, pe, "alice").id
        assert s.get(ProcessInstance, instance_id).status == "running"
        (incident,) = incidents_of(s, instance_id)
        assert (incident.status, incident.node_id, incident.attempts) == ("open", "activate", 1)
        assert REAL_ERROR in incident.message
        assert "NameError" not in incident.message and "name 'script' is not defined" not in incident.message
        assert incident.spiff_task_id
        # no reviewer task while the step is failing
        assert tasks_of(s, instance_id) == [("accept", "completed")]
        assert "task_completed" in [e for e, _ in events(s, pe, instance_id)]
        # the service-level list shows it
        assert incident.id in [i.id for i in pe.management.incidents(s)]
        assert incident.id not in [i.id for i in pe.management.incidents(s, status="resolved")]


def test_failing_handler_is_recorded_as_a_handler_incident(pe, db, deploy):
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        (incident,) = incidents_of(s, instance_id)
        assert incident.kind == "handler", incident.message
        assert "test.flaky" in incident.message
        assert ("handler_failed", "activate") in events(s, pe, instance_id)


def test_retry_after_the_fix_resolves_the_incident_and_moves_on(pe, db, deploy, switch):
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        incident_id = incidents_of(s, instance_id)[0].id
    switch.failing = False
    assert retry(pe, db, incident_id) == ("resolved", 1)
    assert switch.calls == 2
    with db.sessions() as s:
        (incident,) = incidents_of(s, instance_id)
        assert incident.status == "resolved"
        assert incident.resolved_at is not None
        assert incident.resolved_by_id == user(s, pe, "admin").id
        assert incident_id not in [i.id for i in pe.management.incidents(s)]
        assert incident_id in [i.id for i in pe.management.incidents(s, status="resolved")]
        timeline = events(s, pe, instance_id)
        assert timeline.count(("incident_retried", "activate")) == 1
        assert ("incident_resolved", "activate") in timeline
        assert tasks_of(s, instance_id) == [("accept", "completed"), ("check", "ready")]
        check = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                 HumanTask.node_id == "check"))
        assert check.lane == "reviewer"
        check_id = check.id
        # the handler's result is in the result variable, next to the user's data, and nothing else is
        data = spiff_data(pe, s, instance_id, "check")
        assert data["activation"] == {"ok": True, "calls": 2}
        assert (data["line"], data["order_no"]) == ("L-7", "WO-1")
        assert sorted(data) == ["activation", "line", "order_no"]
    assert complete(pe, db, check_id, "bob", {"checked": True}) == []
    with db.sessions() as s:
        assert s.get(ProcessInstance, instance_id).status == "completed"
        assert pe.management.incidents(s) == []
        # the step that finally ran is in the history like any other automatic step, before the resolution
        timeline = events(s, pe, instance_id)
        assert ("step_completed", "activate") in timeline
        assert timeline.index(("step_completed", "activate")) < timeline.index(("incident_resolved", "activate"))


def test_retry_while_still_failing_counts_the_attempt(pe, db, deploy, switch):
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        incident_id = incidents_of(s, instance_id)[0].id
    # still failing: the same incident stays open and counts the attempt (the retry itself is stored)
    assert retry(pe, db, incident_id) == ("open", 2)
    assert switch.calls == 2
    with db.sessions() as s:
        (incident,) = incidents_of(s, instance_id)
        assert (incident.id, incident.status, incident.attempts) == (incident_id, "open", 2)
        assert REAL_ERROR in incident.message
        assert tasks_of(s, instance_id) == [("accept", "completed")]
        assert s.get(ProcessInstance, instance_id).status == "running"
        assert ("incident_retried", "activate") in events(s, pe, instance_id)
    # then the fix: the next retry resolves it
    switch.failing = False
    assert retry(pe, db, incident_id)[0] == "resolved"
    assert switch.calls == 3
    with db.sessions() as s:
        assert tasks_of(s, instance_id) == [("accept", "completed"), ("check", "ready")]
        assert spiff_data(pe, s, instance_id, "check")["activation"] == {"ok": True, "calls": 3}
        assert events(s, pe, instance_id).count(("incident_retried", "activate")) == 2


def test_retry_keeps_task_data_clean_between_attempts(pe, db, deploy, switch):
    """A failed attempt leaves nothing behind: the successful attempt sees the data of before the step."""
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        incident_id = incidents_of(s, instance_id)[0].id
    retry(pe, db, incident_id)
    switch.failing = False
    retry(pe, db, incident_id)
    with db.sessions() as s:
        data = spiff_data(pe, s, instance_id, "check")
        assert sorted(data) == ["activation", "line", "order_no"]


# -- a handler that wrote before failing -------------------------------------------------------------------
def test_handler_writes_are_rolled_back_but_the_incident_and_completion_are_kept(pe, db, deploy):
    deploy("runtime/write_then_fail.bpmn")
    instance_id, (accept_id,) = start(pe, db, "write_then_fail")
    assert complete(pe, db, accept_id, "alice", {"line": "L-8"}) == []
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Post).where(Post.code == "ghost")) == 0
        assert s.get(HumanTask, accept_id).status == "completed"
        assert s.get(ProcessInstance, instance_id).status == "running"
        (incident,) = incidents_of(s, instance_id)
        assert (incident.status, incident.node_id) == ("open", "activate")
        assert "failed after writing" in incident.message
        assert tasks_of(s, instance_id) == [("accept", "completed")]


# -- a handler failing on the first step after start -------------------------------------------------------
def test_failing_first_step_returns_the_instance_with_its_incident(pe, db, deploy, switch):
    deploy("runtime/flaky_first.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "flaky_first", business_key="WO-5", data={"order_no": "WO-5"},
                                  actor=user(s, pe, "alice"))
        assert result.tasks == []
        assert result.incident is not None
        assert result.incident.node_id == "activate"
        assert REAL_ERROR in result.incident.message
        instance_id, incident_id = result.instance.id, result.incident.id
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "running"
        (incident,) = incidents_of(s, instance_id)
        assert (incident.id, incident.status) == (incident_id, "open")
        assert tasks_of(s, instance_id) == []
    switch.failing = False
    assert retry(pe, db, incident_id)[0] == "resolved"
    with db.sessions() as s:
        assert tasks_of(s, instance_id) == [("accept", "ready")]
        assert spiff_data(pe, s, instance_id, "accept")["activation"] == {"ok": True, "calls": 2}
    with db.sessions() as s:
        assert s.get(Incident, incident_id).kind == "handler"


# -- who may retry, and what cannot be retried -------------------------------------------------------------
def test_retry_rules(pe, db, deploy, switch):
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        incident_id = incidents_of(s, instance_id)[0].id
    # a plain post holder may not retry, and trying changes nothing
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "alice"))
    assert switch.calls == 1
    with db.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.attempts) == ("open", 1)
        assert ("incident_retried", "activate") not in events(s, pe, instance_id)
    # an unknown incident
    with db.sessions.begin() as s, pytest.raises(NotFound):
        pe.management.retry_incident(s, incident_id + 1000, actor=user(s, pe, "admin"))
    # the admin may; a resolved incident cannot be retried again
    switch.failing = False
    assert retry(pe, db, incident_id, "admin")[0] == "resolved"
    with db.sessions.begin() as s, pytest.raises(InvalidState, match="already resolved"):
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "admin"))
    assert switch.calls == 2
    with db.sessions() as s:
        retried = s.scalar(select(func.count()).select_from(HistoryEvent).where(
            HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == "incident_retried"))
        assert retried == 1


def test_supervisor_of_the_unit_may_retry(pe, db, deploy, switch):
    instance_id, _ = accept_failing(pe, db, deploy)
    with db.sessions() as s:
        incident_id = incidents_of(s, instance_id)[0].id
    switch.failing = False
    assert retry(pe, db, incident_id, "sup")[0] == "resolved"
    with db.sessions() as s:
        assert s.get(Incident, incident_id).resolved_by_id == user(s, pe, "sup").id
