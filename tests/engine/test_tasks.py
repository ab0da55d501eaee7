"""The human-task queue: query scopes, paging, sorting and filters; claim, transfer (转派), return (退回),
annotate (批注), complete with bad data, and parallel user tasks. Rows and history events are checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.errors import Code, ConcurrencyConflict, InvalidInput, InvalidState, NotAllowed, NotFound
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.tasks.queries import TaskFilter
from tests.conftest import user

REVIEW_DATA = {"rounds": 0, "approved": False}


# -- helpers -----------------------------------------------------------------------------------------------
def start(pe, db, process_key: str, business_key: str, starter: str = "alice",  # type: ignore[no-untyped-def]
          data: dict[str, Any] | None = None) -> tuple[int, list[int]]:
    """Start an instance; its id and the ids of the tasks that arrived."""
    if data is None:
        data = dict(REVIEW_DATA) if process_key == "review_loop" else {}
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key, data=data,
                                  actor=user(s, pe, starter))
        return result.instance.id, [t.id for t in result.tasks]


def query(pe, db, username: str, scope: str = "inbox", **kwargs: Any):  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return pe.tasks.query(s, user(s, pe, username), scope=scope, **kwargs)


def keys(pe, db, username: str, scope: str = "inbox", **kwargs: Any) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(business key, node id) of every task the user sees in the scope, in the order returned."""
    return [(t.business_key, t.node_id) for t in query(pe, db, username, scope, **kwargs).items]


def task_row(db, task_id: int) -> HumanTask:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row


def rows_of(db, instance_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))
        return [(r.node_id, r.status) for r in rows]


def timeline(pe, db, instance_id: int) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return list(pe.history.timeline(s, instance_id))


def events(pe, db, instance_id: int, event_type: str) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    return [e for e in timeline(pe, db, instance_id) if e.event_type == event_type]


def uid(pe, db, username: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return user(s, pe, username).id


def post_id(db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.scalar(select(Post.id).where(Post.code == code))


def org_id(db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.scalar(select(OrgUnit.id).where(OrgUnit.code == code))


def act(pe, db, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    """Run one task-service action in its own transaction."""
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, user(s, pe, username), *args, **kwargs)


def version(db, instance_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return s.get(ProcessInstance, instance_id).version


# -- query scopes ------------------------------------------------------------------------------------------
def test_scopes_inbox_mine_offered_done_and_org(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    _, (fix1,) = start(pe, db, "review_loop", "WO-1")
    clock.advance(minutes=1)
    _, (fix2,) = start(pe, db, "review_loop", "WO-2")
    clock.advance(minutes=1)
    start(pe, db, "review_loop", "WO-3", starter="carol")  # in SZ, carol's unit
    clock.advance(minutes=1)
    start(pe, db, "review_loop", "WO-4")
    act(pe, db, "claim", fix1, "anna")
    clock.advance(minutes=1)
    (review2,) = act(pe, db, "complete", fix2, "alice", {"note": "ok"})

    # alice: only the unclaimed dispatcher task of GZ; WO-1 is anna's, WO-2 is done, WO-3 is in SZ
    assert keys(pe, db, "alice") == [("WO-4", "fix")]
    assert keys(pe, db, "alice", "offered") == [("WO-4", "fix")]
    assert keys(pe, db, "alice", "mine") == []
    assert keys(pe, db, "alice", "done") == [("WO-2", "fix")]
    assert [t.status for t in query(pe, db, "alice", "done").items] == ["completed"]
    # anna: her claimed task plus the pool (fix rows are due 4 h after they arrived: WO-1 first)
    assert keys(pe, db, "anna") == [("WO-1", "fix"), ("WO-4", "fix")]
    assert keys(pe, db, "anna", "mine") == [("WO-1", "fix")]
    assert keys(pe, db, "anna", "offered") == [("WO-4", "fix")]
    assert keys(pe, db, "anna", "done") == []
    # bob reviews in GZ; carol holds both posts but in SZ: she sees neither GZ dispatcher nor GZ reviewer work
    assert keys(pe, db, "bob") == [("WO-2", "review")]
    assert [t.id for t in query(pe, db, "bob").items] == [review2.id]
    assert keys(pe, db, "carol") == [("WO-3", "fix")]
    assert keys(pe, db, "carol", "offered") == [("WO-3", "fix")]
    assert keys(pe, db, "mike") == []
    # supervisors see the open tasks of their unit and below (claimed ones too); plain users nothing
    gz_open = [("WO-1", "fix"), ("WO-4", "fix"), ("WO-2", "review")]
    assert keys(pe, db, "sup", "org") == gz_open
    assert keys(pe, db, "sup") == []  # a supervisor without posts has no inbox of their own
    assert sorted(keys(pe, db, "boss", "org")) == sorted([*gz_open, ("WO-3", "fix")])
    assert query(pe, db, "boss", "org").total == 4
    assert sorted(keys(pe, db, "admin", "org")) == sorted([*gz_open, ("WO-3", "fix")])
    for plain in ("alice", "bob", "carol", "mike"):
        assert query(pe, db, plain, "org").total == 0, plain
    with pytest.raises(InvalidInput, match="scope"):
        query(pe, db, "alice", "everything")


def test_done_lists_newest_first(pe, db, deploy, clock):
    deploy("tasks/plain.bpmn")
    _, (t1,) = start(pe, db, "plain", "WO-1")
    _, (t2,) = start(pe, db, "plain", "WO-2")
    _, (t3,) = start(pe, db, "plain", "WO-3")
    for task_id in (t2, t1, t3):
        clock.advance(minutes=5)
        assert act(pe, db, "complete", task_id, "alice", {}) == []
    page = query(pe, db, "alice", "done")
    assert [t.id for t in page.items] == [t3, t1, t2]
    assert [t.completed_at for t in page.items] == [clock.now, clock.now - timedelta(minutes=5),
                                                     clock.now - timedelta(minutes=10)]
    assert keys(pe, db, "anna", "done") == []
    assert keys(pe, db, "alice") == []


def test_paging_over_seven_instances(pe, db, deploy, clock):
    deploy("tasks/plain.bpmn")
    for n in range(1, 8):
        start(pe, db, "plain", f"WO-{n:02}")
        clock.advance(minutes=1)
    first = query(pe, db, "alice", page=1, page_size=3)
    assert (first.total, first.page, first.page_size, first.pages) == (7, 1, 3, 3)
    assert [t.business_key for t in first.items] == ["WO-01", "WO-02", "WO-03"]
    second = query(pe, db, "anna", page=2, page_size=3)
    assert [t.business_key for t in second.items] == ["WO-04", "WO-05", "WO-06"]
    last = query(pe, db, "alice", page=3, page_size=3)
    assert ([t.business_key for t in last.items], last.total, last.pages) == (["WO-07"], 7, 3)
    beyond = query(pe, db, "alice", page=4, page_size=3)
    assert (list(beyond.items), beyond.total) == ([], 7)
    whole = query(pe, db, "alice", page_size=7)
    assert (len(whole.items), whole.pages) == (7, 1)
    assert len({t.id for t in [*first.items, *second.items, *last.items]}) == 7
    assert query(pe, db, "alice", page_size=200).total == 7
    empty = query(pe, db, "mike")
    assert (empty.total, empty.pages, list(empty.items)) == (0, 1, [])
    for page, size in ((1, 0), (1, 201), (0, 10), (-1, 10)):
        with pytest.raises(InvalidInput):
            query(pe, db, "alice", page=page, page_size=size)


def _tasks_with_and_without_due_times(pe, db, deploy, clock):  # type: ignore[no-untyped-def]
    """Six open dispatcher tasks in GZ whose due order differs from their arrival order; returns t0."""
    deploy("review_loop.bpmn")  # fix: 4 h, 24x7
    deploy("tasks/quick.bpmn")  # triage: 1 h, 24x7
    deploy("tasks/plain.bpmn")  # handle: no limit
    t0 = clock.now
    start(pe, db, "review_loop", "WO-A")  # due t0+4h
    clock.advance(minutes=30)
    start(pe, db, "plain", "WO-B")  # none
    clock.advance(hours=1)
    start(pe, db, "quick", "WO-C")  # due t0+2h30
    clock.advance(hours=1)
    start(pe, db, "quick", "WO-D")  # due t0+3h30
    clock.advance(minutes=30)
    start(pe, db, "plain", "WO-E")  # none
    clock.advance(minutes=30)
    start(pe, db, "review_loop", "WO-F")  # due t0+7h30
    return t0


def test_sorted_by_due_time_without_due_time_last(pe, db, deploy, clock):
    t0 = _tasks_with_and_without_due_times(pe, db, deploy, clock)
    expected = ["WO-C", "WO-D", "WO-A", "WO-F", "WO-B", "WO-E"]
    page = query(pe, db, "alice")
    assert [t.business_key for t in page.items] == expected
    assert [t.due_at for t in page.items] == [t0 + timedelta(hours=h) for h in (2.5, 3.5, 4, 7.5)] + [None, None]
    a = page.items[2]
    assert (a.node_id, a.time_limit, a.calendar, a.warn_at) == ("fix", "PT4H", "24x7", t0 + timedelta(hours=3))
    c = page.items[0]
    assert (c.node_id, c.time_limit, c.calendar, c.warn_at) == ("triage", "PT1H", "24x7", None)
    assert (page.items[4].time_limit, page.items[4].calendar, page.items[4].warn_at) == (None, None, None)
    # the same order across pages and in a supervisor's view
    assert [t.business_key for t in query(pe, db, "anna", page=2, page_size=4).items] == expected[4:]
    assert [t.business_key for t in query(pe, db, "boss", "org").items] == expected


def test_filters(pe, db, deploy, clock):
    t0 = _tasks_with_and_without_due_times(pe, db, deploy, clock)

    def filtered(username: str = "alice", scope: str = "inbox", **kwargs: Any) -> list[str]:
        return [t.business_key for t in query(pe, db, username, scope, filters=TaskFilter(**kwargs)).items]

    assert filtered(business_key="WO-C") == ["WO-C"]
    assert query(pe, db, "alice", filters=TaskFilter(business_key="WO-C")).total == 1
    assert filtered(business_key="WO-Z") == []
    assert filtered(process_key="quick") == ["WO-C", "WO-D"]
    assert filtered(process_key="plain") == ["WO-B", "WO-E"]
    assert filtered(node_id="fix") == ["WO-A", "WO-F"]
    assert filtered(node_id="triage", business_key="WO-D") == ["WO-D"]
    assert filtered(node_id="fix", process_key="quick") == []
    # overdue_at: due strictly before the instant; tasks without a due time are never overdue
    assert filtered(overdue_at=t0 + timedelta(hours=4)) == ["WO-C", "WO-D"]
    assert filtered(overdue_at=t0 + timedelta(hours=4, seconds=1)) == ["WO-C", "WO-D", "WO-A"]
    assert filtered(overdue_at=t0 + timedelta(days=30)) == ["WO-C", "WO-D", "WO-A", "WO-F"]
    assert filtered(overdue_at=t0) == []
    assert filtered("sup", "org", process_key="review_loop", overdue_at=t0 + timedelta(hours=5)) == ["WO-A"]
    # filters narrow a scope, they never widen it
    assert filtered("carol", business_key="WO-C") == []
    assert filtered("bob", process_key="quick") == []


# -- claim / unclaim ---------------------------------------------------------------------------------------
def test_claim_makes_the_claimant_assignee_and_takes_it_from_the_pool(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    assert keys(pe, db, "anna", "offered") == keys(pe, db, "alice", "offered") == [("WO-1", "fix")]
    clock.advance(minutes=5)
    claimed_at = clock.now
    row = act(pe, db, "claim", fix_id, "alice")
    assert (row.id, row.assignee_id) == (fix_id, uid(pe, db, "alice"))
    stored = task_row(db, fix_id)
    assert (stored.assignee_id, stored.claimed_at, stored.status) == (uid(pe, db, "alice"), claimed_at, "ready")
    assert keys(pe, db, "alice", "mine") == [("WO-1", "fix")]
    assert keys(pe, db, "alice", "offered") == []
    assert keys(pe, db, "alice") == [("WO-1", "fix")]
    assert keys(pe, db, "anna", "offered") == []
    assert keys(pe, db, "anna") == []
    # claiming it again is a no-op: same claim time, same row version, no second event
    version_before = stored.row_version
    clock.advance(minutes=5)
    act(pe, db, "claim", fix_id, "alice")
    again = task_row(db, fix_id)
    assert (again.claimed_at, again.row_version) == (claimed_at, version_before)
    claims = events(pe, db, instance_id, "task_claimed")
    assert [(e.actor_id, e.human_task_id, e.node_id, e.at) for e in claims] == [
        (uid(pe, db, "alice"), fix_id, "fix", claimed_at)]
    # the claimant can now complete it
    (review,) = act(pe, db, "complete", fix_id, "alice", {})
    assert review.node_id == "review"


def test_second_holder_claiming_a_claimed_task_gets_a_conflict(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    act(pe, db, "claim", fix_id, "alice")
    with pytest.raises(ConcurrencyConflict, match="assigned to someone else"):
        act(pe, db, "claim", fix_id, "anna")
    assert task_row(db, fix_id).assignee_id == uid(pe, db, "alice")
    assert len(events(pe, db, instance_id, "task_claimed")) == 1


def test_two_holders_claiming_at_the_same_time_exactly_one_wins(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    first, second = db.sessions(), db.sessions()
    try:
        first.begin()
        second.begin()
        alice, anna = user(first, pe, "alice"), user(second, pe, "anna")
        seen = [first.get(HumanTask, fix_id), second.get(HumanTask, fix_id)]  # both read it unclaimed
        assert seen[0].assignee_id is None and seen[1].assignee_id is None
        pe.tasks.claim(first, fix_id, alice)
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            pe.tasks.claim(second, fix_id, anna)
        second.rollback()
    finally:
        first.close()
        second.close()
    assert task_row(db, fix_id).assignee_id == uid(pe, db, "alice")
    assert [e.actor_id for e in events(pe, db, instance_id, "task_claimed")] == [uid(pe, db, "alice")]


def test_unclaim_returns_the_task_to_the_pool(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    # unclaiming an unclaimed task changes nothing
    act(pe, db, "unclaim", fix_id, "alice")
    assert events(pe, db, instance_id, "task_unclaimed") == []
    act(pe, db, "claim", fix_id, "alice")
    clock.advance(minutes=3)
    act(pe, db, "unclaim", fix_id, "alice")
    row = task_row(db, fix_id)
    assert (row.assignee_id, row.claimed_at, row.status) == (None, None, "ready")
    assert keys(pe, db, "anna", "offered") == [("WO-1", "fix")]
    assert keys(pe, db, "alice", "mine") == []
    # a supervisor of the unit may put a claimed task back too
    act(pe, db, "claim", fix_id, "anna")
    act(pe, db, "unclaim", fix_id, "sup")
    assert task_row(db, fix_id).assignee_id is None
    history = [(e.event_type, e.actor_id) for e in timeline(pe, db, instance_id)
               if e.event_type in ("task_claimed", "task_unclaimed")]
    assert history == [("task_claimed", uid(pe, db, "alice")), ("task_unclaimed", uid(pe, db, "alice")),
                       ("task_claimed", uid(pe, db, "anna")), ("task_unclaimed", uid(pe, db, "sup"))]
    unclaimed = events(pe, db, instance_id, "task_unclaimed")[0]
    assert (unclaimed.human_task_id, unclaimed.node_id, unclaimed.at) == (fix_id, "fix", clock.now)


def test_claim_by_someone_not_offered_the_task(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    # another post, the same post in another city: they cannot even see it
    for name in ("bob", "mike", "carol"):
        with pytest.raises(NotFound):
            act(pe, db, "claim", fix_id, name)
        with pytest.raises(NotFound):
            act(pe, db, "unclaim", fix_id, name)
    # a supervisor sees it but does not hold the post
    with pytest.raises(NotAllowed):
        act(pe, db, "claim", fix_id, "sup")
    with pytest.raises(NotFound):
        act(pe, db, "claim", 999_999, "alice")
    row = task_row(db, fix_id)
    assert (row.assignee_id, row.row_version) == (None, 1)
    assert events(pe, db, instance_id, "task_claimed") == []
    # a finished task cannot be claimed any more
    act(pe, db, "complete", fix_id, "alice", {})
    with pytest.raises(InvalidState, match="already completed"):
        act(pe, db, "claim", fix_id, "alice")
    # a colleague on the same post in the same unit may see the finished task, not claim it
    with pytest.raises(InvalidState, match="already completed"):
        act(pe, db, "claim", fix_id, "anna")
    with pytest.raises(NotFound):
        act(pe, db, "claim", fix_id, "carol")


# -- transfer (转派) ----------------------------------------------------------------------------------------
def test_transfer_to_a_person(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    clock.advance(minutes=7)
    # only to someone holding a post of the flow (its lanes: dispatcher, reviewer): a maintainer is refused
    with pytest.raises(NotAllowed) as refused:
        act(pe, db, "transfer", fix_id, "alice", reason="需要现场维护", to_user="mike")
    assert (refused.value.code, refused.value.details) == (Code.TRANSFER_TARGET, {"fields": {"to_user": "not allowed"}})
    assert task_row(db, fix_id).assignee_id is None
    row = act(pe, db, "transfer", fix_id, "alice", reason="需要审核员协助", to_user="bob")
    assert row.id == fix_id
    stored = task_row(db, fix_id)
    assert (stored.assignee_id, stored.post_id, stored.org_unit_id, stored.status) == (
        uid(pe, db, "bob"), post_id(db, "dispatcher"), org_id(db, "GZ"), "ready")
    assert keys(pe, db, "bob", "mine") == [("WO-1", "fix")]
    assert keys(pe, db, "alice") == []
    assert keys(pe, db, "anna") == []
    (event,) = events(pe, db, instance_id, "task_transferred")
    assert (event.actor_id, event.human_task_id, event.node_id, event.at) == (
        uid(pe, db, "alice"), fix_id, "fix", clock.now)
    assert event.payload == {
        "reason": "需要审核员协助",
        "from": {"assignee_id": None, "post_id": post_id(db, "dispatcher"), "org_unit_id": org_id(db, "GZ")},
        "to_user": "bob",
    }
    # the new assignee can finish it; the former holder (still on the post) is told it is someone else's
    with pytest.raises(ConcurrencyConflict, match="assigned to someone else"):
        act(pe, db, "complete", fix_id, "alice", {})
    (review,) = act(pe, db, "complete", fix_id, "bob", {"done": True})
    assert review.node_id == "review"
    assert task_row(db, fix_id).completed_by_id == uid(pe, db, "bob")


def test_transfer_to_a_post_and_to_another_unit(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    act(pe, db, "claim", fix_id, "alice")
    # to a post by its name: back in the pool of 审核员 in the same unit, unclaimed
    act(pe, db, "transfer", fix_id, "alice", reason="请审核员处理", to_post="审核员")
    row = task_row(db, fix_id)
    assert (row.assignee_id, row.claimed_at, row.post_id, row.lane, row.org_unit_id) == (
        None, None, post_id(db, "reviewer"), "reviewer", org_id(db, "GZ"))
    assert keys(pe, db, "bob", "offered") == [("WO-1", "fix")]
    assert keys(pe, db, "alice") == []
    assert keys(pe, db, "anna") == []
    assert keys(pe, db, "carol") == []
    # on to the dispatchers of another unit
    clock.advance(minutes=1)
    act(pe, db, "transfer", fix_id, "bob", reason="属地在深圳", to_post="dispatcher", to_org="SZ")
    row = task_row(db, fix_id)
    assert (row.assignee_id, row.post_id, row.lane, row.org_unit_id) == (
        None, post_id(db, "dispatcher"), "dispatcher", org_id(db, "SZ"))
    assert keys(pe, db, "carol", "offered") == [("WO-1", "fix")]
    assert keys(pe, db, "bob") == []
    assert keys(pe, db, "alice") == []
    assert keys(pe, db, "sup", "org") == []  # no longer in GZ
    assert keys(pe, db, "boss", "org") == [("WO-1", "fix")]
    first, second = events(pe, db, instance_id, "task_transferred")
    assert first.actor_id == uid(pe, db, "alice")
    assert first.payload == {
        "reason": "请审核员处理",
        "from": {"assignee_id": uid(pe, db, "alice"), "post_id": post_id(db, "dispatcher"),
                 "org_unit_id": org_id(db, "GZ")},
        "to_post": "reviewer", "to_org": None,
    }
    assert second.actor_id == uid(pe, db, "bob")
    assert second.payload == {
        "reason": "属地在深圳",
        "from": {"assignee_id": None, "post_id": post_id(db, "reviewer"), "org_unit_id": org_id(db, "GZ")},
        "to_post": "dispatcher", "to_org": "SZ",
    }
    assert second.at == clock.now
    act(pe, db, "complete", fix_id, "carol", {})
    assert task_row(db, fix_id).completed_by_id == uid(pe, db, "carol")


def test_transfer_input_errors_change_nothing(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    bad_input = [
        {"reason": "", "to_user": "anna"},
        {"reason": "   ", "to_user": "anna"},
        {"reason": "x" * 2001, "to_user": "anna"},
        {"reason": "两个都填", "to_user": "anna", "to_post": "reviewer"},
        {"reason": "都没填"},
        {"reason": "都没填", "to_org": "SZ"},
    ]
    for kwargs in bad_input:
        with pytest.raises(InvalidInput):
            act(pe, db, "transfer", fix_id, "alice", **kwargs)
    with pytest.raises(InvalidInput, match="reason"):
        act(pe, db, "transfer", fix_id, "alice", reason=" ", to_user="anna")
    unknown = [
        {"reason": "查无此人", "to_user": "nobody"},
        {"reason": "查无此岗", "to_post": "astronaut"},
        {"reason": "查无此地", "to_post": "dispatcher", "to_org": "XX"},
    ]
    for kwargs in unknown:
        with pytest.raises(NotFound):
            act(pe, db, "transfer", fix_id, "alice", **kwargs)
    # a task one holds cannot be transferred to oneself
    act(pe, db, "claim", fix_id, "alice")
    with pytest.raises(InvalidInput):
        act(pe, db, "transfer", fix_id, "alice", reason="给自己", to_user="alice")
    row = task_row(db, fix_id)
    assert (row.assignee_id, row.post_id, row.lane, row.org_unit_id) == (
        uid(pe, db, "alice"), post_id(db, "dispatcher"), "dispatcher", org_id(db, "GZ"))
    assert events(pe, db, instance_id, "task_transferred") == []


def test_transfer_and_return_obey_the_allow_property(pe, db, deploy):
    deploy("tasks/strict.bpmn")  # prepare: allow=return; approve: allow=transfer
    instance_id, (prepare_id,) = start(pe, db, "strict", "WO-1")
    assert task_row(db, prepare_id).allow == "return"
    for who in ("alice", "sup"):
        with pytest.raises(NotAllowed, match="transfer"):
            act(pe, db, "transfer", prepare_id, who, reason="转给安娜", to_user="anna")
    # return is allowed here, but the first step has nothing to return to
    with pytest.raises(InvalidState):
        act(pe, db, "return_to_previous", prepare_id, "alice", reason="退回")
    assert task_row(db, prepare_id).assignee_id is None
    (approve,) = act(pe, db, "complete", prepare_id, "alice", {})
    assert task_row(db, approve.id).allow == "transfer"
    with pytest.raises(NotAllowed, match="return"):
        act(pe, db, "return_to_previous", approve.id, "bob", reason="材料不全")
    assert rows_of(db, instance_id) == [("prepare", "completed"), ("approve", "ready")]
    act(pe, db, "transfer", approve.id, "bob", reason="请卡罗审核", to_user="carol")
    assert keys(pe, db, "carol", "mine") == [("WO-1", "approve")]
    assert [e.event_type for e in timeline(pe, db, instance_id)] == [
        "instance_started", "task_created", "task_completed", "task_created", "task_transferred"]


def test_supervisor_may_transfer_a_task_not_offered_to_them(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    _, (sz_fix,) = start(pe, db, "review_loop", "WO-2", starter="carol")
    act(pe, db, "claim", fix_id, "alice")
    # the GZ supervisor has no say over SZ work
    with pytest.raises(NotFound):
        act(pe, db, "transfer", sz_fix, "sup", reason="越权", to_user="alice")
    assert task_row(db, sz_fix).assignee_id is None
    # neither another post in the unit nor the same post in another unit may touch it
    for name in ("bob", "carol"):
        with pytest.raises(NotFound):
            act(pe, db, "transfer", fix_id, name, reason="抢单", to_user=name)
    with pytest.raises(ConcurrencyConflict, match="assigned to someone else"):
        act(pe, db, "transfer", fix_id, "anna", reason="抢单", to_user="anna")
    act(pe, db, "transfer", fix_id, "sup", reason="艾丽休假", to_user="anna")
    assert task_row(db, fix_id).assignee_id == uid(pe, db, "anna")
    assert keys(pe, db, "anna", "mine") == [("WO-1", "fix")]
    assert keys(pe, db, "alice") == []
    act(pe, db, "transfer", fix_id, "boss", reason="省里统筹", to_post="dispatcher")
    assert keys(pe, db, "alice", "offered") == [("WO-1", "fix")]
    transfers = events(pe, db, instance_id, "task_transferred")
    assert [(e.actor_id, e.payload["reason"], e.payload["from"]["assignee_id"]) for e in transfers] == [
        (uid(pe, db, "sup"), "艾丽休假", uid(pe, db, "alice")),
        (uid(pe, db, "boss"), "省里统筹", uid(pe, db, "anna")),
    ]
    assert transfers[0].payload["to_user"] == "anna"
    assert transfers[1].payload["to_post"] == "dispatcher"


# -- return (退回) ------------------------------------------------------------------------------------------
def test_return_reopens_the_previous_step_for_who_did_it(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    clock.advance(minutes=10)
    (review,) = act(pe, db, "complete", fix_id, "anna", {"note": "first try"})
    review_id = review.id
    clock.advance(minutes=10)
    returned_at = clock.now
    reopened = act(pe, db, "return_to_previous", review_id, "bob", reason="材料不全")
    reopened_id = reopened.id
    assert reopened_id not in (fix_id, review_id)
    assert reopened.node_id == "fix"
    old_review = task_row(db, review_id)
    assert (old_review.status, old_review.completed_at, old_review.completed_by_id) == ("returned", returned_at,
                                                                                        None)
    new_fix = task_row(db, reopened_id)
    assert (new_fix.status, new_fix.node_id, new_fix.assignee_id, new_fix.created_at) == (
        "ready", "fix", uid(pe, db, "anna"), returned_at)
    assert new_fix.due_at == returned_at + timedelta(hours=4)  # a fresh time limit
    assert task_row(db, fix_id).status == "completed"  # the earlier occurrence stays done
    assert rows_of(db, instance_id) == [("fix", "completed"), ("review", "returned"), ("fix", "ready")]
    assert keys(pe, db, "anna", "mine") == [("WO-1", "fix")]
    assert keys(pe, db, "alice") == []  # assigned to anna, not back in the pool
    assert keys(pe, db, "bob") == []
    with db.sessions() as s:
        assert s.get(ProcessInstance, instance_id).status == "running"
    (event,) = events(pe, db, instance_id, "task_returned")
    assert (event.actor_id, event.human_task_id, event.node_id, event.at) == (
        uid(pe, db, "bob"), review_id, "review", returned_at)
    assert event.payload == {"reason": "材料不全", "to_node": "fix", "to_task": reopened_id}
    # the reopened step leads to review again, and the flow can finish
    clock.advance(minutes=10)
    (review2,) = act(pe, db, "complete", reopened_id, "anna", {"note": "second try"})
    assert review2.node_id == "review" and review2.id != review_id
    clock.advance(minutes=10)
    assert act(pe, db, "complete", review2.id, "bob", {"approved": True}) == []
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert (instance.status, instance.ended_at) == ("completed", clock.now)
    assert rows_of(db, instance_id) == [("fix", "completed"), ("review", "returned"), ("fix", "completed"),
                                        ("review", "completed")]
    assert [(e.event_type, e.node_id) for e in timeline(pe, db, instance_id)] == [
        ("instance_started", None),
        ("task_created", "fix"),
        ("task_completed", "fix"),
        ("step_completed", "score"),
        ("task_created", "review"),
        ("task_returned", "review"),
        ("task_created", "fix"),
        ("task_completed", "fix"),
        ("step_completed", "score"),
        ("task_created", "review"),
        ("task_completed", "review"),
        ("instance_completed", None),
    ]
    assert [t.id for t in query(pe, db, "anna", "done").items] == [reopened_id, fix_id]


def test_return_goes_to_the_latest_occurrence_of_the_previous_step(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix1,) = start(pe, db, "review_loop", "WO-1")
    (review1,) = act(pe, db, "complete", fix1, "alice", {})
    (fix2,) = act(pe, db, "complete", review1.id, "bob", {"approved": False})  # rejected: round two
    assert fix2.node_id == "fix"
    (review2,) = act(pe, db, "complete", fix2.id, "anna", {})
    reopened = act(pe, db, "return_to_previous", review2.id, "bob", reason="还是不行")
    assert task_row(db, reopened.id).assignee_id == uid(pe, db, "anna")
    assert rows_of(db, instance_id) == [("fix", "completed"), ("review", "completed"), ("fix", "completed"),
                                        ("review", "returned"), ("fix", "ready")]


def test_return_errors(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    # the first user step has nothing before it
    with pytest.raises(InvalidState, match="no earlier step"):
        act(pe, db, "return_to_previous", fix_id, "alice", reason="退回")
    assert task_row(db, fix_id).status == "ready"
    (review,) = act(pe, db, "complete", fix_id, "alice", {})
    version_before = version(db, instance_id)
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput, match="reason"):
            act(pe, db, "return_to_previous", review.id, "bob", reason=reason)
    # a dispatcher cannot see the review step
    with pytest.raises(NotFound):
        act(pe, db, "return_to_previous", review.id, "alice", reason="退回")
    assert rows_of(db, instance_id) == [("fix", "completed"), ("review", "ready")]
    assert version(db, instance_id) == version_before
    assert events(pe, db, instance_id, "task_returned") == []


# -- annotate (批注) ----------------------------------------------------------------------------------------
def test_annotate(pe, db, deploy, clock):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    clock.advance(minutes=2)
    assert act(pe, db, "annotate", fix_id, "alice", "  已联系客户，约明早上门  ") is None
    act(pe, db, "annotate", fix_id, "sup", "请优先处理")
    for text in ("", "   ", "x" * 2001):
        with pytest.raises(InvalidInput, match="text"):
            act(pe, db, "annotate", fix_id, "alice", text)
    for name in ("bob", "carol", "mike"):
        with pytest.raises(NotFound):
            act(pe, db, "annotate", fix_id, name, "看不到也要批注")
    with pytest.raises(NotFound):
        act(pe, db, "annotate", 999_999, "alice", "不存在")
    # who completed a task may still annotate it afterwards
    act(pe, db, "complete", fix_id, "anna", {})
    act(pe, db, "annotate", fix_id, "anna", "补充：已更换光猫")
    with pytest.raises(NotFound):
        act(pe, db, "annotate", fix_id, "bob", "不是我的岗位")
    act(pe, db, "annotate", fix_id, "alice", "同岗位同事也可以批注")
    notes = events(pe, db, instance_id, "task_annotated")
    assert [(e.actor_id, e.human_task_id, e.node_id, e.payload) for e in notes] == [
        (uid(pe, db, "alice"), fix_id, "fix", {"text": "已联系客户，约明早上门"}),
        (uid(pe, db, "sup"), fix_id, "fix", {"text": "请优先处理"}),
        (uid(pe, db, "anna"), fix_id, "fix", {"text": "补充：已更换光猫"}),
        (uid(pe, db, "alice"), fix_id, "fix", {"text": "同岗位同事也可以批注"}),
    ]
    assert notes[0].at == clock.now
    # an annotation changes neither the task nor the instance
    assert task_row(db, fix_id).data == {}
    assert task_row(db, fix_id).completed_by_id == uid(pe, db, "anna")


# -- completing with bad data ------------------------------------------------------------------------------
def test_complete_with_bad_data_changes_nothing(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, (fix_id,) = start(pe, db, "review_loop", "WO-1")
    act(pe, db, "claim", fix_id, "alice")
    version_before = version(db, instance_id)
    count_before = len(timeline(pe, db, instance_id))
    for data in ([1, 2], "done", None, 42, {"_secret": 1}, {"ok": 1, "_hidden": 2}, {"": 1}):
        with pytest.raises(InvalidInput):
            act(pe, db, "complete", fix_id, "alice", data)
    row = task_row(db, fix_id)
    assert (row.status, row.data, row.completed_at, row.completed_by_id) == ("ready", None, None, None)
    assert version(db, instance_id) == version_before
    assert len(timeline(pe, db, instance_id)) == count_before
    assert rows_of(db, instance_id) == [("fix", "ready")]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(HumanTask)) == 1
    # good data still works afterwards
    (review,) = act(pe, db, "complete", fix_id, "alice", {"note": "ok"})
    assert task_row(db, fix_id).data == {"note": "ok"}
    assert review.node_id == "review"


# -- parallel user tasks -----------------------------------------------------------------------------------
def test_parallel_user_tasks_both_appear_and_finish_the_instance(pe, db, deploy, clock):
    deploy("tasks/parallel.bpmn")
    instance_id, task_ids = start(pe, db, "parallel", "WO-1")
    assert len(task_ids) == 2
    with db.sessions() as s:
        by_node = {r.node_id: r for r in (s.get(HumanTask, i) for i in task_ids)}
    assert set(by_node) == {"survey", "repair"}
    assert (by_node["survey"].post_id, by_node["survey"].lane) == (post_id(db, "dispatcher"), "dispatcher")
    assert (by_node["repair"].post_id, by_node["repair"].lane) == (post_id(db, "maintainer"), "维护员")
    assert keys(pe, db, "alice") == [("WO-1", "survey")]
    assert keys(pe, db, "mike") == [("WO-1", "repair")]
    assert sorted(keys(pe, db, "sup", "org")) == [("WO-1", "repair"), ("WO-1", "survey")]
    # the maintainer cannot do the survey, nor the dispatcher the repair
    with pytest.raises(NotFound):
        act(pe, db, "complete", by_node["survey"].id, "mike", {})
    with pytest.raises(NotFound):
        act(pe, db, "complete", by_node["repair"].id, "alice", {})
    clock.advance(minutes=5)
    assert act(pe, db, "complete", by_node["survey"].id, "alice", {"survey": "ok"}) == []
    with db.sessions() as s:
        assert s.get(ProcessInstance, instance_id).status == "running"
    assert sorted(rows_of(db, instance_id)) == [("repair", "ready"), ("survey", "completed")]
    clock.advance(minutes=5)
    assert act(pe, db, "complete", by_node["repair"].id, "mike", {"parts": 2}) == []
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert (instance.status, instance.ended_at) == ("completed", clock.now)
    assert sorted(rows_of(db, instance_id)) == [("repair", "completed"), ("survey", "completed")]
    history = [(e.event_type, e.node_id) for e in timeline(pe, db, instance_id)]
    assert history[0] == ("instance_started", None)
    assert sorted(history[1:3]) == [("task_created", "repair"), ("task_created", "survey")]
    assert history[3:] == [("task_completed", "survey"), ("task_completed", "repair"), ("instance_completed", None)]
    assert keys(pe, db, "alice") == keys(pe, db, "mike") == []
