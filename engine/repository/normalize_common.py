"""What the normalization steps share: fresh ids, references between elements, copies, lanes."""

from __future__ import annotations

import copy

from lxml import etree

from engine.repository.constraints_model import kind
from engine.repository.graph import BPMN_NS

SCOPES = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})


def bpmn(name: str) -> str:
    """The Clark name of a BPMN-model element: ``{…/MODEL}name``."""
    return f"{{{BPMN_NS}}}{name}"


class Ids:
    """The ids used in a file (any element, any namespace), handing out new ones that collide with none."""

    def __init__(self, root: etree._Element):
        self.used = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id") is not None}

    def fresh(self, base: str) -> str:
        """``base`` if no element has that id yet, else ``base_2``, ``base_3``, … (the result is now taken)."""
        candidate, number = base, 2
        while candidate in self.used:
            candidate, number = f"{base}_{number}", number + 1
        self.used.add(candidate)
        return candidate


def local_ref(root: etree._Element, el: etree._Element, ref: str) -> str:
    """The id a reference held by ``el`` names (a QName's prefix dropped); '' when it points into an imported
    file (a prefix bound to another namespace than the file's own)."""
    ref = ref.strip()
    if ":" not in ref:
        return ref
    prefix, name = ref.split(":", 1)
    namespace = el.nsmap.get(prefix)
    imported = {child.get("namespace") or "" for child in root if kind(child) == "import"}
    if namespace is not None and namespace in imported - {"", root.get("targetNamespace") or ""}:
        return ""
    return name


def top_level(root: etree._Element, names: frozenset[str] | None = None) -> dict[str, etree._Element]:
    """The BPMN root elements of the file (children of ``definitions``) by id, of the given kinds."""
    return {el.get("id"): el for el in root
            if kind(el) and el.get("id") and (names is None or kind(el) in names)}


def fresh_copy(el: etree._Element, ids: Ids, prefix: str) -> etree._Element:
    """A deep copy of ``el`` whose ids are all new (``<prefix>__<old id>``); references inside the copy to
    ids inside it (``…Ref``/``…Refs`` attributes and elements, such as an input set's ``dataInputRefs``)
    follow."""
    result = copy.deepcopy(el)
    renamed: dict[str, str] = {}
    for node in result.iter():
        old = node.get("id") if isinstance(node.tag, str) else None
        if old is not None:
            renamed[old] = ids.fresh(f"{prefix}__{old}")
            node.set("id", renamed[old])
    if not renamed:
        return result
    for node in result.iter():
        if not isinstance(node.tag, str):
            continue
        for name, value in node.attrib.items():
            if name.endswith(("Ref", "Refs")) and value.strip() in renamed:
                node.set(name, renamed[value.strip()])
        if etree.QName(node).localname.endswith(("Ref", "Refs")) and (node.text or "").strip() in renamed:
            node.text = renamed[(node.text or "").strip()]
    return result


def add_to_lane(scope: etree._Element, node_id: str, new_id: str) -> None:
    """List ``new_id`` in the lane(s) of ``scope`` that hold ``node_id``, right after it."""
    for lane_set in scope:
        if kind(lane_set) != "laneSet":
            continue
        for ref in list(lane_set.iter(bpmn("flowNodeRef"))):
            if (ref.text or "").strip() == node_id:
                added = ref.makeelement(ref.tag, {})
                added.text = new_id
                ref.addnext(added)


def element(parent: etree._Element, name: str, attributes: dict[str, str]) -> etree._Element:
    """A new BPMN element ``name`` (not yet in the tree) with the prefixes of ``parent``'s document."""
    return parent.makeelement(bpmn(name), attributes)
