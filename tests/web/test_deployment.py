"""What running behind a proxy, for months, from another folder or from an installed package needs: the
client address through EOMS_PROXY_HOPS, old login attempts forgotten, a storage folder that does not follow
the current folder, translations compiled without writing into the package, and page data embedded as JSON
that a ``</script>`` in a name cannot break out of."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from engine.db import utcnow
from engine.repository.models import ProcessDefinition
from engine.tasks.models import HumanTask
from eoms.settings import PROJECT_ROOT, Settings
from tests.conftest import Database
from tests.web.conftest import csrf_token, make_web_app
from tests.web.test_task_pages import ACCEPT, act, client_for, start_fault, text
from webapp import i18n
from webapp.auth import attempts
from webapp.auth.models import LoginAttempt

EVIL = '</script><script>alert("x")</script><!--'


def fail_login(client: FlaskClient, username: str, forwarded_for: str | None = None) -> int:
    token = csrf_token(text(client.get("/auth/login")))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/auth/login", data={"csrf_token": token, "username": username, "password": "wrong"},
                       headers=headers).status_code


def addresses(db: Database) -> list[str]:
    with db.sessions() as s:
        return list(s.scalars(select(LoginAttempt.remote_addr).order_by(LoginAttempt.id)))


# -- EOMS_PROXY_HOPS -------------------------------------------------------------------------------------------
def test_behind_a_proxy_the_login_limit_counts_the_client_address(db: Database, tmp_path: Path):
    app = make_web_app(db, tmp_path, EOMS_PROXY_HOPS="1", EOMS_LOGIN_MAX_FAILURES="1")  # 4 per address
    client = app.test_client()
    assert [fail_login(client, f"nobody{i}", "203.0.113.7") for i in range(4)] == [401] * 4
    assert fail_login(client, "nobody4", "203.0.113.7") == 429  # that client has had its four
    assert fail_login(client, "nobody5", "198.51.100.9") == 401  # another client behind the same proxy has not
    assert addresses(db) == ["203.0.113.7"] * 4 + ["198.51.100.9"]


def test_without_proxy_hops_a_forwarded_address_is_not_believed(db: Database, tmp_path: Path):
    app = make_web_app(db, tmp_path, EOMS_LOGIN_MAX_FAILURES="1")
    client = app.test_client()
    assert [fail_login(client, f"nobody{i}", f"203.0.113.{i}") for i in range(4)] == [401] * 4
    assert fail_login(client, "nobody4", "198.51.100.9") == 429  # a new header each time changes nothing
    assert set(addresses(db)) == {"127.0.0.1"}
    assert Settings.from_env({}).proxy_hops == 0


# -- login_attempt does not grow forever -----------------------------------------------------------------------
def test_old_login_attempts_are_forgotten(web_app: Flask, db: Database):
    now = utcnow()
    with db.sessions.begin() as s:
        for i in range(5):
            attempts.record(s, f"old{i}", "10.0.0.1", False, now - timedelta(days=3, minutes=i))
        attempts.record(s, "recent", "10.0.0.1", False, now - timedelta(minutes=5))
    with db.sessions.begin() as s:  # at most a batch at a time
        assert attempts.prune(s, now, batch=2) == 2
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 4
    assert fail_login(web_app.test_client(), "someone") == 401  # every attempt forgets what no longer counts
    with db.sessions() as s:
        assert sorted(s.scalars(select(LoginAttempt.username))) == ["recent", "someone"]


# -- the default storage folder --------------------------------------------------------------------------------
def test_the_default_storage_folder_does_not_follow_the_current_folder(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    seen = []
    for here in ("a", "b"):
        (tmp_path / here).mkdir()
        monkeypatch.chdir(tmp_path / here)
        sqlite = Settings.from_env({"EOMS_DATABASE_URL": f"sqlite:///{data / 'eoms.db'}"})
        relative = Settings.from_env({"EOMS_DATABASE_URL": "sqlite:///../data/eoms.db"})
        postgres = Settings.from_env({"EOMS_DATABASE_URL": "postgresql+psycopg://u@db:5432/eoms"})
        seen.append((sqlite.storage_dir, relative.storage_dir, postgres.storage_dir))
    assert seen[0] == seen[1]
    assert seen[0] == (str(data / "storage"), str(data / "storage"), str(PROJECT_ROOT / "instance" / "storage"))
    assert all(Path(p).is_absolute() for p in seen[0])
    default = Settings.from_env({}, cwd=tmp_path)  # the default database under cwd, the storage beside it
    assert default.storage_dir == str(tmp_path / "instance" / "storage")
    assert Settings.from_env({"EOMS_STORAGE_DIR": "/srv/eoms"}).storage_dir == "/srv/eoms"


# -- translations ------------------------------------------------------------------------------------------------
def test_translations_are_compiled_without_writing_into_the_package(db: Database, tmp_path: Path):
    shipped = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, shipped)
    for path in (shipped, *shipped.rglob("*")):
        path.chmod(0o555 if path.is_dir() else 0o444)  # an installed, read-only package
    try:
        compiled = i18n.compile_catalogs(shipped)
    finally:
        for path in (shipped, *shipped.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert compiled["en"].gettext("用户名") == "Username"
    assert not list(shipped.rglob("*.mo"))
    before = sorted(i18n.TRANSLATIONS.rglob("*.mo"))
    client = client_for(make_web_app(db, tmp_path), "gz_dispatcher")
    client.get("/lang/en")
    assert "Personal portal" in text(client.get("/portal/"))
    assert sorted(i18n.TRANSLATIONS.rglob("*.mo")) == before  # nothing new in the package


# -- JSON in <script type="application/json"> ------------------------------------------------------------------
def embedded(html: str, element_id: str) -> object:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_a_script_end_tag_in_names_cannot_break_the_page_data(web_app: Flask, db: Database):
    instance_id, accept = start_fault(web_app, db)
    with db.sessions.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == accept).values(node_name=f"受理{EVIL}"))
        s.execute(update(ProcessDefinition).where(ProcessDefinition.key == "aftersales_fault")
                  .values(name=f"售后故障{EVIL}"))
    act(web_app, db, "complete", accept, "gz_dispatcher", ACCEPT)  # the KPI fact keeps the step's name
    sup = client_for(web_app, "sup")
    html = text(sup.get("/supervisor/"))
    charts = embedded(html, "chart-data")
    assert {(r["flow"], r["step"]) for r in charts["handling"]} == {(f"售后故障{EVIL}", f"受理{EVIL}")}
    assert EVIL not in html  # the name appears only escaped, in the JSON and in the tables
    html = text(sup.get("/supervisor/heatmap", query_string={"flow": "aftersales_fault"}))
    assert [r["name"] for r in embedded(html, "overlay-data").values()] == [f"受理{EVIL}"]  # type: ignore[union-attr]
    assert EVIL not in html
    html = text(sup.get(f"/supervisor/instances/{instance_id}"))
    assert "accept" in embedded(html, "overlay-data")  # type: ignore[operator]
    assert EVIL not in html
