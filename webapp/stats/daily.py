"""The statistics page's chart: steps and work orders finished per Beijing day of the chosen range (per month
when the range is longer than a year). Every day of the range is a point: a day without work is 0, never a
value drawn between its neighbours."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, extract, func, select
from sqlalchemy.orm import Session

from handlers.kpi.models import KpiOrder, KpiStep
from handlers.kpi.rollup import BEIJING_OFFSET
from webapp.i18n import SHANGHAI
from webapp.stats import rollup
from webapp.stats.queries import StatsFilter, order_conditions, rolls_up, scope_units, step_conditions

EPOCH = date(1970, 1, 1)
BEIJING_OFFSET_SECONDS = int(BEIJING_OFFSET.total_seconds())
MAX_DAYS = 366  # a longer range is shown per month
MAX_MONTHS = 240  # a longer one still is cut to the months that have data


@dataclass
class Series:
    """One point per day (``YYYY-MM-DD``) or month (``YYYY-MM``): steps and work orders finished."""

    unit: str  # "day" or "month"
    labels: list[str]
    steps: list[int]
    orders: list[int]


def beijing_day(session: Session, column: Any) -> Any:
    """The Beijing calendar day of a stored UTC time, computed in the database: days since 1970 on PostgreSQL
    (China has kept UTC+8 all year since 1991: the epoch plus eight hours, cut to the day — integer arithmetic,
    far cheaper per row than a time-zone conversion), ``YYYY-MM-DD`` on SQLite (which keeps naive UTC text);
    :func:`day_label` reads either."""
    if session.get_bind().dialect.name == "postgresql":
        # floor, not the cast's rounding: 23:59:59.6 belongs to its own day
        return (cast(func.floor(extract("epoch", column)), BigInteger) + BEIJING_OFFSET_SECONDS) // 86400
    return func.date(func.substr(column, 1, 19), "+8 hours")  # cut to the second: date() rounds to the ms


def day_label(value: Any) -> str:
    """``YYYY-MM-DD`` of what :func:`beijing_day` gave."""
    if isinstance(value, int):
        return (EPOCH + timedelta(days=value)).isoformat()
    return str(value)[:10]


def _per_day(session: Session, column: Any, conditions: list[Any]) -> Counter[str]:
    day = beijing_day(session, column)
    return Counter({day_label(d): int(n) for d, n in session.execute(
        select(day, func.count()).where(*conditions).group_by(day))})


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _months(first: date, last: date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _by_month(counts: Counter[str]) -> Counter[str]:
    months: Counter[str] = Counter()
    for day, n in counts.items():
        months[day[:7]] += n
    return months


def daily_series(session: Session, f: StatsFilter) -> Series:
    """Steps (工作量) and work orders finished per day of [f.start, f.end), with the page's filter."""
    if rolls_up(f):  # whole days: from the day rollups
        units = scope_units(session, f)
        steps, orders = (Counter({day_label(d): n for d, n in rollup.per_day(
            session, f.start, f.end, f.process_key, units, orders=kind).items()}) for kind in (False, True))
    else:
        steps = _per_day(session, KpiStep.completed_at, step_conditions(session, f))
        orders = _per_day(session, KpiOrder.ended_at, order_conditions(session, f))
    first = f.start.astimezone(SHANGHAI).date()
    last = max(first, (f.end - timedelta(microseconds=1)).astimezone(SHANGHAI).date())
    if (last - first).days < MAX_DAYS:
        labels = _days(first, last)
        return Series("day", labels, [steps[d] for d in labels], [orders[d] for d in labels])
    steps, orders = _by_month(steps), _by_month(orders)
    labels = _months(first, last)
    if len(labels) > MAX_MONTHS:
        found = sorted(set(steps) | set(orders))
        labels = _months(date.fromisoformat(found[0] + "-01"), date.fromisoformat(found[-1] + "-01")) if found else []
    return Series("month", labels, [steps[m] for m in labels], [orders[m] for m in labels])


def chart_data(series: Series, labels: dict[str, str]) -> dict[str, Any]:
    """What charts.js draws (``stats-daily-data``): the points and the series names in the page's language."""
    return {"unit": series.unit, "labels": series.labels, "steps": series.steps, "orders": series.orders,
            "names": labels}
