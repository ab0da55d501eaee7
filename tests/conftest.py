"""Test fixtures: every database test runs on SQLite and on PostgreSQL, with the real engine.

The schema is built once per database by the Alembic migrations, together with a small organisation (the
"world": org units, posts, users). Each test then starts from a copy of that state: a copied file on
SQLite, truncated and re-filled tables on PostgreSQL (in a schema of its own).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

import handlers.models  # noqa: F401 - the handlers' tables are part of the schema
import webapp.models  # noqa: F401 - and the web app's
from engine.attachments.service import AttachmentPolicy
from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from engine.errors import BusinessError
from engine.migrate import upgrade_to_head
from engine.models import metadata
from engine.registry import HandlerContext, HandlerRegistry
from eoms.demo import PROVINCE_POSTS, flow_posts
from handlers import build_registry

ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = ROOT / "processes"
BPMN_DIR = Path(__file__).resolve().parent / "bpmn"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "secret123"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow (CI does by default)")
    parser.addoption("--sqlite-only", action="store_true", help="skip the PostgreSQL half of database tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_CI or config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow load test: runs in CI, or locally with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pg_url() -> str:
    return os.environ.get("EOMS_TEST_POSTGRES_URL", PG_DEFAULT)


def pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    raw = pg_url().replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(raw, connect_timeout=3).close()
    except psycopg.Error as err:
        return str(err).strip().splitlines()[0]
    return None


# -- the world every test starts from ----------------------------------------------------------------------
def build_world(pe: ProcessEngine, s: Session) -> None:
    """Org units, posts and users the tests refer to by name."""
    ident = pe.identity
    ident.add_org_unit(s, "GD", "广东省")
    ident.add_org_unit(s, "GZ", "广州市", "GD")
    ident.add_org_unit(s, "SZ", "深圳市", "GD")
    ident.add_post(s, "dispatcher", "调度员")
    ident.add_post(s, "reviewer", "审核员")
    ident.add_post(s, "maintainer", "维护员")
    users = [
        ("alice", "艾丽", "GZ", ["dispatcher"], "user"),
        ("anna", "安娜", "GZ", ["dispatcher"], "user"),
        ("bob", "鲍勃", "GZ", ["reviewer"], "user"),
        ("mike", "迈克", "GZ", ["maintainer"], "user"),
        ("carol", "卡罗", "SZ", ["dispatcher", "reviewer"], "user"),
        ("sup", "主管甲", "GZ", [], "supervisor"),
        ("boss", "省主管", "GD", [], "supervisor"),
        ("admin", "管理员", "GD", [], "admin"),
        ("ana", "分析员", "GD", [], "analyst"),
    ]
    for username, name, org, posts, role in users:
        ident.add_user(s, username, display_name=name, password=PASSWORD, org_code=org, post_codes=posts,
                       role=role)
    # the posts the lanes of the diagrams in processes/ name, with a holder in Guangzhou (gz_<post>) and a few
    # elsewhere; a lane an analyst adds brings its post (or fails here, naming the lane)
    for number, (code, name) in enumerate(flow_posts(PROCESSES_DIR), start=1):
        if ident.find_post(s, code) is None:
            ident.add_post(s, code, name)
        ident.add_user(s, f"gz_{code}", display_name=f"广州{name}", password=PASSWORD, org_code="GZ",
                       post_codes=[code], phone=f"1380000{number:04d}")
    for code in ("maintainer", "dispatcher", "order_auditor", "resource_dispatcher", "network_operator"):
        ident.add_user(s, f"sz_{code}", display_name=f"深圳{code}", password=PASSWORD, org_code="SZ",
                       post_codes=[code], phone=f"1390000{len(code):04d}")
    for code in PROVINCE_POSTS:
        ident.add_user(s, f"gd_{code}", display_name=f"省{code}", password=PASSWORD, org_code="GD",
                       post_codes=[code])


@dataclass
class TemplateDatabase:
    """A migrated database holding the world, and a snapshot of its rows to restore before each test."""

    kind: str
    url: str
    engine: Engine
    rows: dict[str, list[dict[str, Any]]]
    file: Path | None = None


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in metadata.sorted_tables}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def template_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateDatabase]:
    kind = request.param
    if kind == "sqlite":
        file = tmp_path_factory.mktemp("template") / "template.db"
        url = f"sqlite:///{file}"
    else:
        if request.config.getoption("--sqlite-only"):
            pytest.skip("--sqlite-only")
        reason = pg_available()
        if reason is not None:
            if IN_CI:
                pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
            pytest.skip(f"PostgreSQL not reachable: {reason}")
        schema = f"eoms_test_{os.getpid()}"
        base = pg_url()
        admin = make_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options=-csearch_path%3D{schema}"
        file = None
    engine = make_engine(url)
    upgrade_to_head(engine)
    pe = ProcessEngine()
    with make_session_factory(engine).begin() as s:
        build_world(pe, s)
    if kind == "sqlite":
        engine.dispose()
    template = TemplateDatabase(kind, url, engine, _snapshot(engine), file)
    yield template
    engine.dispose()
    if kind == "postgresql":
        admin = make_engine(pg_url())
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Database:
    """The database of one test: its kind (sqlite/postgresql), URL, engine and session factory."""

    kind: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        return self.sessions()


def _restore_postgres(template: TemplateDatabase) -> None:
    tables = [t.name for t in metadata.sorted_tables]
    with template.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        for table in metadata.sorted_tables:
            rows = template.rows[table.name]
            if rows:
                conn.execute(insert(table), rows)
            if "id" in table.c:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)"
                ))


@pytest.fixture
def db(template_db: TemplateDatabase, tmp_path: Path) -> Iterator[Database]:
    if template_db.kind == "sqlite":
        assert template_db.file is not None
        file = tmp_path / "eoms.db"
        shutil.copy(template_db.file, file)
        url = f"sqlite:///{file}"
        engine = make_engine(url)
    else:
        _restore_postgres(template_db)
        url, engine = template_db.url, template_db.engine
    yield Database(template_db.kind, url, engine, make_session_factory(engine))
    if template_db.kind == "sqlite":
        engine.dispose()


# -- engine, clock, handlers -------------------------------------------------------------------------------
class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Mon 09:00 Asia/Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


class Switch:
    """A flag a test flips to make a handler fail and then recover."""

    def __init__(self) -> None:
        self.failing = True
        self.calls = 0


def build_test_registry(switch: Switch) -> HandlerRegistry:
    registry = HandlerRegistry()

    def echo(ctx: HandlerContext, **params: Any) -> dict[str, Any]:
        """Returns its parameters and where it ran."""
        return {"params": params, "business_key": ctx.business_key, "node_id": ctx.node_id}

    def flaky(ctx: HandlerContext, **params: Any) -> dict[str, Any]:
        """Fails while the switch is on."""
        switch.calls += 1
        if switch.failing:
            raise ConnectionError("network manager unreachable (simulated)")
        return {"ok": True, "calls": switch.calls}

    def write_then_fail(ctx: HandlerContext, **params: Any) -> None:
        """Writes a row, then fails: the row must not survive."""
        ctx.session.execute(text("INSERT INTO post (code, name, created_at) VALUES ('ghost', '幽灵', :t)"),
                            {"t": ctx.now.replace(tzinfo=None)})
        raise RuntimeError("failed after writing")

    def crm(ctx: HandlerContext, **params: Any) -> dict[str, Any]:
        """Throws the BPMN error named by its ``code`` parameter (none: succeeds), after writing a row."""
        ctx.session.execute(text("INSERT INTO post (code, name, created_at) VALUES ('crm_ghost', '幽灵', :t)"),
                            {"t": ctx.now.replace(tzinfo=None)})
        if params.get("code"):
            raise BusinessError(params["code"], "客户资料不全", {"field": "证件号"})
        return {"account": "A-1"}

    registry.register("test.echo", echo)
    registry.register("test.crm", crm)
    registry.register("test.flaky", flaky)
    registry.register("test.write_then_fail", write_then_fail)
    return registry


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """The attachment folder of one test."""
    return tmp_path / "storage"


@pytest.fixture
def pe(clock: FakeClock, switch: Switch, storage: Path) -> ProcessEngine:
    return ProcessEngine(build_test_registry(switch), clock=clock, attachments=AttachmentPolicy(storage))


@pytest.fixture
def flow_pe(clock: FakeClock, storage: Path) -> ProcessEngine:
    """An engine with the real handlers (SMS outbox, routing, inventory, simulated network manager, CRM ledger,
    KPI recorder), as the five business flows need."""
    return ProcessEngine(build_registry(), clock=clock, attachments=AttachmentPolicy(storage))


@pytest.fixture
def deploy_flows(db: Database):  # type: ignore[no-untyped-def]
    """Deploy processes/ (forms first) with the given engine; returns {process key: definition id}."""

    def _deploy(engine: ProcessEngine) -> dict[str, int]:
        with db.sessions.begin() as s:
            for path in sorted((PROCESSES_DIR / "forms").glob("*.json")):
                engine.forms.deploy(s, path.stem, path.read_bytes(), path.name)
            return {r.key: r.definition_id for path in sorted(PROCESSES_DIR.glob("*.bpmn"))
                    for r in engine.repository.deploy(s, path.read_bytes(), path.name)}

    return _deploy


def bpmn(name: str) -> bytes:
    """The bytes of a test diagram in tests/bpmn/."""
    return (BPMN_DIR / name).read_bytes()


@pytest.fixture
def deploy(pe: ProcessEngine, db: Database):  # type: ignore[no-untyped-def]
    """Deploy a test diagram by file name; returns the deploy results."""

    def _deploy(name: str, content: bytes | None = None):  # type: ignore[no-untyped-def]
        with db.sessions.begin() as s:
            return pe.repository.deploy(s, content if content is not None else bpmn(name), name)

    return _deploy


def user(s: Session, pe: ProcessEngine, username: str):  # type: ignore[no-untyped-def]
    return pe.identity.get_user(s, username)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
