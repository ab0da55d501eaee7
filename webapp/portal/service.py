"""Portal data: panel layout, notes, schedule. Functions take the session; views commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.identity.models import User
from webapp.portal.models import Note, ScheduleEntry, UserPreference

PANELS = ("todo", "tips", "org", "done", "announcements", "schedule", "notes", "profile")
LAYOUT_KEY = "portal.panels"


def panels_for(user: User) -> tuple[str, ...]:
    """The panels a user has: 本单位在办 (org) is for supervisors and administrators."""
    return PANELS if user.role in ("supervisor", "admin") else tuple(p for p in PANELS if p != "org")


def layout(session: Session, user: User) -> list[tuple[str, bool]]:
    """The user's panels in order with their visibility; panels added later appear at the end."""
    allowed = panels_for(user)
    pref = session.get(UserPreference, (user.id, LAYOUT_KEY))
    stored = [(p, bool(v)) for p, v in (pref.value if pref else []) if p in allowed]
    known = {p for p, _ in stored}
    return stored + [(p, True) for p in allowed if p not in known]


def change_layout(session: Session, user: User, panel: str, action: str) -> None:
    """Move a panel up or down, hide or show it."""
    if panel not in panels_for(user) or action not in ("up", "down", "hide", "show"):
        raise InvalidInput(f"cannot {action} panel {panel}", {"panel": "unknown"})
    panels = layout(session, user)
    i = next(i for i, (p, _) in enumerate(panels) if p == panel)
    if action == "up" and i > 0:
        panels[i - 1], panels[i] = panels[i], panels[i - 1]
    elif action == "down" and i < len(panels) - 1:
        panels[i + 1], panels[i] = panels[i], panels[i + 1]
    elif action in ("hide", "show"):
        panels[i] = (panel, action == "show")
    pref = session.get(UserPreference, (user.id, LAYOUT_KEY)) or UserPreference(user_id=user.id, key=LAYOUT_KEY)
    pref.value = [[p, v] for p, v in panels]
    session.add(pref)


def notes(session: Session, user: User) -> Sequence[Note]:
    return session.scalars(select(Note).where(Note.user_id == user.id).order_by(Note.updated_at.desc())).all()


def add_note(session: Session, user: User, body: str, now: datetime) -> Note:
    body = (body or "").strip()
    if not body or len(body) > 2000:
        raise InvalidInput("a note has 1-2000 characters", {"body": "required"})
    note = Note(user_id=user.id, body=body, updated_at=now)
    session.add(note)
    return note


def delete_note(session: Session, user: User, note_id: int) -> None:
    if not session.execute(delete(Note).where(Note.id == note_id, Note.user_id == user.id)).rowcount:
        raise NotFound(f"note {note_id} does not exist")


def schedule(session: Session, user: User, since: datetime) -> Sequence[ScheduleEntry]:
    return session.scalars(select(ScheduleEntry).where(ScheduleEntry.user_id == user.id,
                                                       ScheduleEntry.starts_at >= since)
                           .order_by(ScheduleEntry.starts_at).limit(50)).all()


def add_schedule(session: Session, user: User, title: str, starts_at: datetime) -> ScheduleEntry:
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise InvalidInput("a schedule entry needs a title of 1-200 characters", {"title": "required"})
    entry = ScheduleEntry(user_id=user.id, title=title, starts_at=starts_at)
    session.add(entry)
    return entry


def delete_schedule(session: Session, user: User, entry_id: int) -> None:
    if not session.execute(delete(ScheduleEntry).where(ScheduleEntry.id == entry_id,
                                                       ScheduleEntry.user_id == user.id)).rowcount:
        raise NotFound(f"schedule entry {entry_id} does not exist")
