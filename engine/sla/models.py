"""Working-calendar data an administrator edits: per-date overrides and years entered by hand."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class CalendarDay(Base):
    """A date whose kind differs from the holiday package: an extra holiday or an extra working day (调休)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class CalendarYear(Base):
    """A year the holiday package does not cover, declared complete by an administrator: its holidays and
    make-up working days are all in ``calendar_day``; other dates follow Monday–Friday."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class CalendarWindows(Base):
    """The daily work windows of a calendar an administrator set (no row: the configured default)."""

    __tablename__ = "calendar_windows"

    calendar: Mapped[str] = mapped_column(String(20), primary_key=True)
    windows: Mapped[str] = mapped_column(String(200))  # "08:30-12:00,13:30-17:30"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
