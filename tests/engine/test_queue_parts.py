"""The open queue read in parts (mine, then one part per post, merged by due time) returns exactly what the plain
rule says: open tasks assigned to the user, or unclaimed for one of the user's posts in the user's unit, by due
time (no deadline last), then arrival, then id — every page, every count, with each filter.

The expectation is computed here in Python from the rows the test wrote, not by the engine's SQL.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import sqlite

from bench import queue_bench
from engine.db import make_engine
from engine.identity.models import OrgUnit, Post, User
from engine.migrate import upgrade_to_head
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.tasks.open_queue import open_statements
from engine.tasks.queries import TaskFilter
from tests.conftest import user

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMERS = ("广州地铁", "广州银行", "Canton Tower", "canton fair", "市政府")


def _fill(db, definition_id: int, rng: random.Random) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with db.sessions() as s:
        units = list(s.scalars(select(OrgUnit.id)))
        core = list(s.scalars(select(Post.id).where(Post.code.in_(("dispatcher", "reviewer", "maintainer")))))
        posts = core * 6 + list(s.scalars(select(Post.id)))  # mostly the posts the users below hold
        people = list(s.scalars(select(User.id).where(User.username.in_(("alice", "carol", "triple", "bob")))))
    instances, tasks = [], []
    for n in range(1, 241):
        instances.append({"id": 10_000 + n, "definition_id": definition_id, "process_key": "review_loop",
                          "business_key": f"GZ-{n:05d}", "org_unit_id": rng.choice(units), "status": "running",
                          "state": "{}", "serializer_version": "", "version": 1, "started_at": NOW,
                          "customer": rng.choice(CUSTOMERS), "customer_phone": f"1380013{n:04d}"})
        for k in range(2):
            due = None if rng.random() < 0.15 else NOW + timedelta(minutes=rng.randint(-600, 600) // 30 * 30)
            tasks.append({"instance_id": 10_000 + n, "spiff_task_id": f"t{n}-{k}", "process_key": "review_loop",
                          "business_key": f"GZ-{n:05d}", "node_id": "fix", "node_name": rng.choice(("处理", "审核")),
                          "lane": "x", "post_id": rng.choice(posts), "org_unit_id": rng.choice(units),
                          "assignee_id": rng.choice(people) if rng.random() < 0.3 else None,
                          "status": "ready" if rng.random() < 0.8 else "completed", "allow": "",
                          "created_at": NOW - timedelta(minutes=rng.randint(0, 5)),  # ties on due and on arrival
                          "due_at": due, "warn_at": due - timedelta(hours=1) if due else None,
                          "suspended_at": NOW - timedelta(hours=2) if rng.random() < 0.1 else None,
                          "paused_seconds": 0, "row_version": 1})
    with db.sessions.begin() as s:
        s.execute(insert(ProcessInstance), instances)
        ids = s.execute(insert(HumanTask).returning(HumanTask.id, sort_by_parameter_order=True), tasks).scalars()
        for row, task_id in zip(tasks, ids, strict=True):
            row["id"] = task_id
    by_instance = {i["id"]: i for i in instances}
    for row in tasks:
        row["instance"] = by_instance[row["instance_id"]]
    return tasks


def _expected(rows: list[dict[str, Any]], person: User, scope: str, f: TaskFilter) -> list[int]:
    posts = {p.id for p in person.posts}

    def in_scope(r: dict[str, Any]) -> bool:
        if r["status"] != "ready":
            return False
        mine = r["assignee_id"] == person.id
        offered = r["assignee_id"] is None and r["post_id"] in posts and r["org_unit_id"] == person.org_unit_id
        return {"inbox": mine or offered, "mine": mine, "offered": offered}[scope]

    def passes(r: dict[str, Any]) -> bool:
        due, paused = r["due_at"], r["suspended_at"]
        if f.overdue_at and not (due is not None and due < f.overdue_at and (paused is None or due < paused)):
            return False
        if f.warn_by and not ((r["warn_at"] is not None and r["warn_at"] <= f.warn_by)
                              or (due is not None and due <= f.warn_by)):
            return False
        if f.search:
            term = f.search.lower()
            fields = (r["instance"]["business_key"], r["instance"]["customer"], r["instance"]["customer_phone"])
            if not any(term in value.lower() for value in fields):
                return False
        if f.text and not (f.text in r["business_key"] or f.text in r["node_name"]):
            return False
        if f.assignment == "mine" and r["assignee_id"] != person.id:
            return False
        return not (f.assignment == "pool" and r["assignee_id"] is not None)

    chosen = [r for r in rows if in_scope(r) and passes(r)]
    far = datetime.max.replace(tzinfo=UTC)
    chosen.sort(key=lambda r: (r["due_at"] or far, r["created_at"], r["id"]))
    return [r["id"] for r in chosen]


FILTERS = [TaskFilter(), TaskFilter(overdue_at=NOW), TaskFilter(warn_by=NOW + timedelta(minutes=30)),
           TaskFilter(search="广州"), TaskFilter(search="CANTON"), TaskFilter(search="0013012"),
           TaskFilter(search="gz-0001"), TaskFilter(text="审核"), TaskFilter(assignment="mine"),
           TaskFilter(assignment="pool", overdue_at=NOW + timedelta(hours=3))]


@pytest.mark.parametrize("scope", ["inbox", "mine", "offered"])
def test_every_page_and_count_is_the_plain_rule(pe, db, deploy, scope: str) -> None:  # type: ignore[no-untyped-def]
    (result,) = deploy("review_loop.bpmn")
    with db.sessions.begin() as s:  # someone holding three posts, to have three pool parts
        pe.identity.add_user(s, "triple", display_name="三岗", password="secret123", org_code="GZ",
                             post_codes=["dispatcher", "reviewer", "maintainer"])
    rows = _fill(db, result.definition_id, random.Random(5))
    checked = 0
    for username in ("alice", "carol", "triple", "mike"):
        for f in FILTERS:
            with db.sessions() as s:
                person = user(s, pe, username)
                want = _expected(rows, person, scope, f)
                for page in (1, 2, 3, 9):
                    got = pe.tasks.query(s, person, scope=scope, filters=f, page=page, page_size=7)
                    assert got.total == len(want), (username, f, page)
                    assert [t.id for t in got.items] == want[(page - 1) * 7:page * 7], (username, f, page)
                    checked += len(got.items)
    assert checked > 200  # the data gives each scope real pages to compare



def test_sqlite_reads_each_pool_part_from_the_pool_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The claimed-task index must not serve the pool's parts: with the statistics of a real queue (most rows
    completed, most open rows unclaimed) SQLite once chose it for ``assignee_id IS NULL`` and read every
    unclaimed open task of every post in due order (341 ms on 1,000,000 rows)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade_to_head(engine)
    queue_bench.fill(engine, 30_000, queue_bench.world(engine))  # bulk rows as the bench has them, then ANALYZE
    params = {"me": 1, "unit": 2, "post0": 3, "post1": 4, "first": 50, "skip": 0, "size": 50}
    with engine.connect() as conn:
        for statement in open_statements("inbox", 2, ()):
            sql = str(statement.params(**params).compile(dialect=sqlite.dialect(),
                                                         compile_kwargs={"literal_binds": True}))
            plan = [row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
            assert not any(line.startswith("SCAN human_task") for line in plan), plan
            pool = [line for line in plan if "human_task" in line and "post_id=?" in line]
            mine = [line for line in plan if "human_task" in line and "assignee_id=?" in line]
            assert pool and len(pool) == len(mine) * 2, plan  # two posts per claimed part
            assert all("ix_human_task_pool_due" in line for line in pool), plan
            assert all("ix_human_task_mine_due" in line for line in mine), plan
    engine.dispose()
