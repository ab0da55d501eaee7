"""End to end in a real browser (issue 12, gap 13): new work no longer arrives silently. A maintainer sits on the
portal; the test thread reports a fault (it goes to the dispatchers: nothing for him) and then accepts it, so
故障处理 reaches his post: within a few poll intervals the badge beside 个人门户 counts it, a toast names the step,
the work order and the customer, and the tab title carries the count. The 提醒 switches beep (Web Audio) and ask
for desktop notifications only when turned on, and are remembered; a hidden tab stops asking and asks once when
shown again."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from handlers.dispatch import add_rule
from tests.conftest import Database
from tests.web.conftest import make_web_app, screenshot
from tests.web.test_e2e_queue import ACCEPT, FAULT, complete, login, start_fault

POLL = 1
TITLE = "个人运维门户 · 电子运维系统"
# Records what the page does with sound and desktop notifications (headless chromium has neither a speaker nor
# a notification centre): oscillators started, permission asked, notifications shown. The fake permission
# survives a reload, as the browser's would.
RECORDER = """(() => {
window.__beeps = 0; window.__asked = 0; window.__notices = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function () { window.__beeps += 1; return start.apply(this, arguments); };
class FakeNotification {
  constructor(title, options) { window.__notices.push({ title: title, body: options.body, tag: options.tag }); }
  static get permission() { return localStorage.getItem("test.permission") || "default"; }
  static requestPermission() {
    window.__asked += 1; localStorage.setItem("test.permission", "granted"); return Promise.resolve("granted");
  }
  close() {}
}
window.Notification = FakeNotification;
})();
"""


@pytest.fixture
def notify_server(db: Database, tmp_path: Path, deploy_flows) -> Iterator[tuple[str, Flask]]:  # type: ignore[no-untyped-def]
    """The app polling every second, GZ faults routed to GZ maintainers, served on a free port."""
    app = make_web_app(db, tmp_path, EOMS_NOTIFY_POLL_SECONDS=str(POLL))
    deploy_flows(app.extensions["eoms"]["engine"])
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=5)


def set_visibility(page: Page, state: str) -> None:
    """Tell the page its tab was hidden or shown again (headless chromium keeps every tab visible)."""
    page.evaluate("""state => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
        Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
        document.dispatchEvent(new Event("visibilitychange"));
    }""", state)


def to_handling(app: Flask, db: Database, key: str) -> int:
    """A fault reported and accepted: 故障处理 waits for the GZ maintainers; its task id."""
    return complete(app, db, start_fault(app, db, key), "gz_dispatcher", ACCEPT)


def test_new_work_shows_in_the_badge_a_toast_and_the_tab_title(notify_server: tuple[str, Flask], db: Database,
                                                               page: Page) -> None:
    base, app = notify_server
    page.context.add_init_script(RECORDER)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/notify/inbox" in r.url else None)
    login(page, base, "gz_maintainer")
    badge = page.locator(".topbar nav #notify-badge")
    toasts = page.locator("#notify-toasts .notify-toast")
    expect(badge).to_be_hidden()
    expect(page).to_have_title(TITLE)

    # 提醒: sound beeps once to show what it sounds like; the desktop permission is asked only now, once
    assert page.evaluate("window.__asked") == 0
    page.locator("#notify-menu summary").click()
    page.locator("#notify-sound").check()
    assert page.evaluate("window.__beeps") == 1
    page.locator("#notify-desktop").check()
    expect(page.locator("#notify-desktop")).to_be_checked()
    assert page.evaluate("window.__asked") == 1
    screenshot(page, "notify-menu")
    page.keyboard.press("Escape")
    expect(page.locator("#notify-menu")).not_to_have_attribute("open", "")
    # remembered in this browser: after a reload both are still on, and nobody is asked again
    page.reload()
    expect(page.locator("#notify-sound")).to_be_checked()
    expect(page.locator("#notify-desktop")).to_be_checked()
    assert page.evaluate("window.__asked") == 0

    # a fault for the dispatchers is not his work: the page keeps asking, the badge stays away
    start_fault(app, db, "NOTIFY-0")
    asked = len(polls)
    page.wait_for_timeout((3 * POLL + 0.5) * 1000)
    assert len(polls) >= asked + 2, polls
    expect(badge).to_be_hidden()
    expect(toasts).to_have_count(0)

    # accepted: 故障处理 reaches the maintainers' post
    handling = to_handling(app, db, "NOTIFY-1")
    expect(badge).to_have_text("1", timeout=5 * POLL * 1000)
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_have_text(re.compile(r"新任务：故障处理 · NOTIFY-1 · " + FAULT["customer"]))
    expect(toasts.first.locator("a")).to_have_attribute("href", f"/tasks/{handling}")
    expect(page).to_have_title(f"(1) {TITLE}")
    expect(badge).to_have_attribute("title", "待办 1 项")
    assert page.evaluate("window.__beeps") == 1  # the page was reloaded since the preview beep: this one is new
    assert page.evaluate("window.__notices") == [
        {"title": "新任务", "body": f"故障处理 · NOTIFY-1 · {FAULT['customer']}", "tag": f"eoms-task-{handling}"}]
    stale = page.locator("#queue-stale")  # the portal's 待办, drawn before it came, offers to refresh
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("待办有变化，现共 1 项。")
    page.wait_for_timeout(500)  # the toast has slid in
    shot = screenshot(page, "notify-toast")
    page.locator(".topbar").screenshot(path=str(shot.with_name("notify-topbar.png")))

    # the toast closes with ×; with desktop notifications off, a hidden tab stops asking …
    toasts.first.locator("button.notify-close").click()
    expect(toasts).to_have_count(0)
    stale.get_by_role("link", name="刷新列表").click()
    expect(page.locator("#panel-todo tbody tr").filter(has_text="NOTIFY-1")).to_have_count(1)
    expect(page.locator("#queue-stale")).to_be_hidden()
    expect(toasts).to_have_count(0)  # announced once, not again on the new page
    page.locator("#notify-menu summary").click()
    page.locator("#notify-desktop").uncheck()
    page.locator("#notify-menu summary").click()
    set_visibility(page, "hidden")
    page.wait_for_timeout((POLL + 0.5) * 1000)  # a poll under way may still end
    asked = len(polls)
    second = to_handling(app, db, "NOTIFY-2")
    page.wait_for_timeout((3 * POLL + 0.5) * 1000)
    assert len(polls) == asked, "a hidden tab kept asking"
    expect(badge).to_have_text("1")
    # … and asks at once when it is shown again
    set_visibility(page, "visible")
    expect(badge).to_have_text("2", timeout=POLL * 1000)
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("新任务：故障处理 · NOTIFY-2")
    expect(page).to_have_title(f"(2) {TITLE}")
    assert page.evaluate("window.__notices") == []  # desktop notifications are off now (the page was reloaded)

    # the toast leads to the task; the next page draws the count itself and announces nothing twice
    toasts.first.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{second}$"))
    expect(page.locator("h1")).to_contain_text("故障处理")
    expect(badge).to_have_text("2")
    expect(page).to_have_title(re.compile(r"^\(2\) "))
    page.wait_for_timeout((2 * POLL + 0.5) * 1000)
    expect(toasts).to_have_count(0)


def test_work_that_arrives_while_moving_between_pages_is_still_announced(notify_server: tuple[str, Flask],
                                                                         db: Database, page: Page) -> None:
    """A page loaded between two polls already counts the new task; it starts from what the tab last saw, so
    the toast still comes — once."""
    if db.kind != "sqlite":
        pytest.skip("browser behaviour: the database makes no difference, once is enough")
    base, app = notify_server
    login(page, base, "gz_maintainer")
    page.wait_for_timeout(2 * POLL * 1000)  # the tab has asked and remembered its marker
    page.route("**/notify/inbox*", lambda route: route.abort())  # the next polls fail (the page survives)
    to_handling(app, db, "NOTIFY-3")
    page.wait_for_timeout(2 * POLL * 1000)
    expect(page.locator("#notify-toasts .notify-toast")).to_have_count(0)
    page.unroute("**/notify/inbox*")
    page.goto(f"{base}/orders/")
    badge = page.locator("#notify-badge")
    expect(badge).to_have_text("1")  # drawn by the server
    toast = page.locator("#notify-toasts .notify-toast")
    expect(toast).to_have_count(1, timeout=3 * POLL * 1000)
    expect(toast.first).to_contain_text("故障处理 · NOTIFY-3")
    page.goto(f"{base}/portal/")
    page.wait_for_timeout(2 * POLL * 1000)
    expect(page.locator("#notify-toasts .notify-toast")).to_have_count(0)
