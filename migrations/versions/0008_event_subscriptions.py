"""event subscriptions: the signals and messages instances wait for and that start processes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event_subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('definition_id', sa.Integer(), nullable=True),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('signal', 'message')", name=op.f('ck_event_subscription_kind')),
        sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'],
                                name=op.f('fk_event_subscription_definition_id_process_definition'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'],
                                name=op.f('fk_event_subscription_instance_id_process_instance'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_subscription')),
    )
    with op.batch_alter_table('event_subscription', schema=None) as batch_op:
        batch_op.create_index('ix_event_subscription_kind_name', ['kind', 'name'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_subscription_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_subscription_definition_id'), ['definition_id'], unique=False)


def downgrade() -> None:
    op.drop_table('event_subscription')
