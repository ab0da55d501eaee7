"""Durable jobs (outside effects, retried with backoff), worker heartbeats and timer-start schedules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime, status_check, utcnow


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_STATUSES = tuple(JobStatus)


class Job(Base):
    """One outside effect (an SMS, a CRM callback, a network activation) to carry out at least once.

    Written in the same transaction as the state change that caused it; ``idempotency_key`` makes a second
    request for the same effect return the first job, and lets the effect's receiver drop a repeat.
    """

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_pending_due", "due_at", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_job_running_lock", "locked_until", postgresql_where=text("status = 'running'"),
              sqlite_where=text("status = 'running'")),
        Index("ix_job_status_updated", "status", "updated_at"),
        status_check(JobStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkerHeartbeat(Base):
    """One row per worker process, refreshed every tick."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticks: Mapped[int] = mapped_column(Integer, default=0)
    timers_fired: Mapped[int] = mapped_column(Integer, default=0)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class TimerSchedule(Base):
    """A process whose start event is a timer: the worker starts a new instance each time it falls due."""

    __tablename__ = "timer_schedule"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    expression: Mapped[str] = mapped_column(String(200))
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    remaining: Mapped[int] = mapped_column(Integer, default=-1)  # cycles left; -1 = unbounded
    interval_seconds: Mapped[int] = mapped_column(Integer, default=0)
    org_code: Mapped[str | None] = mapped_column(String(64))
    started_count: Mapped[int] = mapped_column(Integer, default=0)
