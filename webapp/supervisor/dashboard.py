"""The supervisor's dashboard figures: open work, overdue now, due today, on-time rate this month against
last, throughput per day, mean handling time per step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from engine.identity.models import subtree_ids
from engine.tasks.models import HumanTask
from handlers.kpi.models import KpiOrder, KpiStep
from webapp.i18n import local_midnight, month_start
from webapp.stats.daily import beijing_day, day_label
from webapp.stats.queries import StatsFilter, flow_names, step_stats


@dataclass
class Dashboard:
    open_by_step: list[dict[str, Any]]
    overdue_now: int
    due_today: int
    near_limit: int
    on_time_this_month: float | None
    on_time_last_month: float | None
    throughput: list[tuple[str, int]]
    handling: list[dict[str, Any]]


def _units(org_path: str | None) -> Select[tuple[int]] | None:
    return subtree_ids(org_path) if org_path else None


def _on_time_rate(session: Session, org_path: str | None, start: datetime, end: datetime) -> float | None:
    conditions = [KpiStep.completed_at >= start, KpiStep.completed_at < end, KpiStep.on_time.is_not(None)]
    if (units := _units(org_path)) is not None:
        conditions.append(KpiStep.org_unit_id.in_(units))
    total, on_time = session.execute(
        select(func.count(), func.sum(case((KpiStep.on_time.is_(True), 1), else_=0))).where(*conditions)).one()
    return (on_time or 0) / total if total else None


def build(session: Session, org_path: str | None, now: datetime) -> Dashboard:
    names = flow_names(session)
    open_conditions = [HumanTask.status == "ready"]
    if (units := _units(org_path)) is not None:
        open_conditions.append(HumanTask.org_unit_id.in_(units))
    open_rows = session.execute(
        select(HumanTask.process_key, HumanTask.node_name, func.count(),
               func.sum(case((HumanTask.overdue_clause(now), 1), else_=0)))
        .where(*open_conditions).group_by(HumanTask.process_key, HumanTask.node_name)
        .order_by(func.count().desc())).all()
    day_start = local_midnight(now)
    overdue_now, due_today, near = session.execute(select(
        func.sum(case((HumanTask.overdue_clause(now), 1), else_=0)),
        func.sum(case(((HumanTask.due_at >= now) & (HumanTask.due_at < day_start + timedelta(days=1))
                       & HumanTask.suspended_at.is_(None), 1), else_=0)),
        func.sum(case((HumanTask.near_limit_clause(now), 1), else_=0)),
    ).where(*open_conditions)).one()
    month = month_start(now)
    last_month = month_start(month - timedelta(days=1))
    since = day_start - timedelta(days=29)
    order_conditions = [KpiOrder.ended_at >= since]
    if (units := _units(org_path)) is not None:
        order_conditions.append(KpiOrder.org_unit_id.in_(units))
    day = beijing_day(session, KpiOrder.ended_at)
    per_day = {day_label(d): n for d, n in session.execute(
        select(day, func.count()).where(*order_conditions).group_by(day))}
    days = [(since + timedelta(days=i)).date().isoformat() for i in range(30)]
    steps = step_stats(session, StatsFilter(start=since, end=now + timedelta(seconds=1), org_path=org_path))
    return Dashboard(
        open_by_step=[{"flow": names.get(k, k), "step": n, "open": c, "overdue": int(o or 0)}
                      for k, n, c, o in open_rows],
        overdue_now=int(overdue_now or 0), due_today=int(due_today or 0), near_limit=int(near or 0),
        on_time_this_month=_on_time_rate(session, org_path, month, now + timedelta(seconds=1)),
        on_time_last_month=_on_time_rate(session, org_path, last_month, month),
        throughput=[(d, per_day.get(d, 0)) for d in days],
        handling=[{"flow": names.get(r.process_key, r.process_key), "step": r.node_name, "count": r.count,
                   "mean_hours": round(r.mean_seconds / 3600, 2), "p90_hours": round(r.p90_seconds / 3600, 2)}
                  for r in steps],
    )
