"""Loops: a reject loop taken a thousand times stays fast and small; a runaway automatic loop is reported."""

from __future__ import annotations

import json
import time
from itertools import pairwise

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.context import EngineLimits
from engine.core import ProcessEngine
from engine.runtime.models import Incident, ProcessInstance
from engine.spiff.stepping import compact, ready_human_tasks, run_engine_steps
from engine.tasks.models import HumanTask
from tests.conftest import BPMN_DIR, build_test_registry, user

MAX_STATE_BYTES = 300 * 1024


def start_review(pe, db):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "review_loop", business_key="WO-LOOP", data={"rounds": 0, "approved": False},
                                  actor=user(s, pe, "alice"))
        assert result.incident is None
        (fix,) = result.tasks
        return result.instance.id, fix.id


def complete_one(pe, db, task_id, username, data, expected_node):  # type: ignore[no-untyped-def]
    """Complete a task in its own transaction; returns the id of the single task that arrives (or None)."""
    with db.sessions.begin() as s:
        created = pe.tasks.complete(s, task_id, user(s, pe, username), data)
        if expected_node is None:
            assert created == []
            return None
        assert [t.node_id for t in created] == [expected_node]
        return created[0].id


def run_review_loop(pe, db, rounds, every=100):  # type: ignore[no-untyped-def]
    """Go round fix → score → review ``rounds`` times through the services, approving the last review.

    Every ``every`` rounds (and at the end) the stored state is measured: returns (round, bytes, tasks) samples.
    """
    instance_id, fix_id = start_review(pe, db)
    sizes = []
    for n in range(1, rounds + 1):
        review_id = complete_one(pe, db, fix_id, "alice", {"note": f"fix {n}"}, "review")
        last = n == rounds
        fix_id = complete_one(pe, db, review_id, "bob", {"approved": last}, None if last else "fix")
        if n % every == 0 or last:
            with db.sessions() as s:
                instance = s.get(ProcessInstance, instance_id)
                tree_tasks = len(json.loads(instance.state)["tasks"])
                sizes.append((n, len(instance.state), tree_tasks))
                assert len(instance.state) < MAX_STATE_BYTES, f"state is {len(instance.state)} bytes after {n} rounds"
                # compaction at every save keeps the tree near the threshold, whatever the number of rounds
                assert tree_tasks <= pe.ctx.limits.compaction_threshold + 10, f"{tree_tasks} tasks after {n} rounds"
                assert s.scalar(select(func.count()).select_from(Incident)
                                .where(Incident.instance_id == instance_id)) == 0, f"incident after {n} rounds"
    return instance_id, sizes


def check_finished_loop(pe, db, instance_id, rounds):  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert json.loads(instance.state)["data"]["rounds"] == rounds
        assert s.scalars(select(Incident).where(Incident.instance_id == instance_id)).all() == []
        counts = dict(s.execute(select(HumanTask.node_id, func.count()).where(HumanTask.instance_id == instance_id)
                                .group_by(HumanTask.node_id)).all())
        assert counts == {"fix": rounds, "review": rounds}
        open_rows = s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status != "completed"))
        assert open_rows == 0
        timeline = [e.event_type for e in pe.history.timeline(s, instance_id)]
        assert timeline.count("step_completed") == rounds
        assert timeline[-1] == "instance_completed"


@pytest.mark.slow
def test_reject_loop_a_thousand_times(pe, db, deploy):
    deploy("review_loop.bpmn")
    began = time.perf_counter()
    instance_id, sizes = run_review_loop(pe, db, 1000)
    elapsed = time.perf_counter() - began
    check_finished_loop(pe, db, instance_id, 1000)
    # compaction keeps the state from growing with the number of rounds
    assert [n for n, _, _ in sizes] == list(range(100, 1001, 100))
    first_half = max(size for n, size, _ in sizes if n <= 500)
    second_half = max(size for n, size, _ in sizes if n > 500)
    assert second_half < 1.5 * first_half, sizes
    print(f"\n1000 rounds on {db.kind}: {elapsed:.1f} s, state sizes {sizes}")


def test_reject_loop_150_times(pe, db, deploy):
    deploy("review_loop.bpmn")
    instance_id, sizes = run_review_loop(pe, db, 150, every=25)
    check_finished_loop(pe, db, instance_id, 150)
    assert [n for n, _, _ in sizes] == [25, 50, 75, 100, 125, 150]
    # the tree was cut at least once on the way: it did not just grow
    tasks = [t for _, _, t in sizes]
    assert any(later < earlier for earlier, later in pairwise(tasks)), sizes


# -- an automatic loop without a wait state --------------------------------------------------------------
def test_long_automatic_loop_keeps_working(pe, db, deploy):
    """2,000 rounds of script + gateway in one go: four times past the round where SpiffWorkflow's depth limit
    stalls a loop (about 500), and it finishes."""
    deploy("auto_loop_2000.bpmn", auto_loop(2000))
    began = time.perf_counter()
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "auto_loop", business_key="WO-RUN", data={"counter": 0},
                                  actor=user(s, pe, "alice"))
        assert result.tasks == [] and result.incident is None
        instance_id = result.instance.id
    assert time.perf_counter() - began < 60
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert json.loads(instance.state)["data"]["counter"] == 2000
        assert [e.event_type for e in pe.history.timeline(s, instance_id)].count("step_completed") == 2000
        assert s.scalars(select(Incident).where(Incident.instance_id == instance_id)).all() == []


def test_runaway_automatic_loop_is_reported_not_silent(db, deploy, clock, switch):
    """A loop that never waits is stopped after the engine's step limit with a clear incident."""
    pe = ProcessEngine(build_test_registry(switch), clock=clock, limits=EngineLimits(max_automatic_steps=3000))
    with db.sessions.begin() as s:
        pe.repository.deploy(s, auto_loop(10**9), "auto_loop_forever.bpmn")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "auto_loop", business_key="WO-RUN", data={"counter": 0},
                                  actor=user(s, pe, "alice"))
        assert result.tasks == []
        instance_id = result.instance.id
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "running" and instance.ended_at is None
        (incident,) = s.scalars(select(Incident).where(Incident.instance_id == instance_id)).all()
        assert (incident.status, incident.kind) == ("open", "engine")
        assert "more than 3000 automatic steps" in incident.message and "loops" in incident.message
        events = [e.event_type for e in pe.history.timeline(s, instance_id)]
        assert "incident_opened" in events
        assert "instance_completed" not in events


def auto_loop(rounds: int) -> bytes:
    content = (BPMN_DIR / "runtime" / "auto_loop.bpmn").read_bytes()
    return content.replace(b"counter &lt; 5000", f"counter &lt; {rounds}".encode())


def start_auto_loop(pe, db, deploy, rounds):  # type: ignore[no-untyped-def]
    deploy(f"auto_loop_{rounds}.bpmn", auto_loop(rounds))
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "auto_loop", business_key=f"WO-{rounds}", data={"counter": 0},
                                  actor=user(s, pe, "alice"))
        return result.instance.id, result.incident is not None


def test_short_automatic_loop_completes(pe, db, deploy):
    instance_id, has_incident = start_auto_loop(pe, db, deploy, 100)
    assert not has_incident
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "completed"
        assert json.loads(instance.state)["data"]["counter"] == 100
        assert [e.event_type for e in pe.history.timeline(s, instance_id)].count("step_completed") == 100


def test_automatic_loop_never_completes_before_its_end(pe, db, deploy):
    """600 rounds in one go: either all of them run, or the instance waits with an incident; never half."""
    instance_id, has_incident = start_auto_loop(pe, db, deploy, 600)
    with db.sessions() as s:
        instance = s.get(ProcessInstance, instance_id)
        bumps = [e.event_type for e in pe.history.timeline(s, instance_id)].count("step_completed")
        if instance.status == "completed":
            assert not has_incident
            assert bumps == 600, f"instance completed after {bumps} of 600 rounds"
            assert json.loads(instance.state)["data"].get("counter") == 600
        else:
            assert instance.status == "running"
            assert has_incident
            assert s.scalar(select(func.count()).select_from(Incident).where(
                Incident.instance_id == instance_id, Incident.status == "open")) == 1


# -- compaction on a raw SpiffWorkflow workflow ------------------------------------------------------------
def raw_review_workflow() -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN_DIR / "review_loop.bpmn"))
    workflow = BpmnWorkflow(parser.get_spec("review_loop"), parser.get_subprocess_specs("review_loop"))
    start = workflow.get_next_task(state=TaskState.READY)
    start.data.update({"rounds": 0, "approved": False})
    run_engine_steps(workflow)
    return workflow


def go_round(workflow: BpmnWorkflow, approve: bool) -> None:
    (fix,) = ready_human_tasks(workflow)
    assert fix.task_spec.bpmn_id == "fix"
    fix.run()
    run_engine_steps(workflow)
    (review,) = ready_human_tasks(workflow)
    assert review.task_spec.bpmn_id == "review"
    review.set_data(approved=approve)
    review.run()
    run_engine_steps(workflow)


def test_compact_shrinks_a_long_loop_and_it_still_completes():
    workflow = raw_review_workflow()
    for _ in range(200):
        go_round(workflow, approve=False)
    before = len(workflow.tasks)
    assert before > 4 * 200
    # below the threshold nothing is touched
    assert compact(workflow, threshold=before + 1, keep=60) == 0
    assert len(workflow.tasks) == before
    removed = compact(workflow, threshold=300, keep=60)
    assert removed > 0
    assert len(workflow.tasks) == before - removed
    assert len(workflow.tasks) < 200
    # the tree is still whole: every task's parent is there, the root leads to the survivors
    root = workflow.task_tree
    assert len(root.children) == 1
    for task in workflow.tasks.values():
        if task is not root:
            assert task.parent is not None and task.parent.id in workflow.tasks
    # compacting again removes nothing more; the workflow goes on and completes with the right data
    assert compact(workflow, threshold=300, keep=60) == 0
    for _ in range(100):
        go_round(workflow, approve=False)
        compact(workflow, threshold=300, keep=60)
    assert len(workflow.tasks) < 500
    go_round(workflow, approve=True)
    assert workflow.is_completed()
    assert workflow.data["rounds"] == 301


def test_compact_keeps_the_recent_links():
    workflow = raw_review_workflow()
    for _ in range(100):
        go_round(workflow, approve=False)
    keep = 60
    compact(workflow, threshold=10, keep=keep)
    chain = []
    node = workflow.task_tree.children[0]
    while node.state == TaskState.COMPLETED and len(node.children) == 1:
        chain.append(node)
        node = node.children[0]
    assert len(chain) == keep
    assert [t.task_spec.bpmn_id for t in ready_human_tasks(workflow)] == ["fix"]
