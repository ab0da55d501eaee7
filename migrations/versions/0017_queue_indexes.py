"""the open queue's partial indexes by due time; 已办 ordered by completion and id

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 23:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

OPEN = "status = 'ready'"
POOL = "status = 'ready' AND assignee_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_assignee_status_due')
        batch_op.drop_index('ix_human_task_post_org_status_due')
        batch_op.drop_index('ix_human_task_completed_by')
        batch_op.create_index('ix_human_task_mine_due',
                              ['assignee_id', 'due_at', 'created_at', 'id', 'warn_at', 'suspended_at', 'instance_id'], unique=False,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.create_index('ix_human_task_pool_due',
                              ['post_id', 'org_unit_id', 'due_at', 'created_at', 'id', 'warn_at', 'suspended_at',
                               'instance_id'],
                              unique=False, postgresql_where=sa.text(POOL), sqlite_where=sa.text(POOL))
        batch_op.create_index('ix_human_task_completed_by', ['completed_by_id', 'completed_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_completed_by')
        batch_op.drop_index('ix_human_task_pool_due')
        batch_op.drop_index('ix_human_task_mine_due')
        batch_op.create_index('ix_human_task_completed_by', ['completed_by_id', 'completed_at'], unique=False)
        batch_op.create_index('ix_human_task_post_org_status_due', ['post_id', 'org_unit_id', 'status', 'due_at'],
                              unique=False)
        batch_op.create_index('ix_human_task_assignee_status_due', ['assignee_id', 'status', 'due_at'], unique=False)
