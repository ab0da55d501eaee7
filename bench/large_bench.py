"""``eoms bench --scenario large``: a large flow, per step, against raw SpiffWorkflow.

The diagram (written here, deployed to the bench database only): 30 user steps in a row, each with a time limit
on the 24x7 calendar, then a parallel gateway into 10 user steps side by side and a join — 40 user steps per
instance. Raw SpiffWorkflow runs it in memory with a JSON round trip of its running state (the spec kept in
memory) after every step (what any persisted engine must at least do); the engine starts each instance and
completes every step through its services, one transaction per action (the ten branches one after the other).
The figure is the time per step, and the ratio engine/raw of it.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from bench.engine_bench import bench_database, round_trip
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.registry import HandlerRegistry

KEY, SERIAL, PARALLEL = "bench_large", 30, 10
STEPS = SERIAL + PARALLEL
GOAL_TIME_RATIO = 1.5  # issue 15: engine time per step at most 1.5 × the raw engine's
WARMUP = 2
LIMIT = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="timeLimit" value="PT4H"/>'
         '<spiffworkflow:property name="calendar" value="24x7"/></spiffworkflow:properties></bpmn:extensionElements>')


def diagram() -> bytes:
    """30 steps in a row, then 10 in parallel."""
    serial = [f"s{i:02d}" for i in range(1, SERIAL + 1)]
    branches = [f"b{i:02d}" for i in range(1, PARALLEL + 1)]
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:parallelGateway id="split"/>', '<bpmn:parallelGateway id="join"/>',
             '<bpmn:endEvent id="end"/>']
    nodes += [f'<bpmn:userTask id="{n}" name="环节{n}">{LIMIT}</bpmn:userTask>' for n in serial + branches]
    chain = ["start", *serial, "split"]
    flows = list(pairwise(chain))
    flows += [("split", b) for b in branches] + [(b, "join") for b in branches] + [("join", "end")]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in ["start", "split", "join", "end", *serial,
                                                                           *branches])
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_large" '
        'targetNamespace="http://eoms.example/bpmn">'
        f'<bpmn:process id="{KEY}" name="大流程（基准）" isExecutable="true">'
        f'<bpmn:laneSet id="lanes"><bpmn:lane id="lane_all" name="bench_worker">{refs}</bpmn:lane></bpmn:laneSet>'
        + "".join(nodes)
        + "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>' for i, (a, b) in enumerate(flows))
        + "</bpmn:process></bpmn:definitions>")
    return xml.encode()


def run_raw(instances: int) -> float:
    """Seconds per step for plain SpiffWorkflow with a state-only JSON round trip after every step."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(diagram(), filename="large.bpmn")
    spec, subs = parser.get_spec(KEY), parser.get_subprocess_specs(KEY)
    dump, load = round_trip(spec, subs, state_only=True)

    def one(i: int) -> None:
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        state = dump(wf)
        for _ in range(STEPS):
            wf = load(state)
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            assert task is not None
            task.set_data(step=task.task_spec.bpmn_id, by=i)
            task.run()
            wf.do_engine_steps()
            state = dump(wf)
        assert wf.is_completed()

    return _per_step(one, instances)


def run_engine(instances: int, db: Any) -> float:
    """Seconds per step through the engine services, one transaction per action."""
    pe = ProcessEngine(HandlerRegistry())
    sessions = make_session_factory(db)
    with sessions.begin() as s:
        pe.identity.add_org_unit(s, "BENCH", "基准测试")
        pe.identity.add_post(s, "bench_worker", "基准岗位")
        pe.identity.add_user(s, "b_worker", display_name="基准", password="bench-password", org_code="BENCH",
                             post_codes=["bench_worker"])
        pe.repository.deploy(s, diagram(), "large.bpmn")

    def one(i: int) -> None:
        with sessions.begin() as s:
            open_ids = [t.id for t in pe.runtime.start(s, KEY, business_key=f"LARGE-{i}-{time.monotonic_ns()}",
                                                       data={}, actor=pe.identity.get_user(s, "b_worker")).tasks]
        for _ in range(STEPS):
            with sessions.begin() as s:
                task_id = open_ids.pop(0)
                created = pe.tasks.complete(s, task_id, pe.identity.get_user(s, "b_worker"), {"by": i})
                open_ids += [t.id for t in created]
        assert not open_ids

    return _per_step(one, instances)


def _per_step(one: Any, instances: int) -> float:
    for i in range(WARMUP):
        one(i)
    started = time.perf_counter()
    for i in range(instances):
        one(WARMUP + i)
    return (time.perf_counter() - started) / (instances * STEPS)


def run_large_bench(instances: int, database_url: str | None) -> dict[str, Any]:
    """Time per step of the large flow, raw and through the engine, in one run."""
    raw = run_raw(instances)
    with bench_database(database_url) as (db, kind):
        engine = run_engine(instances, db)
    ratio = engine / raw
    return {
        "scenario": "large", "database": kind, "instances": instances, "steps_per_instance": STEPS,
        "diagram": f"{SERIAL} user steps in a row, then {PARALLEL} in parallel",
        "raw_ms_per_step": round(raw * 1000, 2), "engine_ms_per_step": round(engine * 1000, 2),
        "engine_time_over_raw": round(ratio, 2), "goal_time_over_raw": GOAL_TIME_RATIO, "met": ratio <= GOAL_TIME_RATIO,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
