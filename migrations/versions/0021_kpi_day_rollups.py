"""the KPI facts summed per Beijing day (kpi_step_day, kpi_order_day), filled from the facts there are

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def _day(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"CAST((CAST(floor(extract(epoch FROM {column})) AS BIGINT) + 28800) / 86400 AS INTEGER)"
    return f"CAST(julianday(date(substr({column}, 1, 19), '+8 hours')) - 2440587.5 AS INTEGER)"


def upgrade() -> None:
    op.create_table('kpi_step_day',
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=200), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('node_name', sa.String(length=300), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('with_limit', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('working_seconds', sa.BigInteger(), nullable=False),
    sa.Column('transfers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_kpi_step_day_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('day', 'process_key', 'node_id', 'org_unit_id', name=op.f('pk_kpi_step_day'))
    )
    op.create_table('kpi_order_day',
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('transfers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_kpi_order_day_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('day', 'process_key', 'org_unit_id', name=op.f('pk_kpi_order_day'))
    )
    dialect = op.get_bind().dialect.name
    step_day, order_day = _day(dialect, "completed_at"), _day(dialect, "ended_at")
    op.execute(
        "INSERT INTO kpi_step_day (day, process_key, node_id, org_unit_id, node_name, steps, with_limit, on_time, "
        "working_seconds, transfers) "
        f"SELECT {step_day}, process_key, node_id, org_unit_id, max(node_name), count(*), "
        "sum(CASE WHEN on_time IS NULL THEN 0 ELSE 1 END), sum(CASE WHEN on_time THEN 1 ELSE 0 END), "
        "sum(working_seconds), sum(transfers) FROM kpi_step "
        f"GROUP BY {step_day}, process_key, node_id, org_unit_id")
    op.execute(
        "INSERT INTO kpi_order_day (day, process_key, org_unit_id, orders, returns, transfers) "
        f"SELECT {order_day}, process_key, org_unit_id, count(*), sum(returns), sum(transfers) FROM kpi_order "
        f"GROUP BY {order_day}, process_key, org_unit_id")


def downgrade() -> None:
    op.drop_table('kpi_order_day')
    op.drop_table('kpi_step_day')
