"""Deployed task forms (form-js JSON schemas), versioned by content like process definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class FormDefinition(Base):
    """A version of a form. A process definition pins the form versions it was deployed with."""

    __tablename__ = "form_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_form_definition_key_version"),
        UniqueConstraint("key", "content_hash", name="uq_form_definition_key_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
