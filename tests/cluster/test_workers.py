"""Several real ``eoms worker`` processes on one PostgreSQL database: each timer fires once, failed SMS
deliveries are retried without duplicates, a killed worker's job is taken over when its lease expires, and a
stopped worker says so in its heartbeat.

Each test builds a throwaway PostgreSQL schema of its own (migrated, with one org unit, post and user), starts
workers as subprocesses (``cwd`` = the repository, ``PYTHONPATH`` set so ``tests.plugins.*`` imports) and
stops them with SIGTERM; leftovers are killed and the schema dropped whatever happens. Without PostgreSQL the
tests are skipped, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

import handlers.models  # noqa: F401 - the handlers' tables are part of the schema
from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from engine.history.models import HistoryEvent
from engine.jobs.models import Job, WorkerHeartbeat
from engine.jobs.service import JobPolicy, enqueue
from engine.migrate import upgrade_to_head
from engine.runtime.models import ProcessInstance
from handlers.sms.models import SmsMessage
from tests.conftest import IN_CI, pg_available, pg_url
from tests.plugins import slow_effect

ROOT = Path(__file__).resolve().parents[2]
EOMS = str(Path(sys.executable).parent / "eoms")
TICK_SECONDS = "0.2"
STOP_TIMEOUT = 10.0  # a SIGTERM'd worker finishes its tick and exits well within this

TIMER_DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_cluster_timer"
                  targetNamespace="http://eoms.example/bpmn">
  <bpmn:process id="cluster_timer" name="Cluster timer" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="1s">
      <bpmn:timerEventDefinition id="wait_def"><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="mark"/>
    <bpmn:scriptTask id="mark" name="Mark"><bpmn:script>fired = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="mark" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


# -- a throwaway schema ------------------------------------------------------------------------------------
@dataclass
class ClusterDb:
    """One test's PostgreSQL schema: its URL (the workers get it too), engine, sessions and an engine object."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    pe: ProcessEngine


@pytest.fixture
def cluster_db(request: pytest.FixtureRequest) -> Iterator[ClusterDb]:
    if request.config.getoption("--sqlite-only"):
        pytest.skip("--sqlite-only")
    reason = pg_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    base = pg_url()
    schema = f"eoms_cluster_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        pe = ProcessEngine()
        sessions = make_session_factory(engine)
        with sessions.begin() as s:
            pe.identity.add_org_unit(s, "CL", "集群测试")
            pe.identity.add_post(s, "cl_dispatcher", "集群调度")
            pe.identity.add_user(s, "cl_user", display_name="集群用户", password="cluster-secret",
                                 org_code="CL", post_codes=["cl_dispatcher"])
        yield ClusterDb(url, engine, sessions, pe)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- worker processes --------------------------------------------------------------------------------------
@dataclass
class WorkerProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        text_ = self.log.read_text(encoding="utf-8", errors="replace")
        return text_ if len(text_) < 6000 else "…" + text_[-6000:]


@dataclass
class Workers:
    """Starts ``eoms worker`` subprocesses against one database; output goes to a file per worker."""

    db: ClusterDb
    home: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, name: str, **env: str) -> WorkerProcess:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("EOMS_")}
        environment.update(
            EOMS_DATABASE_URL=self.db.url, EOMS_STORAGE_DIR=str(self.home / "storage"),
            EOMS_WORKER_TICK_SECONDS=TICK_SECONDS, PYTHONUTF8="1",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        )
        environment.update(env)
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([EOMS, "worker", "--id", name], cwd=ROOT, env=environment,
                                    stdout=out, stderr=subprocess.STDOUT)
        worker = WorkerProcess(name, proc, log)
        self.started.append(worker)
        return worker

    def stop(self, worker: WorkerProcess) -> float:
        """SIGTERM; the worker must exit 0 within STOP_TIMEOUT. Returns how long it took."""
        began = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        try:
            code = worker.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {worker.name} still running {STOP_TIMEOUT}s after SIGTERM:\n{worker.output()}")
        assert code == 0, f"worker {worker.name} exited {code} after SIGTERM:\n{worker.output()}"
        return time.monotonic() - began

    def check_alive(self) -> None:
        for worker in self.started:
            code = worker.proc.poll()
            if code is not None and code != -signal.SIGKILL:
                pytest.fail(f"worker {worker.name} exited on its own with {code}:\n{worker.output()}")

    def kill_leftovers(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(timeout=10)

    def outputs(self) -> str:
        return "\n".join(f"--- {w.name} (pid {w.pid}) ---\n{w.output()}" for w in self.started)


@pytest.fixture
def workers(cluster_db: ClusterDb, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(cluster_db, tmp_path)
    try:
        yield group
    finally:
        group.kill_leftovers()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, workers: Workers,
             interval: float = 0.1) -> float:
    """Poll ``condition`` until it holds (returns the seconds waited); fail on timeout or a dead worker."""
    began = time.monotonic()
    while not condition():
        workers.check_alive()
        if time.monotonic() - began > timeout:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{workers.outputs()}")
        time.sleep(interval)
    return time.monotonic() - began


def heartbeats(db: ClusterDb) -> dict[str, WorkerHeartbeat]:
    with db.sessions() as s:
        return {b.worker_id: b for b in s.scalars(select(WorkerHeartbeat))}


# -- 1. timers -----------------------------------------------------------------------------------------------
TIMER_INSTANCES = 500


def test_two_workers_fire_each_of_500_due_timers_exactly_once(cluster_db: ClusterDb, workers: Workers) -> None:
    db, pe = cluster_db, cluster_db.pe
    with db.sessions.begin() as s:
        pe.repository.deploy(s, TIMER_DIAGRAM, "cluster_timer.bpmn")
    for batch in range(5):
        with db.sessions.begin() as s:
            actor = pe.identity.get_user(s, "cl_user")
            for i in range(TIMER_INSTANCES // 5):
                pe.runtime.start(s, "cluster_timer", business_key=f"T-{batch}-{i:03d}", data={}, actor=actor)
    with db.sessions() as s:
        waiting = s.execute(select(ProcessInstance.status, func.count(ProcessInstance.next_timer_at))
                            .group_by(ProcessInstance.status)).all()
    assert waiting == [("running", TIMER_INSTANCES)], "every instance must wait on its timer before the workers"
    time.sleep(1.0)  # every timer is due now: the workers find all 500 at once

    one, two = workers.start("timer-w1"), workers.start("timer-w2")

    def completed() -> int:
        with db.sessions() as s:
            return s.scalar(select(func.count()).where(ProcessInstance.status == "completed")) or 0

    waited = wait_for(lambda: completed() == TIMER_INSTANCES, 90, "all 500 instances to complete", workers,
                      interval=0.5)
    workers.stop(one)
    workers.stop(two)

    with db.sessions() as s:
        statuses = dict(s.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all())
        ids = set(s.scalars(select(ProcessInstance.id)))
        fired = dict(s.execute(select(HistoryEvent.instance_id, func.count())
                               .where(HistoryEvent.event_type == "timer_fired")
                               .group_by(HistoryEvent.instance_id)).all())
        marked = dict(s.execute(select(HistoryEvent.instance_id, func.count())
                                .where(HistoryEvent.event_type == "step_completed", HistoryEvent.node_id == "mark")
                                .group_by(HistoryEvent.instance_id)).all())
        still_due = s.scalar(select(func.count()).where(ProcessInstance.next_timer_at.is_not(None)))
    assert statuses == {"completed": TIMER_INSTANCES}
    assert still_due == 0
    assert set(fired) == ids, "an instance completed without a timer_fired event"
    assert Counter(fired.values()) == {1: TIMER_INSTANCES}, "some timer fired more than once"
    assert Counter(marked.values()) == {1: TIMER_INSTANCES} and set(marked) == ids

    beats = heartbeats(db)
    assert set(beats) == {"timer-w1", "timer-w2"}
    per_worker = {name: beat.timers_fired for name, beat in beats.items()}
    assert sum(per_worker.values()) == TIMER_INSTANCES, per_worker
    assert all(n > 0 for n in per_worker.values()), f"one worker did all the work: {per_worker}"
    assert all(beat.stopped_at is not None for beat in beats.values())
    print(f"500 timers fired in {waited:.1f}s by {per_worker}")


# -- 2. a flaky SMS gateway ------------------------------------------------------------------------------------
@dataclass
class GatewayRequest:
    at: float  # time.monotonic() when it arrived
    header_key: str
    body: dict[str, Any]
    status: int


class FlakyGateway:
    """An SMS gateway on 127.0.0.1 that answers 503 to its first ``fail_first`` POSTs and 200 afterwards."""

    def __init__(self, fail_first: int):
        self.fail_first = fail_first
        self.requests: list[GatewayRequest] = []
        self.accepted: list[str] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                key = self.headers.get("Idempotency-Key") or ""
                with gateway.lock:
                    status = 503 if len(gateway.requests) < gateway.fail_first else 200
                    gateway.requests.append(GatewayRequest(time.monotonic(), key, body, status))
                    if status == 200:
                        gateway.accepted.append(key)
                answer = b'{"ok": true}' if status == 200 else b'{"error": "busy"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


SMS_JOBS = 20
GATEWAY_FAILURES = 5


def test_worker_retries_sms_the_gateway_refused_and_sends_each_exactly_once(
        cluster_db: ClusterDb, workers: Workers) -> None:
    """The real backoff (JobPolicy: 10 s after a first failure) is kept rather than shortened by editing due_at:
    it costs ~10 s, the test stays under the slow threshold, and the spacing of the retries is checked too."""
    db = cluster_db
    expected: dict[str, tuple[str, str]] = {}  # message key -> (phone, business key)
    now = datetime.now(UTC)
    with db.sessions.begin() as s:
        for i in range(SMS_JOBS):
            phone, business_key, job_key = f"1380000{i:04d}", f"WO-{i:03d}", f"cluster-sms-{i:03d}"
            payload = {"template": "urge", "to": [{"phone": phone}],
                       "params": {"business_key": business_key, "step": "故障处理", "urger": "主管甲",
                                  "note": "请今日内回复。"}}
            enqueue(s, "sms.send", payload, job_key, now=now)
            expected[f"{job_key}:{phone}"] = (phone, business_key)

    with FlakyGateway(GATEWAY_FAILURES) as gateway:
        worker = workers.start("sms-w1", EOMS_SMS_BACKEND="http", EOMS_SMS_HTTP_URL=gateway.url)

        def all_done() -> bool:
            with db.sessions() as s:
                return s.scalar(select(func.count()).where(Job.status == "done")) == SMS_JOBS

        wait_for(all_done, 45, f"all {SMS_JOBS} sms.send jobs to be done", workers, interval=0.25)
        workers.stop(worker)
        requests = list(gateway.requests)

    refused = [r.header_key for r in requests if r.status == 503]
    assert [r.status for r in requests[:GATEWAY_FAILURES]] == [503] * GATEWAY_FAILURES
    assert len(refused) == GATEWAY_FAILURES
    assert len(requests) == SMS_JOBS + GATEWAY_FAILURES, "a message was sent again after the gateway took it"
    assert Counter(gateway.accepted) == Counter(list(expected)), "each message must be accepted exactly once"
    for r in requests:
        phone, business_key = expected[r.header_key]
        assert r.body["idempotency_key"] == r.header_key
        assert r.body["to"] == phone
        assert business_key in r.body["text"] and "主管甲" in r.body["text"] and "故障处理" in r.body["text"]
    backoff = JobPolicy().backoff(1).total_seconds()
    for key in refused:
        failed_at, retried_at = (r.at for r in requests if r.header_key == key)
        assert retried_at - failed_at >= backoff - 1.0, f"{key} retried after {retried_at - failed_at:.1f}s"

    with db.sessions() as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        messages = s.scalars(select(SmsMessage)).all()
    assert all(j.status == "done" and j.locked_by is None and j.last_error is None for j in jobs)
    attempts = {f"{j.idempotency_key}:{j.payload['to'][0]['phone']}": j.attempts for j in jobs}
    assert {k for k, n in attempts.items() if n == 2} == set(refused), attempts
    assert Counter(attempts.values()) == {1: SMS_JOBS - GATEWAY_FAILURES, 2: GATEWAY_FAILURES}
    assert sorted(m.idempotency_key for m in messages) == sorted(expected)
    job_ids = {j.idempotency_key: j.id for j in jobs}
    for m in messages:
        assert (m.status, m.backend, m.template) == ("sent", "http", "urge")
        assert m.phone == expected[m.idempotency_key][0]
        assert m.job_id == job_ids[m.idempotency_key.rsplit(":", 1)[0]]


# -- 3. a worker killed in the middle of a job --------------------------------------------------------------
def test_job_of_a_killed_worker_is_taken_over_after_its_lease_and_its_effect_kept_once(
        cluster_db: ClusterDb, workers: Workers, tmp_path: Path) -> None:
    db = cluster_db
    marker = tmp_path / "effect-written"
    with db.sessions.begin() as s:
        job_id = enqueue(s, slow_effect.KIND, {"marker": str(marker)}, "cluster-slow-1", now=datetime.now(UTC)).id
    plugin = {"EOMS_PLUGINS": "tests.plugins.slow_effect", "EOMS_JOB_LEASE_SECONDS": "3"}

    def job() -> Job:
        with db.sessions() as s:
            found = s.get(Job, job_id)
            assert found is not None
            return found

    def effects() -> int:
        with db.sessions() as s:
            return s.scalar(select(func.count()).where(SmsMessage.idempotency_key == "cluster-slow-1")) or 0

    a = workers.start("slow-a", **plugin, **{slow_effect.SLEEP_ENV: "60"})
    wait_for(lambda: marker.exists() and marker.read_text().strip() != "", 30, "worker A to write the effect",
             workers)
    claimed = job()
    assert (claimed.status, claimed.locked_by) == ("running", "slow-a")
    assert claimed.locked_until is not None
    assert marker.read_text().split() == [str(a.pid), "1"]
    assert effects() == 0, "the effect must not be committed while the job runs"

    a.proc.kill()
    assert a.proc.wait(timeout=10) == -signal.SIGKILL

    b = workers.start("slow-b", **plugin, **{slow_effect.SLEEP_ENV: "0"})
    wait_for(lambda: job().status == "done", 30, "worker B to take the job over and finish it", workers,
             interval=0.2)
    workers.stop(b)

    done = job()
    assert done.locked_by is None and done.locked_until is None and done.last_error is None
    assert done.result is not None and done.result["pid"] == b.pid, done.result
    assert done.finished_at is not None and done.finished_at > claimed.locked_until, \
        "worker B took the job over before worker A's lease expired"
    assert done.attempts >= 1
    assert [line.split()[0] for line in marker.read_text().splitlines()] == [str(a.pid), str(b.pid)]
    assert effects() == 1, "exactly one effect must survive the crash and the rerun"
    with db.sessions() as s:
        effect = s.scalar(select(SmsMessage).where(SmsMessage.idempotency_key == "cluster-slow-1"))
    assert effect is not None and effect.job_id == job_id
    beats = heartbeats(db)
    # A's first tick is the one that was killed, so it may have no heartbeat row at all; never a clean stop
    assert beats.get("slow-a") is None or beats["slow-a"].stopped_at is None
    assert beats["slow-b"].stopped_at is not None and beats["slow-b"].jobs_done == 1
    print(f"job {job_id}: attempts={done.attempts} after the crash and the takeover")


# -- 4. a clean stop -------------------------------------------------------------------------------------------
def test_sigterm_stops_an_idle_worker_with_exit_0_and_marks_its_heartbeat(
        cluster_db: ClusterDb, workers: Workers) -> None:
    db = cluster_db
    worker = workers.start("idle-w1")
    wait_for(lambda: (beat := heartbeats(db).get("idle-w1")) is not None and beat.ticks >= 2, 30,
             "the idle worker's heartbeat", workers)
    running = heartbeats(db)["idle-w1"]
    assert running.stopped_at is None and running.pid == worker.pid

    took = workers.stop(worker)
    assert took < 5.0, f"an idle worker took {took:.1f}s to stop"

    beat = heartbeats(db)["idle-w1"]
    assert beat.stopped_at is not None
    assert beat.started_at <= beat.stopped_at
    assert beat.stopped_at >= running.last_seen
    assert beat.ticks >= running.ticks
    assert (beat.timers_fired, beat.jobs_done, beat.last_error) == (0, 0, None)
    assert "idle-w1 stopped" in worker.output()
