"""A finished work order keeps a small state: its task chain is dropped at the end (the history keeps every step),
its data stays readable (``InstanceOperation.save``)."""

from __future__ import annotations

import json

from engine.runtime.models import InstanceStatus, ProcessInstance
from tests.conftest import user


def _run_loop(pe, db, key: str, rounds: int) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        started = pe.runtime.start(s, "review_loop", business_key=key, data={"rounds": 0, "approved": False},
                                   actor=user(s, pe, "alice"))
        instance_id, task_id = started.instance.id, started.tasks[0].id
    for i in range(rounds):
        with db.sessions.begin() as s:
            (review,) = pe.tasks.complete(s, task_id, user(s, pe, "alice"), {"note": f"round {i}"})
        with db.sessions.begin() as s:
            arrived = pe.tasks.complete(s, review.id, user(s, pe, "bob"), {"approved": i == rounds - 1})
            task_id = arrived[0].id if arrived else None
    return instance_id


def test_a_finished_instance_keeps_its_data_not_its_task_chain(pe, db, deploy) -> None:  # type: ignore[no-untyped-def]
    deploy("review_loop.bpmn")
    done = _run_loop(pe, db, "WO-DONE", rounds=5)
    with db.sessions() as s:
        instance = s.get(ProcessInstance, done)
        assert instance.status == InstanceStatus.COMPLETED
        state = json.loads(instance.state)
        assert len(state["tasks"]) <= 4, sorted(t["task_spec"] for t in state["tasks"].values())
        data = pe.runtime.instance_data(s, instance)
        assert data["rounds"] == 5 and data["approved"] is True and data["note"] == "round 4"
        kinds = [e.event_type for e in pe.history.timeline(s, done)]
        assert kinds.count("task_completed") == 10 and kinds[-1] == "instance_completed"


def test_a_running_instance_keeps_its_chain(pe, db, deploy) -> None:  # type: ignore[no-untyped-def]
    deploy("review_loop.bpmn")
    with db.sessions.begin() as s:
        started = pe.runtime.start(s, "review_loop", business_key="WO-OPEN", data={"rounds": 0, "approved": False},
                                   actor=user(s, pe, "alice"))
        pe.tasks.complete(s, started.tasks[0].id, user(s, pe, "alice"), {"note": "first"})
        instance_id = started.instance.id
    with db.sessions() as s:
        state = json.loads(s.get(ProcessInstance, instance_id).state)
        specs = {t["task_spec"] for t in state["tasks"].values()}
        assert {"fix", "score", "review"} <= specs  # the finished steps stay while it runs (返回 needs them)
