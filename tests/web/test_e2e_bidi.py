"""Bidirectional-override characters (U+202E and friends) typed or pasted into free text are taken out on input,
so a note cannot be made to read backwards (issue 12, bug 9): in the browser, through a posted form, in a form's
JSON and in a search."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.history.models import HistoryEvent
from tests.conftest import Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import login, open_task, start_fault
from webapp.security import clean_text

CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def notes(db: Database) -> list[str]:
    with db.sessions() as s:
        return [e.payload["text"] for e in s.scalars(select(HistoryEvent).where(
            HistoryEvent.event_type == "task_annotated"))]


def test_a_note_with_an_override_character_is_stored_and_shown_in_reading_order(live_server: str, page: Page,
                                                                               web_app: Flask, db: Database):
    start_fault(web_app, db, "BIDI-0001")
    login(page, live_server, "gz_dispatcher")
    open_task(page, "BIDI-0001", "故障受理")
    note = page.locator("textarea[name=text]")
    note.fill("客户电话\u202e8765 4321\u202c请回拨")
    page.get_by_role("button", name="添加批注").click()
    expect(page.locator("#timeline")).to_contain_text("客户电话8765 4321请回拨")
    assert notes(db) == ["客户电话8765 4321请回拨"]
    assert not any(c in page.locator("#timeline").inner_text() for c in CONTROLS)
    screenshot(page, "bidi-note")


def test_every_control_goes_and_ordinary_text_stays():
    text = "甲\u200d乙 abc \u200f" + CONTROLS + "\x00丙"
    assert clean_text(text) == "甲\u200d乙 abc \u200f丙"  # joiners and marks stay: they do not reorder text
