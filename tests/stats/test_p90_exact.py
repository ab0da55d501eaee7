"""The statistics' p90 is the exact nearest rank — ceil(9n/10) counted in integers — on every path: read from the
top of the working-time indexes (按流程 and the step table), PostgreSQL's ``percentile_disc`` in the aggregate
pass, and the window ranking of SQLite; over ties, sub-ranges, a unit's subtree, one flow and a customer filter."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from engine.identity.models import OrgUnit
from engine.repository.models import ProcessDefinition
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from handlers.kpi import rollup
from handlers.kpi.models import KpiStep
from tests.conftest import utc
from webapp.stats import queries
from webapp.stats.daily import daily_series
from webapp.stats.queries import NEAREST_90, StatsFilter, group_stats, nearest_rank_90, step_stats

START = utc(2026, 3, 1)
FLOWS = {"flow_a": ["s1", "s2", "s3"], "flow_b": ["t1", "t2"]}


def expected(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[(9 * len(ordered) + 9) // 10 - 1])


def test_the_fraction_given_to_percentile_disc_picks_the_nearest_rank_for_every_count() -> None:
    """PostgreSQL computes ceil(fraction × n) in float8, as Python does."""
    assert all(math.ceil(NEAREST_90 * n) == nearest_rank_90(n) for n in range(1, 10_000_001))


@pytest.fixture
def facts(db, deploy):  # type: ignore[no-untyped-def]
    """About 1,250 step facts with many ties, over 60 days, in Guangzhou and Shenzhen; returns them as dicts."""
    deploy("review_loop.bpmn")  # a definition for the work orders to point at
    rng = random.Random(5)
    with db.sessions.begin() as s:
        units = {code: s.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) for code in ("GZ", "SZ")}
        definition = s.scalar(select(ProcessDefinition.id).limit(1))
        rows = []
        for n in range(487):  # counts that are no multiples of ten, where an off-by-one rank shows
            unit = "GZ" if n % 3 else "SZ"
            flow = "flow_a" if n % 2 else "flow_b"
            instance = s.execute(insert(ProcessInstance).returning(ProcessInstance.id), {
                "definition_id": definition, "process_key": flow, "business_key": f"P90-{n}", "status": "completed",
                "org_unit_id": units[unit], "state": "{}", "serializer_version": "", "version": 1,
                "started_at": START, "customer": "大客户" if n % 5 == 0 else f"客户{n}"}).scalar_one()
            for node in FLOWS[flow]:
                done = START + timedelta(days=rng.randrange(60), seconds=rng.randrange(86_400))
                working = rng.choice([60, 600, 600, 3600]) if rng.random() < 0.3 else rng.randrange(30, 40_000)
                task = s.execute(insert(HumanTask).returning(HumanTask.id), {
                    "instance_id": instance, "spiff_task_id": f"p90-{n}-{node}", "process_key": flow,
                    "business_key": f"P90-{n}", "node_id": node, "node_name": node, "org_unit_id": units[unit],
                    "status": "completed", "allow": "", "created_at": done, "completed_at": done, "row_version": 1,
                    "paused_seconds": 0}).scalar_one()
                row = {"human_task_id": task, "instance_id": instance, "process_key": flow, "business_key": f"P90-{n}",
                       "node_id": node, "node_name": node, "org_unit_id": units[unit], "created_at": done,
                       "completed_at": done, "duration_seconds": working, "working_seconds": working,
                       "paused_seconds": 0, "on_time": None, "transfers": 0}
                s.execute(insert(KpiStep), row)
                rows.append({**row, "unit": unit, "customer": "大客户" if n % 5 == 0 else f"客户{n}"})
        rollup.rebuild(s)  # facts loaded in bulk: their day rollups recomputed
    return rows


CASES = {
    "everything": (StatsFilter(START, START + timedelta(days=60)), lambda r: True),
    "ten days": (StatsFilter(START + timedelta(days=20), START + timedelta(days=30)),
                 lambda r: START + timedelta(days=20) <= r["completed_at"] < START + timedelta(days=30)),
    "one flow": (StatsFilter(START, START + timedelta(days=60), process_key="flow_a"),
                 lambda r: r["process_key"] == "flow_a"),
    "a customer": (StatsFilter(START, START + timedelta(days=60), customer="大客户"),
                   lambda r: r["customer"] == "大客户"),
}


@pytest.mark.parametrize("case", [*CASES, "Shenzhen's subtree"])
def test_p90_by_flow_and_by_step_are_the_nearest_rank(db, facts, clock, case) -> None:  # type: ignore[no-untyped-def]
    if case == "Shenzhen's subtree":
        with db.sessions() as s:
            path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == "SZ"))
        f, keep = StatsFilter(START, START + timedelta(days=60), org_path=path), (lambda r: r["unit"] == "SZ")
    else:
        f, keep = CASES[case]
    chosen = [r for r in facts if keep(r)]
    with db.sessions() as s:
        flows = {row.key: row.p90_seconds for row in group_stats(s, f, "flow", clock()).rows}
        steps = {(row.process_key, row.node_id): row.p90_seconds for row in step_stats(s, f)}
        units = {row.key: row.p90_seconds for row in group_stats(s, f, "org", clock()).rows}
    for flow in FLOWS:
        values = [r["working_seconds"] for r in chosen if r["process_key"] == flow]
        assert flows.get(flow) == (expected(values) if values else None), flow
        for node in FLOWS[flow]:
            values = [r["working_seconds"] for r in chosen if r["process_key"] == flow and r["node_id"] == node]
            if values:
                assert steps[(flow, node)] == expected(values), (flow, node)
    with db.sessions() as s:
        ids = dict(s.execute(select(OrgUnit.code, OrgUnit.id)).tuples().all())
    for code in ("GZ", "SZ"):
        values = [r["working_seconds"] for r in chosen if r["unit"] == code]
        if values:
            assert units[ids[code]] == expected(values), code  # the aggregate-pass path (percentile_disc / window)


def test_the_top_down_read_is_what_the_sort_gives(db, facts, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    f = StatsFilter(START, START + timedelta(days=45))
    with db.sessions() as s:
        from_top = {(r.process_key, r.node_id): r.p90_seconds for r in step_stats(s, f)}
        monkeypatch.setattr(queries, "_reads_from_top", lambda _f: False)
        sorted_ = {(r.process_key, r.node_id): r.p90_seconds for r in step_stats(s, f)}
    assert from_top == sorted_ and len(from_top) == 5


def test_a_step_in_the_last_second_of_a_beijing_day_counts_on_that_day(db, facts) -> None:  # type: ignore[no-untyped-def]
    late = utc(2026, 5, 10, 15, 59, 59).replace(microsecond=600_000)  # 23:59:59.6 in Beijing, 10 May
    with db.sessions.begin() as s:
        row = dict(facts[0])
        task = s.execute(insert(HumanTask).returning(HumanTask.id), {
            "instance_id": row["instance_id"], "spiff_task_id": "late", "process_key": row["process_key"],
            "business_key": row["business_key"], "node_id": "late", "node_name": "late",
            "org_unit_id": row["org_unit_id"], "status": "completed", "allow": "", "created_at": late,
            "completed_at": late, "row_version": 1, "paused_seconds": 0}).scalar_one()
        fact = {k: v for k, v in {**row, "human_task_id": task, "node_id": "late", "completed_at": late}.items()
                if k not in ("unit", "customer")}
        s.execute(insert(KpiStep), fact)
        rollup.add_step(s, KpiStep(**fact))  # as the recorder adds it: its day computed in Python
    with db.sessions() as s:
        series = daily_series(s, StatsFilter(utc(2026, 5, 8, 16), utc(2026, 5, 11, 16)))  # 9, 10, 11 May
        assert series.labels == ["2026-05-09", "2026-05-10", "2026-05-11"] and series.steps == [0, 1, 0]
        # the facts' own day (a range that is not whole days reads them): the same day
        series = daily_series(s, StatsFilter(utc(2026, 5, 8, 16), utc(2026, 5, 11, 15, 59)))
        assert series.labels == ["2026-05-09", "2026-05-10", "2026-05-11"] and series.steps == [0, 1, 0]
