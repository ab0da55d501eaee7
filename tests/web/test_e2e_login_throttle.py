"""The login throttle as a person meets it (issue 12, bug 8): wrong passwords make this browser wait, with the
time in the message; someone guessing elsewhere does not keep the user out of her own browser."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from engine.db import utcnow
from tests.conftest import PASSWORD, Database
from tests.web.conftest import screenshot
from webapp.auth.models import LoginAttempt


def try_login(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#username", "gz_dispatcher")
    page.fill("#password", password)
    page.locator("form.login-card button[type=submit]").click()


def test_wrong_passwords_make_this_browser_wait_and_say_how_long(live_server: str, page: Page):
    for _ in range(5):
        try_login(page, live_server, "wrong-password")
        expect(page.locator(".alert-error")).to_have_text("用户名或密码错误。")
    try_login(page, live_server, PASSWORD)
    expect(page.locator(".alert-error")).to_have_text(re.compile(r"^登录失败次数过多，请 \d+ 秒后再试。$"))
    screenshot(page, "login-throttle")


def test_a_guesser_elsewhere_does_not_lock_her_out_of_her_own_browser(live_server: str, page: Page,
                                                                    chromium: Browser, db: Database):
    try_login(page, live_server, PASSWORD)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    page.locator(".topbar form button.link").click()
    with db.sessions.begin() as s:  # someone tries her name 20 times from 20 other machines
        now = utcnow()
        for n in range(20):
            s.add(LoginAttempt(username="gz_dispatcher", remote_addr=f"10.1.0.{n}", success=False, at=now))
    other = chromium.new_context(locale="zh-CN").new_page()
    try_login(other, live_server, PASSWORD)
    expect(other.locator(".alert-error")).to_contain_text("登录失败次数过多")
    try_login(page, live_server, PASSWORD)  # her own browser gets in
    expect(page).to_have_url(re.compile(r"/portal/$"))
    other.context.close()
