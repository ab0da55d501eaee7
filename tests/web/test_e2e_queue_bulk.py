"""End to end in a real browser: a dispatcher works her 待办 as a list — ticks two rows and 签收所选, picks the
columns she wants, saves a filter, and drives the queue from the keyboard (j to move, c to claim, o to open,
/ to search, ? for the keys). Screenshots under artifacts/screenshots/."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import Database, user
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import FAULT, engine_of, flash, login, task_status, user_id

CUSTOMERS = {"BULK-E2E-1": "中山大学附属医院", "BULK-E2E-2": "广州塔", "BULK-E2E-3": "白云机场",
             "BULK-E2E-4": "琶洲会展"}


def start_faults(app: Flask, db: Database) -> dict[str, int]:
    """Four faults reported by the Guangzhou dispatcher through the engine (so none is claimed yet); the
    ids of their 故障受理 by work-order number."""
    pe, ids = engine_of(app), {}
    for key, customer in CUSTOMERS.items():
        with db.sessions.begin() as s:
            result = pe.runtime.start(s, "aftersales_fault", business_key=key, data={**FAULT, "customer": customer},
                                      actor=user(s, pe, "gz_dispatcher"))
            ids[key] = result.tasks[0].id
    return ids


def queue_row(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator("#queue-table tbody tr").filter(has=page.get_by_role("link", name=key, exact=True))


def test_bulk_claim_columns_and_keys(live_server: str, page: Page, web_app: Flask, db: Database) -> None:
    ids = start_faults(web_app, db)
    login(page, live_server, "alice")
    alice = user_id(web_app, db, "alice")
    expect(page.locator("#queue-table tbody tr")).to_have_count(4)

    # two rows ticked, 签收所选: one flash, both rows hers, the others still to claim
    queue_row(page, "BULK-E2E-1").locator("input[name=task]").check()
    queue_row(page, "BULK-E2E-3").locator("input[name=task]").check()
    expect(page.locator("#queue-bulk-claim")).to_have_text("签收所选（2）")
    expect(page.locator("#queue-all")).to_have_js_property("indeterminate", True)
    page.locator("#queue-bulk-claim").dblclick()  # a double click sends it once
    expect(flash(page)).to_have_text("已签收 2 项")
    for key in ("BULK-E2E-1", "BULK-E2E-3"):
        expect(queue_row(page, key).locator(".badge", has_text="我的")).to_be_visible()
        expect(queue_row(page, key).locator("input[name=task]")).to_have_count(0)
        assert task_status(db, ids[key])[2] == alice
    for key in ("BULK-E2E-2", "BULK-E2E-4"):
        expect(queue_row(page, key).get_by_role("button", name="签收")).to_be_visible()

    # select-all ticks the rest; a colleague takes one of them before she sends
    page.locator("#queue-all").check()
    expect(page.locator("#queue-table input[name=task]:checked")).to_have_count(2)
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.tasks.claim(s, ids["BULK-E2E-4"], user(s, pe, "anna"))
    page.locator("#queue-bulk-claim").click()
    expect(flash(page)).to_have_text("已签收 1 项；1 项已被他人签收")
    assert task_status(db, ids["BULK-E2E-2"])[2] == alice
    assert task_status(db, ids["BULK-E2E-4"])[2] == user_id(web_app, db, "anna")
    expect(page.locator("#queue-table tbody tr")).to_have_count(3)  # anna's is no longer in her queue
    expect(page.locator("#queue-bulk-claim")).to_have_count(0)  # nothing left to claim on the page
    expect(page.locator("#queue-all")).to_have_count(0)

    # columns: 客户 and 状态 in, 到达时间 out; kept on the server, so a new page shows them too
    page.locator("#queue-columns summary").click()
    columns = page.locator("#queue-columns form")
    columns.get_by_label("客户", exact=True).check()
    columns.get_by_label("状态").check()
    columns.get_by_label("到达时间").uncheck()
    columns.get_by_role("button", name="保存").click()
    page.goto(f"{live_server}/portal/")
    expect(page.locator("#queue-table thead th a")).to_have_text(["工单号", "环节", "客户", "时限/剩余 ▲", "状态"])
    expect(queue_row(page, "BULK-E2E-2")).to_contain_text("广州塔")
    expect(queue_row(page, "BULK-E2E-2")).to_contain_text("处理中")

    # sort by 客户 with a click on its header, then the other way round
    page.locator("#queue-table thead").get_by_role("link", name="客户").click()
    expect(page).to_have_url(re.compile(r"todo_sort=customer"))
    order = page.locator("#queue-table tbody tr td:nth-child(4)").all_inner_texts()
    assert sorted(order) == sorted(["中山大学附属医院", "广州塔", "白云机场"]), order
    page.locator("#queue-table thead").get_by_role("link", name=re.compile("客户")).click()
    expect(page).to_have_url(re.compile(r"todo_dir=desc"))
    assert page.locator("#queue-table tbody tr td:nth-child(4)").all_inner_texts() == list(reversed(order))

    # one more fault arrives; the keyboard: j moves to it, c claims it, the row stays selected, o opens it
    with db.sessions.begin() as s:
        ids["BULK-E2E-5"] = pe.runtime.start(s, "aftersales_fault", business_key="BULK-E2E-5",
                                             data={**FAULT, "customer": "甲方"},
                                             actor=user(s, pe, "gz_dispatcher")).tasks[0].id
    page.goto(f"{live_server}/portal/")
    rows = page.locator("#queue-table tbody tr")
    keys = [rows.nth(i).locator("td a").first.inner_text() for i in range(rows.count())]
    target = keys.index("BULK-E2E-5")
    page.keyboard.press("?")
    expect(page.locator("#queue-help")).to_be_visible()
    expect(page.locator("#queue-help")).to_contain_text("签收选中的任务")
    screenshot(page, "queue-bulk-help")
    page.keyboard.press("Escape")
    expect(page.locator("#queue-help")).to_be_hidden()
    page.keyboard.press("Escape")  # the row last clicked is remembered; Esc lets go of it
    expect(page.locator("#queue-table tbody tr.is-selected")).to_have_count(0)
    for _ in range(target + 1):
        page.keyboard.press("j")
    expect(rows.nth(target)).to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("k")
    if target > 0:
        expect(rows.nth(target - 1)).to_have_class(re.compile(r"\bis-selected\b"))
        page.keyboard.press("j")
    # typing in the search box is typing, not shortcuts
    page.keyboard.press("/")
    expect(page.locator("#todo-q")).to_be_focused()
    page.keyboard.type("jk")
    expect(page.locator("#todo-q")).to_have_value("jk")
    expect(rows.nth(target)).to_have_class(re.compile(r"\bis-selected\b"))
    page.locator("#todo-q").fill("")
    page.keyboard.press("Escape")  # leaves the search box
    expect(page.locator("#todo-q")).not_to_be_focused()
    page.keyboard.press("x")
    expect(queue_row(page, "BULK-E2E-5").locator("input[name=task]")).to_be_checked()
    page.keyboard.press("c")
    expect(flash(page)).to_have_text("已签收：故障受理（BULK-E2E-5）")
    assert task_status(db, ids["BULK-E2E-5"])[2] == alice
    selected = page.locator("#queue-table tbody tr.is-selected")
    expect(selected).to_have_count(1)
    expect(selected.locator(".badge", has_text="我的")).to_be_visible()
    expect(selected).to_contain_text("BULK-E2E-5")
    screenshot(page, "queue-bulk")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(rf"/tasks/{ids['BULK-E2E-5']}$"))
    expect(page.locator("h1")).to_contain_text("故障受理")


def test_a_saved_filter_is_chosen_from_the_list_and_deleted(live_server: str, page: Page, web_app: Flask,
                                                           db: Database) -> None:
    start_faults(web_app, db)
    login(page, live_server, "alice")
    page.fill("#todo-q", "广州")
    page.locator("#queue-filter").get_by_role("button", name="筛选").click()
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    page.locator("#saved-filters summary").click()
    page.fill("#filter-name", "广州的单")
    page.locator("#save-filter").get_by_role("button", name="保存").click()
    expect(flash(page)).to_have_text("已保存筛选：广州的单")
    expect(page.locator("#saved-filters .chip.active")).to_contain_text("广州的单")
    page.locator("#queue-columns summary").click()
    expect(page.locator("#queue-columns form")).to_be_visible()
    screenshot(page, "queue-filters")
    page.locator("#queue-columns summary").click()
    page.goto(f"{live_server}/portal/")
    expect(page.locator("#queue-table tbody tr")).to_have_count(4)
    page.locator("#saved-filters").get_by_role("link", name="广州的单").click()
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    expect(page.locator("#todo-q")).to_have_value("广州")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#saved-filters").get_by_role("button", name="删除筛选 广州的单").click()
    expect(page.locator("#saved-filters .chip")).to_have_count(0)
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)  # still the view she was on
