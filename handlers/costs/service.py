"""Cost requests: registering one from its 维护成本申请 order with the thresholds in force, the outcome, budgets with
what is spent and committed, thresholds and categories, and the statistics. Functions take the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, InvalidState, NotFound
from engine.identity.models import OrgUnit
from handlers.costs.models import CostBudget, CostCategory, CostRequest, CostSetting
from handlers.projects.models import Project
from handlers.projects.service import money

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_THRESHOLDS = {"finance": Decimal("5000.00"), "leader": Decimal("50000.00")}
DEFAULT_CATEGORIES = (("line", "线路维护"), ("equipment", "设备维修"), ("spares", "备品备件"), ("vehicle", "车辆交通"),
                      ("outsourcing", "外包服务"), ("other", "其他"))


def thresholds(session: Session) -> dict[str, Decimal]:
    """The thresholds in force: as an administrator set them, else the defaults."""
    stored = dict(session.execute(select(CostSetting.key, CostSetting.amount)).tuples().all())
    return {k: Decimal(stored.get(k, v)) for k, v in DEFAULT_THRESHOLDS.items()}


def set_thresholds(session: Session, finance: Any, leader: Any, now: datetime) -> dict[str, Decimal]:
    """New thresholds for requests started from now on; 分管领导 must be above 财务."""
    values = {"finance": money(finance, "finance"), "leader": money(leader, "leader")}
    if values["leader"] <= values["finance"]:
        raise InvalidInput("the leader threshold must be above the finance threshold", {"leader": "not above finance"})
    for key, amount in values.items():
        row = session.get(CostSetting, key) or CostSetting(key=key)
        row.amount, row.updated_at = amount, now
        session.add(row)
    session.flush()
    return values


def ensure_categories(session: Session) -> None:
    """The standard categories, when none exist yet."""
    if session.scalar(select(func.count()).select_from(CostCategory)):
        return
    session.add_all(CostCategory(code=c, name=n) for c, n in DEFAULT_CATEGORIES)
    session.flush()


def categories(session: Session) -> Sequence[CostCategory]:
    return session.scalars(select(CostCategory).order_by(CostCategory.code)).all()


def save_category(session: Session, code: str, name: str, active: bool) -> CostCategory:
    code, name = code.strip(), name.strip()
    if not code or len(code) > 40 or not code.replace("_", "").isalnum() or not code.isascii():
        raise InvalidInput(f"category code '{code}' must be 1-40 letters, digits or '_'", {"code": "invalid"})
    if not name or len(name) > 100:
        raise InvalidInput("a category needs a name of 1-100 characters", {"name": "required"})
    clash = session.scalar(select(CostCategory).where(CostCategory.name == name, CostCategory.code != code))
    if clash is not None:
        raise InvalidInput(f"a category named '{name}' already exists", {"name": "already exists"})
    row = session.get(CostCategory, code) or CostCategory(code=code)
    row.name, row.active = name, active
    session.add(row)
    session.flush()
    return row


def register(session: Session, data: Mapping[str, Any], *, code: str, instance_id: int, org_unit_id: int,
             applicant_id: int | None, now: datetime) -> tuple[CostRequest, dict[str, Decimal]]:
    """The request a 维护成本申请 order describes, and the thresholds its approval route follows."""
    limits = thresholds(session)
    ensure_categories(session)
    found = session.scalar(select(CostRequest).where(CostRequest.code == code))
    if found is not None:
        return found, limits
    category = session.get(CostCategory, str(data.get("category") or ""))
    if category is None or not category.active:
        raise InvalidInput(f"cost category '{data.get('category')}' is not an active category",
                           {"category": "unknown"})
    amount = money(data.get("amount"), "amount")
    if amount <= 0:
        raise InvalidInput("the amount must be above zero", {"amount": "out of range"})
    project_id = None
    project_code = str(data.get("project") or "").strip()
    if project_code:
        project = session.scalar(select(Project).where(Project.code == project_code))
        if project is None or project.status != "active":
            raise InvalidInput(f"project '{project_code}' is not an active project", {"project": "not active"})
        project_id = project.id
    route = "leader" if amount > limits["leader"] else "finance" if amount > limits["finance"] else "dept"
    request = CostRequest(code=code, instance_id=instance_id, org_unit_id=org_unit_id, applicant_id=applicant_id,
                          category=category.code, project_id=project_id, amount=amount,
                          description=str(data.get("description") or "")[:5000], status="approving", route=route,
                          created_at=now)
    session.add(request)
    session.flush()
    return request, limits


def decide(session: Session, request_id: int, approved: bool, now: datetime) -> CostRequest:
    """The end of the approval: archived (approved, the money counts as spent) or rejected."""
    request = session.get(CostRequest, request_id)
    if request is None:
        raise NotFound(f"cost request {request_id} does not exist")
    if request.status != "approving":
        raise InvalidState(f"cost request {request.code} is already {request.status}")
    request.status, request.decided_at = ("archived" if approved else "rejected"), now
    session.flush()
    return request


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    return start, end


def budget_lines(session: Session, year: int, under_path: str | None = None) -> list[dict[str, Any]]:
    """Per unit with a budget or costs in ``year``: budget, spent (archived), committed (in approval), left — of
    the units at and below ``under_path`` (None: every unit)."""
    start, end = _year_bounds(year)
    budgets = dict(session.execute(select(CostBudget.org_unit_id, CostBudget.amount).where(CostBudget.year == year))
                   .tuples().all())
    sums: dict[tuple[int, str], Decimal] = {}
    for unit_id, status, total in session.execute(
            select(CostRequest.org_unit_id, CostRequest.status, func.sum(CostRequest.amount))
            .where(CostRequest.created_at >= start, CostRequest.created_at < end)
            .group_by(CostRequest.org_unit_id, CostRequest.status)).tuples():
        sums[(unit_id, status)] = Decimal(total or 0)
    units = {u.id: u for u in session.scalars(select(OrgUnit))}
    lines = []
    for unit_id in sorted(set(budgets) | {u for u, _ in sums}, key=lambda i: units[i].path):
        if under_path is not None and not units[unit_id].path.startswith(under_path):
            continue
        budget = Decimal(budgets.get(unit_id, 0))
        spent, committed = sums.get((unit_id, "archived"), Decimal(0)), sums.get((unit_id, "approving"), Decimal(0))
        lines.append({"unit": units[unit_id], "budget": budget if unit_id in budgets else None, "spent": spent,
                      "committed": committed, "left": budget - spent - committed if unit_id in budgets else None})
    return lines


def set_budget(session: Session, org_unit_id: int, year: int, amount: Any, now: datetime) -> CostBudget:
    if not 2000 <= year <= 2100:
        raise InvalidInput(f"year {year} is out of range", {"year": "out of range"})
    if session.get(OrgUnit, org_unit_id) is None:
        raise InvalidInput("choose an org unit", {"org_unit": "required"})
    value = money(amount, "amount")
    row = session.scalar(select(CostBudget).where(CostBudget.org_unit_id == org_unit_id, CostBudget.year == year))
    row = row or CostBudget(org_unit_id=org_unit_id, year=year)
    row.amount, row.updated_at = value, now
    session.add(row)
    session.flush()
    return row


def _by_project(session: Session, project_ids: Sequence[int], status: str) -> dict[int, Decimal]:
    if not project_ids:
        return {}
    return {p: Decimal(v or 0) for p, v in session.execute(
        select(CostRequest.project_id, func.sum(CostRequest.amount))
        .where(CostRequest.project_id.in_(project_ids), CostRequest.status == status)
        .group_by(CostRequest.project_id)).tuples()}


def spent_by_project(session: Session, project_ids: Sequence[int]) -> dict[int, Decimal]:
    return _by_project(session, project_ids, "archived")


def committed_by_project(session: Session, project_ids: Sequence[int]) -> dict[int, Decimal]:
    return _by_project(session, project_ids, "approving")


def requests(session: Session, *, status: str = "", unit_ids: Any = None, category: str = "", text: str = "",
             applicant_id: int | None = None, offset: int, limit: int) -> tuple[int, list[CostRequest]]:
    stmt = select(CostRequest)
    if applicant_id is not None:
        stmt = stmt.where(CostRequest.applicant_id == applicant_id)
    if status:
        stmt = stmt.where(CostRequest.status == status)
    if unit_ids is not None:
        stmt = stmt.where(CostRequest.org_unit_id.in_(unit_ids))
    if category:
        stmt = stmt.where(CostRequest.category == category)
    if text:
        stmt = stmt.where(CostRequest.code.contains(text, autoescape=True)
                          | CostRequest.description.contains(text, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return total, list(session.scalars(stmt.order_by(CostRequest.created_at.desc(), CostRequest.id.desc())
                                       .offset(offset).limit(limit)))


def totals(session: Session, year: int, by: str, unit_ids: Any = None) -> list[tuple[Any, str, int, Decimal]]:
    """(key, status, requests, amount) of ``year`` grouped by unit, project, category or month (Beijing time), of
    the units ``unit_ids`` (a select of ids; None: every unit)."""
    start, end = _year_bounds(year)
    scope = [CostRequest.created_at >= start, CostRequest.created_at < end]
    if unit_ids is not None:
        scope.append(CostRequest.org_unit_id.in_(unit_ids))
    if by == "month":
        rows = session.scalars(select(CostRequest).where(*scope))
        grouped: dict[tuple[str, str], list[Decimal]] = {}
        for r in rows:
            grouped.setdefault((r.created_at.astimezone(SHANGHAI).strftime("%Y-%m"), r.status), []).append(r.amount)
        return [(k, st, len(v), sum(v, Decimal(0))) for (k, st), v in sorted(grouped.items())]
    column = {"unit": CostRequest.org_unit_id, "project": CostRequest.project_id,
              "category": CostRequest.category}.get(by)
    if column is None:
        raise InvalidInput(f"cannot group costs by '{by}'", {"by": "unknown"})
    return [(k, st, n, Decimal(a or 0)) for k, st, n, a in session.execute(
        select(column, CostRequest.status, func.count(), func.sum(CostRequest.amount)).where(*scope)
        .group_by(column, CostRequest.status).order_by(column, CostRequest.status)).tuples()]

