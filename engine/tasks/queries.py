"""Read side of the work queue: the tasks a user sees, filtered, sorted by due time, paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.identity.models import User, subtree_ids
from engine.paging import Page, check_page
from engine.tasks.models import HumanTask, TaskStatus

SCOPES = ("inbox", "mine", "offered", "done", "org")
SORTS = ("due", "created", "business_key", "completed")


@dataclass
class TaskFilter:
    """Optional narrowing of a task query."""

    process_key: str | None = None
    business_key: str | None = None
    node_id: str | None = None
    overdue_at: datetime | None = None  # only tasks due before this instant
    warn_by: datetime | None = None  # only tasks whose warning time (or deadline) is at or before this instant
    text: str | None = None  # business key or step name contains this


def scope_condition(user: User, scope: str):  # type: ignore[no-untyped-def]
    """The WHERE clause of a queue scope for ``user``.

    ``mine``: open tasks assigned to the user; ``offered``: open unclaimed tasks of the user's posts in the
    user's org unit; ``inbox``: both; ``done``: tasks the user completed; ``org``: open tasks of the org unit
    and below (supervisors and admins).
    """
    post_ids = [p.id for p in user.posts]
    mine = and_(HumanTask.assignee_id == user.id, HumanTask.status == TaskStatus.READY)
    offered = (
        and_(HumanTask.assignee_id.is_(None), HumanTask.status == TaskStatus.READY, HumanTask.post_id.in_(post_ids),
             HumanTask.org_unit_id == user.org_unit_id)
        if post_ids else false()
    )
    if scope == "mine":
        return mine
    if scope == "offered":
        return offered
    if scope == "inbox":
        return or_(mine, offered)
    if scope == "done":
        return HumanTask.completed_by_id == user.id
    if scope == "org":
        if user.role not in ("supervisor", "admin"):
            return false()
        cond = HumanTask.status == TaskStatus.READY
        return cond if user.role == "admin" else and_(cond, HumanTask.org_unit_id.in_(subtree_ids(user.org_unit.path)))
    raise InvalidInput(f"scope '{scope}' is not one of {', '.join(SCOPES)}", {"scope": "unknown"})


def query_tasks(session: Session, user: User, *, scope: str = "inbox", filters: TaskFilter | None = None,
                page: int = 1, page_size: int = 50, sort: str | None = None) -> Page[HumanTask]:
    """A page of the user's tasks in ``scope``; by default open work sorted by due time (no limit last) and
    done work newest first; ``sort`` may pick created, business_key or completed instead."""
    check_page(page, page_size, sort, SORTS)
    query: Select[tuple[HumanTask]] = select(HumanTask).where(scope_condition(user, scope))
    f = filters or TaskFilter()
    if f.process_key:
        query = query.where(HumanTask.process_key == f.process_key)
    if f.business_key:
        query = query.where(HumanTask.business_key == f.business_key)
    if f.node_id:
        query = query.where(HumanTask.node_id == f.node_id)
    if f.overdue_at:
        query = query.where(HumanTask.overdue_clause(f.overdue_at))
    if f.warn_by:
        query = query.where(or_(HumanTask.warn_at <= f.warn_by, HumanTask.due_at <= f.warn_by))
    if f.text:
        like = f"%{f.text.strip()}%"
        query = query.where(or_(HumanTask.business_key.like(like), HumanTask.node_name.like(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    sort = sort or ("completed" if scope == "done" else "due")
    if sort == "completed":
        query = query.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
    elif sort == "created":
        query = query.order_by(HumanTask.created_at.desc(), HumanTask.id.desc())
    elif sort == "business_key":
        query = query.order_by(HumanTask.business_key, HumanTask.id)
    else:
        query = query.order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
    items = session.scalars(query.offset((page - 1) * page_size).limit(page_size)).all()
    return Page(items, total, page, page_size)
