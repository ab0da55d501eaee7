"""The engine's hot path: how many statements an action sends, and that the saved ones lose nothing.

Starting an instance and completing a task each read what they need in as few statements as possible (the user
with its unit and posts together; the task, its instance and the instance's other open rows together; a lane's
post from the process's lookup) and write the rest in the one final flush (the new task rows and every history
event of the action, each table in one multi-row INSERT on PostgreSQL). The counts are a ceiling: a change that
adds a round trip to every action fails here and has to say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from engine.history.models import HistoryEvent
from engine.identity.lookup import PostLookup
from engine.identity.models import Post
from engine.tasks.models import HumanTask, TaskStatus
from tests.conftest import user

# statements per action, BEGIN and COMMIT not counted. PostgreSQL writes an action's history in one INSERT; SQLite
# writes each row with its own (in-process, cheap): the start here has 2 events, the completion 3.
# start: user (+unit, posts), latest definition, business key check, INSERT instance, UPDATE its state, INSERT task
# row, history; complete: user, task + instance + open rows, UPDATE instance (compare-and-set), UPDATE the task row,
# INSERT the new row, history
START_LIMIT = {"sqlite": 6 + 2, "postgresql": 7}
COMPLETE_LIMIT = {"sqlite": 5 + 3, "postgresql": 6}


@contextmanager
def counting(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement.split("\n")[0][:120])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_start_and_complete_stay_within_their_round_trips(pe, db, deploy) -> None:  # type: ignore[no-untyped-def]
    deploy("review_loop.bpmn")
    with db.sessions.begin() as s:  # a first instance warms the spec cache and the lanes' lookup
        warm = pe.runtime.start(s, "review_loop", business_key="WARM", data={"rounds": 0, "approved": False},
                                actor=user(s, pe, "alice"))
        pe.tasks.complete(s, warm.tasks[0].id, user(s, pe, "alice"), {})
    with counting(db.engine) as started, db.sessions.begin() as s:
        result = pe.runtime.start(s, "review_loop", business_key="WO-1", data={"rounds": 0, "approved": False},
                                  actor=user(s, pe, "alice"))
        fix = result.tasks[0].id
    with counting(db.engine) as completed, db.sessions.begin() as s:
        (review,) = pe.tasks.complete(s, fix, user(s, pe, "alice"), {"note": "done"})
        review_id = review.id
    assert len(started) <= START_LIMIT[db.kind], "\n".join(started)
    assert len(completed) <= COMPLETE_LIMIT[db.kind], "\n".join(completed)

    with db.sessions() as s:
        events = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == result.instance.id)
                           .order_by(HistoryEvent.id)).all()
        rows = {r.node_id: r for r in s.scalars(select(HumanTask).where(HumanTask.instance_id == result.instance.id))}
    kinds = [(e.event_type, e.node_id) for e in events]
    assert kinds == [("instance_started", None), ("task_created", "fix"), ("task_completed", "fix"),
                     ("step_completed", "score"), ("task_created", "review")]
    created = {e.node_id: e.human_task_id for e in events if e.event_type == "task_created"}
    assert created == {"fix": fix, "review": review_id}  # filled in by the flush, though the rows had no id yet
    assert rows["fix"].status == TaskStatus.COMPLETED and rows["review"].status == TaskStatus.READY
    assert rows["review"].post_id == _post_id(db, "reviewer")


def test_a_parallel_sibling_stays_open_when_its_neighbour_completes(pe, db, deploy) -> None:  # type: ignore[no-untyped-def]
    """The open rows read with the task are the ones the projection closes or keeps: completing one branch leaves
    the other's row open (and does not create it twice)."""
    deploy("review_loop.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "review_loop", business_key="WO-2", data={"rounds": 0, "approved": False},
                                  actor=user(s, pe, "alice"))
        fix = result.tasks[0].id
    with db.sessions.begin() as s:
        (review,) = pe.tasks.complete(s, fix, user(s, pe, "alice"), {})
    with db.sessions.begin() as s:
        (again,) = pe.tasks.complete(s, review.id, user(s, pe, "bob"), {"approved": False})
    with db.sessions() as s:
        open_rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == result.instance.id,
                                                      HumanTask.status == TaskStatus.READY)).all()
    assert [r.id for r in open_rows] == [again.id] and again.node_id == "fix"


def _post_id(db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.scalar(select(Post.id).where(Post.code == code))


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_lane_lookup_keeps_codes_for_good_names_for_a_while_and_no_misses(db) -> None:  # type: ignore[no-untyped-def]
    clock = Ticking()
    lookup = PostLookup(name_ttl=30, clock=clock)
    with db.sessions.begin() as s:
        by_code = lookup.find(s, "reviewer")
        by_name = lookup.find(s, "审核员")
        assert by_code is not None and by_name == by_code and by_code.code == "reviewer"
        assert lookup.find(s, "巡检员") is None
        s.add(Post(code="patrol", name="巡检员"))
        s.flush()
        assert lookup.find(s, "巡检员") is not None  # a miss is not remembered: the new post is found at once
        s.get(Post, by_code.id).name = "复核员"  # a rename in another process: this one does not hear of it
        s.flush()
        assert lookup.find(s, "审核员") == by_code  # the name answer is kept for its 30 seconds
        clock.now = 31
        assert lookup.find(s, "审核员") is None  # then read again: the old name is gone
        assert lookup.find(s, "复核员") == by_code
        with counting(db.engine) as seen:
            assert lookup.find(s, "reviewer") == by_code  # a code answer is kept for good (codes never change)
        assert seen == []
