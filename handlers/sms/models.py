"""The SMS ledger: every message EOMS rendered, whatever the backend did with it (`eoms sms outbox`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class SmsMessage(Base):
    """One rendered message to one phone. ``idempotency_key`` makes a resend after a crash a no-op."""

    __tablename__ = "sms_message"
    __table_args__ = (Index("ix_sms_message_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    template: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # stored | logged | sent
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsTemplateText(Base):
    """An administrator's wording of a template, for every flow (``process_key`` "") or for one flow; without a
    row the built-in wording (``handlers.sms.templates.TEMPLATES``) is sent."""

    __tablename__ = "sms_template_text"
    __table_args__ = (UniqueConstraint("template", "process_key", name="uq_sms_template_text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template: Mapped[str] = mapped_column(String(50))
    process_key: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class SmsOptOut(Base):
    """A kind of SMS a person chose not to receive (only the kinds in ``handlers.sms.templates.OPTIONAL``)."""

    __tablename__ = "sms_opt_out"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    template: Mapped[str] = mapped_column(String(50), primary_key=True)
