"""短信模板: each SMS the system sends (派单, 预警, 超时, 升级, 催办, 退回, 回访), its parameters, its wording for
every flow or for one flow, and a preview filled from a real work order with its length and SMS count."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine.errors import EomsError, NotFound
from engine.identity.models import User
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.sms import templates as sms
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import audit, bp
from webapp.errors import fail_to, status_of
from webapp.i18n import gettext, lazy_gettext
from webapp.messages import explain, field_errors, field_list, sentence

SHANGHAI = ZoneInfo("Asia/Shanghai")
PARAM_LABELS: dict[str, Any] = {
    "business_key": lazy_gettext("工单号"), "step": lazy_gettext("环节名称"),
    "due": lazy_gettext("时限（月-日 时:分）"),
    "assignee": lazy_gettext("当前处理人"), "urger": lazy_gettext("催办人或退回人"), "note": lazy_gettext("附言"),
    "summary": lazy_gettext("工单摘要"), "from_step": lazy_gettext("退回环节"), "reason": lazy_gettext("原因"),
    "customer": lazy_gettext("客户名称"), "hotline": lazy_gettext("客服热线"), "name": lazy_gettext("收信人姓名"),
}


@bp.get("/sms")
@roles_required("admin")
def sms_index() -> str:
    s, pe = db.session(), db.engine()
    custom: dict[str, list[str]] = {}
    for row in sms.wordings(s):
        custom.setdefault(row.template, []).append(row.process_key)
    return render_template("admin/sms_index.html", templates=list(sms.TEMPLATES.values()), custom=custom,
                           flows={d.key: d.name for d in pe.repository.list_latest(s)})


@bp.route("/sms/<name>", methods=["GET", "POST"])
@roles_required("admin")
def sms_edit(name: str) -> Response | str | tuple[str, int]:
    s = db.session()
    fail_to(url_for("admin.sms_index"))
    template = sms.get_template(name)
    flow = (request.values.get("flow") or "").strip()
    current = sms.wording(s, name, flow or None)
    text = request.form.get("text", current.text) if request.method == "POST" else current.text
    order = (request.values.get("order") or "").strip()
    if request.method == "POST" and request.form.get("action") == "save":
        fail_to(lambda err: _page(template, flow, text, order, err))
        old = sms.set_wording(s, name, flow, text, actor_id=current_user.row.id, now=db.engine().ctx.clock())
        audit("sms.save", "sms_template", f"{name}:{flow or '*'}", text=[old, text.strip()])
        s.commit()
        flash(gettext("模板“%(title)s”已保存，此后发送的短信使用新措辞。", title=template.title), "info")
        return redirect(url_for("admin.sms_edit", name=name, flow=flow, order=order))
    return _page(template, flow, text, order, None)


@bp.post("/sms/<name>/reset")
@roles_required("admin")
def sms_reset(name: str) -> Response:
    s = db.session()
    fail_to(url_for("admin.sms_index"))
    sms.get_template(name)
    flow = request.form.get("flow", "").strip()
    removed = sms.reset_wording(s, name, flow)
    if removed is not None:
        audit("sms.reset", "sms_template", f"{name}:{flow or '*'}", text=[removed, None])
        s.commit()
        flash(gettext("已恢复默认措辞。"), "info")
    return redirect(url_for("admin.sms_edit", name=name, flow=flow))


def _page(template: sms.SmsTemplate, flow: str, text: str, order: str,
          err: EomsError | None) -> tuple[str, int]:
    s, pe = db.session(), db.engine()
    errors = field_errors(err) if err is not None else {}
    if err is not None:
        flash(sentence(err) + field_list(errors, {"text": gettext("措辞")}), "error")
    preview, preview_error, params = None, None, {}
    if order:
        try:
            params = order_params(s, order, current_user.row)
            preview = replace(template, text=sms.check_wording(template, text)).render(params)
        except EomsError as problem:
            preview_error = explain(problem)
    shown = preview if preview is not None else text
    length, parts = sms.segments(shown)
    return render_template(
        "admin/sms_edit.html", template=template, flow=flow, text=text, order=order, errors=errors,
        preview=preview, preview_error=preview_error, length=length, parts=parts, params=sms.allowed_params(template),
        labels=PARAM_LABELS, flows={d.key: d.name for d in pe.repository.list_latest(s)},
        builtin=sms.TEMPLATES[template.name].text, recent=_recent_orders(s)), status_of(err) if err else 200


def order_params(session: Any, business_key: str, me: User) -> dict[str, str]:
    """The parameters a template would get for this work order now: its open step (or last step), deadline and
    handler, its customer; the administrator stands in for the urger."""
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
    if instance is None:
        raise NotFound(f"work order '{business_key}' does not exist")
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id)
                          .order_by(HumanTask.status != "ready", HumanTask.id.desc()).limit(1))
    assignee = session.get(User, task.assignee_id) if task is not None and task.assignee_id else None
    return {
        "business_key": instance.business_key, "step": task.node_name if task else "-",
        "due": task.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if task is not None and task.due_at else "-",
        "assignee": assignee.display_name if assignee else "未签收", "urger": me.display_name,
        "note": "", "summary": instance.customer or "", "from_step": task.node_name if task else "-",
        "reason": "资料不全", "customer": instance.customer or "客户", "hotline": "10000", "name": me.display_name,
    }


def _recent_orders(session: Any) -> list[str]:
    return list(session.scalars(select(ProcessInstance.business_key).order_by(ProcessInstance.id.desc()).limit(8)))
