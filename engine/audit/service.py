"""Recording and searching administrative changes, and the merged audit search with work-order history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.audit.models import AuditEntry
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.runtime.models import ProcessInstance

MAX_TEXT = 200


def record(session: Session, action: str, target_type: str, target: object, *, actor_id: int | None,
           now: datetime, details: dict[str, Any] | None = None, channel: str = "web") -> AuditEntry:
    """Note one administrative change in the caller's transaction (it is kept only if the change is)."""
    entry = AuditEntry(action=action, target_type=target_type, target=str(target)[:MAX_TEXT], actor_id=actor_id,
                       at=now, details=_jsonable(details or {}), channel=channel)
    session.add(entry)
    return entry


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that differ, as ``{field: [old, new]}``."""
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit search: an administrative change or a work-order event."""

    at: datetime
    source: str  # "admin" or "order"
    action: str
    target_type: str
    target: str
    actor_id: int | None
    details: dict[str, Any]
    instance_id: int | None = None
    channel: str = "web"


@dataclass(frozen=True)
class AuditQuery:
    """What the audit search looks for; empty fields match everything."""

    source: str = ""  # "", "admin", "order"
    actor_id: int | None = None
    action: str = ""  # prefix: "user." or "task_completed"
    target: str = ""  # substring of the target (code, name, business key)
    since: datetime | None = None
    until: datetime | None = None


def search(session: Session, query: AuditQuery, *, offset: int, limit: int) -> tuple[int, list[AuditRow]]:
    """The newest first: administrative changes and work-order events that match, with the total count."""
    admin, order = _admin_query(query), _order_query(query)
    total = 0
    if admin is not None:
        total += session.scalar(select(func.count()).select_from(admin.subquery())) or 0
    if order is not None:
        total += session.scalar(select(func.count()).select_from(order.subquery())) or 0
    rows: list[AuditRow] = []
    wanted = offset + limit
    if admin is not None:
        rows += [AuditRow(e.at, "admin", e.action, e.target_type, e.target, e.actor_id, e.details, None, e.channel)
                 for e in session.scalars(admin.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(wanted))]
    if order is not None:
        found = session.execute(order.add_columns(ProcessInstance.business_key)
                                .order_by(HistoryEvent.at.desc(), HistoryEvent.id.desc()).limit(wanted)).all()
        rows += [AuditRow(h.at, "order", h.event_type, "instance", key, h.actor_id,
                          {"step": h.node_id, **(h.payload or {})}, h.instance_id) for h, key in found]
    rows.sort(key=lambda r: r.at, reverse=True)
    return total, rows[offset:wanted]


def _admin_query(q: AuditQuery):  # type: ignore[no-untyped-def]
    if q.source not in ("", "admin"):
        return None
    stmt = select(AuditEntry)
    if q.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == q.actor_id)
    if q.action:
        stmt = stmt.where(AuditEntry.action.startswith(q.action))
    if q.target:
        stmt = stmt.where(or_(AuditEntry.target.contains(q.target, autoescape=True),
                              AuditEntry.target_type == q.target))
    if q.since is not None:
        stmt = stmt.where(AuditEntry.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditEntry.at < q.until)
    return stmt


def _order_query(q: AuditQuery):  # type: ignore[no-untyped-def]
    if q.source not in ("", "order"):
        return None
    stmt = select(HistoryEvent).join(ProcessInstance, ProcessInstance.id == HistoryEvent.instance_id)
    if q.actor_id is not None:
        stmt = stmt.where(HistoryEvent.actor_id == q.actor_id)
    if q.action:
        stmt = stmt.where(HistoryEvent.event_type.startswith(q.action))
    if q.target:
        stmt = stmt.where(ProcessInstance.business_key.contains(q.target, autoescape=True))
    if q.since is not None:
        stmt = stmt.where(HistoryEvent.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(HistoryEvent.at < q.until)
    return stmt


def actor_names(session: Session, rows: list[AuditRow]) -> dict[int, str]:
    ids = {r.actor_id for r in rows if r.actor_id}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in (sorted(value) if isinstance(value, set | frozenset) else value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
