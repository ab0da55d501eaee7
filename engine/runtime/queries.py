"""Finding work orders: by number, customer, phone number, flow, status and time range, within what the
user may see. Reads indexed columns only (never the state JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, defer

from engine.errors import InvalidInput
from engine.identity.models import User, subtree_ids, unit_subtree_ids
from engine.paging import Page, check_page
from engine.repository.models import ProcessDefinition
from engine.runtime.models import INSTANCE_STATUSES, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus


@dataclass
class InstanceFilter:
    business_key: str | None = None
    customer: str | None = None
    customer_phone: str | None = None
    circuit: str | None = None
    process_key: str | None = None
    version: int | None = None
    status: str | None = None
    org_unit_id: int | None = None  # this unit and the units below it
    node_id: str | None = None  # an open task at this step
    post_id: int | None = None  # an open task for this post
    assignee_id: int | None = None  # an open task assigned to this person
    overdue_at: datetime | None = None  # an open task due before this instant
    warn_at: datetime | None = None  # an open task near its limit at this instant: warned, not yet due
    started_from: datetime | None = None
    started_to: datetime | None = None
    ended_from: datetime | None = None
    ended_to: datetime | None = None


INSTANCE_SORTS = {
    "started_desc": (ProcessInstance.started_at.desc(), ProcessInstance.id.desc()),
    "started_asc": (ProcessInstance.started_at.asc(), ProcessInstance.id.asc()),
    "ended_desc": (ProcessInstance.ended_at.desc().nulls_last(), ProcessInstance.id.desc()),
    "business_key": (ProcessInstance.business_key.asc(), ProcessInstance.id.asc()),
}


def visible_instances(user: User):  # type: ignore[no-untyped-def]
    """The WHERE clause of the work orders ``user`` may look at."""
    if user.role == "admin":
        return true()
    if user.role == "supervisor":
        return ProcessInstance.org_unit_id.in_(subtree_ids(user.org_unit.path))
    post_ids = [p.id for p in user.posts]
    involved = exists().where(
        HumanTask.instance_id == ProcessInstance.id,
        or_(HumanTask.assignee_id == user.id, HumanTask.completed_by_id == user.id,
            and_(HumanTask.post_id.in_(post_ids), HumanTask.org_unit_id == user.org_unit_id) if post_ids else False),
    )
    return or_(ProcessInstance.started_by_id == user.id, involved)


def search_instances(session: Session, user: User, filters: InstanceFilter, *, page: int = 1,
                     page_size: int = 20, sort: str = "started_desc") -> Page[ProcessInstance]:
    check_page(page, page_size, sort, INSTANCE_SORTS)
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
    if f.circuit:
        query = query.where(ProcessInstance.circuit.startswith(f.circuit.strip()))
    if f.process_key:
        query = query.where(ProcessInstance.process_key == f.process_key)
    if f.version:
        versions = select(ProcessDefinition.id).where(ProcessDefinition.version == f.version)
        if f.process_key:
            versions = versions.where(ProcessDefinition.key == f.process_key)
        query = query.where(ProcessInstance.definition_id.in_(versions))
    if f.status:
        query = query.where(ProcessInstance.status == f.status)
    if f.org_unit_id:
        query = query.where(ProcessInstance.org_unit_id.in_(unit_subtree_ids(session, f.org_unit_id)))
    task_conditions = []
    if f.node_id:
        task_conditions.append(HumanTask.node_id == f.node_id)
    if f.post_id:
        task_conditions.append(HumanTask.post_id == f.post_id)
    if f.assignee_id:
        task_conditions.append(HumanTask.assignee_id == f.assignee_id)
    if f.overdue_at:
        task_conditions.append(HumanTask.overdue_clause(f.overdue_at))
    if f.warn_at:
        task_conditions.append(HumanTask.near_limit_clause(f.warn_at))
    if task_conditions:
        query = query.where(exists().where(HumanTask.instance_id == ProcessInstance.id,
                                           HumanTask.status == TaskStatus.READY,
                                           *task_conditions))
    for column, lower, upper in ((ProcessInstance.started_at, f.started_from, f.started_to),
                                 (ProcessInstance.ended_at, f.ended_from, f.ended_to)):
        if lower:
            query = query.where(column >= lower)
        if upper:
            query = query.where(column < upper)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.options(defer(ProcessInstance.state))  # lists never need the workflow state
                            .order_by(*INSTANCE_SORTS[sort])
                            .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(items, total, page, page_size)


def can_view_instance(session: Session, user: User, instance: ProcessInstance) -> bool:
    """The same rule as the search, for one instance."""
    return session.scalar(select(ProcessInstance.id).where(ProcessInstance.id == instance.id,
                                                           visible_instances(user))) is not None
