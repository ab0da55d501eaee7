"""End to end in a real browser (Debian's chromium through Playwright): the supervisor's day.

The Guangzhou supervisor signs in and lands on his dashboard, opens the overdue work order from the 当前超时
card, sees it on its diagram (故障处理 marked overdue, its badge saying by how much), urges it (the worker then
sends the 催办 SMS to whoever has it), hands it to another maintainer (转派) and opens the heatmap of the flow,
whose diagram draws and whose slowest-steps table lists 故障处理 first. The app's engine reads a clock the test
sets, so "overdue" is exact. Screenshots: artifacts/screenshots/dashboard.png, instance-diagram.png,
heatmap.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.history.models import HistoryEvent
from engine.tasks.models import HumanTask
from engine.worker import Worker
from handlers import build_registry
from handlers.dispatch import add_rule
from handlers.sms.models import SmsMessage
from tests.conftest import PASSWORD, PROCESSES_DIR, Database, FakeClock
from tests.web.conftest import TEMPLATES, screenshot, web_settings
from webapp import create_app

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Guangzhou
M = timedelta(minutes=1)
FAULT = {"customer": "广东省人民医院", "customer_phone": "13800002002", "vip": False, "circuit": "GZ-ZX-0002",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
ACCEPT = {"fault_type": "中断", "priority": "高"}
HANDLE = {"progress": "已到场处理", "onsite": True}


@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    """The app (and so the live server) on an engine that reads the test's clock; 售后故障 deployed, faults
    routed to the maintainers of GZ."""
    engine = ProcessEngine(build_registry(), clock=clock, attachments=AttachmentPolicy(storage))
    app = create_app(web_settings(db, tmp_path), engine)
    app.jinja_env.bytecode_cache = TEMPLATES
    app.config["TESTING"] = True
    with db.sessions.begin() as s:
        for path in sorted((PROCESSES_DIR / "forms").glob("fault_*.json")):
            engine.forms.deploy(s, path.stem, path.read_bytes(), path.name)
        engine.repository.deploy(s, (PROCESSES_DIR / "aftersales_fault.bpmn").read_bytes(), "aftersales_fault.bpmn")
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    return app


class Engine:
    """The steps the story does not look at, through the app's engine at the clock's time."""

    def __init__(self, app: Flask, db: Database, clock: FakeClock):
        self.pe: ProcessEngine = app.extensions["eoms"]["engine"]
        self.db, self.clock = db, clock

    def start(self, key: str, at: datetime) -> int:
        self.clock.now = at
        with self.db.sessions.begin() as s:
            return self.pe.runtime.start(s, "aftersales_fault", business_key=key, data=dict(FAULT),
                                         actor=self.pe.identity.get_user(s, "gz_dispatcher")).instance.id

    def open_task(self, instance_id: int, node_id: str) -> HumanTask:
        with self.db.sessions() as s:
            return s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.node_id == node_id,
                                                     HumanTask.status == "ready")).one()

    def act(self, method: str, instance_id: int, node_id: str, username: str, *args: Any, after: timedelta = M,
            **kwargs: Any) -> None:
        task_id = self.open_task(instance_id, node_id).id
        self.clock.advance(seconds=after.total_seconds())
        with self.db.sessions.begin() as s:
            getattr(self.pe.tasks, method)(s, task_id, self.pe.identity.get_user(s, username), *args, **kwargs)

    def user_id(self, username: str) -> int:
        with self.db.sessions() as s:
            return self.pe.identity.get_user(s, username).id


def overlay(page: Page, element_id: str):  # type: ignore[no-untyped-def]
    """The badge bpmn-js placed on a diagram element."""
    return page.locator(f'.djs-overlays[data-container-id="{element_id}"] .eoms-badge')


def test_supervisor_opens_an_overdue_order_urges_reassigns_and_reads_the_heatmap(
        live_server: str, page: Page, web_app: Flask, db: Database, clock: FakeClock) -> None:
    base, engine = live_server, Engine(web_app, db, clock)
    # E-01: 故障处理 claimed by gz_maintainer 4 h 50 min ago, 50 minutes past its 4 hours
    late = engine.start("E-01", NOW - 300 * M)
    engine.act("complete", late, "accept", "gz_dispatcher", ACCEPT, after=10 * M)
    engine.act("claim", late, "handle", "gz_maintainer")
    # E-02: 故障处理 done in 3 hours, now at 恢复回单 with time to spare; E-03: just reported
    done = engine.start("E-02", NOW - 240 * M)
    engine.act("complete", done, "accept", "gz_dispatcher", ACCEPT, after=5 * M)
    engine.act("complete", done, "handle", "mike", HANDLE, after=180 * M)
    engine.start("E-03", NOW - 2 * M)
    clock.now = NOW
    handle = engine.open_task(late, "handle")

    # sign in: a supervisor lands on his dashboard; one work order is overdue
    page.goto(f"{base}/auth/login")
    page.fill("#username", "sup")
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/supervisor/$"))
    expect(page.locator("h1")).to_have_text("监控台")
    expect(page.locator("#kpi-overdue")).to_have_text("1")
    for chart in ("#chart-open", "#chart-throughput", "#chart-handling"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    screenshot(page, "dashboard")

    # 当前超时 → the list of overdue orders → E-01
    page.locator("a.kpi-overdue").click()
    expect(page).to_have_url(re.compile(r"/supervisor/instances\?timing=overdue&status=running$"))
    rows = page.locator("#instance-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("故障处理")
    expect(rows.first).to_contain_text("广州维护员")
    expect(rows.first.locator(".badge-overdue")).to_have_text("已超时 50分")
    rows.first.get_by_role("link", name="E-01").click()
    expect(page).to_have_url(re.compile(rf"/supervisor/instances/{late}$"))

    # the diagram: 故障受理 done, 故障处理 overdue, its badge telling by how much
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(page.locator('.djs-element[data-element-id="handle"].eoms-overdue')).to_have_count(1)
    expect(page.locator('.djs-element[data-element-id="accept"].eoms-done')).to_have_count(1)
    expect(page.locator(".djs-element.eoms-current")).to_have_count(0)
    expect(overlay(page, "handle")).to_have_text("×1 · 超时 50分")
    expect(overlay(page, "handle")).to_have_class(re.compile(r"eoms-badge-overdue"))
    expect(overlay(page, "accept")).to_have_text("×1 · 10分")
    assert diagram.bounding_box()["height"] > 300  # type: ignore[index]
    expect(page.locator("#timeline")).to_contain_text("签收")
    screenshot(page, "instance-diagram")

    # 催办: from the current step to its task page's actions; the worker sends the SMS to whoever has it
    page.get_by_role("link", name="催办 / 改派 / 挂起").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{handle.id}#task-actions$"))
    actions = page.locator("#task-actions")
    actions.locator("summary", has_text="催办").click()
    actions.locator("input[name=note]").fill("客户投诉，请一小时内恢复")
    actions.get_by_role("button", name="发送催办短信").click()
    expect(page.locator("main .alert[role=status]")).to_contain_text("已催办，短信已发出。")
    with db.sessions() as s:
        assert s.scalars(select(SmsMessage).where(SmsMessage.template == "urge")).all() == []
    report = Worker(engine.pe, db.sessions, "e2e-supervisor").tick()
    assert report.errors == 0, report
    with db.sessions() as s:
        (sms,) = s.scalars(select(SmsMessage).where(SmsMessage.template == "urge")).all()
        assert (sms.user_id, sms.phone, sms.status, sms.instance_id) == (
            engine.user_id("gz_maintainer"), "13800000008", "stored", late)
        assert sms.text == "【EOMS】催办：主管甲催办工单E-01的“故障处理”环节，请尽快处理。客户投诉，请一小时内恢复"

    # 转派 to another maintainer, with a reason; the order's page then names him
    actions = page.locator("#task-actions")
    actions.locator("summary", has_text="转派").click()
    actions.locator("input[name=target]").fill("user:mike")
    actions.locator("input[name=reason]").first.fill("原处理人外出，转迈克")
    actions.get_by_role("button", name="确认转派").click()
    expect(page.locator("main .alert[role=status]")).to_contain_text("已转派。")
    assert engine.open_task(late, "handle").assignee_id == engine.user_id("mike")
    with db.sessions() as s:
        transferred = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == late,
                                                           HistoryEvent.event_type == "task_transferred")).one()
        assert transferred.payload["to_user"] == "mike" and transferred.payload["reason"] == "原处理人外出，转迈克"
    page.goto(f"{base}/supervisor/instances/{late}")
    current = page.locator("section.card", has=page.locator("h2", has_text="当前环节"))
    expect(current).to_contain_text("迈克")
    expect(page.locator("#timeline")).to_contain_text("催办")
    expect(page.locator("#timeline")).to_contain_text("转派")

    # the heatmap of 售后故障: the diagram coloured by mean time, 故障处理 the slowest
    page.locator(".topbar nav").get_by_role("link", name="热力图").click()
    expect(page).to_have_url(re.compile(r"/supervisor/heatmap$"))
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")
    expect(page.locator('.djs-element[data-element-id="handle"].eoms-heat-4')).to_have_count(1)
    expect(overlay(page, "handle")).to_have_text("1 · 3小时 · P90 3小时 · 0%")
    slowest = page.locator("#slowest tbody tr")
    expect(slowest).to_have_count(2)
    expect(slowest.nth(0).locator("td").first).to_have_text("故障处理")
    expect(slowest.nth(1).locator("td").first).to_have_text("故障受理")
    screenshot(page, "heatmap")
