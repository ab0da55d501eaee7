"""考核 statistics checked against an independent computation, on SQLite and PostgreSQL.

A month of work orders — May 2026, with the Labour Day holiday (05-01..05) and the make-up working Saturday
(05-09, 调休) — is driven through the engine services with the FakeClock moved to known times: faults (VIP and
not) and in-sale orders, worked by several people in several posts and two org units, with pauses (挂起/恢复),
a 退回 (return to the previous step), 驳回 (one order rejected twice), transfers to a person and to another unit,
work across the holiday and on the make-up Saturday, steps finished late and on time, orders reaching into April
and into June (the range boundaries, in Beijing time), and some work left open, part of it overdue, at the "now"
of the check.

The test keeps its own plain record of every step (created, completed, paused, who, where) and computes every
figure of the statistics page itself — working time counted on its own 24x7 and workday calendars (minute by
minute, holidays from ``chinese_calendar``), deadlines, on-time, nearest-rank p90 — without the application's
query code. It then reads the page (/stats/?by=person|post|org|flow), the Excel and the CSV export through the
Flask test client as the administrator, unfiltered and filtered by customer and by phone number, and compares
every cell. Each disagreement is listed in the one final assertion, with the engine's deadlines and KPI facts
per step and order checked first to show where a wrong figure comes from.

When this was written the application disagreed in three places (a second 驳回 of the same order not counted
as a return, a task suspended before its deadline counted as 超时, the 转派 column of 按单位/按流程 counting the
transfers of the finished orders); all three were corrected and the assertion now holds.
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import io
import random
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import openpyxl
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.core import ProcessEngine
from engine.tasks.models import HumanTask
from eoms.demo import POSTS
from handlers.dispatch import add_rule
from handlers.kpi.models import KpiOrder, KpiStep
from tests.conftest import Database, FakeClock, user
from tests.web.conftest import login, web_settings
from webapp import create_app

BJ = ZoneInfo("Asia/Shanghai")
WINDOWS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))  # the workday calendar's daily windows
MINUTE = timedelta(minutes=1)
PDF = b"%PDF-1.4\n% fault report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def bj(month: int, day: int, hhmm: str) -> datetime:
    """A Beijing wall-clock time in 2026, as an aware UTC datetime."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(2026, month, day, hours, minutes, tzinfo=BJ).astimezone(UTC)


RANGE_FROM, RANGE_TO = date(2026, 5, 1), date(2026, 5, 31)  # the page's from/to (Beijing dates, end included)
RANGE_START = datetime.combine(RANGE_FROM, time(0), BJ)
RANGE_END = datetime.combine(RANGE_TO + timedelta(days=1), time(0), BJ)
NOW = bj(6, 1, "10:00")  # Monday: the "now" of the check

NAMES = {"alice": "艾丽", "anna": "安娜", "mike": "迈克", "sz_maintainer": "深圳maintainer",
         "sz_dispatcher": "深圳dispatcher", **{f"gz_{code}": f"广州{name}" for code, name in POSTS}}
POST_NAMES = dict(POSTS)
ORG_NAMES = {"GD": "广东省", "GZ": "广州市", "SZ": "深圳市"}
FAULT, INSALE = "aftersales_fault", "insale_implementation"
FLOW_NAMES = {FAULT: "售后故障", INSALE: "售中实施"}
NODE_NAMES = {(FAULT, "accept"): "故障受理", (FAULT, "handle"): "故障处理", (FAULT, "receipt"): "恢复回单",
              (FAULT, "audit"): "回单审核", (FAULT, "callback"): "客户回访",
              (INSALE, "enter"): "录入电路及业务信息", (INSALE, "audit"): "资料审核"}
GROUP_HEADER = ["对象", "工作量（完成）", "按时", "超时", "在办", "按时率", "平均处理时长（小时）",
                "P90 处理时长（小时）", "转派"]
ORDER_HEADER = ["完成工单", "退回", "每单退回", "每单转派"]  # only 按单位 and 按流程: a work order has no person


def group_header(by: str) -> list[str]:
    return GROUP_HEADER + ORDER_HEADER if by in ("org", "flow") else GROUP_HEADER
STEP_HEADER = ["流程", "环节", "次数", "平均处理时长（小时）", "P90 处理时长（小时）", "超时率"]
TITLES = {"person": "按人员", "post": "按岗位", "org": "按单位", "flow": "按流程"}
STEP_TITLE = "环节处理时长"


# -- the calendars, counted independently -------------------------------------------------------------------
@cache
def is_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


def working_minute(moment: datetime) -> bool:
    """True when the minute starting at ``moment`` is working time on the workday calendar."""
    local = moment.astimezone(BJ)
    clock = local.time()
    return is_workday(local.date()) and any(a <= clock < b for a, b in WINDOWS)


def counted(calendar: str, start: datetime, end: datetime) -> int:
    """Seconds of counted time in [start, end): every second on 24x7, working minutes on workday."""
    if end <= start:
        return 0
    if calendar == "24x7":
        return int((end - start).total_seconds())
    assert start.second == end.second == 0, "the month runs on whole minutes"
    total, moment = 0, start
    while moment < end:
        total += 60 if working_minute(moment) else 0
        moment += MINUTE
    return total


def add_counted(calendar: str, start: datetime, seconds: int) -> datetime:
    """The instant ``seconds`` of counted time after ``start``."""
    if calendar == "24x7" or seconds <= 0:
        return start + timedelta(seconds=seconds) if calendar == "24x7" else start
    moment, left = start, seconds
    while left > 0:
        if working_minute(moment):
            left -= 60
        moment += MINUTE
    return moment


def due_after(calendar: str, start: datetime, limit: timedelta | int) -> datetime:
    """The deadline: a 24x7 duration, or (workday) a number of working days — the same clock time on the n-th
    working day after the first working instant at or after ``start``."""
    if calendar == "24x7":
        assert isinstance(limit, timedelta)
        return start + limit
    assert isinstance(limit, int)
    first = start
    while not working_minute(first):
        first += MINUTE
    local = first.astimezone(BJ)
    day, found = local.date(), 0
    while found < limit:
        day += timedelta(days=1)
        found += is_workday(day)
    return datetime.combine(day, local.time(), BJ).astimezone(UTC)


def p90(values: list[int]) -> int:
    """Nearest rank: the smallest value with at least 90 % of the values at or below it."""
    ordered = sorted(values)
    return ordered[(9 * len(ordered) + 9) // 10 - 1]


# -- the record this test keeps ------------------------------------------------------------------------------
@dataclass(eq=False)
class Step:
    order: Order
    node: str
    post: str
    org: str
    calendar: str
    created: datetime
    due: datetime
    task_id: int
    holder: str | None = None  # who has it (claimed, transferred to, returned to) or completed it
    status: str = "open"  # open, done, returned
    done_at: datetime | None = None
    paused: int = 0  # counted seconds suspended
    suspended_from: datetime | None = None
    transfers: int = 0

    @cached_property
    def working(self) -> int:
        """Counted time from arrival to completion, less the counted time suspended (read once completed)."""
        assert self.done_at is not None
        return max(0, counted(self.calendar, self.created, self.done_at) - self.paused)

    @property
    def on_time(self) -> bool:
        assert self.done_at is not None
        return self.done_at <= self.due

    def due_now(self, now: datetime) -> datetime:
        """The deadline as it stands at ``now``: a suspended task's clock is stopped, so its deadline moves on
        with the counted time it has been suspended so far (as resuming it would move it)."""
        if self.suspended_from is None:
            return self.due
        return add_counted(self.calendar, self.due, counted(self.calendar, self.suspended_from, now))


@dataclass(eq=False)
class Order:
    key: str
    flow: str
    org: str
    region: str
    vip: bool
    customer: str
    phone: str
    circuit: str
    steps: list[Step] = field(default_factory=list)
    returns: int = 0
    transfers: int = 0
    instance_id: int = 0
    ended: datetime | None = None

    def open(self, node: str) -> Step:
        (step,) = [s for s in self.steps if s.node == node and s.status == "open"]
        return step


def deadline_rule(order: Order, node: str) -> tuple[str, timedelta | int]:
    """The time limits of processes/*.bpmn: (calendar, duration or working days)."""
    if order.flow == FAULT:
        return {"accept": ("24x7", timedelta(minutes=15 if order.vip else 30)),
                "handle": ("24x7", timedelta(hours=2 if order.vip else 4)),
                "receipt": ("24x7", timedelta(hours=2)), "audit": ("24x7", timedelta(hours=4)),
                "callback": ("workday", 1)}[node]
    return {"enter": ("workday", 2), "audit": ("workday", 1)}[node]


def placement(order: Order, node: str) -> tuple[str, str]:
    """(post, org unit) a new step is offered to: lanes, and the routing rules for 故障处理/恢复回单."""
    if order.flow == FAULT:
        routed = "SZ" if order.region == "SZ" else "GZ"
        return {"accept": ("dispatcher", order.org), "handle": ("maintainer", routed),
                "receipt": ("maintainer", routed), "audit": ("receipt_auditor", order.org),
                "callback": ("customer_service", order.org)}[node]
    return {"enter": ("maintainer", order.org), "audit": ("data_auditor", order.org)}[node]


NEXT = {(FAULT, "accept"): ["handle"], (FAULT, "handle"): ["receipt"], (FAULT, "receipt"): ["audit"],
        (FAULT, "callback"): [], (INSALE, "enter"): ["audit"]}


class World:
    """Drives the engine services and records what each action did, in the test's own terms."""

    def __init__(self, pe: ProcessEngine, db: Database, clock: FakeClock):
        self.pe, self.db, self.clock = pe, db, clock
        self.orders: list[Order] = []
        self.circuits = 0

    @property
    def now(self) -> datetime:
        return self.clock.now

    def _act(self, method: str, step: Step, username: str, *args: Any, **kwargs: Any) -> Any:
        with self.db.sessions.begin() as s:
            return getattr(self.pe.tasks, method)(s, step.task_id, user(s, self.pe, username), *args, **kwargs)

    def _arrive(self, order: Order, node: str, task_id: int, holder: str | None = None) -> Step:
        calendar, limit = deadline_rule(order, node)
        post, org = placement(order, node)
        step = Step(order, node, post, org, calendar, self.now, due_after(calendar, self.now, limit), task_id,
                    holder)
        order.steps.append(step)
        return step

    def _arrived(self, order: Order, rows: list[HumanTask], nodes: list[str]) -> None:
        got = sorted((r.node_id, r.id) for r in rows)
        assert [node for node, _ in got] == sorted(nodes), (order.key, got, nodes)
        for node, task_id in got:
            self._arrive(order, node, task_id)

    # -- starting work orders --------------------------------------------------------------------------------
    def start_fault(self, key: str, starter: str, *, vip: bool, customer: str, phone: str, org: str = "GZ",
                    region: str | None = None) -> Order:
        region = region or org
        order = Order(key, FAULT, org, region, vip, customer, phone, f"GD-{region}-ZX-{len(self.orders) + 1000}")
        data = {"customer": customer, "customer_phone": phone, "vip": vip, "circuit": order.circuit,
                "region": region, "service_type": "专线", "fault_type": "中断", "priority": "高",
                "description": "客户反映专线业务中断"}
        return self._start(order, starter, data, ["accept"])

    def start_insale(self, key: str, starter: str, *, customer: str, phone: str, org: str = "GZ") -> Order:
        self.circuits += 1
        order = Order(key, INSALE, org, org, False, customer, phone, f"GD{org}-ZX-{7000 + self.circuits}")
        data = {"customer": customer, "project": f"{customer}数据专线", "contract_no": f"HT2026050{self.circuits:03d}",
                "region": org, "contact": "王经理", "contact_phone": phone}
        return self._start(order, starter, data, ["enter"])

    def _start(self, order: Order, starter: str, data: dict[str, Any], nodes: list[str]) -> Order:
        with self.db.sessions.begin() as s:
            result = self.pe.runtime.start(s, order.flow, business_key=order.key, data=data,
                                           actor=user(s, self.pe, starter), org_code=order.org)
            order.instance_id = result.instance.id
            self._arrived(order, result.tasks, nodes)
        self.orders.append(order)
        return order

    # -- what post holders and supervisors do ----------------------------------------------------------------
    def complete(self, step: Step, username: str, verdict: str = "pass") -> None:
        order = step.order
        data = self._form(step, username, verdict)
        rows = self._act("complete", step, username, data)
        step.status, step.done_at, step.holder = "done", self.now, username
        if step.node == "audit":
            if verdict == "reject":
                order.returns += 1  # a 驳回 sends the work back: one return per rejection
                nodes = ["handle"] if order.flow == FAULT else ["enter"]
            else:
                nodes = ["callback"] if order.flow == FAULT else []
        else:
            nodes = NEXT[order.flow, step.node]
        self._arrived(order, rows, nodes)
        if not nodes:
            order.ended = self.now

    def _form(self, step: Step, username: str, verdict: str) -> dict[str, Any]:
        order = step.order
        if order.flow == INSALE:
            if step.node == "audit":
                return {"audit_result": verdict, "audit_reason": "VLAN 与规划冲突" if verdict == "reject" else ""}
            circuit = {"circuit_id": order.circuit, "a_end": f"{order.customer}机房", "z_end": "局数据中心",
                       "bandwidth": "1G", "port": "GE0/0/1", "vlan": 300}
            return {"circuits": [circuit], "service_details": "双上联，静态路由"}
        if step.node == "receipt":
            attachment = self._act("upload", step, username, filename="故障处理报告.pdf", data=PDF)
            recovered = self.now.astimezone(BJ).strftime("%Y-%m-%dT%H:%M")
            return {"cause": "光缆", "measures": "熔接光缆，业务恢复", "recovery_time": recovered,
                    "report": [attachment.id]}
        reason = "报告缺少现场照片" if verdict == "reject" else ""
        return {"accept": {"fault_type": "中断", "priority": "高"},
                "handle": {"progress": "已到场排查，定位光缆中断"},
                "audit": {"receipt_result": verdict, "receipt_reason": reason},
                "callback": {"satisfaction": "满意"}}[step.node]

    def claim(self, step: Step, username: str) -> None:
        self._act("claim", step, username)
        step.holder = username

    def transfer(self, step: Step, by: str, *, to_user: str | None = None, to_post: str | None = None,
                 to_org: str | None = None) -> None:
        self._act("transfer", step, by, reason="转派", to_user=to_user, to_post=to_post, to_org=to_org)
        step.transfers += 1
        step.order.transfers += 1
        if to_user:
            step.holder = to_user
        else:
            assert to_post is not None
            step.post, step.org, step.holder = to_post, to_org or step.org, None

    def suspend(self, step: Step, username: str) -> None:
        self._act("suspend", step, username, reason="等待客户配合")
        step.suspended_from = self.now

    def resume(self, step: Step, username: str) -> None:
        self._act("resume", step, username, reason="客户已配合")
        assert step.suspended_from is not None
        paused = counted(step.calendar, step.suspended_from, self.now)
        step.paused += paused
        step.due = add_counted(step.calendar, step.due, paused)
        step.suspended_from = None

    def return_to_previous(self, step: Step, username: str) -> Step:
        """退回: the previous step reopens for the person who did it, with a fresh time limit."""
        row = self._act("return_to_previous", step, username, reason="报告不完整")
        step.status, step.done_at = "returned", self.now
        step.order.returns += 1
        previous = [s for s in step.order.steps if s.status == "done"][-1]
        assert row.node_id == previous.node, (row.node_id, previous.node)
        return self._arrive(step.order, previous.node, row.id, holder=previous.holder)


# -- the month -----------------------------------------------------------------------------------------------
Story = Generator[datetime, None, None]


def play(clock: FakeClock, stories: list[Story]) -> None:
    """Run the stories interleaved in time order: each yields when it next acts; the clock moves there."""
    queue: list[tuple[datetime, int, Story]] = []
    for number, story in enumerate(stories):
        heapq.heappush(queue, (next(story), number, story))
    while queue:
        when, number, story = heapq.heappop(queue)
        assert when >= clock.now, f"story {number} goes back in time to {when}"
        clock.now = when
        with contextlib.suppress(StopIteration):
            heapq.heappush(queue, (story.send(None), number, story))


def vip_fault_paused(w: World) -> Story:
    """VIP, 故障处理 paused for an hour: on time only because the pause moved its deadline; 恢复回单 finished at
    the very minute of its deadline."""
    yield bj(5, 6, "09:00")
    o = w.start_fault("F01", "alice", vip=True, customer="中山大学附属医院", phone="13911110001")
    yield bj(5, 6, "09:10")
    w.complete(o.open("accept"), "alice")
    yield bj(5, 6, "09:20")
    w.claim(o.open("handle"), "mike")
    yield bj(5, 6, "09:40")
    w.suspend(o.open("handle"), "mike")
    yield bj(5, 6, "10:40")
    w.resume(o.open("handle"), "mike")
    yield bj(5, 6, "11:50")
    w.complete(o.open("handle"), "mike")
    yield bj(5, 6, "13:50")
    w.complete(o.open("receipt"), "mike")  # exactly at its deadline: on time
    yield bj(5, 6, "14:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 7, "10:00")
    w.complete(o.open("callback"), "gz_customer_service")


def transferred_rejected_late(w: World) -> Story:
    """Accepted late, 故障处理 transferred to a colleague, rejected once, the rework and the audit late, the
    callback started on the make-up Saturday and finished late."""
    yield bj(5, 8, "15:00")
    o = w.start_fault("F02", "anna", vip=False, customer="广州地铁集团", phone="13911110002")
    yield bj(5, 8, "15:40")
    w.complete(o.open("accept"), "anna")
    yield bj(5, 8, "16:00")
    w.transfer(o.open("handle"), "mike", to_user="gz_maintainer")
    yield bj(5, 8, "18:00")
    w.complete(o.open("handle"), "gz_maintainer")
    yield bj(5, 8, "19:00")
    w.complete(o.open("receipt"), "gz_maintainer")
    yield bj(5, 8, "20:30")
    w.complete(o.open("audit"), "gz_receipt_auditor", "reject")
    yield bj(5, 9, "01:00")
    w.complete(o.open("handle"), "gz_maintainer")
    yield bj(5, 9, "02:00")
    w.complete(o.open("receipt"), "gz_maintainer")
    yield bj(5, 9, "09:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 11, "16:00")
    w.complete(o.open("callback"), "gz_customer_service")


def rejected_twice(w: World) -> Story:
    """回单审核 rejects twice: two returns."""
    yield bj(5, 12, "09:00")
    o = w.start_fault("F03", "gz_dispatcher", vip=False, customer="白云机场", phone="13822220003")
    yield bj(5, 12, "09:05")
    w.complete(o.open("accept"), "gz_dispatcher")
    for start, receipt, audit, verdict in (("10:00", "10:30", "11:00", "reject"), ("12:00", "12:20", "13:00", "reject"),
                                           ("14:00", "14:10", "15:00", "pass")):
        yield bj(5, 12, start)
        w.complete(o.open("handle"), "mike")
        yield bj(5, 12, receipt)
        w.complete(o.open("receipt"), "mike")
        yield bj(5, 12, audit)
        w.complete(o.open("audit"), "gz_receipt_auditor", verdict)
    yield bj(5, 13, "09:00")
    w.complete(o.open("callback"), "gz_customer_service")


def returned_receipt(w: World) -> Story:
    """回单审核 returns the receipt (退回) to who wrote it; the callback is late."""
    yield bj(5, 14, "10:00")
    o = w.start_fault("F04", "alice", vip=True, customer="天河区政务服务中心", phone="13911110004")
    yield bj(5, 14, "10:05")
    w.complete(o.open("accept"), "alice")
    yield bj(5, 14, "11:00")
    w.complete(o.open("handle"), "gz_maintainer")
    yield bj(5, 14, "11:30")
    w.complete(o.open("receipt"), "gz_maintainer")
    yield bj(5, 14, "12:00")
    w.return_to_previous(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 14, "12:40")
    w.complete(o.open("receipt"), "gz_maintainer")
    yield bj(5, 14, "13:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 15, "17:00")
    w.complete(o.open("callback"), "gz_customer_service")


def over_the_holiday(w: World) -> Story:
    """Reported on the eve of Labour Day: 故障处理 paused over the night (24x7: every hour counts), audited late
    on the holiday; the callback, created on the holiday, counts from the first working morning after it."""
    yield bj(4, 30, "20:00")
    o = w.start_fault("F05", "anna", vip=False, customer="番禺区教育局", phone="13822220005")
    yield bj(4, 30, "20:10")
    w.complete(o.open("accept"), "anna")
    yield bj(4, 30, "21:00")
    w.suspend(o.open("handle"), "mike")
    yield bj(5, 1, "09:00")
    w.resume(o.open("handle"), "mike")
    yield bj(5, 1, "11:00")
    w.complete(o.open("handle"), "mike")
    yield bj(5, 1, "12:00")
    w.complete(o.open("receipt"), "mike")
    yield bj(5, 2, "10:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 6, "15:00")
    w.complete(o.open("callback"), "gz_customer_service")


def from_april(w: World) -> Story:
    """故障受理 finished at 23:50 on 30 April (Beijing; 15:50 UTC) is April's; 故障处理 finished at midnight is
    May's; the callback is finished late at 23:50 on 31 May, the last minutes of the range."""
    yield bj(4, 30, "23:30")
    o = w.start_fault("F06", "alice", vip=True, customer="海珠区医保局", phone="13911110006")
    yield bj(4, 30, "23:50")
    w.complete(o.open("accept"), "alice")
    yield bj(5, 1, "00:00")
    w.complete(o.open("handle"), "mike")
    yield bj(5, 1, "00:40")
    w.complete(o.open("receipt"), "mike")
    yield bj(5, 1, "03:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 31, "23:50")
    w.complete(o.open("callback"), "gz_customer_service")


def into_june(w: World) -> Story:
    """Receipt finished at midnight starting 1 June, the audit an hour later: outside the range; the callback is
    open."""
    yield bj(5, 31, "22:00")
    o = w.start_fault("F07", "anna", vip=False, customer="越秀区图书馆", phone="13822220007")
    yield bj(5, 31, "22:10")
    w.complete(o.open("accept"), "anna")
    yield bj(5, 31, "23:30")
    w.complete(o.open("handle"), "mike")
    yield bj(6, 1, "00:00")
    w.complete(o.open("receipt"), "mike")
    yield bj(6, 1, "01:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")


def shenzhen_fault(w: World) -> Story:
    """A Shenzhen order: routed to Shenzhen's maintainer; Shenzhen has no receipt auditor nor customer service,
    so the provincial supervisor transfers those steps to Guangzhou."""
    yield bj(5, 18, "09:00")
    o = w.start_fault("F08", "sz_dispatcher", vip=True, customer="南山科技园管委会", phone="13911110008", org="SZ")
    yield bj(5, 18, "09:20")
    w.complete(o.open("accept"), "sz_dispatcher")
    yield bj(5, 18, "10:30")
    w.complete(o.open("handle"), "sz_maintainer")
    yield bj(5, 18, "11:00")
    w.complete(o.open("receipt"), "sz_maintainer")
    yield bj(5, 18, "11:30")
    w.transfer(o.open("audit"), "boss", to_post="receipt_auditor", to_org="GZ")
    yield bj(5, 18, "12:00")
    w.complete(o.open("audit"), "gz_receipt_auditor")
    yield bj(5, 18, "14:00")
    w.transfer(o.open("callback"), "boss", to_post="customer_service", to_org="GZ")
    yield bj(5, 19, "09:00")
    w.complete(o.open("callback"), "gz_customer_service")


def shenzhen_insale_open(w: World) -> Story:
    """Entered in Shenzhen; nobody there audits: open and overdue, unclaimed."""
    yield bj(5, 20, "10:00")
    o = w.start_insale("I06", "boss", customer="招商局港口", phone="13711110006", org="SZ")
    yield bj(5, 21, "11:00")
    w.complete(o.open("enter"), "sz_maintainer")


def open_overdue_handle(w: World) -> Story:
    """故障受理 transferred to a colleague and finished; 故障处理 claimed and still open, overdue."""
    yield bj(5, 31, "09:00")
    o = w.start_fault("F10", "alice", vip=False, customer="广州地铁集团", phone="13911110010")
    yield bj(5, 31, "09:05")
    w.transfer(o.open("accept"), "alice", to_user="anna")
    yield bj(5, 31, "09:10")
    w.complete(o.open("accept"), "anna")
    yield bj(5, 31, "09:30")
    w.claim(o.open("handle"), "mike")


def open_accept(w: World) -> Story:
    """Reported a quarter of an hour before the check: 故障受理 open and due at that very minute, not overdue yet."""
    yield bj(6, 1, "09:45")
    w.start_fault("F11", "anna", vip=True, customer="广州塔", phone="13822220011")


def open_audit(w: World) -> Story:
    """A Saturday fault whose 回单审核 nobody picked up: open, overdue, unclaimed."""
    yield bj(5, 30, "10:00")
    o = w.start_fault("F12", "alice", vip=False, customer="广州地铁四号线", phone="13911110012")
    yield bj(5, 30, "10:10")
    w.complete(o.open("accept"), "alice")
    yield bj(5, 30, "12:00")
    w.complete(o.open("handle"), "gz_maintainer")
    yield bj(5, 30, "13:00")
    w.complete(o.open("receipt"), "gz_maintainer")


def insale_over_the_holiday(w: World) -> Story:
    """Submitted the day before the holiday, entered after it (on time: the holiday does not count), rejected,
    the rework paused over a night (only the working half hours count) and finished on the make-up Saturday,
    the second audit late (the Sunday does not count, but it is still late)."""
    yield bj(4, 29, "16:00")
    o = w.start_insale("I01", "gz_implementer", customer="广州地铁集团", phone="13911110101")
    yield bj(5, 6, "11:00")
    w.complete(o.open("enter"), "mike")
    yield bj(5, 7, "10:00")
    w.complete(o.open("audit"), "gz_data_auditor", "reject")
    yield bj(5, 7, "17:00")
    w.suspend(o.open("enter"), "mike")
    yield bj(5, 8, "09:00")
    w.resume(o.open("enter"), "mike")
    yield bj(5, 9, "10:30")
    w.complete(o.open("enter"), "mike")
    yield bj(5, 11, "14:00")
    w.complete(o.open("audit"), "gz_data_auditor")


def insale_transferred_late(w: World) -> Story:
    yield bj(5, 13, "09:00")
    o = w.start_insale("I02", "gz_implementer", customer="广州银行", phone="13822220102")
    yield bj(5, 13, "10:00")
    w.transfer(o.open("enter"), "mike", to_user="gz_maintainer")
    yield bj(5, 18, "09:00")
    w.complete(o.open("enter"), "gz_maintainer")
    yield bj(5, 18, "16:00")
    w.complete(o.open("audit"), "gz_data_auditor")


def insale_open_overdue(w: World) -> Story:
    yield bj(5, 25, "09:00")
    o = w.start_insale("I03", "gz_implementer", customer="广州日报", phone="13822220103")
    yield bj(5, 25, "10:00")
    w.claim(o.open("enter"), "mike")


def insale_open_in_time(w: World) -> Story:
    """Friday afternoon: due on Tuesday (the weekend does not count)."""
    yield bj(5, 29, "15:00")
    w.start_insale("I04", "gz_implementer", customer="南方电网", phone="13911110104")


def insale_suspended_open(w: World) -> Story:
    """Suspended before its deadline and still suspended at the check: its clock is stopped, it is not overdue
    although the deadline it had when it was suspended has passed."""
    yield bj(5, 20, "09:00")
    o = w.start_insale("I05", "gz_implementer", customer="广汽集团", phone="13822220105")
    yield bj(5, 20, "10:00")
    w.claim(o.open("enter"), "gz_maintainer")
    yield bj(5, 21, "09:00")
    w.suspend(o.open("enter"), "gz_maintainer")


CUSTOMERS = ["广州地铁集团", "广州地铁三号线", "华南理工大学", "广州日报", "珠江啤酒", "广州港集团", "白云机场"]


def filler_fault(w: World, number: int, rng: random.Random) -> Story:
    """A plain fault at a random moment of the month, every step after a random while (some late)."""
    region = "SZ" if number % 5 == 4 else "GZ"
    start = bj(5, rng.randint(1, 27), f"{rng.randrange(24):02d}:{rng.choice([0, 10, 20, 30, 40, 50]):02d}")
    gaps = [rng.randint(3, 40), rng.randint(20, 300), rng.randint(10, 180), rng.randint(10, 360),
            rng.randint(30, 3000)]
    dispatcher = "sz_dispatcher" if region == "SZ" else ["alice", "anna", "gz_dispatcher"][number % 3]
    maintainer = "sz_maintainer" if region == "SZ" else ["mike", "gz_maintainer"][number % 2]
    phone = f"139111102{number:02d}" if number % 4 == 0 else f"138222202{number:02d}"
    yield start
    o = w.start_fault(f"FX{number:02d}", dispatcher, vip=number % 3 == 0, customer=CUSTOMERS[number % 7],
                      phone=phone, org=region)
    moment = start
    for (node, who), gap in zip((("accept", dispatcher), ("handle", maintainer), ("receipt", maintainer),
                                  ("audit", "gz_receipt_auditor"), ("callback", "gz_customer_service")),
                                 gaps, strict=True):
        if region == "SZ" and node in ("audit", "callback"):
            moment += timedelta(minutes=5)
            yield moment
            post = "receipt_auditor" if node == "audit" else "customer_service"
            w.transfer(o.open(node), "boss", to_post=post, to_org="GZ")
        moment += timedelta(minutes=gap)
        yield moment
        w.complete(o.open(node), who)


def filler_insale(w: World, number: int, rng: random.Random) -> Story:
    start = bj(5, rng.randint(6, 22), f"{rng.randint(9, 16):02d}:{rng.choice([0, 15, 30, 45]):02d}")
    yield start
    o = w.start_insale(f"IX{number:02d}", "gz_implementer", customer=CUSTOMERS[(number + 3) % 7],
                       phone=f"139111103{number:02d}" if number % 2 else f"138222203{number:02d}")
    moment = start + timedelta(minutes=rng.randint(60, 4000))
    yield moment
    w.complete(o.open("enter"), ["mike", "gz_maintainer"][number % 2])
    yield moment + timedelta(minutes=rng.randint(30, 2500))
    w.complete(o.open("audit"), "gz_data_auditor")


def month(w: World) -> list[Story]:
    rng = random.Random(20260501)
    stories = [vip_fault_paused(w), transferred_rejected_late(w), rejected_twice(w), returned_receipt(w),
               over_the_holiday(w), from_april(w), into_june(w), shenzhen_fault(w), shenzhen_insale_open(w),
               open_overdue_handle(w), open_accept(w), open_audit(w), insale_over_the_holiday(w),
               insale_transferred_late(w), insale_open_overdue(w), insale_open_in_time(w), insale_suspended_open(w)]
    stories += [filler_fault(w, n, rng) for n in range(15)]
    stories += [filler_insale(w, n, rng) for n in range(6)]
    return stories


def check_the_month_is_what_it_claims(w: World) -> None:
    """The scenario exercises what the docstrings say (the test's own record, no application code)."""
    orders = {o.key: o for o in w.orders}
    handle = orders["F01"].steps[1]
    assert (handle.paused, handle.on_time, handle.done_at > handle.created + timedelta(hours=2)) == (3600, True, True)
    assert orders["F05"].steps[1].paused == 12 * 3600
    callback = orders["F05"].steps[-1]
    assert (callback.created, callback.due) == (bj(5, 2, "10:00"), bj(5, 7, "08:30"))  # created on the holiday
    rework = orders["I01"].steps[2]
    assert (rework.paused, rework.due, rework.on_time) == (3600, bj(5, 9, "11:00"), True)  # the make-up Saturday
    assert rework.working == (6 + 7.5 + 2) * 3600 - 3600
    assert orders["I01"].steps[0].working == int(11.5 * 3600)  # 04-29, 04-30, (holiday), 05-06
    assert (orders["F03"].returns, orders["F04"].returns, orders["F02"].returns) == (2, 1, 1)
    assert orders["F01"].steps[2].done_at == orders["F01"].steps[2].due  # on time at the very minute
    assert orders["F11"].steps[0].due == NOW  # due now: not overdue yet
    assert (orders["F06"].steps[1].done_at, orders["F07"].steps[2].done_at) == (RANGE_START, RANGE_END)
    done = [s for o in w.orders for s in o.steps if s.status == "done" and RANGE_START <= s.done_at < RANGE_END]
    still_open = [s for o in w.orders for s in o.steps if s.status == "open"]
    assert sum(s.on_time for s in done) > 20 and sum(not s.on_time for s in done) > 10, "on time and late steps"
    assert sum(s.due_now(NOW) < NOW for s in still_open) >= 4 and sum(s.due_now(NOW) >= NOW for s in still_open) >= 4
    assert any(s.suspended_from and s.due < NOW <= s.due_now(NOW) for s in still_open)
    assert any(s.done_at and s.done_at < RANGE_START for o in w.orders for s in o.steps)
    assert any(s.done_at and s.done_at >= RANGE_END for o in w.orders for s in o.steps)
    assert {s.holder for s in done} >= {"alice", "anna", "mike", "gz_maintainer", "sz_maintainer",
                                        "gz_receipt_auditor", "gz_customer_service", "gz_data_auditor"}


# -- the expected tables -------------------------------------------------------------------------------------
@dataclass
class Tally:
    completed: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    open_overdue: int = 0
    working: list[int] = field(default_factory=list)
    transfers: int = 0
    orders: int = 0
    returns: int = 0
    order_transfers: int = 0


def percent(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "—"


def hours(seconds: float | None) -> Any:
    return round(seconds / 3600, 2) if seconds is not None else "—"


def per(count: int, orders: int) -> Any:
    return round(count / orders, 2) if orders else "—"


def in_range(moment: datetime | None) -> bool:
    return moment is not None and RANGE_START <= moment < RANGE_END


def group_key(by: str, step: Step) -> str | None:
    return {"person": step.holder, "post": step.post, "org": step.org, "flow": step.order.flow}[by]


def group_label(by: str, key: str | None) -> str:
    if by == "person":
        assert key, "unclaimed work is no person"
        return NAMES[key]
    return {"post": POST_NAMES, "org": ORG_NAMES, "flow": FLOW_NAMES}[by][key or ""]


def expected_unclaimed(w: World, chosen: Callable[[Order], bool]) -> str:
    """The line under 按人员: open steps nobody has claimed, and how many of them are overdue."""
    steps = [s for o in filter(chosen, w.orders) for s in o.steps if s.status == "open" and s.holder is None]
    late = sum(s.due_now(NOW) < NOW for s in steps)
    return f"未签收（岗位待签收）：{len(steps)} 项，其中超时 {late} 项"


def expected_groups(w: World, by: str, chosen: Callable[[Order], bool]) -> list[list[Any]]:
    """工作量 / 工单完成情况 / 按时率 / 处理时长 / 转派 / 退回, one row per person, post, org unit or flow.

    Completed steps count when completed in the range; open steps as of NOW (with 超时 when past the deadline
    as it stands then); finished orders (flow, org: the order's unit) when they ended in the range. 转派 is the
    transfers of the steps counted, in every dimension; 每单转派 the transfers of the orders counted per order."""
    tallies: dict[str | None, Tally] = defaultdict(Tally)
    for order in filter(chosen, w.orders):
        for step in order.steps:
            if step.status == "done" and in_range(step.done_at):
                t = tallies[group_key(by, step)]
                t.completed += 1
                t.on_time += step.on_time
                t.late += not step.on_time
                t.working.append(step.working)
                t.transfers += step.transfers
            elif step.status == "open":
                t = tallies[group_key(by, step)]
                t.open += 1
                t.open_overdue += step.due_now(NOW) < NOW
        if by in ("org", "flow") and in_range(order.ended):
            t = tallies[order.org if by == "org" else order.flow]
            t.orders += 1
            t.returns += order.returns
            t.order_transfers += order.transfers
    if by == "person":
        tallies.pop(None, None)  # counted under the table (expected_unclaimed)
    rows = []
    for key, t in tallies.items():
        mean = sum(t.working) / len(t.working) if t.working else None
        row = [group_label(by, key), t.completed, t.on_time, t.late + t.open_overdue, t.open,
               percent(t.on_time, t.on_time + t.late), hours(mean), hours(p90(t.working) if t.working else None),
               t.transfers]
        if by in ("org", "flow"):
            row += [t.orders, t.returns, per(t.returns, t.orders), per(t.order_transfers, t.orders)]
        rows.append(row)
    return sorted(rows, key=lambda r: (-r[1], str(r[0])))


def expected_steps(w: World, chosen: Callable[[Order], bool]) -> list[list[Any]]:
    """Per step of each flow: how often completed in the range, mean and p90 working hours, share late."""
    found: dict[tuple[str, str], list[Step]] = defaultdict(list)
    for order in filter(chosen, w.orders):
        for step in order.steps:
            if step.status == "done" and in_range(step.done_at):
                found[order.flow, step.node].append(step)
    rows = []
    for (flow, node), steps in found.items():
        working = [s.working for s in steps]
        mean = sum(working) / len(working)
        rows.append((flow, -mean, [FLOW_NAMES[flow], NODE_NAMES[flow, node], len(steps), hours(mean),
                                   hours(p90(working)), percent(sum(not s.on_time for s in steps), len(steps))]))
    return [row for *_, row in sorted(rows, key=lambda r: (r[0], r[1]))]


# -- reading what the application shows ----------------------------------------------------------------------
Table = tuple[str, list[str], list[list[Any]]]


class StatsPage(HTMLParser):
    """The statistics tables of the page: (title, header, rows) of each ``section.stats-table``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.section = False
        self.title: str | None = None
        self.cell: str | None = None
        self.rows: list[list[str]] = []
        self.note: str | None = None
        self.notes: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and "stats-table" in (dict(attrs).get("class") or ""):
            self.section, self.rows = True, []
        elif self.section and tag == "h2":
            self.title = ""
        elif self.section and tag == "tr":
            self.rows.append([])
        elif self.section and tag in ("td", "th"):
            self.cell = ""
        elif self.section and tag == "p" and "stats-note" in (dict(attrs).get("class") or ""):
            self.note = ""

    def handle_endtag(self, tag: str) -> None:
        if self.section and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif self.section and tag == "p" and self.note is not None:
            self.notes.setdefault(self.tables[-1][0], []).append(self.note.strip())
            self.note = None
        elif self.section and tag == "h2" and self.title is not None:
            self.tables.append((self.title.strip(), [], []))
            self.title = None
        elif self.section and tag == "section":
            title = self.tables[-1][0]
            header, *body = self.rows or [[]]
            self.tables[-1] = (title, header, body)
            self.section = False

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data
        elif self.note is not None:
            self.note += data
        elif self.title is not None:
            self.title += data


def page_tables(html: str) -> list[Table]:
    parser = StatsPage()
    parser.feed(html)
    return parser.tables


def page_notes(html: str) -> dict[str, list[str]]:
    """The sentences under each table, by table title."""
    parser = StatsPage()
    parser.feed(html)
    return parser.notes


def xlsx_tables(content: bytes) -> list[Table]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    tables = []
    for sheet in book.worksheets:
        header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        if [None] * len(header) in rows:  # the notes follow an empty row
            rows = rows[:rows.index([None] * len(header))]
        tables.append((sheet.title, [str(h) for h in header], rows))
    return tables


def csv_tables(content: bytes) -> list[Table]:
    assert content.startswith("\ufeff".encode()), "the CSV starts with a BOM"
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    tables, block = [], []
    for line in [*lines, []]:
        if line:
            block.append(line)
        elif block and all(len(b) == 1 for b in block) and tables:  # the notes under the table before
            block = []
        elif block:
            (title,), header, *rows = block
            tables.append((title, header, rows))
            block = []
    return tables


def as_text(value: Any) -> str:
    """A cell as the page and the CSV write it."""
    return str(value)


def as_cell(value: Any) -> Any:
    """A cell as Excel holds it: numbers as numbers (compared to three places), percentages as fractions,
    blank for a figure without a value."""
    if value in ("", None, "—"):
        return None
    if isinstance(value, str) and value.endswith("%"):
        return round(float(value[:-1]) / 100, 3)
    return round(float(value), 3) if isinstance(value, int | float) and not isinstance(value, bool) else value


def as_csv(value: Any) -> Any:
    """A cell as the CSV writes it: plain numbers (percentages as fractions), empty for no value."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return as_cell(value)


def compare(where: str, got: Table, title: str, header: list[str], want: list[list[Any]], key_columns: int,
            cell: Callable[[Any], Any], problems: list[str]) -> None:
    got_title, got_header, got_rows = got
    if got_title != title or list(got_header) != header:
        problems.append(f"{where}: table {got_title!r} {got_header} instead of {title!r} {header}")
        return
    got_rows = [[cell(v) for v in row] for row in got_rows]
    want_rows = [[cell(v) for v in row] for row in want]
    got_by = {tuple(r[:key_columns]): r for r in got_rows}
    want_by = {tuple(r[:key_columns]): r for r in want_rows}
    for key in sorted(set(got_by) | set(want_by), key=str):
        g, w = got_by.get(key), want_by.get(key)
        if g is None or w is None:
            problems.append(f"{where} {title} {'/'.join(map(str, key))}: row {g} shown, {w} expected")
            continue
        for name, shown, expected in zip(header, g, w, strict=True):
            if shown != expected:
                problems.append(f"{where} {title} {'/'.join(map(str, key))} {name}: shown {shown!r}, "
                                f"expected {expected!r}")
    if set(got_by) == set(want_by) and [r[:key_columns] for r in got_rows] != [r[:key_columns] for r in want_rows]:
        problems.append(f"{where} {title}: rows in order {[r[0] for r in got_rows]}, expected "
                        f"{[r[0] for r in want_rows]}")


def check_view(client: FlaskClient, w: World, by: str, params: dict[str, str], chosen: Callable[[Order], bool],
               problems: list[str]) -> None:
    query = {"by": by, "from": RANGE_FROM.isoformat(), "to": RANGE_TO.isoformat(), **params}
    groups, steps = expected_groups(w, by, chosen), expected_steps(w, chosen)
    label = f"by={by}" + "".join(f" {k}={v}" for k, v in params.items())
    page = client.get("/stats/", query_string=query)
    assert page.status_code == 200, page.status_code
    if by == "person":
        notes = page_notes(page.get_data(as_text=True)).get(TITLES[by], [])
        if expected_unclaimed(w, chosen) not in notes:
            problems.append(f"page {label}: {notes} instead of {expected_unclaimed(w, chosen)!r}")
    xlsx = client.get("/stats/export.xlsx", query_string=query)
    csv_file = client.get("/stats/export.csv", query_string=query)
    assert (xlsx.status_code, csv_file.status_code) == (200, 200)
    for source, tables, cell in (("page", page_tables(page.get_data(as_text=True)), as_text),
                                 ("xlsx", xlsx_tables(xlsx.data), as_cell),
                                 ("csv", csv_tables(csv_file.data), as_csv)):
        if len(tables) != 2:
            problems.append(f"{source} {label}: {len(tables)} tables")
            continue
        compare(f"{source} {label}", tables[0], TITLES[by], group_header(by), groups, 1, cell, problems)
        compare(f"{source} {label}", tables[1], STEP_TITLE, STEP_HEADER, steps, 2, cell, problems)


def check_recorded_facts(w: World, db: Database, problems: list[str]) -> None:
    """Where a figure goes wrong: the deadlines the engine set and the KPI facts it recorded, per step and
    order, against the test's own record (read straight from the tables)."""
    with db.sessions() as s:
        tasks = {t.id: t for t in s.scalars(select(HumanTask))}
        facts = {f.human_task_id: f for f in s.scalars(select(KpiStep))}
        orders = {o.instance_id: o for o in s.scalars(select(KpiOrder))}
    for order in w.orders:
        for step in order.steps:
            where = f"{order.key}/{step.node}#{step.task_id}"
            if tasks[step.task_id].due_at != step.due:
                problems.append(f"human_task {where}: due_at {tasks[step.task_id].due_at}, expected {step.due}")
            fact = facts.get(step.task_id)
            if step.status != "done":
                continue
            if fact is None:
                problems.append(f"kpi_step {where}: missing")
                continue
            got = (fact.working_seconds, fact.on_time, fact.transfers, fact.paused_seconds)
            want = (step.working, step.on_time, step.transfers, step.paused)
            if got != want:
                problems.append(f"kpi_step {where}: (working, on_time, transfers, paused) {got}, expected {want}")
        fact = orders.get(order.instance_id)
        if order.ended is not None:
            got = (fact.returns, fact.transfers) if fact else None
            if got != (order.returns, order.transfers):
                problems.append(f"kpi_order {order.key}: (returns, transfers) {got}, "
                                f"expected {(order.returns, order.transfers)}")


VIEWS: list[tuple[dict[str, str], Callable[[Order], bool]]] = [
    ({}, lambda o: True),
    ({"customer": "地铁"}, lambda o: "地铁" in o.customer),
    ({"phone": "1391111"}, lambda o: o.phone.startswith("1391111")),
]


def test_a_month_of_work_orders_matches_the_statistics_page_and_exports(
        db: Database, clock: FakeClock, flow_pe: ProcessEngine, deploy_flows: Callable[[ProcessEngine], Any],
        tmp_path: Path) -> None:
    deploy_flows(flow_pe)
    with db.sessions.begin() as s:
        add_rule(s, "SZ", "*", post="maintainer", org_unit="SZ")
        add_rule(s, "*", "*", post="maintainer", org_unit="GZ")
    world = World(flow_pe, db, clock)
    play(clock, month(world))
    assert clock.now <= NOW
    clock.now = NOW
    check_the_month_is_what_it_claims(world)

    problems: list[str] = []
    check_recorded_facts(world, db, problems)
    app = create_app(web_settings(db, tmp_path), flow_pe)
    app.config["TESTING"] = True
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    for params, chosen in VIEWS:
        for by in TITLES:
            check_view(client, world, by, params, chosen, problems)
    assert not problems, f"{len(problems)} figures disagree:\n" + "\n".join(problems)

