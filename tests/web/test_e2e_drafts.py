"""Idle logout loses nothing (issue 12, gap 17): typing in a form counts as activity, and what was typed is kept
as a draft on the server, per user and task, and restored after logging in again."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from handlers.dispatch import add_rule
from tests.conftest import PASSWORD, Database
from tests.web.conftest import make_web_app, screenshot
from tests.web.test_e2e_queue import ACCEPT, complete, start_fault, viewer_field
from tests.web.test_e2e_session import IDLE_MESSAGE, serve
from webapp.tasks.models import TaskDraft

IDLE_SECONDS = 6


def sign_in(page: Page, base: str, username: str, path: str = "") -> None:
    page.goto(f"{base}/auth/login" + (f"?next={path}" if path else ""))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()


def saved_text(db: Database, task_id: int, page: Page, expected: str) -> str | None:
    """The draft's 处理进展, waiting up to 5 s for the save after the last keystroke."""
    text = None
    for _ in range(20):
        with db.sessions() as s:
            drafts = s.scalars(select(TaskDraft).where(TaskDraft.task_id == task_id)).all()
            text = drafts[0].data.get("progress") if len(drafts) == 1 else None
        if text == expected:
            break
        page.wait_for_timeout(250)
    return text


def test_typing_keeps_the_session_and_an_idle_logout_keeps_the_draft(db: Database, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                    deploy_flows, page: Page) -> None:
    app = make_web_app(db, tmp_path, EOMS_IDLE_LOGOUT_SECONDS=str(IDLE_SECONDS))
    deploy_flows(app.extensions["eoms"]["engine"])
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    handle = complete(app, db, start_fault(app, db, "DRAFT-1"), "gz_dispatcher", ACCEPT)
    with serve(app) as base:
        sign_in(page, base, "gz_maintainer", f"/tasks/{handle}")
        expect(page).to_have_url(f"{base}/tasks/{handle}")
        progress = viewer_field(page, "处理进展").locator("textarea")
        expect(progress).to_be_visible()

        # typing for longer than the idle time keeps the session: each pause saves a draft, which is activity
        typed = ""
        started = time.monotonic()
        while time.monotonic() - started < IDLE_SECONDS * 1.7:
            typed += "排查"
            progress.press_sequentially("排查", delay=40)
            page.wait_for_timeout(700)
        expect(page.locator("#draft-status")).to_contain_text("草稿已保存")
        expect(page).to_have_url(f"{base}/tasks/{handle}")
        expect(page.locator("#idle-warning")).to_be_hidden()
        assert saved_text(db, handle, page, typed) == typed  # saved a moment after the typing stopped

        # then nothing: the idle logout comes, and logging in again returns to the task with the text restored
        expect(page).to_have_url(f"{base}/auth/login?next=/tasks/{handle}", timeout=(IDLE_SECONDS + 8) * 1000)
        expect(page.locator(".alert-warning")).to_contain_text(IDLE_MESSAGE)
        page.fill("#username", "gz_maintainer")
        page.fill("#password", PASSWORD)
        page.locator("form.login-card button[type=submit]").click()
        expect(page).to_have_url(f"{base}/tasks/{handle}")
        expect(page.locator("#draft-restored")).to_contain_text("已恢复您于")
        expect(viewer_field(page, "处理进展").locator("textarea")).to_have_value(typed)
        screenshot(page, "draft-restored")

        # 丢弃草稿 gives the step's own form back; a completed task leaves no draft behind
        page.get_by_role("button", name="丢弃草稿").click()
        expect(page.locator("#draft-restored")).to_have_count(0)
        expect(viewer_field(page, "处理进展").locator("textarea")).to_have_value("")
        with db.sessions() as s:
            assert s.scalars(select(TaskDraft).where(TaskDraft.task_id == handle)).all() == []


def test_a_draft_the_server_failed_to_save_is_sent_again_without_more_typing(db: Database, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                            deploy_flows, page: Page) -> None:
    """A save answered by a server error (a busy database, a restart) is retried a moment later: the typed text
    reaches the server although the user stopped typing; a refusal (409) is not retried."""
    app = make_web_app(db, tmp_path)
    deploy_flows(app.extensions["eoms"]["engine"])
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    handle = complete(app, db, start_fault(app, db, "DRAFT-2"), "gz_dispatcher", ACCEPT)
    posts: list[str] = []  # what each save after the typing got
    armed: list[bool] = []

    def first_fails(route) -> None:  # type: ignore[no-untyped-def]
        if not armed:
            route.continue_()  # a save made while typing (the first keystroke saves at once)
        elif not posts:
            posts.append("500")
            route.fulfill(status=500, body="Internal Server Error", content_type="text/html")
        else:
            posts.append("sent")
            route.continue_()

    with serve(app) as base:
        sign_in(page, base, "gz_maintainer", f"/tasks/{handle}")
        expect(page).to_have_url(f"{base}/tasks/{handle}")
        page.route(f"**/tasks/{handle}/draft", first_fails)
        progress = viewer_field(page, "处理进展").locator("textarea")
        progress.press_sequentially("光缆已熔接", delay=30)
        armed.append(True)  # the save a moment after the last keystroke is the one that fails
        assert saved_text(db, handle, page, "光缆已熔接") == "光缆已熔接"  # waits for the save after the typing
        assert posts[:2] == ["500", "sent"]  # the failed save, then the same text sent again
        expect(page.locator("#draft-status")).to_contain_text("草稿已保存")
