"""公告通知: announcements with an audience (everyone, some units and the units below them, or some posts),
a validity period, pinning, and a read receipt per person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow

AUDIENCES = ("all", "units", "posts")


class Announcement(Base):
    """One announcement. Withdrawn ones stay (with their receipts) but nobody is shown them any more."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    audience: Mapped[str] = mapped_column(String(10), default="all", server_default="all")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: from publication
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: until withdrawn
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AnnouncementTarget(Base):
    """A unit (with the units below it) or a post an announcement is for."""

    __tablename__ = "announcement_target"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"),
                                                 primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # unit | post
    ref_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class AnnouncementRead(Base):
    """Who has read an announcement, and when they first opened it."""

    __tablename__ = "announcement_read"
    __table_args__ = (Index("ix_announcement_read_user", "user_id"),)

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
