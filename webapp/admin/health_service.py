"""What the system-health page reads: workers, job backlog, incidents, outboxes, database size, migrations,
and the years the working calendar cannot count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from engine.jobs.models import WorkerHeartbeat
from engine.migrate import alembic_config
from handlers.sms.models import SmsMessage
from handlers.tmf.models import TmfEvent

STALE_AFTER = timedelta(minutes=2)  # a worker not seen for this long is presumed stopped
LOOK_AHEAD_DAYS = 400  # the calendar must count deadlines this far ahead (into next year)


@dataclass(frozen=True)
class Migrations:
    current: str | None
    head: str | None

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def migrations(session: Session) -> Migrations:
    """The database's schema revision and the newest one this code knows."""
    connection = session.connection()
    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config(str(connection.engine.url)))
    return Migrations(current, script.get_current_head())


def database_size(session: Session) -> int | None:
    """Bytes the database takes (PostgreSQL: the database; SQLite: the file); None when unknown."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    database = bind.url.database
    if database and database != ":memory:" and Path(database).exists():
        return Path(database).stat().st_size
    return None


def worker_is_fresh(worker: WorkerHeartbeat, now: datetime) -> bool:
    return worker.stopped_at is None and now - worker.last_seen <= STALE_AFTER


def outbox(session: Session, now: datetime) -> dict[str, int]:
    """Outgoing messages: TMF events waiting to be delivered, SMS of the last day by status."""
    pending_events = session.scalar(select(func.count()).select_from(TmfEvent).where(TmfEvent.sent_at.is_(None))) or 0
    sms = dict(session.execute(select(SmsMessage.status, func.count()).where(
        SmsMessage.created_at >= now - timedelta(days=1)).group_by(SmsMessage.status)).tuples().all())
    return {"tmf_pending": pending_events, **{f"sms_{k}": v for k, v in sms.items()}}


def calendar_gaps(session: Session, pe: ProcessEngine, now: datetime) -> list[int]:
    """Years from today to a little over a year ahead whose holidays the calendar does not know."""
    return pe.sla.uncovered_years(session, pe.sla.today(now), LOOK_AHEAD_DAYS)
