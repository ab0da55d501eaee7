"""维护成本申请 end to end through the engine, as the post holders work it: the amount decides who approves —
部门审批 only up to the finance amount, then 财务审批, and above the leader amount 分管领导审批 as well — on both
sides of each threshold (equal is not above); any 不同意 rejects; 归档 counts the amount as spent; thresholds are
configurable and apply to requests started afterwards; a request for an active project counts against it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import EomsError, InvalidInput
from engine.runtime.models import Incident
from engine.tasks.models import HumanTask
from handlers.costs import service as costs
from handlers.costs.models import CostRequest
from handlers.projects import service as projects
from tests.conftest import user
from tests.flows.conftest import complete_with_nodes as complete
from tests.flows.conftest import flow_starter, instance

KEY = "cost_request"
start = flow_starter(KEY, {"category": "line", "amount": 100.0, "description": "光缆抢修材料"}, "gz_maintainer")
APPROVERS = {"dept": "gz_dept_approver", "finance": "gz_finance_approver", "leader": "gz_leader_approver"}
NODES = {"dept": "dept", "finance": "finance", "leader": "leader"}


def approve_all(pe, db, arrived: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    """Approve every step as it arrives; the steps it took, in order."""
    taken: list[str] = []
    with db.sessions() as s:
        node = s.get(HumanTask, arrived[0]).node_id
    task_id = arrived[0]
    while True:
        taken.append(node)
        step = next(k for k, v in NODES.items() if v == node)
        nxt = complete(pe, db, task_id, APPROVERS[step], {"decision": "pass"})
        if not nxt:
            return taken
        ((task_id, node),) = nxt


def request_of(db, key: str) -> CostRequest:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        found = s.scalar(select(CostRequest).where(CostRequest.code == key))
        assert found is not None
        return found


@pytest.mark.parametrize(("amount", "route"), [
    (5000.00, ["dept"]),  # equal to the finance amount: the department decides alone
    (5000.01, ["dept", "finance"]),
    (50000.00, ["dept", "finance"]),  # equal to the leader amount: no leader
    (50000.01, ["dept", "finance", "leader"]),
    (0.01, ["dept"]),
])
def test_the_amount_decides_who_approves(pe, db, amount: float, route: list[str]) -> None:  # type: ignore[no-untyped-def]
    key = f"COST-{amount}"
    instance_id, arrived = start(pe, db, key, {"category": "spares", "amount": amount, "description": "备件"})
    assert request_of(db, key).status == "approving"
    assert approve_all(pe, db, arrived) == route
    found = request_of(db, key)
    assert found.status == "archived" and found.amount == Decimal(str(amount)).quantize(Decimal("0.01"))
    assert found.route == route[-1]
    assert instance(db, instance_id).status == "completed"


@pytest.mark.parametrize("refuser", ["dept", "finance", "leader"])
def test_any_no_rejects_the_request(pe, db, refuser: str) -> None:  # type: ignore[no-untyped-def]
    _, arrived = start(pe, db, f"COST-NO-{refuser}", {"category": "line", "amount": 80000.0, "description": "大修"})
    task_id, node = arrived[0], "dept"
    while node != refuser:
        ((task_id, node),) = complete(pe, db, task_id, APPROVERS[node], {"decision": "pass"})
    assert complete(pe, db, task_id, APPROVERS[node], {"decision": "reject", f"cost_{node}_note": "超预算"}) == []
    assert request_of(db, f"COST-NO-{refuser}").status == "rejected"


def test_thresholds_are_configurable_for_requests_started_afterwards(pe, db, clock) -> None:  # type: ignore[no-untyped-def]
    _, before = start(pe, db, "COST-OLD", {"category": "line", "amount": 3000.0, "description": "旧规则"})
    with db.sessions.begin() as s:
        costs.set_thresholds(s, "2000", "2500", clock())
    _, after = start(pe, db, "COST-NEW", {"category": "line", "amount": 3000.0, "description": "新规则"})
    assert approve_all(pe, db, before) == ["dept"]  # started under 5000 / 50000
    assert approve_all(pe, db, after) == ["dept", "finance", "leader"]
    with db.sessions.begin() as s, pytest.raises(InvalidInput) as refused:
        costs.set_thresholds(s, "3000", "3000", clock())
    assert refused.value.field_errors == {"leader": "not above finance"}


def test_budget_spent_and_committed_and_the_project_cost(pe, db, clock) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        gz = pe.identity.get_org_unit(s, "GZ")
        costs.set_budget(s, gz.id, clock().year, "20000", clock())
        starter = user(s, pe, "gz_project_manager")
        project = projects.register(s, {"project_name": "政务外网", "customer": "市政务局", "contract_no": "HT-1",
                                        "contract_amount": 900000, "budget": 300000}, code="PRJ-1", org_unit_id=gz.id,
                                    manager_id=starter.id, instance_id=None, now=clock())  # type: ignore[arg-type]
        projects.decide(s, project.id, True, clock())
        project_id = project.id
    _, spent = start(pe, db, "COST-SPENT", {"category": "line", "amount": 1200.5, "description": "已批"},
                     context={"project": "PRJ-1"})
    approve_all(pe, db, spent)
    start(pe, db, "COST-PENDING", {"category": "vehicle", "amount": 800.0, "description": "待批"},
          context={"project": "PRJ-1"})
    with db.sessions() as s:
        (line,) = [b for b in costs.budget_lines(s, clock().year) if b["unit"].code == "GZ"]
        assert (line["budget"], line["spent"], line["committed"]) == (Decimal("20000"), Decimal("1200.50"),
                                                                      Decimal("800"))
        assert line["left"] == Decimal("17999.50")
        assert costs.spent_by_project(s, [project_id]) == {project_id: Decimal("1200.50")}
        assert costs.committed_by_project(s, [project_id]) == {project_id: Decimal("800.00")}
        by_category = {(k, st): (n, a) for k, st, n, a in costs.totals(s, clock().year, "category")}
    assert by_category == {("line", "archived"): (1, Decimal("1200.50")), ("vehicle", "approving"): (1, Decimal("800"))}


def test_a_request_for_an_unknown_project_or_category_is_refused(pe, db) -> None:  # type: ignore[no-untyped-def]
    instance_id, arrived = start(pe, db, "COST-BAD-PROJECT", {"category": "line", "amount": 10.0, "description": "x"},
                                 context={"project": "PRJ-NONE"})
    with db.sessions() as s:  # 登记申请 fails: an incident naming the project, no request, no approval step
        (incident,) = s.scalars(select(Incident).where(Incident.instance_id == instance_id))
    assert "PRJ-NONE" in incident.message and arrived == []
    with pytest.raises(EomsError):  # not a choice of the form
        start(pe, db, "COST-BAD-CATEGORY", {"category": "nonsense", "amount": 10.0, "description": "x"})
    with pytest.raises(EomsError):  # context may not overwrite a form field
        start(pe, db, "COST-BAD-CONTEXT", {"category": "line", "amount": 10.0, "description": "x"},
              context={"amount": 1})
    with db.sessions() as s:
        assert s.scalar(select(CostRequest.id)) is None

