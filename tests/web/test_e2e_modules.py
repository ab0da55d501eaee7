"""End to end in a real browser (Debian's chromium through Playwright): the main path of each business module.

工程项目 (a project set up through 项目立项, then a fault started for it), 运维成本 (a 维护成本申请 above the finance
threshold through 部门审批 and 财务审批, spent against the unit's budget), 考核 (a definition and the monthly figure
with its drill-down), 公告通知 (published to 广州, read by alice, the receipts) and 个人设置 (password, phone, SMS).
Steps a story does not look at are set up through the engine. Screenshots: e2e-project-*, e2e-cost-*, e2e-kpi-*,
e2e-notice-*, e2e-settings under artifacts/screenshots/.
"""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from engine.core import ProcessEngine
from tests.conftest import PASSWORD, Database, user
from tests.web.conftest import screenshot

FAULT = {"customer": "中山大学附属医院", "customer_phone": "13912345678", "vip": False, "circuit": "GD-GZ-ZX-1001",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高",
         "description": "客户反映专线业务中断"}
ACCEPT = {"fault_type": "中断", "priority": "紧急", "accept_note": "已电话核实"}
HANDLE = {"progress": "已到场排查，定位光缆中断", "onsite": True}
PROJECT = {"project_name": "广州地铁十八号线通信保障工程", "customer": "广州地铁集团有限公司",
           "contract_no": "HT-GZ-2026-018", "contract_amount": "1280000", "budget": "960000",
           "start_date": "2026-04-01", "end_date": "2026-12-31"}


# -- browser helpers ---------------------------------------------------------------------------------------
def login(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))
    page.wait_for_load_state()


def logout(page: Page) -> None:
    page.locator(".topbar form button.link").click()
    expect(page).to_have_url(re.compile(r"/auth/login$"))


def flash(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("main .alert[role=status]")


def nav(page: Page, name: str) -> None:
    page.locator(".topbar nav").get_by_role("link", name=name, exact=True).click()


def started_key(page: Page) -> str:
    expect(flash(page)).to_contain_text("已发起")
    match = re.search(r"工单 (\S+) 已发起", flash(page).first.inner_text())
    assert match, flash(page).first.inner_text()
    return match.group(1)


def open_task(page: Page, key: str, step: str) -> None:
    """From the portal's 待办, open ``step`` of work order ``key``; waits for the form-js viewer."""
    row = page.locator("#panel-todo tbody tr").filter(has_text=key).filter(has_text=step)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=key).click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("h1")).to_contain_text(step)
    expect(page.locator("#form-viewer")).to_have_attribute("data-ready", "true")


def viewer_field(page: Page, label: str):  # type: ignore[no-untyped-def]
    return page.locator("#form-viewer .fjs-form-field:not(.fjs-form-field-grouplike)").filter(
        has=page.locator(".fjs-form-field-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")))


def pick(page: Page, label: str, option: str) -> None:
    """Tick ``option`` of the viewer's radio field ``label``."""
    viewer_field(page, label).get_by_label(option, exact=True).check()


def submit_task(page: Page, step: str) -> None:
    page.locator("#complete-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(flash(page)).to_contain_text(f"已提交：{step}。")


def fill_fault(page: Page) -> None:
    for key in ("customer", "customer_phone", "circuit", "description"):
        page.fill(f"#f-{key}", str(FAULT[key]))
    for key in ("region", "service_type", "fault_type", "priority"):
        page.select_option(f"#f-{key}", str(FAULT[key]))


# -- engine helpers ---------------------------------------------------------------------------------------------
def engine_of(app: Flask) -> ProcessEngine:
    return app.extensions["eoms"]["engine"]  # type: ignore[no-any-return]


def finished_fault(app: Flask, db: Database, key: str) -> None:
    """A fault reported by gz_dispatcher, accepted, and its 故障处理 done by gz_maintainer (now, so this month)."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        (accept,) = pe.runtime.start(s, "aftersales_fault", business_key=key, data=dict(FAULT),
                                     actor=user(s, pe, "gz_dispatcher")).tasks
        (handle,) = pe.tasks.complete(s, accept.id, user(s, pe, "gz_dispatcher"), dict(ACCEPT))
        pe.tasks.complete(s, handle.id, user(s, pe, "gz_maintainer"), dict(HANDLE))


# -- the stories -----------------------------------------------------------------------------------------------
def test_project_set_up_reviewed_and_a_fault_started_for_it(live_server: str, page: Page) -> None:
    base = live_server
    login(page, base, "gz_project_manager")
    nav(page, "工程项目")
    expect(page).to_have_url(re.compile(r"/projects/$"))
    page.locator("#new-project").click()
    expect(page).to_have_url(re.compile(r"/orders/new/project_setup$"))
    expect(page.locator("#f-project_id")).to_have_count(0)  # a project does not belong to a project
    for name, value in PROJECT.items():
        page.fill(f"#f-{name}", value)
    expect(page.locator("#f-start_date")).to_have_attribute("type", "date")
    screenshot(page, "e2e-project-start")
    page.locator("#start-form button[type=submit]").click()
    key = started_key(page)
    logout(page)

    # 项目审核 reaches the reviewer's 待办; 通过 sets the project up
    login(page, base, "gz_project_reviewer")
    open_task(page, key, "项目审核")
    expect(page.locator("#task-business")).to_contain_text(PROJECT["customer"])
    expect(page.locator("#task-business")).to_contain_text(PROJECT["contract_no"])
    pick(page, "审核结论", "通过，予以立项")
    viewer_field(page, "审核意见").locator("textarea").fill("合同与预算齐全，同意立项")
    screenshot(page, "e2e-project-review")
    submit_task(page, "项目审核")

    # 项目查询 and 合同查询 show it 在建
    nav(page, "工程项目")
    row = page.locator(f'#project-table tr[data-project="{key}"]')
    expect(row).to_contain_text(PROJECT["project_name"])
    expect(row).to_contain_text(PROJECT["customer"])
    expect(row).to_contain_text("960,000.00")
    expect(row).to_contain_text("广州项目经理")
    expect(row.locator("td").last).to_have_text("在建")
    screenshot(page, "e2e-project-list")
    page.locator(".subnav").get_by_role("link", name="合同查询").click()
    contract = page.locator(f'#contract-table tr[data-contract="{PROJECT["contract_no"]}"]')
    expect(contract).to_contain_text("1,280,000.00")
    expect(contract).to_contain_text("2026-04-01")
    expect(contract).to_contain_text("2026-12-31")
    expect(contract.locator("td").last).to_have_text("在建")
    screenshot(page, "e2e-project-contracts")
    logout(page)

    # a fault started for the project is listed on the project's page
    login(page, base, "gz_dispatcher")
    page.goto(f"{base}/orders/new/aftersales_fault")
    page.select_option("#f-project_id", label=f"{key} {PROJECT['project_name']}")
    fill_fault(page)
    page.locator("#start-form button[type=submit]").click()
    fault = started_key(page)
    nav(page, "工程项目")
    page.locator(f'#project-table tr[data-project="{key}"]').get_by_role("link", name=key).click()
    expect(page.locator("h1")).to_contain_text(PROJECT["project_name"])
    expect(page.locator("h1 .badge")).to_have_text("在建")
    expect(page.locator("#project-facts")).to_contain_text(PROJECT["contract_no"])
    order = page.locator(f'#project-orders tr[data-order="{fault}"]')
    expect(order).to_contain_text("售后故障")
    expect(page.locator("section.card h2", has_text="项目工单").locator(".count")).to_have_text("1")
    screenshot(page, "e2e-project-show")


def test_cost_request_above_the_finance_threshold_is_approved_twice_and_spent(live_server: str, page: Page) -> None:
    base = live_server
    login(page, base, "gz_maintainer")
    nav(page, "运维成本")
    expect(page).to_have_url(re.compile(r"/costs/$"))
    page.locator("#new-cost").click()
    expect(page).to_have_url(re.compile(r"/orders/new/cost_request$"))
    page.select_option("#f-category", "line")
    page.fill("#f-amount", "8000")
    page.fill("#f-description", "天河片区光缆抢修熔接材料及人工")
    screenshot(page, "e2e-cost-start")
    page.locator("#start-form button[type=submit]").click()
    key = started_key(page)
    logout(page)

    login(page, base, "gz_dept_approver")
    open_task(page, key, "部门审批")
    pick(page, "部门意见", "同意")
    screenshot(page, "e2e-cost-dept")
    submit_task(page, "部门审批")
    expect(flash(page)).to_contain_text("下一环节：财务审批")  # 8000 > 5000
    logout(page)

    login(page, base, "gz_finance_approver")
    open_task(page, key, "财务审批")
    pick(page, "财务意见", "同意")
    submit_task(page, "财务审批")
    logout(page)

    # the applicant sees it archived among his own requests
    login(page, base, "gz_maintainer")
    nav(page, "运维成本")
    row = page.locator(f'#cost-table tr[data-cost="{key}"]')
    expect(row).to_contain_text("线路维护")
    expect(row).to_contain_text("8,000.00")
    expect(row).to_contain_text("财务审批")
    expect(row.locator("td").last).to_have_text("已归档")
    screenshot(page, "e2e-cost-list")
    logout(page)

    # the administrator sets 广州's budget: the 8000 counts as spent against it
    login(page, base, "admin")
    nav(page, "运维成本")
    page.locator(".subnav").get_by_role("link", name="预算执行").click()
    expect(page).to_have_url(re.compile(r"/costs/budgets"))
    form = page.locator("#budget-form")
    gz = form.locator("#b-unit option", has_text="广州市").get_attribute("value")
    assert gz
    form.locator("#b-unit").select_option(gz)
    form.locator("#b-amount").fill("100000")
    form.locator("#save-budget").click()
    expect(flash(page)).to_contain_text("预算已保存")
    line = page.locator('#budget-table tr[data-unit="GZ"]')
    expect(line.locator("td").nth(1)).to_have_text("100,000.00")
    expect(line.locator("td").nth(2)).to_have_text("8,000.00")
    expect(line.locator("td").nth(3)).to_have_text("0.00")
    expect(line.locator("td").nth(4)).to_have_text("92,000.00")
    expect(line.locator("td").nth(5)).to_have_text("8.0%")
    screenshot(page, "e2e-cost-budgets")

    page.locator(".subnav").get_by_role("link", name="审批金额与类别").click()
    expect(page).to_have_url(re.compile(r"/costs/settings$"))
    expect(page.locator("#t-finance")).to_have_value("5000.00")
    expect(page.locator("#t-leader")).to_have_value("50000.00")
    expect(page.locator('#category-table tr[data-category="line"]')).to_contain_text("线路维护")
    screenshot(page, "e2e-cost-settings")


def test_cost_approver_sees_what_is_asked_on_the_task_page(live_server: str, page: Page, web_app: Flask,
                                                           db: Database) -> None:
    pe, key = engine_of(web_app), "GZ-E2E-COST"
    with db.sessions.begin() as s:
        pe.runtime.start(s, "cost_request", business_key=key, actor=user(s, pe, "gz_maintainer"),
                         data={"category": "line", "amount": 8000, "description": "天河片区光缆抢修熔接材料"})
    login(page, live_server, "gz_dept_approver")
    open_task(page, key, "部门审批")
    shown = page.locator("main")  # what is on the screen (innerText: not the viewer's data script)
    expect(shown).to_contain_text("天河片区光缆抢修熔接材料", use_inner_text=True, timeout=2_000)
    expect(shown).to_contain_text(re.compile(r"8,?000"), use_inner_text=True, timeout=2_000)
    expect(shown).to_contain_text("线路维护", use_inner_text=True, timeout=2_000)


def test_kpi_definition_and_the_monthly_figure_with_its_drill_down(live_server: str, page: Page, web_app: Flask,
                                                                   db: Database) -> None:
    base, keys = live_server, ["GZ-E2E-KPI-1", "GZ-E2E-KPI-2"]
    for key in keys:
        finished_fault(web_app, db, key)

    login(page, base, "admin")
    page.goto(f"{base}/kpi/definitions")
    page.fill("#k-name", "故障处理及时率")
    page.select_option("#k-flow", "aftersales_fault")
    page.fill("#k-node", "handle")
    page.select_option("#k-measure", label="及时率")
    page.fill("#k-target", "0.9")
    page.fill("#k-weight", "40")
    page.locator("#save-definition").click()
    expect(flash(page)).to_contain_text("考核指标“故障处理及时率”已保存。")
    row = page.locator('#definition-table tr[data-definition="故障处理及时率"]')
    expect(row).to_contain_text("售后故障 / 故障处理")
    expect(row).to_contain_text("90.0%")
    expect(row).to_contain_text("40")
    screenshot(page, "e2e-kpi-definitions")

    nav(page, "考核")
    expect(page).to_have_url(re.compile(r"/kpi/assessment$"))
    person = page.locator("#assessment-table tbody tr").filter(has_text="广州维护员")
    expect(person).to_have_count(1)
    figure = person.locator("a[data-definition]")
    expect(figure).to_have_text("100.0%")
    expect(person.locator("td").nth(1)).to_have_text("100.0")
    expect(person.locator("td").nth(2).locator(".small")).to_have_text("2")
    expect(page.locator("#assessment-table tbody tr").filter(has_text="广州调度员")).to_have_count(0)  # not handle
    screenshot(page, "e2e-kpi-assessment")

    figure.click()
    expect(page).to_have_url(re.compile(r"/kpi/assessment/drill\?"))
    expect(page.locator("h1")).to_have_text("故障处理及时率 · 广州维护员")
    expect(page.locator("#drill-figure")).to_contain_text("100.0%")
    for key in keys:
        step = page.locator(f'#drill-table tr[data-order="{key}"]')
        expect(step).to_contain_text("故障处理")
        expect(step).to_contain_text("广州维护员")
        expect(step.locator("td").last).to_have_text("是")
    screenshot(page, "e2e-kpi-drill")


def test_notice_for_guangzhou_is_read_by_alice_and_the_receipts_say_so(live_server: str, page: Page) -> None:
    base, title = live_server, "五一假期值班安排"
    login(page, base, "admin")
    nav(page, "系统管理")
    page.locator(".subnav").get_by_role("link", name="公告").click()
    expect(page).to_have_url(re.compile(r"/notices/manage$"))
    page.locator("#new-notice").click()
    page.fill("#n-title", title)
    page.fill("#n-body", "五一期间各维护班组按值班表到岗，故障工单须在时限内处理。")
    page.locator('input[name=audience][value="units"]').check()
    gz = page.locator("#n-units option", has_text="广州市").get_attribute("value")
    assert gz
    page.select_option("#n-units", [gz])
    page.locator("input[name=pinned]").check()
    screenshot(page, "e2e-notice-form")
    page.locator("#save-notice").click()
    expect(page).to_have_url(re.compile(r"/notices/manage$"))
    expect(flash(page)).to_contain_text(f"公告“{title}”已发布。")
    row = page.locator("#notice-table tbody tr").filter(has_text=title)
    expect(row).to_contain_text("置顶")
    expect(row).to_contain_text("指定单位")
    expect(row).to_contain_text("生效中")
    expect(row.locator(".receipt-count")).to_have_text(re.compile(r"^0 / [1-9]\d*$"))
    notice_id = row.get_attribute("data-notice")
    screenshot(page, "e2e-notice-manage")
    logout(page)

    login(page, base, "alice")
    item = page.locator(f'#panel-announcements article[data-notice="{notice_id}"]')
    expect(item).to_contain_text(title)
    expect(item.locator(".badge", has_text="置顶")).to_be_visible()
    expect(item.locator(".badge", has_text="未读")).to_be_visible()
    screenshot(page, "e2e-notice-portal")
    item.get_by_role("link", name=title).click()
    expect(page.locator("#notice h1")).to_contain_text(title)
    expect(page.locator("#notice .notice-body")).to_contain_text("按值班表到岗")
    screenshot(page, "e2e-notice-show")
    nav(page, "个人门户")
    expect(item.locator(".badge", has_text="未读")).to_have_count(0)
    logout(page)

    login(page, base, "admin")
    page.goto(f"{base}/notices/{notice_id}/receipts")
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator('#read-table tr[data-user="alice"]')).to_contain_text("艾丽")
    expect(page.locator("#read-table tbody tr")).to_have_count(1)
    for name in ("mike", "gz_maintainer", "sup"):
        expect(page.locator(f'#unread-table tr[data-user="{name}"]')).to_contain_text("广州市")
    for outside in ("carol", "admin"):  # 深圳 and 广东省 are not 广州
        expect(page.locator(f'tr[data-user="{outside}"]')).to_have_count(0)
    expect(page.locator("#receipt-summary")).to_contain_text("已读 1 人")
    screenshot(page, "e2e-notice-receipts")


def test_alice_changes_password_phone_and_sms_then_logs_in_again(live_server: str, page: Page) -> None:
    base, new_password = live_server, "NewPass2026"
    login(page, base, "alice")
    page.locator(".topbar a.user-name").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("h1")).to_contain_text("个人设置")

    card = page.locator("#password-card")
    card.locator("#p-current").fill("wrong-one1")
    card.locator("#p-new").fill(new_password)
    card.locator("#p-again").fill(new_password)
    card.locator("#change-password").click()
    expect(page.locator("main .alert-error")).to_contain_text("当前密码")
    expect(page.locator("#password-card .field-error .error-text")).to_have_text("当前密码不正确")
    screenshot(page, "e2e-settings-wrong-password")
    card = page.locator("#password-card")
    card.locator("#p-current").fill(PASSWORD)
    card.locator("#p-new").fill(new_password)
    card.locator("#p-again").fill(new_password)
    card.locator("#change-password").click()
    expect(flash(page)).to_contain_text("密码已修改")

    profile = page.locator("#profile-card")
    profile.locator("#s-phone").fill("13922223333")
    dispatch = profile.get_by_label("派单通知")
    expect(dispatch).to_be_checked()
    dispatch.uncheck()
    profile.locator("#save-profile").click()
    expect(flash(page)).to_contain_text("个人设置已保存。")
    expect(page.locator("#s-phone")).to_have_value("13922223333")
    expect(page.locator("#profile-card").get_by_label("派单通知")).not_to_be_checked()
    expect(page.locator("#profile-card").get_by_label("催办")).to_be_checked()
    screenshot(page, "e2e-settings")
    logout(page)

    page.goto(f"{base}/auth/login")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.locator("form.login-card button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))  # the old password no longer works
    expect(page.locator("form.login-card")).to_contain_text("用户名或密码错误。")
    login(page, base, "alice", new_password)
    expect(page.locator(".topbar .user-name")).to_have_text("艾丽")

