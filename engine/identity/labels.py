"""The names behind ids that every listing shows (a task's post and unit, who did it, which flow), cached per
process so that a page of rows costs no lookups once their names are known.

Usernames, org unit codes, post codes and a deployed definition's name and version never change: those answers
are kept for as long as the process lives. A post's name may be renamed: it is kept for ``ttl`` seconds (and
dropped at once by :meth:`Labels.forget` in the process that renamed it). Unknown ids are never kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.identity.models import OrgUnit, Post, User
from engine.repository.models import ProcessDefinition


class _Cached:
    """id → the values of ``columns`` for one table."""

    def __init__(self, key: InstrumentedAttribute[int], columns: tuple[InstrumentedAttribute[Any], ...],
                 ttl: float | None, clock: Callable[[], float]):
        self._key, self._columns, self._ttl, self._clock = key, columns, ttl, clock
        self._rows: dict[int, tuple[tuple[Any, ...], float | None]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, ids: Iterable[int | None]) -> dict[int, tuple[Any, ...]]:
        now = self._clock()
        wanted = {i for i in ids if i}
        found: dict[int, tuple[Any, ...]] = {}
        for i in wanted:
            hit = self._rows.get(i)
            if hit is not None and (hit[1] is None or hit[1] > now):
                found[i] = hit[0]
        missing = wanted - found.keys()
        if missing:
            rows = session.execute(select(self._key, *self._columns).where(self._key.in_(missing))).all()
            until = None if self._ttl is None else now + self._ttl
            with self._lock:
                for row in rows:
                    found[row[0]] = tuple(row[1:])
                    self._rows[row[0]] = (found[row[0]], until)
        return found

    def forget(self) -> None:
        with self._lock:
            self._rows.clear()


class Labels:
    """Usernames, post codes and names, unit codes, flow names and versions by id."""

    def __init__(self, post_name_ttl: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._users = _Cached(User.id, (User.username,), None, clock)
        self._orgs = _Cached(OrgUnit.id, (OrgUnit.code,), None, clock)
        self._posts = _Cached(Post.id, (Post.code, Post.name), post_name_ttl, clock)
        self._definitions = _Cached(ProcessDefinition.id, (ProcessDefinition.name, ProcessDefinition.version), None,
                                    clock)

    def usernames(self, session: Session, ids: Iterable[int | None]) -> dict[int, str]:
        return {i: v[0] for i, v in self._users.get(session, ids).items()}

    def org_codes(self, session: Session, ids: Iterable[int | None]) -> dict[int, str]:
        return {i: v[0] for i, v in self._orgs.get(session, ids).items()}

    def posts(self, session: Session, ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
        """id → (code, name)."""
        return {i: (v[0], v[1]) for i, v in self._posts.get(session, ids).items()}

    def definitions(self, session: Session, ids: Iterable[int | None]) -> dict[int, tuple[str, int]]:
        """id → (name, version)."""
        return {i: (v[0], v[1]) for i, v in self._definitions.get(session, ids).items()}

    def forget(self) -> None:
        """Drop the renamable answers (after a post is renamed in this process)."""
        self._posts.forget()
