"""The 系统管理 blueprint and what its views share: the audit note of every change, the acting administrator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import current_user

from engine.audit.service import record
from webapp import db

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PAGE_SIZE = 50


def audit(action: str, target_type: str, target: object, **details: Any) -> None:
    """Note the change the request is making in the audit log (committed with it, or not at all)."""
    record(db.session(), action, target_type, target, actor_id=current_user.row.id, now=db.engine().ctx.clock(),
           details=details)


def form_values(form: Any, *names: str) -> dict[str, str]:
    """The named fields of a posted form, trimmed (missing ones empty)."""
    return {name: str(form.get(name, "")).strip() for name in names}
