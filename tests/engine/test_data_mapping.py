"""Data inputs, outputs and associations (BPMN 2.0.2 §10.4), through the engine services with persistence:
an activity's ioSpecification is fed from data objects, assignments and variables; its outputs reach data
objects; every other variable of the work order flows on; message payloads travel as event data."""

from __future__ import annotations

from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.tasks.models import HumanTask, TaskStatus
from tests.conftest import build_test_registry, user
from tests.engine.test_timers import instance, open_task, rows_of, start


def data_at(pe, db, iid: int, node: str) -> dict:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return pe.runtime.task_data(s, s.get(HumanTask, open_task(db, iid, node)))


def test_an_io_specification_maps_data_in_and_out_and_keeps_the_rest(pe, db, deploy):
    deploy("data/io_mapping.bpmn")
    iid = start(pe, db, "io_mapping")
    assert rows_of(db, iid) == [("review", TaskStatus.READY)]
    data = data_at(pe, db, iid, "review")
    # 1200 (data object -> base) * 10 (assignment -> percent) / 100 + 7 (rate, read by its id) - 7
    assert data["discount_value"] == 120
    assert data["customer"] == "ACME" and data["rate"] == 7  # not dropped by the task's ioSpecification
    assert data["customer_seen_inside"] == "ACME"  # the task saw the work order's data beside its inputs
    for local in ("base", "percent", "result"):  # inputs and the mapped output do not leak onto the path
        assert local not in data


def test_a_data_input_nobody_provides_stops_the_step_with_an_incident_naming_it(pe, db, deploy):
    deploy("data/io_missing.bpmn")
    iid = start(pe, db, "io_missing")
    with db.sessions() as s:
        (incident,) = pe.management.incidents(s)
    assert incident.instance_id == iid and incident.node_id == "discount"
    assert "Missing data input 'ceiling'" in incident.message


def test_a_message_payload_reaches_the_data_object_of_the_catch_events_data_output(pe, db, deploy):
    deploy("data/payload_waiter.bpmn")
    iid = start(pe, db, "payload_waiter")
    with db.sessions.begin() as s:
        pe.runtime.correlate(s, iid, "quote_ready", {"amount": 880})
    assert rows_of(db, iid) == [("accept", TaskStatus.READY)]
    data = data_at(pe, db, iid, "accept")
    assert data["quote"] == {"amount": 880} and data["customer"] == "ACME"
    assert "wait_payload" not in data and "amount" not in data


def test_a_throw_events_data_input_is_the_payload_another_instance_receives(pe, db, deploy):
    deploy("data/payload_waiter.bpmn")
    deploy("data/payload_thrower.bpmn")
    waiter = start(pe, db, "payload_waiter")
    thrower = start(pe, db, "payload_thrower")
    assert instance(db, thrower).status == "completed"
    assert data_at(pe, db, waiter, "accept")["quote"] == {"amount": 880, "currency": "CNY"}


def test_mapped_data_survives_a_restart_of_the_engine_between_steps(pe, db, deploy, clock, switch, storage):
    deploy("data/io_mapping.bpmn")
    iid = start(pe, db, "io_mapping")
    # a new engine, as after a restart: the spec (with its mappings) and the state are read back from the database
    fresh = ProcessEngine(build_test_registry(switch), clock=clock, attachments=AttachmentPolicy(storage))
    with db.sessions.begin() as s:
        row = s.get(HumanTask, open_task(db, iid, "review"))
        assert fresh.runtime.task_data(s, row)["discount_value"] == 120
        fresh.tasks.complete(s, row.id, user(s, fresh, "alice"), {})
    assert instance(db, iid).status == "completed"
