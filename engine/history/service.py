"""History service: append events, read an instance's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.history.models import EVENT_TYPES, HistoryEvent


def record(
    session: Session,
    instance_id: int,
    event_type: str,
    *,
    actor_id: int | None = None,
    human_task_id: int | None = None,
    node_id: str | None = None,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> HistoryEvent:
    """Append one event inside the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown history event type '{event_type}'")
    event = HistoryEvent(
        instance_id=instance_id,
        event_type=event_type,
        actor_id=actor_id,
        human_task_id=human_task_id,
        node_id=node_id,
        payload=payload or {},
        at=at or utcnow(),
    )
    session.add(event)
    return event


class HistoryService:
    """Read side of the history log."""

    def timeline(self, session: Session, instance_id: int) -> Sequence[HistoryEvent]:
        """Every event of an instance in the order it happened."""
        return session.scalars(
            select(HistoryEvent).where(HistoryEvent.instance_id == instance_id).order_by(HistoryEvent.id)
        ).all()
