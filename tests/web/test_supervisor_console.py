"""The supervisor console through the Flask test client: who may open it, the work-order list with every
filter, paging and sort, an instance with its diagram, timeline, business data, cancellation and incident
retry, the dashboard figures and the heatmap — each checked against work orders built through the engine on
a clock the test moves (so "overdue", "near its limit" and "this month" are known exactly)."""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import delete, select

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post, User
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from handlers import build_registry
from handlers.dispatch import add_rule
from handlers.dispatch.models import RoutingRule
from tests.conftest import PROCESSES_DIR, Database, FakeClock
from tests.web.conftest import TEMPLATES, csrf_token, login, web_settings
from webapp import create_app

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Guangzhou
FEB = datetime(2026, 2, 25, 1, 0, tzinfo=UTC)  # Wednesday 09:00, last month
FAULT = {"customer": "客户", "customer_phone": "13800000000", "vip": False, "circuit": "GZ-ZX-0000",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
ACCEPT = {"fault_type": "中断", "priority": "高"}
HANDLE = {"progress": "已到场处理", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆", "recovery_time": "2026-02-25T14:30"}
PRESALES = {"customer": "广汽集团", "project": "广汽集团专线组网", "region": "GZ",
            "requirement": "两点之间 1G 数据专线", "expected_date": "2026-03-20"}
PDF = b"%PDF-1.4\n% report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
NOT_FOUND = "页面或记录不存在，或您无权查看。"
PLAIN_USERS = ("alice", "gz_maintainer")
SUPERVISORS = ("sup", "boss", "admin")


# -- the app on a clock the test moves -------------------------------------------------------------------------
@pytest.fixture
def web_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    """The app whose engine reads the test's clock, with 售后故障 and 售前需求支撑 deployed (their forms first) and
    every fault routed to the maintainers of GZ."""
    engine = ProcessEngine(build_registry(), clock=clock, attachments=AttachmentPolicy(storage))
    app = create_app(web_settings(db, tmp_path), engine)
    app.jinja_env.bytecode_cache = TEMPLATES
    app.config["TESTING"] = True
    with db.sessions.begin() as s:
        for path in sorted((PROCESSES_DIR / "forms").glob("*.json")):
            if path.stem.startswith(("fault_", "presales_")):
                engine.forms.deploy(s, path.stem, path.read_bytes(), path.name)
        for name in ("aftersales_fault.bpmn", "presales_demand.bpmn"):
            engine.repository.deploy(s, (PROCESSES_DIR / name).read_bytes(), name)
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    return app


class Orders:
    """Work orders made through the app's engine, each action in its own transaction at the clock's time."""

    def __init__(self, app: Flask, db: Database, clock: FakeClock):
        self.pe: ProcessEngine = app.extensions["eoms"]["engine"]
        self.db, self.clock = db, clock

    def at(self, moment: datetime) -> Orders:
        self.clock.now = moment
        return self

    def start(self, key: str, starter: str = "gz_dispatcher", flow: str = "aftersales_fault",
              **data: Any) -> int:
        base = PRESALES if flow == "presales_demand" else FAULT
        with self.db.sessions.begin() as s:
            result = self.pe.runtime.start(s, flow, business_key=key, data={**base, **data},
                                           actor=self.pe.identity.get_user(s, starter))
            return result.instance.id

    def open_task(self, instance_id: int, node_id: str) -> int:
        with self.db.sessions() as s:
            (task_id,) = s.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                              HumanTask.node_id == node_id,
                                                              HumanTask.status == "ready")).all()
            return task_id

    def act(self, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:
        with self.db.sessions.begin() as s:
            return getattr(self.pe.tasks, method)(s, task_id, self.pe.identity.get_user(s, username), *args,
                                                  **kwargs)

    def complete(self, instance_id: int, node_id: str, username: str, data: dict[str, Any],
                 after: timedelta) -> None:
        """Complete the open ``node_id`` as ``username``, ``after`` the clock's current time."""
        task_id = self.open_task(instance_id, node_id)
        self.clock.advance(seconds=after.total_seconds())
        if node_id == "receipt":
            attachment = self.act("upload", task_id, username, filename="故障处理报告.pdf", data=PDF)
            data = {**data, "report": [str(attachment.id)]}
        self.act("complete", task_id, username, data)

    def cancel(self, instance_id: int, username: str, reason: str) -> None:
        with self.db.sessions.begin() as s:
            self.pe.runtime.cancel(s, instance_id, actor=self.pe.identity.get_user(s, username), reason=reason)


@pytest.fixture
def orders(web_app: Flask, db: Database, clock: FakeClock) -> Orders:
    return Orders(web_app, db, clock)


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)  # business key → instance id


M = timedelta(minutes=1)


@pytest.fixture
def world(orders: Orders) -> World:
    """Ten work orders; "now" is Wednesday 4 March 2026 10:00 in Guangzhou.

    SUP-01 completed on 25 February (故障受理 10 min, 故障处理 5 h — late, 恢复回单 30 min, 回单审核 20 min,
           客户回访 1 h): last month 4 of 5 steps on time
    SUP-02 故障处理 claimed by mike, overdue by 50 minutes
    SUP-03 故障处理 unclaimed, 30 minutes left (past its 75 % warning): near its limit
    SUP-04 cancelled by sup at 07:10
    SUP-05 故障处理 claimed by gz_maintainer, 2 h 50 min left; its 故障受理 took 40 min (late)
    SUP-06 售前需求 (presales_demand) at 支撑调度, due this afternoon
    SUP-07 a Shenzhen fault at 故障受理 (only boss and admin see it)
    SUP-08 VIP fault at 故障受理, 11 minutes left;  SUP-09 故障受理, 27 minutes left;
    SUP-10 故障受理 claimed by alice, 28 minutes left
    This month: 3 故障受理 completed, 2 on time.
    """
    w = World()
    o = orders.at(FEB)
    w.ids["SUP-01"] = i = o.start("SUP-01", customer="华南理工大学", customer_phone="13800001001",
                                  circuit="GZ-ZX-0001")
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 10 * M)
    o.complete(i, "handle", "mike", HANDLE, 300 * M)
    o.complete(i, "receipt", "mike", RECEIPT, 30 * M)
    o.complete(i, "audit", "gz_receipt_auditor", {"receipt_result": "pass"}, 20 * M)
    o.complete(i, "callback", "gz_customer_service", {"satisfaction": "满意"}, 60 * M)

    w.ids["SUP-02"] = i = o.at(NOW - 300 * M).start("SUP-02", customer="广东省人民医院",
                                                   customer_phone="13800002002", circuit="GZ-ZX-0002")
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 10 * M)
    o.act("claim", o.open_task(i, "handle"), "mike")
    w.ids["SUP-03"] = i = o.at(NOW - 220 * M).start("SUP-03", customer="暨南大学", customer_phone="13800003003",
                                                   circuit="GZ-ZX-0003")
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 10 * M)
    w.ids["SUP-04"] = i = o.at(NOW - 180 * M).start("SUP-04", customer="广州白云机场", customer_phone="13800004004",
                                                   circuit="GZ-ZX-0004")
    o.at(NOW - 170 * M).cancel(i, "sup", "客户撤销申告")
    w.ids["SUP-05"] = i = o.at(NOW - 110 * M).start("SUP-05", customer="广州港集团", customer_phone="13800005005",
                                                   circuit="GZ-ZX-0005")
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 40 * M)
    o.act("claim", o.open_task(i, "handle"), "gz_maintainer")
    w.ids["SUP-06"] = o.at(NOW - 6 * M).start("SUP-06", "gz_product_manager", "presales_demand")
    w.ids["SUP-07"] = o.at(NOW - 5 * M).start("SUP-07", "sz_dispatcher", region="SZ", customer="深圳地铁",
                                              customer_phone="13800007007", circuit="SZ-ZX-0007")
    w.ids["SUP-08"] = o.at(NOW - 4 * M).start("SUP-08", customer="广州地铁", customer_phone="13922220008",
                                              circuit="GZ-ZX-0008", vip=True)
    w.ids["SUP-09"] = o.at(NOW - 3 * M).start("SUP-09", customer="广州塔", customer_phone="13922220009",
                                              circuit="GZ-ZX-0009")
    w.ids["SUP-10"] = i = o.at(NOW - 2 * M).start("SUP-10", "alice", customer="中山大学",
                                                 customer_phone="020-12345678", circuit="GZ-SD-0010")
    o.act("claim", o.open_task(i, "accept"), "alice")
    orders.clock.now = NOW
    return w


GZ_KEYS = {f"SUP-{n:02d}" for n in range(1, 11)} - {"SUP-07"}
ALL_KEYS = GZ_KEYS | {"SUP-07"}


# -- page helpers ----------------------------------------------------------------------------------------------
@pytest.fixture
def clients(web_app: Flask, db: Database):  # type: ignore[no-untyped-def]
    """``clients(username)``: a test client signed in as ``username``. The sign-in form is exercised by the
    access test (and tests/web/test_auth_web.py); elsewhere the session is set directly, sparing the deliberately
    slow password hash."""

    def _client(username: str) -> FlaskClient:
        with db.sessions() as s:
            user_id = s.scalar(select(User.id).where(User.username == username))
        assert user_id is not None, username
        client = web_app.test_client()
        with client.session_transaction() as session:
            session.update({"_user_id": str(user_id), "_fresh": True, "last_active": time.time()})
        return client

    return _client


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def listed(client: FlaskClient, **params: Any) -> list[str]:
    """The work-order numbers the list shows, in order (page 1 unless ``page`` is given)."""
    response = client.get("/supervisor/instances", query_string=params)
    assert response.status_code == 200, params
    table = re.search(r'<table id="instance-table">.*?</table>', response.get_data(as_text=True), re.S)
    if table is None:
        assert "没有符合条件的工单" in text(response)
        return []
    return re.findall(r'<a href="/supervisor/instances/\d+">([^<]+)</a>', table.group(0))


def total(client: FlaskClient, **params: Any) -> int:
    html = client.get("/supervisor/instances", query_string=params).get_data(as_text=True)
    match = re.search(r'<span class="count">(\d+)</span>', html)
    assert match
    return int(match.group(1))


def send(client: FlaskClient, url: str, data: dict[str, str] | None = None) -> Any:
    """POST with the session's CSRF token (read once from the portal); the response is not followed."""
    token = getattr(client, "csrf", None)
    if token is None:
        token = client.csrf = csrf_token(client.get("/portal/").get_data(as_text=True))  # type: ignore[attr-defined]
    return client.post(url, data={"csrf_token": token, **(data or {})})


def flashes(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="alert alert-\w+" role="status">(.*?)</p>', html, re.S)]


def errors(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="alert alert-error" role="status">(.*?)</p>', html, re.S)]


def instance_table(html: str) -> str:
    table = re.search(r'<table id="instance-table">.*?</table>', html, re.S)
    assert table, "no work-order table"
    return table.group(0)


def section(html: str, title: str) -> str:
    """The card of the instance page headed ``title``."""
    match = re.search(rf"<h2>{title}</h2>(.*?)</section>", html, re.S)
    assert match, title
    return match.group(1)


def overlay_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="overlay-data">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def kpi_cards(html: str) -> dict[str, str]:
    """The dashboard's figure cards: label → the number shown."""
    found = re.findall(r'class="card kpi[^"]*"[^>]*><span>([^<]+)</span><b[^>]*>([^<]+)</b>', html)
    return {label: value for label, value in found}


def last_month_rate(html: str) -> str:
    match = re.search(r"<small>上月 ([^<]+)</small>", html)
    assert match
    return match.group(1)


def org_id(db: Database, code: str) -> int:
    with db.sessions() as s:
        return s.scalar(select(OrgUnit.id).where(OrgUnit.code == code))  # type: ignore[return-value]


def post_id(db: Database, code: str) -> int:
    with db.sessions() as s:
        return s.scalar(select(Post.id).where(Post.code == code))  # type: ignore[return-value]


def definition_id(db: Database, key: str) -> int:
    with db.sessions() as s:
        return s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key))  # type: ignore[return-value]


# -- access ----------------------------------------------------------------------------------------------------
def test_the_console_is_404_for_plain_users_and_opens_for_supervisors_and_admin(web_app: Flask, db: Database,
                                                                               orders: Orders, clients) -> None:  # type: ignore[no-untyped-def]
    gz = orders.at(NOW - 20 * M).start("ACC-GZ")
    sz = orders.start("ACC-SZ", "sz_dispatcher", region="SZ")
    orders.clock.now = NOW
    fault = definition_id(db, "aftersales_fault")
    pages = ["/supervisor/", "/supervisor/instances", f"/supervisor/instances/{gz}",
             f"/supervisor/instances/{gz}/overlays.json", f"/supervisor/definitions/{fault}/diagram.bpmn",
             "/supervisor/heatmap?flow=aftersales_fault", "/stats/", "/stats/export.csv", "/stats/export.xlsx"]
    actions = [f"/supervisor/instances/{gz}/cancel", "/supervisor/incidents/1/retry", "/supervisor/incidents/retry-all"]

    for username in PLAIN_USERS:
        client = clients(username)
        for url in [*pages, "/supervisor/heatmap", "/supervisor/incidents"]:
            response = client.get(url)
            assert response.status_code == 404, (username, url)
            assert NOT_FOUND in text(response)
        for url in actions:
            assert send(client, url, {"reason": "试试"}).status_code == 404, (username, url)
        assert "监控台" not in text(client.get("/portal/"))
    with db.sessions() as s:
        assert s.get(ProcessInstance, gz).status == "running"  # type: ignore[union-attr]

    anonymous = web_app.test_client()
    for url in pages[:3]:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url

    signed_in = web_app.test_client()  # once through the real sign-in form: supervisors land on the dashboard
    response = login(signed_in, "sup")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in.get("/").headers["Location"].endswith("/supervisor/")
    for username in SUPERVISORS:
        client = signed_in if username == "sup" else clients(username)
        for url in pages:
            assert client.get(url).status_code == 200, (username, url)
        nav = text(client.get("/portal/"))
        assert "监控台" in nav and "热力图" in nav
        assert client.get("/supervisor/incidents").status_code == (200 if username == "admin" else 404), username
        assert ("系统管理" in nav) == (username == "admin")  # 异常处理 is one of its pages

    # the Guangzhou supervisor does not see Shenzhen's order, by list or by URL; the province's does
    sup, boss = signed_in, clients("boss")
    assert listed(sup) == ["ACC-GZ"]
    assert listed(boss) == ["ACC-SZ", "ACC-GZ"]
    for url in (f"/supervisor/instances/{sz}", f"/supervisor/instances/{sz}/overlays.json"):
        assert sup.get(url).status_code == 404
        assert boss.get(url).status_code == 200
    assert send(sup, f"/supervisor/instances/{sz}/cancel", {"reason": "越权撤销"}).status_code == 404
    with db.sessions() as s:
        assert s.get(ProcessInstance, sz).status == "running"  # type: ignore[union-attr]
    assert sup.get("/supervisor/instances/999999").status_code == 404
    assert sup.get("/supervisor/definitions/999999/diagram.bpmn").status_code == 404


# -- the instance list -----------------------------------------------------------------------------------------
def test_each_filter_narrows_the_list(db: Database, world: World, clients) -> None:  # type: ignore[no-untyped-def]
    sup, boss = clients("sup"), clients("boss")
    assert set(listed(sup)) == GZ_KEYS
    assert set(listed(boss)) == ALL_KEYS

    assert listed(sup, number="SUP-02") == ["SUP-02"]
    assert listed(sup, number="SUP-07") == []  # Shenzhen's, out of sight
    assert listed(boss, number="SUP-07") == ["SUP-07"]
    assert set(listed(sup, customer="广州")) == {"SUP-04", "SUP-05", "SUP-08", "SUP-09"}
    assert listed(sup, customer="暨南") == ["SUP-03"]
    assert set(listed(sup, phone="139222200")) == {"SUP-08", "SUP-09"}
    assert listed(sup, phone="020-") == ["SUP-10"]
    assert listed(sup, circuit="GZ-SD") == ["SUP-10"]
    assert set(listed(sup, circuit="GZ-ZX-000")) == GZ_KEYS - {"SUP-06", "SUP-10"}  # presales has no circuit
    assert listed(sup, flow="presales_demand") == ["SUP-06"]
    assert listed(sup, flow="presales_demand", version="1") == ["SUP-06"]
    assert listed(sup, flow="presales_demand", version="2") == []
    assert set(listed(sup, flow="aftersales_fault")) == GZ_KEYS - {"SUP-06"}
    assert listed(sup, status="completed") == ["SUP-01"]
    assert listed(sup, status="cancelled") == ["SUP-04"]
    assert set(listed(sup, status="running")) == GZ_KEYS - {"SUP-01", "SUP-04"}
    assert set(listed(boss, org=str(org_id(db, "SZ")))) == {"SUP-07"}
    assert set(listed(boss, org=str(org_id(db, "GZ")))) == GZ_KEYS
    assert listed(sup, org=str(org_id(db, "SZ"))) == []  # a unit outside his own shows nothing
    assert set(listed(sup, step="handle")) == {"SUP-02", "SUP-03", "SUP-05"}
    assert set(listed(sup, step="accept")) == {"SUP-08", "SUP-09", "SUP-10"}
    assert set(listed(boss, step="accept")) == {"SUP-07", "SUP-08", "SUP-09", "SUP-10"}
    assert listed(sup, step="assign") == ["SUP-06"]
    assert set(listed(sup, post=str(post_id(db, "maintainer")))) == {"SUP-02", "SUP-03", "SUP-05"}
    assert set(listed(sup, post=str(post_id(db, "dispatcher")))) == {"SUP-08", "SUP-09", "SUP-10"}
    assert listed(sup, assignee="mike") == ["SUP-02"]
    assert listed(sup, assignee="gz_maintainer") == ["SUP-05"]
    assert listed(sup, assignee="alice") == ["SUP-10"]
    assert listed(sup, assignee="nobody") == []
    assert listed(sup, timing="overdue") == ["SUP-02"]
    assert listed(sup, started_to="2026-02-28") == ["SUP-01"]
    assert set(listed(sup, started_from="2026-03-04")) == GZ_KEYS - {"SUP-01"}
    assert listed(sup, started_from="2026-02-25", started_to="2026-02-25") == ["SUP-01"]
    assert listed(sup, ended_to="2026-02-28") == ["SUP-01"]
    assert listed(sup, ended_from="2026-03-01") == ["SUP-04"]
    assert listed(sup, step="handle", assignee="mike", timing="overdue", customer="人民医院") == ["SUP-02"]
    assert listed(sup, step="handle", assignee="alice") == []

    # the list shows where each order stands: its open step, who has it, and its time
    row = instance_table(text(sup.get("/supervisor/instances", query_string={"number": "SUP-02"})))
    assert "故障处理" in row and "迈克" in row and "已超时 50分" in row and "广东省人民医院" in row
    row = instance_table(text(sup.get("/supervisor/instances", query_string={"number": "SUP-03"})))
    assert "badge-warn" in row and "剩余 30分" in row and "未签收" in row

    # 版本 is a field of its own on the form: every order here runs version 1 of its flow, so version 2 (with or
    # without a flow chosen) must find nothing rather than be ignored
    assert listed(sup, version="1") and listed(sup, flow="aftersales_fault", version="2") == []
    assert listed(sup, version="2") == []


def test_sorts_and_paging(world: World, orders: Orders, clients) -> None:  # type: ignore[no-untyped-def]
    sup, boss = clients("sup"), clients("boss")
    newest_first = ["SUP-10", "SUP-09", "SUP-08", "SUP-06", "SUP-05", "SUP-04", "SUP-03", "SUP-02", "SUP-01"]
    assert listed(sup) == newest_first
    assert listed(sup, sort="started_desc") == newest_first
    assert listed(sup, sort="started_asc") == newest_first[::-1]
    assert listed(sup, sort="business_key") == sorted(newest_first)
    assert listed(boss, sort="business_key") == sorted(ALL_KEYS)
    assert listed(sup, sort="no-such-sort") == newest_first  # an unknown sort falls back to the default

    # 31 orders more: 40 in all, 30 a page
    orders.clock.now = NOW + 10 * M
    with orders.db.sessions.begin() as s:
        starter = orders.pe.identity.get_user(s, "gz_dispatcher")
        for n in range(31):
            orders.pe.runtime.start(s, "aftersales_fault", business_key=f"PAGE-{n:03d}", data=dict(FAULT),
                                    actor=starter)
    assert total(sup) == 40
    assert listed(sup, sort="business_key") == [f"PAGE-{n:03d}" for n in range(30)]
    assert listed(sup, sort="business_key", page="2") == ["PAGE-030", *sorted(newest_first)]
    assert listed(sup, sort="business_key", page="3") == []
    assert listed(sup)[:2] == ["PAGE-030", "PAGE-029"]  # the same start time: the later order first

    # the pager keeps the filters and the sort: 31 orders of the customer "客户", 30 on the first page
    html = sup.get("/supervisor/instances", query_string={"sort": "business_key", "customer": "客户"}).get_data(
        as_text=True)
    assert "第 1 / 2 页，共 31 条" in html and "下一页" in html and "上一页" not in html
    link = re.search(r'<nav class="pager".*?<a href="([^"]+)">下一页', html, re.S)
    assert link, "no link to the next page"
    query = parse_qs(urlsplit(unescape(link.group(1))).query)
    assert query == {"sort": ["business_key"], "customer": ["客户"], "page": ["2"]}
    page2 = text(sup.get(unescape(link.group(1))))
    assert "第 2 / 2 页，共 31 条" in page2 and "上一页" in page2 and "下一页" not in page2
    assert listed(sup, sort="business_key", customer="客户", page="2") == ["PAGE-030"]

    # by end time: the finished orders first, the latest end first; the running ones have no end yet
    assert listed(sup, sort="ended_desc")[:2] == ["SUP-04", "SUP-01"]


BAD_QUERIES = [
    "page=abc", "page=0", "page=-1", "page=99", "version=x", "flow=aftersales_fault&version=x", "org=x", "post=x",
    "org=999999", "post=999999", "status=bogus", "timing=sometime", "sort=started_desc%27", "started_from=not-a-date",
    "ended_to=2026-13-45", "started_to=2026-02-30", "number=%25", "customer=%27%3B--", "assignee=%20",
    "phone=" + "9" * 500, "step=%00", "customer=a%00b",
    "page=%C2%B2", "org=%C2%B2", "version=%C2%B2", "post=%D9%A3",  # digits str.isdigit() accepts but int() refuses
]


def test_bad_filter_values_do_not_break_the_list(orders: Orders, clients) -> None:  # type: ignore[no-untyped-def]
    orders.start("BAD-01")
    sup = clients("sup")
    failures: dict[str, Any] = {}
    for query in BAD_QUERIES:
        try:
            response = sup.get(f"/supervisor/instances?{query}")
        except Exception as err:  # TESTING propagates a view's exception: record it as a 500
            failures[query] = f"500 ({type(err).__name__}: {str(err).splitlines()[0]})"
            continue
        if response.status_code != 200 or "工单监控" not in text(response):
            failures[query] = response.status_code
    assert failures == {}
    assert listed(sup, page="abc", version="x") == ["BAD-01"]
    assert errors(text(sup.get("/supervisor/instances?status=bogus")))  # said, not silently ignored


# -- one instance ----------------------------------------------------------------------------------------------
def test_the_instance_page_shows_diagram_timeline_current_step_and_data(db: Database, world: World,
                                                                       clients) -> None:  # type: ignore[no-untyped-def]
    sup = clients("sup")
    overdue = world.ids["SUP-02"]
    response = sup.get(f"/supervisor/instances/{overdue}")
    assert response.status_code == 200
    html = text(response)
    assert "售后故障 · SUP-02" in html and "进行中" in html

    # the diagram: the page names the BPMN of this very version, which is served as XML
    url = re.search(r'id="diagram" data-diagram-url="([^"]+)" data-mode="instance"', html).group(1)  # type: ignore[union-attr]
    with db.sessions() as s:
        instance = s.get(ProcessInstance, overdue)
        assert instance is not None
        assert url == f"/supervisor/definitions/{instance.definition_id}/diagram.bpmn"
    bpmn = sup.get(url)
    assert bpmn.status_code == 200 and bpmn.mimetype == "application/xml"
    xml = bpmn.get_data(as_text=True)
    assert xml.startswith("<bpmn:definitions") and '<bpmn:userTask id="handle" name="故障处理">' in xml
    assert "bpmndi:BPMNShape" in xml

    # the overlays: done steps with their runs and mean time, the current one overdue by 50 minutes
    nodes = overlay_data(html)
    assert nodes["accept"]["state"] == "done" and nodes["accept"]["runs"] == 1
    assert nodes["accept"]["mean_seconds"] == 600
    assert {nodes[n]["state"] for n in ("route", "routed", "notify")} == {"done"}
    assert nodes["handle"]["state"] == "overdue" and nodes["handle"]["runs"] == 1
    assert [o["seconds_left"] for o in nodes["handle"]["open"]] == [-3000]
    assert json.loads(sup.get(f"/supervisor/instances/{overdue}/overlays.json").data) == nodes
    near = overlay_data(text(sup.get(f"/supervisor/instances/{world.ids['SUP-03']}")))
    assert near["handle"]["state"] == "current" and near["handle"]["open"][0]["seconds_left"] == 1800

    # the current step, who has it and how late it is; the steps' times; the business data; the timeline
    current = section(html, "当前环节")
    assert "故障处理" in current and "迈克" in current and "已超时 50分" in current
    assert re.search(r'href="/tasks/\d+#task-actions"', current)
    steps = section(html, "环节用时")
    assert "故障受理" in steps and "10分" in steps and "4小时50分" in steps
    facts = section(html, "业务数据")
    for value in ("广东省人民医院", "13800002002", "GZ-ZX-0002", "专线中断"):
        assert value in facts
    labelled = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", facts))  # form labels, option labels, 是/否
    assert labelled["客户名称"] == "广东省人民医院" and labelled["客户电话"] == "13800002002"
    assert labelled["VIP 客户"] == "否" and "customer_phone" not in labelled
    internals = re.search(r'<details class="other-vars">(.*?)</details>', facts, re.S).group(1)  # type: ignore[union-attr]
    assert "<code>route</code>" in internals  # the engine's own variables are folded away, not mixed in
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', html, re.S).group(1)  # type: ignore[union-attr]
    for label in ("发起工单", "任务到达", "提交", "自动环节完成", "签收"):
        assert label in timeline, label
    assert "广州调度员" in timeline and "迈克" in timeline
    assert 'id="cancel-form"' in html

    # a finished order: everything done, nothing current, no cancel form
    done = text(sup.get(f"/supervisor/instances/{world.ids['SUP-01']}"))
    assert "已完成" in done and "没有在办环节" in done and 'id="cancel-form"' not in done
    assert {n["state"] for n in overlay_data(done).values()} == {"done"}
    assert "工单完成" in done


def test_cancel_needs_a_reason_then_closes_the_order_and_its_tasks(db: Database, orders: Orders,
                                                                  clients) -> None:  # type: ignore[no-untyped-def]
    iid = orders.at(NOW - 30 * M).start("CANCEL-01")
    orders.complete(iid, "accept", "gz_dispatcher", ACCEPT, 5 * M)
    handle = orders.open_task(iid, "handle")
    orders.clock.now = NOW
    page = f"/supervisor/instances/{iid}"
    sup = clients("sup")

    for reason in ("", "   "):
        response = send(sup, f"{page}/cancel", {"reason": reason})
        assert response.status_code == 302 and response.headers["Location"].endswith(page)
        html = text(sup.get(page))
        assert errors(html) == ["输入有误，请检查后重试。原因：必填。"]  # the field the engine named
        assert 'id="cancel-form"' in html
    with db.sessions() as s:
        assert s.get(ProcessInstance, iid).status == "running"  # type: ignore[union-attr]
        assert s.get(HumanTask, handle).status == "ready"  # type: ignore[union-attr]

    response = send(sup, f"{page}/cancel", {"reason": "客户重复申告，撤销本单"})
    assert response.status_code == 302
    html = text(sup.get(page))
    assert "工单已撤销。" in flashes(html)
    assert "已取消" in html and 'id="cancel-form"' not in html and "没有在办环节" in html
    assert "工单撤销" in html and "原因：客户重复申告，撤销本单" in html
    with db.sessions() as s:
        instance = s.get(ProcessInstance, iid)
        assert instance is not None
        assert (instance.status, instance.end_reason, instance.ended_at) == ("cancelled", "客户重复申告，撤销本单", NOW)
        assert s.get(HumanTask, handle).status == "cancelled"  # type: ignore[union-attr]
        (event,) = s.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == iid,
                                                         HistoryEvent.event_type == "instance_cancelled")).all()
        assert event.payload == {"reason": "客户重复申告，撤销本单"}
        assert event.actor_id == orders.pe.identity.get_user(s, "sup").id
    assert listed(sup, status="cancelled") == ["CANCEL-01"]
    assert listed(sup, status="running") == []

    # cancelling twice changes nothing and says so
    assert send(sup, f"{page}/cancel", {"reason": "再撤一次"}).status_code == 302
    assert errors(text(sup.get(page)))
    with db.sessions() as s:
        assert s.get(ProcessInstance, iid).end_reason == "客户重复申告，撤销本单"  # type: ignore[union-attr]


def test_an_incident_shows_on_the_instance_and_the_incidents_page_and_a_retry_resolves_it(
        db: Database, orders: Orders, clients) -> None:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        s.execute(delete(RoutingRule))
    iid = orders.at(NOW - 10 * M).start("INC-01", customer="广州图书馆")
    orders.complete(iid, "accept", "gz_dispatcher", ACCEPT, 4 * M)
    sz = orders.start("INC-SZ", "sz_dispatcher", region="SZ")
    orders.complete(sz, "accept", "sz_dispatcher", ACCEPT, 1 * M)
    orders.clock.now = NOW
    with db.sessions() as s:
        incident, sz_incident = s.scalars(select(Incident).order_by(Incident.id)).all()
        assert (incident.instance_id, incident.node_id, incident.status) == (iid, "route", "open")
    page = f"/supervisor/instances/{iid}"
    sup, admin = clients("sup"), clients("admin")

    html = text(sup.get(page))
    alert = re.search(r'<p class="alert alert-warning incident">(.*?)</p>', html, re.S)
    assert alert, "no incident on the instance page"
    assert f"异常 #{incident.id}" in alert.group(1) and "route" in alert.group(1)
    assert "no routing rule for region 'GZ' and service type '专线'" in alert.group(1)
    assert "没有在办环节" in html
    assert sup.get("/supervisor/incidents").status_code == 404

    listing = text(admin.get("/supervisor/incidents"))
    table = re.search(r'<table id="incident-table">.*?</table>', listing, re.S).group(0)  # type: ignore[union-attr]
    assert f'<a href="{page}">INC-01</a>' in table and "INC-SZ" in table
    assert "no routing rule" in table and "全部重试" in listing

    # the Guangzhou supervisor may not retry Shenzhen's incident
    assert send(sup, f"/supervisor/incidents/{sz_incident.id}/retry", {"next": page}).status_code == 404

    # a retry before anyone fixed the routing fails again and says so
    response = send(sup, f"/supervisor/incidents/{incident.id}/retry", {"next": page})
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    assert any("重试后仍未解决" in m for m in flashes(text(sup.get(page))))
    with db.sessions() as s:
        assert s.get(Incident, incident.id).status == "open"  # type: ignore[union-attr]

    # the rule is added; the retry from the instance page resolves it and the order moves on
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    response = send(sup, f"/supervisor/incidents/{incident.id}/retry", {"next": page})
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    html = text(sup.get(page))
    assert f"异常 #{incident.id} 已解决。" in flashes(html)
    assert 'class="alert alert-warning incident"' not in html
    assert "故障处理" in section(html, "当前环节")
    assert "异常重试" in html and "异常解决" in html
    with db.sessions() as s:
        row = s.get(Incident, incident.id)
        assert row is not None and (row.status, row.resolved_by_id) == (
            "resolved", orders.pe.identity.get_user(s, "sup").id)
    listing = text(admin.get("/supervisor/incidents"))
    assert "INC-01" not in listing and "INC-SZ" in listing
    assert "INC-01" in text(admin.get("/supervisor/incidents?status=all"))

    # an unsafe "next" is not followed
    response = send(admin, f"/supervisor/incidents/{sz_incident.id}/retry", {"next": "//evil.example/"})
    assert response.headers["Location"].endswith("/supervisor/incidents")

    # 全部重试 by the administrator: a third incident, and Shenzhen's once more
    with db.sessions.begin() as s:
        s.execute(delete(RoutingRule))
    third = orders.start("INC-03")
    orders.complete(third, "accept", "gz_dispatcher", ACCEPT, 1 * M)
    with db.sessions.begin() as s:
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    assert send(admin, "/supervisor/incidents/retry-all").status_code == 302
    assert "没有异常。" in text(admin.get("/supervisor/incidents"))
    with db.sessions() as s:
        assert {i.status for i in s.scalars(select(Incident))} == {"resolved"}


# -- the dashboard, the heatmap and the statistics -------------------------------------------------------------
def test_dashboard_figures_and_the_lists_behind_them(world: World, orders: Orders, clients) -> None:  # type: ignore[no-untyped-def]
    sup = clients("sup")
    html = text(sup.get("/supervisor/"))
    cards = kpi_cards(html)
    # overdue: SUP-02; due today: SUP-03, -05, -06, -08, -09, -10; near: SUP-03
    assert cards["当前超时"] == "1"
    assert cards["临近时限"] == "1"
    assert cards["今日到期"] == "6"
    assert cards["本月按时率"] == "66.7%"  # 故障受理 of SUP-02 and -03 on time, SUP-05's 40 minutes late
    assert last_month_rate(html) == "80.0%"  # SUP-01: all but 故障处理 (5 h of 4) on time
    assert 'href="/supervisor/instances?timing=overdue&status=running"' in html
    assert 'href="/supervisor/instances?timing=near&status=running"' in html
    charts = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html,
                                  re.S).group(1))  # type: ignore[union-attr]
    open_steps = {(r["flow"], r["step"]): (r["open"], r["overdue"]) for r in charts["open"]}
    assert open_steps == {("售后故障", "故障处理"): (3, 1), ("售后故障", "故障受理"): (3, 0),
                          ("售前需求支撑", "支撑调度"): (1, 0)}
    assert dict(charts["throughput"])["2026-02-25"] == 1
    assert sum(n for _, n in charts["throughput"]) == 1
    assert {(r["step"], r["count"]) for r in charts["handling"]} == {
        ("故障受理", 4), ("故障处理", 1), ("恢复回单", 1), ("回单审核", 1), ("客户回访", 1)}

    boss = kpi_cards(text(clients("boss").get("/supervisor/")))
    assert (boss["当前超时"], boss["临近时限"], boss["今日到期"]) == ("1", "1", "7")  # + Shenzhen's SUP-07
    assert listed(sup, timing="overdue", status="running") == ["SUP-02"]  # the 当前超时 card's list

    # half an hour later SUP-03 (due 10:30) and the three 故障受理 are late too
    orders.clock.now = NOW + 31 * M
    assert kpi_cards(text(sup.get("/supervisor/")))["当前超时"] == "5"
    assert set(listed(sup, timing="overdue")) == {"SUP-02", "SUP-03", "SUP-08", "SUP-09", "SUP-10"}
    # next month March is "last month"
    orders.clock.now = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    html = text(sup.get("/supervisor/"))
    assert kpi_cards(html)["本月按时率"] == "—"
    assert last_month_rate(html) == "66.7%"

    # 临近时限 counts open steps past their warning and not yet due (SUP-03 only); its card links to timing=near,
    # so the list behind the card must show the same orders
    orders.clock.now = NOW
    assert listed(sup, timing="near", status="running") == ["SUP-03"]


def test_heatmap_and_statistics_count_each_step(db: Database, world: World, clients) -> None:  # type: ignore[no-untyped-def]
    sup = clients("sup")
    response = sup.get("/supervisor/heatmap?flow=aftersales_fault")
    assert response.status_code == 200
    html = text(response)
    assert f'data-diagram-url="/supervisor/definitions/{definition_id(db, "aftersales_fault")}/diagram.bpmn"' in html
    assert 'data-mode="heatmap"' in html
    nodes = overlay_data(html)
    assert {n: nodes[n]["count"] for n in nodes} == {"accept": 4, "handle": 1, "receipt": 1, "audit": 1,
                                                      "callback": 1}
    assert nodes["accept"]["mean_seconds"] == pytest.approx(1050)  # (10 + 10 + 10 + 40) / 4 minutes
    assert nodes["accept"]["overdue_rate"] == pytest.approx(0.25)
    assert (nodes["handle"]["mean_seconds"], nodes["handle"]["overdue_rate"], nodes["handle"]["heat"]) == (
        18000, 1.0, 4)
    assert nodes["accept"]["heat"] == 0

    table = re.search(r'<table id="slowest">(.*?)</table>', html, re.S).group(1)  # type: ignore[union-attr]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>",
                      table)
    assert [r[0] for r in rows] == ["故障处理", "客户回访", "恢复回单", "回单审核", "故障受理"]
    assert rows[0] == ("故障处理", "1", "5小时", "5小时", "100.0%")
    assert rows[-1] == ("故障受理", "4", "17分", "40分", "25.0%")  # nearest-rank P90 of 10, 10, 10, 40

    # this month only: 故障受理 three times; nothing else finished since 1 March
    march = overlay_data(text(sup.get("/supervisor/heatmap?flow=aftersales_fault&from=2026-03-01&to=2026-03-04")))
    assert {n: v["count"] for n, v in march.items()} == {"accept": 3}
    assert march["accept"]["mean_seconds"] == pytest.approx(1200)
    # a range with nothing in it, another flow, bad values
    empty = text(sup.get("/supervisor/heatmap?flow=aftersales_fault&from=2026-01-01&to=2026-01-31"))
    assert "所选范围内没有已完成的环节。" in empty and overlay_data(empty) == {}
    assert "售前需求支撑 v1" in text(sup.get("/supervisor/heatmap?flow=presales_demand"))
    assert sup.get("/supervisor/heatmap?flow=no_such_flow").status_code == 404
    for query in ("version=x", "version=99", "from=yesterday", "to=2026-02-30"):
        assert sup.get(f"/supervisor/heatmap?flow=aftersales_fault&{query}").status_code == 200, query

    # the statistics exports carry the same step counts
    csv = sup.get("/stats/export.csv?from=2026-02-01&to=2026-03-04&by=flow")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.data.decode("utf-8")
    assert body.startswith("\ufeff按流程") and "售后故障" in body and "环节处理时长" in body
    xlsx = sup.get("/stats/export.xlsx?from=2026-02-01&to=2026-03-04")
    assert xlsx.status_code == 200
    assert 'filename="eoms-2026-02-01_2026-03-04.xlsx"' in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["按人员", "环节处理时长"]
    steps = {(row[1], row[2]) for row in book["环节处理时长"].iter_rows(min_row=2, values_only=True)}
    assert steps == {("故障受理", 4), ("故障处理", 1), ("恢复回单", 1), ("回单审核", 1), ("客户回访", 1)}
