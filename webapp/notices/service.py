"""Announcements: who sees which (audience and validity), read receipts, and publishing them. Functions take the
session; views commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.errors import InvalidInput, NotFound
from engine.identity.models import OrgUnit, Post, User, under, user_post
from webapp.notices.models import AUDIENCES, Announcement, AnnouncementRead, AnnouncementTarget

MAX_BODY = 5000


@dataclass(frozen=True)
class Draft:
    """What an administrator submits for an announcement."""

    title: str
    body: str
    audience: str
    unit_ids: tuple[int, ...] = ()
    post_ids: tuple[int, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    pinned: bool = False


def _ancestor_ids(session: Session, user: User) -> list[int]:
    codes = [c for c in user.org_unit.path.strip("/").split("/") if c]
    prefixes = ["/" + "/".join(codes[:i]) + "/" for i in range(1, len(codes) + 1)]
    return list(session.scalars(select(OrgUnit.id).where(OrgUnit.path.in_(prefixes))))


def _for_user(session: Session, user: User, now: datetime) -> ColumnElement[bool]:
    """The condition an announcement meets when ``user`` should see it at ``now``."""
    units = _ancestor_ids(session, user)
    posts = [p.id for p in user.posts]
    target = AnnouncementTarget
    reaches = or_(
        Announcement.audience == "all",
        and_(Announcement.audience == "units", exists().where(
            target.announcement_id == Announcement.id, target.kind == "unit", target.ref_id.in_(units or [-1]))),
        and_(Announcement.audience == "posts", exists().where(
            target.announcement_id == Announcement.id, target.kind == "post", target.ref_id.in_(posts or [-1]))),
    )
    return and_(Announcement.withdrawn_at.is_(None), Announcement.published_at <= now,
                or_(Announcement.valid_from.is_(None), Announcement.valid_from <= now),
                or_(Announcement.valid_until.is_(None), Announcement.valid_until > now), reaches)


def _shown(condition: ColumnElement[bool], user: User) -> Select[tuple[Announcement, datetime | None]]:
    """The announcements meeting ``condition`` with when ``user`` read each: pinned first, then the newest."""
    return (select(Announcement, AnnouncementRead.read_at)
            .outerjoin(AnnouncementRead, and_(AnnouncementRead.announcement_id == Announcement.id,
                                              AnnouncementRead.user_id == user.id))
            .where(condition).order_by(Announcement.pinned.desc(), Announcement.published_at.desc(),
                                       Announcement.id.desc()))


def visible(session: Session, user: User, now: datetime, *, limit: int = 50,
            offset: int = 0) -> tuple[int, list[tuple[Announcement, datetime | None]]]:
    """What ``user`` is shown now — pinned first, then the newest — each with when the user read it."""
    condition = _for_user(session, user, now)
    total = session.scalar(select(func.count()).select_from(Announcement).where(condition)) or 0
    return total, list(session.execute(_shown(condition, user).offset(offset).limit(limit)).tuples().all())


def latest_with_unread(session: Session, user: User, now: datetime, *,
                       limit: int) -> tuple[int, list[tuple[Announcement, datetime | None]]]:
    """The portal's panel: how many of what ``user`` is shown now they have not read, and the first ``limit`` —
    the audience resolved once, two statements."""
    condition = _for_user(session, user, now)
    read = exists().where(AnnouncementRead.announcement_id == Announcement.id, AnnouncementRead.user_id == user.id)
    unread = session.scalar(select(func.count()).select_from(Announcement).where(condition, ~read)) or 0
    return unread, list(session.execute(_shown(condition, user).limit(limit)).tuples().all())


def open_for(session: Session, user: User, announcement_id: int, now: datetime) -> Announcement:
    """The announcement as ``user`` opens it: one they may see (administrators see every one); the first opening
    is their read receipt."""
    item = session.get(Announcement, announcement_id)
    if item is None:
        raise NotFound(f"announcement {announcement_id} does not exist")
    if user.role != "admin" and session.scalar(
            select(Announcement.id).where(Announcement.id == announcement_id, _for_user(session, user, now))) is None:
        raise NotFound(f"announcement {announcement_id} does not exist")
    if session.get(AnnouncementRead, (announcement_id, user.id)) is None and (
            user.role != "admin" or _reaches(session, item, user)):
        session.add(AnnouncementRead(announcement_id=announcement_id, user_id=user.id, read_at=now))
        session.flush()
    return item


def _reaches(session: Session, item: Announcement, user: User) -> bool:
    """Whether ``user`` is in the announcement's audience (an administrator's look is a receipt only then)."""
    return session.scalar(audience_users(session, item).with_only_columns(User.id).where(User.id == user.id)) \
        is not None


def audience_users(session: Session, item: Announcement):  # type: ignore[no-untyped-def]
    """The active users the announcement is for (a select of User)."""
    stmt = select(User).where(User.is_active.is_(True))
    refs = list(session.scalars(select(AnnouncementTarget.ref_id).where(
        AnnouncementTarget.announcement_id == item.id)))
    if item.audience == "units":
        paths = list(session.scalars(select(OrgUnit.path).where(OrgUnit.id.in_(refs or [-1]))))
        unit_ids = select(OrgUnit.id).where(or_(*[under(p) for p in paths])) if paths else None
        stmt = stmt.where(User.org_unit_id.in_(unit_ids) if unit_ids is not None else False)
    elif item.audience == "posts":
        stmt = stmt.where(User.id.in_(select(user_post.c.user_id).where(user_post.c.post_id.in_(refs or [-1]))))
    return stmt


@dataclass(frozen=True)
class Receipts:
    audience: int
    read: list[tuple[User, datetime]]
    unread: list[User]


def receipts(session: Session, announcement_id: int) -> Receipts:
    """Who of the audience has read it (when), and who has not."""
    item = session.get(Announcement, announcement_id)
    if item is None:
        raise NotFound(f"announcement {announcement_id} does not exist")
    people = list(session.scalars(audience_users(session, item).order_by(User.username)))
    read_at = dict(session.execute(select(AnnouncementRead.user_id, AnnouncementRead.read_at).where(
        AnnouncementRead.announcement_id == announcement_id)).tuples().all())
    return Receipts(len(people), [(u, read_at[u.id]) for u in people if u.id in read_at],
                    [u for u in people if u.id not in read_at])


def read_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(session.execute(select(AnnouncementRead.announcement_id, func.count()).where(
        AnnouncementRead.announcement_id.in_(ids)).group_by(AnnouncementRead.announcement_id)).tuples().all())


def managed(session: Session, *, offset: int, limit: int) -> tuple[int, list[Announcement]]:
    total = session.scalar(select(func.count()).select_from(Announcement)) or 0
    rows = session.scalars(select(Announcement).order_by(Announcement.published_at.desc(), Announcement.id.desc())
                           .offset(offset).limit(limit))
    return total, list(rows)


def targets(session: Session, announcement_id: int) -> tuple[list[int], list[int]]:
    rows = session.execute(select(AnnouncementTarget.kind, AnnouncementTarget.ref_id).where(
        AnnouncementTarget.announcement_id == announcement_id)).tuples().all()
    return [r for k, r in rows if k == "unit"], [r for k, r in rows if k == "post"]


def check(session: Session, draft: Draft) -> None:
    """Every field checked, each problem named, before anything is stored."""
    problems: dict[str, str] = {}
    if not draft.title.strip() or len(draft.title) > 200:
        problems["title"] = "required"
    if len(draft.body) > MAX_BODY:
        problems["body"] = "too long"
    if draft.audience not in AUDIENCES:
        problems["audience"] = "unknown"
    elif draft.audience == "units" and (not draft.unit_ids or session.scalar(
            select(func.count()).select_from(OrgUnit).where(OrgUnit.id.in_(draft.unit_ids))) != len(draft.unit_ids)):
        problems["units"] = "required"
    elif draft.audience == "posts" and (not draft.post_ids or session.scalar(
            select(func.count()).select_from(Post).where(Post.id.in_(draft.post_ids))) != len(draft.post_ids)):
        problems["posts"] = "required"
    if draft.valid_from and draft.valid_until and draft.valid_until <= draft.valid_from:
        problems["valid_until"] = "not after the start"
    if problems:
        raise InvalidInput(f"the announcement has bad fields: {sorted(problems)}", problems)


def save(session: Session, draft: Draft, *, author: User, now: datetime,
         announcement_id: int | None = None) -> Announcement:
    """Publish a new announcement, or change one (its receipts stay)."""
    check(session, draft)
    if announcement_id is None:
        item = Announcement(author_id=author.id, published_at=now)
        session.add(item)
    else:
        found = session.get(Announcement, announcement_id)
        if found is None:
            raise NotFound(f"announcement {announcement_id} does not exist")
        item = found
        item.updated_at = now
    item.title, item.body, item.audience = draft.title.strip(), draft.body.strip(), draft.audience
    item.valid_from, item.valid_until, item.pinned = draft.valid_from, draft.valid_until, draft.pinned
    session.flush()
    session.query(AnnouncementTarget).filter(AnnouncementTarget.announcement_id == item.id).delete()
    wanted = [("unit", i) for i in draft.unit_ids] if draft.audience == "units" else \
        [("post", i) for i in draft.post_ids] if draft.audience == "posts" else []
    session.add_all(AnnouncementTarget(announcement_id=item.id, kind=k, ref_id=i) for k, i in dict.fromkeys(wanted))
    session.flush()
    return item


def withdraw(session: Session, announcement_id: int, now: datetime) -> Announcement:
    item = session.get(Announcement, announcement_id)
    if item is None:
        raise NotFound(f"announcement {announcement_id} does not exist")
    item.withdrawn_at = item.withdrawn_at or now
    session.flush()
    return item
