"""A call activity may name a process deployed from another file (BPMN 2.0.2 §10.3.5): the callee deployed
at the caller's deploy is bound into the caller's version; a callee that is deployed nowhere is refused."""

from __future__ import annotations

import pytest

from engine.errors import BpmnValidationError, NotFound
from engine.repository.calls import in_call_order
from eoms.cli import main
from tests.conftest import BPMN_DIR, bpmn
from tests.engine.test_conditional_starts import begin, finish, ready
from tests.engine.test_timers import instance


def test_a_call_activity_runs_a_process_deployed_from_another_file(pe, db, deploy):
    deploy("calls/allocate.bpmn")
    (caller,) = deploy("calls/order.bpmn")
    assert caller.key == "order_with_call"
    iid = begin(pe, db, "order_with_call", {"customer": "ACME"})
    finish(pe, db, iid, "take", {"bandwidth": 100})
    assert ready(db, iid) == ["pick"]
    finish(pe, db, iid, "pick", {"port": "GE1/0/1"})
    assert ready(db, iid) == ["finish"]
    finish(pe, db, iid, "finish")
    assert instance(db, iid).status == "completed"


def test_a_call_to_a_process_deployed_nowhere_is_refused_and_nothing_stored(pe, db, deploy):
    with pytest.raises(BpmnValidationError) as caught:
        deploy("calls/order.bpmn")
    assert [(i.element_id, i.rule) for i in caught.value.issues] == [("allocate", "unknown-called-process")]
    assert "'allocate_port'" in caught.value.issues[0].message
    with db.sessions() as s, pytest.raises(NotFound):
        pe.repository.latest(s, "order_with_call")


def test_a_batch_deploys_callees_first_whatever_order_it_is_given_in(db, capsys, monkeypatch):
    monkeypatch.setenv("EOMS_DATABASE_URL", db.url)
    files = [str(BPMN_DIR / "calls/order.bpmn"), str(BPMN_DIR / "calls/allocate.bpmn")]
    assert main(["validate", *files]) == 0
    assert main(["deploy", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out if line.startswith("process ")] == ["allocate_port", "order_with_call"]


def test_call_order_keeps_the_given_order_where_nothing_calls():
    order, allocate, plain = bpmn("calls/order.bpmn"), bpmn("calls/allocate.bpmn"), bpmn("tasks/plain.bpmn")
    files = [("plain", plain), ("order", order), ("broken", b"<not xml"), ("allocate", allocate)]
    assert [name for name, _ in in_call_order(files)] == ["plain", "allocate", "order", "broken"]
