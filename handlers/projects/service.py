"""Projects: registering one from its 项目立项 order, the decision, linking work orders, searching and the
figures per project (orders, overdue steps, cost). Functions take the session; callers commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, InvalidState, NotFound
from engine.identity.models import OrgUnit, User
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.projects.models import PROJECT_STATUSES, Project, ProjectOrder

SETUP_FLOW = "project_setup"


def money(value: Any, field: str) -> Decimal:
    """A non-negative amount of yuan with at most two decimals."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field} '{value}' is not an amount", {field: "invalid"}) from None
    if amount < 0 or amount >= Decimal("1e12"):
        raise InvalidInput(f"{field} {value} is out of range", {field: "out of range"})
    return amount


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidInput(f"{field} '{value}' is not a date", {field: "invalid"}) from None


def register(session: Session, data: Mapping[str, Any], *, code: str, org_unit_id: int, manager_id: int | None,
             instance_id: int, now: datetime) -> Project:
    """The project a 项目立项 order describes, waiting for its approval (the same order twice: the same project)."""
    found = session.scalar(select(Project).where(Project.code == code))
    if found is not None:
        return found
    start, end = _date(data.get("start_date"), "start_date"), _date(data.get("end_date"), "end_date")
    if start and end and end < start:
        raise InvalidInput("the project ends before it starts", {"end_date": "before the start"})
    project = Project(code=code, name=str(data.get("project_name") or "").strip()[:200],
                      customer=str(data.get("customer") or "").strip()[:200],
                      contract_no=str(data.get("contract_no") or "").strip()[:100],
                      contract_amount=money(data.get("contract_amount") or 0, "contract_amount"),
                      budget=money(data.get("budget") or 0, "budget"), org_unit_id=org_unit_id,
                      manager_id=manager_id, start_date=start, end_date=end, status="approving",
                      description=str(data.get("description") or "")[:5000], instance_id=instance_id,
                      created_at=now)
    session.add(project)
    session.flush()
    return project


def decide(session: Session, project_id: int, approved: bool, now: datetime) -> Project:
    """项目审核's outcome: the project is active, or rejected."""
    project = get(session, project_id)
    if project.status != "approving":
        raise InvalidState(f"project {project.code} is {project.status}, not waiting for approval")
    project.status, project.decided_at = ("active" if approved else "rejected"), now
    session.flush()
    return project


def close(session: Session, project_id: int) -> Project:
    project = get(session, project_id)
    if project.status != "active":
        raise InvalidState(f"project {project.code} is {project.status}, only an active project is closed")
    project.status = "closed"
    session.flush()
    return project


def get(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project


def active(session: Session) -> Sequence[Project]:
    """Projects work orders may be started for."""
    return session.scalars(select(Project).where(Project.status == "active").order_by(Project.code)).all()


def link_order(session: Session, project_id: int, instance_id: int, now: datetime) -> None:
    """The work order belongs to the (active) project from now on."""
    project = get(session, project_id)
    if project.status != "active":
        raise InvalidInput(f"project {project.code} is {project.status}; orders go to active projects only",
                           {"project": "not active"})
    if session.get(ProjectOrder, (project_id, instance_id)) is None:
        session.add(ProjectOrder(project_id=project_id, instance_id=instance_id, linked_at=now))
        session.flush()


def project_of(session: Session, instance_id: int) -> Project | None:
    return session.scalar(select(Project).join(ProjectOrder, ProjectOrder.project_id == Project.id)
                          .where(ProjectOrder.instance_id == instance_id))


@dataclass(frozen=True)
class ProjectQuery:
    text: str = ""  # name, code, customer or contract number
    status: str = ""
    unit_ids: Any = None  # a select of unit ids (a subtree), or None
    since: datetime | None = None
    until: datetime | None = None


def search(session: Session, q: ProjectQuery, *, offset: int, limit: int) -> tuple[int, list[Project]]:
    stmt = select(Project)
    if q.text:
        stmt = stmt.where(or_(*(c.contains(q.text, autoescape=True) for c in (
            Project.name, Project.code, Project.customer, Project.contract_no))))
    if q.status in PROJECT_STATUSES:
        stmt = stmt.where(Project.status == q.status)
    if q.unit_ids is not None:
        stmt = stmt.where(Project.org_unit_id.in_(q.unit_ids))
    if q.since is not None:
        stmt = stmt.where(Project.created_at >= q.since)
    if q.until is not None:
        stmt = stmt.where(Project.created_at < q.until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Project.created_at.desc(), Project.id.desc()).offset(offset).limit(limit))
    return total, list(rows)


@dataclass(frozen=True)
class ProjectFigures:
    orders: int
    running: int
    overdue_steps: int


def figures(session: Session, project_ids: Sequence[int], now: datetime) -> dict[int, ProjectFigures]:
    """Work orders (and running ones) and overdue steps (open past their deadline, or finished late) per project."""
    if not project_ids:
        return {}
    orders = dict(session.execute(
        select(ProjectOrder.project_id, func.count()).where(ProjectOrder.project_id.in_(project_ids))
        .group_by(ProjectOrder.project_id)).tuples().all())
    running = dict(session.execute(
        select(ProjectOrder.project_id, func.count())
        .join(ProcessInstance, ProcessInstance.id == ProjectOrder.instance_id)
        .where(ProjectOrder.project_id.in_(project_ids), ProcessInstance.status == "running")
        .group_by(ProjectOrder.project_id)).tuples().all())
    late = or_(and_(HumanTask.status == "ready", HumanTask.due_at < now),
               and_(HumanTask.completed_at.is_not(None), HumanTask.due_at < HumanTask.completed_at))
    overdue = dict(session.execute(
        select(ProjectOrder.project_id, func.count()).join(HumanTask, HumanTask.instance_id == ProjectOrder.instance_id)
        .where(ProjectOrder.project_id.in_(project_ids), HumanTask.due_at.is_not(None), late)
        .group_by(ProjectOrder.project_id)).tuples().all())
    return {p: ProjectFigures(orders.get(p, 0), running.get(p, 0), overdue.get(p, 0)) for p in project_ids}


def orders_of(session: Session, project_id: int) -> list[ProcessInstance]:
    return list(session.scalars(
        select(ProcessInstance).join(ProjectOrder, ProjectOrder.instance_id == ProcessInstance.id)
        .where(ProjectOrder.project_id == project_id).order_by(ProcessInstance.started_at)))


def by_status_and_unit(session: Session) -> list[tuple[str, str, int, Decimal, Decimal]]:
    """(unit name, status, projects, contract amount, budget) over every project."""
    rows = session.execute(
        select(OrgUnit.name, Project.status, func.count(), func.sum(Project.contract_amount), func.sum(Project.budget))
        .join(OrgUnit, OrgUnit.id == Project.org_unit_id).group_by(OrgUnit.name, Project.status)
        .order_by(OrgUnit.name, Project.status)).tuples().all()
    return [(u, st, n, Decimal(a or 0), Decimal(b or 0)) for u, st, n, a, b in rows]


def manager_names(session: Session, projects: Sequence[Project]) -> dict[int, str]:
    ids = {p.manager_id for p in projects if p.manager_id}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())
