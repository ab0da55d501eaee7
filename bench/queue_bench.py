"""``eoms bench --scenario queue``: the work queue at a province's scale.

``instances`` is the number of task rows to bulk-load (the issue's figure: 1,000,000, of which one in ten open):
3 org units, 40 posts, 5 holders per post and unit (600 users), ≈ 830 open tasks per post and unit, one in ten of
them claimed; the other nine in ten completed by a holder of their post over the last year. Rows are generated
by the database itself (``WITH RECURSIVE``), then ``ANALYZE``/``VACUUM``; the queries are the engine's own
(``TaskService.query``), for users picked at random, 200 per figure after a warm-up:

* 待办 first page (50 by due time) with its count;
* the portal home's queue queries (待办, 已办, 临近时限 tips, due within a week) together;
* 待办 filtered by business key, customer, phone number (substring) and overdue.

The plans of the 待办 page are returned too (``EXPLAIN`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.engine_bench import DIAGRAM, bench_database
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.identity.lookup import find_user_by_name
from engine.identity.models import User, user_post
from engine.registry import HandlerRegistry
from engine.tasks.filters import TaskFilter
from engine.tasks.open_queue import open_statements

UNITS, POSTS, HOLDERS = 3, 40, 5
QUERIES = 200
GOALS_MS = {"inbox first page with count": 3.0, "portal home queue queries": 15.0, "filter": 10.0}


def world(db: Engine) -> int:
    """Org units, posts, users (cheap password hash: bulk data), one deployed definition; its id."""
    pe = ProcessEngine(HandlerRegistry())
    sessions = make_session_factory(db)
    with sessions.begin() as s:
        pe.identity.add_org_unit(s, "P", "省公司")
        for u in range(UNITS):
            pe.identity.add_org_unit(s, f"U{u}", f"地市{u}", "P")
        for p in range(POSTS):
            pe.identity.add_post(s, f"post{p:02d}", f"岗位{p:02d}")
        for code in ("bench_dispatcher", "bench_maintainer", "bench_reviewer"):  # the diagram's lanes
            pe.identity.add_post(s, code, code)
        definition = pe.repository.deploy(s, DIAGRAM.read_bytes(), DIAGRAM.name)[0].definition_id
    with db.begin() as conn:
        units = [conn.scalar(text("SELECT id FROM org_unit WHERE code = :c"), {"c": f"U{u}"}) for u in range(UNITS)]
        posts = [conn.scalar(text("SELECT id FROM post WHERE code = :c"), {"c": f"post{p:02d}"}) for p in range(POSTS)]
        for u in range(UNITS):
            for p in range(POSTS):
                for h in range(HOLDERS):
                    uid = conn.execute(insert(User).returning(User.id), {
                        "username": f"u{u}_{p:02d}_{h}", "display_name": f"用户{u}{p}{h}", "password_hash": "x",
                        "org_unit_id": units[u], "role": "user"}).scalar_one()
                    conn.execute(insert(user_post), {"user_id": uid, "post_id": posts[p]})
    return int(definition)


def fill(db: Engine, rows: int, definition: int) -> None:
    """``rows`` task rows (one instance per four), generated in the database."""
    pg = db.dialect.name == "postgresql"
    pad = (lambda e, n: f"lpad(({e})::text, {n}, '0')") if pg else (lambda e, n: f"substr('{'0' * n}' || ({e}), -{n})")
    def div(a: str, b: int) -> str:  # integer division in both databases
        return f"(({a}) / {b})"

    ago = (lambda minutes: f"(now() - make_interval(mins => ({minutes})::int))") if pg \
        else (lambda minutes: f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ({minutes}) || ' minutes')")
    ahead = (lambda minutes: f"(now() + make_interval(mins => ({minutes})::int))") if pg \
        else (lambda minutes: f"strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || ({minutes}) || ' minutes')")
    with db.begin() as conn:
        base_unit = conn.scalar(text("SELECT MIN(id) FROM org_unit WHERE code LIKE 'U%'"))
        base_post = conn.scalar(text("SELECT MIN(id) FROM post WHERE code LIKE 'post%'"))
        base_user = conn.scalar(text("SELECT MIN(id) FROM app_user"))
        instances = (rows + 3) // 4
        conn.execute(text(
            f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {instances}) "
            "INSERT INTO process_instance (id, definition_id, process_key, business_key, org_unit_id, status, state, "
            "serializer_version, version, started_at, customer, customer_phone) "
            f"SELECT x, {definition}, 'bench_fault', 'GZ' || {pad('x', 9)}, {base_unit} + x % {UNITS}, 'running', "
            f"'{{}}', '', 1, {ago('x')}, '客户' || (x % 5000), '138' || {pad('x * 7919 % 100000000', 8)} FROM g"))
        # task t: instance (t+3)/4; one in ten open (post, unit from t/10), the rest completed by a holder
        pool = f"{div('t', 10)}"
        post = f"({pool} % {POSTS})"
        unit = f"({div(pool, POSTS)} % {UNITS})"
        holder = f"{base_user} + ({unit} * {POSTS} + {post}) * {HOLDERS} + (t % {HOLDERS})"
        # one open task in ten claimed, by the pool's holders in turn
        turn = div("t", 100 * UNITS * POSTS)
        claimer = f"{base_user} + ({unit} * {POSTS} + {post}) * {HOLDERS} + ({turn} % {HOLDERS})"
        conn.execute(text(
            f"WITH RECURSIVE g(t) AS (SELECT 1 UNION ALL SELECT t + 1 FROM g WHERE t < {rows}) "
            "INSERT INTO human_task (instance_id, spiff_task_id, process_key, business_key, node_id, node_name, lane, "
            "post_id, org_unit_id, assignee_id, status, allow, created_at, completed_at, completed_by_id, warn_at, "
            "due_at, paused_seconds, row_version) "
            f"SELECT {div('t + 3', 4)}, 'bulk-' || t, 'bench_fault', 'GZ' || {pad(div('t + 3', 4), 9)}, 'handle', "
            f"'故障处理', 'post', {base_post} + {post}, {base_unit} + {unit}, "
            f"CASE WHEN t % 10 = 0 AND {div('t', 10 * UNITS * POSTS)} % 10 = 0 THEN {claimer} END, "
            "CASE WHEN t % 10 = 0 THEN 'ready' ELSE 'completed' END, '', "
            f"{ago(f'{rows} - t + 60')}, CASE WHEN t % 10 = 0 THEN NULL ELSE {ago(f'{rows} - t')} END, "
            f"CASE WHEN t % 10 = 0 THEN NULL ELSE {holder} END, "
            f"CASE WHEN t % 10 = 0 THEN {ahead('(t * 37) % 20000 - 3000')} END, "
            f"CASE WHEN t % 10 = 0 THEN {ahead('(t * 37) % 20000 - 2000')} END, 0, 1 FROM g"))
        if pg:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT MAX(id) FROM process_instance))"))
    if pg:
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.begin() as conn:
            conn.execute(text("ANALYZE"))


def _times(fn: Callable[[int], object], count: int = QUERIES) -> dict[str, float]:
    for i in range(10):
        fn(i)
    took = []
    for i in range(count):
        started = time.perf_counter()
        fn(i)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 2), "p95_ms": round(took[int(len(took) * 0.95) - 1], 2)}


def _plan(session: Session, user: User) -> list[str]:
    """The database's plan of the 待办 first page's two statements (count, rows) for ``user``."""
    posts = sorted(p.id for p in user.posts)
    params = {"me": user.id, "unit": user.org_unit_id, "first": 50, "skip": 0, "size": 50,
              **{f"post{i}": post for i, post in enumerate(posts)}}
    pg = session.bind.dialect.name == "postgresql"  # type: ignore[union-attr]
    lines: list[str] = []
    for statement in open_statements("inbox", len(posts), ()):
        compiled = statement.params(**params).compile(dialect=postgresql.dialect() if pg else sqlite.dialect(),
                                                      compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN (COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
        lines += [" ".join(str(c) for c in row) for row in session.execute(text(prefix + str(compiled)))]
    return lines


def run_queue_bench(rows: int, database_url: str | None) -> dict[str, Any]:
    """Bulk-load ``rows`` task rows and time the queue's queries; the figures ``eoms bench --json`` prints."""
    rows = max(rows, 1000)
    pe = ProcessEngine(HandlerRegistry())
    rng = random.Random(11)
    with bench_database(database_url) as (db, kind):
        loaded = time.perf_counter()
        fill(db, rows, world(db))
        loaded = time.perf_counter() - loaded
        sessions = make_session_factory(db)
        names = [f"u{u}_{p:02d}_{h}" for u in range(UNITS) for p in range(POSTS) for h in range(HOLDERS)]
        with sessions() as s:
            users = [find_user_by_name(s, n) for n in rng.sample(names, 50)]
            for u in users:
                s.expunge(u)  # the request's user, loaded once with its posts
            open_tasks = s.scalar(text("SELECT COUNT(*) FROM human_task WHERE status = 'ready'"))
            sample = s.execute(text("SELECT business_key FROM human_task WHERE status = 'ready' LIMIT 1")).scalar()
        now = datetime.now(UTC)
        figures: dict[str, Any] = {}

        def query(scope: str, f: TaskFilter | None = None, size: int = 50) -> Callable[[int], object]:
            def run(i: int) -> object:
                with sessions() as s:
                    return pe.tasks.query(s, users[i % len(users)], scope=scope, filters=f, page_size=size)
            return run

        def home(i: int) -> None:
            user = users[i % len(users)]
            with sessions() as s:
                pe.tasks.query(s, user, scope="inbox", page_size=50)
                pe.tasks.query(s, user, scope="done", page_size=50)
                pe.tasks.query(s, user, scope="inbox", filters=TaskFilter(warn_by=now), page_size=20)
                pe.tasks.query(s, user, scope="inbox", filters=TaskFilter(overdue_at=now + timedelta(days=7)))

        figures["inbox first page with count"] = _times(query("inbox"))
        figures["done first page with count"] = _times(query("done"))
        figures["portal home queue queries"] = _times(home)
        figures["filter: business key"] = _times(query("inbox", TaskFilter(search=str(sample)[-6:])))
        figures["filter: customer"] = _times(query("inbox", TaskFilter(search="客户12")))
        figures["filter: phone number"] = _times(query("inbox", TaskFilter(search="13855")))
        figures["filter: overdue"] = _times(query("inbox", TaskFilter(overdue_at=now)))
        with sessions() as s:
            plan = _plan(s, s.merge(users[0], load=False))
        for name, figure in figures.items():  # each figure with the goal of issue 15 it answers to
            goal = GOALS_MS.get(name) or (GOALS_MS["filter"] if name.startswith("filter") else None)
            if goal is not None:
                figure.update(goal_p95_ms=goal, met=figure["p95_ms"] <= goal)
    return {
        "scenario": "queue", "database": kind, "task_rows": rows, "open_tasks": open_tasks,
        "units": UNITS, "posts": POSTS, "users": len(names), "load_seconds": round(loaded, 1),
        "figures": figures,
        "timing": "each query in its own session from the pool, as a request has it (checkout, BEGIN, the "
                  "statements, ROLLBACK)",
        "inbox_plan": plan,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "source": str(Path(__file__).name),
    }
