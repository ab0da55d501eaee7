"""Engine errors as sentences for the pages, chosen by the error's ``code`` and its structured ``details``
(never by the English text, which is for logs; English pages add it in brackets)."""

from __future__ import annotations

from typing import Any

from engine.errors import Code, EomsError
from engine.forms.validation import MESSAGES as FORM_MESSAGES
from engine.forms.validation import Problem
from webapp.i18n import current_language, gettext, lazy_gettext

# a task in one of these states was handled already: a second submit is a duplicate, not a failure
DONE_STATUSES = frozenset({"completed", "returned", "cancelled", "transferred"})

NOT_ALLOWED = lazy_gettext("您无权执行此操作。")
NOT_NOW = lazy_gettext("当前状态不允许此操作。")
BAD_INPUT = lazy_gettext("输入有误，请检查后重试。")

SENTENCES: dict[str, Any] = {
    Code.ERROR: lazy_gettext("操作失败。"),
    Code.NOT_FOUND: lazy_gettext("记录不存在，或您无权查看。"),
    Code.NOT_ALLOWED: NOT_ALLOWED,
    Code.INPUT_INVALID: BAD_INPUT,
    Code.CONFLICT: lazy_gettext("该工单或任务刚被他人处理或修改，您的操作未保存，请刷新后重试。"),
    Code.INVALID_STATE: NOT_NOW,
    Code.TASK_NOT_OFFERED: NOT_ALLOWED,
    Code.TASK_CLAIMED_BY_OTHER: lazy_gettext("该任务已由他人签收，您不能处理；如需接手，请联系主管改派。"),
    Code.TASK_ACTION_NOT_ALLOWED: NOT_ALLOWED,
    Code.TASK_NOT_READY: NOT_NOW,
    Code.TASK_SUSPENDED: lazy_gettext("该任务已挂起，请先恢复。"),
    Code.TASK_NOT_SUSPENDED: lazy_gettext("该任务未挂起，无需恢复。"),
    Code.TASK_NO_DEADLINE: lazy_gettext("该任务没有时限，无需延期。"),
    Code.TASK_NO_EARLIER_STEP: lazy_gettext("该任务没有可退回的上一环节。"),
    Code.TRANSFER_TARGET: lazy_gettext("转派对象无效，请选择一名人员或一个岗位。"),
    Code.INSTANCE_NOT_RUNNING: lazy_gettext("该工单已结束或已撤销，不能再操作。"),
    Code.MESSAGE_NOT_WAITING: lazy_gettext("该工单当前不在等待此消息。"),
    Code.INCIDENT_CLOSED: lazy_gettext("该异常已处理，无需重试。"),
    Code.JOB_NOT_RETRYABLE: lazy_gettext("该作业当前不能重试。"),
    Code.BPMN_INVALID: lazy_gettext("流程文件未通过校验。"),
    Code.FORM_INVALID: lazy_gettext("表单有误，请按提示修改后再提交。"),
    Code.FORM_NOT_DEPLOYED: lazy_gettext("该环节的表单未随流程部署，请联系管理员。"),
    Code.ATTACHMENT_REJECTED: lazy_gettext("附件未能上传。"),
    Code.HANDLER_FAILED: lazy_gettext("后台处理失败，已登记为异常。"),
    Code.SCRIPT_FAILED: lazy_gettext("流程脚本执行失败，已登记为异常。"),
    Code.CALENDAR_NOT_COVERED: lazy_gettext("工作日历未覆盖该年份，请管理员先维护日历。"),
    Code.CONFIGURATION: lazy_gettext("系统配置有误，请联系管理员。"),
    Code.STATE_CORRUPT: lazy_gettext("工单的流程状态无法读取，请联系管理员。"),
    Code.ENGINE_FAILED: lazy_gettext("流程引擎无法执行该操作，请联系管理员检查流程。"),
}

# what the engine says is wrong with a field (``details["fields"]`` values), for Chinese pages (English pages
# show the engine's own words)
FIELD_PROBLEMS: dict[str, str] = {
    "required": "必填",
    "too long": "内容太长",
    "too large": "太大",
    "unknown": "无效",
    "unknown role": "无效",
    "invalid": "无效",
    "out of range": "超出范围",
    "already exists": "已存在",
    "already used": "已被其他工单使用",
    "reserved name": "名称不可用",
    "not an object": "格式不正确",
    "not JSON": "格式不正确",
    "choose one": "请在人员和岗位中选择一个",
    "needs to_post": "只适用于转派到岗位",
    "same person": "已是您本人的任务",
    "not a duration": "不是有效的时长（如 PT2H、P1D）",
    "no name": "没有文件名",
    "type not allowed": "不接受此类型的文件",
    "empty": "文件是空的",
    "content does not match type": "文件内容与扩展名不符",
    "not allowed": "不在可转派范围内",
    "not after the deadline": "须晚于当前时限",
    "in the past": "须晚于现在",
    "not a date and time": "不是有效的日期时间",
    "one of by, until": "延长时长和新时限只能选一项",
    "weak": "至少 8 位，须同时包含字母和数字，且不能与用户名相同",
    "differs": "两次输入不一致",
    "own role": "不能取消自己的管理员角色",
    "own account": "不能停用自己的账号",
    "inside the unit": "不能移到自身或其下级单位之下",
    "unchanged": "已在该上级单位之下",
    "unknown parameter": "含有模板没有的参数",
    "too many": "数量太多",
    "bad range": "不是有效的范围",
    "bad network": "不是有效的网段",
    "bad vlan": "不是 1–4094 之间的 VLAN 号",
    "bad ip": "不是有效的 IP 地址",
    "not xlsx": "不是 Excel（.xlsx）文件",
    "missing columns": "第一行须有列名：区域、类型、值",
    "bad row": "须填写区域、类型（端口 / vlan / ip）和值",
    "unknown region": "区域不是已有的单位编码",
    "wrong password": "当前密码不正确",
    "not optional": "不能关闭",
    "same as old": "不能与当前密码相同",
    "not after the start": "须晚于生效时间",
}

# the same for English pages, where the engine's word is not already the sentence part
FIELD_PROBLEMS_EN: dict[str, str] = {
    "unknown role": "unknown", "not an object": "wrong format", "not JSON": "wrong format",
    "choose one": "choose either a person or a post", "needs to_post": "applies only to a transfer to a post",
    "same person": "the task is already yours", "not a duration": "not a duration (e.g. PT2H, P1D)",
    "no name": "the file has no name", "type not allowed": "this type of file is not accepted",
    "empty": "the file is empty", "content does not match type": "the content does not match the file's type",
    "not allowed": "outside the people and posts this task may go to",
    "not after the deadline": "must be later than the current deadline", "in the past": "must be in the future",
    "not a date and time": "not a date and time", "one of by, until": "give either an extension or a new deadline",
    "weak": "at least 8 characters with letters and digits, not the username", "differs": "the two entries differ",
    "own role": "you cannot take away your own admin role", "own account": "you cannot disable your own account",
    "inside the unit": "cannot move under itself or a unit below it", "unchanged": "already under that unit",
    "unknown parameter": "uses a parameter the template does not have", "too many": "too many",
    "bad range": "not a valid range", "bad network": "not a valid network", "bad vlan": "not a VLAN from 1 to 4094",
    "bad ip": "not an IP address", "not xlsx": "not an Excel (.xlsx) file",
    "missing columns": "the first row must name the columns 区域, 类型, 值",
    "bad row": "needs a region, a kind (port / vlan / ip) and a value",
    "unknown region": "the region is not an org unit code", "wrong password": "the current password is wrong",
    "not optional": "cannot be turned off", "same as old": "must differ from the current one",
    "not after the start": "must be later than the start",
}

NAMED_TARGETS = frozenset({"to_user", "to_post", "to_org"})  # an "unknown" one names nobody that exists
MISSING = "不存在"
MISSING_EN = "does not exist"

# how Chinese pages name the fields engine services check
FIELD_LABELS: dict[str, str] = {
    "reason": "原因", "text": "批注内容", "note": "说明", "by": "延长时限", "business_key": "工单号",
    "status": "状态", "sort": "排序", "page": "页码", "scope": "范围", "to": "转派对象", "to_user": "转派人员",
    "to_post": "转派岗位", "to_org": "转派单位", "file": "附件", "body": "内容", "title": "标题", "panel": "面板",
    "data": "数据", "org": "单位", "until": "新时限", "amount": "延长时长", "unit": "时长单位",
    "username": "用户名", "name": "名称", "password": "密码", "password2": "再次输入的密码", "phone": "手机号",
    "role": "角色", "code": "编码", "parent": "上级单位", "region": "区域", "service_type": "业务类型",
    "post": "岗位", "org_unit": "单位", "calendar": "日历", "windows": "工作时段", "day": "日期", "year": "年份",
    "kind": "类型", "value": "值", "values": "值", "template": "模板", "active": "账号状态",
    "current": "当前密码", "language": "语言", "sms": "短信", "audience": "发布对象", "units": "单位", "posts": "岗位",
    "valid_until": "失效时间", "project": "所属项目",
}
FIELD_LABELS_EN: dict[str, str] = {
    "reason": "Reason", "text": "Note", "note": "Note", "by": "Extension", "business_key": "Work order number",
    "status": "Status", "sort": "Sort", "page": "Page", "scope": "Scope", "to": "Transfer to", "to_user": "Person",
    "to_post": "Post", "to_org": "Org unit", "file": "File", "body": "Text", "title": "Title", "panel": "Panel",
    "data": "Data", "org": "Org unit", "until": "New deadline", "amount": "Extension", "unit": "Unit of time",
    "username": "Username", "name": "Name", "password": "Password", "password2": "Password again", "phone": "Phone",
    "role": "Role", "code": "Code", "parent": "Parent unit", "region": "Region", "service_type": "Service type",
    "post": "Post", "org_unit": "Org unit", "calendar": "Calendar", "windows": "Work windows", "day": "Date",
    "year": "Year", "kind": "Kind", "value": "Value", "values": "Values", "template": "Template",
    "active": "Account status", "current": "Current password", "language": "Language", "sms": "SMS",
    "audience": "Audience", "units": "Units", "posts": "Posts", "valid_until": "Valid until", "project": "Project",
}


def chinese() -> bool:
    return current_language() == "zh_CN"


def sentence(err: EomsError) -> str:
    """The sentence for the error's code (and, for a task that is not ready, the status it met)."""
    code = str(err.code)
    if code == Code.TASK_NOT_READY and err.details.get("status") in DONE_STATUSES:
        return gettext("该任务已处理完毕（可能是重复提交），无需再次操作。")
    return str(SENTENCES.get(code, SENTENCES[Code.ERROR]))


def field_errors(err: EomsError) -> dict[str, str]:
    """Field → what is wrong with it, in the page's language: form problems from ``details["problems"]``,
    other field errors from ``details["fields"]``."""
    lang = current_language()
    problems = err.details.get("problems")
    if isinstance(problems, dict) and problems:
        return {path: _problem_text(problem, lang) for path, problem in problems.items()}
    found = err.details.get("fields")
    if not isinstance(found, dict):
        return {}
    if not chinese():
        return {str(k): MISSING_EN if str(v) == "unknown" and k in NAMED_TARGETS
                else FIELD_PROBLEMS_EN.get(str(v), str(v) if str(v) in FIELD_PROBLEMS else "invalid")
                for k, v in found.items()}
    return {str(k): MISSING if str(v) == "unknown" and k in NAMED_TARGETS
            else FIELD_PROBLEMS.get(str(v), FIELD_PROBLEMS["invalid"]) for k, v in found.items()}


def _problem_text(problem: Any, lang: str) -> str:
    if isinstance(problem, dict) and problem.get("code") in FORM_MESSAGES:
        params = tuple((k, v) for k, v in problem.items() if k != "code")
        try:
            return Problem(problem["code"], params).text(lang)
        except (KeyError, IndexError, ValueError):
            pass
    return FIELD_PROBLEMS["invalid"] if lang == "zh_CN" else "invalid"


def field_list(errors: dict[str, str], labels: dict[str, str] | None = None) -> str:
    """``原因：必填；附件：文件是空的。`` (``Reason: required; File: the file is empty.``) — the field errors as
    one clause in the page's language."""
    if not errors:
        return ""
    if not chinese():
        return " " + "; ".join(f"{(labels or {}).get(k, k)}: {v}" for k, v in errors.items()) + "."
    return "；".join(f"{(labels or {}).get(k, k)}：{v}" for k, v in errors.items()) + "。"


def explain(err: EomsError) -> str:
    """A sentence in the page's language, with the field errors the engine named (from its codes and details;
    the engine's own English text is for the logs)."""
    form = "problems" in err.details  # a form's fields are named by its schema, not by the engine's services
    labels = None if form else FIELD_LABELS if chinese() else FIELD_LABELS_EN
    return sentence(err) + field_list(field_errors(err), labels)


def attachment_refused(err: EomsError, filename: str) -> str:
    """Why the upload of ``filename`` was refused (the allowed types when it was the type)."""
    if str(err.code) != Code.ATTACHMENT_REJECTED:
        return explain(err)
    problem = str((err.details.get("fields") or {}).get("file", ""))
    reason = field_errors(err).get("file") or (FIELD_PROBLEMS["invalid"] if chinese() else "invalid")
    if problem == "content does not match type" and err.details.get("extension"):
        reason = gettext("文件内容不是 %(ext)s 格式", ext=err.details["extension"])
    elif problem == "too large" and err.details.get("max_bytes"):
        reason += gettext("（上限 %(mb)s MB）", mb=f"{int(err.details['max_bytes']) / 1024 / 1024:g}")
    elif err.details.get("allowed"):
        reason += gettext("（可接受：%(types)s）", types="、".join(str(a) for a in err.details["allowed"]))
    return gettext("附件未能上传：%(why)s", why=f"{filename}{'，' if chinese() else ', '}{reason}")
