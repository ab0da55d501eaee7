"""The audit log of administrative changes: who changed what, when, and how (work-order state changes are in
``history_event``; the audit search shows both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One administrative change. Rows are only ever inserted."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_target", "target_type", "target"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="web")  # web | cli | api
    action: Mapped[str] = mapped_column(String(60))  # e.g. user.create, org.move, calendar.set
    target_type: Mapped[str] = mapped_column(String(40))  # user, post, org_unit, routing_rule, …
    target: Mapped[str] = mapped_column(String(200))  # the code, name or id of what changed
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # before/after of the changed fields
