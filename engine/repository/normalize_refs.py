"""Normalization of references the library does not follow: ``eventDefinitionRef`` and global tasks.

BPMN 2.0.2 §10.5 lets an event use a top-level event definition by reference (``eventDefinitionRef``) instead
of an inline one; SpiffWorkflow reads only inline definitions, so it took a referenced message start for a none
start, let a referenced catch event pass at once and refused a referenced boundary event. The reference becomes
an inline copy (fresh ids). §10.3.6 (Call Activity) lets a call activity call a global task; SpiffWorkflow looks
for a process of that id and refuses the file. The call activity becomes the task itself, in place: same id,
name, lane, flows and boundary events, its own documentation and extensions first, the global task's where it
has none.
"""

from __future__ import annotations

from lxml import etree

from engine.repository.constraints_model import EVENTS, kind
from engine.repository.graph import SPIFF_NS
from engine.repository.normalize_common import Ids, bpmn, element, fresh_copy, local_ref, top_level

GLOBAL_TASKS = {"globalTask": "task", "globalUserTask": "userTask", "globalScriptTask": "scriptTask",
                "globalManualTask": "manualTask", "globalBusinessRuleTask": "businessRuleTask"}
_RESOURCE_ROLES = ("resourceRole", "performer", "humanPerformer", "potentialOwner")
# the children of an activity in schema order: (kinds, taken from the global task when the call has none)
_ACTIVITY_PARTS: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("documentation",), True),
    (("extensionElements",), True),
    (("auditing", "monitoring", "categoryValueRef", "incoming", "outgoing"), False),
    (("ioSpecification",), True),
    (("property", "dataInputAssociation", "dataOutputAssociation"), False),
    (_RESOURCE_ROLES, True),
    (("standardLoopCharacteristics", "multiInstanceLoopCharacteristics"), False),
)
_TASK_PARTS = {"userTask": ("rendering",), "scriptTask": ("script",)}  # after the activity's own parts
_TASK_ATTRIBUTES = {"userTask": {"implementation": "implementation"},
                    "businessRuleTask": {"implementation": "implementation"},
                    "scriptTask": {"scriptLanguage": "scriptFormat"}}
_PROPERTIES = f"{{{SPIFF_NS}}}properties"


def inline_event_definitions(root: etree._Element, ids: Ids) -> None:
    """Replace the ``eventDefinitionRef``s of every event by copies of the definitions they name (an event
    with a reference that names no event definition is left as it is). BPMN names top-level definitions only;
    one inline in another event is taken too, rather than let the library read the event as a none event."""
    definitions = {el.get("id"): el for el in root.iter() if kind(el).endswith("EventDefinition") and el.get("id")}
    for event in list(root.iter()):
        if kind(event) not in EVENTS:
            continue
        refs = [child for child in event if kind(child) == "eventDefinitionRef"]
        if not refs:
            continue
        targets = [found for ref in refs if (found := definitions.get(local_ref(root, ref, ref.text or "")))
                   is not None]
        if len(targets) != len(refs):
            continue
        prefix = event.get("id") or "event"
        for ref, target in zip(refs, targets, strict=True):
            inline = fresh_copy(target, ids, prefix)
            inline.tail = ref.tail
            event.replace(ref, inline)


def inline_global_tasks(root: etree._Element, ids: Ids) -> None:
    """Replace every call activity that calls a global task of this file by that task."""
    called = top_level(root, frozenset(GLOBAL_TASKS))
    if not called:
        return
    for call in list(root.iter(bpmn("callActivity"))):
        target = called.get(local_ref(root, call, call.get("calledElement") or ""))
        parent = call.getparent()
        if target is None or parent is None:
            continue
        task = _task_for(call, target, ids)
        task.tail = call.tail
        parent.replace(call, task)


def _task_for(call: etree._Element, glob: etree._Element, ids: Ids) -> etree._Element:
    name = GLOBAL_TASKS[kind(glob)]
    attributes = {key: value for key, value in call.attrib.items() if key != "calledElement"}
    if not attributes.get("name") and glob.get("name"):
        attributes["name"] = glob.get("name") or ""
    for source, target in _TASK_ATTRIBUTES.get(name, {}).items():
        if glob.get(source) is not None and target not in attributes:
            attributes[target] = glob.get(source) or ""
    for key, value in glob.attrib.items():  # extension attributes (other namespaces) the call does not set
        if key.startswith("{") and key not in attributes:
            attributes[key] = value
    task = element(call, name, attributes)
    prefix = call.get("id") or "task"
    for kinds, inherited in _ACTIVITY_PARTS:
        own = [child for child in call if kind(child) in kinds]
        theirs = [child for child in glob if kind(child) in kinds] if inherited else []
        if kinds == ("extensionElements",) and own and theirs:
            _merge_extensions(own[0], theirs[0], ids, prefix)
            theirs = []
        for child in own or [fresh_copy(child, ids, prefix) for child in theirs]:
            task.append(child)
    for child in glob:
        if kind(child) in _TASK_PARTS.get(name, ()):
            task.append(fresh_copy(child, ids, prefix))
    for child in list(call):  # anything else the call held (its parts above moved already) stays, at the end
        if isinstance(child.tag, str):
            task.append(child)
    return task


def _merge_extensions(own: etree._Element, theirs: etree._Element, ids: Ids, prefix: str) -> None:
    """Add to the call's extensions what only the global task has: whole extensions of a kind the call lacks,
    and spiffworkflow properties of a name the call does not set."""
    tags = {child.tag for child in own if isinstance(child.tag, str)}
    for child in theirs:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in tags:
            own.append(fresh_copy(child, ids, prefix))
        elif child.tag == _PROPERTIES:
            mine = next(el for el in own if el.tag == _PROPERTIES)
            names = {prop.get("name") for prop in mine if isinstance(prop.tag, str)}
            for prop in child:
                if isinstance(prop.tag, str) and prop.get("name") not in names:
                    mine.append(fresh_copy(prop, ids, prefix))
