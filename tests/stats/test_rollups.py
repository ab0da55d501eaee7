"""The day rollups of the KPI facts: kept up as the engine writes each fact, equal to a recomputation from the facts,
and whatever the statistics read from them over whole Beijing days equals what the facts themselves give."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from bench import http_bench
from bench.engine_bench import PROCESS_KEY
from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.identity.models import OrgUnit
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers import build_registry
from handlers.kpi import rollup
from handlers.kpi.models import KpiOrder, KpiOrderDay, KpiStep, KpiStepDay
from tests.conftest import Database, FakeClock, utc
from tests.stats import stats_world as w
from webapp.stats import daily, queries
from webapp.stats.daily import daily_series
from webapp.stats.queries import StatsFilter, group_stats, step_stats

MIDNIGHT = utc(2026, 3, 31, 16)  # 1 April 00:00 in Beijing
FLOWS = {"flow_a": ("a1", "a2", "a3"), "flow_b": ("b1", "b2")}


def _rows(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with db.sessions() as s:
        steps = sorted(tuple(r) for r in s.execute(select(
            KpiStepDay.day, KpiStepDay.process_key, KpiStepDay.node_id, KpiStepDay.org_unit_id, KpiStepDay.node_name,
            KpiStepDay.steps, KpiStepDay.with_limit, KpiStepDay.on_time, KpiStepDay.working_seconds,
            KpiStepDay.transfers)))
        orders = sorted(tuple(r) for r in s.execute(select(
            KpiOrderDay.day, KpiOrderDay.process_key, KpiOrderDay.org_unit_id, KpiOrderDay.orders,
            KpiOrderDay.returns, KpiOrderDay.transfers)))
    return steps, orders


def test_the_engine_keeps_the_rollups_equal_to_a_recomputation(db: Database, tmp_path: Path, clock: FakeClock,
                                                               storage: Path) -> None:
    w.build(w.make_app(db, tmp_path, clock, storage), db, clock)  # work orders run through the engine
    kept = _rows(db)
    with db.sessions.begin() as s:
        rollup.rebuild(s)
    assert kept == _rows(db)
    steps, orders = kept
    assert sum(r[5] for r in steps) == sum(w.STEPS_PER_DAY) and sum(r[3] for r in orders) == sum(w.ORDERS_PER_DAY)
    days = {rollup.beijing_day_number(utc(2026, 3, 1, 16) + timedelta(days=n)): d  # 2 and 4 March, Beijing
            for n, d in ((0, "03-02"), (2, "03-04"))}
    assert {days[r[0]] for r in steps} == {"03-02", "03-04"}


@pytest.fixture
def facts(db: Database, deploy) -> None:  # type: ignore[no-untyped-def]
    """About 750 step facts and 300 order facts over 40 days around Beijing midnights, in two units, with
    deadlines met and missed, transfers and returns; the rollups recomputed from them."""
    deploy("review_loop.bpmn")
    rng = random.Random(17)
    with db.sessions.begin() as s:
        units = [s.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) for code in ("GZ", "SZ")]
        definition = s.scalar(select(ProcessDefinition.id).limit(1))
        for n in range(300):
            flow, unit = rng.choice(list(FLOWS)), rng.choice(units)
            instance = s.execute(insert(ProcessInstance).returning(ProcessInstance.id), {
                "definition_id": definition, "process_key": flow, "business_key": f"R-{n}", "status": "completed",
                "org_unit_id": unit, "state": "{}", "serializer_version": "", "version": 1,
                "started_at": MIDNIGHT - timedelta(days=21)}).scalar_one()
            for node in FLOWS[flow]:
                # near midnight more often than not: one second either side of it changes the day
                done = MIDNIGHT + timedelta(days=rng.randrange(-20, 20), seconds=rng.choice(
                    [-1, 0, 1, rng.randrange(86_400)]), microseconds=rng.choice([0, 999_999]))
                task = s.execute(insert(HumanTask).returning(HumanTask.id), {
                    "instance_id": instance, "spiff_task_id": f"r-{n}-{node}", "process_key": flow,
                    "business_key": f"R-{n}", "node_id": node, "node_name": f"{node}（v{rng.randrange(2)}）",
                    "org_unit_id": unit, "status": "completed", "allow": "", "created_at": done,
                    "completed_at": done, "row_version": 1, "paused_seconds": 0}).scalar_one()
                s.execute(insert(KpiStep), {
                    "human_task_id": task, "instance_id": instance, "process_key": flow, "business_key": f"R-{n}",
                    "node_id": node, "node_name": f"{node}（v{rng.randrange(2)}）", "org_unit_id": unit,
                    "created_at": done, "completed_at": done, "duration_seconds": 1,
                    "working_seconds": rng.randrange(0, 90_000), "paused_seconds": 0,
                    "on_time": rng.choice([None, True, False]), "transfers": rng.choice([0, 0, 1, 2])})
            s.execute(insert(KpiOrder), {
                "instance_id": instance, "process_key": flow, "business_key": f"R-{n}", "org_unit_id": unit,
                "started_at": MIDNIGHT - timedelta(days=21),
                "ended_at": MIDNIGHT + timedelta(days=rng.randrange(-20, 20), seconds=rng.choice([-1, 0, 7200])),
                "duration_seconds": 1, "steps": len(FLOWS[flow]), "returns": rng.choice([0, 1]),
                "transfers": rng.choice([0, 3]), "overdue_steps": 0, "on_time": True})
        rollup.rebuild(s)


def _answers(db: Database, f: StatsFilter, clock: FakeClock) -> dict[str, Any]:
    with db.sessions() as s:
        flows = group_stats(s, f, "flow", clock())
        orgs = group_stats(s, f, "org", clock())
        return {
            "flows": {r.key: (r.completed, r.with_limit, r.on_time, r.late, round(r.mean_seconds, 6), r.p90_seconds,
                              r.transfers, r.orders, r.returns, r.order_transfers) for r in flows.rows},
            "orders by unit": {r.key: (r.orders, r.returns, r.order_transfers) for r in orgs.rows},
            "steps": [(r.process_key, r.node_id, r.node_name, r.count, round(r.mean_seconds, 6), r.p90_seconds,
                       r.with_limit, r.late) for r in step_stats(s, f)],
            "daily": daily_series(s, f),
        }


@pytest.mark.parametrize("case", ["everything", "one week", "one flow", "Shenzhen's subtree", "a chosen unit"])
def test_whole_days_from_the_rollups_equal_the_facts(db: Database, facts: None, clock: FakeClock,
                                                      monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    with db.sessions() as s:
        sz = s.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.code == "SZ")).one()
        province = s.scalar(select(OrgUnit.path).where(OrgUnit.parent_id.is_(None)))
    f = {"everything": StatsFilter(MIDNIGHT - timedelta(days=25), MIDNIGHT + timedelta(days=25)),
         "one week": StatsFilter(MIDNIGHT - timedelta(days=3), MIDNIGHT + timedelta(days=4)),
         "one flow": StatsFilter(MIDNIGHT - timedelta(days=10), MIDNIGHT + timedelta(days=10), process_key="flow_b"),
         "Shenzhen's subtree": StatsFilter(MIDNIGHT - timedelta(days=25), MIDNIGHT + timedelta(days=25),
                                           org_path=sz.path),
         "a chosen unit": StatsFilter(MIDNIGHT - timedelta(days=25), MIDNIGHT + timedelta(days=25),
                                      org_path=province, org_unit_id=sz.id)}[case]
    assert queries.rolls_up(f)
    rolled = _answers(db, f, clock)
    monkeypatch.setattr(queries, "rolls_up", lambda _f: False)
    monkeypatch.setattr(daily, "rolls_up", lambda _f: False)
    from_facts = _answers(db, f, clock)
    assert rolled == from_facts
    assert sum(rolled["daily"].steps) > 0 and rolled["flows"]


def test_a_range_that_is_not_whole_days_reads_the_facts() -> None:
    assert not queries.rolls_up(StatsFilter(MIDNIGHT, MIDNIGHT + timedelta(days=1, hours=1)))
    assert not queries.rolls_up(StatsFilter(MIDNIGHT + timedelta(seconds=1), MIDNIGHT + timedelta(days=1)))
    assert not queries.rolls_up(StatsFilter(MIDNIGHT, MIDNIGHT + timedelta(days=1), customer="大客户"))
    assert queries.rolls_up(StatsFilter(MIDNIGHT, MIDNIGHT + timedelta(days=1)))


def test_the_day_number_is_the_beijing_calendar_day() -> None:
    assert rollup.beijing_day_number(MIDNIGHT) - rollup.beijing_day_number(MIDNIGHT - timedelta(microseconds=1)) == 1
    assert rollup.beijing_day_number(utc(1970, 1, 1)) == 0 and rollup.beijing_day_number(utc(1969, 12, 31, 16)) == 0
    assert rollup.beijing_day_number(utc(1969, 12, 31, 15, 59, 59)) == -1
    assert daily.day_label(rollup.beijing_day_number(MIDNIGHT)) == "2026-04-01"



def test_the_databases_put_each_fact_on_the_day_the_recorder_does(db: Database, facts: None) -> None:
    """The rebuild's SQL day (and the facts' own daily chart) against the recorder's Python day, for times a
    second or a microsecond either side of midnight (SQLite's date() rounds 23:59:59.999999 up to the next day
    unless the time is cut to the second first)."""
    with db.sessions() as s:
        in_sql = s.execute(text(f"SELECT id, {rollup.day_sql(s.get_bind().dialect.name, 'completed_at')} "
                                "FROM kpi_step ORDER BY id")).all()
        chart = dict(s.execute(select(KpiStep.id, daily.beijing_day(s, KpiStep.completed_at))).tuples().all())
        moments = dict(s.execute(select(KpiStep.id, KpiStep.completed_at)).tuples().all())
    assert len(in_sql) == len(moments) > 700
    for fact_id, day in in_sql:
        expected = rollup.beijing_day_number(moments[fact_id])
        assert day == expected, moments[fact_id]
        assert daily.day_label(chart[fact_id]) == daily.day_label(expected), moments[fact_id]


def test_concurrent_completions_all_land_in_their_day_row(db: Database) -> None:
    """Many transactions completing the same step of the same flow in the same unit at once (one rollup row for
    all of them): every completion counted once, nothing refused, the row equal to a recomputation."""
    if db.kind != "postgresql":
        pytest.skip("concurrent writers are checked on PostgreSQL (SQLite has one writer at a time)")
    pe = ProcessEngine(build_registry())
    http_bench._world(db.engine)  # the bench's unit, its three posts, one user "b_all" holding them, the diagram
    with db.sessions.begin() as s:
        actor = pe.identity.get_user(s, "b_all")
        tasks = [pe.runtime.start(s, PROCESS_KEY, business_key=f"RU-{n}", data={"vip": False},
                                  actor=actor).tasks[0].id for n in range(40)]
    writers = make_session_factory(db.engine, writer=True)

    def complete(task_id: int) -> None:
        with writers.begin() as s:
            pe.tasks.complete(s, task_id, pe.identity.get_user(s, "b_all"), {})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(complete, tasks))
    kept = _rows(db)
    assert [r[5] for r in kept[0] if r[2] == "accept"] == [40]
    with db.sessions.begin() as s:
        rollup.rebuild(s)
    assert kept == _rows(db)
