"""SMS templates (Chinese), each with the named parameters it needs."""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from handlers.sms.models import SmsOptOut, SmsTemplateText


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    title: str
    text: str
    optional: frozenset[str] = frozenset()

    @property
    def params(self) -> list[str]:
        return placeholders(self.text)

    def render(self, params: dict[str, object]) -> str:
        """The message with every parameter filled; a missing parameter is an error, not a blank."""
        missing = [p for p in self.params if params.get(p) in (None, "") and p not in self.optional]
        if missing:
            raise InvalidInput(f"SMS template '{self.name}' needs {', '.join(missing)}",
                               {p: "required" for p in missing})
        return self.text.format_map({p: str(params.get(p) or "") for p in self.params})


TEMPLATES: dict[str, SmsTemplate] = {
    t.name: t
    for t in (
        SmsTemplate("dispatch", "派单通知",
                    "【EOMS】新工单{business_key}已派至您的岗位，环节：{step}，请尽快处理。{summary}",
                    optional=frozenset({"summary"})),
        SmsTemplate("warning", "到达限时预警",
                    "【EOMS】预警：工单{business_key}的“{step}”环节将于{due}到期，请尽快处理。"),
        SmsTemplate("overdue", "超时通知",
                    "【EOMS】超时：工单{business_key}的“{step}”环节已于{due}超时，请立即处理。"),
        SmsTemplate("escalation", "超时升级",
                    "【EOMS】超时升级：工单{business_key}的“{step}”环节已于{due}超时，当前处理人：{assignee}。"),
        SmsTemplate("urge", "催办",
                    "【EOMS】催办：{urger}催办工单{business_key}的“{step}”环节，请尽快处理。{note}",
                    optional=frozenset({"note"})),
        SmsTemplate("rework", "退回通知",
                    "【EOMS】退回：工单{business_key}被“{from_step}”环节（{urger}）退回至“{step}”，原因：{reason}。请尽快处理。"),
        SmsTemplate("completion", "完成回访",
                    "【EOMS】尊敬的{customer}：您的工单{business_key}已处理完成。如有疑问请致电{hotline}。"),
    )
}


def get_template(name: str) -> SmsTemplate:
    template = TEMPLATES.get(name)
    if template is None:
        raise InvalidInput(f"no SMS template named '{name}' (known: {', '.join(sorted(TEMPLATES))})",
                           {"template": "unknown"})
    return template


# the SMS a person may choose not to receive (deadline, overdue and escalation notices always go out)
OPTIONAL = ("dispatch", "warning", "urge", "rework")

# what every template may use beside its own parameters: the recipient's name
COMMON_PARAMS = ("name",)
MAX_TEXT = 500
# one SMS carries 70 characters of Chinese (UCS-2) or 160 of plain ASCII; longer ones are sent in parts of 67 / 153
SEGMENT = {"ucs2": (70, 67), "gsm": (160, 153)}


def placeholders(text: str) -> list[str]:
    """The ``{name}`` parameters a text uses; raises ValueError for a text ``str.format`` cannot read."""
    return sorted({field for _, field, _, _ in string.Formatter().parse(text) if field})


def allowed_params(template: SmsTemplate) -> list[str]:
    """The parameters an administrator's wording of ``template`` may use."""
    return sorted(set(template.params) | set(template.optional) | set(COMMON_PARAMS))


def check_wording(template: SmsTemplate, text: str) -> str:
    """An administrator's wording, checked: not empty, not too long, only the template's parameters, each
    written ``{name}`` (no format specs, indexes or attributes)."""
    text = text.strip()
    if not text:
        raise InvalidInput("the SMS text is empty", {"text": "required"})
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the SMS text has more than {MAX_TEXT} characters", {"text": "too long"})
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as err:
        raise InvalidInput(f"the SMS text has a broken {{…}}: {err}", {"text": "invalid"}) from None
    allowed = set(allowed_params(template))
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise InvalidInput(f"'{{{field}}}' is not a plain parameter like {{business_key}}", {"text": "invalid"})
        if field not in allowed:
            raise InvalidInput(f"template '{template.name}' has no parameter '{field}' (it has "
                               f"{', '.join(sorted(allowed))})", {"text": "unknown parameter"})
    return text


def wording(session: Session, name: str, process_key: str | None) -> SmsTemplate:
    """The template as it is sent for a work order of ``process_key``: the flow's own wording, else the wording
    for every flow, else the built-in one."""
    template = get_template(name)
    rows = {r.process_key: r.text for r in session.scalars(
        select(SmsTemplateText).where(SmsTemplateText.template == name,
                                      SmsTemplateText.process_key.in_(["", process_key or ""])))}
    text = rows.get(process_key or "") or rows.get("")
    return replace(template, text=text) if text else template


def set_wording(session: Session, name: str, process_key: str, text: str, *, actor_id: int | None,
                now: datetime) -> str | None:
    """Store an administrator's wording (for every flow when ``process_key`` is ""); returns the old one."""
    template = get_template(name)
    text = check_wording(template, text)
    row = session.scalar(select(SmsTemplateText).where(SmsTemplateText.template == name,
                                                       SmsTemplateText.process_key == process_key))
    old = row.text if row else None
    row = row or SmsTemplateText(template=name, process_key=process_key)
    row.text, row.updated_at, row.updated_by_id = text, now, actor_id
    session.add(row)
    session.flush()
    return old


def reset_wording(session: Session, name: str, process_key: str) -> str | None:
    """Back to the built-in wording (or the every-flow one); returns the wording removed."""
    row = session.scalar(select(SmsTemplateText).where(SmsTemplateText.template == name,
                                                       SmsTemplateText.process_key == process_key))
    if row is None:
        return None
    session.delete(row)
    session.flush()
    return row.text


def wordings(session: Session) -> list[SmsTemplateText]:
    return list(session.scalars(select(SmsTemplateText).order_by(SmsTemplateText.template,
                                                                 SmsTemplateText.process_key)))


def segments(text: str) -> tuple[int, int]:
    """(characters, SMS parts) of a message: Chinese text counts 70 per SMS, plain ASCII 160."""
    per_one, per_part = SEGMENT["gsm" if text.isascii() else "ucs2"]
    length = len(text)
    return length, (1 if length <= per_one else -(-length // per_part))


def muted(session: Session, user_id: int) -> set[str]:
    """The optional SMS kinds the user chose not to receive."""
    return set(session.scalars(select(SmsOptOut.template).where(SmsOptOut.user_id == user_id)))


def set_muted(session: Session, user_id: int, templates: set[str]) -> None:
    """Receive every optional SMS kind but ``templates``; kinds that are not optional are refused."""
    unknown = sorted(templates - set(OPTIONAL))
    if unknown:
        raise InvalidInput(f"SMS kind(s) {', '.join(unknown)} cannot be turned off", {"sms": "not optional"})
    now = muted(session, user_id)
    for name in now - templates:
        row = session.get(SmsOptOut, (user_id, name))
        if row is not None:
            session.delete(row)
    session.add_all(SmsOptOut(user_id=user_id, template=name) for name in templates - now)
    session.flush()
