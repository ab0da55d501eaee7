"""延期: what an extension asks for — ``by`` a duration or ``until`` a new deadline — and the deadline it gives
on the task's own calendar (days on ``workday`` are working days), worked out the same way for the preview, the
request and the grant.

Refusals are :class:`engine.errors.InvalidInput` (``input.invalid``) naming the field: ``by`` — ``required``,
``not a duration``, ``too large``; ``until`` — ``not a date and time``, ``not after the deadline``, ``in the
past``, ``too large``, ``one of by, until`` (both given). An extension may move the deadline at most
:data:`MAX_EXTENSION_DAYS` days (working days on ``workday``) past the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.errors import InvalidInput
from engine.sla.calendar import SHANGHAI
from engine.sla.deadlines import Calendar
from engine.sla.durations import Duration, parse_duration

MAX_EXTENSION_DAYS = 30
_CAP = timedelta(days=MAX_EXTENSION_DAYS)
_EDGE = timedelta(seconds=1)


@dataclass(frozen=True)
class Extension:
    """What was asked: ``by`` (the ISO duration as given, parsed into ``duration``) or ``until`` (UTC)."""

    by: str | None = None
    duration: Duration | None = None
    until: datetime | None = None

    @property
    def field(self) -> str:
        """The field a refusal names."""
        return "by" if self.duration is not None else "until"

    def payload(self) -> dict[str, str]:
        """What the history records of the question."""
        if self.duration is not None:
            return {"by": self.by or ""}
        assert self.until is not None
        return {"until": self.until.isoformat()}


def parse_until(value: datetime | str) -> datetime:
    """A new deadline as UTC: an aware datetime or ISO text (``2026-12-03T18:00``, ``2026-12-03 18:00``, with or
    without an offset); a time without an offset is Beijing time."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            raise InvalidInput(f"'{value}' is not a date and time like 2026-12-03T18:00",
                               {"until": "not a date and time"}) from None
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def parse_extension(by: str | None = None, until: datetime | str | None = None) -> Extension:
    """Exactly one of ``by`` (an ISO-8601 duration) and ``until`` (a new deadline)."""
    by = (by or "").strip() or None
    if isinstance(until, str):
        until = until.strip() or None
    if by is not None and until is not None:
        raise InvalidInput("give either by (a duration) or until (a new deadline), not both",
                           {"until": "one of by, until"})
    if until is not None:
        return Extension(until=parse_until(until))
    if by is None:
        raise InvalidInput("by (a duration) or until (a new deadline) is required", {"by": "required"})
    try:
        return Extension(by=by, duration=parse_duration(by))
    except ValueError as err:
        raise InvalidInput(str(err), {"by": "not a duration"}) from None


@dataclass(frozen=True)
class ExtensionPlan:
    """The deadline an extension gives: ``current`` → ``due_at`` (and the warning), ``added`` counted time on
    ``calendar``, whether the new deadline lies in working time; ``problem`` when a year lacked holiday data."""

    asked: Extension
    calendar: str
    current: datetime
    due_at: datetime
    warn_at: datetime | None
    added: timedelta
    in_working_time: bool
    problem: str | None = None

    @property
    def working(self) -> bool:
        """Counted on working time (windows, weekends and holidays skipped)."""
        return self.calendar != "24x7"


def plan_on(calendar: Calendar, name: str, asked: Extension, current: datetime, warn_at: datetime | None,
            now: datetime) -> ExtensionPlan:
    """The new deadline (and warning) of a task due at ``current``, counted on ``calendar``; refuses a new
    deadline that is not later than the current one or than ``now``, and one past :data:`MAX_EXTENSION_DAYS`."""
    if asked.duration is not None:
        due = calendar.due(current, asked.duration)
        warn = calendar.due(warn_at, asked.duration) if warn_at is not None else None
    else:
        assert asked.until is not None
        due = asked.until
        if due <= current:
            raise InvalidInput(f"the new deadline {due.isoformat()} is not later than the current one "
                               f"{current.isoformat()}", {"until": "not after the deadline"},
                               details={"due_at": current.isoformat()})
        if due <= now:
            raise InvalidInput(f"the new deadline {due.isoformat()} is in the past", {"until": "in the past"},
                               details={"now": now.isoformat()})
        moved = calendar.working_between(current, due)
        warn = min(calendar.add_working(warn_at, moved), due) if warn_at is not None else None
    # 30 working days never end sooner than 30 calendar days: only a deadline further away needs the count
    # (which may reach a year without holiday data)
    latest = calendar.due(current, Duration(days=MAX_EXTENSION_DAYS)) if due > current + _CAP else None
    if latest is not None and due > latest:
        raise InvalidInput(f"an extension may move the deadline at most {MAX_EXTENSION_DAYS} days, to "
                           f"{latest.isoformat()}", {asked.field: "too large"},
                           details={"max_days": MAX_EXTENSION_DAYS, "latest": latest.isoformat(), "calendar": name})
    inside = calendar.working_between(due - _EDGE, due + _EDGE) > timedelta(0)
    return ExtensionPlan(asked, name, current, due, warn, calendar.working_between(current, due), inside)
