"""What the end-to-end tests of the five business flows share: the engine with the flows deployed (the ``pe``
fixture) and the helpers that act as a user in one transaction each, or read back rows and history.

Helpers take ``pe`` and ``db`` first, like the fixtures of the test that calls them; test modules import them
from here (``from tests.flows.conftest import ...``) and keep what only their flow needs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.core import ProcessEngine
from engine.history.models import HistoryEvent
from engine.identity.models import OrgUnit, Post, User
from engine.runtime.executor import open_instance
from engine.runtime.models import ProcessInstance
from engine.tasks.models import HumanTask
from engine.worker import Worker
from tests.conftest import PASSWORD, Database, user

StartFlow = Callable[..., tuple[int, list[int]]]


@pytest.fixture
def pe(flow_pe: ProcessEngine, deploy_flows: Callable[[ProcessEngine], dict[str, int]]) -> ProcessEngine:
    """The engine with the real handlers, the five flows deployed."""
    deploy_flows(flow_pe)
    return flow_pe


# -- time ---------------------------------------------------------------------------------------------------
def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, given in Asia/Shanghai wall time (UTC+8)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# -- acting as a user, one transaction each -----------------------------------------------------------------
def flow_starter(key: str, default_data: dict[str, Any], default_starter: str) -> StartFlow:
    """A ``start(pe, db, business_key, data=None, starter=default_starter)`` for the process ``key``: it starts an
    instance with ``data`` (``default_data`` when None) and returns the instance id and the ids of the tasks
    that arrived."""

    def start(pe: ProcessEngine, db: Database, business_key: str, data: dict[str, Any] | None = None,
              starter: str = default_starter, context: dict[str, Any] | None = None) -> tuple[int, list[int]]:
        with db.sessions.begin() as s:
            result = pe.runtime.start(s, key, business_key=business_key, context=context,
                                      data=dict(default_data if data is None else data), actor=user(s, pe, starter))
            return result.instance.id, [t.id for t in result.tasks]

    return start


def act(pe: ProcessEngine, db: Database, method: str, task_id: int, username: str, *args: Any,
        **kwargs: Any) -> Any:
    """One task-service action in its own transaction."""
    with db.sessions.begin() as s:
        return getattr(pe.tasks, method)(s, task_id, user(s, pe, username), *args, **kwargs)


def complete(pe: ProcessEngine, db: Database, task_id: int, username: str, data: dict[str, Any]) -> list[int]:
    """Complete a task; the ids of the tasks that arrived."""
    return [t.id for t in act(pe, db, "complete", task_id, username, data)]


def complete_with_nodes(pe: ProcessEngine, db: Database, task_id: int, username: str,
                        data: dict[str, Any]) -> list[tuple[int, str]]:
    """Complete a task; (id, node id) of the tasks that arrived."""
    return [(t.id, t.node_id) for t in act(pe, db, "complete", task_id, username, data)]


def upload(pe: ProcessEngine, db: Database, task_id: int, username: str, filename: str, data: bytes) -> int:
    """Attach a file to a task; the attachment id."""
    return act(pe, db, "upload", task_id, username, filename=filename, data=data).id


def add_person(pe: ProcessEngine, db: Database, username: str, post: str, org: str = "GZ") -> None:
    """Another holder of ``post`` in ``org``."""
    with db.sessions.begin() as s:
        pe.identity.add_user(s, username, display_name=username, password=PASSWORD, org_code=org, post_codes=[post])


def tick(pe: ProcessEngine, db: Database) -> None:
    """One worker tick, which must go without errors."""
    report = Worker(pe, db.sessions, "flow-test").tick()
    assert report.errors == 0, report


def only(ids: list[int]) -> int:
    """The id of the single task that arrived."""
    assert len(ids) == 1, ids
    return ids[0]


# -- reading back -------------------------------------------------------------------------------------------
def task_row(db: Database, task_id: int) -> HumanTask:
    """The task row."""
    with db.sessions() as s:
        found = s.get(HumanTask, task_id)
        assert found is not None
        return found


def rows_of(db: Database, instance_id: int) -> list[tuple[str, str]]:
    """(node, status) of every task row of the instance, in the order they arrived."""
    with db.sessions() as s:
        found = s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))
        return [(r.node_id, r.status) for r in found]


def placed(db: Database, task_id: int) -> tuple[str | None, str]:
    """(post code, org unit code) a task is offered to."""
    with db.sessions() as s:
        row = s.get(HumanTask, task_id)
        assert row is not None
        post = s.get(Post, row.post_id) if row.post_id else None
        org = s.get(OrgUnit, row.org_unit_id)
        assert org is not None
        return (post.code if post else None), org.code


def where(db: Database, task_id: int) -> tuple[str, str, str, str | None, str]:
    """(node, post code, org code, assignee, status) of a task row."""
    with db.sessions() as s:
        r = s.get(HumanTask, task_id)
        assert r is not None
        assignee = s.get(User, r.assignee_id).username if r.assignee_id else None
        return r.node_id, s.get(Post, r.post_id).code, s.get(OrgUnit, r.org_unit_id).code, assignee, r.status


def inbox(pe: ProcessEngine, db: Database, username: str, scope: str = "inbox") -> list[tuple[str, str]]:
    """(business key, node) of the tasks ``username`` sees in ``scope``."""
    with db.sessions() as s:
        return [(t.business_key, t.node_id) for t in pe.tasks.query(s, user(s, pe, username), scope=scope).items]


def instance(db: Database, instance_id: int) -> ProcessInstance:
    """The instance row."""
    with db.sessions() as s:
        found = s.get(ProcessInstance, instance_id)
        assert found is not None
        return found


def story(pe: ProcessEngine, db: Database, instance_id: int) -> list[tuple[str, str | None]]:
    """(event type, node) of the instance's history, in order."""
    with db.sessions() as s:
        return [(e.event_type, e.node_id) for e in pe.history.timeline(s, instance_id)]


def events(pe: ProcessEngine, db: Database, instance_id: int, event_type: str) -> list[HistoryEvent]:
    """The instance's history events of one type, in order."""
    with db.sessions() as s:
        return [e for e in pe.history.timeline(s, instance_id) if e.event_type == event_type]


def engine_data(pe: ProcessEngine, db: Database, task_id: int) -> dict[str, Any]:
    """The engine's data of the (open) task behind a row, restored from the stored instance state."""
    with db.sessions() as s:
        r = s.get(HumanTask, task_id)
        assert r is not None
        op = open_instance(pe.ctx, s, s.get(ProcessInstance, r.instance_id), None)
        task = op.spiff_task(r.spiff_task_id)
        assert task is not None
        return dict(task.data)


def uid(pe: ProcessEngine, db: Database, username: str) -> int:
    """The user's id."""
    with db.sessions() as s:
        return user(s, pe, username).id


def count(db: Database, model: type) -> int:
    """How many rows the model's table holds."""
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0
