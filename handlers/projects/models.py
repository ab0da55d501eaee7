"""工程项目: a customer project with its contract and budget, set up through the 项目立项 flow, and the work orders
of every flow that belong to it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow

PROJECT_STATUSES = ("approving", "active", "rejected", "closed")
MONEY = Numeric(14, 2)


class Project(Base):
    """One project. ``code`` is the business key of its 项目立项 work order."""

    __tablename__ = "project"
    __table_args__ = (Index("ix_project_status_unit", "status", "org_unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    customer: Mapped[str] = mapped_column(String(200), index=True)
    contract_no: Mapped[str] = mapped_column(String(100), index=True)
    contract_amount: Mapped[Decimal] = mapped_column(MONEY)
    budget: Mapped[Decimal] = mapped_column(MONEY)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="approving")
    description: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))  # its 项目立项 order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProjectOrder(Base):
    """A work order (of any flow) that belongs to a project."""

    __tablename__ = "project_order"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True,
                                             unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
