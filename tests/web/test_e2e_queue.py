"""End to end in a real browser (Debian's chromium through Playwright): the work queue of a 售后故障 work order.

A dispatcher reports a fault from the start form, finds 故障受理 in his queue, claims it with one click, sends
the form back once with a missing value (the error sits next to the field, the rest of his input is kept), fixes
it and submits; the maintainers then find 故障处理 in theirs. Further: 转派 to a named colleague, 退回 from 回单审核
to 恢复回单, and the 故障处理报告 uploaded as a real file and downloaded again. Screenshots of the portal and the
task page are kept under artifacts/screenshots/. Work the story does not look at is set up through the engine.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from playwright.sync_api import Page, Request, expect
from sqlalchemy import select

from engine.core import ProcessEngine
from engine.tasks.models import HumanTask
from tests.conftest import PASSWORD, Database, user
from tests.web.conftest import screenshot

FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": "2026-03-02T12:30"}
PDF = (b"%PDF-1.4\n% EOMS e2e report\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


# -- browser helpers ---------------------------------------------------------------------------------------
def login(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page; lands on the portal."""
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    page.wait_for_load_state()


def logout(page: Page) -> None:
    page.locator(".topbar form button.link").click()
    expect(page).to_have_url(re.compile(r"/auth/login$"))


def flash(page: Page):  # type: ignore[no-untyped-def]
    """The flashed messages of the page."""
    return page.locator("main .alert[role=status]")


def todo_row(page: Page, key: str, step: str):  # type: ignore[no-untyped-def]
    return page.locator("#panel-todo tbody tr").filter(has_text=key).filter(has_text=step)


def done_row(page: Page, key: str, step: str):  # type: ignore[no-untyped-def]
    return page.locator("#panel-done tbody tr").filter(has_text=key).filter(has_text=step)


def open_task(page: Page, key: str, step: str) -> int:
    """From the portal's 待办, open the task page of ``step`` of work order ``key``; returns the task id."""
    todo_row(page, key, step).get_by_role("link", name=key).click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("h1")).to_contain_text(step)
    return int(page.url.rsplit("/", 1)[1])


def viewer_field(page: Page, label: str):  # type: ignore[no-untyped-def]
    """The form-js viewer's field with this label (the task form as the analyst designed it)."""
    return page.locator("#form-viewer .fjs-form-field:not(.fjs-form-field-grouplike)").filter(
        has=page.locator(".fjs-form-field-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")))


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the viewer's select field ``label``."""
    viewer_field(page, label).locator(".fjs-input-group, .fjs-select-display, input").first.click()
    page.locator("#form-viewer .fjs-dropdownlist-item", has_text=option).click()


# -- engine helpers (for the steps a test does not look at) --------------------------------------------------
def engine_of(app: Flask) -> ProcessEngine:
    return app.extensions["eoms"]["engine"]  # type: ignore[no-any-return]


def start_fault(app: Flask, db: Database, key: str, starter: str = "gz_dispatcher") -> int:
    """Report a fault as ``starter``; returns the id of 故障受理."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "aftersales_fault", business_key=key, data=dict(FAULT), actor=user(s, pe, starter))
        (accept,) = result.tasks
        return accept.id


def complete(app: Flask, db: Database, task_id: int, username: str, data: dict[str, Any],
             upload: tuple[str, bytes] | None = None) -> int:
    """Complete a task as ``username`` (uploading the report first if given); returns the id of the next task."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        actor = user(s, pe, username)
        if upload is not None:
            attachment = pe.tasks.upload(s, task_id, actor, filename=upload[0], data=upload[1])
            data = {**data, "report": [str(attachment.id)]}
        (created,) = pe.tasks.complete(s, task_id, actor, data)
        return created.id


def task_status(db: Database, task_id: int) -> tuple[str, str, int | None]:
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row.node_name, row.status, row.assignee_id


def user_id(app: Flask, db: Database, username: str) -> int:
    with db.sessions() as s:
        return user(s, engine_of(app), username).id


# -- the stories -----------------------------------------------------------------------------------------------
def test_dispatcher_reports_claims_and_accepts_then_maintainer_sees_next_step(live_server: str, page: Page,
                                                                              db: Database) -> None:
    base = live_server
    login(page, base, "gz_dispatcher")
    expect(page.locator(".topbar .user-name")).to_have_text("广州调度员")

    # 故障申告 from 发起工单: the start form, the number left empty so one is generated
    page.locator(".topbar nav").get_by_role("link", name="发起工单").click()
    expect(page).to_have_url(re.compile(r"/orders/new$"))
    page.get_by_role("link", name="售后故障").click()
    expect(page).to_have_url(re.compile(r"/orders/new/aftersales_fault$"))
    page.fill("#f-customer", FAULT["customer"])
    page.fill("#f-customer_phone", FAULT["customer_phone"])
    page.fill("#f-circuit", FAULT["circuit"])
    page.select_option("#f-region", "GZ")
    page.select_option("#f-service_type", "专线")
    page.select_option("#f-fault_type", "中断")
    page.select_option("#f-priority", "高")
    page.fill("#f-description", FAULT["description"])
    posts: list[str] = []

    def count_post(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page.on("request", count_post)
    page.locator("#start-form button[type=submit]").dblclick()  # the button disables itself: one work order
    expect(page).not_to_have_url(re.compile(r"/orders/new/"))
    expect(flash(page)).to_contain_text("已发起")
    match = re.search(r"工单 (\S+) 已发起", flash(page).first.inner_text())
    assert match, flash(page).first.inner_text()
    key = match.group(1)
    assert re.fullmatch(r"GZ\d{17}", key), key
    page.remove_listener("request", count_post)
    assert len(posts) == 1, posts

    # he holds the post of 故障受理, so it is his at once: the start lands on its task page, the portal lists it as his
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    page.locator(".topbar nav").get_by_role("link", name="个人门户").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    row = todo_row(page, key, "故障受理")
    expect(row).to_have_count(1)
    expect(page.locator("#panel-todo h2 .count")).to_have_text("1")
    expect(row.locator(".badge", has_text="我的")).to_be_visible()
    expect(row.get_by_role("button", name="签收")).to_have_count(0)

    # open it: the key facts and the form, filled from the start data
    task_id = open_task(page, key, "故障受理")
    facts = page.locator(".facts")
    expect(facts).to_contain_text(FAULT["customer"])
    expect(facts).to_contain_text("广州调度员")
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    expect(viewer_field(page, "故障类型（核实）")).to_contain_text("业务中断")

    # one value missing: the required 优先级 cleared; the viewer says so by the field before anything is sent,
    # and what was typed stays
    posts.clear()
    choose(page, "故障类型（核实）", "质量劣化")
    viewer_field(page, "优先级（核实）").locator(".fjs-select-cross").click()
    viewer_field(page, "受理说明").locator("textarea").fill("已电话核实，质量劣化")
    page.locator("#complete-form button[type=submit]").click()
    expect(viewer_field(page, "优先级（核实）").locator(".fjs-form-field-error")).to_have_text("必填")
    expect(page.locator(".form-viewer-summary")).to_contain_text("优先级（核实）：必填")
    expect(viewer_field(page, "故障类型（核实）")).to_contain_text("质量劣化")
    expect(viewer_field(page, "受理说明").locator("textarea")).to_have_value("已电话核实，质量劣化")
    assert posts == [] and task_status(db, task_id)[1] == "ready"
    screenshot(page, "task-form-error")

    # fixed and sent: back on the portal with the flash, the step in 已办 and gone from 待办
    choose(page, "优先级（核实）", "紧急")
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("已提交：故障受理。")
    expect(flash(page)).to_contain_text("下一环节：故障处理")
    expect(done_row(page, key, "故障受理")).to_have_count(1)
    expect(todo_row(page, key, "故障受理")).to_have_count(0)
    logout(page)

    # the maintainer of GZ finds 故障处理 in his queue
    login(page, base, "gz_maintainer")
    expect(todo_row(page, key, "故障处理")).to_have_count(1)
    expect(todo_row(page, key, "故障处理").get_by_role("button", name="签收")).to_be_visible()
    screenshot(page, "home")
    open_task(page, key, "故障处理")
    expect(viewer_field(page, "处理进展")).to_be_visible()
    expect(page.locator("#task-form .alert-info")).to_contain_text("尚未签收")
    expect(page.locator("#timeline")).to_contain_text("故障受理")
    screenshot(page, "task-page")


def test_transfer_to_a_colleague_and_return_from_audit(live_server: str, page: Page, web_app: Flask,
                                                       db: Database) -> None:
    base, key = live_server, "GZ-E2E-TRANSFER"
    handle = complete(web_app, db, start_fault(web_app, db, key), "gz_dispatcher", ACCEPT)

    # 转派: the GZ maintainer hands 故障处理 to mike with a reason, from the task page's 转派 form
    login(page, base, "gz_maintainer")
    assert open_task(page, key, "故障处理") == handle
    actions = page.locator("#task-actions")
    actions.locator("summary", has_text="转派").click()
    transfer = actions.locator("details", has_text="转派").locator("form")
    transfer.locator("input[name=target]").fill("user:mike")
    transfer.locator("input[name=reason]").fill("故障点在天河机房，转迈克处理")
    transfer.get_by_role("button", name="确认转派").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("已转派。")
    expect(todo_row(page, key, "故障处理")).to_have_count(0)
    assert task_status(db, handle) == ("故障处理", "ready", user_id(web_app, db, "mike"))
    logout(page)

    # mike sees it as his, the reason in the history, and sends it on
    login(page, base, "mike")
    row = todo_row(page, key, "故障处理")
    expect(row.locator(".badge", has_text="我的")).to_be_visible()
    open_task(page, key, "故障处理")
    transferred = page.locator("#timeline li.event-task_transferred")
    expect(transferred).to_contain_text("故障点在天河机房，转迈克处理")
    expect(transferred).to_contain_text("广州维护员")
    expect(transferred).to_contain_text("mike")
    viewer_field(page, "处理进展").locator("textarea").fill(HANDLE["progress"])
    viewer_field(page, "需要上门").locator("input").check()
    page.locator("#complete-form button[type=submit]").click()
    expect(flash(page)).to_contain_text("下一环节：恢复回单")
    expect(todo_row(page, key, "恢复回单")).to_have_count(1)
    logout(page)
    (receipt_row,) = _open_rows(db, key, "receipt")
    audit = complete(web_app, db, receipt_row, "mike", RECEIPT, upload=("故障处理报告.pdf", PDF))

    # 退回: the receipt auditor sends 回单审核 back to 恢复回单 with a reason
    login(page, base, "gz_receipt_auditor")
    assert open_task(page, key, "回单审核") == audit
    actions = page.locator("#task-actions")
    actions.locator("summary", has_text="退回").click()
    back = actions.locator("details", has_text="退回").locator("form")
    back.locator("input[name=reason]").fill("报告缺少现场照片")
    back.get_by_role("button", name="退回上一环节").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("已退回上一环节。")
    expect(todo_row(page, key, "回单审核")).to_have_count(0)
    assert task_status(db, audit)[1] == "returned"
    logout(page)

    # 恢复回单 is open again, for mike who did it, with the reason in the history
    login(page, base, "mike")
    row = todo_row(page, key, "恢复回单")
    expect(row.locator(".badge", has_text="我的")).to_be_visible()
    open_task(page, key, "恢复回单")
    expect(page.locator("#timeline li.event-task_returned")).to_contain_text("报告缺少现场照片")
    expect(page.locator("#complete-form")).to_be_visible()


def _open_rows(db: Database, key: str, node_id: str) -> list[int]:
    with db.sessions() as s:
        return list(s.scalars(select(HumanTask.id).where(HumanTask.business_key == key, HumanTask.node_id == node_id,
                                                         HumanTask.status == "ready")))


def test_upload_report_on_receipt_and_download_it(live_server: str, page: Page, web_app: Flask,
                                                  db: Database) -> None:
    base, key = live_server, "GZ-E2E-REPORT"
    handle = complete(web_app, db, start_fault(web_app, db, key), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)

    login(page, base, "gz_maintainer")
    assert open_task(page, key, "恢复回单") == receipt
    expect(page.locator("input[type=file][name=report__upload]")).to_have_attribute("accept", ".pdf,.doc,.docx")
    choose(page, "故障原因", "光缆中断")
    viewer_field(page, "处理措施").locator("textarea").fill(RECEIPT["measures"])
    when = viewer_field(page, "恢复时间").locator("input.fjs-input")
    day, hour = RECEIPT["recovery_time"].split("T")
    when.nth(0).fill(day)
    when.nth(0).press("Tab")
    when.nth(1).fill(hour)
    when.nth(1).press("Tab")
    page.set_input_files("input[type=file][name=report__upload]",
                         files=[{"name": "故障处理报告.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text("已提交：恢复回单。")
    expect(flash(page)).to_contain_text("下一环节：回单审核")

    # the work order (found through 工单查询) lists the report among its 附件, and the link downloads it
    page.locator(".topbar nav").get_by_role("link", name="工单查询").click()
    page.locator("#search-form input[name=number]").fill(key)
    page.locator("#search-form button").click()
    expect(page).to_have_url(re.compile(r"/orders/\?.*number="))
    page.locator("table").get_by_role("link", name=key).click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    files = page.locator("section.card").filter(has=page.locator("h2", has_text="附件"))
    link = files.get_by_role("link", name="故障处理报告.pdf")
    expect(link).to_be_visible()
    expect(files).to_contain_text("广州维护员")
    expect(page.locator("#timeline li.event-attachment_added")).to_contain_text("故障处理报告.pdf")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "故障处理报告.pdf"
    path = download.path()
    assert path is not None
    with open(path, "rb") as fh:
        assert fh.read() == PDF
    href = link.get_attribute("href")
    assert href
    response = page.request.get(base + href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body() == PDF


def test_finished_step_shows_what_was_sent(live_server: str, page: Page, web_app: Flask, db: Database) -> None:
    """A done step opened from 已办 shows its form read-only, the report as a link, and the 附件 list."""
    base, key = live_server, "GZ-E2E-DONE"
    handle = complete(web_app, db, start_fault(web_app, db, key), "gz_dispatcher", ACCEPT)
    receipt = complete(web_app, db, handle, "gz_maintainer", HANDLE)
    complete(web_app, db, receipt, "gz_maintainer", RECEIPT, upload=("故障处理报告.pdf", PDF))

    login(page, base, "gz_maintainer")
    with page.expect_navigation() as shown:
        done_row(page, key, "恢复回单").get_by_role("link", name=key).click()
    assert shown.value is not None and shown.value.status == 200, f"/tasks/{receipt}: HTTP {shown.value.status}"
    expect(page).to_have_url(re.compile(rf"/tasks/{receipt}$"))
    expect(page.locator("h1")).to_contain_text("恢复回单")
    expect(page.locator("#complete-form")).to_have_count(0)
    sent = page.locator("#task-form .readonly-value")
    expect(sent.filter(has_text="光缆中断")).to_have_count(1)
    expect(sent.filter(has_text=RECEIPT["measures"])).to_have_count(1)
    expect(sent.get_by_role("link", name="故障处理报告.pdf")).to_be_visible()
    files = page.locator("section.card").filter(has=page.locator("h2", has_text="附件"))
    expect(files.locator("h2 .count")).to_have_text("1")
    expect(files.get_by_role("link", name="故障处理报告.pdf")).to_be_visible()
