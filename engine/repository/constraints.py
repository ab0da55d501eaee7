"""Static constraints of BPMN 2.0.2 that an executable model must meet beyond the XSD (checked at deploy)."""

from __future__ import annotations

from lxml import etree

from engine.errors import ValidationIssue


def check_constraints(tree: etree._ElementTree, filename: str) -> list[ValidationIssue]:
    """Every static-constraint violation in the file, each naming the element and the rule."""
    return []
