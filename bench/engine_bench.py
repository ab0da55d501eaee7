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
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from engine.migrate import upgrade_to_head
from engine.registry import HandlerRegistry
from engine.spiff.serializer import WorkflowCodec

DIAGRAM = Path(__file__).resolve().parent / "fault_bench.bpmn"
PROCESS_KEY = "bench_fault"
WARMUP = 5
GOAL_RATIO = {"postgresql": 0.40, "sqlite": 0.50}  # issue 15: engine/raw for the fault scenario


def plan(i: int) -> list[tuple[str, dict[str, Any]]]:
    """The human steps of instance ``i``: odd instances need a second round of 处理."""
    steps = [("accept", {"vip": i % 3 == 0, "summary": f"线路中断 {i}"})]
    if i % 2:
        steps.append(("handle", {"resolved": False, "note": "待备件"}))
    steps.append(("handle", {"resolved": True, "cause": "光缆中断", "measures": "熔接"}))
    steps.append(("review", {"approved": True}))
    return steps


# -- raw SpiffWorkflow ------------------------------------------------------------------------------------
def run_raw(instances: int, *, state_only: bool = True) -> float:
    """Instances per second for plain SpiffWorkflow with a JSON round trip at every wait state: of the running
    state only, the spec kept in memory (issue 15's baseline), or with ``state_only=False`` of the whole workflow
    with its spec (``serialize_json``, the baseline of the figures before 2026-12-03)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DIAGRAM.read_bytes(), filename=DIAGRAM.name)
    spec, subs = parser.get_spec(PROCESS_KEY), parser.get_subprocess_specs(PROCESS_KEY)
    dump, load = round_trip(spec, subs, state_only)

    def one(i: int) -> None:
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        state = dump(wf)
        for node_id, data in plan(i):
            wf = load(state)
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            assert task is not None and task.task_spec.bpmn_id == node_id, (node_id, task)
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()
            state = dump(wf)
        assert wf.is_completed()

    return _rate(one, instances)


def round_trip(spec: Any, subs: dict[str, Any], state_only: bool) -> tuple[Callable[[BpmnWorkflow], str],
                                                                          Callable[[str], BpmnWorkflow]]:
    """(dump, load) of a workflow as JSON: the state-only converter the engine stores with, or the library's
    whole-workflow ``serialize_json``."""
    if state_only:
        codec = WorkflowCodec()
        return codec.dump_state, lambda text: codec.load_state(text, (spec, subs))
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return serializer.serialize_json, serializer.deserialize_json


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


def statements_per_action(db: Engine, instances: int = 20) -> dict[str, float]:
    """SQL statements the engine sends per start and per task completion (the commit not counted), averaged over
    ``instances`` instances run after the timed ones, on the same database."""
    pe = ProcessEngine(HandlerRegistry())
    sessions = make_session_factory(db)
    owner = {"accept": "b_dispatcher", "handle": "b_maintainer", "review": "b_reviewer"}
    counts = {"start": 0, "complete": 0}
    actions = {"start": 0, "complete": 0}
    current = ["start"]

    def seen(*_args: Any) -> None:
        counts[current[0]] += 1

    event.listen(db, "before_cursor_execute", seen)
    try:
        for i in range(instances):
            current[0] = "start"
            with sessions.begin() as s:
                actor = pe.identity.get_user(s, "b_dispatcher")
                key = f"COUNT-{i}-{time.monotonic_ns()}"
                started = pe.runtime.start(s, PROCESS_KEY, business_key=key, data={}, actor=actor)
                next_ids = [t.id for t in started.tasks]
            actions["start"] += 1
            for node_id, data in plan(i):
                current[0] = "complete"
                with sessions.begin() as s:
                    next_ids = [t.id for t in pe.tasks.complete(s, next_ids[0], pe.identity.get_user(s, owner[node_id]),
                                                                data)]
                actions["complete"] += 1
    finally:
        event.remove(db, "before_cursor_execute", seen)
    return {kind: round(counts[kind] / actions[kind], 2) for kind in counts}


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
    raw_full = run_raw(instances, state_only=False)
    with bench_database(database_url) as (db, kind):
        engine_rate = run_engine(instances, db)
        statements = statements_per_action(db)
    goal = GOAL_RATIO.get(kind)
    return {
        "scenario": "fault",
        "instances": instances,
        "database": kind,
        "raw_instances_per_s": round(raw, 1),
        "raw_baseline": "SpiffWorkflow in memory, state-only JSON round trip per wait state (spec kept in memory)",
        "raw_full_json_instances_per_s": round(raw_full, 1),
        "engine_instances_per_s": round(engine_rate, 1),
        "ratio": round(engine_rate / raw, 3),
        "ratio_to_full_json_raw": round(engine_rate / raw_full, 3),
        "goal_ratio": goal,
        "met": goal is not None and engine_rate / raw >= goal,
        "statements_per_action": statements,
        "statements_note": "each action also loads its user (get_user) in its transaction, as a request does; "
                           "the commit is not counted",
        "steps_per_instance": "1 start + 3.5 task completions (average)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
