"""notices: audience, validity, pinning, read receipts; SMS opt-outs

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 19:14:55.492459
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_opt_out',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_sms_opt_out_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'template', name=op.f('pk_sms_opt_out'))
    )
    op.create_table('announcement_read',
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcement.id'], name=op.f('fk_announcement_read_announcement_id_announcement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_announcement_read_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('announcement_id', 'user_id', name=op.f('pk_announcement_read'))
    )
    with op.batch_alter_table('announcement_read', schema=None) as batch_op:
        batch_op.create_index('ix_announcement_read_user', ['user_id'], unique=False)

    op.create_table('announcement_target',
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcement.id'], name=op.f('fk_announcement_target_announcement_id_announcement'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('announcement_id', 'kind', 'ref_id', name=op.f('pk_announcement_target'))
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=10), server_default='all', nullable=False))
        batch_op.add_column(sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('pinned')
        batch_op.drop_column('valid_until')
        batch_op.drop_column('valid_from')
        batch_op.drop_column('audience')

    op.drop_table('announcement_target')
    with op.batch_alter_table('announcement_read', schema=None) as batch_op:
        batch_op.drop_index('ix_announcement_read_user')

    op.drop_table('announcement_read')
    op.drop_table('sms_opt_out')
