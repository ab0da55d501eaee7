"""``eoms bench --scenario worker``: what one worker tick costs with many open tasks and nothing due, and how
late BPMN timers fire with a real worker process."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from bench.engine_bench import bench_database
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.history.models import HistoryEvent
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import Worker
from handlers import build_registry

TIMER_DIAGRAM = Path(__file__).resolve().parent / "timer_wait.bpmn"


def _world(pe: ProcessEngine, db: Engine) -> None:
    with make_session_factory(db).begin() as s:
        pe.identity.add_org_unit(s, "BENCH", "基准测试")
        pe.identity.add_post(s, "bench_post", "基准岗位")
        pe.identity.add_user(s, "b_user", display_name="基准", password="bench-password", org_code="BENCH",
                             post_codes=["bench_post"])
        pe.repository.deploy(s, TIMER_DIAGRAM.read_bytes(), TIMER_DIAGRAM.name)


def _bulk_open_work(db: Engine, count: int) -> None:
    """``count`` running instances, each with an open task whose warning and deadline lie in the future and a
    timer due next week: the shape of a busy system at a quiet moment."""
    now = datetime.now(UTC)
    with db.begin() as conn:
        definition_id = conn.scalar(text("SELECT id FROM process_definition LIMIT 1"))
        org_id = conn.scalar(text("SELECT id FROM org_unit LIMIT 1"))
        post_id = conn.scalar(text("SELECT id FROM post LIMIT 1"))
        for start in range(0, count, 5000):
            n = min(5000, count - start)
            conn.execute(insert(ProcessInstance), [
                {"definition_id": definition_id, "process_key": "bench_timer", "business_key": f"BULK-{start + i}",
                 "org_unit_id": org_id, "status": "running", "state": "{}", "serializer_version": "1.5",
                 "version": 1, "started_at": now, "next_timer_at": now + timedelta(days=7, seconds=i)}
                for i in range(n)])
        ids = [r[0] for r in conn.execute(select(ProcessInstance.id).order_by(ProcessInstance.id))]
        for start in range(0, len(ids), 5000):
            conn.execute(insert(HumanTask), [
                {"instance_id": iid, "spiff_task_id": f"bulk-{iid}", "process_key": "bench_timer",
                 "business_key": f"BULK-{iid}", "node_id": "work", "node_name": "处理", "lane": "bench_post",
                 "post_id": post_id, "org_unit_id": org_id, "status": "ready", "allow": "", "created_at": now,
                 "warn_at": now + timedelta(hours=1, seconds=iid % 3600),
                 "due_at": now + timedelta(hours=2, seconds=iid % 3600), "row_version": 1, "paused_seconds": 0}
                for iid in ids[start:start + 5000]])
        if db.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def tick_cost(db: Engine, open_tasks: int, ticks: int) -> dict[str, Any]:
    pe = ProcessEngine(build_registry())
    _world(pe, db)
    _bulk_open_work(db, open_tasks)
    worker = Worker(pe, make_session_factory(db), "bench-worker")
    worker.tick()  # warm up
    times = []
    for _ in range(ticks):
        started = time.perf_counter()
        report = worker.tick()
        times.append((time.perf_counter() - started) * 1000)
        assert not report.busy(), report
    return {"open_tasks": open_tasks, "ticks": ticks, "tick_ms_median": round(statistics.median(times), 2),
            "tick_ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 2), "plans": _plans(db)}


def _plans(db: Engine) -> list[str]:
    """The query plans of the tick's scans on PostgreSQL (they must use the partial indexes, not scan)."""
    if db.dialect.name != "postgresql":
        return []
    queries = [
        "SELECT id FROM process_instance WHERE status = 'running' AND next_timer_at <= now() "
        "ORDER BY next_timer_at LIMIT 1",
        "SELECT id FROM human_task WHERE status = 'ready' AND warned_at IS NULL AND suspended_at IS NULL "
        "AND warn_at <= now() ORDER BY warn_at LIMIT 200",
        "SELECT id FROM human_task WHERE status = 'ready' AND overdue_at IS NULL AND suspended_at IS NULL "
        "AND due_at <= now() ORDER BY due_at LIMIT 200",
        "SELECT id FROM job WHERE (status = 'pending' AND due_at <= now()) OR (status = 'running' AND "
        "locked_until < now()) ORDER BY due_at, id LIMIT 50",
    ]
    with db.connect() as conn:
        return [" | ".join(r[0] for r in conn.execute(text("EXPLAIN " + q))) for q in queries]


def timer_lateness(db: Engine, url: str, timers: int) -> dict[str, Any]:
    """Start ``timers`` instances whose timers fall due over a few seconds, run ``eoms worker`` as a separate
    process, and measure how long after its due time each timer fired."""
    pe = ProcessEngine(build_registry())
    _world(pe, db)
    sessions = make_session_factory(db)
    due: dict[int, datetime] = {}
    with sessions.begin() as s:
        actor = pe.identity.get_user(s, "b_user")
        for i in range(timers):
            result = pe.runtime.start(s, "bench_timer", business_key=f"LATE-{i}",
                                      data={"wait": f"PT{3 + i % 8}S"}, actor=actor)
            assert result.instance.next_timer_at is not None
            due[result.instance.id] = result.instance.next_timer_at
    env = {**os.environ, "EOMS_DATABASE_URL": url, "EOMS_WORKER_TICK_SECONDS": "0.5"}
    eoms = str(Path(sys.executable).parent / "eoms")
    proc = subprocess.Popen([eoms, "worker", "--id", "bench-lateness"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sessions() as s:
                left = s.scalar(select(func.count()).select_from(ProcessInstance).where(
                    ProcessInstance.business_key.like("LATE-%"), ProcessInstance.status == "running"))
            if not left:
                break
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with sessions() as s:
        fired = dict(s.execute(select(HistoryEvent.instance_id, HistoryEvent.at)
                               .where(HistoryEvent.event_type == "timer_fired")).tuples().all())
    late = sorted((fired[i] - due[i]).total_seconds() for i in due if i in fired)
    return {"timers": timers, "fired": len(late), "late_s_median": round(statistics.median(late), 3),
            "late_s_p95": round(late[int(0.95 * (len(late) - 1))], 3), "late_s_max": round(late[-1], 3)}


def run_worker_bench(open_tasks: int, database_url: str | None, ticks: int = 50, timers: int = 50) -> dict[str, Any]:
    """Both measurements, each on a fresh database."""
    with bench_database(database_url) as (db, kind):
        cost = tick_cost(db, open_tasks, ticks)
    with bench_database(database_url) as (db, kind):
        lateness = timer_lateness(db, db.url.render_as_string(hide_password=False), timers)
    return {"scenario": "worker", "database": kind, **cost, **lateness,
            "date": datetime.now(UTC).isoformat(timespec="seconds")}
