"""What an instance page shows, gathered once for the task page and the work-order page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.attachments.models import Attachment
from engine.history.models import HistoryEvent
from engine.repository.models import ProcessDefinition
from engine.runtime.models import Incident, ProcessInstance
from engine.tasks.models import HumanTask
from webapp import db

EVENT_LABELS = {
    "instance_started": "发起工单", "instance_completed": "工单完成", "instance_cancelled": "工单撤销",
    "task_created": "任务到达", "task_claimed": "签收", "task_unclaimed": "取消签收", "task_completed": "提交",
    "task_transferred": "转派", "task_returned": "退回", "task_cancelled": "任务取消", "task_annotated": "批注",
    "task_suspended": "挂起", "task_resumed": "恢复", "task_urged": "催办", "task_warned": "到达限时预警",
    "task_overdue": "超时", "task_escalated": "超时升级", "step_completed": "自动环节完成", "timer_fired": "定时触发",
    "handler_failed": "自动环节失败", "incident_opened": "异常", "incident_retried": "异常重试",
    "incident_resolved": "异常解决", "job_failed": "外部作业失败", "attachment_added": "上传附件",
    "message_received": "收到外部消息", "extension_requested": "申请延期", "task_extended": "延长时限",
}


@dataclass
class InstanceView:
    instance: ProcessInstance
    definition: ProcessDefinition
    events: list[HistoryEvent]
    tasks: list[HumanTask]
    attachments: list[Attachment]
    incidents: list[Incident]
    names: dict[int, str]
    start_data: dict[str, Any]


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
    first = next((t.data for t in tasks if t.data), None)
    return InstanceView(instance, definition, events, tasks, attachments, incidents, names, first or {})
