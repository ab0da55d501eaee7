"""The login rate limit over ``login_attempt``: count recent failures, record attempts, forget old ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.auth.models import LoginAttempt

WINDOW = timedelta(minutes=15)
ADDR_LIMIT_FACTOR = 4
PRUNE_BATCH = 500  # rows forgotten per attempt at most, so one login never waits on a big delete


def too_many(session: Session, username: str, addr: str, limit: int, now: datetime) -> bool:
    """``limit`` failures for the user name, or four times as many from the address, within the window."""
    since = now - WINDOW
    failed = (LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    by_user = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, *failed)) or 0
    by_addr = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote_addr == addr, *failed)) or 0
    return by_user >= limit or by_addr >= limit * ADDR_LIMIT_FACTOR


def record(session: Session, username: str, addr: str, success: bool, now: datetime) -> None:
    session.add(LoginAttempt(username=username[:64], remote_addr=addr[:64], success=success, at=now))


def prune(session: Session, now: datetime, batch: int = PRUNE_BATCH) -> int:
    """Forget up to ``batch`` attempts older than the window (they no longer count); returns how many."""
    old = select(LoginAttempt.id).where(LoginAttempt.at < now - WINDOW).order_by(LoginAttempt.id).limit(batch)
    ids = list(session.scalars(old))
    if ids:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(ids)))
    return len(ids)
