"""Jobs service: enqueue outside effects in the caller's transaction; claim, run, retry them in the worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Code, InvalidState, NotFound
from engine.history.service import record
from engine.jobs.models import Job, JobStatus
from engine.registry import HandlerRegistry, JobContext
from engine.runtime.models import Incident, IncidentStatus

MAX_ERROR_TEXT = 2000
ReplyHandler = Callable[[Session, dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class JobPolicy:
    """How long a claim lasts and how retries are spaced (exponential backoff, capped)."""

    lease: timedelta = timedelta(seconds=60)
    backoff_base: timedelta = timedelta(seconds=10)
    backoff_cap: timedelta = timedelta(hours=1)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempts - 1)))


def enqueue(session: Session, kind: str, payload: dict[str, Any], key: str, *, now: datetime,
            due_at: datetime | None = None, max_attempts: int = 5, instance_id: int | None = None) -> Job:
    """Add a job in the caller's transaction; a job with the same idempotency key is returned instead."""
    key = key[:200]  # the stored length: a longer key must find the job it made before
    existing = session.scalar(select(Job).where(Job.idempotency_key == key))
    if existing is not None:
        return existing
    job = Job(kind=kind, payload=payload, idempotency_key=key, status=JobStatus.PENDING, due_at=due_at or now,
              max_attempts=max_attempts, instance_id=instance_id, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # the same key committed by someone else a moment ago
        found = session.scalar(select(Job).where(Job.idempotency_key == key))
        if found is None:
            raise
        return found
    return job


def cancel_jobs(session: Session, instance_id: int, now: datetime) -> int:
    """Cancel the instance's jobs that have not run yet (or whose worker holds them: it finds them cancelled
    and skips them). Returns how many."""
    return session.execute(
        update(Job).where(Job.instance_id == instance_id, Job.status.in_((JobStatus.PENDING, JobStatus.RUNNING)))
        .values(status=JobStatus.CANCELLED, finished_at=now, updated_at=now, locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def reset_job(session: Session, job_id: int, now: datetime) -> Job:
    """Give a failed job a fresh set of attempts, due now."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    if job.status not in (JobStatus.FAILED, JobStatus.PENDING):
        raise InvalidState(f"job {job_id} is {job.status}", code=Code.JOB_NOT_RETRYABLE)
    job.status, job.attempts, job.due_at, job.updated_at, job.finished_at = JobStatus.PENDING, 0, now, now, None
    return job


class JobService:
    """Claiming and running jobs; retries with backoff; a job out of attempts becomes an incident."""

    def __init__(self, handlers: HandlerRegistry, clock: Callable[[], datetime], policy: JobPolicy | None = None,
                 reply: ReplyHandler | None = None):
        self.handlers = handlers
        self.clock = clock
        self.policy = policy or JobPolicy()
        self._reply = reply

    def enqueue(self, session: Session, kind: str, payload: dict[str, Any], key: str, **kwargs: Any) -> Job:
        return enqueue(session, kind, payload, key, now=self.clock(), **kwargs)

    def claim(self, session: Session, worker_id: str, limit: int = 20) -> list[int]:
        """Mark up to ``limit`` due jobs (and jobs whose claim expired) as running for ``worker_id``.

        On PostgreSQL rows another worker holds are skipped (``FOR UPDATE SKIP LOCKED``); the caller commits.
        """
        now = self.clock()
        due = or_(
            and_(Job.status == JobStatus.PENDING, Job.due_at <= now),
            and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
        )
        query = select(Job).where(due).order_by(Job.due_at, Job.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for job in session.scalars(query).all():
            if job.status == JobStatus.RUNNING and job.attempts >= job.max_attempts:
                # its worker died during every attempt (each claim counts one): stop taking it over
                self._failed(session, job, f"the worker running it stopped {job.attempts} times "
                                           f"(last: {job.locked_by})", now)
                continue
            job.attempts += 1  # counted here, committed before the job runs, so a crash counts too
            job.status, job.locked_by, job.locked_until = JobStatus.RUNNING, worker_id, now + self.policy.lease
            job.updated_at = now
            claimed.append(job.id)
        session.flush()
        return claimed

    def run(self, session: Session, job_id: int, worker_id: str) -> str:
        """Carry out one claimed job in the caller's transaction; returns its new status.

        The job row is locked for the run (PostgreSQL), so a claim that expires while this worker is alive is
        not taken over; if another worker took the job over first, nothing happens here.
        """
        query = select(Job).where(Job.id == job_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.scalar(query)
        if job is None or job.status != JobStatus.RUNNING or job.locked_by != worker_id:
            return "skipped"
        now = self.clock()
        jctx = JobContext(session=session, job_id=job.id, kind=job.kind, idempotency_key=job.idempotency_key,
                          attempt=job.attempts, instance_id=job.instance_id, now=now)
        try:
            with session.begin_nested():
                result = self.handlers.run_job(job.kind, jctx, dict(job.payload))
        except Exception as err:  # any failure of the outside world is retried, never lost
            self._failed(session, job, f"{type(err).__name__}: {err}", now)
            return job.status
        had_failed = job.last_error is not None  # only a job that failed before can have an open incident
        job.status, job.finished_at, job.updated_at = JobStatus.DONE, now, now
        job.locked_by = job.locked_until = None
        job.last_error = None
        job.result = result if isinstance(result, dict) else None
        self._send_reply(session, job, {"ok": True, "result": job.result})
        for incident in self._open_incidents(session, job.id) if had_failed else ():
            incident.status, incident.resolved_at, incident.updated_at = IncidentStatus.RESOLVED, now, now
            if job.instance_id:
                record(session, job.instance_id, "incident_resolved", payload={"incident_id": incident.id}, at=now)
        return "done"

    def _failed(self, session: Session, job: Job, error: str, now: datetime) -> None:
        job.last_error, job.updated_at = error[:MAX_ERROR_TEXT], now
        job.locked_by = job.locked_until = None
        if job.attempts < job.max_attempts:
            job.status, job.due_at = JobStatus.PENDING, now + self.policy.backoff(job.attempts)
            return
        job.status, job.finished_at = JobStatus.FAILED, now
        if job.payload.get("reply") and self._reply is not None:
            # the process waits for the outcome and has its own path for a failure: no incident
            if job.instance_id:
                record(session, job.instance_id, "job_failed", node_id=job.kind, at=now,
                       payload={"job_id": job.id, "error": error[:500], "handled_by": "process"})
            self._send_reply(session, job, {"ok": False, "error": error[:500]})
            return
        message = f"job {job.kind} failed {job.attempts} times; last error: {error}"[:MAX_ERROR_TEXT]
        incident = next(iter(self._open_incidents(session, job.id)), None)
        if incident is None:
            incident = Incident(instance_id=job.instance_id, job_id=job.id, node_id=job.kind, kind="job",
                                message=message, attempts=job.attempts, created_at=now, updated_at=now)
            session.add(incident)
            session.flush()
        else:
            incident.message, incident.attempts, incident.updated_at = message, job.attempts, now
        if job.instance_id:
            record(session, job.instance_id, "job_failed", node_id=job.kind, at=now,
                   payload={"job_id": job.id, "incident_id": incident.id, "error": error[:500]})

    def _send_reply(self, session: Session, job: Job, outcome: dict[str, Any]) -> None:
        """Tell the waiting instance how the job ended (a BPMN message), if the job asked for that."""
        reply = job.payload.get("reply")
        if not reply or self._reply is None:
            return
        try:
            self._reply(session, reply, outcome)
        except InvalidState as err:  # the instance no longer waits (cancelled, moved on by hand)
            job.result = {**(job.result or {}), "reply_dropped": str(err)}

    @staticmethod
    def _open_incidents(session: Session, job_id: int) -> Sequence[Incident]:
        return session.scalars(select(Incident).where(Incident.job_id == job_id,
                                                      Incident.status == IncidentStatus.OPEN)).all()
