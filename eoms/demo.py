"""``eoms seed-demo``: a province and three cities, a person for every post the diagrams' lanes name, routing
rules and inventory, every flow deployed, and work orders at every stage — some near their limit, some
overdue, some finished last month. Idempotent: what exists is left alone.

The diagrams in ``processes/`` are the source of truth: the posts the demo creates are the ones their lanes
name (:func:`flow_posts`); :data:`POSTS` only gives each a code (people are ``<city>_<code>``) and its Chinese
name, and a lane it does not know stops the seed with an error naming the lane and the file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import ProcessEngine
from engine.db import utcnow
from engine.errors import Code, EomsError
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import Worker
from eoms.demo_business import business_stories
from handlers.dispatch import add_rule
from handlers.resources.inventory import add_resources

CITIES = [("GZ", "广州"), ("SZ", "深圳"), ("DG", "东莞")]
# (code, Chinese name) of the posts the demo knows how to staff, in a fixed order (phone numbers follow it);
# which of them exist is decided by the diagrams' lanes, see flow_posts()
POSTS = [
    ("product_manager", "产品经理"), ("support_dispatcher", "支撑调度员"), ("transmission_engineer", "传输工程师"),
    ("data_engineer", "数据工程师"), ("solution_manager", "方案经理"), ("solution_reviewer", "方案审核员"),
    ("implementer", "实施工程师"), ("maintainer", "维护员"), ("data_auditor", "资料审核员"), ("dispatcher", "调度员"),
    ("receipt_auditor", "回单审核员"), ("customer_service", "客服代表"), ("planner", "计划专责"),
    ("plan_approver", "计划审批人"), ("order_auditor", "受理审核员"), ("resource_dispatcher", "资源调度员"),
    ("network_operator", "开通工程师"), ("project_manager", "项目经理"), ("project_reviewer", "项目审核员"),
    ("dept_approver", "部门经理"), ("finance_approver", "财务审核员"), ("leader_approver", "分管领导"),
]
PROVINCE_POSTS = ("planner", "plan_approver")
DEFAULT_PASSWORD = "eoms-demo-2026"
PROCESSES_DIR = Path(__file__).resolve().parent.parent / "processes"
BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
REPORT = b"%PDF-1.4\n% EOMS demo report\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class DemoSummary:
    users: list[tuple[str, str, str]] = field(default_factory=list)  # username, name, what they do
    deployed: list[str] = field(default_factory=list)
    instances_created: int = 0


EngineFactory = Callable[[Callable[[], datetime]], ProcessEngine]


class DemoSetupError(EomsError):
    """The diagrams need something the demo cannot provide (a lane naming a post it does not know)."""

    code = Code.CONFIGURATION


def diagram_lanes(processes_dir: Path = PROCESSES_DIR) -> list[tuple[str, str, str]]:
    """(file name, lane id, lane name) of every lane of every ``*.bpmn`` in ``processes_dir``, nested lane sets
    (an embedded subprocess's) included, in file and document order. Lanes whose tasks take their post from
    data (``postVar``) are included too: deploy validation and the fallback still need the lane's post."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    lanes: list[tuple[str, str, str]] = []
    for path in sorted(processes_dir.glob("*.bpmn")):
        tree = etree.parse(str(path), parser)
        for lane in tree.iterfind(".//bpmn:lane", BPMN_NS):
            lanes.append((path.name, lane.get("id", ""), (lane.get("name") or "").strip()))
    return lanes


def flow_posts(processes_dir: Path = PROCESSES_DIR, known: list[tuple[str, str]] = POSTS) -> list[tuple[str, str]]:
    """(code, name) of the post each lane of the diagrams names (by code or by name), each once, in the order of
    ``known``. Raises :class:`DemoSetupError` naming the lane and its file when a lane names no known post."""
    by_ref = {ref: (code, name) for code, name in known for ref in (code, name)}
    needed: set[str] = set()
    for filename, lane_id, lane_name in diagram_lanes(processes_dir):
        post = by_ref.get(lane_name)
        if post is None:
            what = f"lane '{lane_name}'" if lane_name else "a lane without a name"
            raise DemoSetupError(
                f"{filename}: {what} (id {lane_id}) names no post the demo knows; add its (code, name) to "
                "eoms.demo.POSTS", details={"file": filename, "lane_id": lane_id, "lane": lane_name})
        needed.add(post[0])
    return [(code, name) for code, name in known if code in needed]


def seed_demo(make_engine: EngineFactory, sessions: sessionmaker[Session], processes_dir: Path,
              password: str = DEFAULT_PASSWORD, now: Callable[[], datetime] | None = None) -> DemoSummary:
    """Create what is missing; running it twice changes nothing the second time. ``make_engine(clock)`` builds
    the engine as configured, on a given clock."""
    summary = DemoSummary()
    posts = flow_posts(processes_dir)  # before anything is written: a lane without a post stops the seed
    pe = make_engine(now or utcnow)
    with sessions.begin() as s:
        _organisation(pe, s, posts, password, summary)
        _routing_and_inventory(s)
    with sessions.begin() as s:
        for path in sorted((processes_dir / "forms").glob("*.json")):
            pe.forms.deploy(s, path.stem, path.read_bytes(), path.name)
        for path in sorted(processes_dir.glob("*.bpmn")):
            for result in pe.repository.deploy(s, path.read_bytes(), path.name):
                summary.deployed.append(f"{result.key} v{result.version}")
    with sessions() as s:
        seeded = s.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key.like("DEMO-%")).limit(1))
    if seeded is None:
        stories = DemoStories(make_engine, sessions, now or pe.ctx.clock)
        summary.instances_created = stories.run()
    return summary


def _organisation(pe: ProcessEngine, s: Session, staffed: list[tuple[str, str]], password: str,
                  summary: DemoSummary) -> None:
    """The province and cities, the ``staffed`` posts, and a holder of each in each city (or the province)."""
    ident = pe.identity
    if ident.find_org_unit(s, "GD") is None:
        ident.add_org_unit(s, "GD", "广东省分公司政企部")
    for code, name in CITIES:
        if ident.find_org_unit(s, code) is None:
            ident.add_org_unit(s, code, f"{name}分公司", "GD")
    for code, name in staffed:
        if ident.find_post(s, code) is None:
            ident.add_post(s, code, name)
    people: list[tuple[str, str, str, list[str], str]] = [
        ("admin", "系统管理员", "GD", [], "admin"), ("analyst", "流程分析员", "GD", [], "analyst"),
        ("gd_supervisor", "省主管", "GD", [], "supervisor"),
        *[(f"gd_{code}", f"省{name}", "GD", [code], "user") for code, name in staffed if code in PROVINCE_POSTS],
    ]
    for city, city_name in CITIES:
        prefix = city.lower()
        people.append((f"{prefix}_supervisor", f"{city_name}主管", city, [], "supervisor"))
        people += [(f"{prefix}_{code}", f"{city_name}{name}", city, [code], "user") for code, name in staffed
                   if code not in PROVINCE_POSTS]
    for number, (username, name, org, posts, role) in enumerate(people, start=1):
        if ident.find_user(s, username) is None:
            ident.add_user(s, username, display_name=name, password=password, org_code=org, post_codes=posts,
                           role=role, phone=f"1380000{number:04d}")
        summary.users.append((username, name, f"{org} {role}{' ' + ','.join(posts) if posts else ''}"))


def _routing_and_inventory(s: Session) -> None:
    for city, _ in CITIES:
        add_rule(s, city, "*", post="maintainer", org_unit=city, note="本地维护")
    add_rule(s, "*", "*", post="maintainer", org_unit="GZ", note="兜底：广州维护")
    for index, (city, _) in enumerate(CITIES, start=1):
        reserved = city == "DG"  # Dongguan's resources are reserved: its orders go to 人工调度
        add_resources(s, city, "port", [f"{city}-OLT1-GE0/0/{i}" for i in range(1, 21)], reserved=reserved)
        add_resources(s, city, "vlan", [str(100 + i) for i in range(20)], reserved=reserved)
        add_resources(s, city, "ip", [f"10.{index}.0.{i}" for i in range(1, 21)], reserved=reserved)


class DemoStories:
    """Work orders told as stories: started some hours (or weeks) ago, moved on step by step."""

    def __init__(self, make_engine: EngineFactory, sessions: sessionmaker[Session], now: Callable[[], datetime]):
        self.sessions, self.now = sessions, now
        self.moment = now()
        self.pe = make_engine(lambda: self.moment)  # each story step happens at its own moment in the past
        self.worker = Worker(self.pe, sessions, "demo-seed")
        self.count = 0

    def start(self, key: str, city: str, starter: str, hours_ago: float, data: dict[str, Any],
              org: str | None = None, context: dict[str, Any] | None = None) -> int:
        self.count += 1
        self.moment = self.now() - timedelta(hours=hours_ago)
        with self.sessions.begin() as s:
            actor = self.pe.identity.get_user(s, starter)
            result = self.pe.runtime.start(s, key, business_key=f"DEMO-{self.count:04d}", data=data, actor=actor,
                                           org_code=org or city, context=context)
            return result.instance.id

    def step(self, instance_id: int, node_id: str, data: dict[str, Any], minutes: float = 40,
             upload: str | None = None) -> None:
        """Complete the open task ``node_id`` as a holder of its post in its unit, ``minutes`` later."""
        self.moment += timedelta(minutes=minutes)
        with self.sessions.begin() as s:
            row = s.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.node_id == node_id,
                                                   HumanTask.status == "ready").order_by(HumanTask.id).limit(1))
            if row is None:
                raise RuntimeError(f"demo: instance {instance_id} has no open task '{node_id}'")
            actor = self.pe.identity.holders(s, row.post_id, row.org_unit_id)[0]
            if upload:
                attachment = self.pe.tasks.upload(s, row.id, actor, filename=f"{row.business_key}-报告.pdf",
                                                  data=REPORT)
                data = {**data, upload: [attachment.id]}
            self.pe.tasks.complete(s, row.id, actor, data)

    def work(self, minutes: float = 5) -> None:
        """Let the worker do what is due (jobs such as the network activation), a little later."""
        self.moment += timedelta(minutes=minutes)
        self.worker.tick()

    def run(self) -> int:
        self.faults()
        self.presales()
        self.insale()
        self.workplans()
        self.provisioning()
        business_stories(self)
        self.worker.stopped()
        return self.count

    # -- the stories -------------------------------------------------------------------------------------------
    def faults(self) -> None:
        base = {"service_type": "专线", "fault_type": "中断", "priority": "高", "description": "客户反映专线业务中断"}
        cases = [("GZ", "中山大学附属医院", True, 0.2, 0), ("GZ", "天河区政务服务中心", False, 0.4, 1),
                 ("GZ", "广州地铁集团", True, 1.6, 2), ("SZ", "南山科技园管委会", False, 3.2, 2),
                 ("GZ", "白云机场", False, 5.0, 3), ("DG", "松山湖管委会", False, 6.5, 4),
                 ("GZ", "番禺区教育局", False, 9.0, 5), ("GZ", "海珠区医保局", False, 24 * 33, 7),
                 ("SZ", "福田区人民医院", True, 24 * 31, 7), ("GZ", "越秀区图书馆", False, 24 * 3, 7)]
        for i, (city, customer, vip, hours, stage) in enumerate(cases):
            data = {**base, "customer": customer, "customer_phone": f"1390000{i:04d}", "vip": vip,
                    "circuit": f"GD-{city}-ZX-{1000 + i}", "region": city}
            iid = self.start("aftersales_fault", city, f"{city.lower()}_dispatcher", hours, data)
            steps = [("accept", {"fault_type": "中断", "priority": "高"}, None),
                     ("handle", {"progress": "已到场排查，定位光缆中断"}, None),
                     ("receipt", {"cause": "光缆", "measures": "熔接光缆，业务恢复",
                                  "recovery_time": "2026-11-20T10:30"}, "report"),
                     ("audit", {"receipt_result": "reject", "receipt_reason": "报告缺少现场照片"}, None),
                     ("handle", {"progress": "补充现场照片"}, None),
                     ("receipt", {"cause": "光缆", "measures": "熔接光缆，补充照片",
                                  "recovery_time": "2026-11-20T11:00"}, "report"),
                     ("audit", {"receipt_result": "pass"}, None),
                     ("callback", {"satisfaction": "满意", "callback_note": "客户对处理速度满意"}, None)]
            plan = steps[:stage] if stage < 7 else [steps[0], steps[1], steps[2], steps[6], steps[7]]
            for node, form_data, upload in plan:
                self.step(iid, node, form_data, minutes=25, upload=upload)

    def presales(self) -> None:
        for city, customer, hours, stage in [
                ("GZ", "广州市政务数据局", 2, 1), ("GZ", "广汽集团", 30, 3), ("SZ", "深圳湾实验室", 20, 4),
                ("GZ", "南方电网", 24 * 35, 6)]:
            iid = self.start("presales_demand", city, f"{city.lower()}_product_manager", hours, {
                "customer": customer, "project": f"{customer}专线组网", "region": city,
                "requirement": "两点之间 1G 数据专线，要求 99.99% 可用", "expected_date": "2026-12-20"})
            steps = [("assign", {"engineers": "张工、李工", "support_level": "重要"}),
                     ("confirm_tx", {"tx_result": "pass"}), ("confirm_data", {"data_result": "pass"}),
                     ("solution", {"solution_summary": "双路由保护，OTN 承载"}),
                     ("review", {"review_result": "pass"}), ("confirm", {"pm_confirmed": True})]
            for node, form_data in steps[:stage]:
                upload = "solution_doc" if node == "solution" else None
                self.step(iid, node, form_data, minutes=90, upload=upload)

    def insale(self) -> None:
        for i, (city, customer, hours, stage) in enumerate([("GZ", "广州银行", 5, 0), ("SZ", "招商局港口", 28, 2),
                                                             ("GZ", "广州日报", 24 * 32, 3)]):
            iid = self.start("insale_implementation", city, f"{city.lower()}_implementer", hours, {
                "customer": customer, "project": f"{customer}数据专线", "contract_no": f"HT2026110{i}01",
                "region": city, "contact": "王经理", "contact_phone": f"1370000{i:04d}"})
            circuits = [{"circuit_id": f"GD{city}-ZX-{7000 + i}", "a_end": f"{customer}总部机房",
                         "z_end": f"{city}局数据中心", "bandwidth": "1G", "port": "GE0/0/1", "vlan": 300 + i}]
            steps = [("enter", {"circuits": circuits, "service_details": "双上联，静态路由"}),
                     ("audit", {"audit_result": "reject", "audit_reason": "VLAN 与规划冲突"}),
                     ("enter", {"circuits": circuits, "service_details": "双上联，静态路由；VLAN 已调整"}),
                     ("audit", {"audit_result": "pass"})]
            plan = steps[:stage] if stage < 3 else [steps[0], steps[3]]
            for node, form_data in plan:
                self.step(iid, node, form_data, minutes=120)

    def workplans(self) -> None:
        iid = self.start("workplan", "GD", "gd_planner", 26, {"plan_type": "monthly", "title": "12月基站巡检"})
        self.step(iid, "draft", {"plan_type": "monthly", "title": "12月基站巡检", "scope": "全省政企专线接入点",
                                 "start_date": "2026-12-01", "end_date": "2026-12-31", "units": ["GZ", "SZ", "DG"],
                                 "content": "按巡检规范检查设备、电源、光缆"})
        self.step(iid, "approve", {"approve_result": "pass"})
        self.step(iid, "confirm", {"received": True, "executor": "陈工"})
        self.start("workplan", "GD", "gd_planner", 1, {"plan_type": "temporary", "title": "春节保障临时计划"})

    def provisioning(self) -> None:
        for i, (city, customer, hours, stage) in enumerate([
                ("GZ", "广州塔", 1, 0), ("GZ", "珠江新城写字楼", 8, 5), ("DG", "东莞电子厂", 3, 1),
                ("SZ", "前海自贸区", 24 * 34, 7)]):
            iid = self.start("provisioning", city, f"{city.lower()}_order_auditor", hours, {
                "order_no": f"CRM-2026-{i:05d}", "customer": customer, "customer_phone": f"1360000{i:04d}",
                "region": city, "service": "互联网", "bandwidth": "100M", "address": f"{city}市{customer}"})
            if stage >= 1:
                self.step(iid, "audit", {"audit_result": "pass"})  # allocation (or 人工调度 in Dongguan)
                self.work()  # network activation runs as a job and answers the waiting instance
            steps = [("test", {"test_result": "pass"}), ("completion", {"completed_on": "2026-11-20"})]
            for node, form_data in steps[: max(0, stage - 5)]:
                self.step(iid, node, form_data, minutes=60)
