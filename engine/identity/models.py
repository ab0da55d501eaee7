"""Identity tables: org units (a region/department tree), posts (岗位), users and their post memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ColumnElement, ForeignKey, Integer, Select, String, Table, and_, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from engine.db import Base, UTCDateTime, utcnow

ROLES = ("user", "supervisor", "analyst", "admin")

user_post = Table(
    "user_post",
    Base.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class OrgUnit(Base):
    """A region or department. ``path`` is the chain of codes from the root (``/GD/DG/``) for subtree queries."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])


class Post(Base):
    """A post (岗位) such as 调度员; BPMN lanes name posts by code or by name."""

    __tablename__ = "post"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A person who logs in. The password is stored only as a salted scrypt hash."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="user")
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()
    posts: Mapped[list[Post]] = relationship(secondary=user_post, order_by=Post.code)


def under(path: str) -> ColumnElement[bool]:
    """Org units whose path begins with ``path`` — exactly: ``_`` and ``%`` in codes are not wildcards, and letter
    case counts on SQLite too (its LIKE ignores it)."""
    return and_(OrgUnit.path.startswith(path, autoescape=True), func.substr(OrgUnit.path, 1, len(path)) == path)


def subtree_ids(path: str | None) -> Select[tuple[int]]:
    """The ids of the org unit at ``path`` and every unit below it (none for a unit that does not exist)."""
    return select(OrgUnit.id).where(under(path if path else "/none/"))


def unit_subtree_ids(session: Session, unit_id: int) -> Select[tuple[int]]:
    """:func:`subtree_ids` for the unit with id ``unit_id``."""
    unit = session.get(OrgUnit, unit_id)
    return subtree_ids(unit.path if unit else None)
