"""延期 dialog: extend by hours/days or to a chosen deadline, previewed on the step's working calendar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from werkzeug.datastructures import MultiDict

bp = Blueprint("extension", __name__)


def extension_request(form: MultiDict[str, str]) -> dict[str, Any]:
    """The extension's keyword arguments (``by``, ``reason``) from the submitted form."""
    return {"by": form.get("by", ""), "reason": form.get("reason", "")}
