"""Cached lookups of the identity tables on the engine's hot path (a lane naming a post, a user with posts).

Posts are never deleted and a post's code never changes, so a lane that names a post by its code resolves to the
same post for as long as the process lives. A lane may also name a post by its (renamable) name: those answers are
kept for ``name_ttl`` seconds only. Misses are never kept — a post created a moment ago is found at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from engine.identity.models import Post, User


@dataclass(frozen=True)
class PostRef:
    """What a lane resolves to: the post's id and code."""

    id: int
    code: str


class PostLookup:
    """``code or name → post`` for lanes, cached per process."""

    def __init__(self, name_ttl: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._by_ref: dict[str, tuple[PostRef, float | None]] = {}
        self._lock = threading.Lock()
        self._ttl, self._clock = name_ttl, clock

    def find(self, session: Session, ref: str) -> PostRef | None:
        """The post whose code or name is ``ref`` (code first), or None."""
        hit = self._by_ref.get(ref)
        if hit is not None and (hit[1] is None or hit[1] > self._clock()):
            return hit[0]
        rows = session.execute(select(Post.id, Post.code).where((Post.code == ref) | (Post.name == ref))).all()
        if not rows:
            return None
        found = next((r for r in rows if r.code == ref), rows[0])
        post = PostRef(found.id, found.code)
        with self._lock:
            self._by_ref[ref] = (post, None if post.code == ref else self._clock() + self._ttl)
        return post

    def forget(self) -> None:
        """Drop every cached answer (after a post is renamed in this process)."""
        with self._lock:
            self._by_ref.clear()


@cache
def _user_options() -> tuple[Any, ...]:
    return (joinedload(User.org_unit), joinedload(User.posts))


@cache
def _user_by_name_statement() -> Select[tuple[User]]:
    """Built once (composing it with its eager loads costs more than running it)."""
    return select(User).options(*_user_options()).where(User.username == bindparam("username"))


def load_user(session: Session, user_id: int) -> User | None:
    """The user with this id, its org unit and posts loaded with it (from the session if already there)."""
    return session.get(User, user_id, options=_user_options())


def find_user_by_name(session: Session, username: str) -> User | None:
    """The user with this username, its org unit and posts loaded in the same statement."""
    return session.scalars(_user_by_name_statement(), {"username": username}).unique().first()
