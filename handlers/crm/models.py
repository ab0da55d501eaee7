"""Every callback EOMS sent (or would send) to CRM: the adapter's ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class CrmMessage(Base):
    __tablename__ = "crm_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    event: Mapped[str] = mapped_column(String(50))
    business_key: Mapped[str] = mapped_column(String(200), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # stored | sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
