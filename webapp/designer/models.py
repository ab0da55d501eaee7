"""The designer's own data: each analyst's drafts of a process diagram (not runnable until deployed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class ProcessDraft(Base):
    """An analyst's working copy of one process key (the diagram and the forms edited with it): autosaved,
    private, kept until deployed or discarded."""

    __tablename__ = "process_draft"
    __table_args__ = (UniqueConstraint("owner_id", "process_key", name="uq_process_draft_owner_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    source_name: Mapped[str] = mapped_column(String(500), default="")
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # form key → form-js schema, edited here
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
