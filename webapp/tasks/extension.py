"""延期 dialog: extend by hours/days or to a chosen deadline, previewed on the step's working calendar.

The dialog (``templates/tasks/_extension.html``, ``static/extension.js``) sends ``mode`` (``by``/``until``),
``amount`` with ``unit`` (``hours``/``days``) or ``until`` (a local ``datetime-local`` value) and ``reason``;
:func:`extension_request` turns them into the engine's ``by``/``until`` — a post with only ``by`` (an ISO
duration) goes to the engine as it is. A bad value is refused here, before anything changes, with a Chinese
sentence naming the field: the task page comes back (422) with the dialog open and what was typed kept.
``GET /tasks/<id>/extension/preview`` answers the new deadline as JSON while the user types."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NoReturn

from babel.dates import format_datetime
from flask import Blueprint, abort, current_app, flash, g, jsonify, make_response, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine.errors import Code, EomsError
from engine.sla.calendar import SHANGHAI
from engine.sla.extension import MAX_EXTENSION_DAYS, ExtensionPlan, parse_until
from engine.tasks.access import MAX_TEXT
from webapp import db
from webapp.auth import me
from webapp.errors import status_of
from webapp.i18n import current_language, duration_text, gettext
from webapp.messages import explain

bp = Blueprint("extension", __name__)

UNITS = {"hours": ("PT", "H"), "days": ("P", "D")}
MAX_AMOUNT = {"hours": MAX_EXTENSION_DAYS * 24, "days": MAX_EXTENSION_DAYS}
FORMATS = {"zh_CN": ("M月d日 HH:mm (EEE)", "y年M月d日 HH:mm (EEE)"), "en": ("EEE d MMM HH:mm", "EEE d MMM y HH:mm")}
ENGINE_FIELDS = {"by": "amount"}  # the engine's name of a field → the dialog's


def messages() -> dict[str, str]:
    """What the dialog says about a bad value, in the page's language (the browser shows the same texts)."""
    return {
        "amount_required": gettext("请填写延长时长。"),
        "amount_integer": gettext("延长时长须为整数，如 2。"),
        "amount_positive": gettext("延长时长须大于 0。"),
        "amount_max_hours": gettext("延长时长最多 %(n)s 小时。", n=MAX_AMOUNT["hours"]),
        "amount_max_days": gettext("延长时长最多 %(n)s 天。", n=MAX_AMOUNT["days"]),
        "unit": gettext("请选择小时或天。"),
        "until_required": gettext("请选择新时限。"),
        "until_format": gettext("新时限格式不正确，请选择日期和时间。"),
        "reason_required": gettext("请填写延期原因。"),
        "reason_long": gettext("延期原因最多 %(n)s 字。", n=MAX_TEXT),
        "pending": gettext("正在计算新时限…"),
        "failed": gettext("暂时无法预览新时限，提交后由系统计算。"),
    }


class Refused(Exception):
    """A value of the dialog that cannot be sent on: the field and why, in the page's language."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Typed:
    """The dialog's fields as typed."""

    mode: str = "by"
    amount: str = ""
    unit: str = "hours"
    until: str = ""
    reason: str = ""

    @classmethod
    def of(cls, form: MultiDict[str, str]) -> Typed:
        until, amount = form.get("until", "").strip(), form.get("amount", "").strip()
        mode = form.get("mode") or ("until" if until and not amount else "by")
        return cls(mode="until" if mode == "until" else "by", amount=amount, unit=form.get("unit", "hours"),
                   until=until, reason=form.get("reason", "").strip())

    def arguments(self) -> dict[str, Any]:
        """The engine's ``by`` (an ISO duration) or ``until`` (an aware datetime); :class:`Refused` otherwise."""
        said = messages()
        if self.mode == "until":
            if not self.until:
                raise Refused("until", said["until_required"])
            try:
                return {"until": parse_until(unicodedata.normalize("NFKC", self.until))}
            except EomsError:
                raise Refused("until", said["until_format"]) from None
        if self.unit not in UNITS:
            raise Refused("unit", said["unit"])
        amount = unicodedata.normalize("NFKC", self.amount).strip()
        if not amount:
            raise Refused("amount", said["amount_required"])
        if not amount.lstrip("+-").isdigit():
            raise Refused("amount", said["amount_integer"])
        number = int(amount)
        if number <= 0:
            raise Refused("amount", said["amount_positive"])
        if number > MAX_AMOUNT[self.unit]:
            raise Refused("amount", said[f"amount_max_{self.unit}"])
        prefix, suffix = UNITS[self.unit]
        return {"by": f"{prefix}{number}{suffix}"}

    def checked_reason(self) -> str:
        if not self.reason:
            raise Refused("reason", messages()["reason_required"])
        if len(self.reason) > MAX_TEXT:
            raise Refused("reason", messages()["reason_long"])
        return self.reason


def deadline_text(moment: datetime | None) -> str:
    """``12月3日 18:00 (周四)`` in Beijing time (with the year when it is not this year)."""
    if moment is None:
        return "—"
    short, long = FORMATS.get(current_language(), FORMATS["en"])
    this_year = db.engine().ctx.clock().astimezone(SHANGHAI).year
    pattern = short if moment.astimezone(SHANGHAI).year == this_year else long
    return format_datetime(moment, pattern, tzinfo=SHANGHAI, locale=current_language())


def calendar_note(working: bool) -> str:
    """How the calendar counts an extension."""
    return gettext("按工作时间计算，跳过周末和节假日") if working else gettext("按自然时间连续计算")


def refusal(err: EomsError) -> Refused | None:
    """The dialog's sentence for an engine refusal of the value asked for (``None``: not about a value)."""
    fields = err.details.get("fields") or {}
    if str(err.code) != Code.INPUT_INVALID or len(fields) != 1:
        return None
    ((name, problem),) = fields.items()
    field = ENGINE_FIELDS.get(name, name)
    if problem == "not after the deadline":
        due = parse_until(str(err.details.get("due_at")))
        return Refused(field, gettext("新时限须晚于当前时限（%(due)s）。", due=deadline_text(due)))
    if problem == "in the past":
        return Refused(field, gettext("新时限须晚于现在。"))
    if problem == "too large":
        latest = deadline_text(parse_until(str(err.details.get("latest"))))
        working = err.details.get("calendar", "24x7") != "24x7"
        text = (gettext("延期最多 %(n)s 个工作日，新时限最晚为 %(latest)s。", n=MAX_EXTENSION_DAYS, latest=latest)
                if working else gettext("延期最多 %(n)s 天，新时限最晚为 %(latest)s。", n=MAX_EXTENSION_DAYS,
                                        latest=latest))
        return Refused(field, text)
    if name == "reason":
        return Refused(field, messages()["reason_required" if problem == "required" else "reason_long"])
    return None


def plan_json(plan: ExtensionPlan) -> dict[str, Any]:
    """The preview as the dialog shows it."""
    added = duration_text(plan.added.total_seconds())
    answer: dict[str, Any] = {
        "due_at_local": deadline_text(plan.due_at), "iso": plan.due_at.isoformat(),
        "input": plan.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
        "current_local": deadline_text(plan.current), "current_iso": plan.current.isoformat(),
        "working": plan.working, "calendar": plan.calendar, "note": calendar_note(plan.working),
        "added": gettext("增加工作时间 %(t)s", t=added) if plan.working else gettext("延长 %(t)s", t=added),
        "asked": plan.asked.payload(),
    }
    if plan.working and not plan.in_working_time:
        answer["warning"] = gettext("新时限不在工作时间内，超时按该时刻判断。")
    if plan.problem:
        answer["warning"] = gettext("该年份的节假日尚未维护，暂按周一至周五计算。")
    return answer


def _error_json(code: str, refused: Refused | None, message: str, status: int,
                fields: dict[str, Any] | None = None) -> tuple[Response, int]:
    body = {"code": code, "message": refused.message if refused else message,
            "field": refused.field if refused else None, "fields": fields or {}}
    return jsonify(body), status


@bp.get("/<int:task_id>/extension/preview")
@login_required
def preview(task_id: int) -> tuple[Response, int] | Response:
    """The new deadline for ``?amount=4&unit=hours|days`` or ``?until=2026-12-03T18:00`` (JSON); errors as JSON
    with the code, the field and a sentence in the page's language."""
    typed = Typed.of(request.args)
    try:
        plan = db.engine().tasks.preview_extension(db.session(), task_id, me(), **typed.arguments())
    except Refused as refused:
        return _error_json(Code.INPUT_INVALID, refused, refused.message, 422, {refused.field: "invalid"})
    except EomsError as err:
        return _error_json(str(err.code), refusal(err), explain(err), status_of(err), err.details.get("fields"))
    return jsonify(plan_json(plan))


def extension_request(form: MultiDict[str, str]) -> dict[str, Any]:
    """The extension's keyword arguments (``by`` or ``until``, and ``reason``) from the submitted form. A bad
    value ends the request here: the task page again (422), the dialog open with what was typed and why."""
    if "by" in form and not {"mode", "amount", "until"} & set(form):  # the ISO contract: the engine checks it
        return {"by": form.get("by", ""), "reason": form.get("reason", "")}
    task_id = int((request.view_args or {})["task_id"])
    typed = Typed.of(form)
    try:
        arguments = typed.arguments()
        reason = typed.checked_reason()
    except Refused as refused:
        _send_back(task_id, typed, refused)
    try:  # the engine's own checks (later than the deadline, not too far) before anything is written
        db.engine().tasks.preview_extension(db.session(), task_id, me(), **arguments)
    except EomsError as err:
        refused = refusal(err)
        if refused is not None:
            _send_back(task_id, typed, refused)
        # anything else (who may, the task's state) the action itself meets and answers as usual
    return {**arguments, "reason": reason}


def _send_back(task_id: int, typed: Typed, refused: Refused) -> NoReturn:
    flash(refused.message, "error")
    g.extension_kept = {"task": task_id, **asdict(typed), "field": refused.field, "message": refused.message}
    html, _status = current_app.view_functions["tasks.show"](task_id=task_id)
    abort(make_response(html, 422))


@bp.app_template_global()
def extension_kept(task_id: int) -> dict[str, Any] | None:
    """What was typed into the dialog of task ``task_id`` when it came back refused (``None`` otherwise)."""
    kept = g.get("extension_kept")
    return kept if kept and kept.get("task") == task_id else None


@bp.app_template_global()
def extension_dialog(task_id: int, due_at: datetime | None, calendar: str | None) -> dict[str, Any]:
    """What the dialog shows before anything is typed: the current deadline, how it is counted, the limits,
    the preview's address and the texts the browser shows."""
    working = (calendar or "24x7") != "24x7"
    return {"current": deadline_text(due_at), "note": calendar_note(working), "working": working,
            "min": due_at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if due_at else "",
            "max_hours": MAX_AMOUNT["hours"], "max_days": MAX_AMOUNT["days"], "messages": messages()}
