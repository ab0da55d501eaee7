"""``eoms seed-demo``: an organisation, people for every post, the flows, and work in flight. Idempotent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import ProcessEngine
from engine.registry import HandlerRegistry
from engine.runtime.models import ProcessInstance

CITIES = [("GZ", "广州市"), ("SZ", "深圳市"), ("DG", "东莞市")]
POSTS = [("dispatcher", "调度员"), ("maintainer", "维护员"), ("reviewer", "审核员")]
DEFAULT_PASSWORD = "eoms-demo-2026"


@dataclass
class DemoSummary:
    users: list[tuple[str, str, str]] = field(default_factory=list)  # username, name, what they do
    deployed: list[str] = field(default_factory=list)
    instances_created: int = 0


def seed_demo(handlers: HandlerRegistry, sessions: sessionmaker[Session], processes_dir: Path,
              password: str = DEFAULT_PASSWORD, now: Callable[[], datetime] | None = None) -> DemoSummary:
    """Create what is missing; running it twice changes nothing the second time."""
    summary = DemoSummary()
    pe = ProcessEngine(handlers)
    with sessions.begin() as s:
        _organisation(pe, s, password, summary)
    with sessions.begin() as s:
        for path in sorted(processes_dir.glob("*.bpmn")):
            for result in pe.repository.deploy(s, path.read_bytes(), path.name):
                summary.deployed.append(f"{result.key} v{result.version}")
    with sessions() as s:
        seeded = s.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key.like("DEMO-%")).limit(1))
    if seeded is None:
        summary.instances_created = _faults(handlers, sessions, now or pe.ctx.clock)
    return summary


def _organisation(pe: ProcessEngine, s: Session, password: str, summary: DemoSummary) -> None:
    ident = pe.identity
    if ident.find_org_unit(s, "GD") is None:
        ident.add_org_unit(s, "GD", "广东省分公司政企部")
    for code, name in CITIES:
        if ident.find_org_unit(s, code) is None:
            ident.add_org_unit(s, code, f"{name}分公司", "GD")
    for code, name in POSTS:
        if ident.find_post(s, code) is None:
            ident.add_post(s, code, name)
    people: list[tuple[str, str, str, list[str], str]] = [("admin", "系统管理员", "GD", [], "admin"),
                                                          ("gd_supervisor", "省主管", "GD", [], "supervisor")]
    for city, city_name in CITIES:
        prefix = city.lower()
        people.append((f"{prefix}_supervisor", f"{city_name[:2]}主管", city, [], "supervisor"))
        for code, post_name in POSTS:
            people.append((f"{prefix}_{code}", f"{city_name[:2]}{post_name}", city, [code], "user"))
    for username, name, org, posts, role in people:
        if ident.find_user(s, username) is None:
            ident.add_user(s, username, display_name=name, password=password, org_code=org, post_codes=posts,
                           role=role)
        summary.users.append((username, name, f"{org} {role}{' ' + ','.join(posts) if posts else ''}"))


def _faults(handlers: HandlerRegistry, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> int:
    """After-sales faults at every stage; older ones were started hours or weeks ago."""
    stories: list[tuple[str, str, float, list[tuple[str, dict[str, Any]]]]] = [
        ("GZ", "中山大学附属医院专线中断", 0.5, []),
        ("GZ", "天河区政务外网丢包", 1.8, []),
        ("GZ", "广州地铁视频专线闪断", 3.5, [("dispatcher", {"remark": "已联系客户"})]),
        ("GZ", "白云机场互联网专线中断", 6, [("dispatcher", {}), ("maintainer", {"resolved": False})]),
        ("GZ", "番禺区教育城域网故障", 9,
         [("dispatcher", {}), ("maintainer", {"resolved": True, "cause": "光缆中断"})]),
        ("SZ", "南山区科技园数据专线故障", 2, []),
        ("DG", "松山湖园区语音专线故障", 1, [("dispatcher", {})]),
        ("GZ", "海珠区医保结算专线故障", 24 * 20, [("dispatcher", {}), ("maintainer", {"resolved": True}),
                                          ("reviewer", {"approved": True})]),
    ]
    created = 0
    for number, (city, title, hours_ago, steps) in enumerate(stories, start=1):
        moment = {"t": now() - timedelta(hours=hours_ago)}
        pe = ProcessEngine(handlers, clock=lambda m=moment: m["t"])
        with sessions.begin() as s:
            starter = pe.identity.get_user(s, f"{city.lower()}_dispatcher")
            result = pe.runtime.start(s, "aftersales_fault", business_key=f"DEMO-{number:04d}",
                                      data={"title": title, "customer": title[:4], "vip": number % 3 == 0},
                                      actor=starter)
            task_ids = [t.id for t in result.tasks]
        for post, data in steps:
            moment["t"] += timedelta(minutes=40)
            with sessions.begin() as s:
                actor = pe.identity.get_user(s, f"{city.lower()}_{post}")
                task_ids = [t.id for t in pe.tasks.complete(s, task_ids[0], actor, data)]
        created += 1
    return created
