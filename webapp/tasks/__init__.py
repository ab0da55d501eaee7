"""The task page: the work order's key facts, the step's form, attachments, the history, and the actions
this step allows (complete, claim, transfer, return, suspend/resume, annotate, urge, extension).

The form is rendered on the server (the page works without JavaScript) and, in the browser, shown with the
form-js viewer (``static/forms.js``), which posts its data as JSON in ``form_json`` with the same form (CSRF,
buttons, file inputs). Either way the engine validates the submission against the schema, field by field."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import Code, EomsError
from engine.identity.access import oversees
from engine.identity.models import Post
from engine.tasks.access import is_offered_to
from engine.tasks.models import HumanTask
from webapp import db
from webapp.auth import me
from webapp.business_data import business_data
from webapp.errors import fail_to
from webapp.formdata import (
    FORM_JSON,
    FormJsonError,
    add_attachment,
    file_accept,
    file_fields,
    parse_form,
    parse_form_json,
    viewer_data,
    viewer_schema,
)
from webapp.i18n import current_language, gettext
from webapp.messages import attachment_refused, explain, field_errors
from webapp.orders.views_data import instance_view
from webapp.tasks import drafts, picker, prefill
from webapp.tasks import extension as extension_dialog
from webapp.tasks.rework import rejections

bp = Blueprint("tasks", __name__, url_prefix="/tasks", template_folder="templates")
bp.register_blueprint(picker.bp)
bp.register_blueprint(extension_dialog.bp)
bp.register_blueprint(drafts.bp)


def upload_types(accept: object = None) -> list[str]:
    """The extensions a file input accepts: the types the server stores, narrowed by a field's ``accept``."""
    return db.engine().attachments.accepted(accept)


def upload_limit_mb() -> str:
    return f"{db.engine().attachments.policy.max_bytes / 1024 / 1024:g}"


# globals, so that the form macros (imported without the page's context) see them too
bp.record_once(lambda state: state.app.jinja_env.globals.update(upload_types=upload_types,
                                                                upload_limit_mb=upload_limit_mb))


def _row(task_id: int) -> HumanTask:
    """The task as the user may see it (a 404 when they may not)."""
    return db.engine().tasks.get(db.session(), task_id, me())


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
         status: int = 200) -> tuple[str, int]:
    s, pe, user = db.session(), db.engine(), me()
    row = _row(task_id)
    view = instance_view(s, row.instance_id)
    reasons = rejections(s, pe, view)
    schema = pe.runtime.task_form(s, row) if row.form_key else None
    draft, draft_at = drafts.restored(s, row) if values is None else (None, "")
    sent = values if values is not None else draft  # what was typed: sent back, or kept as a draft
    if values is None:
        values = row.data if row.status != "ready" else prefill.suggested(s, row, schema, pe.runtime.task_data(s, row))
        values = {**values, **draft} if draft else values
    offered, supervisor = is_offered_to(user, row), oversees(s, user, row.org_unit_id)
    post = s.get(Post, row.post_id) if row.post_id else None
    shown = viewer_schema(schema) if row.status == "ready" and offered and not row.suspended_at else None
    data = None
    if shown is not None:  # what the viewer starts from: the step's data, and what was sent when it came back
        forms = [pe.forms.schema(s, form_id) for form_id in (view.definition.forms or {}).values()]
        data = viewer_data([schema, *forms], pe.runtime.task_data(s, row) if sent is not None else values, sent)
    return render_template(
        "tasks/show.html", task=row, view=view, schema=schema, values=values or {}, errors=errors or {},
        now=pe.ctx.clock(), offered=offered, supervisor=supervisor, user=user,
        post_name=post.name if post else None, can_act=row.status == "ready" and (offered or supervisor),
        viewer_schema=shown, viewer_data=data, rejection=reasons.get(row.id),
        rejected={r.event_id: r.reason for r in reasons.values()}, draft_at=draft_at,
        business=business_data(s, pe, view.instance),
    ), status


@bp.post("/<int:task_id>/complete")
@login_required
def complete(task_id: int) -> Response | tuple[str, int]:
    s, pe, user = db.session(), db.engine(), me()
    row = _row(task_id)
    schema = pe.runtime.task_form(s, row) if row.form_key else None
    components = (schema or {}).get("components") or []
    raw = request.form.get(FORM_JSON)
    if raw is None:  # the server's HTML fields (no JavaScript)
        data = parse_form(components, request.form)
    else:  # the form-js viewer's data; its filepicker fields stay the server's (chosen attachments, uploads)
        try:
            data = parse_form_json(components, raw)
        except FormJsonError as err:
            flash(gettext("表单有误，请按提示修改后再提交。"), "error")
            return show(task_id, errors={FORM_JSON: err.text(current_language())}, status=422)
        for key in file_fields(components):
            if key not in data:
                data[key] = request.form.getlist(key)
    for key in file_fields(components):  # new uploads first, kept even if the form is sent back
        for upload in request.files.getlist(f"{key}__upload"):
            if upload and upload.filename:
                fail_to(partial(_upload_refused, task_id, data, upload.filename))
                attachment = pe.tasks.upload(s, task_id, user, filename=upload.filename, data=upload.read(),
                                             accept=file_accept(components, key))
                s.commit()
                add_attachment(data, key, attachment.id)
    fail_to(partial(_sent_back, task_id, data))
    created = pe.tasks.complete(s, task_id, user, data)
    drafts.drop_all(s, task_id)
    s.commit()
    names = "、".join(f"{t.node_name}" for t in created)
    done = gettext("已提交：%(step)s。", step=row.node_name)
    gap = "" if current_language() == "zh_CN" else " "
    flash(done + (gap + gettext("下一环节：%(next)s。", next=names) if names else ""), "info")
    return redirect(url_for("portal.home"))


@bp.post("/<int:task_id>/attachments")
@login_required
def attach(task_id: int) -> Response:
    """Files added to the task outside its form (photos from site, a customer's letter): each checked like a
    form's upload; the ones stored before a refused one are kept."""
    s, pe, user = db.session(), db.engine(), me()
    files = [f for f in request.files.getlist("files") if f and f.filename]
    back = url_for("tasks.show", task_id=task_id) + "#attach-form"
    if not files:
        flash(gettext("请选择要上传的文件。"), "error")
        return redirect(back)
    stored = []
    for upload in files:
        fail_to(partial(_attach_refused, back, upload.filename, stored))
        stored.append(pe.tasks.upload(s, task_id, user, filename=upload.filename, data=upload.read()).filename)
        s.commit()
    flash(gettext("已上传：%(names)s", names="、".join(stored)), "info")
    return redirect(back)


def _attach_refused(back: str, filename: str, stored: list[str], err: EomsError) -> Response:
    if stored:
        flash(gettext("已上传：%(names)s", names="、".join(stored)), "info")
    flash(attachment_refused(err, filename), "error")
    return redirect(back)


def _upload_refused(task_id: int, data: dict[str, Any], filename: str, err: EomsError) -> tuple[str, int]:
    """The task page again with what was typed and the uploads kept so far, and why this file was refused."""
    flash(attachment_refused(err, filename), "error")
    return show(task_id, values=data)


def _sent_back(task_id: int, data: dict[str, Any], err: EomsError) -> Response | tuple[str, int]:
    """A form with errors comes back with every value and upload and each error beside its field; any other
    refusal goes back to the task page with the explanation."""
    if str(err.code) == Code.FORM_INVALID:
        flash(gettext("表单有误，请按提示修改后再提交。"), "error")
        return show(task_id, values=data, errors=field_errors(err), status=422)
    flash(explain(err), "error")
    return redirect(url_for("tasks.show", task_id=task_id))


def _act(task_id: int, action: str, **kwargs: Any) -> Response:
    s, pe, user = db.session(), db.engine(), me()
    fail_to(url_for("tasks.show", task_id=task_id))
    result = getattr(pe.tasks, action)(s, task_id, user, **kwargs)
    s.commit()
    flash(ACTION_DONE[action](), "info")
    if action == "return_to_previous" and isinstance(result, HumanTask):
        return redirect(url_for("portal.home"))
    if action != "transfer":
        return redirect(url_for("tasks.show", task_id=task_id))
    if user.role in ("supervisor", "admin"):  # a supervisor re-dispatching goes back to the work order he watches
        row = s.get(HumanTask, task_id)
        if row is not None:
            return redirect(url_for("supervisor.instance", instance_id=row.instance_id))
    return redirect(url_for("portal.home"))


ACTION_DONE = {
    "claim": lambda: gettext("已签收。"), "unclaim": lambda: gettext("已退回岗位待签收。"),
    "transfer": lambda: gettext("已转派。"), "return_to_previous": lambda: gettext("已退回上一环节。"),
    "suspend": lambda: gettext("已挂起，时限暂停计算。"), "resume": lambda: gettext("已恢复，时限顺延。"),
    "annotate": lambda: gettext("批注已添加。"), "urge": lambda: gettext("已催办，短信已发出。"),
    "request_extension": lambda: gettext("延期申请已提交主管。"), "grant_extension": lambda: gettext("时限已延长。"),
}


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    return _act(task_id, "claim")


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    return _act(task_id, "unclaim")


@bp.post("/<int:task_id>/transfer")
@login_required
def transfer(task_id: int) -> Response:
    return _act(task_id, "transfer", reason=request.form.get("reason", ""), **picker.transfer_target(request.form))


@bp.post("/<int:task_id>/return")
@login_required
def return_task(task_id: int) -> Response:
    return _act(task_id, "return_to_previous", reason=request.form.get("reason", ""))


@bp.post("/<int:task_id>/suspend")
@login_required
def suspend(task_id: int) -> Response:
    return _act(task_id, "suspend", reason=request.form.get("reason", ""))


@bp.post("/<int:task_id>/resume")
@login_required
def resume(task_id: int) -> Response:
    return _act(task_id, "resume", reason=request.form.get("reason", ""))


@bp.post("/<int:task_id>/annotate")
@login_required
def annotate(task_id: int) -> Response:
    return _act(task_id, "annotate", text=request.form.get("text", ""))


@bp.post("/<int:task_id>/urge")
@login_required
def urge(task_id: int) -> Response:
    return _act(task_id, "urge", note=request.form.get("note", ""))


@bp.post("/<int:task_id>/extension")
@login_required
def extension(task_id: int) -> Response:
    action = "grant_extension" if request.form.get("grant") else "request_extension"
    return _act(task_id, action, **extension_dialog.extension_request(request.form))
