"""工作日历: a year at a glance (working days, holidays and 调休 days from ``chinesecalendar``, with the
administrator's overrides marked), adding and removing overrides, the daily work windows, and whether the coming
year is covered — declaring a year complete when its holidays were entered by hand."""

from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import date

import chinese_calendar
from chinese_calendar.constants import Holiday
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.errors import InvalidInput
from engine.sla.calendar import CalendarNotCovered, DayKinds
from webapp import db
from webapp.access import roles_required
from webapp.admin.blueprint import audit, bp, form_values
from webapp.admin.health_service import calendar_gaps
from webapp.errors import fail_to
from webapp.i18n import gettext
from webapp.params import arg_int

HOLIDAY_NAMES = {h.value: h.chinese for h in Holiday}


@dataclass(frozen=True)
class Day:
    day: date
    workday: bool | None  # None: the calendar cannot tell (a year without data)
    override: bool
    makeup: bool  # a weekend working day (调休)
    name: str  # the holiday's name, or the override's note


def month_weeks(kinds: DayKinds, notes: dict[date, str], year: int, month: int) -> list[list[Day | None]]:
    """The weeks (Monday first) of a month, each day with its kind."""
    weeks: list[list[Day | None]] = []
    for week in monthcal.Calendar().monthdatescalendar(year, month):
        row: list[Day | None] = []
        for day in week:
            if day.month != month:
                row.append(None)
                continue
            try:
                workday: bool | None = kinds.is_workday(day)
            except CalendarNotCovered:
                workday = None
            name = notes.get(day, "")
            if not name:
                name = _holiday_name(day)
            row.append(Day(day, workday, day in kinds.overrides, bool(workday) and day.weekday() >= 5, name))
        weeks.append(row)
    return weeks


def _holiday_name(day: date) -> str:
    try:
        _, holiday = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    return HOLIDAY_NAMES.get(holiday, holiday) if holiday else ""


@bp.get("/calendar")
@roles_required("admin")
def calendar() -> str:
    s, pe = db.session(), db.engine()
    now = pe.ctx.clock()
    year = arg_int("year", pe.sla.today(now).year, 2000, 2100) or pe.sla.today(now).year
    kinds = pe.sla.day_kinds(s)
    overrides = pe.sla.overrides(s, year)
    notes = {o.day: o.note for o in overrides if o.note}
    months = [(m, month_weeks(kinds, notes, year, m)) for m in range(1, 13)]
    windows = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in pe.sla.work_windows(s))
    return render_template("admin/calendar.html", year=year, months=months, overrides=overrides,
                           covered=kinds.covers(year), declared=year in kinds.declared_years, windows=windows,
                           gaps=calendar_gaps(s, pe, now), today=pe.sla.today(now))


@bp.post("/calendar/days")
@roles_required("admin")
def calendar_set_day() -> Response:
    s, pe = db.session(), db.engine()
    values = form_values(request.form, "day", "kind", "note")
    fail_to(url_for("admin.calendar"))
    day = _date(values["day"])
    fail_to(url_for("admin.calendar", year=day.year))
    if values["kind"] not in ("holiday", "workday"):
        raise InvalidInput("choose holiday or working day", {"kind": "required"})
    before = pe.sla.day_kinds(s)
    try:
        was: bool | None = before.is_workday(day)
    except CalendarNotCovered:
        was = None
    pe.sla.set_day(s, day, is_workday=values["kind"] == "workday", note=values["note"], actor_id=_me_id())
    audit("calendar.set", "calendar_day", day.isoformat(), kind=values["kind"], note=values["note"],
          was="workday" if was else "holiday" if was is False else None)
    s.commit()
    flash(gettext("%(day)s 已设为%(kind)s。此后新到达的任务按新日历计算时限。", day=day.isoformat(),
                  kind=gettext("工作日（调休上班）") if values["kind"] == "workday" else gettext("节假日")),
          "info")
    return redirect(url_for("admin.calendar", year=day.year))


@bp.post("/calendar/days/<day>/remove")
@roles_required("admin")
def calendar_unset_day(day: str) -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.calendar"))
    moment = _date(day)
    if pe.sla.clear_day(s, moment):
        audit("calendar.unset", "calendar_day", moment.isoformat())
        s.commit()
        flash(gettext("已删除 %(day)s 的调整。", day=moment.isoformat()), "info")
    return redirect(url_for("admin.calendar", year=moment.year))


@bp.post("/calendar/windows")
@roles_required("admin")
def calendar_windows() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.calendar"))
    old = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in pe.sla.work_windows(s))
    new = pe.sla.set_work_windows(s, request.form.get("windows", ""), actor_id=_me_id())
    audit("calendar.windows", "calendar", "workday", windows=[old, new])
    s.commit()
    flash(gettext("工作时段已改为 %(w)s。", w=new), "info")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/years")
@roles_required("admin")
def calendar_declare_year() -> Response:
    s, pe = db.session(), db.engine()
    fail_to(url_for("admin.calendar"))
    year = request.form.get("year", "")
    if not year.isdigit():
        raise InvalidInput(f"'{year}' is not a year", {"year": "invalid"})
    pe.sla.declare_year(s, int(year), note=request.form.get("note", ""), actor_id=_me_id())
    audit("calendar.declare_year", "calendar", year)
    s.commit()
    flash(gettext("%(year)s 年已确认完整：其余日期按周一至周五工作计算。", year=year), "info")
    return redirect(url_for("admin.calendar", year=year))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date like 2027-01-01", {"day": "invalid"}) from None


def _me_id() -> int:
    return int(current_user.row.id)
