"""``eoms bench --scenario http``: the fault-style diagram end to end over HTTP through the integration API.

The app runs under gunicorn (2 workers, its own processes) on a fresh database; one client with a bearer token
drives each instance with ``POST /api/v1/process-instances`` + 3 × (``GET /api/v1/tasks`` for that order,
``POST /api/v1/tasks/{id}/complete``) + ``GET /api/v1/process-instances/{id}``, one request at a time over
one keep-alive connection. Beside it, in the same run: raw SpiffWorkflow (JSON round trip per wait state) and
the engine in-process (the same three steps, one transaction each) — the ratios are what docs/PERFORMANCE.md
records, not the absolute figures of a shared machine.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bench import engine_bench
from bench.engine_bench import DIAGRAM, PROCESS_KEY, WARMUP, bench_database
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.registry import HandlerRegistry
from webapp.api import clients

ROOT = Path(__file__).resolve().parent.parent
STEPS = [("accept", {"vip": False, "summary": "线路中断"}),
         ("handle", {"resolved": True, "cause": "光缆中断", "measures": "熔接"}),
         ("review", {"approved": True})]
POSTS = ("bench_dispatcher", "bench_maintainer", "bench_reviewer")
WORKERS = 2
GOAL_RATE = {"sqlite": 100.0, "postgresql": 80.0}  # issue 15: instances/s over HTTP, one client
GOAL_COMPLETE_P95_MS = 10.0


def _world(db: Engine) -> str:
    """The bench unit, posts, one user holding all three, the diagram, and an API client: its token."""
    pe = ProcessEngine(HandlerRegistry())
    with make_session_factory(db).begin() as s:
        pe.identity.add_org_unit(s, "BENCH", "基准测试")
        for code in POSTS:
            pe.identity.add_post(s, code, code)
        pe.identity.add_user(s, "b_all", display_name="基准", password="bench-password", org_code="BENCH",
                             post_codes=list(POSTS))
        pe.repository.deploy(s, DIAGRAM.read_bytes(), DIAGRAM.name)
        made = clients.create(s, "bench", user=pe.identity.get_user(s, "b_all"), scopes=["engine.read", "engine.write"],
                              now=datetime.now(UTC), rate_per_minute=100_000)
        return made.token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(url: str, storage: Path, options: tuple[str, ...] = ()) -> Iterator[int]:
    """The app under gunicorn on a free port, with its settings from the environment; yields the port.

    ``options``: more gunicorn options (a worker class, threads)."""
    port = _free_port()
    env = {**os.environ, "EOMS_DATABASE_URL": url, "EOMS_STORAGE_DIR": str(storage),
           "EOMS_SECRET_KEY": "bench-secret-key-not-for-production", "EOMS_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         *options, "webapp.wsgi:app"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


class Client:
    """One keep-alive connection with the bearer token; records each call's latency by kind."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.latency: dict[str, list[float]] = {}

    def call(self, kind: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        started = time.perf_counter()
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        self.latency.setdefault(kind, []).append(time.perf_counter() - started)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def one(self, i: int) -> None:
        started = self.call("start", "POST", "/api/v1/process-instances",
                            {"processKey": PROCESS_KEY, "businessKey": f"HTTP-{i}-{time.monotonic_ns()}", "data": {}})
        key = started["businessKey"]
        for node_id, data in STEPS:
            (task,) = self.call("list", "GET", f"/api/v1/tasks?businessKey={key}")
            assert task["nodeId"] == node_id, (task, node_id)
            self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
        order = self.call("get", "GET", f"/api/v1/process-instances/{started['id']}")
        assert order["status"] == "completed", order


def _in_process(instances: int, db: Engine) -> float:
    """The same three steps through the engine services in this process, one transaction per action."""
    pe = ProcessEngine(HandlerRegistry())
    sessions = make_session_factory(db)
    with sessions.begin() as s:
        pe.identity.add_org_unit(s, "INPROC", "进程内")
        pe.identity.add_user(s, "b_inproc", display_name="进程内", password="bench-password", org_code="INPROC",
                             post_codes=list(POSTS))

    def one(i: int) -> None:
        with sessions.begin() as s:
            result = pe.runtime.start(s, PROCESS_KEY, business_key=f"INPROC-{i}-{time.monotonic_ns()}", data={},
                                      actor=pe.identity.get_user(s, "b_inproc"))
            next_ids = [t.id for t in result.tasks]
        for _node_id, data in STEPS:
            with sessions.begin() as s:
                created = pe.tasks.complete(s, next_ids[0], pe.identity.get_user(s, "b_inproc"), data)
                next_ids = [t.id for t in created]

    return engine_bench._rate(one, instances)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def run_http_bench(instances: int, database_url: str | None) -> dict[str, Any]:
    """Raw SpiffWorkflow, the engine in-process and the API over HTTP, in one run."""
    raw = engine_bench.run_raw(instances)
    raw_full = engine_bench.run_raw(instances, state_only=False)
    with bench_database(database_url) as (db, kind), tempfile.TemporaryDirectory(prefix="eoms-http-") as tmp:
        token = _world(db)
        in_process = _in_process(instances, db)
        with gunicorn(db.url.render_as_string(hide_password=False), Path(tmp)) as port:
            client = Client(port, token)
            for i in range(WARMUP):
                client.one(i)
            client.latency.clear()
            started = time.perf_counter()
            for i in range(instances):
                client.one(WARMUP + i)
            http_rate = instances / (time.perf_counter() - started)
    return {
        "scenario": "http", "instances": instances, "database": kind, "gunicorn_workers": WORKERS,
        "raw_instances_per_s": round(raw, 1), "raw_full_json_instances_per_s": round(raw_full, 1),
        "engine_in_process_instances_per_s": round(in_process, 1),
        "http_instances_per_s": round(http_rate, 1), "http_over_raw": round(http_rate / raw, 3),
        "http_over_in_process": round(http_rate / in_process, 3),
        "latency_ms": {kind: {"p50": _ms(v, 0.5), "p95": _ms(v, 0.95), "mean": round(1000 * statistics.mean(v), 2)}
                       for kind, v in client.latency.items()},
        "calls_per_instance": "1 start + 3 × (list, complete) + 1 get = 8",
        "goal_instances_per_s": GOAL_RATE.get(kind),
        "goal_complete_p95_ms": GOAL_COMPLETE_P95_MS,
        "met": http_rate >= GOAL_RATE.get(kind, float("inf"))
        and _ms(client.latency["complete"], 0.95) <= GOAL_COMPLETE_P95_MS,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
