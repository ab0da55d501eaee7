"""Logging in and out through the real forms: wrong passwords, the login rate limit, CSRF on every POST, the
idle logout enforced on the server, the language switch, password hashes, security headers and cookies."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from engine.db import utcnow
from engine.history.models import HistoryEvent
from engine.identity.models import User
from engine.tasks.models import HumanTask
from eoms.cli import main
from tests.conftest import PASSWORD, Database
from tests.web.conftest import csrf_token, login, make_web_app, post
from webapp.auth.attempts import unlock
from webapp.auth.models import LoginAttempt
from webapp.portal.models import Note

WRONG = "用户名或密码错误。"
IDLE = "由于长时间未操作，您已自动退出，请重新登录。"
TOO_MANY = "登录失败次数过多"
CSRF_REFUSED = "表单已过期或来源无效，请刷新页面后重试。"


# -- helpers -----------------------------------------------------------------------------------------------
def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def goes_to_login(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and urlparse(response.headers["Location"]).path == "/auth/login"


def logged_in(client: FlaskClient) -> bool:
    return client.get("/portal/").status_code == 200


def attempts(db: Database, username: str) -> list[bool]:
    with db.sessions() as s:
        return list(s.scalars(select(LoginAttempt.success).where(LoginAttempt.username == username)
                              .order_by(LoginAttempt.id)))


def count(db: Database, model: type) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def start_fault(app: Flask, db: Database, key: str = "AUTH-0001") -> int:
    """A 售后故障 reported by the Guangzhou dispatcher; the id of its 故障受理 task."""
    pe = app.extensions["eoms"]["engine"]
    data = {"customer": "广州塔", "customer_phone": "13912345678", "vip": False, "circuit": "GZ-1",
            "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "中断"}
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "aftersales_fault", business_key=key, data=data,
                                  actor=pe.identity.get_user(s, "gz_dispatcher"))
        return result.tasks[0].id


@pytest.fixture
def plain_app(db: Database, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    """The app without the flows (faster) — enough for logging in and the portal."""
    return app_with(db, tmp_path)


def app_with(db: Database, tmp_path, **overrides: str) -> Flask:  # type: ignore[no-untyped-def]
    return make_web_app(db, tmp_path, **overrides)


# -- logging in ---------------------------------------------------------------------------------------------
def test_login_page_and_successful_login(plain_app: Flask):
    client = plain_app.test_client()
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert "登录" in text(page) and 'name="csrf_token"' in text(page)
    response = login(client, "alice")
    assert response.status_code == 302
    landing = client.get(response.headers["Location"])  # "/" sends each user to his start page
    assert urlparse(landing.headers["Location"]).path == "/portal/"
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "艾丽" in text(home) and "广州市" in text(home)  # the user's name and unit in the top bar


def test_wrong_password_and_unknown_user_get_the_same_answer(plain_app: Flask, db: Database):
    client = plain_app.test_client()
    pages = []
    for username in ("alice", "nobody"):
        response = login(client, username, "wrong-password")
        assert response.status_code == 401
        assert WRONG in text(response)
        pages.append(re.findall(r'<p class="alert[^>]*>[^<]*</p>', text(response)))
        assert not logged_in(client)
        assert attempts(db, username) == [False]
    assert pages[0] == pages[1] == [f'<p class="alert alert-error" role="alert">{WRONG}</p>']


def test_login_follows_a_local_next_only(plain_app: Flask):
    client = plain_app.test_client()
    token = csrf_token(text(client.get("/auth/login")))
    form = {"csrf_token": token, "username": "alice", "password": PASSWORD}
    response = client.post("/auth/login?next=/orders/", data=form)
    assert urlparse(response.headers["Location"]).path == "/orders/"
    logout_post(client)
    for evil in ("//evil.example/", "https://evil.example/"):
        token = csrf_token(text(client.get("/auth/login")))
        response = client.post(f"/auth/login?next={evil}", data={**form, "csrf_token": token})
        assert response.status_code == 302
        assert urlparse(response.headers["Location"]).netloc in ("", "localhost"), response.headers["Location"]
        logout_post(client)


OPEN = {"static", "vendor.asset", "set_language", "auth.login", "auth.logout", "auth.logout_page", "index"}


def test_every_page_and_action_requires_login(plain_app: Flask, db: Database):
    """Every route of the app but the login page, the language switch and static files (found in the URL map,
    so a page added later is covered too) sends an anonymous visitor to the login page and does nothing."""
    client = plain_app.test_client()
    token = csrf_token(text(client.get("/auth/login")))  # a valid token of an anonymous session
    checked = 0
    for rule in plain_app.url_map.iter_rules():
        if rule.endpoint in OPEN or rule.rule.startswith(API_PREFIXES):
            continue  # the API answers with its own refusal (test_every_api_call_needs_a_token)
        url = rule.build({name: 1 if name.endswith("_id") else "csv" if name == "fmt" else "x"
                          for name in rule.arguments})[1]
        if "GET" in rule.methods:
            response = client.get(url)
            assert goes_to_login(response), (url, response.status_code)
            assert "next" in parse_qs(urlparse(response.headers["Location"]).query), url
        if "POST" in rule.methods:
            response = client.post(url, data={"csrf_token": token, "body": "匿名", "title": "匿名"})
            assert goes_to_login(response), (url, response.status_code)
        checked += 1
    assert checked >= 25
    assert count(db, Note) == 0
    assert "请先登录。" in text(client.get("/auth/login"))
    assert urlparse(client.get("/").headers["Location"]).path == "/portal/"  # and from there to the login page


API_PREFIXES = ("/api/", "/tmf-api/")
API_OPEN = {"api_docs.document", "api_docs.page"}  # the OpenAPI document and its page describe, they hold no data


def test_every_api_call_needs_a_token(plain_app: Flask, db: Database):
    """Every API route (from the URL map) without a bearer token, or with a session cookie instead, is refused
    with 401 and a JSON error, and changes nothing."""
    client = plain_app.test_client()
    login(client, "admin")  # a logged-in browser session is no API credential
    checked = 0
    for rule in plain_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIXES) or rule.endpoint in API_OPEN:
            continue
        url = rule.build({name: "1" for name in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json={"externalId": "X"})
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.get_json()["code"] == "api.unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 8
    with plain_app.test_request_context():
        open_urls = [url_for(endpoint) for endpoint in API_OPEN]
    for url in open_urls:
        assert client.get(url).status_code == 200, url


def logout_post(client: FlaskClient) -> None:
    """Log out as the top bar's button does (a POST with the page's CSRF token)."""
    client.post("/auth/logout", data={"csrf_token": csrf_token(text(client.get("/portal/")))})


def test_logout(plain_app: Flask):
    client = plain_app.test_client()
    login(client, "alice")
    assert logged_in(client)
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(text(client.get("/portal/")))})
    assert goes_to_login(response)
    assert goes_to_login(client.get("/portal/"))
    # a GET (a link, a bookmark, another site's <img>) does not log anyone out: it offers the button
    login(client, "alice")
    page = client.get("/auth/logout")
    assert page.status_code == 200 and 'action="/auth/logout"' in text(page) and logged_in(client)
    assert client.get("/auth/logout?reason=idle").status_code == 200 and logged_in(client)  # not idle yet
    assert client.post("/auth/logout").status_code == 400 and logged_in(client)  # no CSRF token, no logout
    logout_post(client)
    assert goes_to_login(client.get("/auth/logout")) and not logged_in(client)  # twice is harmless
    # the countdown's own visit once the idle time has run out ends the session and says why
    login(client, "alice")
    with client.session_transaction() as session:
        session["last_active"] = time.time() - 10_000
    assert goes_to_login(client.get("/auth/logout?reason=idle"))
    assert IDLE in text(client.get("/auth/login"))
    assert not logged_in(client)


def test_an_account_deactivated_meanwhile_is_logged_out(plain_app: Flask, db: Database):
    client = plain_app.test_client()
    login(client, "alice")
    with db.sessions.begin() as s:
        s.execute(update(User).where(User.username == "alice").values(is_active=False))
    assert goes_to_login(client.get("/portal/"))
    assert login(client, "alice").status_code == 401


# -- the rate limit ---------------------------------------------------------------------------------------
def test_login_rate_limit(plain_app: Flask, db: Database):
    """Five failures of a name from one client: that client waits 30 s, then doubling delays; the message says
    how long. Another user from the same client is not affected."""
    client = plain_app.test_client()
    for _ in range(5):
        assert login(client, "alice", "wrong").status_code == 401
    blocked = login(client, "alice")  # the right password, too soon
    assert blocked.status_code == 429
    assert TOO_MANY in text(blocked) and "30 秒后再试" in text(blocked)
    assert not logged_in(client)
    assert attempts(db, "alice") == [False] * 5  # refused attempts are not even checked nor recorded
    # after the wait the right password gets in; another wrong one waits twice as long
    age_failures(db, seconds=31)
    assert login(client, "alice", "wrong").status_code == 401
    assert "1 分钟后再试" in text(login(client, "alice"))
    age_failures(db, seconds=61)
    assert login(client, "alice").status_code == 302
    # another user (from the same address) is not affected
    other = plain_app.test_client()
    assert login(other, "anna").status_code == 302
    assert logged_in(other)
    assert attempts(db, "anna") == [True]


def age_failures(db: Database, seconds: int) -> None:
    """Move every recorded attempt ``seconds`` into the past (the time the throttle counts from)."""
    with db.sessions.begin() as s:
        for row in s.scalars(select(LoginAttempt)):
            row.at = row.at - timedelta(seconds=seconds)


def test_someone_guessing_elsewhere_cannot_keep_the_user_out_of_a_known_machine(plain_app: Flask, db: Database):
    """20 failures of alice's name from other clients slow her account down everywhere — but not on the
    browser she logged in from before; an administrator's unlock clears it for every client."""
    mine = plain_app.test_client()
    assert login(mine, "alice").status_code == 302  # her own machine, remembered by a signed cookie
    logout_post(mine)
    with db.sessions.begin() as s:
        now = utcnow()
        for n in range(20):
            s.add(LoginAttempt(username="alice", remote_addr=f"10.0.0.{n}", success=False, at=now))
    stranger = plain_app.test_client()
    assert login(stranger, "alice").status_code == 429  # a new browser, even with the right password
    assert login(mine, "alice").status_code == 302  # the known machine gets in
    logout_post(mine)
    forged = plain_app.test_client()
    forged.set_cookie("eoms_machine", "not-signed")
    assert login(forged, "alice").status_code == 429
    with db.sessions.begin() as s:
        assert unlock(s, "alice") == 20
    assert login(stranger, "alice").status_code == 302


def test_the_limit_is_a_setting_and_old_failures_do_not_count(db: Database, tmp_path):  # type: ignore[no-untyped-def]
    app = app_with(db, tmp_path, EOMS_LOGIN_MAX_FAILURES="2")
    client = app.test_client()
    assert [login(client, "bob", "wrong").status_code for _ in range(2)] == [401, 401]
    assert login(client, "bob").status_code == 429
    # failures older than the 15-minute window are forgotten
    with db.sessions.begin() as s:
        s.execute(update(LoginAttempt).values(at=utcnow() - timedelta(minutes=16)))
    assert login(client, "bob").status_code == 302


# -- CSRF ---------------------------------------------------------------------------------------------------
def test_login_without_csrf_token_is_refused(plain_app: Flask, db: Database):
    client = plain_app.test_client()
    client.get("/auth/login")
    for data in ({"username": "alice", "password": PASSWORD},
                 {"username": "alice", "password": PASSWORD, "csrf_token": "forged"}):
        response = client.post("/auth/login", data=data)
        assert response.status_code == 400
        assert CSRF_REFUSED in text(response)
    assert not logged_in(client)
    assert attempts(db, "alice") == []


def test_posts_without_csrf_token_are_refused(web_app: Flask, db: Database):
    task_id = start_fault(web_app, db)
    client = web_app.test_client()
    login(client, "gz_dispatcher")
    with db.sessions() as s:
        events = s.scalar(select(func.count()).select_from(HistoryEvent)) or 0
    past = time.time() - 50
    with client.session_transaction() as sess:
        sess["last_active"] = past
    complete = {"fault_type": "中断", "priority": "高", "accept_note": "无令牌"}
    for url, data in [(f"/tasks/{task_id}/complete", complete), (f"/tasks/{task_id}/claim", {}),
                      ("/portal/notes", {"body": "无令牌便签"}), ("/auth/keepalive", {})]:
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert CSRF_REFUSED in text(response)
        response = client.post(url, data={**data, "csrf_token": "forged"})
        assert response.status_code == 400, url
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        assert (row.status, row.assignee_id, row.data) == ("ready", None, None)
        assert (s.scalar(select(func.count()).select_from(HistoryEvent)) or 0) == events
    assert count(db, Note) == 0
    with client.session_transaction() as sess:
        assert sess["last_active"] == past  # a refused keepalive did not keep the session alive either
    # with the token the same requests go through
    assert post(client, "/portal/notes", {"body": "有令牌便签"}).status_code == 302
    assert count(db, Note) == 1


# -- idle logout --------------------------------------------------------------------------------------------
def test_idle_logout_on_the_server(db: Database, tmp_path):  # type: ignore[no-untyped-def]
    app = app_with(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS="1")
    client = app.test_client()
    login(client, "alice")
    assert 'data-idle-seconds="1"' in text(client.get("/portal/"))  # the page's countdown knows the limit
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 30
    response = client.get("/orders/")
    assert goes_to_login(response)
    assert parse_qs(urlparse(response.headers["Location"]).query)["next"] == ["/orders/"]
    assert IDLE in text(client.get(response.headers["Location"]))
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and "last_active" not in sess
    assert goes_to_login(client.get("/portal/"))
    # an htmx request is told where to go
    login(client, "alice")
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 30
    response = client.get("/portal/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert urlparse(response.headers["HX-Redirect"]).path == "/auth/login"
    assert not logged_in(client)
    # a form posted after the limit is not carried out
    login(client, "alice")
    token = csrf_token(text(client.get("/portal/")))
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 30
    response = client.post("/portal/notes", data={"csrf_token": token, "body": "太晚了"})
    assert goes_to_login(response)
    assert "next" not in parse_qs(urlparse(response.headers["Location"]).query)
    assert count(db, Note) == 0


def test_keepalive_resets_the_idle_clock_and_asking_does_not(db: Database, tmp_path):  # type: ignore[no-untyped-def]
    app = app_with(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS="60")
    client = app.test_client()
    login(client, "alice")
    token = csrf_token(text(client.get("/portal/")))
    # asking how long is left does not count as activity
    past = time.time() - 50
    with client.session_transaction() as sess:
        sess["last_active"] = past
    answer = client.get("/auth/idle")
    assert answer.status_code == 200
    assert 8 <= answer.get_json()["left"] <= 10
    with client.session_transaction() as sess:
        assert sess["last_active"] == past
    # "stay signed in" does
    response = client.post("/auth/keepalive", data={"csrf_token": token})
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    with client.session_transaction() as sess:
        assert sess["last_active"] > time.time() - 5
    assert client.get("/auth/idle").get_json()["left"] >= 55
    # asking after the limit logs out like any other request
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 70
    assert goes_to_login(client.get("/auth/idle"))
    assert not logged_in(client)


def test_the_idle_countdown_says_zero_only_when_the_server_would_log_out(db: Database, tmp_path):  # type: ignore[no-untyped-def]
    """The page leaves for ``/auth/logout?reason=idle`` when ``/auth/idle`` says 0: with 0.4 s still left the
    answer is 1 (not a rounded-down 0), and the logout link then still asks for confirmation; past the limit
    it is 0 and the same link ends the session."""
    app = app_with(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS="60")
    client = app.test_client()
    login(client, "alice")
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 59.6
    assert client.get("/auth/idle").get_json()["left"] == 1
    page = client.get("/auth/logout?reason=idle")
    assert page.status_code == 200 and logged_in(client)  # the confirmation page: the time is not up
    with client.session_transaction() as sess:
        sess["last_active"] = time.time() - 60.2
    assert client.get("/auth/logout?reason=idle").status_code == 302 and not logged_in(client)


# -- language -----------------------------------------------------------------------------------------------
def test_language_switch(plain_app: Flask):
    client = plain_app.test_client()
    assert '<html lang="zh-CN">' in text(client.get("/auth/login"))
    response = client.get("/lang/en", headers={"Referer": "http://localhost/auth/login"})
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost/auth/login"
    assert '<html lang="en">' in text(client.get("/auth/login"))
    assert login(client, "alice").status_code == 302
    assert '<html lang="en">' in text(client.get("/portal/"))  # the choice on the login page is kept
    client.get("/lang/zh_CN")
    assert '<html lang="zh-CN">' in text(client.get("/portal/"))
    client.get("/lang/en", headers={"Referer": "http://localhost/portal/"})
    assert '<html lang="en">' in text(client.get("/portal/"))
    assert '<html lang="en">' in text(client.get("/orders/"))  # for the whole session
    logout_post(client)
    assert '<html lang="en">' in text(client.get("/auth/login"))  # the logout keeps it too
    assert client.get("/lang/xx").status_code == 302  # an unknown language changes nothing
    assert '<html lang="en">' in text(client.get("/auth/login"))
    client.get("/lang/zh_CN")
    assert '<html lang="zh-CN">' in text(client.get("/auth/login"))
    # the switch goes back to the page it came from, never to another site
    response = client.get("/lang/en", headers={"Referer": "https://evil.example/phish"})
    assert response.status_code == 302
    assert urlparse(response.headers["Location"]).netloc in ("", "localhost")


# -- storage and transport ----------------------------------------------------------------------------------
def test_password_hashes_security_headers_and_session_cookie(plain_app: Flask, db: Database):
    with db.sessions() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert len(hashes) > 10
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == len(hashes)  # salted: the same password hashes differently
    client = plain_app.test_client()
    response = login(client, "alice")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    for url in ("/auth/login", "/portal/", "/tasks/999999", "/static/eoms.css"):
        response = client.get(url)
        assert response.status_code in (200, 404), url
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_administrator_unlocks_an_account_from_the_command_line(plain_app: Flask, db: Database, monkeypatch,
                                                                    capsys):
    client = plain_app.test_client()
    for _ in range(5):
        login(client, "alice", "wrong")
    assert login(client, "alice").status_code == 429
    monkeypatch.setenv("EOMS_DATABASE_URL", db.url)
    assert main(["user", "unlock", "alice"]) == 0
    assert "5 failed login(s) forgotten" in capsys.readouterr().out
    assert login(client, "alice").status_code == 302
    assert main(["user", "unlock", "nobody"]) == 1


def test_every_page_has_the_site_icon(plain_app: Flask):
    """A favicon (issue 12, gap 17): the tab shows EOMS's icon on the login page and every page after it."""
    client = plain_app.test_client()
    pages = [text(client.get("/auth/login"))]
    login(client, "alice")
    pages.append(text(client.get("/portal/")))
    for html in pages:
        match = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', html)
        assert match, html[:400]
        icon = client.get(match.group(1))
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        assert b"<svg" in icon.data and b"<script" not in icon.data
