"""SMS templates (Chinese), each with the named parameters it needs."""

from __future__ import annotations

import string
from dataclasses import dataclass

from engine.errors import InvalidInput


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    title: str
    text: str
    optional: frozenset[str] = frozenset()

    @property
    def params(self) -> list[str]:
        return sorted({field for _, field, _, _ in string.Formatter().parse(self.text) if field})

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
