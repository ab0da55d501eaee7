"""The work queue's filters as SQL conditions with named parameters.

Every value goes in as a bound parameter, never into the statement's text: statements of the same shape (which
filters are set, not their values) are built once and cached (see :mod:`engine.tasks.open_queue`), and the
database sees one statement per shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_

from engine.errors import InvalidInput
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask

ASSIGNMENTS = ("mine", "pool")


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


def _escaped(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_shape(f: TaskFilter) -> tuple[str, ...]:
    """Which filters are set (and the assignment's value, which changes the condition): the cache key part."""
    if f.assignment and f.assignment not in ASSIGNMENTS:
        raise InvalidInput(f"assignment '{f.assignment}' is not one of {', '.join(ASSIGNMENTS)}",
                           {"assignment": "unknown"})
    shape = [name for name in ("process_key", "business_key", "node_id", "overdue_at", "warn_by") if getattr(f, name)]
    if f.text:
        shape.append("text")
    if f.search and f.search.strip():
        term = f.search.strip()
        # digits and Chinese have no case: a plain LIKE finds the same rows, at half the cost of ILIKE
        shape.append("search:ci" if term.lower() != term.upper() else "search")
    if f.assignment:
        shape.append(f"assignment:{f.assignment}")
    return tuple(shape)


def needs_instance(shape: tuple[str, ...]) -> bool:
    """Whether the filters read the work order's columns (customer, phone): the query joins the instance."""
    return "search" in shape or "search:ci" in shape


def filter_conditions(shape: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """The conditions of ``shape``, with parameters named ``f_<filter>`` (and ``me`` for the assignment)."""
    conditions: list[ColumnElement[bool]] = []
    for name in shape:
        if name in ("process_key", "business_key", "node_id"):
            conditions.append(getattr(HumanTask, name) == bindparam(f"f_{name}"))
        elif name == "overdue_at":
            conditions.append(HumanTask.overdue_clause(bindparam("f_overdue_at", type_=HumanTask.due_at.type)))
        elif name == "warn_by":
            by = bindparam("f_warn_by", type_=HumanTask.due_at.type)
            conditions.append(or_(HumanTask.warn_at <= by, HumanTask.due_at <= by))
        elif name == "text":
            like = bindparam("f_text")
            conditions.append(or_(HumanTask.business_key.like(like), HumanTask.node_name.like(like)))
        elif name in ("search", "search:ci"):
            like = bindparam("f_search")
            # the work order's own business key (the task row's copy of it would cost a read of the task row)
            columns = (ProcessInstance.business_key, ProcessInstance.customer, ProcessInstance.customer_phone)
            conditions.append(or_(*(
                column.ilike(like, escape="\\") if name == "search:ci" else column.like(like, escape="\\")
                for column in columns)))
        elif name == "assignment:mine":
            conditions.append(HumanTask.assignee_id == bindparam("me"))
        elif name == "assignment:pool":
            conditions.append(HumanTask.assignee_id.is_(None))
    return conditions


def filter_params(f: TaskFilter, user_id: int) -> dict[str, Any]:
    """The values for :func:`filter_conditions` of ``f``'s shape."""
    params: dict[str, Any] = {"me": user_id}
    for name in ("process_key", "business_key", "node_id", "overdue_at", "warn_by"):
        if getattr(f, name):
            params[f"f_{name}"] = getattr(f, name)
    if f.text:
        params["f_text"] = f"%{f.text.strip()}%"
    if f.search and f.search.strip():
        params["f_search"] = _escaped(f.search.strip())
    return params
