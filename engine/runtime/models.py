"""Process instances (state without the spec, guarded by an integer version) and their incidents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, inspect, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base, UTCDateTime, status_check, utcnow


class InstanceStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"  # ended by a BPMN error nobody caught


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


INSTANCE_STATUSES = tuple(InstanceStatus)
OPEN_KEY = "status != 'cancelled'"  # a business key is unique among the work orders not cancelled


class ProcessInstance(Base):
    """One work order's running process. Every save is ``UPDATE … WHERE id = :id AND version = :seen``."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_status_started", "status", "started_at"),
        Index("ix_process_instance_key_status", "process_key", "status"),
        Index("ix_process_instance_started_at", "started_at"),
        Index("ix_process_instance_ended_at", "ended_at"),
        Index("uq_process_instance_open_business_key", "process_key", "business_key", unique=True,
              sqlite_where=text(OPEN_KEY), postgresql_where=text(OPEN_KEY)),
        status_check(InstanceStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str] = mapped_column(String(200), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=InstanceStatus.RUNNING)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(Text)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # the few business fields people search work orders by, copied from the data when it names them
    customer: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    circuit: Mapped[str | None] = mapped_column(String(100), index=True)

    def take_search_fields(self, data: dict[str, object]) -> None:
        """Copy ``customer``, ``customer_phone`` (or ``contact_phone``) and ``circuit`` (or the first of
        ``circuits``) from submitted data."""
        if isinstance(data.get("customer"), str) and data["customer"].strip():
            self.customer = data["customer"].strip()[:200]
        phone = data.get("customer_phone") or data.get("contact_phone")
        if isinstance(phone, str) and phone.strip():
            self.customer_phone = phone.strip()[:32]
        circuit = data.get("circuit")
        circuits = data.get("circuits")
        if not (isinstance(circuit, str) and circuit.strip()) and isinstance(circuits, list) and circuits:
            circuit = circuits[0].get("circuit_id") if isinstance(circuits[0], dict) else None
        if isinstance(circuit, str) and circuit.strip():
            self.circuit = circuit.strip()[:100]

    __mapper_args__ = {"version_id_col": version}


class Incident(Base):
    """A step that failed (handler, script, engine) and waits for a fix and a retry."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_status_created", "status", "created_at"),
                      status_check(IncidentStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), index=True)
    spiff_task_id: Mapped[str | None] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=IncidentStatus.OPEN)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class EventSubscription(Base):
    """A signal or message an instance waits for (an instance row), or that starts a process (a definition
    row, for the newest version of its key). Kept in step with the state when the instance is saved, so
    delivering a signal or a message never reads state JSON."""

    __tablename__ = "event_subscription"
    __table_args__ = (Index("ix_event_subscription_kind_name", "kind", "name"),
                      CheckConstraint("kind IN ('signal', 'message')", name="kind"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                                    index=True)
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id", ondelete="CASCADE"),
                                                      index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def insert_unless_key_taken(session: Session, instance: ProcessInstance) -> ProcessInstance | None:
    """Insert a new work order; None when a concurrent start took its business key first.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the open-key index: the race leaves no failed statement, so
    the caller's transaction stays usable (to draw another number, or to answer with a clear refusal) without a
    savepoint's two extra round trips. Returns the persistent instance."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
    if insert is None:
        raise RuntimeError(f"EOMS runs on PostgreSQL or SQLite, not {dialect}")
    values = {attr.key: getattr(instance, attr.key) for attr in inspect(ProcessInstance).column_attrs
              if attr.key in instance.__dict__}
    statement = (insert(ProcessInstance).values(**values)
                 .on_conflict_do_nothing(index_elements=["process_key", "business_key"], index_where=text(OPEN_KEY))
                 .returning(ProcessInstance))
    return session.scalars(statement).first()
