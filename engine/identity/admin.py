"""Administrative changes to the organisation: editing users (posts, unit, role, phone, disabling, passwords),
renaming posts, and moving or renaming org units — with what a move affects, shown before it is made."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.identity.models import ROLES, OrgUnit, Post, User, subtree_ids, under, user_post
from engine.identity.passwords import hash_password
from engine.identity.service import MIN_PASSWORD_LENGTH, IdentityService, _check_name
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.tasks.models import HumanTask, TaskStatus

PHONE_CHARS = set("0123456789-+ ")


def check_password(password: str, username: str = "") -> None:
    """The one password rule, for admin resets and for a user's own change: at least 8 characters, letters and
    digits both, not the username."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("both letters and digits")
    if username and password.lower() == username.lower():
        problems.append("not the username")
    if len(password) > 200:
        problems.append("at most 200 characters")
    if problems:
        raise InvalidInput("the password needs " + ", ".join(problems), {"password": "weak"})


def check_phone(phone: str | None) -> str | None:
    """A mobile or fixed-line number as typed (digits, '-', '+', spaces), or None when empty."""
    phone = (phone or "").strip()
    if not phone:
        return None
    digits = sum(c.isdigit() for c in phone)
    if not set(phone) <= PHONE_CHARS or not 5 <= digits <= 20:
        raise InvalidInput(f"'{phone}' is not a phone number", {"phone": "invalid"})
    return phone


@dataclass(frozen=True)
class UserChange:
    """The editable fields of a user, as an administrator submits them."""

    display_name: str
    org_code: str
    post_codes: tuple[str, ...]
    role: str
    phone: str | None


def snapshot(user: User) -> dict[str, Any]:
    """A user's administrative fields, for the audit log's before/after."""
    return {"display_name": user.display_name, "org_unit": user.org_unit.code, "role": user.role,
            "phone": user.phone, "posts": [p.code for p in user.posts], "is_active": user.is_active}


def update_user(session: Session, user: User, change: UserChange) -> None:
    """Apply ``change`` to ``user``; every field is checked before anything changes."""
    identity = IdentityService()
    _check_name(change.display_name, "name")
    if change.role not in ROLES:
        raise InvalidInput(f"role '{change.role}' is not one of {', '.join(ROLES)}", {"role": "unknown role"})
    phone = check_phone(change.phone)
    if not change.org_code:
        raise InvalidInput("a user needs an org unit", {"org_unit": "required"})
    unit = identity.get_org_unit(session, change.org_code)
    posts = [identity.get_post(session, code) for code in dict.fromkeys(change.post_codes)]
    user.display_name, user.org_unit, user.role, user.phone = change.display_name.strip(), unit, change.role, phone
    user.posts = posts
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    """A new password (an admin reset or the user's own change), checked by :func:`check_password`."""
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    session.flush()


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable a user (a disabled user cannot log in and is offered nothing)."""
    user.is_active = active
    session.flush()


def held_tasks(session: Session, user_id: int) -> tuple[list[int], int]:
    """The open tasks a user has claimed from a post's queue (they can go back to the queue), and how many open
    tasks were given to the user in person (someone must transfer them)."""
    rows = session.execute(select(HumanTask.id, HumanTask.post_id).where(
        HumanTask.assignee_id == user_id, HumanTask.status == TaskStatus.READY)).tuples().all()
    return [i for i, post in rows if post is not None], sum(1 for _, post in rows if post is None)


def rename_post(session: Session, post: Post, name: str) -> None:
    """A post's new Chinese name (its code, which diagrams may use, stays); names stay unique."""
    _check_name(name, "post name")
    clash = session.scalar(select(Post.id).where(Post.name == name.strip(), Post.id != post.id))
    if clash is not None:
        raise InvalidInput(f"a post named '{name}' already exists", {"name": "already exists"})
    post.name = name.strip()
    session.flush()


def rename_unit(session: Session, unit: OrgUnit, name: str) -> None:
    _check_name(name, "org unit name")
    unit.name = name.strip()
    session.flush()


@dataclass(frozen=True)
class MoveImpact:
    """What moving an org unit (and everything below it) changes: whose supervisors see what."""

    unit: OrgUnit
    new_parent: OrgUnit
    old_path: str
    new_path: str
    units: int  # the unit and the units below it
    users: int
    supervisors: int  # supervisors inside the moved subtree (their scope moves with it)
    open_tasks: int
    running_orders: int
    supervisors_losing: list[str]  # supervisors above the old place who no longer oversee the subtree
    supervisors_gaining: list[str]  # supervisors above the new place who oversee it from now on


def move_impact(session: Session, unit_code: str, parent_code: str) -> MoveImpact:
    """What :func:`move_unit` would change; refuses a move under the unit itself or to where it already is."""
    identity = IdentityService()
    unit = identity.get_org_unit(session, unit_code)
    parent = identity.get_org_unit(session, parent_code)
    if parent.path.startswith(unit.path):
        raise InvalidInput(f"org unit '{unit.code}' cannot move under itself or a unit below it",
                           {"parent": "inside the unit"})
    if unit.parent_id == parent.id:
        raise InvalidInput(f"org unit '{unit.code}' is already under '{parent.code}'", {"parent": "unchanged"})
    ids = subtree_ids(unit.path)
    users = session.scalar(select(func.count()).select_from(User).where(User.org_unit_id.in_(ids))) or 0
    sups = session.scalar(select(func.count()).select_from(User).where(
        User.org_unit_id.in_(ids), User.role == "supervisor")) or 0
    tasks = session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.org_unit_id.in_(ids), HumanTask.status == TaskStatus.READY)) or 0
    orders = session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.org_unit_id.in_(ids), ProcessInstance.status == InstanceStatus.RUNNING)) or 0
    units = session.scalar(select(func.count()).select_from(OrgUnit).where(under(unit.path))) or 0
    old_above, new_above = _supervisors_above(session, unit.path), _supervisors_above(session, parent.path, True)
    return MoveImpact(unit, parent, unit.path, f"{parent.path}{unit.code}/", units, users, sups, tasks, orders,
                      sorted(old_above - new_above), sorted(new_above - old_above))


def move_unit(session: Session, unit_code: str, parent_code: str) -> MoveImpact:
    """Move the unit and its subtree under ``parent_code``: every path below it is rewritten in one statement."""
    impact = move_impact(session, unit_code, parent_code)
    old, new = impact.old_path, impact.new_path
    session.execute(
        update(OrgUnit).where(under(old))
        .values(path=literal(new, String) + func.substr(OrgUnit.path, len(old) + 1))
        .execution_options(synchronize_session=False))
    impact.unit.parent_id = impact.new_parent.id
    session.flush()
    session.expire_all()
    return impact


def _supervisors_above(session: Session, path: str, inclusive: bool = False) -> set[str]:
    """Display names of the supervisors of units above ``path`` (and of that unit itself when ``inclusive``)."""
    codes = [c for c in path.strip("/").split("/") if c]
    prefixes = ["/" + "/".join(codes[:i]) + "/" for i in range(1, len(codes) + (1 if inclusive else 0))]
    if not prefixes:
        return set()
    names = session.scalars(select(User.display_name).join(OrgUnit, OrgUnit.id == User.org_unit_id).where(
        OrgUnit.path.in_(prefixes), User.role == "supervisor", User.is_active.is_(True)))
    return set(names)


def users_matching(session: Session, text: str, unit_id: int | None, post_id: int | None, active: bool | None,
                   *, offset: int, limit: int) -> tuple[int, list[User]]:
    """The users list of the admin page: name or username containing ``text``, in a unit's subtree, holding a
    post, enabled or disabled — newest names sorted by username, with the total."""
    stmt = select(User)
    if text:
        stmt = stmt.where((User.username.contains(text, autoescape=True))
                          | (User.display_name.contains(text, autoescape=True))
                          | (User.phone.contains(text, autoescape=True)))
    if unit_id is not None:
        unit = session.get(OrgUnit, unit_id)
        stmt = stmt.where(User.org_unit_id.in_(subtree_ids(unit.path if unit else None)))
    if post_id is not None:
        stmt = stmt.where(User.posts.any(Post.id == post_id))
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return total, list(session.scalars(stmt.order_by(User.username).offset(offset).limit(limit)))


def post_holder_counts(session: Session, post_ids: Iterable[int]) -> dict[int, int]:
    ids = list(post_ids)
    if not ids:
        return {}
    rows = session.execute(select(user_post.c.post_id, func.count()).where(user_post.c.post_id.in_(ids))
                           .group_by(user_post.c.post_id)).tuples().all()
    return dict(rows)


def get_user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user
