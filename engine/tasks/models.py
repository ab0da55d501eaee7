"""The human-task projection: one row per occurrence of a user task, kept in step with instance state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, Integer, String, and_, or_, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, status_check, utcnow


class TaskStatus(StrEnum):
    """Where a task occurrence stands: open, or closed in one of three ways."""

    READY = "ready"
    COMPLETED = "completed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class HumanTask(Base):
    """A user task occurrence. Queries read this table, never the instance state."""

    __tablename__ = "human_task"
    __table_args__ = (
        # the open queue by due time (engine.tasks.queries): a user's claimed tasks, and a post's pool in a unit;
        # partial (open rows only), with the columns the queue's filters read so that counts stay in the index
        Index("ix_human_task_mine_due", "assignee_id", "due_at", "created_at", "id", "warn_at", "suspended_at",
              "instance_id", postgresql_where=text("status = 'ready' AND assignee_id IS NOT NULL"),
              sqlite_where=text("status = 'ready' AND assignee_id IS NOT NULL")),
        Index("ix_human_task_pool_due", "post_id", "org_unit_id", "due_at", "created_at", "id", "warn_at",
              "suspended_at", "instance_id", postgresql_where=text("status = 'ready' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'ready' AND assignee_id IS NULL")),
        Index("ix_human_task_instance_status", "instance_id", "status"),
        Index("ix_human_task_status_due", "status", "due_at"),
        Index("ix_human_task_completed_by", "completed_by_id", "completed_at", "id"),
        Index("ix_human_task_warn_pending", "warn_at",
              postgresql_where=text("status = 'ready' AND warned_at IS NULL AND suspended_at IS NULL"),
              sqlite_where=text("status = 'ready' AND warned_at IS NULL AND suspended_at IS NULL")),
        Index("ix_human_task_due_pending", "due_at",
              postgresql_where=text("status = 'ready' AND overdue_at IS NULL AND suspended_at IS NULL"),
              sqlite_where=text("status = 'ready' AND overdue_at IS NULL AND suspended_at IS NULL")),
        status_check(TaskStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str] = mapped_column(String(200), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    node_name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.READY)
    form_key: Mapped[str | None] = mapped_column(String(200))
    allow: Mapped[str] = mapped_column(String(200), default="")
    time_limit: Mapped[str | None] = mapped_column(String(40))
    calendar: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)  # counted (working) time suspended
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}

    def allows(self, action: str) -> bool:
        return action in self.allow.split(",")

    def is_overdue(self, now: datetime) -> bool:
        """Past its deadline at ``now``; a suspended task's clock stopped, so only if it was late when suspended."""
        if self.due_at is None:
            return False
        return self.due_at < (self.suspended_at if self.suspended_at and self.suspended_at < now else now)

    @classmethod
    def overdue_clause(cls, now: datetime) -> ColumnElement[bool]:
        """SQL form of :meth:`is_overdue` for a deadline before ``now``."""
        return and_(cls.due_at < now, or_(cls.suspended_at.is_(None), cls.due_at < cls.suspended_at))

    @classmethod
    def near_limit_clause(cls, now: datetime) -> ColumnElement[bool]:
        """Past its warning time but not yet due (临近时限), and not suspended."""
        return and_(cls.warn_at <= now, cls.due_at >= now, cls.suspended_at.is_(None))
