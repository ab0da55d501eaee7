"""Server-side validation of submitted task data against a form-js schema. The browser is never trusted:
types, required fields, options, patterns, lengths, ranges and attachments are all checked here."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import Code, InvalidInput
from engine.forms.schema import Field, fields

SHANGHAI = ZoneInfo("Asia/Shanghai")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")

# code → (中文, English); {name} placeholders come from the problem's params
MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("必填", "required"),
    "unknown": ("不是本表单的字段", "not a field of this form"),
    "type_string": ("应为文本", "must be text"),
    "type_number": ("应为数字", "must be a number"),
    "type_integer": ("应为整数", "must be a whole number"),
    "type_boolean": ("应为是或否", "must be yes or no"),
    "type_list": ("应为列表", "must be a list"),
    "min_length": ("至少 {n} 个字符", "at least {n} characters"),
    "max_length": ("最多 {n} 个字符", "at most {n} characters"),
    "pattern": ("格式不正确", "does not have the required format"),
    "email": ("不是有效的电子邮箱", "is not an email address"),
    "phone": ("不是有效的电话号码", "is not a phone number"),
    "min": ("不能小于 {n}", "must be at least {n}"),
    "max": ("不能大于 {n}", "must be at most {n}"),
    "option": ("不是可选值之一", "is not one of the options"),
    "date": ("日期格式应为 YYYY-MM-DD", "must be a date like 2026-03-02"),
    "time": ("时间格式应为 HH:MM", "must be a time like 09:30"),
    "datetime": ("应为日期时间，如 2026-03-02T09:30", "must be a date and time like 2026-03-02T09:30"),
    "file": ("附件无效", "invalid attachment"),
    "file_id": ("附件编号无效：{value}", "not an attachment id: {value}"),
    "file_foreign": ("附件 {id} 不属于本工单", "attachment {id} does not belong to this work order"),
    "file_type": ("{name} 不是本栏可接受的类型（可接受：{allowed}）",
                  "{name} is not a type this field accepts ({allowed})"),
    "one_file": ("只能上传一个文件", "only one file is allowed"),
}


@dataclass(frozen=True)
class Problem:
    code: str
    params: tuple[tuple[str, Any], ...] = ()

    def text(self, lang: str = "en") -> str:
        zh, en = MESSAGES[self.code]
        return (zh if lang.startswith("zh") else en).format(**dict(self.params))


class FormInvalid(InvalidInput):
    """Submitted data broke the form's rules; ``problems`` maps field paths to :class:`Problem`."""

    def __init__(self, form_key: str, problems: dict[str, Problem]):
        self.form_key = form_key
        self.problems = problems
        listed = "; ".join(f"{k}: {p.text()}" for k, p in problems.items())
        super().__init__(f"form {form_key}: {listed}", {k: p.text() for k, p in problems.items()},
                         code=Code.FORM_INVALID,
                         details={"form": form_key,
                                  "problems": {k: {"code": p.code, **dict(p.params)} for k, p in problems.items()}})

    def localized(self, lang: str) -> dict[str, str]:
        return {k: p.text(lang) for k, p in self.problems.items()}


# checks an attachment id for a field; returns the problem when it is not acceptable
AttachmentCheck = Callable[[int, Field], "Problem | None"]


def validate_submission(form_key: str, schema: dict[str, Any], data: dict[str, Any],
                        check_attachment: AttachmentCheck | None = None) -> dict[str, Any]:
    """The cleaned data (declared fields only, converted to their types) or :class:`FormInvalid`."""
    problems: dict[str, Problem] = {}
    cleaned = _validate_level(schema.get("components") or [], data, "", problems, check_attachment)
    if problems:
        raise FormInvalid(form_key, problems)
    return cleaned


def _validate_level(components: list[dict[str, Any]], data: dict[str, Any], prefix: str,
                    problems: dict[str, Problem], check: AttachmentCheck | None) -> dict[str, Any]:
    declared = {f.key: f for f in fields(components)}
    for key in data:
        if key not in declared:
            problems[f"{prefix}{key}"] = Problem("unknown")
    cleaned: dict[str, Any] = {}
    for key, field in declared.items():
        path = f"{prefix}{key}"
        value = data.get(key)
        if _empty(value, field):
            if field.required:
                problems[path] = Problem("required")
            else:  # every declared field gets a value, so scripts and conditions may name optional ones
                cleaned[key] = False if field.type == "checkbox" else ([] if field.type in (
                    "checklist", "taglist", "filepicker", "dynamiclist") else None)
            continue
        if field.type == "dynamiclist":
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                problems[path] = Problem("type_list")
                continue
            inner = field.component.get("components") or []
            cleaned[key] = [_validate_level(inner, item, f"{path}[{i}].", problems, check)
                            for i, item in enumerate(value)]
            continue
        result = _convert(field, value, check)
        if result is False and field.type == "checkbox" and field.required:
            result = Problem("required")  # a required checkbox must be ticked
        if isinstance(result, Problem):
            problems[path] = result
        else:
            cleaned[key] = result
    return cleaned


def _empty(value: Any, field: Field) -> bool:
    return value is None or value == "" or (isinstance(value, list) and not value)


def _convert(field: Field, value: Any, check: AttachmentCheck | None) -> Any:
    rules = field.validate
    kind = field.type
    if kind in ("textfield", "textarea"):
        if not isinstance(value, str):
            return Problem("type_string")
        return _text_rules(value, rules)
    if kind == "number":
        return _number(value, field)
    if kind == "checkbox":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "on", "1", "yes"):
            return True
        if str(value).lower() in ("false", "off", "0", "no"):
            return False
        return Problem("type_boolean")
    if kind in ("select", "radio"):
        return _option(value, field)
    if kind in ("checklist", "taglist"):
        items = value if isinstance(value, list) else [value]
        results = [_option(v, field) for v in items]
        bad = next((r for r in results if isinstance(r, Problem)), None)
        return bad or results
    if kind == "datetime":
        return _datetime(value, field.component.get("subtype") or "datetime")
    if kind == "filepicker":
        return _files(value, field, check)
    return value


def _text_rules(value: str, rules: dict[str, Any]) -> Any:
    if rules.get("minLength") is not None and len(value) < int(rules["minLength"]):
        return Problem("min_length", (("n", rules["minLength"]),))
    if rules.get("maxLength") is not None and len(value) > int(rules["maxLength"]):
        return Problem("max_length", (("n", rules["maxLength"]),))
    if rules.get("pattern") and not re.fullmatch(rules["pattern"], value):
        return Problem("pattern")
    if rules.get("validationType") == "email" and not EMAIL.match(value):
        return Problem("email")
    if rules.get("validationType") == "phone" and not PHONE.match(value):
        return Problem("phone")
    return value


def _number(value: Any, field: Field) -> Any:
    if isinstance(value, bool):
        return Problem("type_number")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if any(c in value for c in ".eE") else int(value.strip())
        except ValueError:
            return Problem("type_number")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return Problem("type_number")
    if field.component.get("decimalDigits") == 0:
        if isinstance(value, float) and not value.is_integer():
            return Problem("type_integer")
        value = int(value)
    rules = field.validate
    if rules.get("min") is not None and value < rules["min"]:
        return Problem("min", (("n", rules["min"]),))
    if rules.get("max") is not None and value > rules["max"]:
        return Problem("max", (("n", rules["max"]),))
    return value


def _option(value: Any, field: Field) -> Any:
    options = field.options
    if options is None:  # options computed from data at run time: accept plain values only
        return value if isinstance(value, str | int | float) else Problem("option")
    if value in options:
        return value
    as_text = {str(o): o for o in options}
    return as_text.get(str(value), Problem("option"))


def _datetime(value: Any, subtype: str) -> Any:
    if not isinstance(value, str):
        return Problem(subtype if subtype in ("date", "time") else "datetime")
    text = value.strip()
    try:
        if subtype == "date":
            return date.fromisoformat(text).isoformat()
        if subtype == "time":
            return time.fromisoformat(text).strftime("%H:%M")
        moment = datetime.fromisoformat(text)
    except ValueError:
        return Problem(subtype if subtype in ("date", "time") else "datetime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.isoformat()


def _files(value: Any, field: Field, check: AttachmentCheck | None) -> Any:
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        try:
            ids.append(int(item))
        except (TypeError, ValueError):
            return Problem("file_id", (("value", str(item)[:40]),))
    if len(ids) > 1 and not field.component.get("multiple"):
        return Problem("one_file")
    if check is None:
        return Problem("file")  # attachments cannot be checked here (no task to check them against)
    for attachment_id in ids:
        problem = check(attachment_id, field)
        if problem is not None:
            return problem
    return ids
