"""integration API: clients with hashed tokens and scopes, their calls; TMF orders by client id, hub listeners, event outbox, alarms

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:17:56.311765
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_prefix', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('rate_per_minute', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_client_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_client')),
    sa.UniqueConstraint('name', name=op.f('uq_api_client_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_client_token_hash'))
    )
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_client_user_id'), ['user_id'], unique=False)

    op.create_table('api_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_api_call_client_id_api_client'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_call'))
    )
    with op.batch_alter_table('api_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_call_at'), ['at'], unique=False)
        batch_op.create_index('ix_api_call_client_at', ['client_id', 'at'], unique=False)

    op.create_table('tmf_hub_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('api', sa.String(length=40), nullable=False),
    sa.Column('callback', sa.String(length=500), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_tmf_hub_subscription_client_id_api_client'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tmf_hub_subscription'))
    )
    with op.batch_alter_table('tmf_hub_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tmf_hub_subscription_client_id'), ['client_id'], unique=False)

    op.create_table('tmf_external_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('announced', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_tmf_external_order_client_id_api_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_tmf_external_order_instance_id_process_instance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tmf_external_order')),
    sa.UniqueConstraint('client_id', 'kind', 'external_id', name='uq_tmf_external_order')
    )
    with op.batch_alter_table('tmf_external_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tmf_external_order_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tmf_external_order_instance_id'), ['instance_id'], unique=False)

    op.create_table('tmf_alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('external_alarm_id', sa.String(length=100), nullable=True),
    sa.Column('alarm_type', sa.String(length=60), nullable=False),
    sa.Column('perceived_severity', sa.String(length=20), nullable=False),
    sa.Column('probable_cause', sa.String(length=200), nullable=False),
    sa.Column('specific_problem', sa.String(length=200), nullable=False),
    sa.Column('alarmed_object_id', sa.String(length=100), nullable=False),
    sa.Column('alarmed_object_type', sa.String(length=60), nullable=False),
    sa.Column('source_system_id', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('service_affecting', sa.Boolean(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('opened_ticket', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_tmf_alarm_client_id_api_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tmf_external_order.id'], name=op.f('fk_tmf_alarm_ticket_id_tmf_external_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tmf_alarm')),
    sa.UniqueConstraint('client_id', 'external_alarm_id', name='uq_tmf_alarm_external')
    )
    with op.batch_alter_table('tmf_alarm', schema=None) as batch_op:
        batch_op.create_index('ix_tmf_alarm_object', ['client_id', 'alarmed_object_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_tmf_alarm_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('tmf_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['tmf_external_order.id'], name=op.f('fk_tmf_event_order_id_tmf_external_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['tmf_hub_subscription.id'], name=op.f('fk_tmf_event_subscription_id_tmf_hub_subscription'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tmf_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_tmf_event_event_id'))
    )
    with op.batch_alter_table('tmf_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tmf_event_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_tmf_event_pending', ['subscription_id', 'order_id', 'seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tmf_event', schema=None) as batch_op:
        batch_op.drop_index('ix_tmf_event_pending')
        batch_op.drop_index(batch_op.f('ix_tmf_event_order_id'))

    op.drop_table('tmf_event')
    with op.batch_alter_table('tmf_alarm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tmf_alarm_ticket_id'))
        batch_op.drop_index('ix_tmf_alarm_object')

    op.drop_table('tmf_alarm')
    with op.batch_alter_table('tmf_external_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tmf_external_order_instance_id'))
        batch_op.drop_index(batch_op.f('ix_tmf_external_order_client_id'))

    op.drop_table('tmf_external_order')
    with op.batch_alter_table('tmf_hub_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tmf_hub_subscription_client_id'))

    op.drop_table('tmf_hub_subscription')
    with op.batch_alter_table('api_call', schema=None) as batch_op:
        batch_op.drop_index('ix_api_call_client_at')
        batch_op.drop_index(batch_op.f('ix_api_call_at'))

    op.drop_table('api_call')
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_client_user_id'))

    op.drop_table('api_client')
