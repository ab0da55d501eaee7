"""The worker's tick: fire due BPMN timers, start timer-started processes, flag SLA levels, run due jobs.

Every piece of work is claimed from the database (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), so any number
of workers on any number of machines do each thing once. APScheduler only paces the ticks (``eoms worker``).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from engine.core import ProcessEngine
from engine.errors import ConcurrencyConflict, EomsError
from engine.identity.models import OrgUnit
from engine.jobs.models import TimerSchedule, WorkerHeartbeat
from engine.runtime.models import InstanceStatus, ProcessInstance
from engine.sla.scanner import scan_deadlines

log = logging.getLogger("eoms.worker")
MAINTENANCE_EVERY = timedelta(hours=1)
HEARTBEAT_EVERY = timedelta(seconds=5)
TIMER_RETRY_DELAY = timedelta(minutes=5)  # a timer whose instance fails to advance is tried again after this


@dataclass
class TickReport:
    timers_fired: int = 0
    processes_started: int = 0
    sla_levels: int = 0
    jobs_done: int = 0
    jobs_retried: int = 0
    errors: int = 0

    def busy(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


class Worker:
    """One worker process. ``tick()`` does everything that is due now, in small transactions."""

    def __init__(self, pe: ProcessEngine, sessions: sessionmaker[Session], worker_id: str | None = None,
                 batch: int = 50):
        self.pe, self.sessions, self.batch = pe, sessions, batch
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.started_at = pe.ctx.clock()
        self.totals = TickReport()
        self._maintained_at: datetime | None = None
        self._beat_at: datetime | None = None
        self._pending_ticks = 0

    def _postgres(self, session: Session) -> bool:
        return session.get_bind().dialect.name == "postgresql"

    # -- the tick ----------------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        report = TickReport()
        for step in (self._maintain, self._fire_timers, self._start_scheduled, self._scan_sla, self._run_jobs):
            try:
                step(report)
            except Exception as err:  # a bad row must not stop the worker; it is logged and tried next tick
                report.errors += 1
                log.exception("worker %s: %s failed: %s", self.id, step.__name__, err)
                self._heartbeat(report, error=f"{step.__name__}: {type(err).__name__}: {err}")
        for f in fields(report):
            setattr(self.totals, f.name, getattr(self.totals, f.name) + getattr(report, f.name))
        self._heartbeat(report)
        if report.busy():
            log.info("worker %s: %s", self.id, report)
        return report

    def _maintain(self, report: TickReport) -> None:
        """Hourly upkeep. SQLite plans its queries from statistics only ANALYZE gathers; without them the
        tick's scans would read every open task instead of the small partial indexes."""
        now = self.pe.ctx.clock()
        if self._maintained_at is not None and now - self._maintained_at < MAINTENANCE_EVERY:
            return
        self._maintained_at = now
        with self.sessions.begin() as s:
            if s.get_bind().dialect.name == "sqlite":
                s.execute(text("ANALYZE"))

    def _fire_timers(self, report: TickReport) -> None:
        seen: list[int] = []
        while report.timers_fired < self.batch:
            try:
                with self.sessions.begin() as s:
                    now = self.pe.ctx.clock()
                    query = (select(ProcessInstance)
                             .where(ProcessInstance.status == InstanceStatus.RUNNING,
                                    ProcessInstance.next_timer_at < now)
                             .order_by(ProcessInstance.next_timer_at).limit(1))
                    if seen:
                        query = query.where(ProcessInstance.id.not_in(seen))
                    if self._postgres(s):
                        query = query.with_for_update(skip_locked=True)
                    instance = s.scalar(query)
                    if instance is None:
                        return
                    seen.append(instance.id)
                    op = self.pe.runtime.open(s, instance, None)
                    op.advance()
                    op.save()
                    report.timers_fired += 1
            except ConcurrencyConflict:
                continue  # someone saved the instance meanwhile; its timer is looked at again next tick
            except Exception as err:  # one broken instance must not hold up every other timer
                report.errors += 1
                log.exception("worker %s: timer of instance %s failed: %s", self.id, seen[-1], err)
                self._postpone_timer(seen[-1])

    def _postpone_timer(self, instance_id: int) -> None:
        """Look at a failing instance's timer again after a while rather than first thing every tick."""
        with self.sessions.begin() as s:
            s.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                      .values(next_timer_at=self.pe.ctx.clock() + TIMER_RETRY_DELAY))

    def _start_scheduled(self, report: TickReport) -> None:
        while report.processes_started < self.batch:
            with self.sessions.begin() as s:
                now = self.pe.ctx.clock()
                query = (select(TimerSchedule).where(TimerSchedule.next_due <= now)
                         .order_by(TimerSchedule.next_due).limit(1))
                if self._postgres(s):
                    query = query.with_for_update(skip_locked=True)
                schedule = s.scalar(query)
                if schedule is None:
                    return
                due = schedule.next_due
                assert due is not None
                org_code = schedule.org_code or s.scalar(
                    select(OrgUnit.code).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
                business_key = f"{schedule.process_key}-{due:%Y%m%d%H%M%S}"
                try:
                    with s.begin_nested():
                        self.pe.runtime.start(s, schedule.process_key, business_key=business_key,
                                              data={"scheduled_at": due.isoformat()}, actor=None,
                                              org_code=org_code, fire_start_timer=True)
                    report.processes_started += 1
                except EomsError as err:
                    log.error("worker %s: scheduled start of %s failed: %s", self.id, business_key, err)
                    report.errors += 1
                schedule.started_count += 1
                if schedule.remaining > 0:
                    schedule.remaining -= 1
                interval = timedelta(seconds=schedule.interval_seconds)
                schedule.next_due = None if schedule.remaining == 0 or not interval else max(due + interval, now)

    def _scan_sla(self, report: TickReport) -> None:
        with self.sessions.begin() as s:
            report.sla_levels += scan_deadlines(s, self.pe.identity, self.pe.ctx.clock(), self.pe.ctx.emit)

    def _run_jobs(self, report: TickReport) -> None:
        with self.sessions.begin() as s:
            claimed = self.pe.jobs.claim(s, self.id, limit=self.batch)
        for job_id in claimed:
            try:
                with self.sessions.begin() as s:
                    status = self.pe.jobs.run(s, job_id, self.id)
            except Exception as err:  # e.g. the reply's instance changed meanwhile: the claim lapses, it runs again
                report.errors += 1
                log.exception("worker %s: job %s failed outside its handler: %s", self.id, job_id, err)
                continue
            if status == "done":
                report.jobs_done += 1
            elif status in ("pending", "failed"):
                report.jobs_retried += 1

    # -- heartbeat ---------------------------------------------------------------------------------------
    def _heartbeat(self, report: TickReport, *, error: str | None = None, stopped: bool = False) -> None:
        now = self.pe.ctx.clock()
        quiet = not report.busy() and not error and not stopped
        if quiet and self._beat_at is not None and now - self._beat_at < HEARTBEAT_EVERY:
            self._pending_ticks += 1  # an idle tick is counted with the next heartbeat, not written alone
            return
        self._beat_at = now
        try:
            with self.sessions.begin() as s:
                now = self.pe.ctx.clock()
                beat = s.get(WorkerHeartbeat, self.id)
                if beat is None:
                    beat = WorkerHeartbeat(worker_id=self.id, hostname=socket.gethostname(), pid=os.getpid(),
                                           started_at=self.started_at, last_seen=now, ticks=0, timers_fired=0,
                                           jobs_done=0)
                    s.add(beat)
                beat.last_seen = now
                if error:
                    beat.last_error = error[:2000]
                    return
                beat.ticks += 1 + self._pending_ticks
                self._pending_ticks = 0
                beat.timers_fired += report.timers_fired
                beat.jobs_done += report.jobs_done
                beat.stopped_at = now if stopped else None
        except Exception:  # the heartbeat is informational; never let it stop the tick
            log.exception("worker %s: heartbeat failed", self.id)

    def announce(self) -> None:
        """Write the heartbeat row before the first tick, so a worker busy from the start is visible."""
        self._heartbeat(TickReport(), error=None)

    def stopped(self) -> None:
        """Record a clean stop."""
        self._heartbeat(TickReport(), stopped=True)
