"""A small world of 售后故障 work orders for the statistics page, built through the engine on a clock the test
sets: some steps done (on time and late, on 2 and 4 March, none on 28 February, 1 or 3 March), one open step
claimed by a person and three open steps nobody has claimed yet (one of them past its deadline).

"Now" is Wednesday 4 March 2026 10:00 in Guangzhou; the statistics range is 28 February – 4 March.

    ST-01 reported 03-02 09:00, finished the same day: 故障受理 10 min (广州调度员, on time), 故障处理 5 h
          (迈克, late: the limit is 4 h), 恢复回单 30 min (迈克), 回单审核 20 min, 客户回访 60 min
    ST-02 reported 03-02 10:00: 故障受理 40 min (艾丽, late: 30 min); 故障处理 claimed by 迈克, overdue
    ST-03 reported 20 min ago: 故障受理 unclaimed, 10 min left
    ST-04 reported 60 min ago: 故障受理 unclaimed, overdue by 30 min
    ST-05 reported 100 min ago: 故障受理 10 min (广州调度员, on time, 03-04); 故障处理 unclaimed, in time
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.tasks.models import HumanTask
from handlers import build_registry
from handlers.dispatch import add_rule
from tests.conftest import PROCESSES_DIR, Database, FakeClock
from tests.web.conftest import TEMPLATES, web_settings
from webapp import create_app

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Guangzhou
MAR2 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00
M = timedelta(minutes=1)
RANGE = {"from": "2026-02-28", "to": "2026-03-04"}
DAYS = ["2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
STEPS_PER_DAY = [0, 0, 6, 0, 1]  # ST-01's five steps and ST-02's 故障受理 on 03-02; ST-05's 故障受理 on 03-04
ORDERS_PER_DAY = [0, 0, 1, 0, 0]
UNCLAIMED, UNCLAIMED_OVERDUE = 3, 1
FAULT = {"customer": "客户", "customer_phone": "13800000000", "vip": False, "circuit": "GZ-ZX-0000",
         "region": "GZ", "service_type": "专线", "fault_type": "中断", "priority": "高", "description": "专线中断"}
ACCEPT = {"fault_type": "中断", "priority": "高"}
HANDLE = {"progress": "已到场处理", "onsite": True}
RECEIPT = {"cause": "光缆", "measures": "熔接光缆", "recovery_time": "2026-03-02T14:30"}
PDF = b"%PDF-1.4\n% report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_app(db: Database, tmp_path: Path, clock: FakeClock, storage: Path) -> Flask:
    """The app on an engine that reads the test's clock, with 售后故障 deployed and faults routed to GZ."""
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


class Orders:
    """Work orders made through the app's engine, each action in its own transaction at the clock's time."""

    def __init__(self, app: Flask, db: Database, clock: FakeClock):
        self.pe: ProcessEngine = app.extensions["eoms"]["engine"]
        self.db, self.clock = db, clock

    def start(self, key: str, at: datetime) -> int:
        self.clock.now = at
        with self.db.sessions.begin() as s:
            return self.pe.runtime.start(s, "aftersales_fault", business_key=key, data=dict(FAULT),
                                         actor=self.pe.identity.get_user(s, "gz_dispatcher")).instance.id

    def open_task(self, instance_id: int, node_id: str) -> int:
        with self.db.sessions() as s:
            (task_id,) = s.scalars(select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.node_id == node_id, HumanTask.status == "ready")).all()
            return task_id

    def act(self, method: str, task_id: int, username: str, *args: Any) -> Any:
        with self.db.sessions.begin() as s:
            return getattr(self.pe.tasks, method)(s, task_id, self.pe.identity.get_user(s, username), *args)

    def complete(self, instance_id: int, node_id: str, username: str, data: dict[str, Any], after: timedelta) -> None:
        task_id = self.open_task(instance_id, node_id)
        self.clock.advance(seconds=after.total_seconds())
        if node_id == "receipt":
            with self.db.sessions.begin() as s:
                attachment = self.pe.tasks.upload(s, task_id, self.pe.identity.get_user(s, username),
                                                  filename="故障处理报告.pdf", data=PDF)
            data = {**data, "report": [str(attachment.id)]}
        self.act("complete", task_id, username, data)


def build(app: Flask, db: Database, clock: FakeClock) -> None:
    """The five work orders of the module docstring; leaves the clock at NOW."""
    o = Orders(app, db, clock)
    i = o.start("ST-01", MAR2)
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 10 * M)
    o.complete(i, "handle", "mike", HANDLE, 300 * M)
    o.complete(i, "receipt", "mike", RECEIPT, 30 * M)
    o.complete(i, "audit", "gz_receipt_auditor", {"receipt_result": "pass"}, 20 * M)
    o.complete(i, "callback", "gz_customer_service", {"satisfaction": "满意"}, 60 * M)
    i = o.start("ST-02", MAR2 + 60 * M)
    o.complete(i, "accept", "alice", ACCEPT, 40 * M)
    o.act("claim", o.open_task(i, "handle"), "mike")
    o.start("ST-03", NOW - 20 * M)
    o.start("ST-04", NOW - 60 * M)
    i = o.start("ST-05", NOW - 100 * M)
    o.complete(i, "accept", "gz_dispatcher", ACCEPT, 10 * M)
    clock.now = NOW


def open_steps(db: Database) -> int:
    """Every open step in the database (claimed or not)."""
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "ready")) or 0
