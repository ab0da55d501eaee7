"""SMS for the engine's notices: a deadline warning, an overdue task and its escalation, 催办, a request for
more time. The engine says who and why (``engine.sla.notices.Notice``); this module picks the Chinese
template, fills it and queues one ``sms.send`` job per notice (unique by the notice's key)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from engine.identity.models import User
from engine.jobs.service import enqueue
from engine.registry import HandlerRegistry, ListenerContext
from engine.sla.notices import NOTICE_EVENTS, Notice

SHANGHAI = ZoneInfo("Asia/Shanghai")

# notice event → SMS template
TEMPLATE_OF = {
    "task_warned": "warning",
    "task_overdue": "overdue",
    "task_escalated": "escalation",
    "task_urged": "urge",
    "extension_requested": "urge",
    "task_reworked": "rework",
}


def notice_params(ctx: ListenerContext, notice: Notice) -> dict[str, str]:
    """The template parameters of a notice, in the words the post holders read."""
    row = notice.task
    assignee = ctx.session.get(User, row.assignee_id) if row.assignee_id else None
    params = {
        "business_key": row.business_key,
        "step": row.node_name,
        "due": row.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if row.due_at else "-",
        "assignee": assignee.display_name if assignee else "未签收",
    }
    if notice.actor is not None:
        params["urger"] = notice.actor.display_name
    if notice.event == "task_reworked":
        params["from_step"] = str(notice.details.get("from_step", ""))
        params["reason"] = str(notice.details.get("reason", ""))
    elif notice.event == "extension_requested":
        params["note"] = f"申请延期 {notice.details.get('by', '')}：{notice.details.get('reason', '')}"
    elif "note" in notice.details:
        params["note"] = str(notice.details["note"])
    return params


def register_notices(registry: HandlerRegistry, job_kind: str) -> None:
    """Listen to every notice event and queue its SMS."""

    def on_notice(ctx: ListenerContext, notice: Notice) -> None:
        if not notice.recipients:
            return
        payload = {"template": TEMPLATE_OF[notice.event], "to": [{"user_id": u} for u in notice.recipients],
                   "params": notice_params(ctx, notice)}
        enqueue(ctx.session, job_kind, payload, notice.key, now=ctx.now, instance_id=notice.task.instance_id)

    for event in NOTICE_EVENTS:
        registry.on(event, on_notice)
