"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.models import metadata


def test_autogenerate_finds_no_difference(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrated_schema_has_every_table_and_queue_index(db):
    inspector = inspect(db.engine)
    assert set(metadata.tables) <= set(inspector.get_table_names())
    index_names = {ix["name"] for ix in inspector.get_indexes("human_task")}
    assert {"ix_human_task_mine_due", "ix_human_task_pool_due", "ix_human_task_completed_by"} <= index_names
