"""``eoms bench --scenario web``: the web pages under load — 50 simulated users on loopback against gunicorn.

A fresh database gets one unit, the fault-style diagram's three posts and 50 users holding them; work orders are
started in-process, ``instances`` of them claimed by the users in turn (the tasks to complete), the rest left in
the post's pool (every user's 待办 holds its claimed tasks and the pool). The app runs under gunicorn (2 workers,
threads, on the machine's 2 cores); each user logs in over HTTP (a real session cookie and CSRF token). Then
autocannon (the npm package from the project's package.json, ``bench/web_load.js``) runs bounded phases with one
keep-alive connection per user:

* 待办 list: ``GET /portal/`` (the portal home with the 待办 first page), for ``PHASE_SECONDS``;
* task page: ``GET /tasks/<id>`` over the user's tasks, for ``PHASE_SECONDS``;
* completion: ``POST /tasks/<id>/complete`` once per claimed task (each answered by a redirect), after which
  the database is counted: every task completed once, none lost.

The load tool shares the 2 cores with the server, as the issue's setting has it; its own CPU time is reported.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import resource
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bench.engine_bench import DIAGRAM, PROCESS_KEY, bench_database
from bench.http_bench import POSTS, ROOT, gunicorn
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.registry import HandlerRegistry
from engine.tasks.models import HumanTask

USERS = 50
POOL = 500  # open tasks nobody claimed: on every user's 待办
PHASE_SECONDS = int(os.environ.get("EOMS_BENCH_PHASE_SECONDS", "10"))  # the tests shorten the phases
PASSWORD = "bench-password"
GUNICORN = ("-k", "gthread", "--threads", "4")  # keep-alive connections; 2 processes (http_bench.WORKERS)
GOALS = {"todo list": (500.0, 50.0), "task page": (200.0, None), "complete": (100.0, None)}  # req/s, p99 ms
LOAD_SCRIPT = Path(__file__).with_name("web_load.js")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def _world(db: Engine, claimed: int) -> dict[str, list[int]]:
    """Unit, posts, users; ``claimed`` + ``POOL`` work orders at their first step; each user's claimed task ids."""
    pe = ProcessEngine(HandlerRegistry())
    sessions = make_session_factory(db, writer=True)
    with sessions.begin() as s:
        pe.identity.add_org_unit(s, "WEB", "负载测试")
        for code in POSTS:
            pe.identity.add_post(s, code, code)
        for n in range(USERS):
            pe.identity.add_user(s, f"w{n:02d}", display_name=f"用户{n:02d}", password=PASSWORD, org_code="WEB",
                                 post_codes=list(POSTS))
        pe.repository.deploy(s, DIAGRAM.read_bytes(), DIAGRAM.name)
    tasks: dict[str, list[int]] = {f"w{n:02d}": [] for n in range(USERS)}
    total, batch = claimed + POOL, 50
    for first in range(0, total, batch):
        with sessions.begin() as s:
            for i in range(first, min(total, first + batch)):
                owner = f"w{i % USERS:02d}"
                actor = pe.identity.get_user(s, owner)
                started = pe.runtime.start(s, PROCESS_KEY, business_key=f"WEB-{i:06d}", data={"vip": False},
                                           actor=actor)
                if i < claimed:
                    task = started.tasks[0]
                    pe.tasks.claim(s, task.id, actor)
                    tasks[owner].append(task.id)
    return tasks


class Browser:
    """One user's session over HTTP: logs in through the login form, keeps the cookies, reads a CSRF token."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def login(self, username: str) -> dict[str, str]:
        """Log in; the cookie header and the CSRF token a page of the session carries."""
        _, page = self.call("GET", "/auth/login")
        status, _ = self.call("POST", "/auth/login", {"csrf_token": _csrf(page), "username": username,
                                                       "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"login of {username} answered {status}")
        status, page = self.call("GET", "/portal/")
        if status != 200:
            raise RuntimeError(f"the portal answered {status} to {username}")
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "csrf": _csrf(page)}


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1) or found.group(2)


def _phase(port: int, users: list[dict[str, Any]], *, method: str = "GET", expect: int = 200,
           expect_location: str | None = None, duration: int = PHASE_SECONDS,
           amount: int | None = None) -> dict[str, Any]:
    """One autocannon run (``bench/web_load.js``): its figures, with the load tool's CPU seconds."""
    plan = {"url": f"http://127.0.0.1:{port}", "connections": len(users), "duration": duration, "amount": amount,
            "users": users, "method": method, "expect": expect, "expectLocation": expect_location}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(["node", str(LOAD_SCRIPT), f.name], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=duration + 600)
    finally:
        os.unlink(f.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures: dict[str, Any] = json.loads(out.stdout)
    figures["rate"], figures["seconds"] = round(figures["rate"], 1), round(figures["seconds"], 2)
    figures["load_tool_cpu_seconds"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return figures


def _judge(name: str, figures: dict[str, Any]) -> None:
    rate, p99 = GOALS[name]
    figures["goal_rate"] = rate
    ok = figures["rate"] >= rate and figures["expected"] == figures["answered"] and not figures["errors"]
    if p99 is not None:
        figures["goal_p99_ms"] = p99
        ok = ok and figures["latency_ms"]["p99"] <= p99
    figures["met"] = ok


def run_web_bench(instances: int, database_url: str | None) -> dict[str, Any]:
    """Load the web pages with 50 users; ``instances``: tasks completed through the web (rounded to 50s)."""
    per_user = max(1, -(-instances // USERS))
    with bench_database(database_url) as (db, kind), tempfile.TemporaryDirectory(prefix="eoms-web-") as tmp:
        loaded = time.perf_counter()
        tasks = _world(db, per_user * USERS)
        loaded = time.perf_counter() - loaded
        with gunicorn(db.url.render_as_string(hide_password=False), Path(tmp), GUNICORN) as port:
            sessions = {name: Browser(port).login(name) for name in tasks}
            todo = [{**sessions[n], "paths": ["/portal/"]} for n in tasks]
            pages = [{**sessions[n], "paths": [f"/tasks/{t}" for t in ids]} for n, ids in tasks.items()]
            completes = [{**sessions[n], "paths": [f"/tasks/{t}/complete" for t in ids]} for n, ids in tasks.items()]
            # warm-up: both workers' connections, caches, compiled statements
            _phase(port, todo, duration=min(2, PHASE_SECONDS))
            figures = {"todo list": _phase(port, todo), "task page": _phase(port, pages),
                       "complete": _phase(port, completes, method="POST", expect=302, expect_location="/portal/",
                                          amount=per_user * USERS)}
        with make_session_factory(db)() as s:
            completed = s.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.node_id == "accept", HumanTask.status == "completed"))
            handle = s.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.node_id == "handle", HumanTask.status == "ready"))
    for name, value in figures.items():
        _judge(name, value)
    nothing_lost = completed == per_user * USERS == handle
    figures["complete"]["met"] = figures["complete"]["met"] and nothing_lost
    return {
        "scenario": "web", "database": kind, "users": USERS, "connections": USERS,
        "gunicorn": f"2 workers, {' '.join(GUNICORN)}", "phase_seconds": PHASE_SECONDS,
        "open_tasks": per_user * USERS + POOL, "setup_seconds": round(loaded, 1), "figures": figures,
        "completed_through_web": {"sent": per_user * USERS, "accept_completed": completed,
                                  "handle_created": handle},
        "nothing_lost": nothing_lost,
        "load_tool": "autocannon (npm, package.json), one keep-alive connection per user, on the same 2 cores",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "source": str(Path(__file__).name),
    }
