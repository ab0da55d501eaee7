"""The day rollups of the KPI facts (``kpi_step_day``, ``kpi_order_day``), kept up in the transaction that writes
each fact: one upsert adds the fact to its day's row. Sums only — counts, steps with a deadline, on time, working
seconds, transfers — so a rollup row is exact whatever order the facts arrive in; the statistics read them for
whole Beijing days and take percentiles from the facts.

``rebuild`` recomputes both from the facts (after facts were loaded in bulk, or repaired by hand).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handlers.kpi.models import KpiOrder, KpiOrderDay, KpiStep, KpiStepDay

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BEIJING_OFFSET = timedelta(hours=8)  # China has kept UTC+8 all year since 1991
DAY = timedelta(days=1)


def _beijing_since_epoch(moment: datetime) -> timedelta:
    return moment.astimezone(UTC) + BEIJING_OFFSET - EPOCH


def beijing_day_number(moment: datetime) -> int:
    """Days since 1970-01-01 of ``moment``'s Beijing calendar day (exact: no floating point near midnight)."""
    return _beijing_since_epoch(moment) // DAY


def is_beijing_midnight(moment: datetime) -> bool:
    return _beijing_since_epoch(moment) % DAY == timedelta(0)


def _upsert(session: Session, table: Table, keys: dict[str, Any], sums: dict[str, int],
            greatest: dict[str, str] | None = None) -> None:
    """Insert the row, or add ``sums`` to the one already there (``greatest``: keep the larger text)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"the KPI rollups support PostgreSQL and SQLite, not {dialect}")
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(**keys, **sums, **(greatest or {}))
    change: dict[str, Any] = {name: table.c[name] + statement.excluded[name] for name in sums}
    for name in greatest or {}:
        change[name] = case((statement.excluded[name] > table.c[name], statement.excluded[name]),
                            else_=table.c[name])
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=change))


def add_step(session: Session, fact: KpiStep) -> None:
    """Add a step fact (before or after it is flushed) to its day's row."""
    _upsert(session, KpiStepDay.__table__,  # type: ignore[arg-type]
            {"day": beijing_day_number(fact.completed_at), "process_key": fact.process_key, "node_id": fact.node_id,
             "org_unit_id": fact.org_unit_id},
            {"steps": 1, "with_limit": int(fact.on_time is not None), "on_time": int(fact.on_time is True),
             "working_seconds": fact.working_seconds, "transfers": fact.transfers or 0},
            {"node_name": fact.node_name})


def add_order(session: Session, fact: KpiOrder) -> None:
    """Add a work order's fact to its day's row."""
    _upsert(session, KpiOrderDay.__table__,  # type: ignore[arg-type]
            {"day": beijing_day_number(fact.ended_at), "process_key": fact.process_key,
             "org_unit_id": fact.org_unit_id},
            {"orders": 1, "returns": fact.returns or 0, "transfers": fact.transfers or 0})


def day_sql(dialect: str, column: str) -> str:
    """The Beijing day number of a stored UTC time column, in SQL (the same day as :func:`beijing_day_number`)."""
    if dialect == "postgresql":
        offset = int(BEIJING_OFFSET.total_seconds())
        return f"CAST((CAST(floor(extract(epoch FROM {column})) AS BIGINT) + {offset}) / 86400 AS INTEGER)"
    # SQLite keeps naive UTC text: cut to the second (its date functions round to the millisecond, which would put
    # 23:59:59.9995 on the next day), the Beijing date, then that date's exact (x.5) Julian day number
    return f"CAST(julianday(date(substr({column}, 1, 19), '+8 hours')) - 2440587.5 AS INTEGER)"


def rebuild_statements(dialect: str) -> list[str]:
    """The INSERT … SELECT statements that fill both rollups from the facts (the tables must be empty)."""
    step_day, order_day = day_sql(dialect, "completed_at"), day_sql(dialect, "ended_at")
    return [
        "INSERT INTO kpi_step_day (day, process_key, node_id, org_unit_id, node_name, steps, with_limit, on_time, "
        "working_seconds, transfers) "
        f"SELECT {step_day}, process_key, node_id, org_unit_id, max(node_name), count(*), "
        "sum(CASE WHEN on_time IS NULL THEN 0 ELSE 1 END), sum(CASE WHEN on_time THEN 1 ELSE 0 END), "
        "sum(working_seconds), sum(transfers) FROM kpi_step "
        f"GROUP BY {step_day}, process_key, node_id, org_unit_id",
        "INSERT INTO kpi_order_day (day, process_key, org_unit_id, orders, returns, transfers) "
        f"SELECT {order_day}, process_key, org_unit_id, count(*), sum(returns), sum(transfers) FROM kpi_order "
        f"GROUP BY {order_day}, process_key, org_unit_id",
    ]


def rebuild(session: Session) -> None:
    """Recompute both rollups from the facts, in the caller's transaction. Offline only: a fact written meanwhile
    by another transaction would make its upsert or this insert fail on the key (loudly, never a wrong count)."""
    session.execute(delete(KpiStepDay))
    session.execute(delete(KpiOrderDay))
    for statement in rebuild_statements(session.get_bind().dialect.name):
        session.execute(text(statement))
