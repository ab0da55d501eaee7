"""``eoms bench --scenario console``: the supervisor pages on a large database — instance list, dashboard and
statistics — timed through the real web app (Flask test client, logged in), with generated data:
``instances`` work orders over the last year (15 % of the last 20 days' still open, about 1 % of all), each
finished one with two to four step facts by flow."""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from bench.engine_bench import bench_database
from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.identity.models import OrgUnit, Post, User
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from eoms.demo import CITIES, flow_posts
from eoms.settings import Settings
from handlers import build_registry
from handlers.kpi import rollup
from handlers.kpi.models import KpiOrder, KpiStep
from webapp import create_app

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
STEPS = {"aftersales_fault": ["accept", "handle", "receipt", "audit"], "provisioning": ["audit", "test", "completion"],
         "presales_demand": ["assign", "solution", "review", "confirm"], "workplan": ["draft", "approve"],
         "insale_implementation": ["enter", "audit"]}
BATCH = 5000
YEAR_GOAL_MS = {"postgresql": 300.0, "sqlite": 1000.0}
PAGES = {
    "instance list": "/supervisor/instances",
    "instance list, filtered": "/supervisor/instances?flow=aftersales_fault&status=running&timing=overdue",
    "instance list, by customer": "/supervisor/instances?customer=客户12",
    "dashboard": "/supervisor/",
    "statistics by person (this month)": "/stats/?by=person",
    "statistics by flow (this month)": "/stats/?by=flow",
    "statistics by flow (a whole year)": "/stats/?by=flow&from={year_ago}",
}


def _world(pe: ProcessEngine, db: Engine) -> dict[str, Any]:
    sessions = make_session_factory(db)
    with sessions.begin() as s:
        pe.identity.add_org_unit(s, "GD", "广东")
        for code, name in CITIES:
            pe.identity.add_org_unit(s, code, name, "GD")
        for code, name in flow_posts():
            pe.identity.add_post(s, code, name)
        pe.identity.add_user(s, "boss", display_name="省主管", password="bench-password", org_code="GD",
                             role="supervisor")
        for city, _ in CITIES:
            for i in range(10):
                pe.identity.add_user(s, f"{city.lower()}_m{i}", display_name=f"{city}维护{i}",
                                     password="bench-password", org_code=city, post_codes=["maintainer"])
    with sessions() as s:
        return {"orgs": [u.id for u in s.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_not(None)))],
                "posts": [s.scalar(select(Post.id).where(Post.code == "maintainer"))] * 2,
                "users": list(s.scalars(select(User.id)))}


def generate(db: Engine, instances: int, seed: int = 7) -> None:
    """Bulk rows for ``instances`` work orders (this is load data, not engine-driven history)."""
    pe = ProcessEngine(build_registry())
    ids = _world(pe, db)
    with make_session_factory(db).begin() as s:
        for path in sorted((PROCESSES / "forms").glob("*.json")):
            pe.forms.deploy(s, path.stem, path.read_bytes(), path.name)
        definitions = {r.key: r.definition_id for path in sorted(PROCESSES.glob("*.bpmn"))
                       for r in pe.repository.deploy(s, path.read_bytes(), path.name)}
    rng = random.Random(seed)
    now = datetime.now(UTC)
    keys = list(STEPS)
    with db.begin() as conn:
        start_id = conn.scalar(text("SELECT COALESCE(MAX(id), 0) FROM process_instance")) + 1
    for batch_start in range(0, instances, BATCH):
        instance_rows, task_rows, step_rows, order_rows = [], [], [], []
        for n in range(batch_start, min(instances, batch_start + BATCH)):
            iid = start_id + n
            key = keys[n % len(keys)]
            org = ids["orgs"][n % len(ids["orgs"])]
            started = now - timedelta(minutes=rng.randint(10, 365 * 24 * 60))
            running = rng.random() < 0.15 and started > now - timedelta(days=20)
            ended = None if running else min(now, started + timedelta(hours=rng.uniform(1, 72)))
            instance_rows.append({"id": iid, "definition_id": definitions[key], "process_key": key,
                                  "business_key": f"B{n:07d}", "org_unit_id": org,
                                  "status": "running" if running else "completed", "state": "{}",
                                  "serializer_version": "1.5", "version": 1, "started_at": started, "ended_at": ended,
                                  "customer": f"客户{n % 5000}", "customer_phone": f"139{n:08d}",
                                  "circuit": f"GD-{n:07d}"})
            if running:
                node = rng.choice(STEPS[key])
                due = started + timedelta(hours=rng.uniform(2, 48))
                task_rows.append({"instance_id": iid, "spiff_task_id": f"bulk-{iid}", "process_key": key,
                                  "business_key": f"B{n:07d}", "node_id": node, "node_name": node, "lane": "maintainer",
                                  "post_id": ids["posts"][1], "org_unit_id": org,
                                  "assignee_id": rng.choice(ids["users"]) if rng.random() < 0.6 else None,
                                  "status": "ready", "allow": "", "created_at": started, "row_version": 1,
                                  "paused_seconds": 0, "due_at": due, "warn_at": due - timedelta(hours=1)})
                continue
            at = started
            late_steps = 0
            for node in STEPS[key]:
                took = timedelta(seconds=rng.randint(300, 36_000))  # whole seconds, 5 minutes to 10 hours
                done, due = at + took, at + timedelta(hours=6)
                late_steps += done > due
                step_rows.append({"instance_id": iid, "process_key": key, "business_key": f"B{n:07d}",
                                  "node_id": node, "node_name": node, "post_id": ids["posts"][1], "org_unit_id": org,
                                  "user_id": rng.choice(ids["users"]), "created_at": at, "completed_at": done,
                                  "due_at": due, "duration_seconds": int(took.total_seconds()),
                                  "working_seconds": rng.randint(int(took.total_seconds() * 0.5),
                                                                 int(took.total_seconds())), "paused_seconds": 0,
                                  "on_time": done <= due, "transfers": int(rng.random() < 0.1)})
                at = done
            order_rows.append({"instance_id": iid, "process_key": key, "business_key": f"B{n:07d}",
                               "org_unit_id": org, "started_at": started, "ended_at": at,
                               "duration_seconds": int((at - started).total_seconds()), "steps": len(STEPS[key]),
                               "returns": int(rng.random() < 0.2), "transfers": int(rng.random() < 0.1),
                               "overdue_steps": late_steps, "on_time": late_steps == 0})
        with db.begin() as conn:
            conn.execute(insert(ProcessInstance), instance_rows)
            if task_rows:
                conn.execute(insert(HumanTask), task_rows)
        with db.begin() as conn:
            if step_rows:
                steps_with_tasks = _task_rows_for(step_rows)
                result = conn.execute(insert(HumanTask).returning(HumanTask.id), steps_with_tasks)
                for row, task_id in zip(step_rows, [r[0] for r in result], strict=True):
                    row["human_task_id"] = task_id
                conn.execute(insert(KpiStep), step_rows)
            if order_rows:
                conn.execute(insert(KpiOrder), order_rows)
    with make_session_factory(db).begin() as s:  # facts loaded in bulk: their day rollups recomputed
        rollup.rebuild(s)
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                              "(SELECT MAX(id) FROM process_instance))"))
        else:
            conn.execute(text("ANALYZE"))
    if db.dialect.name == "postgresql":  # as autovacuum leaves insert-only facts: visible to index-only scans
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def _task_rows_for(step_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The completed task rows the step facts point at."""
    return [{"instance_id": r["instance_id"], "spiff_task_id": f"bulk-{r['instance_id']}-{r['node_id']}",
             "process_key": r["process_key"], "business_key": r["business_key"], "node_id": r["node_id"],
             "node_name": r["node_name"], "post_id": r["post_id"], "org_unit_id": r["org_unit_id"],
             "status": "completed", "allow": "", "created_at": r["created_at"], "completed_at": r["completed_at"],
             "completed_by_id": r["user_id"], "due_at": r["due_at"], "row_version": 1, "paused_seconds": 0}
            for r in step_rows]


def time_pages(db: Engine, repeats: int) -> dict[str, dict[str, float]]:
    """Median and p95 milliseconds of each page, logged in as the provincial supervisor."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"EOMS_DATABASE_URL": db.url.render_as_string(hide_password=False),
                                      "EOMS_STORAGE_DIR": tmp, "EOMS_SECRET_KEY": "bench"})
        engine = ProcessEngine(build_registry(), attachments=AttachmentPolicy(Path(tmp)))
        app = create_app(settings, engine)
        client = app.test_client()
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/auth/login", data={"csrf_token": token, "username": "boss", "password": "bench-password"})
        year_ago = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
        results = {}
        for name, url in PAGES.items():
            url = url.format(year_ago=year_ago)
            assert client.get(url).status_code == 200, url
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            times.sort()
            results[name] = {"median_ms": round(statistics.median(times), 1),
                             "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}
        return results


def run_console_bench(instances: int, database_url: str | None, repeats: int = 15) -> dict[str, Any]:
    with bench_database(database_url) as (db, kind):
        started = time.perf_counter()
        generate(db, instances)
        generated = time.perf_counter() - started
        pages = time_pages(db, repeats)
    year = pages["statistics by flow (a whole year)"]  # issue 15, goal 5: exact, from the facts and their rollups
    year.update(goal_ms=YEAR_GOAL_MS[kind], met=year["p95_ms"] <= YEAR_GOAL_MS[kind])
    return {"scenario": "console", "database": kind, "instances": instances,
            "generate_s": round(generated, 1), "pages": pages, "date": datetime.now(UTC).isoformat(timespec="seconds")}
