"""Who may see and act on what: the rules every service applies inside its transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.identity.models import OrgUnit, User


def org_path(session: Session, org_unit_id: int) -> str:
    unit = session.get(OrgUnit, org_unit_id)
    return unit.path if unit is not None else ""


def oversees(session: Session, user: User, org_unit_id: int) -> bool:
    """True for an admin, or a supervisor whose org unit is this one or above it."""
    if user.role == "admin":
        return True
    if user.role != "supervisor":
        return False
    return org_path(session, org_unit_id).startswith(user.org_unit.path)


def holds_post_in(user: User, post_id: int | None, org_unit_id: int) -> bool:
    """True when the user holds the post in exactly this org unit."""
    return post_id is not None and user.org_unit_id == org_unit_id and any(p.id == post_id for p in user.posts)


def in_scope(session: Session, user: User, org_unit_id: int) -> bool:
    """True when the org unit is the user's own or below it (where a user may start work)."""
    return user.role == "admin" or org_path(session, org_unit_id).startswith(user.org_unit.path)
