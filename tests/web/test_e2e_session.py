"""End to end in a real browser: the idle logout (the page's countdown and the server's own check) and the
language switch in the top bar."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from tests.conftest import Database
from tests.web.conftest import make_web_app
from tests.web.test_e2e_queue import flash, login, logout
from webapp.i18n import TRANSLATIONS

IDLE_SECONDS = 6
IDLE_MESSAGE = "由于长时间未操作，您已自动退出"


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free local port in a thread, as the ``live_server`` fixture does; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_idle_logout_warns_keeps_on_request_and_ends_the_session(db: Database, tmp_path: Path, deploy_flows,  # type: ignore[no-untyped-def]
                                                                  chromium: Browser, page: Page) -> None:
    app = make_web_app(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS=str(IDLE_SECONDS))
    deploy_flows(app.extensions["eoms"]["engine"])
    with serve(app) as base:
        # a second person logs in and leaves his browser on another site: no page of ours counts down for him
        other = chromium.new_context(viewport={"width": 1000, "height": 700}, locale="zh-CN").new_page()
        try:
            login(other, base, "anna")
            other.goto("about:blank")
            left_alone = time.monotonic()

            login(page, base, "alice")
            logged_in = time.monotonic()
            body = page.locator("body")
            expect(body).to_have_attribute("data-idle-seconds", str(IDLE_SECONDS))

            # the warning comes with a countdown a few seconds before the end
            warning = page.locator("#idle-warning")
            expect(warning).to_be_hidden()
            expect(warning).to_be_visible(timeout=IDLE_SECONDS * 1000)
            seconds = int(page.locator("#idle-left").inner_text())
            assert 0 < seconds <= 5, seconds
            expect(warning).to_contain_text("秒后自动退出")

            # 继续使用 keeps the session: clicked a few times, then asked past the limit counted from the login
            while time.monotonic() - logged_in < IDLE_SECONDS / 2:
                expect(warning).to_be_visible(timeout=IDLE_SECONDS * 1000)
                with page.expect_response(re.compile(r"/auth/keepalive$")) as kept:
                    page.locator("#idle-stay").click()
                assert kept.value.ok
                expect(warning).to_be_hidden()
            time.sleep(max(0.0, logged_in + IDLE_SECONDS + 0.5 - time.monotonic()))
            status = page.request.get(f"{base}/auth/idle", max_redirects=0)  # asking is not activity
            assert status.status == 200, status.status
            assert 0 < status.json()["left"] <= IDLE_SECONDS
            assert re.search(r"/portal/$", page.url)

            # the server refuses the stale session of the person who went away: a page load lands on the login
            time.sleep(max(0.0, left_alone + IDLE_SECONDS + 0.5 - time.monotonic()))
            other.goto(f"{base}/portal/")
            expect(other).to_have_url(re.compile(r"/auth/login\?next=(%2F|/)portal(%2F|/)$"))
            expect(flash(other)).to_contain_text(IDLE_MESSAGE)
            expect(other.locator("#username")).to_be_visible()
            other.goto(f"{base}/orders/")  # and stays logged out
            expect(other).to_have_url(re.compile(r"/auth/login"))
        finally:
            other.context.close()

        # without activity the page itself goes to the login page, with the idle message
        expect(page).to_have_url(re.compile(r"/auth/login(\?next=[^&]*)?$"), timeout=(IDLE_SECONDS + 4) * 1000)
        page.wait_for_load_state()
        expect(page.locator("#username")).to_be_visible()
        shown = flash(page).all_inner_texts()
        page.goto(f"{base}/portal/")  # the session is gone
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))
        assert any(IDLE_MESSAGE in text for text in shown), f"no idle message on the login page: {shown}"


def test_work_in_another_tab_keeps_an_idle_tab_logged_in(db: Database, tmp_path: Path, deploy_flows,  # type: ignore[no-untyped-def]
                                                         page: Page) -> None:
    """The session is shared by the user's tabs: a tab left alone asks the server before it warns or leaves,
    so it does not log out someone who is working in another tab."""
    if db.kind != "sqlite":
        pytest.skip("browser behaviour: the database makes no difference, once is enough")
    limit = 12  # the warning shows in the last 5 s; the other tab's work keeps the server's count above that
    app = make_web_app(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS=str(limit))
    deploy_flows(app.extensions["eoms"]["engine"])
    with serve(app) as base:
        login(page, base, "alice")
        idle_tab, busy_tab = page, page.context.new_page()
        started = time.monotonic()
        while time.monotonic() - started < limit + 4:  # past the limit counted from the idle tab's last load
            busy_tab.goto(f"{base}/orders/")
            expect(idle_tab.locator("#idle-warning")).to_be_hidden()
            time.sleep(1)
        assert re.search(r"/portal/$", idle_tab.url), idle_tab.url
        busy_tab.close()
        # once nobody works any more, the idle tab warns, then leaves
        expect(idle_tab.locator("#idle-warning")).to_be_visible(timeout=limit * 1000)
        expect(idle_tab).to_have_url(re.compile(r"/auth/login"), timeout=(limit + 6) * 1000)


def english(msgid: str) -> str:
    """The English catalog's text for ``msgid``, or "" when it has none (yet)."""
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as src:
        message = read_po(src).get(msgid)
    return str(message.string) if message is not None and message.string and not message.fuzzy else ""


def test_language_switch_in_the_top_bar(live_server: str, page: Page) -> None:
    base = live_server
    login(page, base, "alice")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "zh-CN")
    nav = page.locator(".topbar nav")
    expect(nav).to_contain_text("个人门户")

    page.locator(".topbar a.lang", has_text="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/portal/$"))  # back where the switch was clicked
    expect(page.locator(".topbar a.lang.active")).to_have_text("English")
    for msgid in ("个人门户", "发起工单", "工单查询"):
        if english(msgid):
            expect(nav).to_contain_text(english(msgid))
    if english("待办事宜"):
        expect(page.locator("#panel-todo h2")).to_contain_text(english("待办事宜"))

    # the choice holds on the next page, and after logging out on the login page
    nav.locator("a").nth(2).click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(html).to_have_attribute("lang", "en")
    logout(page)
    expect(html).to_have_attribute("lang", "en")

    # back to Chinese from the login page's switch, and so it stays after logging in again
    page.locator(".lang-switch a", has_text="中文").click()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.locator("form.login-card button[type=submit]")).to_have_text("登录")
    login(page, base, "alice")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(nav).to_contain_text("个人门户")
    expect(page.locator(".topbar a.lang.active")).to_have_text("中文")


def test_language_chosen_on_the_login_page_holds_after_login(live_server: str, page: Page) -> None:
    base = live_server
    page.goto(f"{base}/auth/login")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "zh-CN")
    page.locator(".lang-switch a", has_text="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator(".lang-switch a.active")).to_have_text("English")
    login(page, base, "alice")
    assert html.get_attribute("lang") == "en", "the language chosen on the login page was lost on logging in"
    expect(page.locator(".topbar a.lang.active")).to_have_text("English")
    page.locator(".topbar a.lang", has_text="中文").click()
    expect(html).to_have_attribute("lang", "zh-CN")
