"""Read side of the work queue: the tasks a user sees, filtered, sorted by any column, paged."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.identity.models import Post, User, subtree_ids
from engine.paging import Page, check_page
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus

SCOPES = ("inbox", "mine", "offered", "done", "org")
# sort keys; a sort is "<key>" (its usual direction) or "<key>:asc" / "<key>:desc"
SORTS = ("due", "created", "business_key", "completed", "node", "customer", "customer_phone", "flow", "post",
         "assignee", "status")
DIRECTIONS = ("asc", "desc")
NEWEST_FIRST = frozenset({"created", "completed"})  # keys whose usual direction is descending
ASSIGNMENTS = ("mine", "pool")
INSTANCE_SORTS = frozenset({"customer", "customer_phone", "flow"})


@dataclass
class TaskFilter:
    """Optional narrowing of a task query."""

    process_key: str | None = None
    business_key: str | None = None
    node_id: str | None = None
    overdue_at: datetime | None = None  # only tasks due before this instant
    warn_by: datetime | None = None  # only tasks whose warning time (or deadline) is at or before this instant
    text: str | None = None  # business key or step name contains this
    search: str | None = None  # business key, customer or customer phone of the work order contains this (any case)
    assignment: str | None = None  # "mine": assigned to the user; "pool": not claimed by anyone


@dataclass(frozen=True)
class TaskFacts:
    """What the queue shows of a task beyond its own row: the work order's customer and flow, the post."""

    customer: str | None
    customer_phone: str | None
    flow: str
    post: str | None


def parse_sort(sort: str | None) -> tuple[str, bool] | None:
    """``(key, descending)`` of a sort value, None for no sort; :class:`InvalidInput` for anything else."""
    if sort is None:
        return None
    key, _, direction = sort.partition(":")
    if key not in SORTS or (direction and direction not in DIRECTIONS):
        raise InvalidInput(f"sort '{sort}' is not one of {', '.join(SORTS)} (with :asc or :desc)",
                           {"sort": "unknown"})
    return key, (direction == "desc") if direction else key in NEWEST_FIRST


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


def _filtered(query: Select[tuple[HumanTask]], f: TaskFilter, user: User) -> Select[tuple[HumanTask]]:
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
    if f.assignment == "mine":
        query = query.where(HumanTask.assignee_id == user.id)
    elif f.assignment == "pool":
        query = query.where(HumanTask.assignee_id.is_(None))
    elif f.assignment:
        raise InvalidInput(f"assignment '{f.assignment}' is not one of {', '.join(ASSIGNMENTS)}",
                           {"assignment": "unknown"})
    if f.search and f.search.strip():
        like = "%" + f.search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(column.ilike(like, escape="\\") for column in (
            HumanTask.business_key, ProcessInstance.customer, ProcessInstance.customer_phone))))
    return query


def _sort_column(key: str) -> ColumnElement[object]:
    if key == "status":  # waiting to be claimed, claimed, suspended
        return case((HumanTask.suspended_at.is_not(None), 2), (HumanTask.assignee_id.is_not(None), 1), else_=0)
    columns: dict[str, ColumnElement[object]] = {
        "due": HumanTask.due_at, "created": HumanTask.created_at, "completed": HumanTask.completed_at,
        "business_key": HumanTask.business_key, "node": HumanTask.node_name, "customer": ProcessInstance.customer,
        "customer_phone": ProcessInstance.customer_phone, "flow": ProcessDefinition.name, "post": Post.name,
        "assignee": User.display_name,
    }
    return columns[key]


def _sorted(query: Select[tuple[HumanTask]], key: str, descending: bool) -> Select[tuple[HumanTask]]:
    """Order by ``key`` (empty values last either way), then by arrival for deadlines, then by id."""
    if key == "flow":
        query = query.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    elif key == "post":
        query = query.outerjoin(Post, Post.id == HumanTask.post_id)
    elif key == "assignee":
        query = query.outerjoin(User, User.id == HumanTask.assignee_id)
    column = _sort_column(key)
    order = [(column.desc() if descending else column.asc()).nulls_last()]
    if key == "due":
        order.append(HumanTask.created_at.desc() if descending else HumanTask.created_at.asc())
    order.append(HumanTask.id.desc() if descending else HumanTask.id.asc())
    return query.order_by(*order)


def query_tasks(session: Session, user: User, *, scope: str = "inbox", filters: TaskFilter | None = None,
                page: int = 1, page_size: int = 50, sort: str | None = None) -> Page[HumanTask]:
    """A page of the user's tasks in ``scope``; by default open work sorted by due time (no limit last) and
    done work newest first. ``sort`` is one of :data:`SORTS`, optionally with ``:asc`` or ``:desc``; ties
    are broken by id in the same direction, so pages never overlap."""
    parsed = parse_sort(sort)
    check_page(page, page_size, None, SORTS)
    f = filters or TaskFilter()
    key, descending = parsed or (("completed", True) if scope == "done" else ("due", False))
    query: Select[tuple[HumanTask]] = select(HumanTask).where(scope_condition(user, scope))
    if f.search or key in INSTANCE_SORTS:
        query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    query = _filtered(query, f, user)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = _sorted(query, key, descending)
    items = session.scalars(query.offset((page - 1) * page_size).limit(page_size)).all()
    return Page(items, total, page, page_size)


def task_facts(session: Session, tasks: Iterable[HumanTask]) -> dict[int, TaskFacts]:
    """Task id → the customer, customer phone and flow name of its work order and the name of its post."""
    rows = list(tasks)
    if not rows:
        return {}
    instances = {
        instance_id: (customer, phone, flow)
        for instance_id, customer, phone, flow in session.execute(
            select(ProcessInstance.id, ProcessInstance.customer, ProcessInstance.customer_phone, ProcessDefinition.name)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_({t.instance_id for t in rows}))
        ).tuples()
    }
    post_ids = {t.post_id for t in rows if t.post_id}
    posts = dict(session.execute(select(Post.id, Post.name).where(Post.id.in_(post_ids))).tuples().all()) \
        if post_ids else {}
    facts = {}
    for t in rows:
        customer, phone, flow = instances.get(t.instance_id, (None, None, t.process_key))
        facts[t.id] = TaskFacts(customer, phone, flow, posts.get(t.post_id) if t.post_id else None)
    return facts


def queue_steps(session: Session, user: User, scope: str = "inbox") -> Sequence[tuple[str, str, str]]:
    """The distinct ``(process key, node id, step name)`` of the user's tasks in ``scope``, by step name: what a
    filter by step can choose from."""
    return session.execute(
        select(HumanTask.process_key, HumanTask.node_id, HumanTask.node_name).where(scope_condition(user, scope))
        .distinct().order_by(HumanTask.node_name, HumanTask.process_key, HumanTask.node_id)
    ).tuples().all()
