"""Statistics over whole Beijing days from the day rollups (``kpi_step_day``, ``kpi_order_day``): the same counts
and sums the facts give, from one row per day, flow, step and unit instead of one per step — a year by flow adds
up tens of thousands of rows, not six hundred thousand. The callers decide when a range is whole days and no
filter reaches inside the work orders (:func:`webapp.stats.queries.rolls_up`); percentiles come from the facts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.kpi.models import KpiOrderDay, KpiStepDay
from handlers.kpi.rollup import beijing_day_number


def _where(table: Any, start: datetime, end: datetime, process_key: str | None,
           units: list[int] | None) -> list[Any]:
    conditions = [table.day >= beijing_day_number(start), table.day < beijing_day_number(end)]
    if process_key:
        conditions.append(table.process_key == process_key)
    if units is not None:
        conditions.append(table.org_unit_id.in_(units))
    return conditions


def step_sums(session: Session, start: datetime, end: datetime, process_key: str | None, units: list[int] | None,
              *, by_step: bool) -> list[tuple[Any, ...]]:
    """Per flow (``by_step``: per flow and step, with the step's name): steps, with a deadline, on time, working
    seconds, transfers."""
    keys: list[Any] = [KpiStepDay.process_key]
    if by_step:
        keys += [KpiStepDay.node_id, func.max(KpiStepDay.node_name)]
    rows = session.execute(
        select(*keys, func.sum(KpiStepDay.steps), func.sum(KpiStepDay.with_limit), func.sum(KpiStepDay.on_time),
               func.sum(KpiStepDay.working_seconds), func.sum(KpiStepDay.transfers))
        .where(*_where(KpiStepDay, start, end, process_key, units))
        .group_by(*keys[:2] if by_step else keys))
    return [tuple(row) for row in rows]


def order_sums(session: Session, start: datetime, end: datetime, process_key: str | None, units: list[int] | None,
               *, by: str) -> list[tuple[Any, int, int, int]]:
    """Per flow or unit (``by``: "flow" / "org"): finished work orders, their returns and transfers."""
    column = KpiOrderDay.process_key if by == "flow" else KpiOrderDay.org_unit_id
    return [(key, int(orders), int(returns or 0), int(transfers or 0)) for key, orders, returns, transfers in
            session.execute(select(column, func.sum(KpiOrderDay.orders), func.sum(KpiOrderDay.returns),
                                   func.sum(KpiOrderDay.transfers))
                            .where(*_where(KpiOrderDay, start, end, process_key, units)).group_by(column))]


def per_day(session: Session, start: datetime, end: datetime, process_key: str | None, units: list[int] | None,
            *, orders: bool) -> Counter[int]:
    """Steps (``orders``: work orders) finished per Beijing day number."""
    table: Any = KpiOrderDay if orders else KpiStepDay
    count = table.orders if orders else table.steps
    return Counter({int(day): int(n) for day, n in session.execute(
        select(table.day, func.sum(count)).where(*_where(table, start, end, process_key, units))
        .group_by(table.day))})
