"""转派/改派 target picker: people and posts the user may hand the task to, searched by name, pinyin initials and
unit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from werkzeug.datastructures import MultiDict

bp = Blueprint("picker", __name__)


def transfer_target(form: MultiDict[str, str]) -> dict[str, Any]:
    """The transfer's keyword arguments (``to_user``/``to_post``/``to_org``) from the submitted form."""
    kind, _, value = form.get("target", "").partition(":")
    return {"to_user": value if kind == "user" else None, "to_post": value if kind == "post" else None}
