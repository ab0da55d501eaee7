"""The time badge on the queue and the task page (issue 12, bug 4): with seconds left it says 不足1分钟, not
"剩余 0分", and a step past its deadline shows 已超时 from the first second, not "已超时 0分"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import update

from engine.tasks.models import HumanTask
from tests.conftest import Database
from tests.web.conftest import screenshot
from tests.web.test_e2e_queue import login, start_fault, todo_row


def due_in(db: Database, task_id: int, seconds: int) -> None:
    now = datetime.now(UTC)
    with db.sessions.begin() as s:
        s.execute(update(HumanTask).where(HumanTask.id == task_id).values(
            due_at=now + timedelta(seconds=seconds), warn_at=now - timedelta(minutes=5)))


def test_seconds_left_and_seconds_late_read_as_under_a_minute(live_server: str, page: Page, web_app: Flask,
                                                              db: Database):
    due_in(db, start_fault(web_app, db, "BADGE-LEFT"), 50)
    due_in(db, start_fault(web_app, db, "BADGE-LATE"), -3)
    login(page, live_server, "gz_dispatcher")
    left, late = todo_row(page, "BADGE-LEFT", "故障受理"), todo_row(page, "BADGE-LATE", "故障受理")
    expect(left.locator(".badge-warn")).to_have_text("剩余 不足1分钟")
    expect(late.locator(".badge-overdue")).to_have_text("已超时 不足1分钟")
    assert "0分" not in left.inner_text() + late.inner_text()
    screenshot(page, "time-badges")
