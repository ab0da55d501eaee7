"""Automatic allocation under contention, on PostgreSQL (``FOR UPDATE SKIP LOCKED`` plus a re-checked
``UPDATE … WHERE status = 'free'``): 50 work orders want a port, a VLAN and an IP address from a Guangzhou pool
of 20 of each at the same moment. Exactly 20 get a full set, 30 get nothing, and no resource goes to two
orders — first straight through ``inventory.allocate``, then through the real provisioning flow, 50 受理审核
tasks completed at once in 50 threads."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from engine.core import ProcessEngine
from engine.db import make_session_factory
from engine.jobs.models import Job
from engine.tasks.models import HumanTask
from engine.worker import Worker
from handlers.network.models import NetworkConfig
from handlers.resources import inventory
from handlers.resources.models import Resource
from tests.conftest import user

ORDERS = 50
POOL = 20
KINDS = ("port", "vlan", "ip")
ORDER = {"order_no": "CRM-2026-00001", "customer": "广州塔", "customer_phone": "13600000001", "region": "GZ",
         "service": "互联网", "bandwidth": "100M", "address": "广州市海珠区阅江西路222号"}
T = TypeVar("T")


@pytest.fixture
def pg(db) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    """Sessions on the test's PostgreSQL schema from a pool with a connection for every thread."""
    if db.kind != "postgresql":
        pytest.skip("concurrent allocation is checked on PostgreSQL (SQLite has one writer at a time)")
    engine = create_engine(db.url, pool_size=ORDERS, max_overflow=5, pool_timeout=30,
                           json_serializer=lambda v: json.dumps(v, ensure_ascii=False, default=str))
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def fill_pool(db) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """20 free ports, VLANs and IPs in Guangzhou, plus reserved ones and another city's that must stay put."""
    values = {"port": {f"GZ-OLT1-GE0/0/{i}" for i in range(POOL)}, "vlan": {str(100 + i) for i in range(POOL)},
              "ip": {f"10.1.0.{i}" for i in range(1, POOL + 1)}}
    with db.sessions.begin() as s:
        for kind in KINDS:
            inventory.add_resources(s, "GZ", kind, sorted(values[kind]))
            inventory.add_resources(s, "SZ", kind, sorted(values[kind]))
        inventory.add_resources(s, "GZ", "port", ["GZ-OLT9-GE0/0/1"], reserved=True)
        inventory.add_resources(s, "GZ", "vlan", ["999"], reserved=True)
        inventory.add_resources(s, "GZ", "ip", ["10.1.9.1"], reserved=True)
    return values


def start_orders(pe: ProcessEngine, db) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """50 provisioning orders waiting at 受理审核: business key → (instance id, task id)."""
    started = {}
    with db.sessions.begin() as s:
        auditor = user(s, pe, "gz_order_auditor")
        for i in range(ORDERS):
            key = f"ORD-{i:02d}"
            result = pe.runtime.start(s, "provisioning", business_key=key, data=ORDER, actor=auditor)
            started[key] = (result.instance.id, result.tasks[0].id)
    return started


def all_at_once(count: int, work: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run ``work(i, barrier)`` in ``count`` threads; each waits at the barrier once it holds a connection
    inside its transaction, so all of them contend at the same moment."""
    barrier = threading.Barrier(count, timeout=60)
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, i, barrier) for i in range(count)]
        return [f.result(timeout=120) for f in futures]


def check_no_double_allocation(db, values: dict[str, set[str]]) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """What each business key holds (kind → value), after checking no resource or kind is held twice."""
    with db.sessions() as s:
        rows = s.scalars(select(Resource).order_by(Resource.id)).all()
    held: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.region != "GZ" or row.value not in values[row.kind]:
            assert (row.status, row.business_key) in (("free", None), ("reserved", None)), row.value
            continue
        assert row.status == "allocated", f"{row.kind} {row.value} is {row.status}"
        assert row.business_key is not None and row.instance_id is not None
        assert row.kind not in held.setdefault(row.business_key, {}), f"{row.business_key} got two {row.kind}s"
        held[row.business_key][row.kind] = row.value
    for kind in KINDS:
        taken = [h[kind] for h in held.values() if kind in h]
        assert sorted(taken) == sorted(values[kind])  # the whole pool, each value once
    assert all(set(h) == set(KINDS) for h in held.values()), "an order holds a partial set"
    return held


def test_50_concurrent_allocations_from_a_pool_of_20(pe, db, pg, clock):
    values = fill_pool(db)
    started = start_orders(pe, db)

    def allocate(i: int, barrier: threading.Barrier) -> dict[str, str] | None:
        key = f"ORD-{i:02d}"
        with pg.begin() as s:
            s.connection()
            barrier.wait()
            return inventory.allocate(s, "GZ", list(KINDS), business_key=key, instance_id=started[key][0],
                                      now=clock.now)

    results = all_at_once(ORDERS, allocate)
    won = {f"ORD-{i:02d}": r for i, r in enumerate(results) if r is not None}
    assert (len(won), results.count(None)) == (POOL, ORDERS - POOL)
    held = check_no_double_allocation(db, values)
    assert held == won  # what each winner was told is what the inventory says it holds
    with db.sessions() as s:
        rows = s.scalars(select(Resource).where(Resource.status == "allocated")).all()
        assert {(r.business_key, r.instance_id) for r in rows} == {(k, started[k][0]) for k in won}
        assert inventory.free_count(s, "GZ", "port") == 0
        assert inventory.free_count(s, "SZ", "port") == POOL
    # the pool is empty now: one more order gets nothing and takes nothing
    with db.sessions.begin() as s:
        loser = next(k for k in started if k not in won)
        assert inventory.allocate(s, "GZ", list(KINDS), business_key=loser, instance_id=started[loser][0],
                                  now=clock.now) is None
    assert check_no_double_allocation(db, values) == held


def test_50_orders_audited_at_once_through_the_flow(pe, db, pg, clock):
    values = fill_pool(db)
    started = start_orders(pe, db)
    keys = sorted(started)

    def audit(i: int, barrier: threading.Barrier) -> list[str]:
        key = keys[i]
        with pg.begin() as s:
            auditor = user(s, pe, "gz_order_auditor")
            barrier.wait()
            arrived = pe.tasks.complete(s, started[key][1], auditor, {"audit_result": "pass"})
            return [t.node_id for t in arrived]

    arrived = all_at_once(ORDERS, audit)
    assert Counter(tuple(a) for a in arrived) == {(): POOL, ("manual",): ORDERS - POOL}
    waiting = {keys[i] for i, a in enumerate(arrived) if not a}
    dispatched = {keys[i] for i, a in enumerate(arrived) if a == ["manual"]}

    held = check_no_double_allocation(db, values)
    assert set(held) == waiting
    with db.sessions() as s:
        for key in keys:
            instance_id = started[key][0]
            assert all(r.instance_id == instance_id for r in s.scalars(
                select(Resource).where(Resource.business_key == key)))
            tasks = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                      HumanTask.status == "ready")).all()
            activation = s.scalars(select(Job).where(Job.instance_id == instance_id,
                                                     Job.kind == "network.activate")).all()
            if key in waiting:  # allocated: its activation is queued with the resources it holds
                assert tasks == []
                (job,) = activation
                assert job.status == "pending"
                assert {k: job.payload["config"][k] for k in KINDS} == held[key]
            else:  # nothing left: a resource dispatcher of Guangzhou takes over
                assert key in dispatched
                assert [t.node_id for t in tasks] == ["manual"]
                assert activation == []

    # the worker activates the 20: one configuration per order, on the resources it holds
    assert Worker(pe, db.sessions, "w1", batch=ORDERS).tick().jobs_done == POOL
    with db.sessions() as s:
        configs = s.scalars(select(NetworkConfig)).all()
        assert sorted(c.business_key for c in configs) == sorted(waiting)
        assert {c.business_key: {k: c.config[k] for k in KINDS} for c in configs} == held
        ready = s.scalars(select(HumanTask).where(HumanTask.status == "ready")).all()
    assert Counter(t.node_id for t in ready) == {"test": POOL, "manual": ORDERS - POOL}
