"""Per-request access to the engine and a database session (one per request, closed at teardown)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session

from engine.core import ProcessEngine
from eoms.settings import Settings


def eoms() -> dict[str, Any]:
    return current_app.extensions["eoms"]


def engine() -> ProcessEngine:
    return eoms()["engine"]


def settings() -> Settings:
    return eoms()["settings"]


def session() -> Session:
    """The request's session. Views commit after a change and roll back on an error. Requests that may
    change data (anything but GET/HEAD) get a writer session: on SQLite they wait for the write lock at the
    start rather than fail halfway because the worker wrote meanwhile."""
    if "db" not in g:
        kind = "sessions" if request.method in ("GET", "HEAD", "OPTIONS") else "writer_sessions"
        g.db = eoms()[kind]()
    return g.db


def snapshot_session() -> Session:
    """The request's session, reading from here on in one snapshot of the database: a page whose figures come
    from several statements (counts in one, percentiles in the next) shows them as of one moment, however many
    facts are written meanwhile. REPEATABLE READ on PostgreSQL; SQLite's read transaction is one snapshot
    already. Reads only: a view that writes uses :func:`session`."""
    s = session()
    if s.get_bind().dialect.name == "postgresql":
        if s.in_transaction():
            s.rollback()  # what sign-in read (the user) is read again, in the snapshot
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return s
