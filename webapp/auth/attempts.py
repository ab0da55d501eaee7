"""The login throttle over ``login_attempt`` (issue 12, bug 8): growing delays, never a lock-out of the real user.

- Per account *and* client: after ``limit`` failures of a user name from one address, each further attempt from
  there waits 30 s, 1 min, 2 min, … (doubling, at most the 15-minute window) after the last failure.
- Per account from anywhere: after four times ``limit`` failures the account waits the same way — except on a
  known machine (a browser the user logged in from before, remembered by a signed cookie), so someone guessing
  at a dispatcher's name cannot keep the dispatcher out at shift change.
- Per address: four times ``limit`` failures from one address, whatever the names, slow that address down.

Administrators clear an account's failures with ``eoms user unlock USERNAME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.auth.models import LoginAttempt

WINDOW = timedelta(minutes=15)
ADDR_LIMIT_FACTOR = 4
PRUNE_BATCH = 500  # rows forgotten per attempt at most, so one login never waits on a big delete


FIRST_DELAY = timedelta(seconds=30)


@dataclass(frozen=True)
class Failures:
    count: int
    last: datetime | None


def _failures(session: Session, now: datetime, *conditions: object) -> Failures:
    count, last = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= now - WINDOW, *conditions)).one()
    return Failures(count or 0, last)


def _wait(failures: Failures, threshold: int, now: datetime) -> timedelta:
    if failures.count < threshold or failures.last is None:
        return timedelta(0)
    delay = min(FIRST_DELAY * 2 ** min(failures.count - threshold, 10), WINDOW)
    return max(failures.last + delay - now, timedelta(0))


def wait_before(session: Session, username: str, addr: str, limit: int, now: datetime, *,
                known_machine: bool = False) -> timedelta:
    """How long this user name must wait before trying again from this address (zero: try now)."""
    pair = _failures(session, now, LoginAttempt.username == username, LoginAttempt.remote_addr == addr)
    waits = [_wait(pair, limit, now)]
    if not known_machine:
        waits.append(_wait(_failures(session, now, LoginAttempt.username == username), limit * ADDR_LIMIT_FACTOR, now))
    waits.append(_wait(_failures(session, now, LoginAttempt.remote_addr == addr), limit * ADDR_LIMIT_FACTOR, now))
    return max(waits)


def unlock(session: Session, username: str) -> int:
    """Forget the failed attempts of ``username`` (an administrator's unlock); returns how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                                        LoginAttempt.success.is_(False)))
    return int(result.rowcount or 0)


def recent_failures(session: Session, username: str, now: datetime) -> int:
    """Failed logins of ``username`` within the throttle's window (what an unlock would forget)."""
    return _failures(session, now, LoginAttempt.username == username).count


def record(session: Session, username: str, addr: str, success: bool, now: datetime) -> None:
    session.add(LoginAttempt(username=username[:64], remote_addr=addr[:64], success=success, at=now))


def prune(session: Session, now: datetime, batch: int = PRUNE_BATCH) -> int:
    """Forget up to ``batch`` attempts older than the window (they no longer count); returns how many."""
    old = select(LoginAttempt.id).where(LoginAttempt.at < now - WINDOW).order_by(LoginAttempt.id).limit(batch)
    ids = list(session.scalars(old))
    if ids:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(ids)))
    return len(ids)
