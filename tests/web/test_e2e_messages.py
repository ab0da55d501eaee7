"""Every message a post holder reads is in the page's language, from the error codes, and the accepted upload
types shown are the ones the server accepts (issue 12, bug 3)."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import (
    ACCEPT,
    HANDLE,
    RECEIPT,
    choose,
    complete,
    login,
    open_task,
    start_fault,
    viewer_field,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ENGLISH_ENGINE_WORDS = re.compile(r"not accepted|allowed:|is not a|is not one of|files of type")


def fill_receipt(page: Page) -> None:
    """The 恢复回单 form's required fields, in the form-js viewer (the analyst's labels, in any page language)."""
    choose(page, "故障原因", "光缆中断")
    viewer_field(page, "处理措施").locator("textarea").fill(RECEIPT["measures"])
    when = viewer_field(page, "恢复时间").locator("input.fjs-input")
    day, hour = RECEIPT["recovery_time"].split("T")
    when.nth(0).fill(day)
    when.nth(0).press("Tab")
    when.nth(1).fill(hour)
    when.nth(1).press("Tab")


def test_a_refused_upload_is_explained_in_the_page_language_with_the_types_the_server_takes(
        live_server: str, page: Page, web_app: Flask, db: Database):
    handle = complete(web_app, db, start_fault(web_app, db, "MSG-1"), "gz_dispatcher", ACCEPT)
    complete(web_app, db, handle, "gz_maintainer", HANDLE)
    login(page, live_server, "gz_maintainer")
    open_task(page, "MSG-1", "恢复回单")
    upload = page.locator('input[type=file][name="report__upload"]')
    expect(upload).to_have_attribute("accept", ".pdf,.doc,.docx")  # the field's list as far as the server stores it
    expect(page.locator("#task-form")).to_contain_text("可接受：.pdf、.doc、.docx；每个文件不超过 20 MB。")

    fill_receipt(page)
    upload.set_input_files(files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}])
    page.locator("#complete-form button[type=submit]").click()
    alert = page.locator(".flash-error, .alert-error").first
    expect(alert).to_contain_text("附件未能上传：现场.png，不接受此类型的文件（可接受：.pdf、.doc、.docx）")
    assert not ENGLISH_ENGINE_WORDS.search(alert.inner_text())
    screenshot(page, "upload-refused-zh")

    page.goto(f"{live_server}/lang/en")
    open_task(page, "MSG-1", "恢复回单")
    fill_receipt(page)
    page.locator('input[type=file][name="report__upload"]').set_input_files(
        files=[{"name": "site.png", "mimeType": "image/png", "buffer": PNG}])
    page.locator("#complete-form button[type=submit]").click()
    alert = page.locator(".flash-error, .alert-error").first
    expect(alert).to_contain_text("site.png, this type of file is not accepted (accepted: .pdf、.doc、.docx)")
    assert not re.search(r"[\u4e00-\u9fff]", alert.inner_text()), alert.inner_text()  # no Chinese on English pages
