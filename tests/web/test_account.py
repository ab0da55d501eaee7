"""个人设置: a person changes their own password (the same rule as an administrator's reset; the current one must
be right), phone number, which optional SMS they receive (turned-off ones are kept in the ledger as muted, never
sent), default language (applied at the next login) and resets the portal layout."""

from __future__ import annotations

from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.audit.models import AuditEntry
from engine.identity.models import User
from engine.identity.passwords import verify_password
from engine.worker import Worker
from handlers.sms.models import SmsMessage
from tests.conftest import PASSWORD, Database
from tests.web.conftest import csrf_token, login
from webapp.portal.models import UserPreference
from webapp.portal.service import LAYOUT_KEY

FAULT = {"customer": "广州地铁", "customer_phone": "13912345678", "vip": False, "circuit": "GZ-ZX-0009",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def client_for(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    c = app.test_client()
    assert login(c, username, password).status_code == 302
    return c


def send(c: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    token = csrf_token(c.get("/me/").get_data(as_text=True))
    return c.post(url, data={"csrf_token": token, **data}, follow_redirects=True)


def user(db: Database, username: str) -> User:
    with db.sessions() as s:
        found = s.scalar(select(User).where(User.username == username))
        assert found is not None
        return found


def test_changing_ones_own_password(web_app: Flask, db: Database) -> None:
    alice = client_for(web_app, "alice")
    page = send(alice, "/me/password", {"current": "wrong-one1", "password": "NewPass2026", "password2": "NewPass2026"})
    assert "当前密码：当前密码不正确" in text(page)
    page = send(alice, "/me/password", {"current": PASSWORD, "password": "weakpass", "password2": "weakpass"})
    assert "至少 8 位，须同时包含字母和数字" in text(page)
    page = send(alice, "/me/password", {"current": PASSWORD, "password": "NewPass2026", "password2": "NewPass2027"})
    assert "两次输入不一致" in text(page)
    assert verify_password(PASSWORD, user(db, "alice").password_hash)  # nothing changed so far
    page = send(alice, "/me/password", {"current": PASSWORD, "password": "NewPass2026", "password2": "NewPass2026"})
    assert "密码已修改" in text(page)
    assert login(web_app.test_client(), "alice", PASSWORD).status_code != 302  # the old one no longer works
    assert login(web_app.test_client(), "alice", "NewPass2026").status_code == 302
    with db.sessions() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.target == "alice")) == "user.password_change"


def test_phone_and_the_sms_one_receives(web_app: Flask, db: Database) -> None:
    maint = client_for(web_app, "gz_maintainer")
    page = send(maint, "/me/profile", {"phone": "not a phone", "sms_dispatch": "1"})
    assert "手机号：无效" in text(page)
    page = send(maint, "/me/profile", {"phone": "139 0000 1234", "sms_warning": "1", "sms_urge": "1",
                                       "sms_rework": "1"})  # 派单通知 unticked
    assert "个人设置已保存" in text(page)
    assert user(db, "gz_maintainer").phone == "139 0000 1234"
    pe = web_app.extensions["eoms"]["engine"]
    with db.sessions.begin() as s:
        started = pe.runtime.start(s, "aftersales_fault", business_key="ACC-SMS-1", data=dict(FAULT),
                                   actor=pe.identity.get_user(s, "gz_dispatcher"))
        pe.tasks.complete(s, started.tasks[0].id, pe.identity.get_user(s, "gz_dispatcher"),
                          {"fault_type": "中断", "priority": "高"})
    Worker(pe, db.sessions).tick()
    with db.sessions() as s:
        me = s.scalar(select(User.id).where(User.username == "gz_maintainer"))
        colleague = s.scalar(select(User.id).where(User.username == "mike"))
        sent = {m.user_id: m.status for m in s.scalars(select(SmsMessage).where(SmsMessage.template == "dispatch"))}
    assert sent[me] == "muted"  # in the ledger, not sent
    assert sent[colleague] != "muted"


def test_default_language_applies_at_the_next_login_and_the_layout_resets(web_app: Flask, db: Database) -> None:
    alice = client_for(web_app, "alice")
    send(alice, "/me/profile", {"language": "en", "sms_dispatch": "1", "sms_warning": "1", "sms_urge": "1",
                                "sms_rework": "1"})
    fresh = client_for(web_app, "alice")
    assert '<html lang="en">' in text(fresh.get("/portal/"))
    token = csrf_token(fresh.get("/portal/").get_data(as_text=True))
    fresh.post("/portal/layout", data={"csrf_token": token, "panel": "todo", "action": "hide"})
    with db.sessions() as s:
        assert s.get(UserPreference, (user(db, "alice").id, LAYOUT_KEY)) is not None
    page = send(fresh, "/me/layout/reset", {})
    assert "default" in text(page).lower() or "默认布局" in text(page)
    with db.sessions() as s:
        assert s.get(UserPreference, (user(db, "alice").id, LAYOUT_KEY)) is None


def test_the_settings_page_needs_a_login(web_app: Flask) -> None:
    response = web_app.test_client().get("/me/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
