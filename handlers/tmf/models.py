"""What the TM Forum adapter keeps: which work order a client's identifier stands for (a CRM order number, a
call-centre ticket, a network manager's alarm), the listeners clients registered (``/hub``) and the outbox of
events to send them, in order per order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, utcnow


class ExternalOrder(Base):
    """A work order an API client sent (``kind``: serviceOrder, troubleTicket, alarm) under its own identifier:
    the same identifier from the same client finds the same order, never a second one (the unique key decides
    races)."""

    __tablename__ = "tmf_external_order"
    __table_args__ = (UniqueConstraint("client_id", "kind", "external_id", name="uq_tmf_external_order"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what the client sent, as sent
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what it changed since (PATCH)
    state: Mapped[str] = mapped_column(String(30), default="")  # the last state listeners were told
    announced: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # milestone and alert ids told
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HubSubscription(Base):
    """A listener a client registered with ``POST /hub`` of one API (``api``: serviceOrdering, troubleTicket,
    alarmManagement): that API's events about the client's own orders that match ``query`` go to ``callback``,
    signed with ``secret`` (the client's at the time it subscribed)."""

    __tablename__ = "tmf_hub_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"), index=True)
    api: Mapped[str] = mapped_column(String(40))
    callback: Mapped[str] = mapped_column(String(500))
    query: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TmfEvent(Base):
    """One event for one listener: sent in ``seq`` order per (subscription, order), each once (``sent_at``)."""

    __tablename__ = "tmf_event"
    __table_args__ = (Index("ix_tmf_event_pending", "subscription_id", "order_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("tmf_hub_subscription.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("tmf_external_order.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Alarm(Base):
    """A network manager's alarm (TMF642, X.733 fields): kept as sent (``body``, with later changes), the
    trouble ticket it opened or was correlated to, and how often it was repeated."""

    __tablename__ = "tmf_alarm"
    __table_args__ = (UniqueConstraint("client_id", "external_alarm_id", name="uq_tmf_alarm_external"),
                      Index("ix_tmf_alarm_object", "client_id", "alarmed_object_id", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"))
    external_alarm_id: Mapped[str | None] = mapped_column(String(100))
    alarm_type: Mapped[str] = mapped_column(String(60))
    perceived_severity: Mapped[str] = mapped_column(String(20))
    probable_cause: Mapped[str] = mapped_column(String(200))
    specific_problem: Mapped[str] = mapped_column(String(200), default="")
    alarmed_object_id: Mapped[str] = mapped_column(String(100))
    alarmed_object_type: Mapped[str] = mapped_column(String(60), default="")
    source_system_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # raised | updated | cleared
    service_affecting: Mapped[bool] = mapped_column(default=False)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tmf_external_order.id"), index=True)
    opened_ticket: Mapped[bool] = mapped_column(default=False)  # this alarm opened it (else: correlated to it)
