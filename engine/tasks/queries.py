"""Read side of the work queue: the tasks a user sees, filtered, sorted by any column, paged."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, false, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.identity.labels import Labels
from engine.identity.models import Post, User, subtree_ids
from engine.paging import Page, check_page
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.filters import ASSIGNMENTS, TaskFilter, filter_conditions, filter_params, filter_shape, needs_instance
from engine.tasks.models import HumanTask, TaskStatus
from engine.tasks.open_queue import is_open_scope, open_page

__all__ = [
    "ASSIGNMENTS",
    "SCOPES",
    "SORTS",
    "TaskFilter",
    "instance_facts",
    "query_tasks",
    "scope_condition",
    "task_facts",
]

SCOPES = ("inbox", "mine", "offered", "done", "org")
# sort keys; a sort is "<key>" (its usual direction) or "<key>:asc" / "<key>:desc"
SORTS = ("due", "created", "business_key", "completed", "node", "customer", "customer_phone", "flow", "post",
         "assignee", "status")
DIRECTIONS = ("asc", "desc")
NEWEST_FIRST = frozenset({"created", "completed"})  # keys whose usual direction is descending
INSTANCE_SORTS = frozenset({"customer", "customer_phone", "flow"})


class InstanceFacts(NamedTuple):
    """What a task shows of its work order."""

    customer: str | None
    customer_phone: str | None
    flow: str


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


def _filtered(query: Select[Any], f: TaskFilter, user_id: int) -> tuple[Select[Any], dict[str, Any]]:
    """``query`` narrowed by ``f``, and the parameters to run it with."""
    shape = filter_shape(f)
    conditions = filter_conditions(shape)
    return (query.where(*conditions) if conditions else query), filter_params(f, user_id)


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


def _sorted(query: Select[tuple[HumanTask]], key: str, descending: bool, scope: str = "") -> Select[tuple[HumanTask]]:
    """Order by ``key`` (empty values last either way), then by arrival for deadlines, then by id."""
    if key == "flow":
        query = query.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    elif key == "post":
        query = query.outerjoin(Post, Post.id == HumanTask.post_id)
    elif key == "assignee":
        query = query.outerjoin(User, User.id == HumanTask.assignee_id)
    column = _sort_column(key)
    order = [column.desc() if descending else column.asc()]
    if not (key == "completed" and scope == "done"):  # done work always has a completion time: the index's order
        order[0] = order[0].nulls_last()
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
    if (key, descending) == ("due", False) and is_open_scope(user, scope):
        return open_page(session, user, scope, f, page, page_size)
    query, params = _scoped(user, scope, f, key)
    total = session.scalar(select(func.count()).select_from(query.subquery()), params) or 0
    query = _sorted(query, key, descending, scope)
    items = session.scalars(query.offset((page - 1) * page_size).limit(page_size), params).all()
    return Page(items, total, page, page_size)


def _scoped(user: User, scope: str, f: TaskFilter, key: str) -> tuple[Select[Any], dict[str, Any]]:
    query: Select[Any] = select(HumanTask).where(scope_condition(user, scope))
    if needs_instance(filter_shape(f)) or key in INSTANCE_SORTS:
        query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    return _filtered(query, f, user.id)


def instance_facts(session: Session, instance_ids: Iterable[int]) -> dict[int, InstanceFacts]:
    """Instance id → its customer, customer phone and flow name (one statement)."""
    ids = set(instance_ids)
    if not ids:
        return {}
    return {instance_id: InstanceFacts(customer, phone, flow)
            for instance_id, customer, phone, flow in session.execute(_facts_statement(), {"ids": list(ids)}).tuples()}


@cache
def _facts_statement() -> Select[tuple[int, str | None, str | None, str]]:
    """Built once: composing it costs more than running it."""
    return (select(ProcessInstance.id, ProcessInstance.customer, ProcessInstance.customer_phone, ProcessDefinition.name)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_(bindparam("ids", expanding=True))))


def task_facts(session: Session, tasks: Iterable[HumanTask], labels: Labels) -> dict[int, TaskFacts]:
    """Task id → the customer, customer phone and flow name of its work order and the name of its post (post names
    from the process's ``labels``)."""
    rows = list(tasks)
    if not rows:
        return {}
    instances = instance_facts(session, {t.instance_id for t in rows})
    posts = labels.posts(session, (t.post_id for t in rows))
    facts = {}
    for t in rows:
        customer, phone, flow = instances.get(t.instance_id, InstanceFacts(None, None, t.process_key))
        post = posts.get(t.post_id) if t.post_id else None
        facts[t.id] = TaskFacts(customer, phone, flow, post[1] if post else None)
    return facts


def queue_steps(session: Session, user: User, scope: str = "inbox") -> Sequence[tuple[str, str, str]]:
    """The distinct ``(process key, node id, step name)`` of the user's tasks in ``scope``, by step name: what a
    filter by step can choose from."""
    return session.execute(
        select(HumanTask.process_key, HumanTask.node_id, HumanTask.node_name).where(scope_condition(user, scope))
        .distinct().order_by(HumanTask.node_name, HumanTask.process_key, HumanTask.node_id)
    ).tuples().all()
