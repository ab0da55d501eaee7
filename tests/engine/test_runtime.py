"""Start → complete → end through the engine services, with history; the compare-and-set on save."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import ConcurrencyConflict, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from engine.runtime.service import RuntimeService
from engine.tasks.models import HumanTask
from tests.conftest import user


def start_review(pe, db, business_key="WO-1", data=None):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "review_loop", business_key=business_key,
                                  data=data or {"rounds": 0, "approved": False}, actor=user(s, pe, "alice"))
        return result.instance.id, [t.id for t in result.tasks]


def test_start_complete_end_with_history(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start_review(pe, db)
    clock.advance(minutes=30)
    with db.sessions.begin() as s:
        nxt = pe.tasks.complete(s, fix_id, user(s, pe, "alice"), {"note": "done"})
        assert [t.node_id for t in nxt] == ["review"]
        review_id = nxt[0].id
    clock.advance(minutes=10)
    with db.sessions.begin() as s:
        assert pe.tasks.complete(s, review_id, user(s, pe, "bob"), {"approved": True}) == []
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert instance.ended_at is not None and instance.ended_at == clock.now
        events = [(e.event_type, e.node_id) for e in pe.history.timeline(s, instance_id)]
        assert events == [
            ("instance_started", None),
            ("task_created", "fix"),
            ("task_completed", "fix"),
            ("step_completed", "score"),
            ("task_created", "review"),
            ("task_completed", "review"),
            ("instance_completed", None),
        ]
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
        assert [(r.node_id, r.status, r.completed_by_id is not None) for r in rows] == [
            ("fix", "completed", True), ("review", "completed", True)]
        assert rows[0].data == {"note": "done"}
        # the script ran once in the sandbox and its result is in the instance state
        assert '"rounds": 1' in instance.state


def test_state_is_stored_without_the_spec(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, _ = start_review(pe, db)
    with db.sessions() as s:
        state = s.get(ProcessInstance, instance_id).state
    assert '"spec"' not in state and "task_specs" not in state
    assert len(state) < 6000


def test_two_sessions_complete_same_task_exactly_one_wins(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start_review(pe, db)
    with db.sessions() as s:
        before = s.get(ProcessInstance, instance_id)
        version_before = before.version
    first, second = db.sessions(), db.sessions()
    try:
        first.begin()
        second.begin()
        a1, a2 = user(first, pe, "alice"), user(second, pe, "alice")
        # both read the task and the instance before either writes (kept referenced: the identity map is weak)
        seen = [first.get(HumanTask, fix_id), second.get(HumanTask, fix_id), second.get(ProcessInstance, instance_id)]
        assert seen[0].status == seen[1].status == "ready"
        pe.tasks.complete(first, fix_id, a1, {"who": "first"})
        first.commit()
        with pytest.raises(ConcurrencyConflict) as err:
            pe.tasks.complete(second, fix_id, a2, {"who": "second"})
        assert "changed by someone else" in str(err.value) or "no longer ready" in str(err.value)
        second.rollback()
        # a later attempt (a double click arriving after the first commit) is told plainly
        with db.sessions.begin() as s, pytest.raises(InvalidState, match="already completed"):
            pe.tasks.complete(s, fix_id, user(s, pe, "alice"), {"who": "late"})
    finally:
        first.close()
        second.close()
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.version == version_before + 1
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
        assert [(r.node_id, r.status) for r in rows] == [("fix", "completed"), ("review", "ready")]
        assert rows[0].data == {"who": "first"}
        completions = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance_id,
                                                           HistoryEvent.event_type == "task_completed")).all()
        assert len(completions) == 1


def test_complete_checks_the_task_is_offered_to_the_user(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start_review(pe, db)
    with db.sessions() as s:
        version = s.get(ProcessInstance, instance_id).version
    # bob holds another post; carol holds the post but in another city: neither may even see it
    for name in ("bob", "carol"):
        with db.sessions.begin() as s, pytest.raises(NotFound):
            pe.tasks.complete(s, fix_id, user(s, pe, name), {})
    # a supervisor sees it but may not complete someone else's work
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.tasks.complete(s, fix_id, user(s, pe, "sup"), {})
    with db.sessions() as s:
        assert s.get(HumanTask, fix_id).status == "ready"
        assert s.get(ProcessInstance, instance_id).version == version


def test_start_errors_are_clear_and_store_nothing(pe, db, deploy):
    deploy("review_loop.bpmn")
    start_review(pe, db, "WO-9")
    with db.sessions.begin() as s:
        alice = user(s, pe, "alice")
        with pytest.raises(NotFound, match="not deployed"):
            pe.runtime.start(s, "nope", business_key="X", data={}, actor=alice)
        with pytest.raises(InvalidInput, match="already used"):
            pe.runtime.start(s, "review_loop", business_key="WO-9", data={"rounds": 0}, actor=alice)
        with pytest.raises(InvalidInput, match="JSON object"):
            pe.runtime.start(s, "review_loop", business_key="WO-10", data=[1], actor=alice)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="_secret"):
            pe.runtime.start(s, "review_loop", business_key="WO-10", data={"_secret": 1}, actor=alice)
        with pytest.raises(NotAllowed):
            pe.runtime.start(s, "review_loop", business_key="WO-11", data={}, actor=alice, org_code="SZ")
    with db.sessions() as s:
        assert s.scalar(select(ProcessInstance.business_key).where(ProcessInstance.business_key != "WO-9")) is None


def test_a_business_key_taken_by_a_concurrent_start_leaves_the_transaction_usable(pe, db, deploy, monkeypatch):
    """The race the check before the insert cannot see (another start commits the same key in between): the start
    is refused as ``already used`` and the caller's transaction goes on — a generated number is drawn again and
    that start commits, as the integration API does for 20 concurrent posts."""
    deploy("review_loop.bpmn")
    start_review(pe, db, "WO-RACE")
    monkeypatch.setattr(RuntimeService, "_open_with_key", staticmethod(lambda *_args: None))  # the race window
    with db.sessions.begin() as s:
        alice = user(s, pe, "alice")
        with pytest.raises(InvalidInput, match="just used") as refused:
            pe.runtime.start(s, "review_loop", business_key="WO-RACE", data={"rounds": 0}, actor=alice)
        assert refused.value.details["fields"] == {"business_key": "already used"}
        again = pe.runtime.start(s, "review_loop", business_key="WO-RACE-2", data={"rounds": 0}, actor=alice)
        assert again.instance.id and again.tasks
    with db.sessions() as s:
        keys = sorted(s.scalars(select(ProcessInstance.business_key)))
        assert keys == ["WO-RACE", "WO-RACE-2"]
        assert s.scalar(select(HumanTask.id).where(HumanTask.instance_id == again.instance.id)) is not None


def test_cancel_closes_open_tasks(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start_review(pe, db)
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.runtime.cancel(s, instance_id, actor=user(s, pe, "alice"), reason="不需要了")
    with db.sessions.begin() as s:
        pe.runtime.cancel(s, instance_id, actor=user(s, pe, "sup"), reason="客户撤单")
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert (instance.status, instance.end_reason) == ("cancelled", "客户撤单")
        assert s.get(HumanTask, fix_id).status == "cancelled"
    # the business key is free again once the instance is cancelled
    start_review(pe, db, "WO-1")
