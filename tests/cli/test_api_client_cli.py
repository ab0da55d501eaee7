"""``eoms api-client``: create (the token printed once, only its SHA-256 stored), list, revoke, rotate and the
call log, run in-process through the real entry point (``eoms.cli.main``) on SQLite and PostgreSQL. Bad input
is one clear line on stderr, a non-zero exit and nothing stored."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.core import ProcessEngine
from eoms.cli import main
from tests.conftest import Database, utc
from webapp.api import clients
from webapp.api.models import ApiCall, ApiClient

TOKEN = re.compile(r"^token: (eoms_[A-Za-z0-9_-]{20,})$", re.M)
CREATED = utc(2026, 3, 2, 1, 0)  # 09:00 in Beijing


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def eoms(db: Database, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Runs ``eoms ARGS…`` against the test database; returns the exit code and what it printed."""
    import os

    for key in [k for k in os.environ if k.startswith("EOMS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("EOMS_DATABASE_URL", db.url)
    monkeypatch.setenv("EOMS_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def ok(result: Result) -> str:
    assert result.code == 0, result
    assert "Traceback" not in result.err
    return result.out


def refused(result: Result, *needles: str) -> None:
    assert result.code not in (0, 70), result  # 70 would be an unexpected internal error
    assert "Traceback" not in result.err + result.out and not TOKEN.search(result.out), result
    assert 1 <= len([line for line in result.err.splitlines() if line.strip()]) <= 4, result
    for needle in needles:
        assert needle in result.err, result


def stored(db: Database) -> list[tuple[str, str, str | None]]:
    with db.sessions() as s:
        found = s.scalars(select(ApiClient).order_by(ApiClient.name))
        return [(c.name, c.token_hash, str(c.revoked_at)) for c in found]


def authenticates(db: Database, token: str) -> bool:
    with db.sessions() as s:
        try:
            clients.authenticate(s, f"Bearer {token}", utc(2026, 3, 2, 2, 0))
        except clients.Refused:
            return False
        return True


def add_client(db: Database, name: str, username: str = "alice", **kwargs: Any) -> str:
    with db.sessions.begin() as s:
        user = ProcessEngine().identity.get_user(s, username)
        return clients.create(s, name, user=user, scopes=kwargs.pop("scopes", ["tmf621"]), now=CREATED,
                              **kwargs).token


def test_create_prints_the_token_once_and_stores_its_hash(eoms, db: Database):
    out = ok(eoms("api-client", "create", "CRM-GZ", "--user", "alice", "--scopes", "tmf641, tmf621",
                  "--expires-days", "7", "--rate", "120", "--description", "广州 CRM"))
    (token,) = TOKEN.findall(out)
    assert out.count(token) == 1
    assert "API client crm-gz created: acts as alice, scopes tmf621, tmf641, expires " in out
    assert "warning: the token is shown only now" in out
    with db.sessions() as s:
        (row,) = s.scalars(select(ApiClient))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.token_prefix == token[:12]
        assert token not in (row.token_hash, row.secret, row.description)
        assert (row.user.username, row.scopes, row.rate_per_minute, row.description) == (
            "alice", ["tmf621", "tmf641"], 120, "广州 CRM")
        assert row.expires_at - row.created_at == timedelta(days=7)  # type: ignore[operator]
    assert ok(eoms("api-client", "list")).count(token) == 0


def test_list_shows_every_client_in_beijing_time(eoms, db: Database):
    assert ok(eoms("api-client", "list")).strip() == "(none)"
    add_client(db, "noc", "bob", scopes=["tmf642", "engine.read"], expires_at=CREATED + timedelta(days=30))
    add_client(db, "callcentre", "anna")
    with db.sessions.begin() as s:
        clients.by_name(s, "noc").last_used_at = CREATED + timedelta(hours=3, minutes=5)
    lines = ok(eoms("api-client", "list")).splitlines()
    assert lines[0].split() == ["name", "user", "scopes", "prefix", "rate", "created", "expires", "revoked",
                                "last_used"]
    assert lines[1].split()[:5] == ["callcentre", "anna", "tmf621", lines[1].split()[3], "600"]
    assert lines[1].split()[3].startswith("eoms_")
    assert " ".join(lines[2].split()).endswith("600 2026-03-02 09:00 2026-04-01 09:00 - 2026-03-02 12:05")
    assert "noc bob engine.read,tmf642 " in " ".join(lines[2].split())
    rows = json.loads(ok(eoms("api-client", "list", "--json")))
    assert [(r["name"], r["revoked"], r["expires"]) for r in rows] == [("callcentre", "-", "-"),
                                                                       ("noc", "-", "2026-04-01 09:00")]


def test_revoke_and_rotate(eoms, db: Database):
    old = add_client(db, "crm")
    out = ok(eoms("api-client", "rotate", "crm"))
    (new,) = TOKEN.findall(out)
    assert new != old and "API client crm rotated" in out and "shown only now" in out
    assert not authenticates(db, old) and authenticates(db, new)
    revoked = ok(eoms("api-client", "revoke", "crm"))
    assert re.fullmatch(r"API client crm revoked at \d{4}-\d\d-\d\d \d\d:\d\d\n", revoked)
    assert stored(db)[0][2] != "None" and not authenticates(db, new)
    assert json.loads(ok(eoms("api-client", "list", "--json")))[0]["revoked"] != "-"
    refused(eoms("api-client", "revoke", "nobody"), "error: ", "nobody")
    refused(eoms("api-client", "rotate", "nobody"), "error: ", "nobody")


def test_the_call_log_newest_first_with_filters(eoms, db: Database):
    add_client(db, "crm")
    add_client(db, "noc", "bob")
    with db.sessions.begin() as s:
        crm, noc = clients.by_name(s, "crm").id, clients.by_name(s, "noc").id
        for i in range(10):
            s.add(ApiCall(client_id=crm, at=CREATED + timedelta(minutes=i), method="GET", path=f"/api/v1/tasks/{i}",
                          status=404 if i % 2 else 200, duration_ms=i, remote_addr="10.0.0.7"))
        s.add(ApiCall(client_id=noc, at=CREATED + timedelta(hours=1), method="POST", path="/tmf-api/alarm",
                      status=201, duration_ms=3))
    lines = ok(eoms("api-client", "calls")).splitlines()
    assert lines[0].split() == ["at", "client", "method", "path", "status", "ms", "from"]
    assert lines[1].split() == ["2026-03-02", "10:00:00", "noc", "POST", "/tmf-api/alarm", "201", "3", "-"]
    assert len(lines) == 12
    lines = ok(eoms("api-client", "calls", "--client", "crm", "--status", "404", "--limit", "3")).splitlines()
    assert [line.split()[4] for line in lines[1:4]] == ["/api/v1/tasks/9", "/api/v1/tasks/7", "/api/v1/tasks/5"]
    assert lines[4] == "(3 of 5 calls; --limit shows more)"
    assert json.loads(ok(eoms("api-client", "calls", "--status", "201", "--json")))["total"] == 1
    refused(eoms("api-client", "calls", "--client", "nobody"), "nobody")
    refused(eoms("api-client", "calls", "--status", "99"), "status")


@pytest.mark.parametrize(("args", "needles"), [
    (["new", "--user", "nobody", "--scopes", "tmf641"], ["nobody"]),
    (["new", "--user", "alice", "--scopes", "tmf641,tmf999"], ["tmf999"]),
    (["new", "--user", "alice", "--scopes", " , "], ["scopes"]),
    (["existing", "--user", "alice", "--scopes", "tmf641"], ["existing", "exists"]),
    (["bad name!", "--user", "alice", "--scopes", "tmf641"], ["name"]),
    (["new", "--user", "alice", "--scopes", "tmf641", "--rate", "0"], ["rate"]),
    (["new", "--user", "alice", "--scopes", "tmf641", "--expires-days", "0"], ["--expires-days"]),
    (["new", "--scopes", "tmf641"], ["--user"]),
])
def test_bad_input_is_refused_and_nothing_is_stored(eoms, db: Database, args: list[str], needles: list[str]):
    add_client(db, "existing")
    before = stored(db)
    refused(eoms("api-client", "create", *args), *needles)
    assert stored(db) == before
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ApiClient)) == 1
