"""Business data shows the current value of each field, with its history on hover, and times in the reader's
format (issue 12, bug 2): after a 驳回 and a 通过 the old 审核说明 no longer stands beside 通过."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import ACCEPT, HANDLE, PDF, RECEIPT, complete, login, start_fault

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def fact(page: Page, label: str):  # type: ignore[no-untyped-def]
    return page.locator(".business-facts > div").filter(has=page.locator("dt", has_text=re.compile(f"^{label}$")))


def test_a_pass_after_a_reject_shows_the_current_values_with_their_history(live_server: str, page: Page,
                                                                           web_app: Flask, db: Database):
    handle = complete(web_app, db, start_fault(web_app, db, "FACTS-1"), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)
    audit = complete(web_app, db, receipt, "gz_maintainer", RECEIPT, upload=("报告.pdf", PDF))
    handle2 = complete(web_app, db, audit, "gz_receipt_auditor", {"receipt_result": "reject",
                                                                  "receipt_reason": "报告缺少现场照片"})
    receipt2 = complete(web_app, db, handle2, "gz_maintainer", HANDLE)
    audit2 = complete(web_app, db, receipt2, "gz_maintainer", {**RECEIPT, "recovery_time": "2026-03-02T13:05"},
                      upload=("报告2.pdf", PDF))
    complete(web_app, db, audit2, "gz_receipt_auditor", {"receipt_result": "pass"})

    login(page, live_server, "gz_maintainer")
    page.goto(f"{live_server}/orders/?number=FACTS-1")
    page.get_by_role("link", name="FACTS-1").first.click()
    result, reason, recovered = fact(page, "回单审核"), fact(page, "审核说明"), fact(page, "恢复时间")
    expect(result.locator("dd")).to_contain_text("通过")
    expect(reason.locator("dd")).to_contain_text("—")  # the reject's reason is history, not the current value
    expect(reason.locator("dd")).not_to_contain_text("报告缺少现场照片")
    history = reason.locator(".has-history")
    expect(history).to_have_attribute("title", re.compile("回单审核 · .*：报告缺少现场照片"))
    expect(result.locator(".has-history")).to_have_attribute("title", re.compile("驳回[\\s\\S]*通过"))
    expect(recovered.locator("dd")).to_contain_text("2026-03-02 13:05")
    expect(recovered.locator(".has-history")).to_have_attribute("title", re.compile("2026-03-02 12:30"))
    for text in page.locator(".business-facts dd").all_inner_texts():
        assert not ISO.search(text), text  # no raw ISO time anywhere in the business data
    history.focus()  # keyboard and touch users see the history too
    screenshot(page, "business-data-history")
