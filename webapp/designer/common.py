"""What the designer's views share: who may use it, reading posted JSON, issues for the browser."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify, request

from engine.errors import BpmnValidationError, EomsError, ValidationIssue
from engine.repository.rules import rule_text
from webapp.errors import rollback
from webapp.i18n import current_language
from webapp.messages import explain

DESIGNERS = ("analyst", "admin")
MAX_XML_BYTES = 5 * 1024 * 1024


def posted_json(field: str) -> Any:
    """``field`` of the posted JSON body (400 when the body is not JSON or lacks it; 413 when too large)."""
    if request.content_length and request.content_length > MAX_XML_BYTES:
        abort(413)
    body: Any = request.get_json(silent=True)
    value = body.get(field) if isinstance(body, dict) else None
    if value is None or (isinstance(value, str) and not value.strip()):
        abort(400, description=f"a JSON body {{\"{field}\": ...}} is required")
    return value


def posted_xml() -> str:
    text = posted_json("xml")
    if not isinstance(text, str):
        abort(400, description="xml must be text")
    return text


def lang() -> str:
    return "zh" if current_language() == "zh_CN" else "en"


def issues_json(issues: list[ValidationIssue]) -> list[dict[str, Any]]:
    return [{"element_id": i.element_id, "rule": i.rule, "message": i.message, "line": i.line,
             "rule_text": rule_text(i.rule, lang())} for i in issues]


def issues_text(issues: list[ValidationIssue]) -> str:
    return "；".join(f"{rule_text(i.rule, lang())}（{i.message}）" for i in issues[:5])


def refused(err: EomsError) -> tuple[Response, int]:
    """A JSON call that the engine refused: rolled back, 422 with the issues (pinned by the page) or the
    explanation of the error's code."""
    rollback()
    if isinstance(err, BpmnValidationError):
        return jsonify(ok=False, issues=issues_json(err.issues)), 422
    return jsonify(ok=False, error=explain(err), code=str(err.code)), 422
