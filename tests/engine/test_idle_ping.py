"""PostgreSQL connections are pinged on checkout only after lying idle: a connection the server dropped while it
sat in the pool is replaced without the request noticing, and a connection returned a moment ago costs no ping."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from engine import db as engine_db
from engine.db import make_engine
from tests.conftest import pg_available, pg_url

pytestmark = pytest.mark.skipif(pg_available() is not None, reason=f"PostgreSQL: {pg_available()}")


def _counting_pings(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    count = {"pings": 0}
    ping = engine.dialect.do_ping

    def counted(conn) -> bool:  # type: ignore[no-untyped-def]
        count["pings"] += 1
        return ping(conn)

    engine.dialect.do_ping = counted
    return count


def test_a_connection_just_returned_is_not_pinged() -> None:
    engine = make_engine(pg_url())
    count = _counting_pings(engine)
    try:
        for _ in range(20):
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT 1")) == 1
        assert count["pings"] == 0
    finally:
        engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_db, "PING_AFTER_IDLE_SECONDS", 0.2)
    engine = make_engine(pg_url())
    count = _counting_pings(engine)
    try:
        with engine.connect() as conn:
            first_pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with make_engine(pg_url()).connect() as admin:  # the server ends the pooled session, as a restart would
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}) is True
        time.sleep(0.3)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
            assert conn.scalar(text("SELECT pg_backend_pid()")) != first_pid
        assert count["pings"] == 1
    finally:
        engine.dispose()
