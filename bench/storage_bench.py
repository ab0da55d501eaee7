"""``eoms bench --scenario storage``: what a finished fault-style work order costs on disk.

``instances`` fault-style work orders (the ``fault`` scenario's diagram and steps) run to their end through the
engine services with every built-in handler (KPI facts, notices, outgoing events), one transaction per action.
The size of every table with its indexes and TOAST is read before and after; the figure per instance is the
growth divided by the number of instances, after ``VACUUM FULL`` (PostgreSQL) or ``VACUUM`` (SQLite), which
leave the live rows only — and, on PostgreSQL, also as it stands before that vacuum (dead row versions of the
updated rows included, the space autovacuum lets later rows reuse).
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.engine_bench import PROCESS_KEY, _setup_world, bench_database, plan
from engine.core import ProcessEngine
from engine.db import make_session_factory
from handlers import build_registry

GOAL_BYTES_PER_INSTANCE = 8 * 1024  # issue 15


def table_sizes(db: Engine) -> dict[str, int]:
    """Bytes per table, indexes and TOAST included."""
    with db.connect() as conn:
        if db.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema()"))
        else:  # dbstat names each index apart: add them to their table
            indexes = dict(conn.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")).all())
            rows = [(indexes.get(name, name), size) for name, size in conn.execute(
                text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))]
        sizes: dict[str, int] = {}
        for name, size in rows:
            sizes[name] = sizes.get(name, 0) + int(size)
        return sizes


def _vacuum(db: Engine, full: bool) -> None:
    if db.dialect.name == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM FULL" if full else "VACUUM"))
        return
    raw = db.raw_connection()  # outside any transaction (the engine's connections begin one themselves)
    try:
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
    finally:
        raw.close()


def _run(pe: ProcessEngine, db: Engine, instances: int) -> float:
    sessions = make_session_factory(db)
    owner = {"accept": "b_dispatcher", "handle": "b_maintainer", "review": "b_reviewer"}
    started = time.perf_counter()
    for i in range(instances):
        with sessions.begin() as s:
            result = pe.runtime.start(s, PROCESS_KEY, business_key=f"SIZE-{i:07d}", data={},
                                      actor=pe.identity.get_user(s, "b_dispatcher"))
            next_ids = [t.id for t in result.tasks]
        for node_id, data in plan(i):
            with sessions.begin() as s:
                next_ids = [t.id for t in pe.tasks.complete(s, next_ids[0], pe.identity.get_user(s, owner[node_id]),
                                                            data)]
    return time.perf_counter() - started


def _growth(before: dict[str, int], after: dict[str, int], instances: int) -> dict[str, float]:
    grown = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    return {name: round(size / instances) for name, size in sorted(grown.items(), key=lambda kv: -kv[1]) if size > 0}


def run_storage_bench(instances: int, database_url: str | None) -> dict[str, Any]:
    """Table sizes before and after ``instances`` finished work orders; bytes per instance by table."""
    with bench_database(database_url) as (db, kind):
        pe = ProcessEngine(build_registry())
        _setup_world(pe, db)
        _vacuum(db, full=True)
        before = table_sizes(db)
        took = _run(pe, db, instances)
        as_left = table_sizes(db) if kind == "postgresql" else None
        _vacuum(db, full=True)
        after = table_sizes(db)
    per_table = _growth(before, after, instances)
    per_instance = sum(per_table.values())
    figures: dict[str, Any] = {
        "scenario": "storage", "database": kind, "instances": instances, "run_seconds": round(took, 1),
        "bytes_per_instance": per_instance, "bytes_per_instance_by_table": per_table,
        "goal_bytes_per_instance": GOAL_BYTES_PER_INSTANCE, "met": per_instance <= GOAL_BYTES_PER_INSTANCE,
        "steps_per_instance": "1 start + 3.5 task completions (average), every built-in handler",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    if as_left is not None:
        figures["bytes_per_instance_before_vacuum"] = sum(_growth(before, as_left, instances).values())
    return figures
