"""Field engineers work on phones (issue 12, gap 16): the portal and its queue, the task page with its form,
and an upload from the camera work on a 390 × 844 viewport — nothing wider than the screen, every control
reachable, a task completed from the phone."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import ACCEPT, HANDLE, complete, flash, login, start_fault, todo_row, viewer_field

PHONE = {"width": 390, "height": 844}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 400


@pytest.fixture
def phone(chromium: Browser):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True,
                                   device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def overflow(page: Page) -> list[str]:
    """What sticks out past the right edge of the screen: elements (outside the few that scroll sideways on
    purpose, like the menu and wide tables) and the page's own width."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll("body *")) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
            if (el.closest(".topbar nav, .table-wrap, table, .diagram, #diagram")) continue;
            if (r.right > width + 1) out.push(`${el.tagName}#${el.id}.${el.className} ${Math.round(r.right)}`);
        }
        if (document.documentElement.scrollWidth > width) out.push(`page ${document.documentElement.scrollWidth}`);
        return out.slice(0, 10);
    }""")


def on_screen(locator) -> bool:  # type: ignore[no-untyped-def]
    """The control lies within the screen's width (reachable without sideways scrolling)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def test_a_maintainer_handles_a_fault_on_a_phone(live_server: str, phone: Page, web_app: Flask, db: Database):
    complete(web_app, db, start_fault(web_app, db, "PHONE-1"), "gz_dispatcher", ACCEPT)
    page = phone
    login(page, live_server, "gz_maintainer")
    assert overflow(page) == []
    row = todo_row(page, "PHONE-1", "故障处理")
    expect(row).to_be_visible()
    claim = row.get_by_role("button", name="签收")
    claim.scroll_into_view_if_needed()
    assert on_screen(claim) or page.locator("#panel-todo .table-wrap, #panel-todo table").count() > 0
    screenshot(page, "phone-portal")
    claim.click()
    expect(flash(page)).to_contain_text("已签收")

    todo_row(page, "PHONE-1", "故障处理").get_by_role("link", name="PHONE-1").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    progress = viewer_field(page, "处理进展").locator("textarea")
    expect(progress).to_be_visible()
    assert overflow(page) == []
    submit = page.locator("#complete-form button[type=submit]")
    for control in (progress, submit, page.locator("#attach-files")):
        control.scroll_into_view_if_needed()
        assert on_screen(control), control
    screenshot(page, "phone-task")

    # a photo from the site, straight from the camera
    camera = page.locator("#attach-camera")
    expect(camera).to_have_attribute("capture", "environment")
    assert "image/" in (camera.get_attribute("accept") or "")
    expect(page.locator("label[for=attach-camera]")).to_be_visible()
    assert on_screen(page.locator("label[for=attach-camera]"))
    camera.set_input_files(files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    page.locator("#attach-form button").click()
    expect(flash(page)).to_contain_text("已上传：现场.jpg")
    expect(page.locator("body")).to_contain_text("现场.jpg")

    # and the step completed from the phone
    viewer_field(page, "处理进展").locator("textarea").fill(HANDLE["progress"])
    viewer_field(page, "需要上门").locator("input").check()
    page.locator("#complete-form button[type=submit]").click()
    expect(flash(page)).to_contain_text("下一环节：恢复回单")
    assert overflow(page) == []
    screenshot(page, "phone-after-complete")


def test_the_menu_and_the_search_fit_a_phone(live_server: str, phone: Page, web_app: Flask, db: Database):
    start_fault(web_app, db, "PHONE-2")
    page = phone
    login(page, live_server, "gz_dispatcher")
    nav = page.locator(".topbar nav")
    last = nav.get_by_role("link", name="工单查询")
    last.scroll_into_view_if_needed()  # the menu scrolls sideways, every entry reachable
    assert on_screen(last)
    last.click()
    expect(page).to_have_url(re.compile(r"/orders/"))
    assert overflow(page) == []
    page.locator("#search-form input[name=number]").fill("PHONE-2")
    page.locator("#search-form button").click()
    expect(page.locator("table").get_by_role("link", name="PHONE-2")).to_be_visible()
    assert overflow(page) == []
    screenshot(page, "phone-search")
