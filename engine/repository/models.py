"""Deployed process definitions: one row per version of a process key, with its BPMN and parsed spec."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class ProcessDefinition(Base):
    """A version of a process. The same file content never makes a second version."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_definition_key_version"),
        UniqueConstraint("key", "content_hash", name="uq_process_definition_key_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(500))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)  # large: read only where it is used
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    forms: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # formKey → form_definition.id
