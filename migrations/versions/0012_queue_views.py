"""queue views: each user's choice of 待办 columns and the 待办 filters they saved under a name

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 11:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'queue_columns',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('columns', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_queue_columns_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_queue_columns')),
    )
    op.create_table(
        'queue_filter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_queue_filter_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_filter')),
        sa.UniqueConstraint('user_id', 'name', name='uq_queue_filter_user_name'),
    )
    with op.batch_alter_table('queue_filter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_filter_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('queue_filter')
    op.drop_table('queue_columns')
