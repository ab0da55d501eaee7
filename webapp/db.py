"""Per-request access to the engine and a database session (one per request, closed at teardown)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
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
    """The request's session. Views commit after a change and roll back on an error."""
    if "db" not in g:
        g.db = eoms()["sessions"]()
    return g.db
