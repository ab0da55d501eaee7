"""What changed between two versions of a diagram, element by element (by id), in words an analyst reads.

Elements are matched by id, as SpiffWorkflow matches task specs when instances migrate. An element counts as
changed when what the engine runs differs: its type, name, lane (post), EOMS properties, handler and
parameters, script, condition, timer, event trigger, called process, loop, or where a flow goes.
Layout alone (the diagram interchange part) is not a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from engine.repository.graph import NS, local
from engine.repository.xmlsafe import load_bpmn_xml

BPMN = NS["bpmn"]
SPIFF = NS["spiffworkflow"]
SKIPPED = frozenset({"incoming", "outgoing", "flowNodeRef", "extensionElements", "laneSet", "lane",
                     "documentation", "text", "definitions", "process", "collaboration", "childLaneSet"})
LABELS = {"type": "类型", "name": "名称", "lane": "泳道（岗位）", "formKey": "表单", "timeLimit": "时限",
          "warnBefore": "预警提前量", "warnPercent": "预警比例", "calendar": "工作日历", "allow": "允许的操作",
          "postVar": "岗位变量", "orgUnitVar": "单位变量", "handler": "处理程序", "script": "脚本",
          "condition": "条件", "timer": "定时", "trigger": "触发", "calledElement": "调用的流程", "loop": "循环/多实例",
          "source": "起点", "target": "终点", "default": "默认流", "attachedToRef": "附着于",
          "cancelActivity": "中断"}


@dataclass(frozen=True)
class Element:
    """One element of one version as the diff sees it."""

    id: str
    kind: str
    name: str
    facts: dict[str, str]


@dataclass
class DiagramDiff:
    """Added, removed and changed elements; each change is (what, before, after)."""

    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, object]:
        return {"added": [e.id for e in self.added], "removed": [e.id for e in self.removed],
                "changed": {k: [list(c) for c in v] for k, v in self.changed.items()}}


def diff_diagrams(old_xml: bytes, new_xml: bytes) -> DiagramDiff:
    """Compare two BPMN documents."""
    old, new = elements(old_xml), elements(new_xml)
    result = DiagramDiff()
    for key, element in new.items():
        result.names[key] = element.name or key
        if key not in old:
            result.added.append(element)
    for key, element in old.items():
        result.names.setdefault(key, element.name or key)
        if key not in new:
            result.removed.append(element)
            continue
        changes = []
        for fact in sorted(set(element.facts) | set(new[key].facts), key=_order):
            before, after = element.facts.get(fact, ""), new[key].facts.get(fact, "")
            if before != after:
                changes.append((LABELS.get(fact, fact), before, after))
        if changes:
            result.changed[key] = changes
    return result


def elements(content: bytes) -> dict[str, Element]:
    """Every executable element of the document by id (pools, lanes and diagram layout left out)."""
    root = load_bpmn_xml(content, "diagram.bpmn").getroot()
    lanes = {ref.text.strip(): lane.get("name") or lane.get("id", "")
             for lane in root.iter(f"{{{BPMN}}}lane") for ref in lane.iterfind("bpmn:flowNodeRef", NS) if ref.text}
    found: dict[str, Element] = {}
    for process in root.iterfind("bpmn:process", NS):
        for el in process.iter():
            if not isinstance(el.tag, str) or not el.tag.startswith(f"{{{BPMN}}}") or not el.get("id"):
                continue
            kind = local(el)
            if kind in SKIPPED or kind.endswith("EventDefinition") or _inside_definition(el):
                continue
            found[el.get("id")] = Element(el.get("id"), kind, el.get("name") or "", _facts(el, kind, lanes))
    return found


def _inside_definition(el: etree._Element) -> bool:
    parent = el.getparent()
    while parent is not None:
        if local(parent).endswith("EventDefinition") or local(parent) in ("multiInstanceLoopCharacteristics",
                                                                          "standardLoopCharacteristics",
                                                                          "ioSpecification", "extensionElements"):
            return True
        parent = parent.getparent()
    return False


def _facts(el: etree._Element, kind: str, lanes: dict[str, str]) -> dict[str, str]:
    facts = {"type": kind, "name": el.get("name") or ""}
    node_id = el.get("id", "")
    if node_id in lanes:
        facts["lane"] = lanes[node_id]
    if kind == "sequenceFlow":
        facts["source"], facts["target"] = el.get("sourceRef") or "", el.get("targetRef") or ""
        condition = el.find("bpmn:conditionExpression", NS)
        if condition is not None:
            facts["condition"] = (condition.text or "").strip()
    for attr in ("default", "attachedToRef", "calledElement"):
        if el.get(attr):
            facts[attr] = el.get(attr)
    if kind == "boundaryEvent":
        facts["cancelActivity"] = el.get("cancelActivity", "true")
    for prop in el.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        facts[prop.get("name") or ""] = prop.get("value") or ""
    operator = el.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is not None:
        params = ", ".join(f"{p.get('id')}={p.get('value')}"
                           for p in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS))
        facts["handler"] = f"{operator.get('id')}({params})"
    script = el.find("bpmn:script", NS)
    if script is not None:
        facts["script"] = (script.text or "").strip()
    triggers = [local(d).removesuffix("EventDefinition") for d in el if local(d).endswith("EventDefinition")]
    if triggers:
        facts["trigger"] = ", ".join(sorted(triggers))
    for timer in el.iter(f"{{{BPMN}}}timeDuration", f"{{{BPMN}}}timeDate", f"{{{BPMN}}}timeCycle"):
        facts["timer"] = f"{local(timer)} {(timer.text or '').strip()}"
    loop = el.find("bpmn:multiInstanceLoopCharacteristics", NS)
    if loop is not None:
        facts["loop"] = "sequential" if loop.get("isSequential") == "true" else "parallel"
    elif el.find("bpmn:standardLoopCharacteristics", NS) is not None:
        facts["loop"] = "standard"
    return {k: v for k, v in facts.items() if k}


def _order(fact: str) -> tuple[int, str]:
    keys = list(LABELS)
    return (keys.index(fact) if fact in keys else len(keys), fact)
