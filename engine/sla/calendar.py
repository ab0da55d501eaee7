"""The working calendar (Asia/Shanghai): daily work windows, Chinese public holidays and make-up working days
(调休) from the ``chinesecalendar`` package, and per-date overrides an administrator enters.

Semantics (DESIGN.md, Time): on ``workday``, day units count working days — the deadline is the same clock
time on the n-th following working day — and hour/minute/second units count working time inside the daily
windows; a start outside the windows counts from the next window's opening.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from engine.errors import Code, EomsError
from engine.sla.durations import Duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOWS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
MAX_SCAN_DAYS = 3660


class CalendarNotCovered(EomsError):
    """The working calendar has no holiday data for a year that a deadline needs."""

    code = Code.CALENDAR_NOT_COVERED

    def __init__(self, year: int):
        self.year = year
        super().__init__(
            f"the working calendar has no holiday data for {year}: enter that year's holidays and make-up working "
            f"days (eoms calendar set …) and declare the year complete (eoms calendar declare-year {year})",
            details={"year": year},
        )


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """Parse ``"08:30-12:00,13:30-17:30"``; windows must be increasing and not overlap."""
    windows: list[tuple[time, time]] = []
    try:
        for part in text.split(","):
            start_text, end_text = part.strip().split("-")
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
            if end <= start or (windows and start < windows[-1][1]):
                raise ValueError
            windows.append((start, end))
    except ValueError:
        raise ValueError(f"'{text}' is not a list of increasing work windows like 08:30-12:00,13:30-17:30") from None
    if not windows:
        raise ValueError("at least one work window is needed")
    return tuple(windows)


class DayKinds:
    """Tells whether a date is a working day: overrides first, then the package, then declared years."""

    def __init__(self, overrides: Mapping[date, bool] | None = None, declared_years: frozenset[int] = frozenset()):
        self.overrides = dict(overrides or {})
        self.declared_years = declared_years

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day.year in self.declared_years:
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise CalendarNotCovered(day.year) from None

    def covers(self, year: int) -> bool:
        """True when every date of the year can be told."""
        if year in self.declared_years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True


@dataclass(frozen=True)
class WorkdayCalendar:
    """Counts working time. Every method takes and returns timezone-aware datetimes."""

    days: DayKinds
    windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS
    tz: ZoneInfo = SHANGHAI
    name: str = "workday"

    # -- building blocks ---------------------------------------------------------------------------------
    def _windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.days.is_workday(day):
            return []
        return [(datetime.combine(day, a, self.tz), datetime.combine(day, b, self.tz)) for a, b in self.windows]

    def _days_from(self, day: date) -> Callable[[], date]:
        current = {"d": day - timedelta(days=1), "n": 0}

        def next_day() -> date:
            current["n"] += 1
            if current["n"] > MAX_SCAN_DAYS:
                raise EomsError("no working time found within ten years: check the calendar overrides",
                                code=Code.CALENDAR_NOT_COVERED)
            current["d"] += timedelta(days=1)
            return current["d"]

        return next_day

    def next_working_instant(self, moment: datetime) -> datetime:
        """``moment`` if it lies inside a window, else the next window's opening."""
        local = moment.astimezone(self.tz)
        next_day = self._days_from(local.date())
        while True:
            for start, end in self._windows_on(next_day()):
                if local < end:
                    return max(local, start)

    # -- the Calendar protocol ---------------------------------------------------------------------------
    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time after ``start``."""
        local = start.astimezone(self.tz)
        remaining = amount
        if remaining <= timedelta(0):
            return self.next_working_instant(local).astimezone(UTC)
        next_day = self._days_from(local.date())
        while True:
            for window_start, window_end in self._windows_on(next_day()):
                if local >= window_end:
                    continue
                begin = max(local, window_start)
                available = window_end - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available

    def subtract_working(self, end: datetime, amount: timedelta) -> datetime:
        """The earliest instant with ``amount`` of working time between it and ``end`` (so one working hour
        before 14:30 is 12:00, the end of the morning window, not 13:30)."""
        local = end.astimezone(self.tz)
        remaining, exhausted = amount, amount <= timedelta(0)
        day = local.date()
        for _ in range(MAX_SCAN_DAYS):
            for window_start, window_end in reversed(self._windows_on(day)):
                if local <= window_start:
                    continue
                finish = min(local, window_end)
                if exhausted:
                    return finish.astimezone(UTC)
                available = finish - window_start
                if remaining < available:
                    return (finish - remaining).astimezone(UTC)
                remaining -= available
                exhausted = remaining <= timedelta(0)
            day -= timedelta(days=1)
        raise EomsError("no working time found within ten years: check the calendar overrides",
                        code=Code.CALENDAR_NOT_COVERED)

    def before(self, end: datetime, lead: Duration) -> datetime:
        """``lead`` before ``end``: whole working days back at the same clock time, then working time."""
        moment = end.astimezone(self.tz)
        if lead.days:
            day, counted = moment.date(), 0
            for _ in range(MAX_SCAN_DAYS):
                if counted >= lead.days:
                    break
                day -= timedelta(days=1)
                if self.days.is_workday(day):
                    counted += 1
            moment = datetime.combine(day, moment.timetz().replace(tzinfo=None), self.tz)
        if lead.clock:
            return self.subtract_working(moment, lead.clock)
        return moment.astimezone(UTC)

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside the windows between two instants (zero when ``end`` is not later)."""
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            for window_start, window_end in self._windows_on(day):
                overlap = min(b, window_end) - max(a, window_start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def due(self, start: datetime, limit: Duration) -> datetime:
        """The deadline of ``limit`` counted from ``start``."""
        moment = self.next_working_instant(start)
        if limit.days:
            day, counted = moment.date(), 0
            next_day = self._days_from(day + timedelta(days=1))
            while counted < limit.days:
                day = next_day()
                if self.days.is_workday(day):
                    counted += 1
            moment = datetime.combine(day, moment.timetz().replace(tzinfo=None), self.tz)
        if limit.clock:
            return self.add_working(moment, limit.clock)
        return moment.astimezone(UTC)
