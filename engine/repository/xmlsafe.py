"""Safe loading of BPMN XML: no DTDs, no entities, no network, no huge trees."""

from __future__ import annotations

from lxml import etree

from engine.errors import BpmnValidationError, ValidationIssue

MAX_BPMN_BYTES = 5 * 1024 * 1024

_PARSER_OPTIONS = dict(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
    remove_blank_text=False,
)


def load_bpmn_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse ``content`` into an lxml tree, refusing anything a BPMN file never needs.

    Raises :class:`BpmnValidationError` for a file that is too large, is not well-formed XML, or carries a
    DOCTYPE (the door to external entities and entity-expansion bombs).
    """
    if len(content) > MAX_BPMN_BYTES:
        raise _error(filename, "file-too-large", f"{len(content)} bytes; the limit is {MAX_BPMN_BYTES}")
    if b"<!DOCTYPE" in content.upper() or b"<!ENTITY" in content.upper():
        raise _error(filename, "xml-doctype-forbidden",
                     "DOCTYPE and ENTITY declarations are not allowed in BPMN files")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        tree = etree.ElementTree(etree.fromstring(content, parser))
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        raise _error(filename, "xml-malformed", err.msg or str(err), line=line) from None
    if tree.docinfo.doctype:
        raise _error(filename, "xml-doctype-forbidden", "DOCTYPE declarations are not allowed in BPMN files")
    return tree


def _error(filename: str, rule: str, message: str, line: int | None = None) -> BpmnValidationError:
    return BpmnValidationError([ValidationIssue(filename, "", rule, message, line)])
