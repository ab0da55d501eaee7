"""The open queue (待办: ``inbox``, ``mine``, ``offered``) by due time, fast at a province's scale.

``inbox`` is "assigned to me, or unclaimed for one of my posts in my unit". As one OR condition the database has
to collect every matching row and sort them all before it can return the first page. Split into its disjoint
parts — mine, then one part per post — each part is an ordered scan of a partial index (``ix_human_task_mine_due``,
``ix_human_task_pool_due``: open rows only, in due order) that stops after the rows the page needs; the parts'
first rows are merged by due time, and the count adds up the parts' counts, each read from its index alone.

The statements depend only on the shape of the request (scope, how many posts, which filters), never on its
values, so each shape is built once: composing a statement costs SQLAlchemy more than the database needs to run it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.paging import Page
from engine.runtime.models import ProcessInstance
from engine.tasks.filters import TaskFilter, filter_conditions, filter_params, filter_shape, needs_instance
from engine.tasks.models import HumanTask

OPEN_SCOPES = ("inbox", "mine", "offered")
READY = literal_column("'ready'")  # a literal, so that the planner matches the partial indexes' predicate


def due_order(entity: Any = HumanTask) -> tuple[Any, ...]:
    """Due time (no deadline last), then arrival, then id: the queue's order, the indexes' order."""
    return entity.due_at.asc().nulls_last(), entity.created_at.asc(), entity.id.asc()


def _parts(scope: str, posts: int) -> list[ColumnElement[bool]]:
    parts: list[ColumnElement[bool]] = []
    if scope in ("inbox", "mine"):
        parts.append(and_(HumanTask.status == READY, HumanTask.assignee_id == bindparam("me")))
    if scope in ("inbox", "offered"):
        parts += [and_(HumanTask.status == READY, HumanTask.assignee_id.is_(None),
                       HumanTask.post_id == bindparam(f"post{i}"), HumanTask.org_unit_id == bindparam("unit"))
                  for i in range(posts)]
    return parts


def _select_part(part: ColumnElement[bool], shape: tuple[str, ...], *columns: Any) -> Select[Any]:
    query = select(*columns).where(part, *filter_conditions(shape))
    if needs_instance(shape):
        query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
    return query


@lru_cache(maxsize=512)
def open_statements(scope: str, posts: int, shape: tuple[str, ...]) -> tuple[Select[Any], Select[Any]]:
    """The count and the page statement (rows with the count) of one shape (parameters: me, unit, post0…, f_…,
    first, skip, size)."""
    parts = _parts(scope, posts)
    if needs_instance(shape):
        # the work order's columns are read row by row anyway: one scan of each part gives the count and the page
        matches = union_all(*(_select_part(part, shape, HumanTask.id, HumanTask.due_at, HumanTask.created_at)
                              for part in parts)).cte("matches")
        total: Any = select(func.count()).select_from(matches).scalar_subquery()
        merged: Any = matches
    else:
        counts = [_select_part(part, shape, func.count(HumanTask.id)).scalar_subquery() for part in parts]
        total = counts[0]
        for count in counts[1:]:
            total = total + count
        first = bindparam("first", type_=Integer(), literal_execute=True)
        heads = [_select_part(part, shape, HumanTask.id, HumanTask.due_at, HumanTask.created_at)
                 .order_by(*due_order()).limit(first).subquery() for part in parts]
        merged = union_all(*(select(head) for head in heads)).subquery() if len(heads) > 1 else heads[0]
    ids = (select(merged.c.id).order_by(*due_order(merged.c))
           .offset(bindparam("skip", type_=Integer(), literal_execute=True))
           .limit(bindparam("size", type_=Integer(), literal_execute=True)))
    # the page's rows carry the count: one round trip (the count alone only when the page is empty)
    page = (select(HumanTask, total.label("total")).where(HumanTask.id.in_(ids.scalar_subquery()))
            .order_by(*due_order()))
    return select(total), page


def is_open_scope(user: User, scope: str) -> bool:
    """Whether ``scope`` has parts for this user (``offered`` without posts has none)."""
    return scope in ("inbox", "mine") or (scope == "offered" and bool(user.posts))


def open_page(session: Session, user: User, scope: str, f: TaskFilter, page: int, page_size: int) -> Page[HumanTask]:
    """A page of an open scope by due time with its count: one statement, an index scan per part."""
    post_ids = sorted({p.id for p in user.posts}) if scope != "mine" else []
    count, rows = open_statements(scope, len(post_ids), filter_shape(f))
    params = filter_params(f, user.id)
    params.update({f"post{i}": post_id for i, post_id in enumerate(post_ids)})
    params.update(unit=user.org_unit_id, first=page * page_size, skip=(page - 1) * page_size, size=page_size)
    found = session.execute(rows, params).tuples().all()
    if found:
        return Page([task for task, _ in found], int(found[0][1]), page, page_size)
    return Page([], session.scalar(count, params) or 0, page, page_size)
