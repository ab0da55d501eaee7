"""延期 on the task page (issue 12, gap 11 and bug 3): a number with 小时/天 or a new deadline; the resulting
deadline, counted by the engine on the step's own calendar, is shown before the button; a bad value is named in
Chinese — by the page itself, or by the server when JavaScript is off — and never by the browser's English
bubble; the preview answers JSON with the code and a sentence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from engine.sla.calendar import SHANGHAI
from tests.conftest import PASSWORD, Database, user
from tests.engine.test_extension_preview import step
from tests.web.conftest import screenshot
from tests.web.test_task_pages import alerts, client_for, engine_of, events, row, send, text, to_handle
from webapp.tasks.extension import deadline_text

WORKING_NOTE = "按工作时间计算，跳过周末和节假日"
ZERO = "延长时长须大于 0。"


@pytest.fixture
def workday_task(web_app: Flask, db: Database) -> int:
    """A 处理 step of one working day (workday calendar, 延期 allowed) for the GZ dispatchers, started by
    alice now; 主管甲 (sup) supervises GZ."""
    pe = engine_of(web_app)
    with db.sessions.begin() as s:
        pe.repository.deploy(s, step("ext_web", "workday", "P1D", allow="transfer,extend"), "ext_web.bpmn")
        started = pe.runtime.start(s, "ext_web", business_key="EXT-WEB-1", data={}, actor=user(s, pe, "alice"))
        return int(started.tasks[0].id)


def engine_preview(web_app: Flask, db: Database, task_id: int, username: str, **asked: Any) -> tuple[Any, str]:
    """The engine's own computation, and the text the page shows for it."""
    pe = engine_of(web_app)
    with db.sessions() as s:
        plan = pe.tasks.preview_extension(s, task_id, user(s, pe, username), **asked)
    with web_app.test_request_context():
        return plan, deadline_text(plan.due_at)


def login(page: Page, base: str, username: str) -> None:
    """Log in through the login page (a supervisor lands on the 监控台, others on the portal)."""
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page.locator(".topbar .user-name")).to_be_visible()


def open_dialog(page: Page, base: str, task_id: int) -> None:
    page.goto(f"{base}/tasks/{task_id}")
    page.locator("#extension summary").click()
    expect(page.locator("#extension-amount")).to_be_visible()


def test_a_supervisor_previews_two_working_days_and_grants_them(live_server: str, page: Page, web_app: Flask,
                                                                db: Database, workday_task: int):
    plan, shown = engine_preview(web_app, db, workday_task, "sup", by="P2D")
    login(page, live_server, "sup")
    open_dialog(page, live_server, workday_task)
    form = page.locator("#extension-form")
    expect(form.locator("#extension-current")).to_have_text(deadline_text_for(web_app, plan.current))
    expect(form).to_contain_text(WORKING_NOTE)
    expect(form.locator("#extension-until")).to_be_hidden()  # the chosen way only
    page.fill("#extension-amount", "2")
    page.select_option("#extension-unit", "days")
    expect(page.locator("#extension-new")).to_have_text(shown)
    expect(form.locator(".ext-note")).to_have_text(WORKING_NOTE)  # how the step's calendar counts
    expect(page.locator("#extension-added")).to_contain_text("增加工作时间 15小时")  # two days of 7.5 h
    page.fill("#extension-reason", "客户要求改期")
    screenshot(page, "extension-preview")
    page.get_by_role("button", name="批准延期").dblclick()  # sent once
    expect(page.locator(".alert-info[role=status]")).to_have_text("时限已延长。")
    assert row(db, workday_task).due_at == plan.due_at
    expect(page.locator("dl.facts")).to_contain_text(plan.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))
    (granted,) = events(db, row(db, workday_task).instance_id, "task_extended")
    assert (granted.payload["by"], granted.payload["to"]) == ("P2D", plan.due_at.isoformat())


def deadline_text_for(web_app: Flask, moment: Any) -> str:
    with web_app.test_request_context():
        return deadline_text(moment)


def test_zero_is_named_in_chinese_by_the_page_and_without_javascript_by_the_server(
        live_server: str, page: Page, chromium: Browser, web_app: Flask, db: Database, workday_task: int):
    login(page, live_server, "alice")
    open_dialog(page, live_server, workday_task)
    form = page.locator("#extension-form")
    assert form.evaluate("f => f.noValidate") is True
    assert form.locator("[pattern]").count() == 0
    page.fill("#extension-amount", "0")
    expect(page.locator("#extension-amount-error")).to_have_text(ZERO)
    expect(page.locator("#extension-preview")).to_be_hidden()
    page.fill("#extension-reason", "施工")
    page.press("#extension-reason", "Enter")  # the keyboard sends the form as the button would
    expect(page.locator("#extension-amount")).to_be_focused()
    assert page.locator("#extension-amount").evaluate("e => e.validationMessage") == ""  # no browser bubble
    expect(page.locator("#extension-amount-error")).to_have_text(ZERO)
    assert page.url.endswith(f"/tasks/{workday_task}")  # nothing was sent
    # a typo, then a good value: the message goes and the engine's deadline shows
    page.fill("#extension-amount", "３")  # a full-width digit counts
    _, shown = engine_preview(web_app, db, workday_task, "alice", by="PT3H")
    expect(page.locator("#extension-new")).to_have_text(shown)
    expect(page.locator("#extension-amount-error")).to_be_hidden()
    screenshot(page, "extension-hours")
    # 指定新时限 starts from the deadline the duration gave; one before the current deadline is refused
    plan, _ = engine_preview(web_app, db, workday_task, "alice", by="PT3H")
    page.get_by_label("指定新时限").check()
    expect(page.locator("#extension-amount")).to_be_hidden()
    expect(page.locator("#extension-until")).to_have_value(plan.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#extension-new")).to_have_text(shown)
    page.fill("#extension-until", (plan.current - timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#extension-until-error")).to_have_text(
        f"新时限须晚于当前时限（{deadline_text_for(web_app, plan.current)}）。")
    expect(page.locator("#extension-preview")).to_be_hidden()

    # without JavaScript the server computes and names the field; what was typed is kept, the dialog open
    context = chromium.new_context(java_script_enabled=False, locale="zh-CN", viewport={"width": 1400,
                                                                                         "height": 1000})
    bare = context.new_page()
    try:
        login(bare, live_server, "alice")
        open_dialog(bare, live_server, workday_task)
        expect(bare.locator("#extension-until")).to_be_visible()  # both ways show; the radio chooses
        bare.fill("#extension-amount", "0")
        bare.fill("#extension-reason", "等待备件")
        bare.get_by_role("button", name="申请延期").click()
        expect(bare.locator(".alert-error[role=status]")).to_have_text(ZERO)
        expect(bare.locator("#extension")).to_have_attribute("open", "")
        expect(bare.locator("#extension-amount-error")).to_have_text(ZERO)
        expect(bare.locator("#extension-amount")).to_have_value("0")
        expect(bare.locator("#extension-reason")).to_have_value("等待备件")
        screenshot(bare, "extension-no-js-refused")
        bare.fill("#extension-amount", "1")
        bare.select_option("#extension-unit", "days")
        bare.get_by_role("button", name="申请延期").click()
        expect(bare.locator(".alert-info[role=status]")).to_have_text("延期申请已提交主管。")
    finally:
        context.close()
    (asked,) = events(db, row(db, workday_task).instance_id, "extension_requested")
    plan, _ = engine_preview(web_app, db, workday_task, "alice", by="P1D")
    assert (asked.payload["by"], asked.payload["reason"], asked.payload["proposed"]) == (
        "P1D", "等待备件", plan.due_at.isoformat())


# -- through the test client ----------------------------------------------------------------------------------
def preview(client, task_id: int, **params: str):  # type: ignore[no-untyped-def]
    response = client.get(f"/tasks/{task_id}/extension/preview", query_string=params)
    return response.status_code, response.get_json()


def test_the_preview_answers_json(web_app: Flask, db: Database):
    _, handle = to_handle(web_app, db)  # 故障处理: four hours on 24x7
    due = row(db, handle).due_at
    holder = client_for(web_app, "gz_maintainer")
    status, body = preview(holder, handle, amount="4", unit="hours")
    assert status == 200
    assert body["iso"] == (due + timedelta(hours=4)).isoformat()
    with web_app.test_request_context():
        assert body["due_at_local"] == deadline_text(due + timedelta(hours=4))
    assert (body["working"], body["note"], body["added"]) == (False, "按自然时间连续计算", "延长 4小时")
    earlier = (due - timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    status, body = preview(holder, handle, until=earlier)
    assert (status, body["code"], body["field"]) == (422, "input.invalid", "until")
    assert body["fields"] == {"until": "not after the deadline"}
    assert body["message"].startswith("新时限须晚于当前时限（")
    for amount, message in (("0", ZERO), ("-2", ZERO), ("两", "延长时长须为整数，如 2。"), ("", "请填写延长时长。"),
                            ("721", "延长时长最多 720 小时。")):
        status, body = preview(holder, handle, amount=amount, unit="hours")
        assert (status, body["code"], body["field"], body["message"]) == (422, "input.invalid", "amount", message)
    status, body = preview(holder, handle, amount="31", unit="days")
    assert (status, body["message"]) == (422, "延长时长最多 30 天。")
    status, body = preview(holder, handle, mode="until", until="下周")
    assert (status, body["field"], body["message"]) == (422, "until", "新时限格式不正确，请选择日期和时间。")
    # who may not see the task gets the same 404 as for a task that does not exist
    status, body = preview(client_for(web_app, "sz_maintainer"), handle, amount="1", unit="hours")
    assert (status, body["code"]) == (404, "not_found")



def test_a_form_post_without_javascript_refuses_here_and_keeps_what_was_typed(web_app: Flask, db: Database):
    instance_id, handle = to_handle(web_app, db)
    due = row(db, handle).due_at
    sup = client_for(web_app, "sup")
    earlier = (due - timedelta(minutes=30)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    response = send(sup, f"/tasks/{handle}/extension", {"mode": "until", "until": earlier, "amount": "",
                                                        "unit": "hours", "reason": "同意", "grant": "1"})
    assert response.status_code == 422
    html = text(response)
    (message,) = alerts(html)
    assert message.startswith("新时限须晚于当前时限（") and f'value="{earlier}"' in html
    assert '<details id="extension" class="extension" open>' in html and 'value="同意"' in html
    assert row(db, handle).due_at == due and events(db, instance_id, "task_extended") == []
    response = send(sup, f"/tasks/{handle}/extension", {"mode": "by", "amount": "2", "unit": "hours",
                                                        "reason": "", "grant": "1"})
    assert (response.status_code, alerts(text(response))) == (422, ["请填写延期原因。"])
    later = (due + timedelta(hours=3)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    response = send(sup, f"/tasks/{handle}/extension", {"mode": "until", "until": later, "amount": "5",
                                                        "unit": "hours", "reason": "同意", "grant": "1"})
    assert response.status_code == 302
    assert row(db, handle).due_at == due.replace(second=0, microsecond=0) + timedelta(hours=3)
    (granted,) = events(db, instance_id, "task_extended")
    assert granted.payload["until"] == (due.replace(second=0, microsecond=0) + timedelta(hours=3)).isoformat()
