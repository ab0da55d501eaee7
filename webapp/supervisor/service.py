"""The reads the supervisor console's views need beyond the engine services: each takes the session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity.models import User
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask


def user_id(session: Session, username: str) -> int | None:
    return session.scalar(select(User.id).where(User.username == username))


def open_steps(session: Session, instance_ids: list[int]) -> dict[int, list[HumanTask]]:
    """The open (ready) tasks of each instance, every instance present even without one."""
    found: dict[int, list[HumanTask]] = {i: [] for i in instance_ids}
    if instance_ids:
        for row in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(instance_ids),
                                                           HumanTask.status == "ready")):
            found[row.instance_id].append(row)
    return found


def business_keys(session: Session, instance_ids: list[int]) -> dict[int, str]:
    if not instance_ids:
        return {}
    return dict(session.execute(select(ProcessInstance.id, ProcessInstance.business_key)
                                .where(ProcessInstance.id.in_(instance_ids))).tuples().all())


def diagram_xml(session: Session, definition_id: int) -> str | None:
    """The stored BPMN of a version, without an XML declaration (the text is decoded already, and a
    declaration may name another charset)."""
    row = session.get(ProcessDefinition, definition_id)
    if row is None:
        return None
    xml = row.bpmn_xml
    return xml[xml.index("?>") + 2:].lstrip() if xml.startswith("<?xml") else xml


def versions(session: Session, process_key: str) -> list[ProcessDefinition]:
    """Every version of a process, newest first."""
    return list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == process_key)
                                .order_by(ProcessDefinition.version.desc())))


def incident(session: Session, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id)


def org_of(session: Session, instance_id: int) -> int:
    """The org unit of an instance (-1, nobody's, when it does not exist)."""
    instance = session.get(ProcessInstance, instance_id)
    return instance.org_unit_id if instance else -1
