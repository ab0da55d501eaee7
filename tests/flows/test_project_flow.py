"""项目立项 end to end through the engine: the 项目经理 fills in the start form (登记项目 registers the
project, 审批中), the 项目审核员 of the unit decides at 项目审核 — 通过 makes the project active (在建) with
every field of the form, 不通过 rejects it; a project's number is its order's business key, so the same number
twice is refused. Work orders of other flows linked to an active project are its orders and count in its figures
(orders, running, overdue steps); only an active project takes orders, and only an active project is closed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidInput, InvalidState
from engine.runtime.models import ProcessInstance
from handlers.dispatch import add_rule
from handlers.projects import service as projects
from handlers.projects.models import Project, ProjectOrder
from tests.flows.conftest import complete_with_nodes as complete
from tests.flows.conftest import count, flow_starter, instance, only, placed, uid

KEY = "project_setup"
PROJECT = {"project_name": "广州地铁十八号线通信保障工程", "customer": "广州地铁集团有限公司",
           "contract_no": "HT-2026-018", "contract_amount": 1280000.5, "budget": 360000.25,
           "start_date": "2026-03-01", "end_date": "2026-12-31",
           "description": "全线专线及无线覆盖的维护保障"}
FAULT = {"customer": "广州地铁", "customer_phone": "13912345678", "vip": False, "circuit": "GZ-ZX-0001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
COST = {"category": "line", "amount": 1200.5, "description": "光缆抢修材料"}
PASS = {"review_result": "pass", "review_note": "资料齐全"}
REJECT = {"review_result": "reject", "review_note": "预算不足"}

start = flow_starter(KEY, PROJECT, "gz_project_manager")
start_fault = flow_starter("aftersales_fault", FAULT, "gz_dispatcher")
start_cost = flow_starter("cost_request", COST, "gz_maintainer")


def project(db, code: str) -> Project:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        found = s.scalar(select(Project).where(Project.code == code))
        assert found is not None, code
        return found


def set_up(pe, db, code: str, review: dict | None = PASS) -> Project:  # type: ignore[no-untyped-def]
    """A project through 项目立项: reviewed with ``review`` (None: left waiting at 项目审核)."""
    _, arrived = start(pe, db, code)
    if review is not None:
        assert complete(pe, db, only(arrived), "gz_project_reviewer", review) == []
    return project(db, code)


def close(pe, db, project_id: int) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        projects.close(s, project_id)


def link(pe, db, project_id: int, instance_id: int) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        projects.link_order(s, project_id, instance_id, pe.ctx.clock())


def test_an_approved_project_is_active_with_every_field_of_the_form(pe, db, clock) -> None:  # type: ignore[no-untyped-def]
    created = clock()
    instance_id, arrived = start(pe, db, "XM-0001")
    review = only(arrived)
    assert placed(db, review) == ("project_reviewer", "GZ")  # 项目审核 goes to the unit's 项目审核员
    waiting = project(db, "XM-0001")
    assert (waiting.status, waiting.instance_id, waiting.decided_at) == ("approving", instance_id, None)
    with db.sessions() as s:
        assert projects.active(s) == []
    decided = clock.advance(hours=3)
    assert complete(pe, db, review, "gz_project_reviewer", PASS) == []
    assert instance(db, instance_id).status == "completed"
    found = project(db, "XM-0001")
    assert found.status == "active"
    assert (found.name, found.customer, found.contract_no, found.description) == (
        PROJECT["project_name"], PROJECT["customer"], PROJECT["contract_no"], PROJECT["description"])
    assert found.contract_amount == Decimal("1280000.50") and isinstance(found.contract_amount, Decimal)
    assert found.budget == Decimal("360000.25") and isinstance(found.budget, Decimal)
    assert (found.start_date, found.end_date) == (date(2026, 3, 1), date(2026, 12, 31))
    assert found.manager_id == uid(pe, db, "gz_project_manager")  # the starter manages it
    assert found.instance_id == instance_id
    assert (found.created_at, found.decided_at) == (created, decided)
    with db.sessions() as s:
        assert found.org_unit_id == pe.identity.get_org_unit(s, "GZ").id
        assert [p.code for p in projects.active(s)] == ["XM-0001"]


def test_a_rejected_project_is_not_set_up(pe, db, clock) -> None:  # type: ignore[no-untyped-def]
    instance_id, arrived = start(pe, db, "XM-0002")
    decided = clock.advance(minutes=20)
    assert complete(pe, db, only(arrived), "gz_project_reviewer", REJECT) == []
    found = project(db, "XM-0002")
    assert (found.status, found.decided_at, found.instance_id) == ("rejected", decided, instance_id)
    assert instance(db, instance_id).status == "completed"
    with db.sessions() as s:
        assert projects.active(s) == []


def test_the_same_project_number_twice_is_refused(pe, db) -> None:  # type: ignore[no-untyped-def]
    start(pe, db, "XM-0003")
    with pytest.raises(InvalidInput) as waiting:  # while the first waits for its review
        start(pe, db, "XM-0003", {**PROJECT, "project_name": "另一个项目"})
    assert waiting.value.field_errors == {"business_key": "already used"}
    set_up(pe, db, "XM-0004")
    with pytest.raises(InvalidInput) as decided:  # and after it was set up
        start(pe, db, "XM-0004", {**PROJECT, "project_name": "另一个项目"})
    assert decided.value.field_errors == {"business_key": "already used"}
    assert count(db, Project) == 2
    assert project(db, "XM-0003").name == PROJECT["project_name"]
    with db.sessions() as s:
        keys = s.scalars(select(ProcessInstance.business_key).where(ProcessInstance.process_key == KEY))
        assert sorted(keys) == ["XM-0003", "XM-0004"]


def test_orders_of_other_flows_count_in_the_project_figures(pe, db, clock) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:  # 故障派单 routes to the maintainers of GZ
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    found, other = set_up(pe, db, "XM-0005"), set_up(pe, db, "XM-0006")
    cost_id, cost_steps = start_cost(pe, db, "CB-0001", context={"project": "XM-0005"})
    link(pe, db, found.id, cost_id)
    assert complete(pe, db, only(cost_steps), "gz_dept_approver", {"decision": "pass"}) == []  # 部门审批 in time
    clock.advance(minutes=1)  # orders are listed as they were started
    fault_id, fault_steps = start_fault(pe, db, "GZ-0001")
    link(pe, db, found.id, fault_id)
    link(pe, db, found.id, fault_id)  # linking twice keeps one row
    start_fault(pe, db, "GZ-0002")  # not the project's
    with db.sessions() as s:
        assert [(o.business_key, o.process_key) for o in projects.orders_of(s, found.id)] == [
            ("CB-0001", "cost_request"), ("GZ-0001", "aftersales_fault")]
        assert projects.project_of(s, fault_id).id == found.id  # type: ignore[union-attr]
        assert projects.orders_of(s, other.id) == []
        figures = projects.figures(s, [found.id, other.id], clock())
    assert figures == {found.id: projects.ProjectFigures(orders=2, running=1, overdue_steps=0),
                       other.id: projects.ProjectFigures(0, 0, 0)}
    clock.advance(minutes=31)  # 故障受理 (30 minutes) is now past its deadline
    with db.sessions() as s:
        assert projects.figures(s, [found.id], clock())[found.id] == projects.ProjectFigures(2, 1, 1)
    ((_, node),) = complete(pe, db, only(fault_steps), "gz_dispatcher", {"fault_type": "中断", "priority": "高"})
    assert node == "handle"
    with db.sessions() as s:  # finished late, it stays an overdue step; 故障处理 is within its 4 hours
        assert projects.figures(s, [found.id], clock())[found.id] == projects.ProjectFigures(2, 1, 1)
        assert s.scalar(select(func.count()).select_from(ProjectOrder)) == 2


@pytest.mark.parametrize("status", ["approving", "rejected", "closed"])
def test_only_an_active_project_takes_orders(pe, db, status: str) -> None:  # type: ignore[no-untyped-def]
    found = set_up(pe, db, "XM-0007", review={"approving": None, "rejected": REJECT, "closed": PASS}[status])
    if status == "closed":
        close(pe, db, found.id)
    assert project(db, "XM-0007").status == status
    fault_id, _ = start_fault(pe, db, "GZ-0003")
    with pytest.raises(InvalidInput) as refused:
        link(pe, db, found.id, fault_id)
    assert refused.value.field_errors == {"project": "not active"}
    assert count(db, ProjectOrder) == 0
    with db.sessions() as s:
        assert projects.project_of(s, fault_id) is None


def test_only_an_active_project_is_closed(pe, db) -> None:  # type: ignore[no-untyped-def]
    waiting, rejected = set_up(pe, db, "XM-0008", review=None), set_up(pe, db, "XM-0009", review=REJECT)
    for found in (waiting, rejected):
        with pytest.raises(InvalidState):
            close(pe, db, found.id)
    assert (project(db, "XM-0008").status, project(db, "XM-0009").status) == ("approving", "rejected")
    active = set_up(pe, db, "XM-0010")
    close(pe, db, active.id)
    assert project(db, "XM-0010").status == "closed"
    with pytest.raises(InvalidState):  # closed once
        close(pe, db, active.id)
    assert project(db, "XM-0010").status == "closed"
    with db.sessions() as s:
        assert projects.active(s) == []
