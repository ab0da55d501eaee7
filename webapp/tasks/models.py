"""The task page's own data: what a person typed into a step's form and has not submitted yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class TaskDraft(Base):
    """One person's unsaved input for one task (kept across an idle logout, dropped when the task is done)."""

    __tablename__ = "task_draft"
    __table_args__ = (UniqueConstraint("user_id", "task_id", name="uq_task_draft_user_task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field key → what was typed
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
