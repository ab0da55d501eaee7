"""Which link throw event jumps to which link catch event (BPMN 2.0.2 §10.5.5, Link events).

A link throw event and a link catch event of the same process level pair up: the throw's
``linkEventDefinition/target`` names the catch's definition, or else the two definitions carry the same
``name`` and no other catch event of that level does. An event paired so has exactly one event definition,
the link one. Only lxml is imported here, so that any check (the path check in :mod:`.graph` too) can follow
the same pairs the normalization connects.
"""

from __future__ import annotations

from lxml import etree

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_LINK = f"{{{_BPMN}}}linkEventDefinition"
_CATCH = f"{{{_BPMN}}}intermediateCatchEvent"
_THROW = f"{{{_BPMN}}}intermediateThrowEvent"
_REF = f"{{{_BPMN}}}eventDefinitionRef"


def link_definition(event: etree._Element) -> etree._Element | None:
    """The link definition of a link event: its only event definition (inline, or a top-level one named by
    ``eventDefinitionRef``), when that is a link; else None."""
    definitions = [child for child in event if isinstance(child.tag, str) and (child.tag == _REF or (
        child.tag.startswith(f"{{{_BPMN}}}") and child.tag.endswith("EventDefinition")))]
    if len(definitions) != 1:
        return None
    found = definitions[0]
    if found.tag == _REF:
        ref = (found.text or "").strip().rsplit(":", 1)[-1]
        found = next((el for el in event.getroottree().getroot() if ref and el.get("id") == ref), found)
    return found if found.tag == _LINK else None


def link_pairs(scope: etree._Element) -> list[tuple[etree._Element, etree._Element]]:
    """(throw, catch) for each link throw event directly in ``scope`` (a process or sub-process) whose catch
    event is found unambiguously there; throws without one are left out."""
    catches = [(el, definition) for el in scope if el.tag == _CATCH
               and (definition := link_definition(el)) is not None]
    by_definition_id = {definition.get("id"): el for el, definition in catches if definition.get("id")}
    pairs = []
    for throw in scope:
        definition = link_definition(throw) if throw.tag == _THROW else None
        if definition is None:
            continue
        target = next((child.text or "" for child in definition if child.tag == f"{{{_BPMN}}}target"), "")
        target = target.strip().rsplit(":", 1)[-1]
        catch = by_definition_id.get(target) if target else None
        if catch is None:
            name = definition.get("name")
            named = [el for el, other in catches if name is not None and other.get("name") == name]
            catch = named[0] if len(named) == 1 else None
        if catch is not None:
            pairs.append((throw, catch))
    return pairs
