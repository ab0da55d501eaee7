"""Role checks for the supervisor, statistics and admin pages (a page a user may not see is a 404)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def roles_required(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.row.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def scope_path() -> str | None:
    """The org subtree the current user oversees (None: everything, for administrators)."""
    user = current_user.row
    return None if user.role == "admin" else user.org_unit.path
