"""process drafts: each analyst's autosaved working copy of a diagram in the designer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('source_name', sa.String(length=500), nullable=False),
        sa.Column('bpmn_xml', sa.Text(), nullable=False),
        sa.Column('base_definition_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], name=op.f('fk_process_draft_owner_id_app_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['base_definition_id'], ['process_definition.id'],
                                name=op.f('fk_process_draft_base_definition_id_process_definition'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_draft')),
        sa.UniqueConstraint('owner_id', 'process_key', name='uq_process_draft_owner_key'),
    )
    with op.batch_alter_table('process_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_draft_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    op.drop_table('process_draft')
