"""The append-only history of every instance: who did what, when, to which task."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from engine.tasks.models import HumanTask

EVENT_TYPES = (
    "instance_started", "instance_completed", "instance_cancelled",
    "task_created", "task_claimed", "task_unclaimed", "task_completed", "task_transferred", "task_returned",
    "task_cancelled", "task_annotated", "task_suspended", "task_resumed", "task_urged", "task_warned",
    "task_overdue", "task_escalated", "step_completed", "timer_fired", "handler_failed", "incident_opened",
    "incident_retried", "incident_resolved", "job_failed", "attachment_added", "message_received",
    "extension_requested", "task_extended", "instance_failed", "signal_thrown", "signal_received",
    "message_thrown", "instance_migrated",
)


class HistoryEvent(Base):
    """One event. Rows are only ever inserted."""

    __tablename__ = "history_event"
    __table_args__ = (
        Index("ix_history_event_instance", "instance_id", "id"),
        Index("ix_history_event_type_at", "event_type", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    # ``evaluates_none``: a None is written as NULL rather than left out, so that every event of an action has the
    # same columns and the flush writes them all in one multi-row INSERT (same DDL)
    human_task_id: Mapped[int | None] = mapped_column(Integer().evaluates_none(), ForeignKey("human_task.id"),
                                                      index=True)
    node_id: Mapped[str | None] = mapped_column(String(200).evaluates_none())
    event_type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(Integer().evaluates_none(), ForeignKey("app_user.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # set on an event of a task row not yet flushed: the flush fills ``human_task_id`` once the row has its id, so
    # an action's new rows and all its events reach the database together; never loaded through
    task: Mapped[HumanTask | None] = relationship(lazy="raise")
