"""接口客户端 admin pages: an administrator creates a client and sees its token once (only its SHA-256 is
stored), lists, rotates and revokes clients and searches the call log; everybody else gets the 404 the other
admin pages answer; bad input is named field by field and stores nothing."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.core import ProcessEngine
from tests.conftest import Database, utc
from tests.web.conftest import csrf_token, login, make_web_app
from webapp.api import clients
from webapp.api.models import ApiCall, ApiClient
from webapp.api_admin import PAGE_SIZE, SCOPE_LABELS

BASE = "/admin/api-clients"
NOT_FOUND = "页面或记录不存在，或您无权查看。"
TOKEN = re.compile(r"eoms_[A-Za-z0-9_-]{20,}")
CREATED = utc(2026, 3, 2, 1, 0)  # 09:00 in Beijing


@pytest.fixture
def app(db: Database, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    return make_web_app(db, tmp_path)


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "admin")
    return client


def send(client: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    token = csrf_token(client.get("/portal/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def add_client(db: Database, name: str, username: str = "alice", **kwargs: Any) -> str:
    """A client made through the service; returns its token."""
    with db.sessions.begin() as s:
        user = ProcessEngine().identity.get_user(s, username)
        return clients.create(s, name, user=user, scopes=kwargs.pop("scopes", ["tmf621"]), now=CREATED,
                              **kwargs).token


def rows(db: Database) -> list[ApiClient]:
    with db.sessions() as s:
        found = list(s.scalars(select(ApiClient).options(selectinload(ApiClient.user)).order_by(ApiClient.name)))
        s.expunge_all()
        return found


def authenticates(db: Database, token: str) -> bool:
    with db.sessions() as s:
        try:
            clients.authenticate(s, f"Bearer {token}", CREATED + timedelta(minutes=5))
        except clients.Refused:
            return False
        return True


FORM = {"name": "crm-gz", "username": "alice", "scopes": ["tmf641", "tmf621"], "expires_days": "30", "rate": "120",
        "description": "广州 CRM"}


def test_admin_creates_a_client_and_the_token_is_shown_once(app: Flask, db: Database):
    client = admin(app)
    form = client.get(f"{BASE}/new")
    assert form.status_code == 200
    for code, label in clients.SCOPES.items():
        assert f'value="{code}"' in text(form) and label in text(form)
    page = client.post(f"{BASE}/new", data={"csrf_token": csrf_token(text(form)), **FORM})
    assert page.status_code == 200, text(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert "令牌只显示这一次" in text(page)
    (token,) = set(TOKEN.findall(text(page)))
    (row,) = rows(db)
    assert (row.name, row.user.username, row.scopes) == ("crm-gz", "alice", ["tmf621", "tmf641"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.token_prefix == token[:12]
    assert token not in {row.token_hash, row.secret, row.description, row.token_prefix}
    assert (row.rate_per_minute, row.description) == (120, "广州 CRM")
    assert row.expires_at is not None and timedelta(days=29) < row.expires_at - row.created_at <= timedelta(days=30)
    assert authenticates(db, token)
    with client.session_transaction() as session:  # never kept for a later page
        assert token not in repr(dict(session))
    listing = text(client.get(f"{BASE}/"))
    assert token not in listing and "crm-gz" in listing and token[:12] in listing
    assert "艾丽" in listing and "TMF641 服务订单（服务开通）" in listing and "TMF621 故障单（售后故障）" in listing
    assert "令牌只显示这一次" not in text(client.get("/portal/"))


def test_the_list_shows_every_client_with_its_times_in_beijing(app: Flask, db: Database):
    add_client(db, "noc", "bob", scopes=["tmf642"], expires_at=CREATED + timedelta(days=1), rate_per_minute=60)
    add_client(db, "callcentre", "anna", scopes=["engine.read", "tmf621"])
    with db.sessions.begin() as s:
        clients.by_name(s, "noc").last_used_at = CREATED + timedelta(hours=2)
    client = admin(app)
    page = client.get(f"{BASE}/")
    assert page.status_code == 200
    html = text(page)
    assert html.index("callcentre") < html.index("noc")
    noc = re.search(r'<tr data-client="noc">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "鲍勃" in noc and "TMF642 告警" in noc and "60" in noc
    assert "2026-03-02 09:00" in noc and "2026-03-03 09:00" in noc and "2026-03-02 11:00" in noc
    centre = re.search(r'<tr data-client="callcentre">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "永不过期" in centre and "从未使用" in centre and "流程、工单、任务只读" in centre
    assert 'data-confirm="吊销 noc？' in html and 'data-confirm="为 noc 更换令牌？' in html
    assert f'href="{BASE}/"' in text(client.get("/admin/"))  # 接口客户端 in 系统管理


def test_rotate_gives_a_new_token_once_and_revoke_stops_it(app: Flask, db: Database):
    old = add_client(db, "crm")
    client = admin(app)
    page = send(client, f"{BASE}/crm/rotate")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    (new,) = set(TOKEN.findall(text(page)))
    assert new != old and "令牌只显示这一次" in text(page)
    assert not authenticates(db, old) and authenticates(db, new)
    assert rows(db)[0].token_hash == hashlib.sha256(new.encode()).hexdigest()

    done = send(client, f"{BASE}/crm/revoke")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"{BASE}/")
    assert rows(db)[0].revoked_at is not None and not authenticates(db, new)
    listing = text(client.get(f"{BASE}/"))
    assert "接口客户端 crm 已吊销" in listing and "已吊销" in listing
    assert f"{BASE}/crm/rotate" not in listing and f"{BASE}/crm/revoke" not in listing

    missing = send(client, f"{BASE}/nobody/rotate")
    assert missing.status_code == 302
    assert "记录不存在，或您无权查看。" in text(client.get(missing.headers["Location"]))


@pytest.mark.parametrize("username", ["sup", "alice", "ana"])
def test_only_administrators_see_or_change_clients(app: Flask, db: Database, username: str):
    token = add_client(db, "crm")
    before = rows(db)[0].token_hash
    client = app.test_client()
    login(client, username)
    for url in (f"{BASE}/", f"{BASE}/new", f"{BASE}/calls"):
        response = client.get(url)
        assert response.status_code == 404 and NOT_FOUND in text(response), url
    for url in (f"{BASE}/crm/rotate", f"{BASE}/crm/revoke", f"{BASE}/new"):
        assert send(client, url, FORM).status_code == 404, url
    (row,) = rows(db)
    assert row.token_hash == before and row.revoked_at is None and authenticates(db, token)
    assert f'href="{BASE}/"' not in text(client.get("/portal/"))


def test_the_page_labels_every_scope_the_service_knows(app: Flask):
    with app.test_request_context():
        assert {code: str(label) for code, label in SCOPE_LABELS.items()} == clients.SCOPES


def test_anonymous_visitors_go_to_the_login_page(app: Flask):
    response = app.test_client().get(f"{BASE}/calls")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(("change", "message", "field"), [
    ({"username": "nobody"}, "代表用户：不存在", "f-username"),
    ({"username": ""}, "代表用户：必填", "f-username"),
    ({"scopes": ["tmf641", "tmf999"]}, "权限范围：无效", "f-scopes"),
    ({"scopes": []}, "权限范围：无效", "f-scopes"),
    ({"name": "existing"}, "名称：已存在", "f-name"),
    ({"name": "CRM 广州!"}, "名称：无效", "f-name"),
    ({"rate": "0"}, "每分钟调用上限：超出范围", "f-rate"),
    ({"expires_days": "abc"}, "有效天数：无效", "f-expires"),
    ({"expires_days": "0", "username": "nobody"}, "代表用户：不存在；有效天数：超出范围", "f-expires"),
])
def test_bad_input_is_named_and_nothing_is_stored(app: Flask, db: Database, change: dict[str, Any], message: str,
                                                   field: str):
    add_client(db, "existing")
    before = [(c.name, c.token_hash) for c in rows(db)]
    client = admin(app)
    form = text(client.get(f"{BASE}/new"))
    page = client.post(f"{BASE}/new", data={"csrf_token": csrf_token(form), **FORM, **change})
    html = text(page)
    assert page.status_code == 422, html
    assert "输入有误，请检查后重试。" in html and message in html
    assert re.search(rf'class="field field-error"( id="{field}"|>\s*<label[^>]*for="{field}")', html), html
    assert 'value="广州 CRM"' in html  # what was typed is kept
    assert not TOKEN.search(html) and "令牌只显示这一次" not in html
    assert [(c.name, c.token_hash) for c in rows(db)] == before


def add_calls(db: Database) -> None:
    """55 calls of crm (every fifth a 404 on troubleTicket), 3 of noc (a 500), 1 without a client."""
    add_client(db, "crm")
    add_client(db, "noc", "bob", scopes=["tmf642"])
    with db.sessions.begin() as s:
        crm, noc = clients.by_name(s, "crm").id, clients.by_name(s, "noc").id
        for i in range(55):
            bad = i % 5 == 0
            s.add(ApiCall(client_id=crm, at=CREATED + timedelta(minutes=i), method="POST" if bad else "GET",
                          path=f"/tmf-api/troubleTicket/v5/troubleTicket/{i}" if bad else f"/api/v1/tasks?n={i}",
                          status=404 if bad else 200, duration_ms=i, remote_addr="10.0.0.7"))
        for i in range(3):
            s.add(ApiCall(client_id=noc, at=CREATED + timedelta(hours=2, minutes=i), method="POST",
                          path="/tmf-api/alarmManagement/v5/alarm", status=500 if i == 2 else 201, duration_ms=9))
        s.add(ApiCall(client_id=None, at=CREATED + timedelta(hours=3), method="GET", path="/tmf-api/x", status=401,
                      duration_ms=1))


def shown(browser: FlaskClient, **params: Any) -> tuple[int, list[list[str]], str]:
    """(total, the table's rows as cell texts, the page) of the call log."""
    html = text(browser.get(f"{BASE}/calls", query_string=params))
    total = int(re.search(r'<span class="count">(\d+)</span>', html).group(1))  # type: ignore[union-attr]
    body = re.search(r'<table id="call-table">.*?<tbody>(.*?)</tbody>', html, re.S)
    cells = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
             for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)] if body else []
    return total, cells, html


def test_the_call_log_filters_and_pages_newest_first(app: Flask, db: Database):
    add_calls(db)
    client = admin(app)
    total, first, html = shown(client)
    assert total == 59 and len(first) == PAGE_SIZE == 50
    assert first[0][:5] == ["2026-03-02 12:00:00", "未认证", "GET", "/tmf-api/x", "401"]
    assert first[1][:2] == ["2026-03-02 11:02:00", "noc"] and (first[3][1], first[4][1]) == ("noc", "crm")
    assert [r[0] for r in first] == sorted((r[0] for r in first), reverse=True)
    assert "第 1 / 2 页，共 59 条" in html
    total, second, _ = shown(client, page=2)
    assert (total, len(second)) == (59, 9) and second[-1][0] == "2026-03-02 09:00:00"

    total, crm, html = shown(client, client="crm")
    assert total == 55 and {r[1] for r in crm} == {"crm"}
    assert f'href="{BASE}/calls?client=crm&page=2"' in html  # the pager keeps the filters
    assert len(shown(client, client="crm", page=2)[1]) == 5
    total, missing, _ = shown(client, status=404)
    assert total == 11 and {r[4] for r in missing} == {"404"}
    total, tickets, _ = shown(client, path="troubleTicket", status=404, client="crm")
    assert total == 11 and all("troubleTicket" in r[3] for r in tickets)
    assert shown(client, path="alarm")[0] == 3 and shown(client, client="noc", status=500)[0] == 1
    total, none, html = shown(client, client="nobody")
    assert (total, none) == (0, []) and "没有符合条件的调用。" in html
    assert shown(client, status="abc")[0] == 59  # a status that is not one is no filter
