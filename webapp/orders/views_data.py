"""What an instance page shows, gathered once for the task page, the work-order page and the console (event
labels for the timeline live in ``templates/_timeline.html``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from webapp import db


@dataclass
class InstanceView:
    instance: ProcessInstance
    definition: ProcessDefinition
    events: list[HistoryEvent]
    tasks: list[HumanTask]
    attachments: list[Attachment]
    incidents: list[Incident]
    names: dict[int, str]


def instance_view(session: Session, instance_id: int) -> InstanceView:
    pe = db.engine()
    instance = pe.runtime.get(session, instance_id)
    definition = session.get(ProcessDefinition, instance.definition_id)
    assert definition is not None
    events = list(pe.history.timeline(session, instance_id))
    tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                                 .order_by(HumanTask.id)))
    attachments = list(session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                                       .order_by(Attachment.id)))
    incidents = list(session.scalars(select(Incident).where(Incident.instance_id == instance_id,
                                                            Incident.status == "open")))
    ids = [e.actor_id for e in events] + [t.assignee_id for t in tasks] + [t.completed_by_id for t in tasks] + \
        [instance.started_by_id] + [a.uploaded_by_id for a in attachments]
    names = pe.identity.display_names(session, ids)
    return InstanceView(instance, definition, events, tasks, attachments, incidents, names)
