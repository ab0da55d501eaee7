"""The demo's 工程项目, 运维成本, 考核指标 and 公告: projects set up through 项目立项 (one active with work orders
and costs, one waiting for approval, one rejected), cost requests at every stage with budgets, KPI definitions
over the demo's finished faults, and announcements for everyone and for one city."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select

from engine.core import ProcessEngine
from engine.identity.models import OrgUnit, Post, User
from engine.runtime.models import ProcessInstance
from handlers.costs import service as costs
from handlers.kpi.models import KpiDefinition
from handlers.projects import service as projects
from handlers.projects.models import Project
from webapp.notices.models import Announcement, AnnouncementRead, AnnouncementTarget


class Stories(Protocol):
    pe: ProcessEngine
    sessions: Any

    def start(self, key: str, city: str, starter: str, hours_ago: float, data: dict[str, Any],
              org: str | None = None, context: dict[str, Any] | None = None) -> int: ...

    def step(self, instance_id: int, node_id: str, data: dict[str, Any], minutes: float = 40,
             upload: str | None = None) -> None: ...


def business_stories(stories: Stories) -> None:
    """Projects, costs, KPI definitions and announcements, after the flows' own stories."""
    project_code = _projects(stories)
    _costs(stories, project_code)
    with stories.sessions.begin() as s:
        _kpi_definitions(s)
        _announcements(s, stories.pe)


def _projects(stories: Stories) -> str:
    cases = [("GZ", "广州市政务外网专线扩容工程", "广州市政务服务数据管理局", "HT-GZ-2026-018", 1_280_000, 860_000,
              "pass"),
             ("SZ", "深圳湾实验室园区网络建设", "深圳湾实验室", "HT-SZ-2026-044", 650_000, 420_000, None),
             ("GZ", "白云机场航站楼无线覆盖", "广州白云国际机场", "HT-GZ-2026-031", 2_100_000, 1_500_000, "reject")]
    active_code = ""
    for city, name, customer, contract, amount, budget, outcome in cases:
        iid = stories.start("project_setup", city, f"{city.lower()}_project_manager", 24 * 20, {
            "project_name": name, "customer": customer, "contract_no": contract, "contract_amount": amount,
            "budget": budget, "start_date": "2026-11-01", "end_date": "2027-06-30",
            "description": f"{customer}{name}，含勘察、施工、割接与验收。"})
        if outcome:
            stories.step(iid, "review", {"review_result": outcome, "review_note": "资料齐全" if outcome == "pass"
                                         else "合同金额与预算不符，请重新报批"}, minutes=300)
        if outcome == "pass":
            with stories.sessions() as s:
                active_code = s.scalar(select(ProcessInstance.business_key).where(ProcessInstance.id == iid)) or ""
    with stories.sessions.begin() as s:  # the Guangzhou government orders belong to the active project
        project = s.scalar(select(Project).where(Project.code == active_code))
        if project is not None:
            for instance in s.scalars(select(ProcessInstance).where(
                    ProcessInstance.customer.in_(("广州市政务数据局", "天河区政务服务中心")))):
                projects.link_order(s, project.id, instance.id, stories.pe.ctx.clock())
    return active_code


def _costs(stories: Stories, project_code: str) -> None:
    with stories.sessions.begin() as s:
        now = stories.pe.ctx.clock()
        costs.ensure_categories(s)
        for code, amount in (("GZ", 200_000), ("SZ", 150_000), ("DG", 100_000)):
            unit = s.scalar(select(OrgUnit).where(OrgUnit.code == code))
            if unit is not None:
                costs.set_budget(s, unit.id, stories.pe.sla.today(now).year, amount, now)
    cases = [("GZ", "line", 1_200, "光缆抢修熔接材料", ["pass"], True),
             ("GZ", "spares", 8_000, "OLT 备用板卡", ["pass"], True),
             ("GZ", "outsourcing", 60_000, "政务外网割接外包施工", ["pass", "pass", "pass"], True),
             ("SZ", "vehicle", 300, "抢修车辆租赁", ["reject"], False),
             ("DG", "equipment", 4_500, "交换机电源模块更换", [], False)]
    for city, category, amount, purpose, decisions, for_project in cases:
        context = {"project": project_code} if for_project and project_code else None
        iid = stories.start("cost_request", city, f"{city.lower()}_maintainer", 24 * 6,
                            {"category": category, "amount": amount, "description": purpose}, context=context)
        if context:
            with stories.sessions.begin() as s:
                project = s.scalar(select(Project).where(Project.code == project_code))
                if project is not None:
                    projects.link_order(s, project.id, iid, stories.pe.ctx.clock())
        for node, decision in zip(("dept", "finance", "leader"), decisions, strict=False):
            stories.step(iid, node, {"decision": decision}, minutes=120)


def _kpi_definitions(s: Any) -> None:
    if s.scalar(select(KpiDefinition.id).limit(1)) is not None:
        return
    maintainer = s.scalar(select(Post.id).where(Post.code == "maintainer"))
    s.add_all([
        KpiDefinition(name="故障处理及时率", process_key="aftersales_fault", node_id="handle", measure="on_time_rate",
                      target=0.9, weight=40, post_ids=[maintainer] if maintainer else []),
        KpiDefinition(name="故障受理平均时长", process_key="aftersales_fault", node_id="accept",
                      measure="mean_handling", target=0.5, weight=20),
        KpiDefinition(name="售后故障一次通过率", process_key="aftersales_fault", measure="first_time_right", target=0.8,
                      weight=20),
        KpiDefinition(name="环节工作量", measure="workload", target=3, weight=20),
    ])


def _announcements(s: Any, pe: ProcessEngine) -> None:
    if s.scalar(select(Announcement.id).limit(1)) is not None:
        return
    admin = s.scalar(select(User).where(User.username == "admin"))
    if admin is None:
        return
    now = pe.ctx.clock()
    everyone = Announcement(title="电子运维系统上线通知",
                            body="工单、项目、成本和考核已全部在系统中办理。如有问题请联系省公司系统管理员。",
                            author_id=admin.id, published_at=now - timedelta(days=3), pinned=True)
    city = Announcement(title="本周六凌晨广州核心机房光缆割接",
                        body="割接时间 02:00-05:00，期间相关专线可能闪断，请维护人员提前做好准备。", author_id=admin.id,
                        published_at=now - timedelta(days=1), audience="units",
                        valid_until=now + timedelta(days=7))
    s.add_all([everyone, city])
    s.flush()
    gz = s.scalar(select(OrgUnit.id).where(OrgUnit.code == "GZ"))
    if gz is not None:
        s.add(AnnouncementTarget(announcement_id=city.id, kind="unit", ref_id=gz))
    reader = s.scalar(select(User.id).where(User.username == "gz_maintainer"))
    if reader is not None:
        s.add(AnnouncementRead(announcement_id=everyone.id, user_id=reader, read_at=now - timedelta(days=2)))
