"""Engine errors as sentences for the pages (the engine's own texts are English and name details)."""

from __future__ import annotations

from engine.errors import ConcurrencyConflict, EomsError, InvalidInput, InvalidState, NotAllowed, NotFound
from webapp.i18n import current_language, gettext


def explain(err: EomsError) -> str:
    """A sentence in the page's language; English keeps the engine's detail."""
    detail = str(err)
    if isinstance(err, NotFound):
        text = gettext("记录不存在，或您无权查看。")
    elif isinstance(err, ConcurrencyConflict) and "assigned to someone else" in detail:
        text = gettext("该任务已由他人签收，您不能处理；如需接手，请联系主管改派。")
    elif isinstance(err, ConcurrencyConflict):
        text = gettext("该工单或任务刚被他人处理或修改，您的操作未保存，请刷新后重试。")
    elif isinstance(err, InvalidState):
        if "completed" in detail or "returned" in detail or "cancelled" in detail:
            text = gettext("该任务已处理完毕（可能是重复提交），无需再次操作。")
        elif "suspended" in detail:
            text = gettext("该任务已挂起，请先恢复。")
        elif "not waiting" in detail:
            text = gettext("该工单当前不在等待此消息。")
        else:
            text = gettext("当前状态不允许此操作。")
    elif isinstance(err, NotAllowed):
        text = gettext("您无权执行此操作。")
    elif isinstance(err, InvalidInput):
        text = gettext("输入有误，请检查后重试。")
    else:
        text = gettext("操作失败。")
    return text if current_language() == "zh_CN" else f"{text} ({detail})"
