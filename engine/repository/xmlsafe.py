"""Safe loading of BPMN XML: no DTDs, no entities, no network, no huge trees."""

from __future__ import annotations

import codecs
import re

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
    text = decode_xml(content).upper()
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
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


_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_DECLARED = re.compile(rb"^<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


def xml_encoding(content: bytes) -> str:
    """The encoding of an XML document: from its byte-order mark, its NUL pattern or its declaration."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    if content[:2] == b"<\x00":
        return "utf-16-le"
    if content[:2] == b"\x00<":
        return "utf-16-be"
    declared = _DECLARED.match(content[:200])
    if declared:
        name = declared.group(1).decode("ascii")
        try:
            codecs.lookup(name)
            return name
        except LookupError:
            return "utf-8"
    return "utf-8"


def decode_xml(content: bytes) -> str:
    """The document as text in its own encoding (undecodable bytes replaced)."""
    return content.decode(xml_encoding(content), errors="replace")


def _error(filename: str, rule: str, message: str, line: int | None = None) -> BpmnValidationError:
    return BpmnValidationError([ValidationIssue(filename, "", rule, message, line)])
