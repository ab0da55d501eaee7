"""the claimed-task index holds claimed rows only, so that no planner reads the unclaimed pool through it

SQLite picked ``ix_human_task_mine_due`` with ``assignee_id IS NULL`` for the post pool's parts (its predicate
``status = 'ready'`` admitted them) and read every unclaimed open task of all posts in due order.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 12:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

COLUMNS = ['assignee_id', 'due_at', 'created_at', 'id', 'warn_at', 'suspended_at', 'instance_id']
CLAIMED = "status = 'ready' AND assignee_id IS NOT NULL"
OPEN = "status = 'ready'"


def _recreate(where: str) -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_mine_due')
        batch_op.create_index('ix_human_task_mine_due', COLUMNS, unique=False,
                              postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    _recreate(CLAIMED)


def downgrade() -> None:
    _recreate(OPEN)
