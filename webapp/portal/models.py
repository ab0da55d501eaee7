"""The personal portal's own data: announcements, schedule entries, private notes, panel layout."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class Announcement(Base):
    """公告通知, published by an administrator."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


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
