"""a work order's state compressed in its row on PostgreSQL (the state of a finished one is small now)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00

A finished work order's state keeps only the end of its task chain (about 1.5 KB of JSON): under PostgreSQL's
default TOAST threshold (about 2 KB) it would be stored uncompressed. With a lower target PostgreSQL compresses
it in place. SQLite has no such setting.
"""
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE process_instance SET (toast_tuple_target = 256)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE process_instance RESET (toast_tuple_target)")
