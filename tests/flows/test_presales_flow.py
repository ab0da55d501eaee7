"""售前需求支撑 (presales_demand) end to end, through the engine services as the post holders would work it:
start → 支撑调度 → the parallel automatic resource checks and their two confirmations → 方案组织 (with the
solution document) → 方案审核 (reject, then pass) → 产品经理确认. Transfer, return, suspend and resume on the
way. Every action runs in its own transaction as the user who holds the step; rows and history are checked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import ConcurrencyConflict, InvalidState, NotAllowed, NotFound
from engine.forms.validation import FormInvalid
from engine.identity.models import User
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from handlers.resources.inventory import add_resources
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
from tests.flows.conftest import upload as attach

KEY = "presales_demand"
PDF = b"%PDF-1.4\n% solution\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
START_DATA = {"customer": "广汽集团", "project": "广汽集团专线组网", "region": "GZ",
              "requirement": "两点之间 1G 数据专线，要求 99.99% 可用", "expected_date": "2026-03-20"}
SOLUTION = {"solution_summary": "双路由保护，OTN 承载"}


# -- helpers -----------------------------------------------------------------------------------------------
start = flow_starter(KEY, START_DATA, "gz_product_manager")


def upload(pe, db, task_id: int, username: str, filename: str = "方案.pdf", data: bytes = PDF) -> int:  # type: ignore[no-untyped-def]
    """Attach the solution document (a PDF unless told otherwise); the attachment id."""
    return attach(pe, db, task_id, username, filename, data)


def stock(db, region: str, ports: int, vlans: int, ips: int) -> None:  # type: ignore[no-untyped-def]
    """Free resources in a region's inventory."""
    with db.sessions.begin() as s:
        if ports:
            add_resources(s, region, "port", [f"{region}-OLT1-GE0/0/{i}" for i in range(1, ports + 1)])
        if vlans:
            add_resources(s, region, "vlan", [str(100 + i) for i in range(vlans)])
        if ips:
            add_resources(s, region, "ip", [f"10.{len(region)}.0.{i}" for i in range(1, ips + 1)])


def open_nodes(db, instance_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(node for node, status in rows_of(db, instance_id) if status == "ready")


def to_solution(pe, db, clock, business_key: str = "PS-1") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Start at Mon 09:00 and work up to 方案组织 (arrives Mon 10:00); the instance and the solution task."""
    instance_id, (assign_id,) = start(pe, db, business_key)
    clock.advance(minutes=10)
    arrived = dict((node, tid) for tid, node in complete(pe, db, assign_id, "gz_support_dispatcher",
                                                           {"engineers": "张工、李工", "support_level": "重要"}))
    clock.advance(minutes=20)
    assert complete(pe, db, arrived["confirm_tx"], "gz_transmission_engineer", {"tx_result": "pass"}) == []
    clock.advance(minutes=30)
    ((solution_id, node),) = complete(pe, db, arrived["confirm_data"], "gz_data_engineer", {"data_result": "pass"})
    assert node == "solution"
    return instance_id, solution_id


def solve(pe, db, solution_id: int, username: str = "gz_solution_manager",  # type: ignore[no-untyped-def]
          filename: str = "方案.pdf") -> int:
    """Upload the solution document and complete 方案组织; the 方案审核 task that arrives."""
    doc = upload(pe, db, solution_id, username, filename)
    ((review_id, node),) = complete(pe, db, solution_id, username, {**SOLUTION, "solution_doc": [doc]})
    assert node == "review"
    return review_id


# -- the whole story ---------------------------------------------------------------------------------------
def test_presales_story_from_demand_to_confirmation(pe, db, clock):
    stock(db, "GZ", ports=3, vlans=2, ips=4)
    stock(db, "SZ", ports=9, vlans=0, ips=0)  # another region's stock is not counted

    # the start form is checked; a bad start stores nothing
    with pytest.raises(FormInvalid) as bad_start:
        start(pe, db, "PS-1", {**START_DATA, "region": "HK", "customer": ""})
    assert set(bad_start.value.problems) == {"region", "customer"}
    with db.sessions() as s:
        assert s.scalars(select(ProcessInstance)).all() == []

    # 发起支撑需求: the product manager starts; 支撑调度 goes to the support dispatchers of Guangzhou
    instance_id, (assign_id,) = start(pe, db, "PS-1")
    started = instance(db, instance_id)
    assert (started.status, started.started_by_id, started.started_at) == (
        "running", uid(pe, db, "gz_product_manager"), sh(2, 9))
    assert where(db, assign_id) == ("assign", "support_dispatcher", "GZ", None, "ready")
    assign = row(db, assign_id)
    assert (assign.form_key, assign.time_limit, assign.calendar, assign.allow) == (
        "presales_assign", "PT4H", "workday", "return,transfer")
    assert (assign.warn_at, assign.due_at) == (sh(2, 12), sh(2, 14, 30))  # 4 working hours, lunch 12:00-13:30
    assert inbox(pe, db, "gz_support_dispatcher") == [("PS-1", "assign")]
    assert inbox(pe, db, "gz_product_manager") == []

    # 支撑调度: the two automatic checks run at once and both confirmations arrive together
    clock.advance(minutes=10)
    with pytest.raises(FormInvalid) as bad_level:
        complete(pe, db, assign_id, "gz_support_dispatcher", {"engineers": "张工", "support_level": "特急"})
    assert set(bad_level.value.problems) == {"support_level"}
    arrived = complete(pe, db, assign_id, "gz_support_dispatcher",
                       {"engineers": "张工、李工", "support_level": "重要", "assign_note": "优先处理"})
    assert sorted(node for _, node in arrived) == ["confirm_data", "confirm_tx"]
    ids = {node: tid for tid, node in arrived}
    tx_id, data_id = ids["confirm_tx"], ids["confirm_data"]
    assert [e for e in story(pe, db, instance_id) if e[0] == "step_completed"] in (
        [("step_completed", "check_tx"), ("step_completed", "check_data")],
        [("step_completed", "check_data"), ("step_completed", "check_tx")])
    assert where(db, tx_id) == ("confirm_tx", "transmission_engineer", "GZ", None, "ready")
    assert where(db, data_id) == ("confirm_data", "data_engineer", "GZ", None, "ready")
    assert open_nodes(db, instance_id) == ["confirm_data", "confirm_tx"]
    assert row(db, tx_id).due_at == row(db, data_id).due_at == sh(3, 9, 10)  # P1D on working days
    # what the automatic checks found in Guangzhou's inventory is in the task data of each confirmation
    tx_data, data_data = engine_data(pe, db, tx_id), engine_data(pe, db, data_id)
    assert tx_data["tx_check"] == {"available": True, "free": {"port": 3}}
    assert data_data["data_check"] == {"available": True, "free": {"vlan": 2, "ip": 4}}
    assert (tx_data["region"], tx_data["support_level"]) == ("GZ", "重要")
    # each engineer sees only the confirmation of their own post
    assert inbox(pe, db, "gz_transmission_engineer") == [("PS-1", "confirm_tx")]
    assert inbox(pe, db, "gz_data_engineer") == [("PS-1", "confirm_data")]
    assert inbox(pe, db, "gz_support_dispatcher") == []
    with pytest.raises(NotFound):
        complete(pe, db, tx_id, "gz_data_engineer", {"tx_result": "pass"})

    # one confirmation done: the other stays open and the join waits
    clock.advance(minutes=20)
    assert complete(pe, db, tx_id, "gz_transmission_engineer", {"tx_result": "pass", "tx_note": "端口充足"}) == []
    assert where(db, tx_id)[4] == "completed"
    assert where(db, data_id)[4] == "ready"
    assert open_nodes(db, instance_id) == ["confirm_data"]
    assert instance(db, instance_id).status == "running"
    assert ("task_created", "solution") not in story(pe, db, instance_id)
    assert inbox(pe, db, "gz_solution_manager") == []

    # the second one releases the join: 方案组织 for the solution managers
    clock.advance(minutes=30)
    ((solution_id, node),) = complete(pe, db, data_id, "gz_data_engineer", {"data_result": "pass"})
    assert node == "solution"
    assert where(db, solution_id) == ("solution", "solution_manager", "GZ", None, "ready")
    solution = row(db, solution_id)
    assert (solution.created_at, solution.due_at, solution.warn_at) == (sh(2, 10), sh(5, 10), sh(4, 10))
    assert inbox(pe, db, "gz_solution_manager") == [("PS-1", "solution")]

    # 方案组织 needs its document: without it the form names solution_doc and nothing changes
    clock.advance(minutes=30)
    with pytest.raises(FormInvalid) as missing:
        complete(pe, db, solution_id, "gz_solution_manager", dict(SOLUTION))
    assert set(missing.value.problems) == {"solution_doc"}
    assert missing.value.problems["solution_doc"].code == "required"
    assert "solution_doc" in str(missing.value)
    with pytest.raises(FormInvalid) as not_an_id:
        complete(pe, db, solution_id, "gz_solution_manager", {**SOLUTION, "solution_doc": ["方案.pdf"]})
    assert set(not_an_id.value.problems) == {"solution_doc"}
    assert row(db, solution_id).status == "ready"
    first_doc = upload(pe, db, solution_id, "gz_solution_manager", "方案-v1.pdf")
    ((review_id, node),) = complete(pe, db, solution_id, "gz_solution_manager",
                                    {**SOLUTION, "solution_doc": [first_doc]})
    assert node == "review"
    assert row(db, solution_id).data == {**SOLUTION, "solution_doc": [first_doc]}
    assert where(db, review_id) == ("review", "solution_reviewer", "GZ", None, "ready")
    assert inbox(pe, db, "gz_solution_reviewer") == [("PS-1", "review")]

    # 方案审核 rejects: back to 方案组织, a new occurrence, with the reason in its data
    clock.advance(hours=1)
    reason = "缺少传输路由图"
    ((solution2_id, node),) = complete(pe, db, review_id, "gz_solution_reviewer",
                                       {"review_result": "reject", "review_reason": reason})
    assert node == "solution" and solution2_id != solution_id
    assert row(db, review_id).data == {"review_result": "reject", "review_reason": reason}
    assert where(db, solution2_id) == ("solution", "solution_manager", "GZ", None, "ready")
    again = engine_data(pe, db, solution2_id)
    assert (again["review_result"], again["review_reason"]) == ("reject", reason)
    assert again["solution_doc"] == [first_doc]  # the earlier answer is there to improve on
    assert row(db, solution2_id).due_at == sh(5, 11, 30)  # a fresh P3D from 11:30
    assert inbox(pe, db, "gz_solution_manager") == [("PS-1", "solution")]
    assert inbox(pe, db, "gz_solution_reviewer") == []

    # second round: a new document, then 方案审核 passes and 产品经理确认 arrives for the starter's post
    clock.advance(hours=3)
    second_doc = upload(pe, db, solution2_id, "gz_solution_manager", "方案-v2.pdf")
    ((review2_id, _),) = complete(pe, db, solution2_id, "gz_solution_manager",
                                  {"solution_summary": "双路由保护，附传输路由图", "solution_doc": [second_doc]})
    clock.advance(minutes=45)
    with pytest.raises(FormInvalid) as no_result:
        complete(pe, db, review2_id, "gz_solution_reviewer", {"review_reason": "可以"})
    assert set(no_result.value.problems) == {"review_result"}
    ((confirm_id, node),) = complete(pe, db, review2_id, "gz_solution_reviewer",
                                     {"review_result": "pass", "review_reason": "同意"})
    assert node == "confirm"
    assert where(db, confirm_id) == ("confirm", "product_manager", "GZ", None, "ready")
    assert inbox(pe, db, "gz_product_manager") == [("PS-1", "confirm")]

    # 产品经理确认 must be ticked; then the demand is closed
    clock.advance(minutes=15)
    with pytest.raises(FormInvalid) as unticked:
        complete(pe, db, confirm_id, "gz_product_manager", {"pm_confirmed": False})
    assert set(unticked.value.problems) == {"pm_confirmed"}
    assert complete(pe, db, confirm_id, "gz_product_manager", {"pm_confirmed": True, "pm_comment": "满足"}) == []
    finished = instance(db, instance_id)
    assert (finished.status, finished.ended_at) == ("completed", clock.now)
    rows = rows_of(db, instance_id)
    assert sorted(rows[1:3]) == [("confirm_data", "completed"), ("confirm_tx", "completed")]
    assert [rows[0], *rows[3:]] == [
        ("assign", "completed"), ("solution", "completed"), ("review", "completed"), ("solution", "completed"),
        ("review", "completed"), ("confirm", "completed")]
    with db.sessions() as s:
        completers = {r.node_id: s.get(User, r.completed_by_id).username for r in s.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id))}
        assert s.scalars(select(Incident).where(Incident.instance_id == instance_id)).all() == []
    assert completers == {"assign": "gz_support_dispatcher", "confirm_tx": "gz_transmission_engineer",
                          "confirm_data": "gz_data_engineer", "solution": "gz_solution_manager",
                          "review": "gz_solution_reviewer", "confirm": "gz_product_manager"}
    for name in ("gz_support_dispatcher", "gz_transmission_engineer", "gz_data_engineer", "gz_solution_manager",
                 "gz_solution_reviewer", "gz_product_manager"):
        assert inbox(pe, db, name) == [], name
    assert inbox(pe, db, "gz_solution_manager", "done") == [("PS-1", "solution"), ("PS-1", "solution")]

    # the history reads as the story (the two parallel checks and confirmations in either order)
    history = story(pe, db, instance_id)
    assert sorted(history[3:5]) == [("step_completed", "check_data"), ("step_completed", "check_tx")]
    assert sorted(history[5:7]) == [("task_created", "confirm_data"), ("task_created", "confirm_tx")]
    assert history[:3] + history[7:] == [
        ("instance_started", None),
        ("task_created", "assign"),
        ("task_completed", "assign"),
        # check_tx, check_data; confirm_tx, confirm_data
        ("task_completed", "confirm_tx"),
        ("task_completed", "confirm_data"),
        ("task_created", "solution"),
        ("attachment_added", "solution"),
        ("task_completed", "solution"),
        ("task_created", "review"),
        ("task_completed", "review"),  # rejected
        ("task_created", "solution"),
        ("attachment_added", "solution"),
        ("task_completed", "solution"),
        ("task_created", "review"),
        ("task_completed", "review"),  # passed
        ("task_created", "confirm"),
        ("task_completed", "confirm"),
        ("instance_completed", None),
    ]
    uploads = events(pe, db, instance_id, "attachment_added")
    assert [(e.payload["attachment_id"], e.payload["filename"], e.actor_id) for e in uploads] == [
        (first_doc, "方案-v1.pdf", uid(pe, db, "gz_solution_manager")),
        (second_doc, "方案-v2.pdf", uid(pe, db, "gz_solution_manager"))]
    with db.sessions() as s:
        checks = [e for e in pe.history.timeline(s, instance_id) if e.event_type == "step_completed"]
        assert sorted(e.payload["name"] for e in checks) == ["传输资源自动核查", "数据资源自动核查"]
        assert {e.at for e in checks} == {sh(2, 9, 10)}


# -- the automatic resource checks -------------------------------------------------------------------------
def test_resource_checks_report_what_the_inventory_holds(pe, db, clock):
    stock(db, "SZ", ports=5, vlans=3, ips=3)  # Shenzhen has stock, Guangzhou none

    def checks(business_key: str) -> tuple[int, int, int, dict[str, Any], dict[str, Any]]:
        instance_id, (assign_id,) = start(pe, db, business_key)
        ids = {node: tid for tid, node in complete(pe, db, assign_id, "gz_support_dispatcher",
                                                    {"engineers": "张工", "support_level": "一般"})}
        assert set(ids) == {"confirm_tx", "confirm_data"}
        names = [node for kind, node in story(pe, db, instance_id) if kind == "step_completed"]
        assert sorted(names) == ["check_data", "check_tx"]
        return (instance_id, ids["confirm_tx"], ids["confirm_data"], engine_data(pe, db, ids["confirm_tx"])["tx_check"],
                engine_data(pe, db, ids["confirm_data"])["data_check"])

    # an empty inventory: nothing available, the engineers are told so
    instance_id, tx_id, data_id, tx_check, data_check = checks("PS-EMPTY")
    assert tx_check == {"available": False, "free": {"port": 0}}
    assert data_check == {"available": False, "free": {"vlan": 0, "ip": 0}}
    # both confirmations are open at once; this time the data engineer answers first and the join still waits
    assert open_nodes(db, instance_id) == ["confirm_data", "confirm_tx"]
    clock.advance(minutes=5)
    assert complete(pe, db, data_id, "gz_data_engineer", {"data_result": "reject", "data_note": "无空闲VLAN/IP"}) == []
    assert open_nodes(db, instance_id) == ["confirm_tx"]
    assert ("task_created", "solution") not in story(pe, db, instance_id)
    clock.advance(minutes=5)
    ((solution_id, node),) = complete(pe, db, tx_id, "gz_transmission_engineer",
                                      {"tx_result": "reject", "tx_note": "无空闲端口"})
    assert node == "solution"
    seen = engine_data(pe, db, solution_id)
    assert (seen["tx_result"], seen["data_result"]) == ("reject", "reject")  # both answers reach 方案组织

    # VLANs in stock but no IP address: the data check is still not available
    stock(db, "GZ", ports=0, vlans=2, ips=0)
    _, _, _, tx_check, data_check = checks("PS-PARTIAL")
    assert tx_check == {"available": False, "free": {"port": 0}}
    assert data_check == {"available": False, "free": {"vlan": 2, "ip": 0}}

    # everything in stock: both available; a check counts, it does not take anything
    stock(db, "GZ", ports=1, vlans=0, ips=2)
    _, _, _, tx_check, data_check = checks("PS-FULL")
    assert tx_check == {"available": True, "free": {"port": 1}}
    assert data_check == {"available": True, "free": {"vlan": 2, "ip": 2}}
    _, _, _, tx_check, _ = checks("PS-FULL-AGAIN")
    assert tx_check == {"available": True, "free": {"port": 1}}


# -- transfer, return, suspend -----------------------------------------------------------------------------
def test_solution_is_transferred_to_another_solution_manager(pe, db, clock):
    add_person(pe, db, "gz_solution_lead", "solution_manager")
    instance_id, solution_id = to_solution(pe, db, clock)
    assert inbox(pe, db, "gz_solution_lead") == inbox(pe, db, "gz_solution_manager") == [("PS-1", "solution")]
    # someone without the post cannot even see it
    with pytest.raises(NotFound):
        act(pe, db, "transfer", solution_id, "gz_solution_reviewer", reason="抢单", to_user="gz_solution_reviewer")

    clock.advance(minutes=15)
    act(pe, db, "transfer", solution_id, "gz_solution_manager", reason="方案经理出差，转方案负责人",
        to_user="gz_solution_lead")
    assert where(db, solution_id) == ("solution", "solution_manager", "GZ", "gz_solution_lead", "ready")
    assert inbox(pe, db, "gz_solution_lead", "mine") == [("PS-1", "solution")]
    assert inbox(pe, db, "gz_solution_manager") == []
    (event,) = events(pe, db, instance_id, "task_transferred")
    assert (event.actor_id, event.human_task_id, event.node_id, event.at) == (
        uid(pe, db, "gz_solution_manager"), solution_id, "solution", clock.now)
    assert event.payload["reason"] == "方案经理出差，转方案负责人"
    assert (event.payload["to_user"], event.payload["from"]["assignee_id"]) == ("gz_solution_lead", None)

    # the former holder may neither attach a document nor finish it
    with pytest.raises(ConcurrencyConflict):
        upload(pe, db, solution_id, "gz_solution_manager")
    with pytest.raises(ConcurrencyConflict):
        complete(pe, db, solution_id, "gz_solution_manager", {**SOLUTION, "solution_doc": [1]})
    review_id = solve(pe, db, solution_id, "gz_solution_lead")
    assert row(db, solution_id).completed_by_id == uid(pe, db, "gz_solution_lead")
    assert inbox(pe, db, "gz_solution_lead", "done") == [("PS-1", "solution")]
    assert inbox(pe, db, "gz_solution_manager", "done") == []

    # a rejection brings 方案组织 back to the pool of the post, for either of them
    ((again_id, _),) = complete(pe, db, review_id, "gz_solution_reviewer",
                                {"review_result": "reject", "review_reason": "容量不足"})
    assert where(db, again_id) == ("solution", "solution_manager", "GZ", None, "ready")
    assert inbox(pe, db, "gz_solution_lead") == inbox(pe, db, "gz_solution_manager") == [("PS-1", "solution")]
    history = story(pe, db, instance_id)
    assert history[history.index(("task_created", "solution")):] == [
        ("task_created", "solution"), ("task_transferred", "solution"), ("attachment_added", "solution"),
        ("task_completed", "solution"), ("task_created", "review"), ("task_completed", "review"),
        ("task_created", "solution")]


def test_review_returns_the_solution_to_who_organised_it(pe, db, clock):
    """退回 from 方案审核 to 方案组织 through return_to_previous, reopened for the solution manager who did it."""
    instance_id, solution_id = to_solution(pe, db, clock)
    review_id = solve(pe, db, solution_id)
    clock.advance(hours=1)
    reopened = act(pe, db, "return_to_previous", review_id, "gz_solution_reviewer", reason="方案文档版本不对")
    assert reopened.node_id == "solution" and reopened.id not in (solution_id, review_id)
    assert where(db, review_id)[4] == "returned"
    assert where(db, reopened.id) == ("solution", "solution_manager", "GZ", "gz_solution_manager", "ready")
    assert row(db, reopened.id).created_at == clock.now
    assert inbox(pe, db, "gz_solution_manager", "mine") == [("PS-1", "solution")]
    assert inbox(pe, db, "gz_solution_reviewer") == []
    (event,) = events(pe, db, instance_id, "task_returned")
    assert (event.actor_id, event.node_id, event.payload) == (
        uid(pe, db, "gz_solution_reviewer"), "review",
        {"reason": "方案文档版本不对", "to_node": "solution", "to_task": reopened.id})
    review2_id = solve(pe, db, reopened.id)
    ((confirm_id, _),) = complete(pe, db, review2_id, "gz_solution_reviewer", {"review_result": "pass"})
    assert complete(pe, db, confirm_id, "gz_product_manager", {"pm_confirmed": True}) == []
    assert instance(db, instance_id).status == "completed"


def test_confirmation_returns_to_the_review(pe, db, clock):
    """产品经理确认 allows 退回: the review reopens for the reviewer who passed it."""
    instance_id, solution_id = to_solution(pe, db, clock)
    review_id = solve(pe, db, solution_id)
    ((confirm_id, _),) = complete(pe, db, review_id, "gz_solution_reviewer", {"review_result": "pass"})
    clock.advance(minutes=30)
    with pytest.raises(NotFound):
        act(pe, db, "return_to_previous", confirm_id, "gz_solution_reviewer", reason="不是我的")
    reopened = act(pe, db, "return_to_previous", confirm_id, "gz_product_manager", reason="客户要求补充报价")
    assert where(db, confirm_id)[4] == "returned"
    assert where(db, reopened.id) == ("review", "solution_reviewer", "GZ", "gz_solution_reviewer", "ready")
    (event,) = events(pe, db, instance_id, "task_returned")
    assert event.payload == {"reason": "客户要求补充报价", "to_node": "review", "to_task": reopened.id}
    ((confirm2_id, _),) = complete(pe, db, reopened.id, "gz_solution_reviewer",
                                   {"review_result": "pass", "review_reason": "报价已补充"})
    assert complete(pe, db, confirm2_id, "gz_product_manager", {"pm_confirmed": True}) == []
    assert instance(db, instance_id).status == "completed"
    history = story(pe, db, instance_id)
    assert history[-8:] == [
        ("task_completed", "review"), ("task_created", "confirm"), ("task_returned", "confirm"),
        ("task_created", "review"), ("task_completed", "review"), ("task_created", "confirm"),
        ("task_completed", "confirm"), ("instance_completed", None)]


def test_solution_is_suspended_and_resumed_and_its_deadline_moves(pe, db, clock):
    instance_id, solution_id = to_solution(pe, db, clock)
    before = row(db, solution_id)
    assert (before.created_at, before.warn_at, before.due_at) == (sh(2, 10), sh(4, 10), sh(5, 10))
    assert before.allows("suspend")

    # 挂起 at 11:00: the clock stops and nobody can finish the step meanwhile
    clock.now = sh(2, 11)
    act(pe, db, "suspend", solution_id, "gz_solution_manager", reason="等待客户提供机房图纸")
    assert row(db, solution_id).suspended_at == sh(2, 11)
    with pytest.raises(InvalidState, match="already suspended"):
        act(pe, db, "suspend", solution_id, "gz_solution_manager", reason="再挂一次")
    doc = upload(pe, db, solution_id, "gz_solution_manager")
    clock.now = sh(2, 13)
    with pytest.raises(InvalidState, match="suspended"):
        complete(pe, db, solution_id, "gz_solution_manager", {**SOLUTION, "solution_doc": [doc]})
    assert row(db, solution_id).status == "ready"

    # resumed at 14:00: three hours later, of which 1.5 working hours (11:00-12:00, 13:30-14:00) are added
    clock.now = sh(2, 14)
    act(pe, db, "resume", solution_id, "gz_solution_manager", reason="图纸已收到")
    after = row(db, solution_id)
    assert (after.suspended_at, after.paused_seconds) == (None, 5400)
    assert (after.warn_at, after.due_at) == (sh(4, 11, 30), sh(5, 11, 30))
    (resumed,) = events(pe, db, instance_id, "task_resumed")
    assert resumed.payload == {"reason": "图纸已收到", "paused_seconds": 10800, "paused_counted_seconds": 5400,
                               "due_at": sh(5, 11, 30).isoformat()}
    (suspended,) = events(pe, db, instance_id, "task_suspended")
    assert (suspended.actor_id, suspended.payload, suspended.at) == (
        uid(pe, db, "gz_solution_manager"), {"reason": "等待客户提供机房图纸"}, sh(2, 11))

    # now it can be finished; 方案审核 does not allow suspending
    ((review_id, _),) = complete(pe, db, solution_id, "gz_solution_manager", {**SOLUTION, "solution_doc": [doc]})
    with pytest.raises(NotAllowed, match="suspend"):
        act(pe, db, "suspend", review_id, "gz_solution_reviewer", reason="等一下")
    assert row(db, review_id).suspended_at is None
    history = story(pe, db, instance_id)
    assert history[history.index(("task_created", "solution")):] == [
        ("task_created", "solution"), ("task_suspended", "solution"), ("attachment_added", "solution"),
        ("task_resumed", "solution"), ("task_completed", "solution"), ("task_created", "review")]
