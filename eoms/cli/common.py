"""Shared CLI plumbing: the root group, the application context, JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session, sessionmaker

from engine.audit.service import record
from engine.core import ProcessEngine
from engine.db import make_engine, make_session_factory
from eoms.settings import Settings
from eoms.wiring import build_engine

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class App:
    """Settings, the process engine and a session factory, built once per command."""

    settings: Settings
    _engine: ProcessEngine | None = None
    _sessions: sessionmaker[Session] | None = None
    _db: Any = field(default=None)

    @property
    def engine(self) -> ProcessEngine:
        if self._engine is None:
            self._engine = build_engine(self.settings)
        return self._engine

    @property
    def db(self) -> Any:
        if self._db is None:
            self.settings.ensure_dirs()
            self._db = make_engine(self.settings.database_url)
        return self._db

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = make_session_factory(self.db, writer=True)
        return self._sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One operation, one transaction: committed on success, rolled back on any error."""
        with self.sessions.begin() as session:
            yield session

    def audit(self, session: Session, action: str, target_type: str, target: object, **details: Any) -> None:
        """Note an administrative change made from the command line in the audit log (same transaction)."""
        record(session, action, target_type, target, actor_id=None, now=self.engine.ctx.clock(), details=details,
               channel="cli")


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """EOMS: work orders run as BPMN processes."""
    ctx.obj = App(Settings.from_env())


pass_app = click.make_pass_decorator(App)


def local_time(value: datetime | None) -> str:
    """A stored UTC time shown in Asia/Shanghai, or '-'."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "-"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def parse_json_object(raw: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise click.BadParameter(f"not valid JSON: {err.msg} at column {err.colno}", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object like {\"key\": \"value\"}", param_hint=option)
    return value


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Plain aligned columns (CJK characters count double)."""
    if not rows:
        click.echo("(none)")
        return

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(width(c), *(width(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c + " " * (w - width(c)) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v + " " * (w - width(v)) for v, w in zip(r, widths, strict=True)).rstrip())
