"""The 待办 queue's own settings: the columns a user shows, the filter bar read from the URL, sorting by any
column, and filters saved under a name. Functions take the session; views commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.identity.models import User
from engine.tasks.queries import TaskFilter
from webapp.i18n import lazy_gettext
from webapp.portal.models import QueueColumns, QueueFilter

# column key (also its sort key) → header
COLUMNS: dict[str, Any] = {
    "business_key": lazy_gettext("工单号"), "node": lazy_gettext("环节"), "customer": lazy_gettext("客户"),
    "customer_phone": lazy_gettext("客户电话"), "flow": lazy_gettext("流程"), "post": lazy_gettext("岗位"),
    "assignee": lazy_gettext("处理人"), "created": lazy_gettext("到达时间"), "due": lazy_gettext("时限/剩余"),
    "status": lazy_gettext("状态"),
}
DEFAULT_COLUMNS = ("business_key", "node", "created", "due")
FIXED_COLUMNS = ("business_key",)  # the link that opens the task is always there
NEWEST_FIRST = frozenset({"created"})  # a first click on these sorts descending
CLAIMS = ("mine", "pool")
MAX_NAME = 40
MAX_TEXT = 100
MAX_SELECTED = 200
PREFIX = "todo_"


@dataclass(frozen=True)
class QueueArgs:
    """What the 待办 panel shows, as the URL says: the filter bar and the sort. Anything unknown is ignored."""

    q: str = ""
    flow: str = ""
    step: str = ""
    overdue: bool = False
    claim: str = ""
    sort: str = "due"
    desc: bool = False

    @classmethod
    def read(cls, args: Mapping[str, str]) -> QueueArgs:
        """From the query string (``todo_q``, ``todo_flow`` …); a bad sort or direction is the default."""
        found = filter_values({k[len(PREFIX):]: v for k, v in args.items() if k.startswith(PREFIX)})
        sort = args.get(PREFIX + "sort", "")
        sort = sort if sort in COLUMNS else "due"
        direction = args.get(PREFIX + "dir", "")
        desc = direction == "desc" if direction in ("asc", "desc") else sort in NEWEST_FIRST
        return cls(sort=sort, desc=desc, **found)

    def task_filter(self, now: datetime) -> TaskFilter:
        """The engine's filter for this filter bar (``overdue``: past the deadline at ``now``)."""
        return TaskFilter(search=self.q or None, process_key=self.flow or None, node_id=self.step or None,
                          overdue_at=now if self.overdue else None, assignment=self.claim or None)

    @property
    def engine_sort(self) -> str:
        return f"{self.sort}:{'desc' if self.desc else 'asc'}"

    def filters(self) -> dict[str, Any]:
        """The filter bar's fields that are set (what a saved filter keeps)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("sort", "desc") and getattr(self, f.name)}

    @property
    def filtered(self) -> bool:
        return bool(self.filters())

    def params(self, **changes: Any) -> dict[str, str]:
        """URL parameters for this view (filters and sort), with ``changes`` applied."""
        values = {**self.filters(), "sort": self.sort, "dir": "desc" if self.desc else "asc", **changes}
        return {PREFIX + k: ("1" if v is True else str(v)) for k, v in values.items() if v not in ("", None, False)}

    def with_filters(self, filters: Mapping[str, Any]) -> dict[str, str]:
        """URL parameters for ``filters`` (a saved filter; empty: none) in this view's sort."""
        sort = {PREFIX + "sort": self.sort, PREFIX + "dir": "desc" if self.desc else "asc"}
        return {**filter_url_params(filters), **sort}

    def sort_params(self, column: str) -> dict[str, str]:
        """The URL of a click on a column header: that column, the other way round if it is the sort already;
        back to the first page."""
        desc = not self.desc if column == self.sort else column in NEWEST_FIRST
        return self.params(sort=column, dir="desc" if desc else "asc")


def filter_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The filter bar's fields from a mapping (the query string or a saved filter), cleaned: texts trimmed and
    cut, unknown claim values and empty fields dropped."""
    out: dict[str, Any] = {}
    for name, limit in (("q", MAX_TEXT), ("flow", 200), ("step", 200)):
        value = str(raw.get(name) or "").strip()[:limit]
        if value:
            out[name] = value
    if str(raw.get("overdue") or "") in ("1", "on", "true", "True"):
        out["overdue"] = True
    if raw.get("claim") in CLAIMS:
        out["claim"] = raw["claim"]
    return out


def filter_url_params(filters: Mapping[str, Any]) -> dict[str, str]:
    """A saved filter's fields as query parameters of the portal."""
    return {PREFIX + k: ("1" if v is True else str(v)) for k, v in filter_values(filters).items()}


def selected_ids(values: Sequence[str]) -> list[int]:
    """Task ids from the checkboxes of a form, in order, once each; what is not an id is left out."""
    ids: list[int] = []
    for value in values:
        value = value.strip()
        if value.isascii() and value.isdigit() and len(value) <= 10 and int(value) not in ids:
            ids.append(int(value))
    return ids[:MAX_SELECTED]


# -- columns -----------------------------------------------------------------------------------------------------
def columns(session: Session, user: User) -> list[str]:
    """The columns the user's 待办 shows, in table order."""
    row = session.get(QueueColumns, user.id)
    chosen = set(row.columns) if row and isinstance(row.columns, list) else set(DEFAULT_COLUMNS)
    return [c for c in COLUMNS if c in chosen or c in FIXED_COLUMNS]


def save_columns(session: Session, user: User, chosen: Sequence[str], now: datetime) -> list[str]:
    """Keep the user's choice of columns (unknown names left out, 工单号 always in)."""
    keep = [c for c in COLUMNS if c in set(chosen) or c in FIXED_COLUMNS]
    row = session.get(QueueColumns, user.id) or QueueColumns(user_id=user.id)
    row.columns, row.updated_at = keep, now
    session.add(row)
    return keep


def reset_columns(session: Session, user: User) -> None:
    """Back to the default columns."""
    session.execute(delete(QueueColumns).where(QueueColumns.user_id == user.id))


# -- saved filters -------------------------------------------------------------------------------------------------
def saved_filters(session: Session, user: User) -> Sequence[QueueFilter]:
    """The user's own saved filters, by name."""
    return session.scalars(select(QueueFilter).where(QueueFilter.user_id == user.id).order_by(QueueFilter.name)).all()


def save_filter(session: Session, user: User, name: str, filters: Mapping[str, Any], now: datetime) -> QueueFilter:
    """Save the filter bar's fields under ``name``; a name the user used before is replaced."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a saved filter needs a name of 1-{MAX_NAME} characters",
                           {"title": "required" if not name else "too long"})
    row = session.scalar(select(QueueFilter).where(QueueFilter.user_id == user.id, QueueFilter.name == name))
    if row is None:
        row = QueueFilter(user_id=user.id, name=name, created_at=now)
        session.add(row)
    row.filters = filter_values(filters)
    session.flush()
    return row


def delete_filter(session: Session, user: User, filter_id: int) -> None:
    """Delete one of the user's saved filters (someone else's is not found)."""
    if not session.execute(delete(QueueFilter).where(QueueFilter.id == filter_id,
                                                     QueueFilter.user_id == user.id)).rowcount:
        raise NotFound(f"saved filter {filter_id} does not exist")
