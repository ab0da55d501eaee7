"""Moving running work orders to another version (issue 11, migration): a dry run says per instance whether it
can move and why not; a real run moves it in the same transaction as its task rows, deadlines and history.
Instances at different steps, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from engine.errors import NotAllowed
from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import Worker
from tests.conftest import user


@pytest.fixture
def versions(deploy):  # type: ignore[no-untyped-def]
    """Deploy version 1 of 'steps'; returns a function deploying file N as the next version (file 2: a step added,
    file 3: \"first\" removed)."""
    deploy("migration/steps_v1.bpmn")
    return lambda n: deploy(f"migration/steps_v{n}.bpmn")


def begin(pe, db, key: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, "steps", business_key=key, data={"order": key},
                                actor=user(s, pe, "alice")).instance.id


def open_row(db, iid: int) -> HumanTask | None:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.scalar(select(HumanTask).where(HumanTask.instance_id == iid, HumanTask.status == "ready"))


def finish(pe, db, iid: int, username: str = "alice") -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        row = s.scalar(select(HumanTask).where(HumanTask.instance_id == iid, HumanTask.status == "ready"))
        pe.tasks.complete(s, row.id, user(s, pe, username), {})


def migrate(pe, db, ids: list[int], version: int, *, dry_run: bool = False, who: str = "ana"):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.migrate(s, "steps", ids, version=version, actor=user(s, pe, who), dry_run=dry_run)


def definition_of(db, iid: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(ProcessInstance, iid)
        return row.definition_id, row.state


def test_a_dry_run_lists_who_can_move_and_changes_nothing(pe, db, versions, clock):
    at_first, waiting = begin(pe, db, "WO-1"), begin(pe, db, "WO-2")
    finish(pe, db, waiting)  # now waits on the timer, having been through "first"
    versions(3)  # deployed as version 2: "first" removed
    before = definition_of(db, at_first), definition_of(db, waiting)
    checks = migrate(pe, db, [at_first, waiting], 2, dry_run=True)
    assert [(c.business_key, c.ok) for c in checks] == [("WO-1", False), ("WO-2", False)]
    assert checks[0].steps == ["First"]
    assert [r.text for r in checks[0].reasons] == ["step 'First', which it waits in, is not in version 2"]
    assert [r.text for r in checks[1].reasons] == ["step 'First', which it went through, is not in version 2"]
    assert [(r.code, r.subject) for r in checks[1].reasons] == [("done_step_removed", "First")]
    assert (definition_of(db, at_first), definition_of(db, waiting)) == before


def test_an_instance_moves_to_a_version_with_a_new_step_and_takes_its_limits(pe, db, versions, clock):
    iid = begin(pe, db, "WO-1")
    row = open_row(db, iid)
    assert (row.node_id, row.time_limit, row.due_at - row.created_at) == ("first", "PT2H", timedelta(hours=2))
    versions(2)
    clock.advance(minutes=30)
    (check,) = migrate(pe, db, [iid], 2, dry_run=True)
    assert check.ok and check.steps == ["First"] and not check.moved
    (moved,) = migrate(pe, db, [iid], 2)
    assert moved.ok and moved.moved and (moved.from_version, moved.to_version) == (1, 2)
    after = open_row(db, iid)
    assert after.id == row.id and after.created_at == row.created_at  # the same task row, arrival kept
    assert (after.time_limit, after.due_at - after.created_at) == ("PT8H", timedelta(hours=8))
    finish(pe, db, iid)
    assert open_row(db, iid).node_id == "check"  # the step version 2 added after "first"
    with db.sessions() as s:
        (event,) = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == iid,
                                                        HistoryEvent.event_type == "instance_migrated")).all()
        assert event.payload["from_version"] == 1 and event.payload["to_version"] == 2
        assert event.actor_id == user(s, pe, "ana").id
        assert s.get(ProcessInstance, iid).definition_id == event.payload["to_definition_id"]


def test_a_waiting_timer_keeps_its_due_time_and_the_next_step_goes_to_the_new_post(pe, db, versions, clock):
    iid = begin(pe, db, "WO-1")
    finish(pe, db, iid)
    with db.sessions() as s:
        due = s.get(ProcessInstance, iid).next_timer_at
    versions(2)
    clock.advance(hours=1)
    (moved,) = migrate(pe, db, [iid], 2)
    assert moved.moved
    with db.sessions() as s:
        assert s.get(ProcessInstance, iid).next_timer_at == due
    clock.now = due + timedelta(minutes=1)  # (SpiffWorkflow reads the wall clock: move it too)
    with time_machine.travel(clock.now, tick=False):
        assert Worker(pe, db.sessions, "test-worker").tick().timers_fired == 1  # the worker fires it
    row = open_row(db, iid)
    assert (row.node_id, row.lane) == ("second", "reviewer")


def test_only_analysts_and_admins_migrate(pe, db, versions):
    iid = begin(pe, db, "WO-1")
    versions(2)
    with pytest.raises(NotAllowed):
        migrate(pe, db, [iid], 2, who="sup")
    assert migrate(pe, db, [iid], 2, who="admin")[0].moved


def test_instances_at_different_steps_move_or_stay_each_on_its_own(pe, db, versions, clock):
    at_first, waiting = begin(pe, db, "WO-1"), begin(pe, db, "WO-2")
    finish(pe, db, waiting)
    versions(2)
    versions(3)
    results = migrate(pe, db, [at_first, waiting], 2)  # to version 2, which keeps every step
    assert [(r.business_key, r.moved) for r in results] == [("WO-1", True), ("WO-2", True)]
    results = migrate(pe, db, [at_first, waiting], 3)
    assert [(r.business_key, r.moved) for r in results] == [("WO-1", False), ("WO-2", False)]
    assert results[0].from_version == 2
