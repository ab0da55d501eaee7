"""each flow's and each step's working times in index order: exact p90 statistics read from the top

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:30:00
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kpi_step', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_step_process_node')
        batch_op.create_index('ix_kpi_step_flow_working',
                              ['process_key', 'working_seconds', 'completed_at', 'org_unit_id'], unique=False)
        batch_op.create_index('ix_kpi_step_step_working',
                              ['process_key', 'node_id', 'working_seconds', 'completed_at', 'org_unit_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kpi_step', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_step_step_working')
        batch_op.drop_index('ix_kpi_step_flow_working')
        batch_op.create_index('ix_kpi_step_process_node', ['process_key', 'node_id'], unique=False)
