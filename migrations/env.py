"""Alembic environment: the URL comes from the caller's config (``eoms init-db``) or EOMS_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

import handlers.models  # noqa: F401 - the handlers' tables belong to the same schema
import webapp.models  # noqa: F401 - so do the web app's
from engine.db import make_engine
from engine.models import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or os.environ.get(
        "EOMS_DATABASE_URL"
    )
    if not url:
        raise RuntimeError("no database URL: set EOMS_DATABASE_URL or pass one to eoms init-db")
    return url


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
