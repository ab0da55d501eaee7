"""考核指标: a month of 售后故障 work orders driven through the engine on a clock the test sets, and the monthly
assessment checked against the test's own plain record of every step — who did it, in which post, when it
arrived, when it was finished, its limit — computed here without the application's code: on-time rate, mean
and nearest-rank P90 handling hours, first-time-right rate and returns per finished order, workload; per person,
post and unit. Steps finished just before and just after the month (Beijing time) are left out. Then the page
as the administrator: its figures, the drill-down to the work orders, closing the month (a later change to the
facts no longer moves its figures), reopening, the export, and who may see it."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from engine.identity.models import OrgUnit, Post, User
from handlers.kpi import assessment as kpi
from handlers.kpi.models import KpiDefinition, KpiStep
from tests.conftest import Database, FakeClock
from tests.stats import stats_world as w
from tests.web.conftest import csrf_token, login

SH = ZoneInfo("Asia/Shanghai")
M, H = timedelta(minutes=1), timedelta(hours=1)
MONTH = "2026-03"
LIMITS = {("accept", False): 30 * M, ("accept", True): 15 * M, ("handle", False): 4 * H, ("handle", True): 2 * H,
          ("receipt", False): 2 * H, ("receipt", True): 2 * H, ("audit", False): 4 * H, ("audit", True): 4 * H}
POSTS = {"accept": "dispatcher", "handle": "maintainer", "receipt": "maintainer", "audit": "receipt_auditor",
         "callback": "customer_service"}
DEFINITIONS = [  # name, flow, step, measure, target, weight, posts
    ("处理及时率", "aftersales_fault", "handle", "on_time_rate", 0.9, 40, ["maintainer"]),
    ("受理时长", "aftersales_fault", "accept", "mean_handling", 0.5, 20, []),
    ("一次通过率", "aftersales_fault", "", "first_time_right", 0.8, 20, []),
    ("工作量", "", "", "workload", 3, 10, []),
    ("每单退回", "aftersales_fault", "", "returns_per_order", 0.2, 5, []),
    ("处理P90", "aftersales_fault", "handle", "p90_handling", 4, 5, []),
]


def sh(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


@dataclass
class Step:
    order: str
    node: str
    user: str
    arrived: datetime
    done: datetime
    vip: bool

    @property
    def post(self) -> str:
        return POSTS[self.node]

    @property
    def on_time(self) -> bool | None:
        limit = LIMITS.get((self.node, self.vip))
        return None if limit is None else self.done <= self.arrived + limit


class Story:
    """Drives the orders and keeps the plain record the expected figures come from."""

    def __init__(self, app: Flask, db: Database, clock: FakeClock):
        self.o, self.clock = w.Orders(app, db, clock), clock
        self.steps: list[Step] = []
        self.finished: dict[str, int] = {}  # order → returns, for orders that reached their end
        self.vip: dict[str, bool] = {}

    def start(self, key: str, at: datetime, vip: bool = False) -> int:
        self.vip[key] = vip
        self.clock.now = at
        with self.o.db.sessions.begin() as s:
            return self.o.pe.runtime.start(s, "aftersales_fault", business_key=key, data={**w.FAULT, "vip": vip},
                                           actor=self.o.pe.identity.get_user(s, "gz_dispatcher")).instance.id

    def do(self, key: str, iid: int, node: str, user: str, after: timedelta, data: dict[str, Any]) -> None:
        arrived = self.clock.now
        self.o.complete(iid, node, user, data, after)
        self.steps.append(Step(key, node, user, arrived, self.clock.now, self.vip[key]))


def build(app: Flask, db: Database, clock: FakeClock) -> Story:
    st = Story(app, db, clock)
    pass_ = {"receipt_result": "pass"}
    i = st.start("KA-01", sh(2, 9))  # on time everywhere, no return
    for node, user, after, data in (
            ("accept", "gz_dispatcher", 10 * M, w.ACCEPT), ("handle", "gz_maintainer", 3 * H, w.HANDLE),
            ("receipt", "gz_maintainer", 30 * M, w.RECEIPT), ("audit", "gz_receipt_auditor", 20 * M, pass_),
            ("callback", "gz_customer_service", 60 * M, {"satisfaction": "满意"})):
        st.do("KA-01", i, node, user, after, data)
    st.finished["KA-01"] = 0
    i = st.start("KA-02", sh(10, 9))  # late twice, one 驳回
    for node, user, after, data in (
            ("accept", "alice", 40 * M, w.ACCEPT), ("handle", "mike", 5 * H, w.HANDLE),
            ("receipt", "mike", 1 * H, w.RECEIPT),
            ("audit", "gz_receipt_auditor", 30 * M, {"receipt_result": "reject", "receipt_reason": "缺少照片"}),
            ("handle", "mike", 1 * H, w.HANDLE), ("receipt", "mike", 30 * M, w.RECEIPT),
            ("audit", "gz_receipt_auditor", 10 * M, pass_),
            ("callback", "gz_customer_service", 30 * M, {"satisfaction": "满意"})):
        st.do("KA-02", i, node, user, after, data)
    st.finished["KA-02"] = 1
    i = st.start("KA-03", sh(20, 9), vip=True)  # VIP: 故障处理 late (2 h limit), left at 恢复回单
    st.do("KA-03", i, "accept", "gz_dispatcher", 5 * M, w.ACCEPT)
    st.do("KA-03", i, "handle", "gz_maintainer", 3 * H, w.HANDLE)
    i = st.start("KA-04", sh(27, 9, month=2))  # 故障受理 in February, 故障处理 on 03-31 23:30, 恢复回单 on 04-01 00:30
    st.do("KA-04", i, "accept", "gz_dispatcher", 10 * M, w.ACCEPT)
    st.do("KA-04", i, "handle", "mike", sh(31, 23, 30) - clock.now, w.HANDLE)
    st.do("KA-04", i, "receipt", "mike", 1 * H, w.RECEIPT)
    clock.now = sh(2, 10, month=4)
    return st


# -- the expected figures, from the plain record only ---------------------------------------------------------
def in_month(step: Step) -> bool:
    return sh(1, 0) <= step.done < sh(1, 0, month=4)


def expected(st: Story, ids: dict[str, dict[str, int]]) -> dict[tuple[str, str, int], tuple[float | None, int]]:
    figures: dict[tuple[str, str, int], tuple[float | None, int]] = {}
    for name, flow, node, measure, _, _, posts in DEFINITIONS:
        steps = [s for s in st.steps if in_month(s) and (not flow or flow == "aftersales_fault")
                 and (not node or s.node == node) and (not posts or s.post in posts)]
        for subject, key in (("user", lambda s: s.user), ("post", lambda s: s.post), ("unit", lambda s: "GZ")):
            groups: dict[str, list[Step]] = defaultdict(list)
            for s in steps:
                groups[key(s)].append(s)
            for label, group in groups.items():
                figures[(name, subject, ids[subject][label])] = compute_here(measure, group, st.finished)
    return figures


def compute_here(measure: str, steps: list[Step], finished: dict[str, int]) -> tuple[float | None, int]:
    if measure == "workload":
        return float(len(steps)), len(steps)
    if measure == "on_time_rate":
        limited = [s for s in steps if s.on_time is not None]
        return (sum(s.on_time for s in limited) / len(limited) if limited else None), len(limited)
    if measure in ("mean_handling", "p90_handling"):  # the steps measured here are all on 24x7: wall time
        hours = sorted((s.done - s.arrived).total_seconds() / 3600 for s in steps)
        if measure == "mean_handling":
            return sum(hours) / len(hours), len(hours)
        return hours[math.ceil(len(hours) * 0.9) - 1], len(hours)
    orders = sorted({s.order for s in steps if s.order in finished})
    if not orders:
        return None, 0
    if measure == "first_time_right":
        return sum(1 for o in orders if finished[o] == 0) / len(orders), len(orders)
    return sum(finished[o] for o in orders) / len(orders), len(orders)


# -- fixtures and helpers --------------------------------------------------------------------------------------
@pytest.fixture
def app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    return w.make_app(db, tmp_path, clock, storage)


def as_user(app: Flask, username: str) -> FlaskClient:
    c = app.test_client()
    assert login(c, username).status_code == 302
    return c


def post(c: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    token = csrf_token(c.get("/kpi/assessment").get_data(as_text=True))
    return c.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=True)


def define(admin: FlaskClient, db: Database) -> dict[str, int]:
    with db.sessions() as s:
        post_ids = dict(s.execute(select(Post.code, Post.id)).tuples().all())
    for name, flow, node, measure, target, weight, posts in DEFINITIONS:
        page = post(admin, "/kpi/definitions", {"name": name, "process_key": flow, "node_id": node, "measure": measure,
                                                "target": str(target), "weight": str(weight),
                                                "posts": [str(post_ids[p]) for p in posts]})
        assert f"考核指标“{name}”已保存" in page.get_data(as_text=True)
    with db.sessions() as s:
        return dict(s.execute(select(KpiDefinition.name, KpiDefinition.id)).tuples().all())


def subject_ids(db: Database) -> dict[str, dict[str, int]]:
    with db.sessions() as s:
        return {"user": dict(s.execute(select(User.username, User.id)).tuples().all()),
                "post": dict(s.execute(select(Post.code, Post.id)).tuples().all()),
                "unit": dict(s.execute(select(OrgUnit.code, OrgUnit.id)).tuples().all())}


def computed(db: Database, defs: dict[str, int]) -> dict[tuple[str, str, int], tuple[float | None, int]]:
    names = {v: k for k, v in defs.items()}
    with db.sessions() as s:
        figures, _ = kpi.assessment(s, MONTH)
    return {(names[f.definition_id], f.subject_type, f.subject_id): (f.value, f.denominator) for f in figures}


def close_enough(a: dict, b: dict) -> list[str]:  # type: ignore[type-arg]
    problems = []
    for key in sorted(set(a) | set(b), key=str):
        x, y = a.get(key), b.get(key)
        if x is None or y is None or x[1] != y[1] or (x[0] is None) != (y[0] is None) or (
                x[0] is not None and y[0] is not None and not math.isclose(x[0], y[0], abs_tol=1e-9)):
            problems.append(f"{key}: app {x} vs here {y}")
    return problems


# -- the tests -----------------------------------------------------------------------------------------------
def test_the_month_equals_an_independent_computation(app: Flask, db: Database, clock: FakeClock) -> None:
    st = build(app, db, clock)
    admin = as_user(app, "admin")
    defs = define(admin, db)
    ids = subject_ids(db)
    want, got = expected(st, ids), computed(db, defs)
    assert close_enough(got, want) == []
    # a few figures spelled out, as a reader of the page would check them
    # 迈克's 故障处理: KA-02 late (5 h of 4), its rework on time (1 h), KA-04's late (arrived in February): 1 of 3
    assert want[("处理及时率", "user", ids["user"]["mike"])] == (1 / 3, 3)
    # in March: KA-01's 5 steps, KA-02's 8, KA-03's 2, KA-04's 故障处理 (its 受理 was in February, its 回单 in April)
    assert want[("工作量", "unit", ids["unit"]["GZ"])] == (16.0, 16)
    # first time right over the finished orders: KA-01 yes, KA-02 no
    assert want[("一次通过率", "unit", ids["unit"]["GZ"])] == (0.5, 2)


def test_the_page_drill_down_closing_and_export(app: Flask, db: Database, clock: FakeClock) -> None:
    st = build(app, db, clock)
    admin = as_user(app, "admin")
    defs = define(admin, db)
    ids = subject_ids(db)
    want = expected(st, ids)
    mike = ids["user"]["mike"]
    page = admin.get(f"/kpi/assessment?month={MONTH}&by=user").get_data(as_text=True)
    value, count = want[("处理及时率", "user", mike)]
    assert f"{100 * value:.1f}%" in page
    drill = admin.get(f"/kpi/assessment/drill?month={MONTH}&definition={defs['处理及时率']}&subject_type=user"
                      f"&subject={mike}").get_data(as_text=True)
    behind = {s.order for s in st.steps if in_month(s) and s.node == "handle" and s.user == "mike"}
    for key in behind:
        assert f'data-order="{key}"' in drill
    assert 'data-order="KA-01"' not in drill and drill.count("<tr data-order=") == count
    # closing the month keeps its figures: a later change to the facts no longer moves them
    assert "已关账" in post(admin, f"/kpi/months/{MONTH}/close").get_data(as_text=True)
    with db.sessions.begin() as s:
        s.execute(update(KpiStep).where(KpiStep.business_key == "KA-02", KpiStep.node_id == "handle")
                  .values(on_time=True))
    with db.sessions() as s:
        kept, closed = kpi.assessment(s, MONTH)
        fresh = kpi.compute(s, MONTH)
    assert closed is not None
    stored = {(f.definition_id, f.subject_type, f.subject_id): f.value for f in kept}
    now = {(f.definition_id, f.subject_type, f.subject_id): f.value for f in fresh}
    key = (defs["处理及时率"], "user", mike)
    assert stored[key] == value and now[key] != value
    assert f"{100 * value:.1f}%" in admin.get(f"/kpi/assessment?month={MONTH}&by=user").get_data(as_text=True)
    # the export holds the same figures
    book = openpyxl.load_workbook(io.BytesIO(admin.get(f"/kpi/assessment.xlsx?month={MONTH}").data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]] if sheet.max_row >= 1 else []
    rows = list(sheet.iter_rows(values_only=True))
    assert any("处理及时率" in str(c) for r in rows[:3] for c in r if c), header
    assert any(r and r[0] == "迈克" and any(isinstance(c, float) and math.isclose(c, value) for c in r) for r in rows)
    # reopening computes from the facts again
    post(admin, f"/kpi/months/{MONTH}/reopen")
    with db.sessions() as s:
        again, closed = kpi.assessment(s, MONTH)
    assert closed is None
    assert {(f.definition_id, f.subject_type, f.subject_id): f.value for f in again}[key] == now[key]


def test_who_may_see_and_change_the_assessment(app: Flask, db: Database, clock: FakeClock) -> None:
    build(app, db, clock)
    define(as_user(app, "admin"), db)
    for username in ("alice", "ana"):
        c = as_user(app, username)
        assert c.get(f"/kpi/assessment?month={MONTH}").status_code == 404
        assert c.get("/kpi/definitions").status_code == 404
    sup = as_user(app, "sup")  # the Guangzhou supervisor: his people and unit, not the posts, not the definitions
    assert sup.get(f"/kpi/assessment?month={MONTH}&by=user").status_code == 200
    assert sup.get("/kpi/definitions").status_code == 404
    token = csrf_token(sup.get("/kpi/assessment").get_data(as_text=True))
    assert sup.post(f"/kpi/months/{MONTH}/close", data={"csrf_token": token}).status_code == 404
    with db.sessions() as s:
        assert kpi.assessment(s, MONTH)[1] is None
