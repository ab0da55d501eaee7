"""The rate limit counted from the call log all web processes share, each process reading only the rows written
since it last looked (``webapp.api.ratelimit``), and the call log's ``last_used_at`` kept to the minute."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from engine.identity.models import User
from tests.conftest import utc
from webapp.api import clients
from webapp.api.models import ApiCall, ApiClient
from webapp.api.ratelimit import RateWindows

NOW = utc(2026, 3, 2, 9, 0)


def _client(s, rate: int) -> int:  # type: ignore[no-untyped-def]
    user = s.scalar(select(User).where(User.username == "alice"))
    return clients.create(s, "noc", user=user, scopes=["tmf642"], now=NOW, rate_per_minute=rate).client.id


def _log(s, client_id: int, n: int, at=NOW) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        clients.log_call(s, client_id, method="GET", path="/x", status=200, duration_ms=1, remote_addr="", now=at)


def _call(windows: RateWindows, s, client_id: int, limit: int, at) -> bool:  # type: ignore[no-untyped-def]
    """One call as the API makes it: checked, then logged whatever the answer (a refused one too)."""
    wait = windows.seconds_until_allowed(s, client_id, limit, at)
    _log(s, client_id, 1, at=at)
    return wait == 0


def test_four_processes_sharing_the_log_let_exactly_the_limit_through(db) -> None:  # type: ignore[no-untyped-def]
    processes = [RateWindows() for _ in range(4)]  # four web workers, each with its own memory
    with db.sessions.begin() as s:
        client_id = _client(s, rate=10)
        allowed = [_call(processes[i % 4], s, client_id, 10, NOW + timedelta(milliseconds=10 * i)) for i in range(40)]
        assert allowed == [True] * 10 + [False] * 30
        later = NOW + timedelta(seconds=61)  # the minute has passed: calls are allowed again, ten of them
        again = [_call(processes[i % 4], s, client_id, 10, later + timedelta(milliseconds=i)) for i in range(12)]
        assert again == [True] * 10 + [False] * 2


def test_the_wait_is_until_the_oldest_call_of_the_limit_leaves_the_minute(db) -> None:  # type: ignore[no-untyped-def]
    windows = RateWindows()
    with db.sessions.begin() as s:
        client_id = _client(s, rate=3)
        answers = []
        for i in range(5):  # a call a second, each checked, then logged (the refused ones too)
            answers.append(windows.seconds_until_allowed(s, client_id, 3, NOW + timedelta(seconds=i)))
            _log(s, client_id, 1, at=NOW + timedelta(seconds=i))
        # at 3 s the calls of 0, 1, 2 s fill the limit: the one of 0 s leaves at 60 s; at 4 s (3 s refused, logged
        # too) the third newest of 1, 2, 3 s is the one of 1 s, leaving at 61 s
        assert answers == [0, 0, 0, 57, 57]


def test_a_row_committed_after_a_newer_one_is_still_counted(db) -> None:  # type: ignore[no-untyped-def]
    windows = RateWindows()
    with db.sessions.begin() as s:
        client_id = _client(s, rate=3)
        base = 1_000_000
        for offset in (10, 11):  # two calls logged; a third, with a lower id, still committing elsewhere
            s.execute(insert(ApiCall), [{"id": base + offset, "client_id": client_id, "at": NOW, "method": "GET",
                                         "path": "/x", "status": 200, "duration_ms": 1, "remote_addr": ""}])
        assert windows.seconds_until_allowed(s, client_id, 3, NOW) == 0  # 2 calls seen
        s.execute(insert(ApiCall), [{"id": base + 9, "client_id": client_id, "at": NOW, "method": "GET",
                                     "path": "/x", "status": 200, "duration_ms": 1, "remote_addr": ""}])
        assert windows.seconds_until_allowed(s, client_id, 3, NOW) > 0  # the late row counts: 3 of 3


def test_last_used_is_written_when_a_minute_behind_only(db) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        client_id = _client(s, rate=10)
    for at, last in ((NOW, None), (NOW + timedelta(seconds=30), NOW), (NOW + timedelta(seconds=61), NOW)):
        with db.sessions.begin() as s:
            clients.log_call(s, client_id, method="GET", path="/x", status=200, duration_ms=1, remote_addr="",
                             now=at, last_used_at=last)
    with db.sessions() as s:
        assert s.get(ApiClient, client_id).last_used_at == NOW + timedelta(seconds=61)
        assert len(s.scalars(select(ApiCall).where(ApiCall.client_id == client_id)).all()) == 3
