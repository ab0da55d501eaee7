"""End to end in a real browser: an administrator opens 接口客户端 from the top bar, creates a client for the
CRM, sees its token once, and revokes it after confirming the dialog. Screenshots of the token page and the list
are kept under artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import PASSWORD, Database
from tests.web.conftest import screenshot
from webapp.api.models import ApiClient


def login(page: Page, base: str, username: str) -> None:
    """Log in through the login page (as tests/web/test_e2e_queue.py does); an administrator lands on the
    supervisor console."""
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/(portal|supervisor)/$"))
    page.wait_for_load_state()


def test_an_admin_creates_a_client_sees_the_token_once_and_revokes_it(page: Page, live_server: str, db: Database):
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    login(page, live_server, "admin")
    page.locator(".topbar nav a", has_text="系统管理").click()
    page.locator(".subnav a", has_text="接口客户端").click()
    expect(page.locator("h1")).to_have_text("接口客户端")
    expect(page.locator("main .empty")).to_have_text("还没有接口客户端。")
    page.locator("main a.btn-primary", has_text="新建接口客户端").click()

    page.fill("#f-name", "crm-gz")
    page.fill("#f-username", "nobody")
    page.locator("#f-scopes input[value=tmf641]").check()
    page.locator("#client-form button[type=submit]").click()
    expect(page.locator("main .alert-error")).to_contain_text("代表用户：不存在")
    expect(page.locator("#f-name")).to_have_value("crm-gz")
    expect(page.locator("#f-scopes input[value=tmf641]")).to_be_checked()
    page.fill("#f-username", "alice")
    page.locator("#f-scopes input[value=tmf621]").check()
    page.fill("#f-expires", "90")
    page.fill("#f-description", "广州 CRM 系统")
    page.locator("#client-form button[type=submit]").click()

    expect(page.locator("#token-card .alert-warning")).to_contain_text("令牌只显示这一次")
    token = page.locator("#token").input_value()
    assert re.fullmatch(r"eoms_[A-Za-z0-9_-]{20,}", token)
    screenshot(page, "api_admin_token")
    with db.sessions() as s:
        (row,) = s.scalars(select(ApiClient))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.scopes == ["tmf621", "tmf641"]

    page.locator("#token-card a.btn-primary").click()
    row_locator = page.locator('#client-table tr[data-client="crm-gz"]')
    expect(row_locator).to_contain_text("艾丽")
    expect(row_locator).to_contain_text("TMF641 服务订单（服务开通）")
    expect(row_locator).to_contain_text("有效")
    assert token not in page.content()
    screenshot(page, "api_admin_list")
    page.once("dialog", lambda dialog: dialog.accept())
    row_locator.locator("button", has_text="吊销").click()
    expect(page.locator("main .alert[role=status]")).to_contain_text("接口客户端 crm-gz 已吊销")
    expect(row_locator).to_contain_text("已吊销")
    expect(row_locator.locator("button")).to_have_count(0)
    assert [p for p in problems if "status of 422" not in p] == []  # no CSP refusal, no script error
