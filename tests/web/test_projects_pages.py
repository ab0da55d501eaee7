"""工程项目管理 through the Flask test client: 项目查询 and 合同查询 with their filters, a project's page with its
work orders of every flow, starting a work order for a project (所属项目) — only an active one —, 结项 by the
project's manager or an administrator only, 项目统计 with its Excel and CSV exports, and the login every page needs.
The app's engine reads the test's clock, so creation dates and deadlines are known exactly."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.runtime.models import ProcessInstance
from handlers import build_registry
from handlers.dispatch import add_rule
from handlers.projects import service as projects
from handlers.projects.models import Project, ProjectOrder
from tests.conftest import Database, FakeClock
from tests.web.conftest import TEMPLATES, csrf_token, web_settings
from tests.web.test_task_pages import FAULT, alerts, client_for, engine_of, flashed, send, start_form, text
from webapp import create_app

PROJECT = {"project_name": "地铁通信保障", "customer": "广州地铁集团", "contract_no": "HT-001",
           "contract_amount": 1280000.5, "budget": 360000.25, "start_date": "2026-03-01", "end_date": "2026-12-31",
           "description": "全线专线维护"}
BAD_INPUT = "输入有误，请检查后重试。"
NOT_NOW = "当前状态不允许此操作。"
NOT_FOUND_FLASH = "记录不存在，或您无权查看。"
SH = timedelta(hours=8)  # Beijing time is UTC+8


@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path, deploy_flows) -> Flask:  # type: ignore[no-untyped-def]
    """The app of tests/web/conftest.py (every flow deployed, * × * routed to the maintainers of GZ) whose engine
    reads the test's clock."""
    engine = ProcessEngine(build_registry(), clock=clock, attachments=AttachmentPolicy(storage))
    app = create_app(web_settings(db, tmp_path), engine)
    app.config["TESTING"] = True
    app.jinja_env.bytecode_cache = TEMPLATES
    deploy_flows(engine)
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    return app


# -- building projects and orders through the engine ------------------------------------------------------------
def set_up(app: Flask, db: Database, code: str, review: str | None = "pass", **changes: Any) -> int:
    """A project through 项目立项 as gz_project_manager, reviewed ``review`` (None: left waiting); its id."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "project_setup", business_key=code, data={**PROJECT, **changes},
                                  actor=pe.identity.get_user(s, "gz_project_manager"))
        (review_task,) = result.tasks
    if review is not None:
        with db.sessions.begin() as s:
            pe.tasks.complete(s, review_task.id, pe.identity.get_user(s, "gz_project_reviewer"),
                              {"review_result": review})
    with db.sessions() as s:
        return s.scalar(select(Project.id).where(Project.code == code))  # type: ignore[return-value]


def registered(app: Flask, db: Database, code: str, unit: str, status: str, created: datetime,
               **fields: Any) -> None:
    """A project registered and decided directly (for the filters: its unit, status and creation time)."""
    with db.sessions.begin() as s:
        found = projects.register(s, {**PROJECT, **fields}, code=code, now=created, instance_id=None,  # type: ignore[arg-type]
                                  org_unit_id=engine_of(app).identity.get_org_unit(s, unit).id, manager_id=None)
        if status != "approving":
            projects.decide(s, found.id, status != "rejected", created)
        if status == "closed":
            projects.close(s, found.id)


def start(app: Flask, db: Database, flow: str, key: str, data: dict[str, Any], starter: str,
          project: str | None = None) -> tuple[int, list[int]]:
    """An order of ``flow`` started through the engine (for ``project``: in its context, and linked to it)."""
    pe = engine_of(app)
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, flow, business_key=key, data=data, actor=pe.identity.get_user(s, starter),
                                  context={"project": project} if project else None)
        if project:
            found = s.scalar(select(Project).where(Project.code == project))
            projects.link_order(s, found.id, result.instance.id, pe.ctx.clock())  # type: ignore[union-attr]
        return result.instance.id, [t.id for t in result.tasks]


def complete(app: Flask, db: Database, task_id: int, username: str, data: dict[str, Any]) -> None:
    pe = engine_of(app)
    with db.sessions.begin() as s:
        pe.tasks.complete(s, task_id, pe.identity.get_user(s, username), data)


# -- reading pages ----------------------------------------------------------------------------------------------
def listed(html: str, attribute: str = "data-project") -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', html)


def status_of(db: Database, project_id: int) -> str:
    with db.sessions() as s:
        return projects.get(s, project_id).status


def rows_of(html: str, table_id: str) -> list[list[str]]:
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]


def count(db: Database, model: type, *where: Any) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# -- tests ------------------------------------------------------------------------------------------------------
def test_anonymous_users_are_sent_to_login(web_app: Flask, db: Database) -> None:
    project_id = set_up(web_app, db, "XM-0001")
    client = web_app.test_client()
    for url in ("/projects/", "/projects/contracts", f"/projects/{project_id}", "/projects/stats",
                "/projects/stats.xlsx", "/projects/stats.csv", "/projects/?q=HT&status=active"):
        response = client.get(url)
        assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/auth/login", url
    token = csrf_token(text(client.get("/auth/login")))
    response = client.post(f"/projects/{project_id}/close", data={"csrf_token": token})
    assert response.status_code == 302 and urlparse(response.headers["Location"]).path == "/auth/login"
    assert status_of(db, project_id) == "active"


def test_the_project_query_lists_exactly_the_projects_that_match(web_app: Flask, db: Database) -> None:
    def at(day: int, hour: int, month: int = 3) -> datetime:  # Beijing wall time
        return datetime(2026, month, day, hour, tzinfo=UTC) - SH

    registered(web_app, db, "XM-A", "GZ", "active", at(1, 0) + timedelta(minutes=30))  # 2026-02-28 16:30 UTC
    registered(web_app, db, "XM-B", "SZ", "rejected", at(5, 9), project_name="政务外网", customer="深圳市政务局",
               contract_no="HT-002")
    registered(web_app, db, "XM-C", "GD", "approving", at(10, 15), project_name="省干线扩容", customer="省电力公司",
               contract_no="SD-777")
    registered(web_app, db, "XM-D", "GZ", "closed", at(28, 23, month=2), project_name="旧站搬迁", customer="100%客户",
               contract_no="GC-009")
    with db.sessions() as s:
        unit = {code: engine_of(web_app).identity.get_org_unit(s, code).id for code in ("GD", "GZ", "SZ")}
    client = client_for(web_app, "alice")
    cases = {
        "": ["XM-C", "XM-B", "XM-A", "XM-D"],  # newest first
        "q=地铁": ["XM-A"], "q=政务局": ["XM-B"], "q=SD-777": ["XM-C"], "q=XM-D": ["XM-D"], "q=HT-00": ["XM-B", "XM-A"],
        "q=100%25": ["XM-D"], "q=%25%E5%AE%A2": ["XM-D"], "q=0%25": ["XM-D"], "q=_": [],  # % and _ are plain text
        "status=active": ["XM-A"], "status=rejected": ["XM-B"], "status=approving": ["XM-C"],
        "status=closed": ["XM-D"], "status=nonsense": ["XM-C", "XM-B", "XM-A", "XM-D"],
        f"unit={unit['GD']}": ["XM-C", "XM-B", "XM-A", "XM-D"], f"unit={unit['GZ']}": ["XM-A", "XM-D"],
        f"unit={unit['SZ']}": ["XM-B"],
        "since=2026-03-01": ["XM-C", "XM-B", "XM-A"], "until=2026-02-28": ["XM-D"],  # Beijing dates
        "since=2026-03-02&until=2026-03-05": ["XM-B"], "since=2026-03-11": [],
        f"q=HT&unit={unit['GZ']}&status=active&until=2026-03-01": ["XM-A"],
    }
    for query, expected in cases.items():
        html = text(client.get(f"/projects/?{query}"))
        assert listed(html) == expected, query
        assert f'<span class="count">{len(expected)}</span>' in html, query
    row = rows_of(text(client.get("/projects/?q=XM-B")), "project-table")[0]
    assert row[:4] == ["XM-B", "政务外网", "深圳市政务局", "深圳市"] and row[-1] == "未立项"


def test_the_contract_query_lists_contract_numbers_and_amounts(web_app: Flask, db: Database) -> None:
    gz_id = set_up(web_app, db, "XM-0001")
    set_up(web_app, db, "XM-0002", "reject", contract_no="HT-002", contract_amount=99.9, customer="深圳市政务局")
    client = client_for(web_app, "gz_maintainer")
    html = text(client.get("/projects/contracts"))
    assert listed(html, "data-contract") == ["HT-002", "HT-001"]
    rows = {r[0]: r for r in rows_of(html, "contract-table")}
    assert rows["HT-001"] == ["HT-001", "广州地铁集团", "1,280,000.50", "地铁通信保障", "广州市", "2026-03-01",
                              "2026-12-31", "在建"]
    assert rows["HT-002"][1:3] == ["深圳市政务局", "99.90"] and rows["HT-002"][-1] == "未立项"
    assert f'href="/projects/{gz_id}">地铁通信保障</a>' in html
    assert listed(text(client.get("/projects/contracts?status=rejected")), "data-contract") == ["HT-002"]
    assert listed(text(client.get("/projects/contracts?q=HT-001")), "data-contract") == ["HT-001"]


def test_a_project_page_lists_its_work_orders_of_every_flow(web_app: Flask, db: Database, clock: FakeClock) -> None:
    project_id = set_up(web_app, db, "XM-0001")
    clock.advance(minutes=1)
    fault_id, _ = start(web_app, db, "aftersales_fault", "GZ-0001", FAULT, "gz_dispatcher", "XM-0001")
    clock.advance(minutes=1)
    cost_id, _ = start(web_app, db, "cost_request", "CB-0001", {"category": "line", "amount": 300.0,
                                                                "description": "材料"}, "gz_maintainer", "XM-0001")
    start(web_app, db, "aftersales_fault", "GZ-0002", FAULT, "gz_dispatcher")  # not the project's
    with db.sessions() as s:
        setup_id = projects.get(s, project_id).instance_id
    html = text(client_for(web_app, "alice").get(f"/projects/{project_id}"))
    assert listed(html, "data-order") == ["GZ-0001", "CB-0001"]
    assert [r[:2] for r in rows_of(html, "project-orders")] == [["GZ-0001", "售后故障"], ["CB-0001", "维护成本申请"]]
    assert f'href="/orders/{fault_id}">GZ-0001</a>' in html and f'href="/orders/{cost_id}">CB-0001</a>' in html
    assert f'href="/orders/{setup_id}">查看立项工单</a>' in html
    for fact in ("XM-0001", "广州地铁集团", "HT-001", "1,280,000.50", "360,000.25", "广州市", "广州项目经理"):
        assert fact in html, fact
    assert client_for(web_app, "alice").get("/projects/999999").status_code == 404


def test_a_fault_started_for_an_active_project_belongs_to_it(web_app: Flask, db: Database) -> None:
    active = set_up(web_app, db, "XM-0001")
    rejected = set_up(web_app, db, "XM-0002", "reject", project_name="被否项目")
    approving = set_up(web_app, db, "XM-0003", None, project_name="审批中项目")
    closed = set_up(web_app, db, "XM-0004", project_name="已结项目")
    with db.sessions.begin() as s:
        projects.close(s, closed)
    client = client_for(web_app, "gz_dispatcher")
    page = "/orders/new/aftersales_fault"
    form = text(client.get(page))
    assert "所属项目" in form and re.findall(r'<option value="(\d+)"', form.split('id="f-project_id"')[1]
                                           .split("</select>")[0]) == [str(active)]  # only the active project
    for bad in (str(rejected), str(approving), str(closed), "abc", "-1"):
        response = send(client, page, start_form(business_key="GZ-BAD", project_id=bad))
        html = text(response)
        assert response.status_code == 409 and 'id="f-project_id"' in html, bad  # the form again, to choose anew
        assert any(m.startswith(BAD_INPUT) for m in alerts(html)), bad
    response = send(client, page, start_form(business_key="GZ-BAD", project_id="999999"))
    assert response.status_code == 409 and NOT_FOUND_FLASH in alerts(text(response))
    assert count(db, ProcessInstance, ProcessInstance.process_key == "aftersales_fault") == 0
    assert count(db, ProjectOrder) == 0
    response = send(client, page, start_form(business_key="GZ-0001", project_id=str(active)))
    assert "工单 GZ-0001 已发起。" in flashed(client, response)
    with db.sessions() as s:
        (fault,) = s.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "aftersales_fault"))
        assert projects.project_of(s, fault.id).id == active  # type: ignore[union-attr]
    assert listed(text(client.get(f"/projects/{active}")), "data-order") == ["GZ-0001"]
    order = text(client.get(f"/orders/{fault.id}"))
    assert re.search(rf'<p id="order-project">所属项目：<a href="/projects/{active}">XM-0001 地铁通信保障</a>', order)


def refused_start_page(app: Flask, db: Database) -> str:
    """The fault start form sent back for a rejected project (an active one exists, so the select is shown)."""
    rejected = set_up(app, db, "XM-0002", "reject")
    set_up(app, db, "XM-0001")
    client = client_for(app, "gz_dispatcher")
    return text(send(client, "/orders/new/aftersales_fault", start_form(project_id=str(rejected))))


def test_a_refused_project_is_named_in_words(web_app: Flask, db: Database) -> None:
    assert f"{BAD_INPUT}所属项目：无效。" in alerts(refused_start_page(web_app, db))


def test_a_refused_project_is_marked_on_the_start_form(web_app: Flask, db: Database) -> None:
    assert '<div class="field field-error"><label for="f-project_id">' in refused_start_page(web_app, db)


def test_the_project_setup_form_offers_no_project(web_app: Flask, db: Database) -> None:
    active = set_up(web_app, db, "XM-0001")
    client = client_for(web_app, "gz_project_manager")
    form = text(client.get("/orders/new/project_setup"))
    assert "项目名称" in form and "合同编号" in form
    assert 'id="f-project_id"' not in form and "所属项目" not in form
    data = {"business_key": "XM-0002", "project_name": "省干线扩容", "customer": "省电力公司", "contract_no": "SD-777",
            "contract_amount": "5000000.00", "budget": "1200000.10", "start_date": "2026-04-01",
            "end_date": "2027-03-31", "description": "", "project_id": str(active)}  # a crafted project is ignored
    assert send(client, "/orders/new/project_setup", data).status_code == 302
    with db.sessions() as s:
        found = s.scalar(select(Project).where(Project.code == "XM-0002"))
        assert found is not None and found.status == "approving" and found.budget == Decimal("1200000.10")
        assert projects.project_of(s, found.instance_id) is None  # type: ignore[arg-type]
    assert count(db, ProjectOrder) == 0


def test_only_the_manager_or_an_administrator_closes_a_project(web_app: Flask, db: Database) -> None:
    first, second = set_up(web_app, db, "XM-0001"), set_up(web_app, db, "XM-0002", project_name="第二个项目")
    for username in ("alice", "gz_project_reviewer", "sup", "boss"):
        client = client_for(web_app, username)
        assert f'action="/projects/{first}/close"' not in text(client.get(f"/projects/{first}")), username
        response = send(client, f"/projects/{first}/close")
        assert response.status_code == 302 and urlparse(response.headers["Location"]).path == f"/projects/{first}"
        assert status_of(db, first) == "active", username
    manager = client_for(web_app, "gz_project_manager")
    assert f'action="/projects/{first}/close"' in text(manager.get(f"/projects/{first}"))
    assert "项目 地铁通信保障 已结项。" in flashed(manager, send(manager, f"/projects/{first}/close"))
    assert status_of(db, first) == "closed"
    assert f'action="/projects/{first}/close"' not in text(manager.get(f"/projects/{first}"))
    assert NOT_NOW in flashed(manager, send(manager, f"/projects/{first}/close"))  # closed already
    admin = client_for(web_app, "admin")
    assert "项目 第二个项目 已结项。" in flashed(admin, send(admin, f"/projects/{second}/close"))
    assert status_of(db, second) == "closed"


def test_project_statistics_and_their_exports(web_app: Flask, db: Database, clock: FakeClock) -> None:
    project_id = set_up(web_app, db, "XM-0001")
    set_up(web_app, db, "XM-0002", "reject", project_name="被否项目", contract_amount=10, budget=5)
    _, (dept,) = start(web_app, db, "cost_request", "CB-0001", {"category": "line", "amount": 1200.5,
                                                                "description": "光缆"}, "gz_maintainer", "XM-0001")
    complete(web_app, db, dept, "gz_dept_approver", {"decision": "pass"})  # ≤ 5000: 部门审批 alone, archived
    start(web_app, db, "cost_request", "CB-0002", {"category": "vehicle", "amount": 800.0, "description": "车辆"},
          "gz_maintainer", "XM-0001")  # still in approval: not yet a cost
    start(web_app, db, "aftersales_fault", "GZ-0001", FAULT, "gz_dispatcher", "XM-0001")
    clock.advance(minutes=31)  # 故障受理 is past its 30 minutes
    with db.sessions() as s:
        assert projects.figures(s, [project_id], clock())[project_id] == projects.ProjectFigures(3, 2, 1)
    mine = ["XM-0001", "地铁通信保障", "在建", 3, 2, 1, 360000.25, 1200.5]
    theirs = ["XM-0002", "被否项目", "未立项", 0, 0, 0, 5.0, 0.0]
    sup = client_for(web_app, "sup")
    html = text(sup.get("/projects/stats"))
    assert rows_of(html, "stats-3") == [["XM-0001", "地铁通信保障", "在建", "3", "2", "1", "360,000.25", "1,200.50"],
                                        ["XM-0002", "被否项目", "未立项", "0", "0", "0", "5.00", "0.00"]]
    assert rows_of(html, "stats-1") == [["广州市", "在建", "1", "1,280,000.50", "360,000.25"],
                                        ["广州市", "未立项", "1", "10.00", "5.00"]]
    assert rows_of(html, "stats-2") == [["2026-03", "2"]]
    response = sup.get("/projects/stats.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert 'filename="projects-20260302-' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["按单位和状态", "按月份（建立）", "按项目"]
    sheet = [list(r) for r in book["按项目"].iter_rows(values_only=True)]
    assert sheet[0] == ["项目编号", "项目名称", "状态", "工单数", "在途工单", "超时环节", "预算（元）",
                        "维护成本（元）"]
    assert sheet[1:] == [mine, theirs]
    response = sup.get("/projects/stats.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    start_at = lines.index(["按项目"])
    assert lines[start_at + 2:start_at + 4] == [[str(v) for v in mine], [str(v) for v in theirs]]
    assert sup.get("/projects/stats.pdf").status_code == 404
    for username in ("alice", "gz_project_manager"):  # for supervisors and administrators only
        assert client_for(web_app, username).get("/projects/stats.xlsx").status_code == 404
    assert client_for(web_app, "admin").get("/projects/stats").status_code == 200
