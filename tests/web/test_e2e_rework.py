"""Work sent back carries its reason (issue 12, bug 1): a 回单审核 rejected with 审核说明, and a 退回 with a reason,
show the reason at the top of the reopened task and in the timeline entry of the rejection."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import Database, user
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import (
    ACCEPT,
    HANDLE,
    PDF,
    RECEIPT,
    complete,
    engine_of,
    login,
    open_task,
    start_fault,
)


def test_a_rejected_receipt_reopens_handling_with_the_reviewers_reason(live_server: str, page: Page,
                                                                      web_app: Flask, db: Database):
    handle = complete(web_app, db, start_fault(web_app, db, "REWORK-1"), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)
    audit = complete(web_app, db, receipt, "gz_maintainer", RECEIPT, upload=("故障处理报告.pdf", PDF))
    complete(web_app, db, audit, "gz_receipt_auditor", {"receipt_result": "reject",
                                                        "receipt_reason": "报告缺少现场照片，请补充"})
    login(page, live_server, "gz_maintainer")
    open_task(page, "REWORK-1", "故障处理")
    banner = page.locator("#rework-reason")
    expect(banner).to_contain_text("此任务被「回单审核」退回")
    expect(banner).to_contain_text("原因：报告缺少现场照片，请补充")
    expect(page.locator("#timeline li.event-task_completed .rejected")).to_contain_text("报告缺少现场照片，请补充")
    screenshot(page, "rework-reason")


def test_a_return_with_a_reason_shows_it_on_the_reopened_step(live_server: str, page: Page, web_app: Flask,
                                                             db: Database):
    handle = complete(web_app, db, start_fault(web_app, db, "REWORK-2"), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)
    audit = complete(web_app, db, receipt, "gz_maintainer", RECEIPT, upload=("故障处理报告.pdf", PDF))
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.tasks.return_to_previous(s, audit, user(s, pe, "gz_receipt_auditor"), reason="恢复时间填写有误")
    login(page, live_server, "gz_maintainer")
    open_task(page, "REWORK-2", "恢复回单")
    expect(page.locator("#rework-reason")).to_contain_text("原因：恢复时间填写有误")
