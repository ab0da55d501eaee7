"""End to end in a real browser (Debian's chromium through Playwright): an administrator sets up a new team
entirely in 系统管理 — a post, a unit under 广州, a person holding the post there, a routing rule sending 广州
专线 faults to it on the working-day calendar, and a holiday — and the next fault reported in 广州 reaches that
person, its deadline skipping the holiday.

The app's engine reads a clock the test sets: the fault is reported on Wednesday 2026-03-04 at 16:30 Beijing time,
故障处理 has four working hours (not VIP); one hour is left that day (to 17:30), Thursday 03-05 is the holiday the
administrator entered, so the remaining three hours run on Friday from 08:30: the deadline is 2026-03-06 11:30
(without the holiday it would be Thursday 11:30). Screenshots: admin-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.audit.models import AuditEntry
from engine.tasks.models import HumanTask
from tests.conftest import PASSWORD, Database, FakeClock
from tests.stats.stats_world import make_app
from tests.web.conftest import screenshot

REPORTED = datetime(2026, 3, 4, 8, 30, tzinfo=UTC)  # Wednesday 16:30 in Guangzhou
NEW_PASSWORD = "Zhengqi2026"


@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    """The app on the test's clock with 售后故障 deployed and every fault routed to GZ maintainers by default."""
    clock.now = REPORTED
    return make_app(db, tmp_path, clock, storage)


def login(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))


def logout(page: Page) -> None:
    page.locator(".topbar form button.link").click()
    expect(page).to_have_url(re.compile(r"/auth/login$"))


def flash(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("main .alert[role=status]")


def test_admin_sets_up_a_team_and_the_next_fault_reaches_it_skipping_the_holiday(
        live_server: str, page: Page, db: Database) -> None:
    base = live_server
    login(page, base, "admin")
    page.locator(".topbar nav").get_by_role("link", name="系统管理").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("h1")).to_have_text("系统管理")

    # 岗位: a new post
    page.locator(".subnav").get_by_role("link", name="岗位").click()
    page.fill("#p-code", "gov_maint")
    page.fill("#p-name", "政企维护员")
    page.locator("#add-post").click()
    expect(flash(page)).to_contain_text("岗位 政企维护员 已添加")
    expect(page.locator('#post-table tr[data-post="gov_maint"]')).to_contain_text("政企维护员")

    # 组织机构: a unit under 广州
    page.locator(".subnav").get_by_role("link", name="组织机构").click()
    page.fill("#u-code", "GZ-ZQ")
    page.fill("#u-name", "广州政企维护中心")
    page.select_option("#u-parent", "GZ")
    page.locator("#add-unit-button").click()
    expect(flash(page)).to_contain_text("单位 广州政企维护中心 已添加")
    expect(page.locator('li[data-unit="GZ"] li[data-unit="GZ-ZQ"]')).to_be_visible()
    screenshot(page, "admin-org")

    # 用户: a person holding the post in the new unit; a weak password is refused first, nothing stored
    page.locator(".subnav").get_by_role("link", name="用户").click()
    page.locator("#new-user").click()
    page.fill("#f-username", "zq_wang")
    page.fill("#f-name", "王政企")
    page.fill("#f-password", "short")
    page.select_option("#f-org", "GZ-ZQ")
    page.locator("#f-posts label", has_text="政企维护员").locator("input").check()
    page.fill("#f-phone", "13900001111")
    page.locator("#save-user").click()
    expect(page.locator("main .alert-error")).to_contain_text("密码")
    expect(page.locator("#f-username")).to_have_value("zq_wang")  # what was typed stays
    page.fill("#f-password", NEW_PASSWORD)
    page.locator("#save-user").click()
    expect(flash(page)).to_contain_text("用户 王政企 已创建")
    expect(page.locator("h1")).to_contain_text("王政企")
    screenshot(page, "admin-user")

    # 派单规则: 广州 × 专线 → the new post in the new unit, counted on working days
    page.locator(".subnav").get_by_role("link", name="派单规则").click()
    page.select_option("#r-region", "GZ")
    page.fill("#r-type", "专线")
    page.select_option("#r-post", "gov_maint")
    page.select_option("#r-unit", "GZ-ZQ")
    page.select_option("#r-calendar", "workday")
    page.locator("#save-rule").click()
    expect(flash(page)).to_contain_text("派单规则已保存")
    page.select_option("#t-region", "GZ")
    page.fill("#t-type", "专线")
    page.locator("#route-test button").click()
    expect(page.locator("#route-result")).to_contain_text("政企维护员")  # the tester names the rule a fault meets
    expect(page.locator("#route-result")).to_contain_text("gov_maint")
    screenshot(page, "admin-routing")

    # 工作日历: Thursday 2026-03-05 becomes a holiday
    page.locator(".subnav").get_by_role("link", name="工作日历").click()
    page.fill("#d-day", "2026-03-05")
    page.select_option("#d-kind", "holiday")
    page.fill("#d-note", "测试假日")
    page.locator("#save-day").click()
    expect(flash(page)).to_contain_text("2026-03-05 已设为节假日")
    expect(page.locator('#year-grid td[data-day="2026-03-05"]')).to_have_attribute("data-kind", "holiday")
    expect(page.locator('#override-table tr[data-day="2026-03-05"]')).to_contain_text("测试假日")
    screenshot(page, "admin-calendar")

    # 审计日志: each change, by whom
    page.locator(".subnav").get_by_role("link", name="审计日志").click()
    page.select_option("#a-source", "admin")
    page.locator("#audit-filters button").click()
    for action in ("post.create", "org.create", "user.create", "routing.save", "calendar.set"):
        expect(page.locator(f'#audit-table tr[data-action="{action}"]')).to_contain_text("管理员")
    screenshot(page, "admin-audit")
    logout(page)

    # the 广州 dispatcher reports a 专线 fault and accepts it
    login(page, base, "gz_dispatcher")
    page.goto(f"{base}/orders/new/aftersales_fault")
    page.fill("#f-customer", "广州市政务服务数据管理局")
    page.fill("#f-customer_phone", "13800138000")
    page.fill("#f-circuit", "GD-GZ-ZX-7001")
    page.select_option("#f-region", "GZ")
    page.select_option("#f-service_type", "专线")
    page.select_option("#f-fault_type", "中断")
    page.select_option("#f-priority", "高")
    page.fill("#f-description", "政务外网专线中断")
    page.locator("#start-form button[type=submit]").click()
    match = re.search(r"工单 (\S+) 已发起", flash(page).first.inner_text())
    assert match, flash(page).first.inner_text()
    key = match.group(1)
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")
    page.locator("#complete-form button[type=submit]").click()
    expect(flash(page)).to_contain_text("下一环节：故障处理")
    logout(page)

    # the new person finds 故障处理 in the 待办, its deadline on Friday 11:30 (the holiday skipped)
    login(page, base, "zq_wang", NEW_PASSWORD)
    row = page.locator("#panel-todo tbody tr").filter(has_text=key).filter(has_text="故障处理")
    expect(row).to_have_count(1)
    row.get_by_role("link", name=key).click()
    expect(page.locator("h1")).to_contain_text("故障处理")
    due = page.locator(".facts div", has=page.locator("dt", has_text="时限")).locator("dd")
    expect(due).to_contain_text("2026-03-06 11:30")
    expect(due).to_contain_text("工作时间")
    screenshot(page, "admin-fault-reached")

    with db.sessions() as s:
        task = s.scalars(select(HumanTask).where(HumanTask.business_key == key, HumanTask.node_id == "handle")).one()
        assert task.calendar == "workday" and task.time_limit == "PT4H"
        assert task.due_at == datetime(2026, 3, 6, 3, 30, tzinfo=UTC)  # 11:30 in Beijing
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"post.create", "org.create", "user.create", "routing.save", "calendar.set"} <= actions
