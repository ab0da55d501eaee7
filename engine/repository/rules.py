"""Every rule a refused diagram or form can break, with a Chinese and an English text.

A :class:`~engine.errors.ValidationIssue` carries the rule's stable name; the command line, the pages and the
API show the text of :func:`rule_text` next to the issue's own message (which names the element).
"""

from __future__ import annotations

from engine.repository.constraints import RULES as CONSTRAINT_RULES

ENGINE_RULES: dict[str, tuple[str, str]] = {
    "xml-malformed": ("文件不是格式正确的 XML", "The file is not well-formed XML"),
    "xml-doctype-forbidden": ("出于安全原因，不接受 DOCTYPE 和实体声明", "DOCTYPE and entity declarations are "
                              "refused for safety"),
    "file-too-large": ("文件超过允许的大小", "The file is larger than the engine accepts"),
    "bpmn-schema": ("文件不符合 BPMN 2.0 的 XML 结构", "The file does not follow the BPMN 2.0 XML schema"),
    "bpmn-structure": ("流程结构无法被引擎解析", "The process engine cannot read this structure"),
    "no-executable-process": ('文件中没有 isExecutable="true" 的流程', 'The file has no process with '
                              'isExecutable="true"'),
    "empty-process": ("流程中没有任何节点", "The process has no flow nodes"),
    "no-end-event": ("流程没有结束事件", "The process has no end event"),
    "dead-end": ("节点没有输出顺序流，流程会停在这里", "A node has no outgoing sequence flow, so the work stops "
                 "there"),
    "no-path-to-end": ("节点永远到达不了结束事件", "A node can never reach an end event"),
    "multiple-outgoing-flows": ("活动有多条输出顺序流，请经过网关", "An activity has several outgoing flows; route "
                                "them through a gateway"),
    "missing-condition": ("排他网关的输出流既无条件也不是默认流", "An outgoing flow of an exclusive gateway has "
                          "neither a condition nor is the default"),
    "subprocess-start-event": ("子流程必须恰好有一个开始事件", "A sub-process needs exactly one start event"),
    "unsupported-element": ("引擎暂不支持此元素，部署被拒绝", "The engine does not run this element yet, so the "
                            "file is refused"),
    "reserved-id": ("元素 ID 与引擎内部名称冲突，请改名", "The element id is reserved by the engine; rename it"),
    "user-task-without-lane": ("人工任务必须位于指定岗位的泳道中", "A task people do must sit in a lane that "
                               "names a post"),
    "lane-unknown-post": ("泳道名称不是已有岗位的编码或名称", "The lane is not the code or name of an existing "
                          "post"),
    "unknown-handler": ("服务任务引用了未注册的处理程序", "The service task names a handler that is not "
                        "registered"),
    "unknown-called-process": ("调用活动引用的流程既不在本文件中也未部署", "The call activity names a process that "
                               "is neither in the file nor deployed"),
    "unknown-form": ("引用的表单尚未部署", "The form key names a form that is not deployed"),
    "bad-property": ("EOMS 扩展属性的取值无效", "An EOMS extension property has an invalid value"),
    "bad-time-limit": ("时限、预警提前量或预警比例无效", "The time limit, warning lead or warning percentage is "
                       "invalid"),
    "bad-timer": ("定时器表达式无效", "The timer expression is invalid"),
    "script-invalid": ("脚本无法编译或使用了沙箱禁止的功能", "The script does not compile or uses what the "
                       "sandbox forbids"),
    "condition-invalid": ("条件表达式无法编译或使用了沙箱禁止的功能", "The condition does not compile or uses "
                          "what the sandbox forbids"),
    "expression-invalid": ("表达式无法编译或使用了沙箱禁止的功能", "The expression does not compile or uses what "
                           "the sandbox forbids"),
    "parameter-invalid": ("服务任务参数表达式无效", "A service task parameter expression is invalid"),
    "form-malformed": ("表单文件不是有效的 JSON", "The form file is not valid JSON"),
    "form-invalid": ("表单定义无效", "The form definition is invalid"),
}

RULES: dict[str, tuple[str, str]] = {**CONSTRAINT_RULES, **ENGINE_RULES}


def rule_text(rule: str, lang: str = "zh") -> str:
    """The text of ``rule`` in ``lang`` ("zh" or "en"); the rule's name when it is not catalogued."""
    texts = RULES.get(rule)
    if texts is None:
        return rule
    return texts[0] if lang == "zh" else texts[1]
