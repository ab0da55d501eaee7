"""系统管理 (administrators only): users, posts, the org unit tree, routing rules, resource inventory, the
working calendar, SMS templates, system health and the audit log. Every change is noted in the audit log."""

from webapp.admin import audit_log, calendar, health, home, inventory, org, routing, sms, users  # noqa: F401
from webapp.admin.blueprint import bp

__all__ = ["bp"]
