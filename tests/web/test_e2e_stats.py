"""End to end in a real browser (Debian's chromium through Playwright): the supervisor reads 统计分析.

On the world of tests/stats/stats_world.py the Guangzhou supervisor signs in, opens the statistics page for
28 February – 4 March and reads the chart the page drew: two straight lines (ECharts' ``smooth`` is false, read
from the chart instance itself) with a point on every day of the range, 0 on the days nothing was finished.
按人员 lists people only; the three steps nobody has claimed are counted under the table. He switches to 按流程
with the keyboard and the work-order columns appear. The dashboard's daily line is straight too.
Screenshots: artifacts/screenshots/stats-by-person.png, stats-by-flow.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, Database, FakeClock
from tests.stats import stats_world as w
from tests.web.conftest import screenshot

OPTION = """(id) => {
  const option = window.echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return {axis: option.xAxis[0].data,
          series: option.series.map((s) => ({name: s.name, type: s.type, smooth: s.smooth, data: s.data}))};
}"""


@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    app = w.make_app(db, tmp_path, clock, storage)
    w.build(app, db, clock)
    return app


def chart_option(page: Page, element_id: str) -> dict[str, Any]:
    expect(page.locator(f"#{element_id} canvas")).to_have_count(1)
    return page.evaluate(OPTION, element_id)


def test_the_statistics_chart_is_straight_and_unclaimed_work_is_no_person(
        live_server: str, page: Page, db: Database) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/auth/login")
    page.fill("#username", "sup")
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/supervisor/$"))

    # the dashboard's daily line: straight
    dashboard = chart_option(page, "chart-throughput")
    assert [s["smooth"] for s in dashboard["series"]] == [False]

    page.goto(f"{live_server}/stats/?from={w.RANGE['from']}&to={w.RANGE['to']}")
    expect(page.locator("h1")).to_have_text("统计分析 / 考核")
    option = chart_option(page, "chart-daily")
    assert option["axis"] == w.DAYS
    assert option["series"] == [
        {"name": "完成环节", "type": "line", "smooth": False, "data": w.STEPS_PER_DAY},
        {"name": "完成工单", "type": "line", "smooth": False, "data": w.ORDERS_PER_DAY},
    ]
    expect(page.locator(".stats-chart h2")).to_have_text("每日完成")

    people = page.locator("#table-1")
    expect(people.locator("h2")).to_have_text("按人员")
    names = people.locator("tbody tr td:first-child")
    expect(names).to_have_text(["广州调度员", "迈克", "广州回单审核员", "广州客服代表", "艾丽"])
    expect(people.locator("tbody tr", has_text="未签收")).to_have_count(0)
    expect(people.locator("thead th", has_text="完成工单")).to_have_count(0)
    expect(people.locator(".stats-note").first).to_have_text(
        f"未签收（岗位待签收）：{w.UNCLAIMED} 项，其中超时 {w.UNCLAIMED_OVERDUE} 项")
    open_cells = people.locator("tbody tr td:nth-child(5)").all_inner_texts()
    assert sum(int(n) for n in open_cells) + w.UNCLAIMED == w.open_steps(db)
    page.wait_for_timeout(1500)  # the picture only: the lines' drawing animation has ended
    screenshot(page, "stats-by-person")

    # 按流程 chosen with the keyboard: the work-order columns are there, no note under the table
    page.locator("select[name=by]").focus()
    page.keyboard.press("End")
    expect(page.locator("select[name=by]")).to_have_value("flow")
    page.locator("#stats-form button.btn-primary").press("Enter")
    expect(page).to_have_url(re.compile(r"by=flow"))
    flows = page.locator("#table-1")
    expect(flows.locator("h2")).to_have_text("按流程")
    expect(flows.locator("thead th", has_text="每单退回")).to_have_count(1)
    expect(flows.locator("tbody tr td:first-child")).to_have_text(["售后故障"])
    expect(flows.locator(".stats-note")).to_have_count(0)
    assert chart_option(page, "chart-daily")["series"][0]["data"] == w.STEPS_PER_DAY
    page.wait_for_timeout(1500)
    screenshot(page, "stats-by-flow")
    assert errors == []
