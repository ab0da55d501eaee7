"""SLA service: the calendars deadlines are counted on, their administration, and task deadlines — the one
place a task's warn and due times are set, paused, shifted, extended and recounted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.sla.calendar import (
    DEFAULT_WINDOWS,
    SHANGHAI,
    CalendarNotCovered,
    DayKinds,
    WorkdayCalendar,
    parse_windows,
)
from engine.sla.deadlines import Calendar, ContinuousCalendar, Deadlines, Limit, StoredLimit, compute_deadlines
from engine.sla.durations import Duration, parse_duration
from engine.sla.extension import Extension, ExtensionPlan, plan_on
from engine.sla.models import CalendarDay, CalendarWindows, CalendarYear
from engine.tasks.models import HumanTask

T = TypeVar("T")


@dataclass(frozen=True)
class TaskDeadlines(Deadlines):
    """Deadlines plus, when the calendar lacked a year's data, why they were counted on plain weekdays."""

    problem: str | None = None


class SlaService:
    """Calendars (``workday``, ``24x7``) built from the database, and the deadlines of tasks."""

    def __init__(self, windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS):
        self.windows = windows
        self.continuous = ContinuousCalendar()

    # -- calendars ---------------------------------------------------------------------------------------
    def day_kinds(self, session: Session, *, assume_weekdays: frozenset[int] = frozenset()) -> DayKinds:
        overrides = dict(session.execute(select(CalendarDay.day, CalendarDay.is_workday)).tuples().all())
        declared = frozenset(session.scalars(select(CalendarYear.year)).all()) | assume_weekdays
        return DayKinds(overrides, declared)

    def calendar(self, session: Session, name: str) -> Calendar:
        """The calendar called ``name`` as the database defines it now."""
        if name == "24x7":
            return self.continuous
        if name == "workday":
            return WorkdayCalendar(self.day_kinds(session), self.work_windows(session))
        raise InvalidInput(f"calendar '{name}' is not one of workday, 24x7", {"calendar": "unknown"})

    def _weekday_fallback(self, session: Session) -> WorkdayCalendar:
        return WorkdayCalendar(self.day_kinds(session, assume_weekdays=frozenset(range(1900, 2200))),
                               self.work_windows(session))

    def work_windows(self, session: Session) -> tuple[tuple[time, time], ...]:
        """The ``workday`` calendar's daily windows: as an administrator set them, else as configured."""
        stored = session.get(CalendarWindows, "workday")
        return parse_windows(stored.windows) if stored is not None else self.windows

    def set_work_windows(self, session: Session, text: str, *, actor_id: int | None = None) -> str:
        """New daily windows for ``workday`` (``08:30-12:00,13:30-17:30``); deadlines counted from now on use
        them. Returns the windows as stored."""
        try:
            windows = parse_windows(text)
        except ValueError as err:
            raise InvalidInput(str(err), {"windows": "invalid"}) from None
        canonical = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in windows)
        row = session.get(CalendarWindows, "workday") or CalendarWindows(calendar="workday")
        row.windows, row.updated_by_id = canonical, actor_id
        session.add(row)
        session.flush()
        return canonical

    def _counted(self, session: Session, name: str | None, use: Callable[[Calendar], T]) -> tuple[T, str | None]:
        """``use`` applied to the calendar called ``name`` (``24x7`` when None). A year without holiday data does
        not stop the work: it is counted on plain weekdays, and the second value says why."""
        try:
            return use(self.calendar(session, name or "24x7")), None
        except CalendarNotCovered as err:
            return use(self._weekday_fallback(session)), f"{err}; until then deadlines are counted on Monday–Friday"

    def deadlines(self, session: Session, props: Limit, start: datetime,
                  paused: timedelta = timedelta(0)) -> TaskDeadlines:
        """Warn and due time of a task arriving at ``start`` (moved later by ``paused`` counted time);
        ``problem`` says when a year lacked holiday data and plain weekdays were counted instead."""
        if props.time_limit is None:
            return TaskDeadlines(None, None)  # no limit: nothing to count, no calendar to read

        def count(calendar: Calendar) -> Deadlines:
            times = compute_deadlines(props, start, calendar)
            if paused <= timedelta(0):
                return times
            return Deadlines(times.warn_at and calendar.add_working(times.warn_at, paused),
                             times.due_at and calendar.add_working(times.due_at, paused))

        times, problem = self._counted(session, props.calendar, count)
        return TaskDeadlines(times.warn_at, times.due_at, problem)

    def counted_time(self, session: Session, calendar_name: str | None, start: datetime, end: datetime) -> timedelta:
        """The time between ``start`` and ``end`` that counts on the calendar (working time on ``workday``): a
        pause, or a step's handling time."""
        return self._counted(session, calendar_name, lambda c: c.working_between(start, end))[0]

    def shift(self, session: Session, calendar_name: str | None, moment: datetime | None,
              paused: timedelta) -> datetime | None:
        """``moment`` moved later by ``paused`` counted time."""
        if moment is None or paused <= timedelta(0):
            return moment
        return self._counted(session, calendar_name, lambda c: c.add_working(moment, paused))[0]

    def extend(self, session: Session, calendar_name: str | None, moment: datetime, extra: Duration) -> datetime:
        """``moment`` plus ``extra`` counted on the task's calendar (an extension of its deadline)."""
        return self._counted(session, calendar_name, lambda c: c.due(moment, extra))[0]

    # -- a task's clock ----------------------------------------------------------------------------------
    def pause(self, row: HumanTask, now: datetime) -> None:
        """挂起: the task's clock stops at ``now``."""
        row.suspended_at = now

    def resume(self, session: Session, row: HumanTask, now: datetime) -> timedelta:
        """The clock runs again: warn and due time move later by the paused counted time, which is returned."""
        assert row.suspended_at is not None
        paused = self.counted_time(session, row.calendar, row.suspended_at, now)
        row.due_at = self.shift(session, row.calendar, row.due_at, paused)
        row.warn_at = self.shift(session, row.calendar, row.warn_at, paused)
        row.paused_seconds += int(paused.total_seconds())
        row.suspended_at = None
        return paused

    def plan_extension(self, session: Session, row: HumanTask, asked: Extension, now: datetime) -> ExtensionPlan:
        """The deadline (and warning) an extension would give the task, on its own calendar; refuses one that is
        not later than the current deadline or ``now``, or that goes too far (``engine.sla.extension``)."""
        assert row.due_at is not None
        name = row.calendar or "24x7"
        current, warn = row.due_at, row.warn_at
        plan, problem = self._counted(session, name, lambda c: plan_on(c, name, asked, current, warn, now))
        return replace(plan, problem=problem) if problem else plan

    def apply_extension(self, row: HumanTask, plan: ExtensionPlan, now: datetime) -> None:
        """延期 granted: the planned deadline and warning; a warning or overdue flag that no longer applies is
        cleared, so the new deadline is watched again."""
        row.due_at, row.warn_at = plan.due_at, plan.warn_at
        if row.overdue_at is not None and row.due_at > now:
            row.overdue_at = None
        if row.warned_at is not None and row.warn_at is not None and row.warn_at > now:
            row.warned_at = None

    def extend_task(self, session: Session, row: HumanTask, extra: Duration, now: datetime) -> None:
        """延期 by ``extra`` on the task's calendar (:meth:`plan_extension` then :meth:`apply_extension`)."""
        self.apply_extension(row, self.plan_extension(session, row, Extension(by="", duration=extra), now), now)

    def recount(self, session: Session, row: HumanTask, step: Limit) -> str | None:
        """Count the task's deadlines again from its arrival (e.g. once the calendar has a missing year), with
        the limit and calendar stored on the row and the step's warning settings; returns the problem when the
        calendar still cannot count them (the row is then left as it is)."""
        times = self.deadlines(session, stored_limit(step, row), row.created_at, timedelta(seconds=row.paused_seconds))
        if times.problem is None:
            row.warn_at, row.due_at = times.warn_at, times.due_at
        return times.problem

    # -- administration ----------------------------------------------------------------------------------
    def set_day(self, session: Session, day: date, *, is_workday: bool, note: str = "",
                actor_id: int | None = None) -> CalendarDay:
        row = session.get(CalendarDay, day) or CalendarDay(day=day)
        row.is_workday, row.note, row.updated_by_id = is_workday, note[:200], actor_id
        session.add(row)
        session.flush()
        return row

    def clear_day(self, session: Session, day: date) -> bool:
        return bool(session.execute(delete(CalendarDay).where(CalendarDay.day == day)).rowcount)

    def declare_year(self, session: Session, year: int, *, note: str = "", actor_id: int | None = None) -> None:
        if not 2000 <= year <= 2100:
            raise InvalidInput(f"year {year} is out of range 2000-2100", {"year": "out of range"})
        if session.get(CalendarYear, year) is None:
            session.add(CalendarYear(year=year, note=note[:200], declared_by_id=actor_id))
            session.flush()

    def overrides(self, session: Session, year: int | None = None) -> Sequence[CalendarDay]:
        query = select(CalendarDay).order_by(CalendarDay.day)
        if year is not None:
            query = query.where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        return session.scalars(query).all()

    def uncovered_years(self, session: Session, start: date, days: int) -> list[int]:
        """Years between ``start`` and ``start + days`` the calendar cannot tell working days for."""
        kinds = self.day_kinds(session)
        years = range(start.year, (start + timedelta(days=days)).year + 1)
        return [y for y in years if not kinds.covers(y)]

    def today(self, now: datetime) -> date:
        return now.astimezone(SHANGHAI).date()


def stored_limit(step: Limit, row: HumanTask) -> StoredLimit:
    """The step's warning settings with the limit and calendar the row was given when it arrived."""
    return StoredLimit(time_limit=parse_duration(row.time_limit) if row.time_limit else None,
                       warn_before=step.warn_before, warn_percent=step.warn_percent,
                       calendar=row.calendar or step.calendar)
