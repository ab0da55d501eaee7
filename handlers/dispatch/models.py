"""Routing rules for dispatch (派单规则)."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class RoutingRule(Base):
    __tablename__ = "routing_rule"
    __table_args__ = (UniqueConstraint("region", "service_type", name="uq_routing_rule_region_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))  # org unit code, or * for any
    service_type: Mapped[str] = mapped_column(String(64))  # or *
    post: Mapped[str] = mapped_column(String(64))
    org_unit: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(200), default="")
    # the calendar the routed steps count their time limit on (workday, 24x7); None: the step's own
    calendar: Mapped[str | None] = mapped_column(String(20))
