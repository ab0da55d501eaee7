"""Identity service: org units, posts, users, memberships, and how a BPMN lane resolves to a post."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.identity.lookup import find_user_by_name
from engine.identity.models import ROLES, OrgUnit, Post, User
from engine.identity.passwords import hash_password, verify_password

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8


class IdentityService:
    """Users, posts and org units. Every method works inside the caller's transaction."""

    def add_org_unit(self, session: Session, code: str, name: str, parent_code: str | None = None) -> OrgUnit:
        """Create an org unit under ``parent_code`` (or a root)."""
        _check_code(code, "org unit code")
        _check_name(name, "org unit name")
        if self.find_org_unit(session, code) is not None:
            raise InvalidInput(f"org unit '{code}' already exists", {"code": "already exists"})
        parent = self.get_org_unit(session, parent_code) if parent_code else None
        path = f"{parent.path}{code}/" if parent else f"/{code}/"
        unit = OrgUnit(code=code, name=name, parent=parent, path=path)
        session.add(unit)
        session.flush()
        return unit

    def find_org_unit(self, session: Session, code: str) -> OrgUnit | None:
        return session.scalar(select(OrgUnit).where(OrgUnit.code == code))

    def get_org_unit(self, session: Session, code: str) -> OrgUnit:
        unit = self.find_org_unit(session, code)
        if unit is None:
            raise NotFound(f"org unit '{code}' does not exist")
        return unit

    def list_org_units(self, session: Session) -> Sequence[OrgUnit]:
        return session.scalars(select(OrgUnit).order_by(OrgUnit.path)).all()

    def add_post(self, session: Session, code: str, name: str) -> Post:
        """Create a post; both its code and its name must be unique (lanes may use either)."""
        _check_code(code, "post code")
        _check_name(name, "post name")
        clash = session.scalar(select(Post).where(or_(Post.code == code, Post.name == name)))
        if clash is not None:
            field = "code" if clash.code == code else "name"
            raise InvalidInput(f"a post with {field} '{code if field == 'code' else name}' already exists",
                               {field: "already exists"})
        post = Post(code=code, name=name)
        session.add(post)
        session.flush()
        return post

    def find_post(self, session: Session, code_or_name: str) -> Post | None:
        """The post whose code or name is ``code_or_name`` (a lane's name), or None."""
        return session.scalar(
            select(Post).where(or_(Post.code == code_or_name, Post.name == code_or_name)).limit(1)
        )

    def get_post(self, session: Session, code_or_name: str) -> Post:
        post = self.find_post(session, code_or_name)
        if post is None:
            raise NotFound(f"post '{code_or_name}' does not exist")
        return post

    def list_posts(self, session: Session) -> Sequence[Post]:
        return session.scalars(select(Post).order_by(Post.code)).all()

    def add_user(
        self,
        session: Session,
        username: str,
        *,
        display_name: str,
        password: str,
        org_code: str,
        post_codes: Iterable[str] = (),
        role: str = "user",
        phone: str | None = None,
    ) -> User:
        """Create a user in ``org_code`` holding ``post_codes``; the password is stored hashed."""
        _check_code(username, "username")
        _check_name(display_name, "name")
        if role not in ROLES:
            raise InvalidInput(f"role '{role}' is not one of {', '.join(ROLES)}", {"role": "unknown role"})
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                f"password must have at least {MIN_PASSWORD_LENGTH} characters", {"password": "too short"}
            )
        if self.find_user(session, username) is not None:
            raise InvalidInput(f"user '{username}' already exists", {"username": "already exists"})
        org = self.get_org_unit(session, org_code)
        posts = [self.get_post(session, code) for code in post_codes]
        user = User(
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            org_unit=org,
            role=role,
            phone=phone,
            posts=posts,
        )
        session.add(user)
        session.flush()
        return user

    def find_user(self, session: Session, username: str) -> User | None:
        """The user with this username (its org unit and posts loaded in the same statement), or None."""
        return find_user_by_name(session, username)

    def get_user(self, session: Session, username: str) -> User:
        user = self.find_user(session, username)
        if user is None or not user.is_active:
            raise NotFound(f"user '{username}' does not exist")
        return user

    def authenticate(self, session: Session, username: str, password: str) -> User | None:
        """The active user with this username and password, or None (same answer for either mistake)."""
        user = self.find_user(session, username)
        if user is None or not user.is_active:
            verify_password(password, _dummy_hash())  # same cost whether or not the user exists
            return None
        return user if verify_password(password, user.password_hash) else None

    def usernames(self, session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
        """Map user ids to usernames (for showing assignees and actors)."""
        ids = {i for i in user_ids if i}
        if not ids:
            return {}
        return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).tuples().all())

    def supervisors_for(self, session: Session, org_unit_id: int) -> Sequence[User]:
        """Active supervisors of the org unit, or of the nearest unit above it that has any."""
        unit = session.get(OrgUnit, org_unit_id)
        while unit is not None:
            found = session.scalars(
                select(User).where(User.org_unit_id == unit.id, User.role == "supervisor", User.is_active.is_(True))
                .order_by(User.username)
            ).all()
            if found:
                return found
            unit = unit.parent
        return []

    def display_names(self, session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
        """Map user ids to display names (for pages)."""
        ids = {i for i in user_ids if i}
        if not ids:
            return {}
        return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())

    def holders(self, session: Session, post_id: int, org_unit_id: int) -> Sequence[User]:
        """Active users holding the post in exactly this org unit: the people a task is offered to."""
        return session.scalars(
            select(User)
            .where(User.org_unit_id == org_unit_id, User.is_active.is_(True), User.posts.any(Post.id == post_id))
            .order_by(User.username)
        ).all()


def _check_code(value: str, what: str) -> None:
    if not CODE_PATTERN.match(value or ""):
        raise InvalidInput(
            f"{what} '{value}' must be 1-64 letters, digits, '_', '.' or '-'", {what.split()[-1]: "invalid"}
        )


def _check_name(value: str, what: str) -> None:
    if not value or not value.strip() or len(value) > 200:
        raise InvalidInput(f"{what} must be 1-200 characters", {what.split()[-1]: "invalid"})


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")
