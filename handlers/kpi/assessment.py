"""考核指标: KPI definitions an administrator configures, and the monthly assessment per person, post and unit
computed from the recorded facts (``kpi_step``, ``kpi_order``) — each figure with the steps behind it; a closed
month keeps its figures.

Measures (steps of the definition's flow and step, completed in the month, Beijing time):

* ``on_time_rate``  — steps finished by their deadline ÷ steps that had one (higher is better);
* ``mean_handling`` — mean counted handling time in hours (working time on a working-day step; lower is better);
* ``p90_handling``  — nearest-rank 90th percentile of the same (lower is better);
* ``first_time_right`` — of the finished work orders those steps belong to, the share with no 退回/驳回;
* ``returns_per_order`` — 退回/驳回 per finished work order (lower is better);
* ``workload`` — steps completed (higher is better).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, InvalidState, NotFound
from engine.identity.models import OrgUnit, Post, User
from handlers.kpi.models import KpiDefinition, KpiMonth, KpiOrder, KpiResult, KpiStep

SHANGHAI = ZoneInfo("Asia/Shanghai")
MEASURES = ("on_time_rate", "mean_handling", "p90_handling", "first_time_right", "returns_per_order", "workload")
LOWER_IS_BETTER = frozenset({"mean_handling", "p90_handling", "returns_per_order"})
SUBJECTS = ("user", "post", "unit")


@dataclass(frozen=True)
class Figure:
    """One definition's value for one subject, with what it was computed from."""

    definition_id: int
    subject_type: str
    subject_id: int
    value: float | None
    numerator: float
    denominator: int
    steps: tuple[int, ...]

    def met(self, definition: KpiDefinition) -> bool | None:
        if self.value is None:
            return None
        if definition.measure in LOWER_IS_BETTER:
            return self.value <= definition.target
        return self.value >= definition.target


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The UTC instants a ``YYYY-MM`` month of Beijing time starts and ends at."""
    try:
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=SHANGHAI)
    except ValueError:
        raise InvalidInput(f"'{month}' is not a month like 2026-03", {"month": "invalid"}) from None
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=SHANGHAI)
    return start.astimezone(UTC), end.astimezone(UTC)


def check_definition(session: Session, d: KpiDefinition) -> None:
    problems: dict[str, str] = {}
    if not d.name or not d.name.strip() or len(d.name) > 100:
        problems["name"] = "required"
    if d.measure not in MEASURES:
        problems["measure"] = "unknown"
    if d.target is None or not math.isfinite(d.target) or d.target < 0 or (
            d.measure in ("on_time_rate", "first_time_right") and d.target > 1):
        problems["target"] = "out of range"
    if d.weight is None or not 0 <= d.weight <= 100:
        problems["weight"] = "out of range"
    for field, model, ids in (("posts", Post, d.post_ids), ("units", OrgUnit, d.unit_ids)):
        if ids and len(session.scalars(select(model.id).where(model.id.in_(ids))).all()) != len(set(ids)):
            problems[field] = "unknown"
    clash = session.scalar(select(KpiDefinition.id).where(KpiDefinition.name == (d.name or "").strip(),
                                                          KpiDefinition.id != (d.id or -1)))
    if clash is not None:
        problems["name"] = "already exists"
    if problems:
        raise InvalidInput(f"the KPI definition has bad fields: {sorted(problems)}", problems)


def definitions(session: Session, *, active_only: bool = False) -> Sequence[KpiDefinition]:
    stmt = select(KpiDefinition).order_by(KpiDefinition.id)
    if active_only:
        stmt = stmt.where(KpiDefinition.active.is_(True))
    return session.scalars(stmt).all()


def _unit_set(session: Session, unit_ids: Iterable[int]) -> set[int] | None:
    ids = list(unit_ids)
    if not ids:
        return None
    paths = list(session.scalars(select(OrgUnit.path).where(OrgUnit.id.in_(ids))))
    return {u.id for u in session.scalars(select(OrgUnit)) if any(u.path.startswith(p) for p in paths)}


def _steps_for(session: Session, d: KpiDefinition, start: datetime, end: datetime) -> list[KpiStep]:
    stmt = select(KpiStep).where(KpiStep.completed_at >= start, KpiStep.completed_at < end)
    if d.process_key:
        stmt = stmt.where(KpiStep.process_key == d.process_key)
    if d.node_id:
        stmt = stmt.where(KpiStep.node_id == d.node_id)
    steps = list(session.scalars(stmt.order_by(KpiStep.id)))
    units = _unit_set(session, d.unit_ids or [])
    posts = set(d.post_ids or [])
    return [s for s in steps if (not posts or s.post_id in posts) and (units is None or s.org_unit_id in units)]


def _value(measure: str, steps: list[KpiStep], orders: dict[int, KpiOrder]) -> tuple[float | None, float, int]:
    """(value, numerator, denominator) of a measure over some steps."""
    if measure == "workload":
        return float(len(steps)), float(len(steps)), len(steps)
    if measure == "on_time_rate":
        limited = [s for s in steps if s.on_time is not None]
        met = sum(1 for s in limited if s.on_time)
        return (met / len(limited) if limited else None), float(met), len(limited)
    if measure in ("mean_handling", "p90_handling"):
        hours = sorted(s.working_seconds / 3600 for s in steps)
        if not hours:
            return None, 0.0, 0
        if measure == "mean_handling":
            return sum(hours) / len(hours), sum(hours), len(hours)
        return hours[math.ceil(0.9 * len(hours)) - 1], sum(hours), len(hours)
    finished = [orders[i] for i in dict.fromkeys(s.instance_id for s in steps) if i in orders]
    if not finished:
        return None, 0.0, 0
    if measure == "first_time_right":
        right = sum(1 for o in finished if o.returns == 0)
        return right / len(finished), float(right), len(finished)
    returns = sum(o.returns for o in finished)
    return returns / len(finished), float(returns), len(finished)


def compute(session: Session, month: str) -> list[Figure]:
    """The month's figures of every active definition, per person, post and unit, from the recorded facts."""
    start, end = month_bounds(month)
    figures: list[Figure] = []
    for d in definitions(session, active_only=True):
        steps = _steps_for(session, d, start, end)
        orders = {o.instance_id: o for o in session.scalars(select(KpiOrder).where(
            KpiOrder.instance_id.in_({s.instance_id for s in steps} or {-1})))}
        for subject_type, key in (("user", "user_id"), ("post", "post_id"), ("unit", "org_unit_id")):
            groups: dict[int, list[KpiStep]] = defaultdict(list)
            for s in steps:
                subject = getattr(s, key)
                if subject is not None:
                    groups[subject].append(s)
            for subject_id, group in sorted(groups.items()):
                value, numerator, denominator = _value(d.measure, group, orders)
                figures.append(Figure(d.id, subject_type, subject_id, value, numerator, denominator,
                                      tuple(s.id for s in group)))
    return figures


def assessment(session: Session, month: str) -> tuple[list[Figure], KpiMonth | None]:
    """The month's figures: the stored ones of a closed month, else computed now."""
    closed = session.get(KpiMonth, month)
    if closed is None:
        return compute(session, month), None
    rows = session.scalars(select(KpiResult).where(KpiResult.month == month).order_by(KpiResult.id))
    return [Figure(r.definition_id, r.subject_type, r.subject_id, r.value, r.numerator, r.denominator,
                   tuple(r.steps)) for r in rows], closed


def lock(session: Session, month: str, *, actor_id: int | None, now: datetime) -> int:
    """Close the month: its figures are stored and no longer change. Returns how many."""
    _, end = month_bounds(month)
    if end > now:
        raise InvalidInput(f"month {month} has not ended yet", {"month": "not over"})
    if session.get(KpiMonth, month) is not None:
        raise InvalidState(f"month {month} is already closed")
    figures = compute(session, month)
    session.add(KpiMonth(month=month, locked_at=now, locked_by_id=actor_id))
    session.flush()
    session.add_all(KpiResult(month=month, definition_id=f.definition_id, subject_type=f.subject_type,
                              subject_id=f.subject_id, value=f.value, numerator=f.numerator,
                              denominator=f.denominator, steps=list(f.steps)) for f in figures)
    session.flush()
    return len(figures)


def unlock(session: Session, month: str) -> None:
    """Reopen a closed month (an administrator's correction): figures are computed again from the facts."""
    if session.get(KpiMonth, month) is None:
        raise NotFound(f"month {month} is not closed")
    session.execute(delete(KpiResult).where(KpiResult.month == month))
    session.execute(delete(KpiMonth).where(KpiMonth.month == month))


def scores(figures: Sequence[Figure], defs: dict[int, KpiDefinition]) -> dict[tuple[str, int], float]:
    """Each subject's weighted score 0-100: the weights of the definitions met ÷ the weights of those measured."""
    met: dict[tuple[str, int], float] = defaultdict(float)
    measured: dict[tuple[str, int], float] = defaultdict(float)
    for f in figures:
        d = defs.get(f.definition_id)
        ok = f.met(d) if d is not None else None
        if d is None or ok is None:
            continue
        measured[(f.subject_type, f.subject_id)] += d.weight
        if ok:
            met[(f.subject_type, f.subject_id)] += d.weight
    return {k: round(100 * met[k] / w, 1) if w else 0.0 for k, w in measured.items()}


def subject_names(session: Session) -> dict[str, dict[int, str]]:
    return {"user": dict(session.execute(select(User.id, User.display_name)).tuples().all()),
            "post": dict(session.execute(select(Post.id, Post.name)).tuples().all()),
            "unit": dict(session.execute(select(OrgUnit.id, OrgUnit.name)).tuples().all())}


def user_steps(session: Session) -> list[tuple[str, str, str]]:
    """(flow, step id, step name) of the steps work was done in, for choosing a definition's step."""
    rows = session.execute(select(KpiStep.process_key, KpiStep.node_id, KpiStep.node_name)
                           .group_by(KpiStep.process_key, KpiStep.node_id, KpiStep.node_name)
                           .order_by(KpiStep.process_key, KpiStep.node_id)).tuples().all()
    seen: dict[tuple[str, str], str] = {}
    for key, node, name in rows:
        seen.setdefault((key, node), name)
    return [(k, n, name) for (k, n), name in seen.items()]


def steps_behind(session: Session, ids: Sequence[int]) -> list[KpiStep]:
    if not ids:
        return []
    return list(session.scalars(select(KpiStep).where(KpiStep.id.in_(ids)).order_by(KpiStep.completed_at)))

