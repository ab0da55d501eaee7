"""A service-task handler throws a BPMN error (BPMN 2.0.2 §10.5.2): the error boundary event on the task that
names the code, else the one without a code, interrupts the task and takes its path; nobody catching it is an
``error`` incident naming the code. The handler's own writes are undone either way."""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.models import Post
from engine.tasks.models import HumanTask
from tests.conftest import bpmn, user
from tests.engine.test_timers import instance, rows_of


def begin(pe, db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return pe.runtime.start(s, "business_error", business_key="WO-B", data={"code": code},
                                actor=user(s, pe, "alice")).instance.id


def ready(db, iid: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [node for node, status in rows_of(db, iid) if status == "ready"]


def ghost_posts(db) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return len(s.scalars(select(Post).where(Post.code == "crm_ghost")).all())


def test_the_boundary_naming_the_code_takes_over(pe, db, deploy):
    deploy("runtime/business_error.bpmn")
    iid = begin(pe, db, "CRM_REJECTED")
    assert ready(db, iid) == ["fix_data"]
    with db.sessions() as s:
        row = s.scalar(select(HumanTask).where(HumanTask.instance_id == iid, HumanTask.node_id == "fix_data"))
        data = pe.runtime.task_data(s, row)
        assert (data["error_code"], data["error_message"], data["field"]) == ("CRM_REJECTED", "客户资料不全", "证件号")
        assert "account" not in data
        assert pe.management.incidents(s) == []
    assert ghost_posts(db) == 0  # the handler's write went with its error


def test_a_boundary_without_a_code_catches_every_other_business_error(pe, db, deploy):
    deploy("runtime/business_error.bpmn")
    iid = begin(pe, db, "QUOTA_EXCEEDED")
    assert ready(db, iid) == ["escalate"]


def test_without_an_error_the_normal_path_runs_and_the_write_stays(pe, db, deploy):
    deploy("runtime/business_error.bpmn")
    iid = begin(pe, db, "")
    assert ready(db, iid) == ["confirm"]
    assert ghost_posts(db) == 1


def test_an_error_no_boundary_catches_is_an_error_incident_naming_the_code(pe, db, deploy):
    content = bpmn("runtime/business_error.bpmn").decode()
    for boundary in ("on_other",):  # keep only the CRM_REJECTED boundary
        start = content.index(f'<bpmn:boundaryEvent id="{boundary}"')
        content = content[:start] + content[content.index("</bpmn:boundaryEvent>", start) + 21:]
    content = content.replace('<bpmn:sequenceFlow id="f4" sourceRef="on_other" targetRef="escalate"/>',
                              '<bpmn:sequenceFlow id="f4" sourceRef="confirm" targetRef="escalate"/>')
    deploy("business_error.bpmn", content.replace("<bpmn:flowNodeRef>on_other</bpmn:flowNodeRef>", "").encode())
    iid = begin(pe, db, "QUOTA_EXCEEDED")
    assert ready(db, iid) == []
    with db.sessions() as s:
        (incident,) = pe.management.incidents(s)
    assert (incident.instance_id, incident.kind, incident.node_id) == (iid, "error", "open_account")
    assert "QUOTA_EXCEEDED" in incident.message and "客户资料不全" in incident.message
    assert instance(db, iid).status == "running"
    assert ghost_posts(db) == 0
