"""``eoms bench``: the engine with full persistence against raw SpiffWorkflow in memory, in one run.

Scenario ``fault``: a fault-style diagram (受理 → script 定级 → 处理 → gateway that loops back to 处理 once for
every other instance → 回单审核). The engine side starts each instance and completes every task through the
engine services, one transaction per action, on a fresh database; the raw side runs the same diagram in plain
SpiffWorkflow with a JSON serialize/deserialize round trip of the whole workflow at each wait state.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import text
from sqlalchemy.engine import Engine

from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from engine.migrate import upgrade_to_head
from engine.registry import HandlerRegistry

DIAGRAM = Path(__file__).resolve().parent / "fault_bench.bpmn"
PROCESS_KEY = "bench_fault"
WARMUP = 5


def plan(i: int) -> list[tuple[str, dict[str, Any]]]:
    """The human steps of instance ``i``: odd instances need a second round of 处理."""
    steps = [("accept", {"vip": i % 3 == 0, "summary": f"线路中断 {i}"})]
    if i % 2:
        steps.append(("handle", {"resolved": False, "note": "待备件"}))
    steps.append(("handle", {"resolved": True, "cause": "光缆中断", "measures": "熔接"}))
    steps.append(("review", {"approved": True}))
    return steps


# -- raw SpiffWorkflow ------------------------------------------------------------------------------------
def run_raw(instances: int) -> float:
    """Instances per second for plain SpiffWorkflow with a JSON round trip at every wait state."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DIAGRAM.read_bytes(), filename=DIAGRAM.name)
    spec, subs = parser.get_spec(PROCESS_KEY), parser.get_subprocess_specs(PROCESS_KEY)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def one(i: int) -> None:
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        for node_id, data in plan(i):
            wf = serializer.deserialize_json(state)
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            assert task is not None and task.task_spec.bpmn_id == node_id, (node_id, task)
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
        assert wf.is_completed()

    return _rate(one, instances)


# -- the engine ---------------------------------------------------------------------------------------------
def _setup_world(pe: ProcessEngine, db: Engine) -> None:
    with make_session_factory(db).begin() as s:
        pe.identity.add_org_unit(s, "BENCH", "基准测试")
        for code, name in (("bench_dispatcher", "基准调度"), ("bench_maintainer", "基准维护"),
                           ("bench_reviewer", "基准审核")):
            pe.identity.add_post(s, code, name)
            pe.identity.add_user(s, code.replace("bench_", "b_"), display_name=name, password="bench-password",
                                 org_code="BENCH", post_codes=[code])
        pe.repository.deploy(s, DIAGRAM.read_bytes(), DIAGRAM.name)


def run_engine(instances: int, db: Engine) -> float:
    """Instances per second through the engine services, one transaction per action."""
    pe = ProcessEngine(HandlerRegistry())
    _setup_world(pe, db)
    sessions = make_session_factory(db)
    owner = {"accept": "b_dispatcher", "handle": "b_maintainer", "review": "b_reviewer"}

    def one(i: int) -> None:
        with sessions.begin() as s:
            result = pe.runtime.start(s, PROCESS_KEY, business_key=f"BENCH-{i}-{time.monotonic_ns()}",
                                      data={}, actor=pe.identity.get_user(s, "b_dispatcher"))
            next_ids = [t.id for t in result.tasks]
        for node_id, data in plan(i):
            with sessions.begin() as s:
                actor = pe.identity.get_user(s, owner[node_id])
                created = pe.tasks.complete(s, next_ids[0], actor, data)
                next_ids = [t.id for t in created]
        assert not next_ids

    return _rate(one, instances)


def _rate(one: Callable[[int], None], instances: int) -> float:
    for i in range(WARMUP):
        one(i)
    started = time.perf_counter()
    for i in range(instances):
        one(WARMUP + i)
    return instances / (time.perf_counter() - started)


@contextmanager
def bench_database(url: str | None) -> Iterator[tuple[Engine, str]]:
    """A fresh, migrated database: a temporary SQLite file, or a temporary schema in the given PostgreSQL."""
    if not url or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="eoms-bench-") as tmp:
            db = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade_to_head(db)
            try:
                yield db, "sqlite"
            finally:
                db.dispose()
        return
    schema = f"eoms_bench_{os.getpid()}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    db = make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")
    try:
        upgrade_to_head(db)
        yield db, db.dialect.name
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def run_fault_bench(instances: int, database_url: str | None) -> dict[str, Any]:
    """Run both sides and return the figures ``eoms bench --json`` prints."""
    raw = run_raw(instances)
    with bench_database(database_url) as (db, kind):
        engine_rate = run_engine(instances, db)
    return {
        "scenario": "fault",
        "instances": instances,
        "database": kind,
        "raw_instances_per_s": round(raw, 1),
        "engine_instances_per_s": round(engine_rate, 1),
        "ratio": round(engine_rate / raw, 3),
        "steps_per_instance": "1 start + 3.5 task completions (average)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
