"""运维成本: maintenance cost requests approved through the 维护成本申请 flow, their categories, a budget per unit
and year, and the amount thresholds that send a request to a higher approver."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow

MONEY = Numeric(14, 2)
REQUEST_STATUSES = ("approving", "archived", "rejected")


class CostCategory(Base):
    """A cost category (线路维护, 备品备件, …); the start form's choices use these codes."""

    __tablename__ = "cost_category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class CostBudget(Base):
    """What a unit may spend on maintenance in a year."""

    __tablename__ = "cost_budget"
    __table_args__ = (UniqueConstraint("org_unit_id", "year", name="uq_cost_budget_unit_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CostSetting(Base):
    """An approval threshold in yuan: above ``finance`` the request goes to 财务审批, above ``leader`` also to
    分管领导审批."""

    __tablename__ = "cost_setting"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CostRequest(Base):
    """One 维护成本申请; ``code`` is its work order's business key."""

    __tablename__ = "cost_request"
    __table_args__ = (Index("ix_cost_request_unit_created", "org_unit_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(200), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    category: Mapped[str] = mapped_column(ForeignKey("cost_category.code"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="approving")
    route: Mapped[str] = mapped_column(String(40), default="dept")  # dept | finance | leader: the highest approver
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
