"""The personal portal's own data: schedule entries, private notes, panel layout, and the
待办 queue's columns and saved filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class ScheduleEntry(Base):
    """A user's own 日程 entry (due tasks are shown beside them, not stored here)."""

    __tablename__ = "schedule_entry"
    __table_args__ = (Index("ix_schedule_entry_user_at", "user_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Note(Base):
    """便签: private to its user."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UserPreference(Base):
    """Per-user settings such as the portal's panel layout."""

    __tablename__ = "user_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class QueueColumns(Base):
    """The columns a user's 待办 table shows, in the order chosen (no row: the default columns)."""

    __tablename__ = "queue_columns"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    columns: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueueFilter(Base):
    """A 待办 filter a user saved under a name; private to its user."""

    __tablename__ = "queue_filter"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_queue_filter_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)  # the filter bar's fields: q, flow, step, overdue, claim
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
