"""Time commands: the worker, the working calendar, SMS outbox, jobs."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, date, datetime
from typing import Any

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from engine.jobs.models import JOB_STATUSES
from engine.repository.properties import CALENDARS
from engine.sla.calendar import SHANGHAI, CalendarNotCovered
from engine.sla.durations import parse_duration
from engine.worker import Worker
from eoms.cli.common import App, emit_json, iso, local_time, pass_app, print_table
from handlers.sms.models import SmsMessage


def register_time_commands(cli: click.Group) -> None:
    for command in (worker, calendar, sms, jobs):
        cli.add_command(command)


@click.command()
@click.option("--id", "worker_id", help="worker name in the heartbeat table (default host:pid:random)")
@click.option("--tick", "tick_seconds", type=float, help="seconds between ticks (default EOMS_WORKER_TICK_SECONDS)")
@click.option("--once", is_flag=True, help="run one tick and exit (for cron-style use and checks)")
@pass_app
def worker(app: App, worker_id: str | None, tick_seconds: float | None, once: bool) -> None:
    """Fire timers, flag deadlines and run jobs until SIGTERM/SIGINT (then finish the current tick)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    runner = Worker(app.engine, app.sessions, worker_id)
    runner.announce()
    if once:
        report = runner.tick()
        click.echo(f"worker {runner.id}: {report}")
        return
    interval = tick_seconds or app.settings.worker_tick_seconds
    stop = threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(runner.tick, IntervalTrigger(seconds=interval), id="tick", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"worker {runner.id} started: tick every {interval}s on {app.db.url.render_as_string()}", err=True)
    scheduler.start()
    stop.wait()
    scheduler.shutdown(wait=True)  # the tick in progress finishes
    runner.stopped()
    click.echo(f"worker {runner.id} stopped: {runner.totals}", err=True)


# -- calendar ------------------------------------------------------------------------------------------------
@click.group()
def calendar() -> None:
    """The working calendar: deadlines, holidays and make-up working days (调休)."""


@calendar.command("due")
@click.argument("start")
@click.argument("limit")
@click.option("--calendar", "calendar_name", type=click.Choice(CALENDARS), default="workday",
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def calendar_due(app: App, start: str, limit: str, calendar_name: str, as_json: bool) -> None:
    """The deadline of LIMIT (ISO-8601 duration) from START (ISO-8601 time; no offset = Asia/Shanghai)."""
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(f"'{start}' is not an ISO-8601 time like 2026-02-13T16:00",
                                 param_hint="START") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    try:
        duration = parse_duration(limit)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="LIMIT") from None
    with app.transaction() as s:
        due = app.engine.sla.calendar(s, calendar_name).due(moment, duration)
    local = due.astimezone(SHANGHAI)
    if as_json:
        emit_json({"start": moment.isoformat(), "limit": limit, "calendar": calendar_name,
                   "due": local.isoformat(), "due_utc": due.isoformat()})
    else:
        click.echo(local.strftime("%Y-%m-%d %H:%M:%S %a (Asia/Shanghai)"))


@calendar.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--workday/--holiday", "is_workday", required=True, help="a working day (调休) or a holiday")
@click.option("--note", default="")
@pass_app
def calendar_set(app: App, day: datetime, is_workday: bool, note: str) -> None:
    """Override one date (an extra holiday, or a make-up working day)."""
    with app.transaction() as s:
        app.engine.sla.set_day(s, day.date(), is_workday=is_workday, note=note)
        app.audit(s, "calendar.set", "calendar_day", day.date().isoformat(),
                  kind="workday" if is_workday else "holiday", note=note)
    click.echo(f"{day.date()} is now a {'working day' if is_workday else 'holiday'}")


@calendar.command("unset")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@pass_app
def calendar_unset(app: App, day: datetime) -> None:
    """Remove a date's override."""
    with app.transaction() as s:
        removed = app.engine.sla.clear_day(s, day.date())
        if removed:
            app.audit(s, "calendar.unset", "calendar_day", day.date().isoformat())
    click.echo(f"override for {day.date()} {'removed' if removed else 'did not exist'}")


@calendar.command("declare-year")
@click.argument("year", type=int)
@click.option("--note", default="")
@pass_app
def calendar_declare_year(app: App, year: int, note: str) -> None:
    """Declare a year complete: its holidays and 调休 days are entered; other dates follow Mon–Fri."""
    with app.transaction() as s:
        app.engine.sla.declare_year(s, year, note=note)
        app.audit(s, "calendar.declare_year", "calendar", year, note=note)
    click.echo(f"{year} declared complete")


@calendar.command("list")
@click.option("--year", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def calendar_list(app: App, year: int | None, as_json: bool) -> None:
    """Date overrides."""
    with app.transaction() as s:
        rows = [{"day": r.day.isoformat(), "kind": "workday" if r.is_workday else "holiday", "note": r.note}
                for r in app.engine.sla.overrides(s, year)]
    emit_json(rows) if as_json else print_table(rows, ["day", "kind", "note"])


@calendar.command("check")
@click.option("--days", default=90, show_default=True, help="how far ahead deadlines must be computable")
@pass_app
def calendar_check(app: App, days: int) -> None:
    """Exit non-zero when a year within DAYS from today has no holiday data."""
    with app.transaction() as s:
        today = app.engine.sla.today(app.engine.ctx.clock())
        missing = app.engine.sla.uncovered_years(s, today, days)
    if missing:
        for year in missing:
            click.echo(f"error: {CalendarNotCovered(year)}", err=True)
        raise SystemExit(1)
    click.echo(f"calendar covers {today} to {date.fromordinal(today.toordinal() + days)}")


# -- SMS and jobs --------------------------------------------------------------------------------------------
@click.group()
def sms() -> None:
    """SMS notices."""


@sms.command("outbox")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def sms_outbox(app: App, limit: int, as_json: bool) -> None:
    """Recent messages, newest first, whatever the backend did with them."""
    with app.transaction() as s:
        rows: list[dict[str, Any]] = [
            {"id": m.id, "created_at": iso(m.created_at), "phone": m.phone, "template": m.template,
             "status": m.status, "backend": m.backend, "instance_id": m.instance_id, "text": m.text}
            for m in s.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit))
        ]
    if as_json:
        emit_json(rows)
        return
    print_table([{**r, "created_at": local_time(datetime.fromisoformat(r["created_at"]))} for r in rows],
                ["id", "created_at", "phone", "template", "status", "text"])


@click.command()
@click.option("--status", type=click.Choice(JOB_STATUSES))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def jobs(app: App, status: str | None, limit: int, as_json: bool) -> None:
    """Durable jobs (SMS, callbacks, activations) and their attempts."""
    with app.transaction() as s:
        rows = [{"id": j.id, "kind": j.kind, "status": j.status, "attempts": f"{j.attempts}/{j.max_attempts}",
                 "due_at": iso(j.due_at), "instance_id": j.instance_id, "last_error": j.last_error or ""}
                for j in app.engine.management.jobs(s, status=status, limit=limit)]
    emit_json(rows) if as_json else print_table(rows, ["id", "kind", "status", "attempts", "due_at", "instance_id",
                                                       "last_error"])
