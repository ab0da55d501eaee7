"""administration: audit log, SMS template wording, work windows, routing calendar

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 18:53:12.762572
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_audit_entry_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_entry_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_entry_target', ['target_type', 'target'], unique=False)

    op.create_table('calendar_windows',
    sa.Column('calendar', sa.String(length=20), nullable=False),
    sa.Column('windows', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], name=op.f('fk_calendar_windows_updated_by_id_app_user')),
    sa.PrimaryKeyConstraint('calendar', name=op.f('pk_calendar_windows'))
    )
    op.create_table('sms_template_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=50), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], name=op.f('fk_sms_template_text_updated_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_template_text')),
    sa.UniqueConstraint('template', 'process_key', name='uq_sms_template_text')
    )
    with op.batch_alter_table('routing_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar', sa.String(length=20), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('routing_rule', schema=None) as batch_op:
        batch_op.drop_column('calendar')

    op.drop_table('sms_template_text')
    op.drop_table('calendar_windows')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_target')
        batch_op.drop_index('ix_audit_entry_at')
        batch_op.drop_index(batch_op.f('ix_audit_entry_actor_id'))

    op.drop_table('audit_entry')
