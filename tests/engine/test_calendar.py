"""The working calendar (Asia/Shanghai): a table of deadlines worked out by hand, working-time arithmetic,
years without holiday data, overrides, work windows; then the same rules through the engine: deadlines on
human-task rows, suspend/resume moving them by the paused working time, and the 'calendar' incident of a
task whose deadline needs a year the holiday package does not cover.

Default windows: 08:30–12:00 and 13:30–17:30 (7.5 working hours a day). 2026 per ``chinesecalendar`` 1.11:
New Year 01-01..03 (Sun 01-04 works), Spring Festival 02-15..23 (Sat 02-14 and Sat 02-28 work), Mid-autumn
Fri 09-25, National Day 10-01..07 (Sun 09-20 and Sat 10-10 work).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import select

from engine.errors import BpmnValidationError, InvalidState, NotAllowed
from engine.history.models import HistoryEvent
from engine.repository.properties import TaskProperties
from engine.runtime.models import Incident, ProcessInstance
from engine.sla.calendar import SHANGHAI, CalendarNotCovered, DayKinds, WorkdayCalendar, parse_windows
from engine.sla.deadlines import ContinuousCalendar, compute_deadlines
from engine.sla.durations import parse_duration
from engine.tasks.models import HumanTask
from tests.conftest import bpmn, user

WORKDAY = WorkdayCalendar(DayKinds())
CONTINUOUS = ContinuousCalendar()


def sh(text: str) -> datetime:
    """'2026-02-13 16:00' as an aware Asia/Shanghai time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# -- the package's data the table relies on ------------------------------------------------------------------
def test_the_holiday_package_knows_the_2026_days_the_table_relies_on():
    kinds = {
        date(2026, 2, 14): True,  # Sat, 调休 before the Spring Festival
        date(2026, 2, 28): True,  # Sat, 调休 after it
        date(2026, 2, 15): False, date(2026, 2, 23): False, date(2026, 2, 24): True,
        date(2026, 1, 1): False, date(2026, 1, 2): False, date(2026, 1, 4): True,  # New Year, Sun 01-04 works
        date(2026, 9, 20): True, date(2026, 9, 25): False,  # Sun 调休, Mid-autumn
        date(2026, 10, 1): False, date(2026, 10, 7): False, date(2026, 10, 8): True, date(2026, 10, 10): True,
        date(2026, 3, 7): False, date(2026, 3, 8): False, date(2026, 3, 3): True,  # an ordinary week
    }
    assert {d: bool(chinese_calendar.is_workday(d)) for d in kinds} == kinds
    assert {d: WORKDAY.days.is_workday(d) for d in kinds} == kinds
    assert [d for d in (date(2026, 2, 15) + timedelta(n) for n in range(9)) if WORKDAY.days.is_workday(d)] == []


# -- the deadline table --------------------------------------------------------------------------------------
# (start, limit, calendar, expected, reason), all Asia/Shanghai
TABLE = [
    # the design's examples
    ("2026-02-13 16:00", "PT4H", "workday", "2026-02-14 11:00", "design: 1.5 h Fri, 2.5 h on the 调休 Sat 02-14"),
    ("2026-02-13 10:00", "P2D", "workday", "2026-02-24 10:00", "design: day 1 调休 Sat 02-14, 02-15..23 off, day 2"),
    # the Spring Festival span
    ("2026-02-14 10:00", "P1D", "workday", "2026-02-24 10:00", "the whole festival 02-15..23 is skipped"),
    ("2026-02-14 16:00", "PT4H", "workday", "2026-02-24 11:00", "1.5 h on the 调休 Sat, none in the festival, 2.5 h"),
    ("2026-02-18 10:00", "PT1H", "workday", "2026-02-24 09:30", "a start inside the festival counts from Tue 08:30"),
    ("2026-02-23 17:00", "PT30M", "workday", "2026-02-24 09:00", "last festival day: counts from Tue 08:30"),
    # P1D from a day off
    ("2026-02-18 10:00", "P1D", "workday", "2026-02-25 08:30", "from a holiday: counts from Tue 08:30; +1 working day"),
    ("2026-03-01 10:00", "P1D", "workday", "2026-03-03 08:30", "from a Sunday: counts from Mon 08:30; +1 working day"),
    # the 调休 Saturday after the festival
    ("2026-02-27 16:00", "PT4H", "workday", "2026-02-28 11:00", "Sat 02-28 is a 调休 working day: 1.5 h Fri, 2.5 h"),
    ("2026-02-27 10:00", "P1D", "workday", "2026-02-28 10:00", "the working day after Fri 02-27 is Sat 02-28"),
    ("2026-02-28 10:00", "P1D", "workday", "2026-03-02 10:00", "Sun 03-01 is a rest day again"),
    # the lunch break
    ("2026-03-03 11:30", "PT1H", "workday", "2026-03-03 14:00", "30 min before lunch, 30 min after 13:30"),
    ("2026-03-03 12:30", "PT1H", "workday", "2026-03-03 14:30", "a start in the break counts from 13:30"),
    ("2026-03-03 12:00", "PT1H", "workday", "2026-03-03 14:30", "12:00 is already the break"),
    ("2026-03-03 11:30", "PT30M", "workday", "2026-03-03 12:00", "ends exactly when the window closes, not at 13:30"),
    ("2026-03-03 12:30", "P1D", "workday", "2026-03-04 13:30", "from the break: counts from 13:30, keeps 13:30"),
    # an ordinary weekend
    ("2026-03-06 16:00", "PT4H", "workday", "2026-03-09 11:00", "1.5 h Fri, weekend 03-07/08 skipped, 2.5 h Mon"),
    ("2026-03-06 10:00", "P1D", "workday", "2026-03-09 10:00", "the working day after Fri is Mon"),
    # starts outside the windows
    ("2026-03-03 07:00", "PT2H", "workday", "2026-03-03 10:30", "before 08:30: counts from 08:30"),
    ("2026-03-03 07:00", "P1D", "workday", "2026-03-04 08:30", "before 08:30: counts from 08:30, next working day"),
    ("2026-03-03 18:00", "PT2H", "workday", "2026-03-04 10:30", "after 17:30: counts from Wed 08:30"),
    ("2026-03-03 17:30", "PT1H", "workday", "2026-03-04 09:30", "17:30 itself is past the window"),
    ("2026-03-03 18:00", "P1D", "workday", "2026-03-05 08:30", "after 17:30: counts from Wed 08:30; +1 day Thu"),
    ("2026-03-03 17:29:59", "PT1S", "workday", "2026-03-03 17:30", "the last working second of the day"),
    # whole days of working time
    ("2026-03-02 08:30", "PT7H30M", "workday", "2026-03-02 17:30", "one full working day ends at 17:30 the same day"),
    ("2026-03-02 08:30", "PT7H31M", "workday", "2026-03-03 08:31", "one minute more runs into Tue"),
    ("2026-03-02 09:00", "PT8H", "workday", "2026-03-03 09:30", "3 h + 4 h Mon, 1 h Tue"),
    # National Day 2026 and the days around it
    ("2026-09-30 16:00", "PT4H", "workday", "2026-10-08 11:00", "10-01..07 off (03/04 weekend): 1.5 h Wed, 2.5 h Thu"),
    ("2026-09-30 10:00", "P2D", "workday", "2026-10-09 10:00", "day 1 Thu 10-08, day 2 Fri 10-09"),
    ("2026-09-30 10:00", "P3D", "workday", "2026-10-10 10:00", "day 3 is Sat 10-10, a 调休 working day"),
    ("2026-09-18 16:00", "PT4H", "workday", "2026-09-20 11:00", "Sat 09-19 off, Sun 09-20 is a 调休 working day"),
    ("2026-09-24 10:00", "P1D", "workday", "2026-09-28 10:00", "Fri 09-25 Mid-autumn, then the weekend"),
    # a year boundary inside covered data
    ("2025-12-31 16:00", "PT4H", "workday", "2026-01-04 11:00", "New Year 01-01..03 off, Sun 01-04 is 调休 working"),
    ("2025-12-31 10:00", "P1D", "workday", "2026-01-04 10:00", "the working day after 12-31 is Sun 01-04"),
    # days and clock time together, weeks
    ("2026-03-03 16:00", "P1DT2H", "workday", "2026-03-05 09:00", "P1D: Wed 16:00; PT2H: 1.5 h Wed, 0.5 h Thu"),
    ("2026-03-03 10:00", "P1DT2H", "workday", "2026-03-04 12:00", "P1D: Wed 10:00; PT2H ends as the window closes"),
    ("2026-02-13 16:00", "P1DT4H", "workday", "2026-02-24 11:00", "P1D: Sat 16:00 (调休); PT4H: 1.5 h Sat, 2.5 h Tue"),
    ("2026-03-02 09:00", "P1W", "workday", "2026-03-11 09:00", "P1W is seven working days: 03-03..06, 03-09..11"),
    # 24x7: every second counts, holidays and nights included
    ("2026-02-13 16:00", "PT4H", "24x7", "2026-02-13 20:00", "24x7: four hours on the clock"),
    ("2026-02-13 10:00", "P2D", "24x7", "2026-02-15 10:00", "24x7: the Spring Festival counts"),
    ("2026-03-03 12:30", "PT1H", "24x7", "2026-03-03 13:30", "24x7: the lunch break counts"),
    ("2026-03-03 16:00", "P1DT2H", "24x7", "2026-03-04 18:00", "24x7: 26 hours"),
    ("2026-03-02 09:00", "P1W", "24x7", "2026-03-09 09:00", "24x7: seven days"),
    ("2025-12-31 16:00", "PT4H", "24x7", "2025-12-31 20:00", "24x7: New Year's Eve evening"),
]


@pytest.mark.parametrize(("start", "limit", "calendar", "expected", "reason"), TABLE,
                         ids=[f"{r[0]}+{r[1]}@{r[2]}" for r in TABLE])
def test_deadline_table(start: str, limit: str, calendar: str, expected: str, reason: str):
    cal = WORKDAY if calendar == "workday" else CONTINUOUS
    due = cal.due(sh(start), parse_duration(limit))
    assert due.tzinfo is not None
    assert due == sh(expected), f"{reason}: got {due.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S %a}"


def test_the_same_start_and_limit_differ_between_calendars():
    for start, limit in (("2026-02-13 16:00", "PT4H"), ("2026-02-13 10:00", "P2D")):
        work = WORKDAY.due(sh(start), parse_duration(limit))
        continuous = CONTINUOUS.due(sh(start), parse_duration(limit))
        assert continuous < work
    assert CONTINUOUS.working_between(sh("2026-02-13 16:00"), sh("2026-02-24 10:00")) == timedelta(hours=258)
    assert WORKDAY.working_between(sh("2026-02-13 16:00"), sh("2026-02-24 10:00")) == timedelta(hours=10.5)


# -- working time arithmetic ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end", "hours", "reason"), [
    ("2026-02-13 16:00", "2026-02-24 10:00", 10.5, "1.5 Fri + 7.5 Sat 02-14 + 1.5 Tue, festival empty"),
    ("2026-03-02 00:00", "2026-03-07 00:00", 37.5, "five ordinary working days"),
    ("2026-03-07 00:00", "2026-03-09 00:00", 0, "a weekend has no working time"),
    ("2026-02-15 00:00", "2026-02-24 00:00", 0, "the Spring Festival has no working time"),
    ("2026-03-03 12:00", "2026-03-03 13:30", 0, "the lunch break"),
    ("2026-03-03 11:00", "2026-03-03 14:00", 1.5, "1 h before the break, 0.5 h after"),
    ("2026-03-03 17:00", "2026-03-04 09:00", 1, "0.5 h in the evening, 0.5 h next morning"),
    ("2026-03-04 09:00", "2026-03-03 17:00", 0, "end before start"),
    ("2025-12-31 08:30", "2026-01-05 08:30", 15, "12-31 and the 调休 Sun 01-04"),
])
def test_working_between(start: str, end: str, hours: float, reason: str):
    assert WORKDAY.working_between(sh(start), sh(end)) == timedelta(hours=hours), reason


ROUND_TRIP_STARTS = ["2026-02-13 10:00", "2026-02-13 16:00", "2026-03-03 07:00", "2026-03-03 12:30",
                     "2026-02-18 10:00", "2026-09-30 11:45", "2025-12-31 17:00"]
ROUND_TRIP_AMOUNTS = [timedelta(minutes=1), timedelta(minutes=45), timedelta(hours=3, minutes=30),
                      timedelta(hours=7, minutes=30), timedelta(hours=11), timedelta(hours=40, seconds=7)]


@pytest.mark.parametrize("start", ROUND_TRIP_STARTS)
def test_add_working_then_working_between_gives_the_amount_back(start: str):
    for amount in ROUND_TRIP_AMOUNTS:
        end = WORKDAY.add_working(sh(start), amount)
        assert WORKDAY.working_between(sh(start), end) == amount, (start, amount)
        assert end > sh(start)
        # the end is the earliest such instant: one second earlier is one working second short
        assert WORKDAY.working_between(sh(start), end - timedelta(seconds=1)) == amount - timedelta(seconds=1)


@pytest.mark.parametrize(("start", "end"), [
    ("2026-02-13 10:00", "2026-02-24 10:00"),
    ("2026-03-03 12:30", "2026-03-05 16:15"),
    ("2026-03-03 07:00", "2026-03-03 08:31"),
    ("2025-12-31 09:00", "2026-01-04 17:30"),
    ("2026-09-30 16:00", "2026-10-10 11:11:11"),
])
def test_working_between_then_add_working_lands_on_the_end(start: str, end: str):
    """Ends inside a window (or at its close) are reached exactly."""
    assert WORKDAY.add_working(sh(start), WORKDAY.working_between(sh(start), sh(end))) == sh(end)


def test_add_working_of_nothing_is_the_next_working_instant():
    assert WORKDAY.add_working(sh("2026-03-03 12:30"), timedelta(0)) == sh("2026-03-03 13:30")
    assert WORKDAY.add_working(sh("2026-03-03 10:00"), timedelta(0)) == sh("2026-03-03 10:00")
    assert WORKDAY.next_working_instant(sh("2026-02-13 17:30")) == sh("2026-02-14 08:30")
    assert WORKDAY.next_working_instant(sh("2026-02-14 17:30")) == sh("2026-02-24 08:30")


# -- deadlines of a task: due and warn ------------------------------------------------------------------------
def props(limit: str, *, warn_before: str | None = None, warn_percent: int | None = None,
          calendar: str = "workday") -> TaskProperties:
    return TaskProperties(time_limit=parse_duration(limit),
                          warn_before=parse_duration(warn_before) if warn_before else None,
                          warn_percent=warn_percent, calendar=calendar)


def test_compute_deadlines_on_the_working_calendar():
    # P2D from Fri 02-13 10:00: due Tue 02-24 10:00; 4 working hours earlier: 1.5 h Tue, 2.5 h back from Sat 17:30
    times = compute_deadlines(props("P2D", warn_before="PT4H"), sh("2026-02-13 10:00"), WORKDAY)
    assert (times.due_at, times.warn_at) == (sh("2026-02-24 10:00"), sh("2026-02-14 15:00"))
    # PT8H from Mon 09:00: due Tue 09:30; half of 8 working hours = 4 h: 3 h morning, 1 h after lunch
    times = compute_deadlines(props("PT8H", warn_percent=50), sh("2026-03-02 09:00"), WORKDAY)
    assert (times.due_at, times.warn_at) == (sh("2026-03-03 09:30"), sh("2026-03-02 14:30"))
    # 24x7: plain clock arithmetic
    times = compute_deadlines(props("PT8H", warn_percent=50, calendar="24x7"), sh("2026-03-02 09:00"), CONTINUOUS)
    assert (times.due_at, times.warn_at) == (sh("2026-03-02 17:00"), sh("2026-03-02 13:00"))
    times = compute_deadlines(props("P2D", warn_before="PT4H", calendar="24x7"), sh("2026-02-13 10:00"), CONTINUOUS)
    assert (times.due_at, times.warn_at) == (sh("2026-02-15 10:00"), sh("2026-02-15 06:00"))
    # no limit, no deadlines
    empty = compute_deadlines(TaskProperties(), sh("2026-03-02 09:00"), WORKDAY)
    assert (empty.due_at, empty.warn_at) == (None, None)


def test_a_warning_lead_in_days_counts_working_days():
    """Day units count working days on ``workday``: P2D due Wed 03-04 10:00, warned P1D before → Tue 03-03 10:00.

    (Counting the lead as 24 hours of working time would exceed the whole 15 h budget and warn at once.)
    """
    times = compute_deadlines(props("P2D", warn_before="P1D"), sh("2026-03-02 10:00"), WORKDAY)
    assert times.due_at == sh("2026-03-04 10:00")
    assert times.warn_at == sh("2026-03-03 10:00")


# -- a year without holiday data -----------------------------------------------------------------------------
def test_a_year_the_package_does_not_cover_must_be_declared():
    with pytest.raises(CalendarNotCovered) as caught:
        WORKDAY.due(sh("2026-12-31 16:00"), parse_duration("PT4H"))
    assert caught.value.year == 2027
    assert "2027" in str(caught.value) and "eoms calendar declare-year 2027" in str(caught.value)
    with pytest.raises(CalendarNotCovered, match="2027"):
        WORKDAY.working_between(sh("2026-12-31 16:00"), sh("2027-01-04 11:00"))
    # a deadline that stays inside 2026 needs no 2027 data
    assert WORKDAY.due(sh("2026-12-31 10:00"), parse_duration("PT4H")) == sh("2026-12-31 15:30")
    assert (WORKDAY.days.covers(2026), WORKDAY.days.covers(2027)) == (True, False)

    declared = WorkdayCalendar(DayKinds(declared_years=frozenset({2027})))
    assert declared.days.covers(2027)
    assert date(2027, 1, 1).weekday() == 4  # a Friday: a working day unless an override says otherwise
    assert declared.due(sh("2026-12-31 16:00"), parse_duration("PT4H")) == sh("2027-01-01 11:00")
    assert declared.due(sh("2026-12-31 10:00"), parse_duration("P1D")) == sh("2027-01-01 10:00")
    assert declared.due(sh("2027-01-01 16:00"), parse_duration("PT4H")) == sh("2027-01-04 11:00")  # weekend

    new_year = WorkdayCalendar(DayKinds({date(2027, 1, 1): False}, frozenset({2027})))
    assert new_year.due(sh("2026-12-31 16:00"), parse_duration("PT4H")) == sh("2027-01-04 11:00")
    assert new_year.due(sh("2026-12-31 10:00"), parse_duration("P1D")) == sh("2027-01-04 10:00")
    # an override alone does not make the rest of the year known
    with pytest.raises(CalendarNotCovered):
        WorkdayCalendar(DayKinds({date(2027, 1, 1): False})).due(sh("2026-12-31 16:00"), parse_duration("PT4H"))


# -- overrides win over the package --------------------------------------------------------------------------
def test_overrides_win_over_the_package():
    extra_holiday = WorkdayCalendar(DayKinds({date(2026, 3, 3): False}))
    assert extra_holiday.due(sh("2026-03-02 16:00"), parse_duration("PT4H")) == sh("2026-03-04 11:00")
    assert extra_holiday.due(sh("2026-03-02 10:00"), parse_duration("P1D")) == sh("2026-03-04 10:00")
    assert extra_holiday.due(sh("2026-03-03 10:00"), parse_duration("PT1H")) == sh("2026-03-04 09:30")
    assert extra_holiday.working_between(sh("2026-03-02 00:00"), sh("2026-03-05 00:00")) == timedelta(hours=15)
    assert WORKDAY.due(sh("2026-03-02 16:00"), parse_duration("PT4H")) == sh("2026-03-03 11:00")  # without it

    sunday_works = WorkdayCalendar(DayKinds({date(2026, 3, 8): True}))
    assert sunday_works.due(sh("2026-03-06 16:00"), parse_duration("PT4H")) == sh("2026-03-08 11:00")
    assert sunday_works.due(sh("2026-03-06 10:00"), parse_duration("P1D")) == sh("2026-03-08 10:00")
    assert sunday_works.due(sh("2026-03-06 10:00"), parse_duration("P2D")) == sh("2026-03-09 10:00")

    # a package holiday made a working day, a package 调休 Saturday made a holiday
    festival_monday = WorkdayCalendar(DayKinds({date(2026, 2, 16): True}))
    assert festival_monday.due(sh("2026-02-14 16:00"), parse_duration("PT4H")) == sh("2026-02-16 11:00")
    no_saturday = WorkdayCalendar(DayKinds({date(2026, 2, 14): False}))
    assert no_saturday.due(sh("2026-02-13 16:00"), parse_duration("PT4H")) == sh("2026-02-24 11:00")
    assert no_saturday.due(sh("2026-02-13 10:00"), parse_duration("P2D")) == sh("2026-02-25 10:00")


# -- work windows --------------------------------------------------------------------------------------------
def test_parse_windows_accepts_a_list_of_increasing_windows():
    assert parse_windows("09:00-12:00,14:00-18:00") == ((time(9), time(12)), (time(14), time(18)))
    assert parse_windows(" 08:30 - 12:00 , 13:30-17:30 ") == ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))
    assert parse_windows("00:00-23:59") == ((time(0), time(23, 59)),)


@pytest.mark.parametrize("text", [
    "09:00-12:00,11:00-13:00",  # overlapping
    "14:00-18:00,09:00-12:00",  # not increasing
    "12:00-09:00",  # ends before it starts
    "09:00-09:00",  # empty window
    "",  # nothing
    "   ",
    "09:00-12:00,",  # a trailing empty part
    "nine to noon",
    "09:00-12:00-13:00",
    "25:00-26:00",
    "09:00",
])
def test_parse_windows_rejects_bad_text(text: str):
    with pytest.raises(ValueError, match="work window"):
        parse_windows(text)


def test_custom_windows_give_different_deadlines():
    custom = WorkdayCalendar(DayKinds(), parse_windows("09:00-12:00,14:00-18:00"))  # 7 h a day
    start = sh("2026-03-02 08:45")
    assert custom.due(start, parse_duration("PT4H")) == sh("2026-03-02 15:00")  # 3 h to noon, 1 h from 14:00
    assert WORKDAY.due(start, parse_duration("PT4H")) == sh("2026-03-02 14:15")  # 3.25 h to noon, 0.75 h from 13:30
    assert custom.due(start, parse_duration("P1D")) == sh("2026-03-03 09:00")  # counts from the 09:00 opening
    assert WORKDAY.due(start, parse_duration("P1D")) == sh("2026-03-03 08:45")
    assert custom.due(sh("2026-03-02 17:45"), parse_duration("PT1H")) == sh("2026-03-03 09:45")  # 15 min + 45 min
    assert WORKDAY.due(sh("2026-03-02 17:45"), parse_duration("PT1H")) == sh("2026-03-03 09:30")
    assert custom.due(sh("2026-03-02 13:00"), parse_duration("PT1H")) == sh("2026-03-02 15:00")
    assert custom.working_between(sh("2026-03-02 00:00"), sh("2026-03-03 00:00")) == timedelta(hours=7)
    # holidays still apply
    assert custom.due(sh("2026-02-13 17:00"), parse_duration("PT4H")) == sh("2026-02-14 12:00")


# ============================================================================================================
# through the engine
# ============================================================================================================
def at(text: str) -> datetime:
    """A Shanghai wall-clock time as the UTC instant the FakeClock holds."""
    return sh(text).astimezone(UTC)


def start(pe, db, process_key: str, business_key: str, starter: str = "alice"):  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, process_key, business_key=business_key, data={}, actor=user(s, pe, starter))
        return result.instance.id, [t.id for t in result.tasks], result.incident and result.incident.id


def task_row(db, task_id: int) -> HumanTask:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        return row


def act(pe, db, method: str, task_id: int, username: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, user(s, pe, username), *args, **kwargs)


def events(pe, db, instance_id: int, event_type: str) -> list[HistoryEvent]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return [e for e in pe.history.timeline(s, instance_id) if e.event_type == event_type]


def uid(pe, db, username: str) -> int:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        return user(s, pe, username).id


def test_task_row_gets_due_and_warn_times_from_the_working_calendar(pe, db, deploy, clock):
    deploy("calendar/limit_p2d.bpmn")
    clock.now = at("2026-02-13 10:00")
    instance_a, (task_a,), incident = start(pe, db, "cal_p2d", "WO-A")
    assert incident is None
    clock.now = at("2026-02-13 16:00")
    _, (task_b,), _ = start(pe, db, "cal_p2d", "WO-B")

    a = task_row(db, task_a)
    assert (a.time_limit, a.calendar, a.created_at) == ("P2D", "workday", at("2026-02-13 10:00"))
    assert a.due_at == sh("2026-02-24 10:00")  # day 1 the 调休 Sat, day 2 Tue after the festival
    assert a.warn_at == sh("2026-02-14 15:00")  # 4 working hours earlier: 1.5 h Tue, 2.5 h Sat afternoon
    b = task_row(db, task_b)
    assert b.due_at == sh("2026-02-24 16:00")
    assert b.warn_at == sh("2026-02-24 10:30")  # 2.5 h Tue afternoon, 1.5 h Tue morning
    (created,) = events(pe, db, instance_a, "task_created")
    assert created.payload["due_at"] == sh("2026-02-24 10:00").astimezone(UTC).isoformat()


def test_warn_percent_on_working_hours(pe, db, deploy, clock):
    deploy("calendar/percent.bpmn")
    assert clock.now == at("2026-03-02 09:00")
    _, (task_id,), _ = start(pe, db, "cal_percent", "WO-1")
    row = task_row(db, task_id)
    assert (row.time_limit, row.calendar) == ("PT8H", "workday")  # workday is the default calendar
    assert row.due_at == sh("2026-03-03 09:30")  # 3 h + 4 h Mon, 1 h Tue
    assert row.warn_at == sh("2026-03-02 14:30")  # half: 3 h to noon, 1 h after lunch


def test_a_calendar_override_changes_the_deadlines_of_tasks_created_afterwards(pe, db, deploy, clock):
    deploy("calendar/limit_p2d.bpmn")
    _, (before,), _ = start(pe, db, "cal_p2d", "WO-1")  # Mon 03-02 09:00
    with db.sessions.begin() as s:
        pe.sla.set_day(s, date(2026, 3, 3), is_workday=False, note="typhoon", actor_id=user(s, pe, "admin").id)
    _, (after,), _ = start(pe, db, "cal_p2d", "WO-2")
    assert (task_row(db, before).due_at, task_row(db, before).warn_at) == (sh("2026-03-04 09:00"),
                                                                           sh("2026-03-03 14:00"))
    assert (task_row(db, after).due_at, task_row(db, after).warn_at) == (sh("2026-03-05 09:00"),
                                                                         sh("2026-03-04 14:00"))
    with db.sessions.begin() as s:
        assert [(d.day, d.is_workday, d.note) for d in pe.sla.overrides(s, 2026)] == [
            (date(2026, 3, 3), False, "typhoon")]
        assert pe.sla.clear_day(s, date(2026, 3, 3)) is True
        assert pe.sla.clear_day(s, date(2026, 3, 3)) is False
        pe.sla.set_day(s, date(2026, 3, 8), is_workday=True, note="make-up Sunday")
    _, (cleared,), _ = start(pe, db, "cal_p2d", "WO-3")
    assert task_row(db, cleared).due_at == sh("2026-03-04 09:00")
    clock.now = at("2026-03-06 09:00")  # Fri: day 1 is the make-up Sunday, day 2 Mon
    _, (friday,), _ = start(pe, db, "cal_p2d", "WO-4")
    assert task_row(db, friday).due_at == sh("2026-03-09 09:00")


def test_suspend_pauses_the_working_clock_across_a_holiday(pe, db, deploy, clock):
    deploy("calendar/two_steps.bpmn")
    clock.now = at("2026-02-13 09:50")
    instance_id, (prepare,), _ = start(pe, db, "cal_two_steps", "WO-1")
    clock.now = at("2026-02-13 10:00")
    (handle,) = act(pe, db, "complete", prepare, "alice", {})
    handle_id = handle.id
    row = task_row(db, handle_id)
    assert (row.due_at, row.warn_at) == (sh("2026-02-24 10:00"), sh("2026-02-14 15:00"))

    clock.now = at("2026-02-13 15:00")
    act(pe, db, "suspend", handle_id, "alice", reason="waiting for spare parts")
    row = task_row(db, handle_id)
    assert (row.suspended_at, row.status, row.due_at) == (at("2026-02-13 15:00"), "ready", sh("2026-02-24 10:00"))
    with pytest.raises(InvalidState, match="suspended"):
        act(pe, db, "complete", handle_id, "alice", {})
    with pytest.raises(InvalidState, match="suspended"):
        act(pe, db, "return_to_previous", handle_id, "alice", reason="back to prepare")
    with pytest.raises(InvalidState, match="already suspended"):
        act(pe, db, "suspend", handle_id, "alice", reason="again")
    assert task_row(db, handle_id).status == "ready"

    clock.now = at("2026-02-24 09:30")
    act(pe, db, "resume", handle_id, "alice", reason="parts arrived")
    # paused working time: Fri 15:00-17:30 (2.5 h) + Sat 02-14 (7.5 h) + Tue 08:30-09:30 (1 h) = 11 h
    # due Tue 02-24 10:00 + 11 h: 2 h + 4 h Tue, 3.5 h + 1.5 h Wed → Wed 02-25 15:00
    # warn Sat 02-14 15:00 + 11 h: 2.5 h Sat, 7.5 h Tue, 1 h Wed → Wed 02-25 09:30
    paused = int((at("2026-02-24 09:30") - at("2026-02-13 15:00")).total_seconds())
    assert paused == 930600  # 10 days 18.5 h on the wall clock
    row = task_row(db, handle_id)
    # the row keeps the counted (working) time of the pause; the history event keeps both
    assert (row.suspended_at, row.paused_seconds) == (None, 11 * 3600)
    assert (row.due_at, row.warn_at) == (sh("2026-02-25 15:00"), sh("2026-02-25 09:30"))
    # the working time left is what was left when it was suspended (11.5 h)
    assert WORKDAY.working_between(sh("2026-02-13 15:00"), sh("2026-02-24 10:00")) == timedelta(hours=11.5)
    assert WORKDAY.working_between(sh("2026-02-24 09:30"), row.due_at) == timedelta(hours=11.5)

    alice = uid(pe, db, "alice")
    (suspended,) = events(pe, db, instance_id, "task_suspended")
    assert (suspended.actor_id, suspended.human_task_id, suspended.at, suspended.payload) == (
        alice, handle_id, at("2026-02-13 15:00"), {"reason": "waiting for spare parts"})
    (resumed,) = events(pe, db, instance_id, "task_resumed")
    assert (resumed.actor_id, resumed.human_task_id, resumed.at) == (alice, handle_id, at("2026-02-24 09:30"))
    assert resumed.payload == {"reason": "parts arrived", "paused_seconds": paused,
                               "paused_counted_seconds": 11 * 3600,
                               "due_at": sh("2026-02-25 15:00").astimezone(UTC).isoformat()}

    with pytest.raises(InvalidState, match="not suspended"):
        act(pe, db, "resume", handle_id, "alice")
    # running again: the return that was refused now works
    reopened = act(pe, db, "return_to_previous", handle_id, "alice", reason="back to prepare")
    assert (reopened.node_id, reopened.assignee_id) == ("prepare", alice)


def test_resume_of_a_task_never_suspended_and_suspend_where_the_step_forbids_it(pe, db, deploy):
    deploy("calendar/percent.bpmn")  # allow: transfer,return
    deploy("calendar/limit_p2d.bpmn")  # allow: transfer,suspend
    instance_id, (no_suspend,), _ = start(pe, db, "cal_percent", "WO-1")
    _, (plain,), _ = start(pe, db, "cal_p2d", "WO-2")
    with pytest.raises(NotAllowed, match="suspend"):
        act(pe, db, "suspend", no_suspend, "alice", reason="wait")
    with pytest.raises(NotAllowed, match="suspend"):
        act(pe, db, "suspend", no_suspend, "sup", reason="wait")  # not even a supervisor
    with pytest.raises(InvalidState, match="not suspended"):
        act(pe, db, "resume", plain, "alice")
    before = task_row(db, no_suspend)
    assert (before.suspended_at, before.due_at) == (None, sh("2026-03-03 09:30"))
    assert events(pe, db, instance_id, "task_suspended") == []


def test_a_deadline_needing_an_uncovered_year_opens_a_calendar_incident_until_retried(pe, db, deploy, clock):
    deploy("calendar/limit_p2d.bpmn")
    clock.now = at("2026-12-31 15:00")  # Thu; 2027 has no holiday data
    instance_id, (task_id,), incident_id = start(pe, db, "cal_p2d", "WO-2027")
    assert incident_id is not None
    row = task_row(db, task_id)
    # counted on plain weekdays: day 1 Fri 2027-01-01, day 2 Mon 01-04; 4 working hours earlier
    assert (row.status, row.due_at, row.warn_at) == ("ready", sh("2027-01-04 15:00"), sh("2027-01-04 09:30"))
    with db.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.kind, incident.status, incident.instance_id, incident.attempts) == ("calendar", "open",
                                                                                            instance_id, 1)
        assert "2027" in incident.message and "eoms calendar declare-year 2027" in incident.message
        assert s.get(ProcessInstance, instance_id).status == "running"  # the work goes on
    (opened,) = events(pe, db, instance_id, "incident_opened")
    assert (opened.payload["kind"], opened.payload["incident_id"]) == ("calendar", incident_id)

    # retrying before the year is entered changes nothing but the attempt count
    clock.now = at("2027-01-01 10:00")
    with db.sessions.begin() as s, pytest.raises(NotAllowed):
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "alice"))
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "admin"))
    with db.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.attempts) == ("open", 2)
        assert "2027" in incident.message
    assert task_row(db, task_id).due_at == sh("2027-01-04 15:00")

    with db.sessions.begin() as s:
        pe.sla.declare_year(s, 2027, note="2027 holidays entered")
        pe.sla.set_day(s, date(2027, 1, 1), is_workday=False, note="New Year")
    clock.now = at("2027-01-01 11:00")
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "admin"))
    with db.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.resolved_at, incident.resolved_by_id) == (
            "resolved", at("2027-01-01 11:00"), user(s, pe, "admin").id)
        assert s.scalars(select(Incident).where(Incident.status == "open")).all() == []
    row = task_row(db, task_id)
    # the New Year holiday now counts: day 1 Mon 01-04, day 2 Tue 01-05
    assert (row.due_at, row.warn_at) == (sh("2027-01-05 15:00"), sh("2027-01-05 09:30"))
    assert [e.payload["incident_id"] for e in events(pe, db, instance_id, "incident_resolved")] == [incident_id]
    assert len(events(pe, db, instance_id, "incident_retried")) == 2


def test_a_task_due_in_an_uncovered_year_can_still_be_resumed(pe, db, deploy, clock):
    """Creating such a task falls back to Monday–Friday counting so the work goes on; resuming it must too,
    or the suspended task can be neither resumed nor completed until an administrator enters the year."""
    deploy("calendar/limit_p2d.bpmn")
    clock.now = at("2026-12-31 15:00")
    _, (task_id,), incident_id = start(pe, db, "cal_p2d", "WO-2027")
    act(pe, db, "suspend", task_id, "alice", reason="waiting for the customer")
    clock.now = at("2027-01-04 09:30")
    act(pe, db, "resume", task_id, "alice", reason="customer back")
    row = task_row(db, task_id)
    assert row.suspended_at is None
    # on Monday–Friday: paused 12-31 15:00-17:30 (2.5 h) + Fri 01-01 (7.5 h) + Mon 08:30-09:30 (1 h) = 11 h
    # due Mon 01-04 15:00 + 11 h: 2.5 h Mon, 7.5 h Tue, 1 h Wed → Wed 01-06 09:30
    # warn Mon 01-04 09:30 + 11 h: 6.5 h Mon, 3.5 h + 1 h Tue → Tue 01-05 14:30
    assert (row.due_at, row.warn_at) == (sh("2027-01-06 09:30"), sh("2027-01-05 14:30"))
    with db.sessions() as s:
        assert s.get(Incident, incident_id).status == "open"  # still waiting for the year's data
    act(pe, db, "complete", task_id, "alice", {})


def test_retrying_a_calendar_incident_keeps_the_time_a_task_was_suspended(pe, db, deploy, clock):
    """Recomputed deadlines must still include the working time the task spent suspended."""
    deploy("calendar/limit_p2d.bpmn")
    clock.now = at("2026-12-31 15:00")
    _, (task_id,), incident_id = start(pe, db, "cal_p2d", "WO-2027")
    clock.now = at("2026-12-31 16:00")
    act(pe, db, "suspend", task_id, "alice", reason="waiting for the customer")
    with db.sessions.begin() as s:
        pe.sla.declare_year(s, 2027)
        pe.sla.set_day(s, date(2027, 1, 1), is_workday=False, note="New Year")
    clock.now = at("2027-01-04 09:30")
    act(pe, db, "resume", task_id, "alice", reason="customer back")
    # paused working time: 12-31 16:00-17:30 (1.5 h) + Mon 08:30-09:30 (1 h) = 2.5 h
    assert task_row(db, task_id).due_at == sh("2027-01-04 17:30")  # the weekday-counted due + 2.5 h
    with db.sessions.begin() as s:
        pe.management.retry_incident(s, incident_id, actor=user(s, pe, "admin"))
    with db.sessions() as s:
        assert s.get(Incident, incident_id).status == "resolved"
    row = task_row(db, task_id)
    # the right deadlines (due Tue 01-05 15:00, warn 09:30) moved later by the 2.5 h paused
    assert (row.due_at, row.warn_at) == (sh("2027-01-05 17:30"), sh("2027-01-05 12:00"))


def test_retrying_a_calendar_incident_recounts_each_task_from_its_own_limit(pe, db, deploy, clock):
    """A limit given by an expression is evaluated once and kept on the row: recounting uses it (rather than
    finding no limit and wiping the deadline); a deadline a supervisor extended stays as granted."""
    deploy("calendar/limit_expr.bpmn")
    clock.now = at("2026-12-31 15:00")
    _, (plain,), plain_incident = start(pe, db, "cal_expr", "WO-EXPR-1")
    _, (extended,), extended_incident = start(pe, db, "cal_expr", "WO-EXPR-2")
    assert task_row(db, plain).time_limit == "P1D" and task_row(db, plain).due_at is not None
    act(pe, db, "grant_extension", extended, "admin", by="PT2H", reason="客户要求改期")
    granted = task_row(db, extended).due_at
    with db.sessions.begin() as s:
        pe.sla.declare_year(s, 2027)
        pe.sla.set_day(s, date(2027, 1, 1), is_workday=False, note="New Year")
    clock.now = at("2027-01-04 09:00")
    for incident_id in {plain_incident, extended_incident}:
        with db.sessions.begin() as s:
            pe.management.retry_incident(s, incident_id, actor=user(s, pe, "admin"))
    # one working day from Thu 12-31 15:00, with Fri 01-01 now a holiday: the same time on Mon 01-04
    assert task_row(db, plain).due_at == sh("2027-01-04 15:00")
    assert task_row(db, extended).due_at == granted
    with db.sessions() as s:
        assert s.scalars(select(Incident).where(Incident.status == "open")).all() == []


@pytest.mark.parametrize(("chosen", "due"), [("24x7", "2026-03-06 18:00"), ("workday", "2026-03-09 09:00")])
def test_a_calendar_given_by_an_expression_is_evaluated_when_the_task_arrives(pe, db, deploy, clock, chosen, due):
    """``calendar`` ``=cal``: the data decides, when the task arrives, which calendar its two hours count on.
    From Friday 16:00, 24x7 gives 18:00; workday counts 1.5 h to 17:30 and 0.5 h from Monday's 08:30: 09:00."""
    deploy("calendar/calendar_expr.bpmn")
    clock.now = at("2026-03-06 16:00")  # a Friday
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "cal_choice", business_key=f"WO-CAL-{chosen}", data={"cal": chosen},
                                  actor=user(s, pe, "alice"))
        task_id = result.tasks[0].id
    row = task_row(db, task_id)
    assert row.calendar == chosen and row.time_limit == "PT2H"
    assert row.due_at == sh(due)


def test_a_calendar_expression_giving_no_calendar_counts_on_the_default_and_says_so(pe, db, deploy, clock):
    deploy("calendar/calendar_expr.bpmn")
    clock.now = at("2026-03-06 16:00")
    with db.sessions.begin() as s:
        result = pe.runtime.start(s, "cal_choice", business_key="WO-CAL-BAD", data={"cal": "weekly"},
                                  actor=user(s, pe, "alice"))
        task_id, incident = result.tasks[0].id, result.incident
    assert task_row(db, task_id).calendar == "workday"
    assert incident is not None and "calendar '=cal' gave 'weekly'" in incident.message


def test_a_calendar_expression_that_does_not_compile_is_refused_at_deploy(pe, db) -> None:  # type: ignore[no-untyped-def]
    content = bpmn("calendar/calendar_expr.bpmn").replace(b'value="=cal"', b'value="=__import__(&quot;os&quot;)"')
    with db.sessions() as s, pytest.raises(BpmnValidationError) as refused:
        pe.repository.validate(s, content, "calendar_expr.bpmn")
    assert [(i.element_id, i.rule) for i in refused.value.issues] == [("handle", "bad-property")]
    assert refused.value.issues[0].message.startswith("calendar:")
