"""作业计划 (workplan) end to end, through the engine services as the post holders would work it:
start → 计划制定 → 计划审批 (reject, then approve) → 分发: one branch per executing unit (分发确认 → 执行反馈 →
反馈审核 at the province, a rejection returning only that unit's 执行反馈) → 归档. Transfer, suspend and resume
on the way. Every action runs in its own transaction as the user who holds the step; rows and history are
checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import ConcurrencyConflict, InvalidState, NotAllowed, NotFound
from engine.forms.validation import FormInvalid
from engine.identity.models import OrgUnit, User
from engine.runtime.models import Incident
from engine.tasks.models import HumanTask
from tests.conftest import user
from tests.flows.conftest import (
    act,
    add_person,
    engine_data,
    events,
    flow_starter,
    inbox,
    instance,
    rows_of,
    sh,
    story,
    uid,
    where,
)
from tests.flows.conftest import complete_with_nodes as complete
from tests.flows.conftest import task_row as row

KEY = "workplan"
PDF = b"%PDF-1.4\n% inspection record\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
START_DATA = {"plan_type": "monthly", "title": "3月基站巡检"}
DRAFT = {"plan_type": "monthly", "title": "3月基站巡检", "scope": "全省政企专线接入点", "start_date": "2026-03-09",
         "end_date": "2026-03-31", "units": ["GZ", "SZ"], "content": "按巡检规范检查设备、电源、光缆"}


# -- helpers -----------------------------------------------------------------------------------------------
start = flow_starter(KEY, START_DATA, "gd_planner")


def only(arrived: list[tuple[int, str]], node: str) -> int:
    """The id of the single task that arrived, checking its node."""
    ((task_id, arrived_node),) = arrived
    assert arrived_node == node
    return task_id


def open_tasks(db, instance_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(node, org code) of the open tasks, sorted."""
    with db.sessions() as s:
        found = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                  HumanTask.status == "ready"))
        return sorted((r.node_id, s.get(OrgUnit, r.org_unit_id).code) for r in found)


def inbox_ids(pe, db, username: str) -> list[int]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return sorted(t.id for t in pe.tasks.query(s, user(s, pe, username)).items)


def incidents(db, instance_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return [(i.kind, i.message) for i in s.scalars(select(Incident).where(Incident.instance_id == instance_id))]


def approved_plan(pe, db, clock, units: list[str], business_key: str = "WP-1") -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    """Start, draft for ``units`` and approve; the instance and its 分发确认 task per unit."""
    instance_id, (draft_id,) = start(pe, db, business_key)
    clock.advance(minutes=30)
    approve_id = only(complete(pe, db, draft_id, "gd_planner", {**DRAFT, "units": units}), "approve")
    clock.advance(minutes=30)
    arrived = complete(pe, db, approve_id, "gd_plan_approver", {"approve_result": "pass"})
    assert [node for _, node in arrived] == ["confirm"] * len(units)
    return instance_id, {where(db, tid)[2]: tid for tid, _ in arrived}


# -- the whole story ---------------------------------------------------------------------------------------
def test_workplan_story_from_draft_to_archive(pe, db, clock):
    # 发起作业计划 by the province's planner: the instance belongs to GD, 计划制定 to the planners of GD
    instance_id, (draft_id,) = start(pe, db, "WP-1")
    started = instance(db, instance_id)
    assert (started.status, started.started_by_id, started.started_at) == (
        "running", uid(pe, db, "gd_planner"), sh(2, 9))
    with db.sessions() as s:
        assert s.get(OrgUnit, started.org_unit_id).code == "GD"
    assert where(db, draft_id) == ("draft", "planner", "GD", None, "ready")
    draft = row(db, draft_id)
    assert (draft.form_key, draft.time_limit, draft.calendar, draft.due_at) == (
        "plan_draft", "P2D", "workday", sh(4, 9))
    assert inbox(pe, db, "gd_planner") == [("WP-1", "draft")]
    assert engine_data(pe, db, draft_id)["title"] == "3月基站巡检"

    # 计划制定: the executing units are a checklist of GZ/SZ/DG; anything else is named as a problem of units
    clock.advance(minutes=30)
    for bad_units in (["GZ", "HK"], ["ZZ"]):
        with pytest.raises(FormInvalid) as bad:
            complete(pe, db, draft_id, "gd_planner", {**DRAFT, "units": bad_units})
        assert set(bad.value.problems) == {"units"}
        assert bad.value.problems["units"].code == "option"
    with pytest.raises(FormInvalid) as none:
        complete(pe, db, draft_id, "gd_planner", {**DRAFT, "units": []})
    assert none.value.problems["units"].code == "required"
    with pytest.raises(FormInvalid) as dates:
        complete(pe, db, draft_id, "gd_planner", {**DRAFT, "end_date": "3月底"})
    assert set(dates.value.problems) == {"end_date"}
    assert rows_of(db, instance_id) == [("draft", "ready")]
    approve_id = only(complete(pe, db, draft_id, "gd_planner", dict(DRAFT)), "approve")
    assert row(db, draft_id).data == DRAFT
    assert where(db, approve_id) == ("approve", "plan_approver", "GD", None, "ready")
    assert inbox(pe, db, "gd_plan_approver") == [("WP-1", "approve")]
    assert inbox(pe, db, "gd_planner") == []

    # 计划审批 rejects: back to 计划制定 (a new occurrence for the planners), the reason in its data
    clock.advance(minutes=30)
    draft2_id = only(complete(pe, db, approve_id, "gd_plan_approver",
                              {"approve_result": "reject", "approve_reason": "缺少东莞的安排说明"}), "draft")
    assert draft2_id != draft_id
    assert where(db, draft2_id) == ("draft", "planner", "GD", None, "ready")
    redo = engine_data(pe, db, draft2_id)
    assert (redo["approve_result"], redo["approve_reason"], redo["units"]) == ("reject", "缺少东莞的安排说明",
                                                                              ["GZ", "SZ"])
    assert inbox(pe, db, "gd_planner") == [("WP-1", "draft")]
    clock.advance(minutes=30)
    redrafted = {**DRAFT, "content": "巡检设备、电源、光缆；东莞下月"}
    approve2_id = only(complete(pe, db, draft2_id, "gd_planner", redrafted), "approve")

    # 计划审批 approves: 分发 opens one branch per unit, each 分发确认 for the maintainers of that unit
    clock.advance(minutes=15)
    arrived = complete(pe, db, approve2_id, "gd_plan_approver", {"approve_result": "pass", "approve_reason": "同意"})
    assert [node for _, node in arrived] == ["confirm", "confirm"]
    confirm = {where(db, tid)[2]: tid for tid, _ in arrived}
    assert set(confirm) == {"GZ", "SZ"}
    for unit, tid in confirm.items():
        assert where(db, tid) == ("confirm", "maintainer", unit, None, "ready")
        assert engine_data(pe, db, tid)["unit"] == unit
        assert row(db, tid).due_at == sh(3, 10, 45)  # P1D on working days from Mon 10:45
    assert open_tasks(db, instance_id) == [("confirm", "GZ"), ("confirm", "SZ")]
    assert inbox_ids(pe, db, "gz_maintainer") == [confirm["GZ"]]
    assert inbox_ids(pe, db, "sz_maintainer") == [confirm["SZ"]]
    assert inbox(pe, db, "gd_plan_approver") == []
    # a Guangzhou maintainer cannot see, let alone confirm, Shenzhen's branch
    with pytest.raises(NotFound):
        complete(pe, db, confirm["SZ"], "gz_maintainer", {"received": True, "executor": "陈工"})
    with pytest.raises(NotFound):
        act(pe, db, "get", confirm["SZ"], "gz_maintainer")
    # the province supervisor oversees both branches, the Guangzhou one only its own
    assert sorted(inbox(pe, db, "boss", "org")) == [("WP-1", "confirm"), ("WP-1", "confirm")]
    assert inbox(pe, db, "sup", "org") == [("WP-1", "confirm")]

    # 分发确认 in each unit → 执行反馈 in the same unit
    clock.advance(minutes=15)
    with pytest.raises(FormInvalid) as unticked:
        complete(pe, db, confirm["GZ"], "gz_maintainer", {"received": False, "executor": "陈工"})
    assert set(unticked.value.problems) == {"received"}
    gz_feedback = only(complete(pe, db, confirm["GZ"], "gz_maintainer", {"received": True, "executor": "陈工"}),
                       "feedback")
    assert where(db, gz_feedback) == ("feedback", "maintainer", "GZ", None, "ready")
    assert open_tasks(db, instance_id) == [("confirm", "SZ"), ("feedback", "GZ")]
    clock.advance(minutes=15)
    sz_feedback = only(complete(pe, db, confirm["SZ"], "sz_maintainer", {"received": True, "executor": "林工"}),
                       "feedback")
    assert where(db, sz_feedback) == ("feedback", "maintainer", "SZ", None, "ready")
    assert inbox_ids(pe, db, "gz_maintainer") == [gz_feedback]
    assert inbox_ids(pe, db, "sz_maintainer") == [sz_feedback]

    # 执行反馈 is suspended over the lunch break in Guangzhou (the step allows it) and resumed
    clock.now = sh(2, 11, 30)
    gz_due = row(db, gz_feedback).due_at
    assert gz_due == sh(9, 11)  # P5D on working days from Mon 11:00
    assert row(db, gz_feedback).warn_at == sh(6, 11)  # a working day before
    act(pe, db, "suspend", gz_feedback, "gz_maintainer", reason="等待备件到货")
    with pytest.raises(InvalidState, match="suspended"):
        complete(pe, db, gz_feedback, "gz_maintainer", {"feedback": "已完成"})
    clock.now = sh(2, 14, 30)
    act(pe, db, "resume", gz_feedback, "gz_maintainer", reason="备件已到")
    resumed = row(db, gz_feedback)
    assert (resumed.suspended_at, resumed.paused_seconds) == (None, 5400)  # 11:30-12:00 and 13:30-14:30
    assert (resumed.due_at, resumed.warn_at) == (sh(9, 14), sh(6, 14))  # 11:00 + 1.5 working hours
    assert row(db, sz_feedback).paused_seconds == 0  # the other branch's clock never stopped

    # 执行反馈 → 反馈审核 at the province, one per branch
    clock.advance(minutes=30)
    evidence = act(pe, db, "upload", gz_feedback, "gz_maintainer", filename="巡检记录.pdf", data=PDF).id
    gz_review = only(complete(pe, db, gz_feedback, "gz_maintainer",
                              {"feedback": "完成23个站点巡检", "done": True, "evidence": [evidence]}), "review")
    # 反馈审核 sits in the branch's lane 计划审批人: the province's plan approvers review every unit's feedback
    assert where(db, gz_review) == ("review", "plan_approver", "GD", None, "ready")
    assert engine_data(pe, db, gz_review)["unit"] == "GZ"
    clock.advance(minutes=10)
    sz_review = only(complete(pe, db, sz_feedback, "sz_maintainer", {"feedback": "完成15个站点巡检", "done": True}),
                     "review")
    assert engine_data(pe, db, sz_review)["unit"] == "SZ"
    assert inbox_ids(pe, db, "gd_plan_approver") == sorted([gz_review, sz_review])
    assert open_tasks(db, instance_id) == [("review", "GD"), ("review", "GD")]

    # rejecting Guangzhou's feedback returns only Guangzhou's 执行反馈; Shenzhen's review stays as it was
    sz_before = row(db, sz_review)
    clock.advance(minutes=20)
    gz_feedback2 = only(complete(pe, db, gz_review, "gd_plan_approver",
                                 {"review_result": "reject", "review_reason": "缺少机房照片"}), "feedback")
    assert where(db, gz_feedback2) == ("feedback", "maintainer", "GZ", None, "ready")
    again = engine_data(pe, db, gz_feedback2)
    assert (again["unit"], again["review_result"], again["review_reason"]) == ("GZ", "reject", "缺少机房照片")
    sz_after = row(db, sz_review)
    assert (sz_after.status, sz_after.row_version, sz_after.created_at) == (
        "ready", sz_before.row_version, sz_before.created_at)
    assert open_tasks(db, instance_id) == [("feedback", "GZ"), ("review", "GD")]
    assert inbox_ids(pe, db, "gz_maintainer") == [gz_feedback2]
    assert inbox(pe, db, "sz_maintainer") == []
    assert inbox_ids(pe, db, "gd_plan_approver") == [sz_review]

    # Shenzhen passes: its branch ends, the plan waits for Guangzhou
    clock.advance(minutes=10)
    assert complete(pe, db, sz_review, "gd_plan_approver", {"review_result": "pass"}) == []
    assert instance(db, instance_id).status == "running"
    assert open_tasks(db, instance_id) == [("feedback", "GZ")]

    # Guangzhou feeds back again and passes: 归档, the instance is complete
    clock.advance(hours=1)
    photos = act(pe, db, "upload", gz_feedback2, "gz_maintainer", filename="机房照片.png",
                 data=b"\x89PNG\r\n\x1a\n0000").id
    gz_review2 = only(complete(pe, db, gz_feedback2, "gz_maintainer",
                               {"feedback": "补充机房照片", "done": True, "evidence": [evidence, photos]}), "review")
    clock.advance(minutes=15)
    assert complete(pe, db, gz_review2, "gd_plan_approver", {"review_result": "pass", "review_reason": "齐全"}) == []
    finished = instance(db, instance_id)
    assert (finished.status, finished.ended_at) == ("completed", clock.now)
    assert open_tasks(db, instance_id) == []
    with db.sessions() as s:
        done = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
        completed = [(r.node_id, s.get(OrgUnit, r.org_unit_id).code, s.get(User, r.completed_by_id).username)
                     for r in done]
        assert {r.status for r in done} == {"completed"}
    assert completed[:4] == [("draft", "GD", "gd_planner"), ("approve", "GD", "gd_plan_approver"),
                             ("draft", "GD", "gd_planner"), ("approve", "GD", "gd_plan_approver")]
    assert sorted(completed[4:]) == sorted([
        ("confirm", "GZ", "gz_maintainer"), ("confirm", "SZ", "sz_maintainer"),
        ("feedback", "GZ", "gz_maintainer"), ("feedback", "SZ", "sz_maintainer"),
        ("review", "GD", "gd_plan_approver"), ("review", "GD", "gd_plan_approver"),
        ("feedback", "GZ", "gz_maintainer"), ("review", "GD", "gd_plan_approver")])
    assert incidents(db, instance_id) == []
    for name in ("gd_planner", "gd_plan_approver", "gz_maintainer", "sz_maintainer"):
        assert inbox(pe, db, name) == [], name

    # the history reads as the story (the two 分发确认 arrive together, in either order)
    history = story(pe, db, instance_id)
    assert history[9:11] == [("task_created", "confirm"), ("task_created", "confirm")]
    assert history == [
        ("instance_started", None),
        ("task_created", "draft"),
        ("task_completed", "draft"),
        ("task_created", "approve"),
        ("task_completed", "approve"),  # rejected
        ("task_created", "draft"),
        ("task_completed", "draft"),
        ("task_created", "approve"),
        ("task_completed", "approve"),  # approved: 分发
        ("task_created", "confirm"),
        ("task_created", "confirm"),
        ("task_completed", "confirm"),  # GZ
        ("task_created", "feedback"),
        ("task_completed", "confirm"),  # SZ
        ("task_created", "feedback"),
        ("task_suspended", "feedback"),  # GZ
        ("task_resumed", "feedback"),
        ("attachment_added", "feedback"),
        ("task_completed", "feedback"),  # GZ
        ("task_created", "review"),
        ("task_completed", "feedback"),  # SZ
        ("task_created", "review"),
        ("task_completed", "review"),  # GZ rejected
        ("task_created", "feedback"),
        ("task_completed", "review"),  # SZ passed
        ("attachment_added", "feedback"),
        ("task_completed", "feedback"),  # GZ again
        ("task_created", "review"),
        ("task_completed", "review"),  # GZ passed
        ("instance_completed", None),
    ]
    # who did what, in the history too
    with db.sessions() as s:
        actors = [(e.node_id, s.get(User, e.actor_id).username) for e in pe.history.timeline(s, instance_id)
                  if e.event_type == "task_completed"]
    assert actors[-5:] == [("feedback", "sz_maintainer"), ("review", "gd_plan_approver"),
                           ("review", "gd_plan_approver"), ("feedback", "gz_maintainer"),
                           ("review", "gd_plan_approver")]


# -- transfer ----------------------------------------------------------------------------------------------
def test_approval_is_transferred_to_another_approver(pe, db, clock):
    add_person(pe, db, "gd_plan_approver_b", "plan_approver", "GD")
    instance_id, (draft_id,) = start(pe, db, "WP-1")
    approve_id = only(complete(pe, db, draft_id, "gd_planner", dict(DRAFT)), "approve")
    # the planner has no say over the approval
    with pytest.raises(NotFound):
        act(pe, db, "transfer", approve_id, "gd_planner", reason="催一下", to_user="gd_plan_approver_b")

    clock.advance(minutes=20)
    act(pe, db, "transfer", approve_id, "gd_plan_approver", reason="本人休假，请B审批", to_user="gd_plan_approver_b")
    assert where(db, approve_id) == ("approve", "plan_approver", "GD", "gd_plan_approver_b", "ready")
    assert inbox(pe, db, "gd_plan_approver_b", "mine") == [("WP-1", "approve")]
    assert inbox(pe, db, "gd_plan_approver") == []
    (event,) = events(pe, db, instance_id, "task_transferred")
    assert (event.actor_id, event.human_task_id, event.node_id, event.at) == (
        uid(pe, db, "gd_plan_approver"), approve_id, "approve", clock.now)
    assert event.payload["reason"] == "本人休假，请B审批"
    assert event.payload["to_user"] == "gd_plan_approver_b"
    with pytest.raises(ConcurrencyConflict):
        complete(pe, db, approve_id, "gd_plan_approver", {"approve_result": "pass"})

    clock.advance(minutes=20)
    arrived = complete(pe, db, approve_id, "gd_plan_approver_b", {"approve_result": "pass"})
    assert sorted(where(db, tid)[2] for tid, _ in arrived) == ["GZ", "SZ"]
    assert row(db, approve_id).completed_by_id == uid(pe, db, "gd_plan_approver_b")
    assert inbox(pe, db, "gd_plan_approver_b", "done") == [("WP-1", "approve")]
    # the history shows the transfer between the approval's arrival and its completion
    assert story(pe, db, instance_id)[:6] == [
        ("instance_started", None), ("task_created", "draft"), ("task_completed", "draft"),
        ("task_created", "approve"), ("task_transferred", "approve"), ("task_completed", "approve")]


def test_feedback_allows_suspend_but_confirmation_does_not(pe, db, clock):
    _, confirm = approved_plan(pe, db, clock, ["GZ", "SZ"])
    with pytest.raises(NotAllowed, match="suspend"):
        act(pe, db, "suspend", confirm["SZ"], "sz_maintainer", reason="人手不足")
    feedback = only(complete(pe, db, confirm["SZ"], "sz_maintainer", {"received": True, "executor": "林工"}),
                    "feedback")
    # a Guangzhou maintainer can neither suspend nor resume Shenzhen's step
    with pytest.raises(NotFound):
        act(pe, db, "suspend", feedback, "gz_maintainer", reason="越权")
    act(pe, db, "suspend", feedback, "sz_maintainer", reason="台风停工")
    with pytest.raises(NotFound):
        act(pe, db, "resume", feedback, "gz_maintainer")
    with pytest.raises(InvalidState):
        act(pe, db, "resume", confirm["GZ"], "gz_maintainer")  # never suspended
    clock.advance(days=1)  # Tue 10:00: a whole working day counted as paused
    act(pe, db, "resume", feedback, "sz_maintainer", reason="复工")
    resumed = row(db, feedback)
    # counted: Mon 10:00-12:00 and 13:30-17:30, Tue 08:30-10:00
    assert (resumed.suspended_at, resumed.paused_seconds) == (None, 27000)
    assert resumed.due_at == sh(10, 10)  # P5D from Mon 10:00 is Mon 9th 10:00, plus one working day


# -- how many branches -------------------------------------------------------------------------------------
def test_three_units_give_three_branches(pe, db, clock):
    with db.sessions.begin() as s:
        pe.identity.add_org_unit(s, "DG", "东莞市", "GD")
    add_person(pe, db, "dg_maintainer", "maintainer", "DG")
    instance_id, confirm = approved_plan(pe, db, clock, ["GZ", "SZ", "DG"])
    assert set(confirm) == {"GZ", "SZ", "DG"}
    assert open_tasks(db, instance_id) == [("confirm", "DG"), ("confirm", "GZ"), ("confirm", "SZ")]
    holders = {"GZ": "gz_maintainer", "SZ": "sz_maintainer", "DG": "dg_maintainer"}
    for unit, name in holders.items():
        assert inbox_ids(pe, db, name) == [confirm[unit]]
    # each branch runs on its own; the plan is archived after the last one passes
    for number, (unit, name) in enumerate(holders.items()):
        feedback = only(complete(pe, db, confirm[unit], name, {"received": True, "executor": f"{unit}负责人"}),
                        "feedback")
        assert where(db, feedback)[2] == unit
        review = only(complete(pe, db, feedback, name, {"feedback": f"{unit}已完成"}), "review")
        assert where(db, review) == ("review", "plan_approver", "GD", None, "ready")
        assert instance(db, instance_id).status == "running"
        assert complete(pe, db, review, "gd_plan_approver", {"review_result": "pass"}) == []
        expected = "completed" if number == 2 else "running"
        assert instance(db, instance_id).status == expected
    assert [e for e in story(pe, db, instance_id) if e[0] == "task_created"].count(("task_created", "confirm")) == 3
    assert story(pe, db, instance_id)[-1] == ("instance_completed", None)
    assert incidents(db, instance_id) == []


def test_a_unit_missing_from_the_organisation_stays_at_the_province(pe, db, clock):
    """DG is a form option but not an org unit of the test world: its branch is kept in the plan's unit (GD),
    where nobody holds the maintainer post, and an incident says what needs fixing."""
    instance_id, confirm = approved_plan(pe, db, clock, ["GZ", "DG"])
    assert set(confirm) == {"GZ", "GD"}
    assert where(db, confirm["GD"]) == ("confirm", "maintainer", "GD", None, "ready")
    assert engine_data(pe, db, confirm["GD"])["unit"] == "DG"
    ((kind, message),) = incidents(db, instance_id)
    assert kind == "assignment" and "'DG'" in message
    assert inbox_ids(pe, db, "gz_maintainer") == [confirm["GZ"]]
    assert sorted(inbox(pe, db, "boss", "org")) == [("WP-1", "confirm"), ("WP-1", "confirm")]
