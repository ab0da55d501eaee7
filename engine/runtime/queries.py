"""Finding work orders: by number, customer, phone number, flow, status and time range, within what the
user may see. Reads indexed columns only (never the state JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.identity.models import OrgUnit, User
from engine.runtime.models import INSTANCE_STATUSES, ProcessInstance
from engine.tasks.models import HumanTask
from engine.tasks.queries import MAX_PAGE_SIZE, Page


@dataclass
class InstanceFilter:
    business_key: str | None = None
    customer: str | None = None
    customer_phone: str | None = None
    process_key: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None


def visible_instances(user: User):  # type: ignore[no-untyped-def]
    """The WHERE clause of the work orders ``user`` may look at."""
    if user.role == "admin":
        return True
    if user.role == "supervisor":
        subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(user.org_unit.path))
        return ProcessInstance.org_unit_id.in_(subtree)
    post_ids = [p.id for p in user.posts]
    involved = exists().where(
        HumanTask.instance_id == ProcessInstance.id,
        or_(HumanTask.assignee_id == user.id, HumanTask.completed_by_id == user.id,
            and_(HumanTask.post_id.in_(post_ids), HumanTask.org_unit_id == user.org_unit_id) if post_ids else False),
    )
    return or_(ProcessInstance.started_by_id == user.id, involved)


def search_instances(session: Session, user: User, filters: InstanceFilter, *, page: int = 1,
                     page_size: int = 20) -> Page[ProcessInstance]:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and page size 1-{MAX_PAGE_SIZE}", {"page": "out of range"})
    if filters.status and filters.status not in INSTANCE_STATUSES:
        raise InvalidInput(f"status '{filters.status}' is not one of {', '.join(INSTANCE_STATUSES)}",
                           {"status": "unknown"})
    query = select(ProcessInstance).where(visible_instances(user))
    f = filters
    if f.business_key:
        query = query.where(ProcessInstance.business_key.startswith(f.business_key.strip()))
    if f.customer:
        query = query.where(ProcessInstance.customer.contains(f.customer.strip()))
    if f.customer_phone:
        query = query.where(ProcessInstance.customer_phone.startswith(f.customer_phone.strip()))
    if f.process_key:
        query = query.where(ProcessInstance.process_key == f.process_key)
    if f.status:
        query = query.where(ProcessInstance.status == f.status)
    if f.started_from:
        query = query.where(ProcessInstance.started_at >= f.started_from)
    if f.started_to:
        query = query.where(ProcessInstance.started_at < f.started_to)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
                            .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(items, total, page, page_size)


def can_view_instance(session: Session, user: User, instance: ProcessInstance) -> bool:
    """The same rule as the search, for one instance."""
    return session.scalar(select(ProcessInstance.id).where(ProcessInstance.id == instance.id,
                                                           visible_instances(user))) is not None
