"""task drafts: a person's unsubmitted form input per task, kept across an idle logout

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_task_draft_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_task_draft_task_id_human_task'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_draft')),
        sa.UniqueConstraint('user_id', 'task_id', name='uq_task_draft_user_task'),
    )
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_draft_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_draft_task_id'), ['task_id'], unique=False)


def downgrade() -> None:
    op.drop_table('task_draft')
