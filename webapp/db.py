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
