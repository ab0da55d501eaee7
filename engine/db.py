"""Database plumbing shared by every engine service: the declarative base, column types, engines, sessions.

The engine never commits on its own: callers (CLI commands, web requests, scheduler ticks) open one
transaction per operation with ``session.begin()`` and the services only add, flush and update inside it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every EOMS table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: EOMS stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def status_check(statuses: type[StrEnum], column: str = "status") -> CheckConstraint:
    """A CHECK constraint that keeps ``column`` to the values of ``statuses`` (the same in the migration)."""
    values = ", ".join(f"'{s.value}'" for s in statuses)
    return CheckConstraint(f"{column} IN ({values})", name=column)  # named ck_<table>_<column> by convention


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create a SQLAlchemy engine for ``url`` with the settings EOMS relies on.

    SQLite gets foreign keys, WAL journaling and a busy timeout so a web request and the worker can share
    one file; on PostgreSQL a connection that lay idle in the pool is pinged before use, so a restarted server
    does not break the first request.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, json_serializer=_json_dumps, connect_args={"timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide where transactions begin, so SAVEPOINTs work and a
            # transaction's reads and writes see one snapshot (a stale snapshot fails the write: a conflict).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # a new file gets 8 KB pages (before WAL fixes them): a work order's row (its state, 2-3 KB) would
            # take a 4 KB page to itself; an existing file keeps the size it has
            cur.execute("PRAGMA page_size=8192")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # writers take the write lock up front and wait their turn (busy timeout), so a write never fails
            # on a snapshot that went stale while the transaction was reading
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, echo=echo, json_serializer=_json_dumps)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it lay idle longer than ``PING_AFTER_IDLE_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, i.e. on every request under load; a
    connection returned a moment ago is alive as far as a ping could tell. A failed ping makes the pool retry
    with a new connection and recycles the whole pool (as ``pool_pre_ping`` does); a server that goes away within
    the idle window fails that request's statement, which invalidates the pool as any disconnect does.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one just returned
        try:
            engine.dialect.do_ping(dbapi_conn)  # the dialect's own ping, as pool_pre_ping sends it
        except Exception as error:  # any failure: the connection is not usable
            # as pool_pre_ping does: the server went away, so every pooled connection is stale — recycle them all
            raise InvalidatePoolError(f"the pooled connection did not answer: {error}") from error


def make_session_factory(engine: Engine, *, writer: bool = False) -> sessionmaker[Session]:
    """A session factory whose sessions keep loaded objects usable after commit.

    ``writer``: sessions that will change data. On SQLite they begin with ``BEGIN IMMEDIATE`` — one writer at
    a time, in turn — instead of failing when another connection (the worker beside the web app) wrote
    between their first read and their first write. On PostgreSQL nothing changes.
    """
    bind = engine.execution_options(sqlite_immediate=True) if writer and engine.dialect.name == "sqlite" else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def is_write_conflict(err: BaseException) -> bool:
    """True for a database error that means another transaction wrote first (SQLite's stale snapshot or
    lock timeout, PostgreSQL's serialization failure or deadlock)."""
    if not isinstance(err, OperationalError | DBAPIError):
        return False
    text = str(getattr(err, "orig", err)).lower()
    return any(
        marker in text
        for marker in ("database is locked", "could not serialize access", "deadlock detected")
    )
