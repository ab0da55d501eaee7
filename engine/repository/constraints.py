"""Static constraints of BPMN 2.0.2 that an executable model must meet beyond the XSD (checked at deploy).

Id and reference rules apply to the whole file; the rest to the processes marked ``isExecutable="true"``
(and to message flows touching them). Choreographies are refused anywhere: EOMS does not execute them.
Every issue names the element and a stable rule; :data:`RULES` gives each rule a Chinese and an English text
for the pages. Connection rules are in :mod:`.constraints_flow`, event and activity rules in
:mod:`.constraints_events`, the shared index in :mod:`.constraints_model`.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import ValidationIssue
from engine.repository.constraints_events import check_events_and_activities
from engine.repository.constraints_flow import DEFAULT_HOLDERS, check_connections
from engine.repository.constraints_model import EVENTS, TRIGGERS, Model, clip, describe, kind, line_of, words

RULES: dict[str, tuple[str, str]] = {
    "duplicate-id": ("同一文件中有重复的元素 ID", "Two elements in the file have the same id"),
    "event-definition-ref-not-definition": ("eventDefinitionRef 必须引用一个事件定义（如 messageEventDefinition）",
                                            "An eventDefinitionRef names an event definition "
                                            "(messageEventDefinition and the like)"),
    "missing-reference": ("引用了文件中不存在的元素", "A reference names an element that is not in the file"),
    "choreography-not-supported": ("不支持执行编排（choreography）元素", "Choreographies cannot be executed"),
    "flow-endpoint-not-flow-node": ("顺序流只能连接事件、活动和网关", "A sequence flow connects only events, "
                                    "activities and gateways"),
    "flow-crosses-boundary": ("顺序流不能跨越子流程或泳池边界", "A sequence flow may not cross a sub-process or pool "
                              "boundary"),
    "start-event-incoming": ("开始事件不能有输入顺序流", "A start event may not have incoming sequence flows"),
    "end-event-outgoing": ("结束事件不能有输出顺序流", "An end event may not have outgoing sequence flows"),
    "boundary-event-incoming": ("边界事件不能有输入顺序流", "A boundary event may not have incoming sequence flows"),
    "boundary-event-outgoing": ("边界事件只能有一条输出顺序流（补偿边界事件不能有）", "A boundary event has exactly "
                                "one outgoing sequence flow (a compensation boundary event has none)"),
    "default-flow-not-outgoing": ("默认流必须是该网关或活动自己的输出顺序流", "The default flow must be an outgoing "
                                  "flow of its gateway or activity"),
    "gateway-no-split-or-join": ("网关必须有多条输入或多条输出顺序流（分支或汇聚）", "A gateway must have several "
                                 "incoming or several outgoing sequence flows"),
    "gateway-direction": ("网关的顺序流数量与其声明的方向（汇聚/分支/混合）不符", "The flows of a gateway do not "
                          "match its declared direction (converging, diverging, mixed)"),
    "event-gateway-outgoing": ("事件网关至少需要两条输出顺序流", "An event-based gateway needs at least two outgoing "
                               "flows"),
    "event-gateway-target": ("事件网关之后只能是消息、定时、信号、条件捕获事件或接收任务（且无边界事件）",
                             "An event-based gateway leads only to message, timer, signal or conditional catch "
                             "events or to receive tasks without boundary events"),
    "event-gateway-target-joins": ("事件网关之后的事件或任务不能有其他输入顺序流", "An event or task after an "
                                   "event-based gateway may have no other incoming flow"),
    "event-gateway-mixed-targets": ("事件网关之后不能同时使用消息捕获事件和接收任务", "An event-based gateway may "
                                    "not mix message catch events and receive tasks"),
    "event-gateway-parallel": ("只有实例化流程的事件网关才能是并行类型", "Only an instantiating event-based gateway "
                               "may be parallel"),
    "condition-on-parallel-gateway-flow": ("并行网关的输出顺序流不能带条件", "Flows out of a parallel gateway may "
                                           "not have conditions"),
    "condition-on-event-gateway-flow": ("事件网关的输出顺序流不能带条件", "Flows out of an event-based gateway may "
                                        "not have conditions"),
    "condition-on-event-flow": ("事件的输出顺序流不能带条件", "Flows out of events may not have conditions"),
    "condition-on-sole-activity-flow": ("活动唯一的输出顺序流不能带条件", "The only flow out of an activity may not "
                                        "have a condition"),
    "boundary-event-not-on-activity": ("边界事件只能附着在任务、子流程或调用活动上", "A boundary event attaches "
                                       "only to a task, sub-process or call activity"),
    "boundary-event-scope": ("边界事件必须与其附着的活动位于同一流程或子流程中", "A boundary event must be in the "
                             "same process or sub-process as its activity"),
    "boundary-event-trigger": ("边界事件必须有允许的触发器（不能为空、链接或终止）", "A boundary event needs an "
                               "allowed trigger (not none, link or terminate)"),
    "cancel-outside-transaction": ("取消事件只能用于事务子流程", "Cancel events belong only to transactions"),
    "non-interrupting-not-allowed": ("错误和取消事件必须是中断型的", "Error and cancel events always interrupt"),
    "event-definition-not-allowed": ("该事件不能使用此触发器", "This event may not have this trigger"),
    "catch-event-without-trigger": ("中间捕获事件必须有触发器", "An intermediate catch event needs a trigger"),
    "subprocess-start-trigger": ("子流程的开始事件必须是空开始事件", "The start event of a sub-process is a none "
                                 "start event"),
    "event-subprocess-sequence-flow": ("事件子流程不能有输入或输出顺序流", "An event sub-process has no incoming or "
                                       "outgoing sequence flows"),
    "event-subprocess-start-count": ("事件子流程必须恰好有一个开始事件", "An event sub-process has exactly one "
                                     "start event"),
    "event-subprocess-start-trigger": ("事件子流程的开始事件必须有触发器（消息、定时、信号、条件、错误、升级或补偿）",
                                       "The start event of an event sub-process needs a trigger (message, timer, "
                                       "signal, conditional, error, escalation or compensation)"),
    "adhoc-subprocess-event": ("自由子流程中不能有开始或结束事件", "An ad-hoc sub-process has no start or end "
                               "events"),
    "activity-quantity-invalid": ("活动的 startQuantity/completionQuantity 必须是不小于 1 的整数",
                                  "The startQuantity and completionQuantity of an activity are whole numbers "
                                  "of at least 1"),
    "loop-maximum-invalid": ("循环上限 loopMaximum 必须是非负整数",
                             "The loopMaximum of a loop is a whole number, 0 or more"),
    "loop-cardinality-negative": ("多实例数量 loopCardinality 不能为负数",
                                  "The loopCardinality of a multi-instance activity cannot be negative"),
    "message-flow-same-pool": ("消息流必须连接两个不同的泳池", "A message flow connects two different pools"),
}

# (element, attribute) pairs that name another element of the file; calledElement is not among them: a call
# activity may call a process deployed from another file.
_REFERENCES: dict[str, tuple[str, ...]] = {
    "sequenceFlow": ("sourceRef", "targetRef"), "messageFlow": ("sourceRef", "targetRef"),
    "boundaryEvent": ("attachedToRef",), "messageEventDefinition": ("messageRef",),
    "signalEventDefinition": ("signalRef",), "errorEventDefinition": ("errorRef",),
    "escalationEventDefinition": ("escalationRef",), "compensateEventDefinition": ("activityRef",),
    "sendTask": ("messageRef",), "receiveTask": ("messageRef",), "participant": ("processRef",),
}
MAX_ISSUES = 50  # a page or a log line lists this many; fixing them shows the rest
_TEXT_REFERENCES = frozenset({"eventDefinitionRef", "flowNodeRef"})
_CHOREOGRAPHY = frozenset({"choreography", "choreographyTask", "subChoreography", "callChoreography",
                           "globalChoreographyTask"})


def check_constraints(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Every static-constraint violation in the file (the first :data:`MAX_ISSUES`), each naming the element
    and the rule."""
    model = Model.build(tree, filename)
    _duplicate_ids(model)
    _references(model)
    _choreographies(model)
    scope = [el for process in model.processes if model.executable(process) for el in process.iter() if kind(el)]
    check_connections(model, scope)
    check_events_and_activities(model, scope)
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for found in model.issues:
        key = (found.element_id, found.rule, found.message)
        if key not in seen:
            seen.add(key)
            unique.append(found)
    return unique[:MAX_ISSUES]


def _duplicate_ids(model: Model) -> None:
    for first, again in model.duplicates:
        element_id = again.get("id") or ""
        model.add(again, "duplicate-id",
                  f"id '{clip(element_id)}' is used by {_tag(again)} here and by {_tag(first)}"
                  + (f" on line {line_of(first)}" if line_of(first) else "") + "; ids must be unique in the file")


def _tag(el: etree._Element) -> str:
    return describe(el) if kind(el) else f"'{etree.QName(el).localname}'"


def _references(model: Model) -> None:
    for el in model.elements:
        name = kind(el)
        attributes = _REFERENCES.get(name, ())
        if name in DEFAULT_HOLDERS:
            attributes = (*attributes, "default")
        parent = el.getparent()
        holder = parent if name in TRIGGERS and kind(parent) in EVENTS and parent.get("id") else el
        where = f"the {words(name)} of {describe(holder)}" if holder is not el else describe(el)
        for attribute in attributes:
            ref = el.get(attribute)
            if ref is not None and model.local_ref(el, ref) and model.resolve(el, ref) is None:
                model.add(holder, "missing-reference",
                          f"{where}: {attribute} '{clip(ref)}' names no element in this file")
            elif ref is not None and not ref.strip():
                model.add(holder, "missing-reference", f"{where}: {attribute} is empty")
        if name in _TEXT_REFERENCES:
            ref = (el.text or "").strip()
            target = model.resolve(el, ref) if ref and model.local_ref(el, ref) else None
            if ref and model.local_ref(el, ref) and target is None:
                owner = _owner(el)
                model.add(owner, "missing-reference",
                          f"{describe(owner)}: {name} '{clip(ref)}' names no element in this file")
            elif name == "eventDefinitionRef" and target is not None and not kind(target).endswith("EventDefinition"):
                owner = _owner(el)
                model.add(owner, "event-definition-ref-not-definition",
                          f"{describe(owner)}: eventDefinitionRef '{clip(ref)}' names a {kind(target)}, not an "
                          "event definition")


def _owner(el: etree._Element) -> etree._Element:
    """The nearest element with an id (a reference held in a child element is reported on its holder)."""
    current: etree._Element | None = el
    while current is not None and not current.get("id"):
        current = current.getparent()
    return current if current is not None else el


def _choreographies(model: Model) -> None:
    for el in model.choreographies:
        parent = el.getparent()
        while parent is not None and kind(parent) not in _CHOREOGRAPHY:
            parent = parent.getparent()
        if parent is None:  # the outermost one names the problem
            model.add(el, "choreography-not-supported",
                      f"{describe(el)}: choreographies are not supported; EOMS executes processes only")
