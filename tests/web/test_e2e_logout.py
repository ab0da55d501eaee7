"""Logging out takes the top bar's button (a POST with the CSRF token): following a link to /auth/logout, as
another site can make a browser do, leaves the user logged in and offers the button (issue 12, bug 7)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import login


def test_a_link_to_the_logout_url_does_not_log_out_the_button_does(live_server: str, page: Page):
    login(page, live_server, "gz_dispatcher")
    page.set_content(f'<a id="evil" href="{live_server}/auth/logout">中奖了，点这里</a>'
                     f'<img src="{live_server}/auth/logout" alt="">')  # what another site could show
    page.click("#evil")
    expect(page.locator("#logout-confirm")).to_contain_text("确定要退出 EOMS 吗？")
    screenshot(page, "logout-confirm")
    page.goto(f"{live_server}/portal/")
    expect(page).to_have_url(re.compile(r"/portal/$"))  # still logged in
    page.goto(f"{live_server}/auth/logout")
    page.locator("#logout-confirm button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/auth/login$"))
    page.goto(f"{live_server}/portal/")
    expect(page).to_have_url(re.compile(r"/auth/login"))
