"""projects, maintenance costs, KPI definitions and closed months

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 19:23:46.902478
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cost_category',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_cost_category')),
    sa.UniqueConstraint('name', name=op.f('uq_cost_category_name'))
    )
    op.create_table('cost_setting',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cost_setting'))
    )
    op.create_table('kpi_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('node_id', sa.String(length=200), nullable=False),
    sa.Column('measure', sa.String(length=30), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('post_ids', sa.JSON(), nullable=False),
    sa.Column('unit_ids', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_definition')),
    sa.UniqueConstraint('name', name=op.f('uq_kpi_definition_name'))
    )
    op.create_table('cost_budget',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_cost_budget_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_budget')),
    sa.UniqueConstraint('org_unit_id', 'year', name='uq_cost_budget_unit_year')
    )
    op.create_table('kpi_month',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['locked_by_id'], ['app_user.id'], name=op.f('fk_kpi_month_locked_by_id_app_user')),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_kpi_month'))
    )
    op.create_table('kpi_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('numerator', sa.Float(), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['kpi_definition.id'], name=op.f('fk_kpi_result_definition_id_kpi_definition')),
    sa.ForeignKeyConstraint(['month'], ['kpi_month.month'], name=op.f('fk_kpi_result_month_kpi_month'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_result'))
    )
    with op.batch_alter_table('kpi_result', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_result_month', ['month', 'subject_type'], unique=False)

    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('contract_no', sa.String(length=100), nullable=False),
    sa.Column('contract_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('budget', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_project_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['manager_id'], ['app_user.id'], name=op.f('fk_project_manager_id_app_user')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_project_org_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    sa.UniqueConstraint('code', name=op.f('uq_project_code'))
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_contract_no'), ['contract_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_customer'), ['customer'], unique=False)
        batch_op.create_index('ix_project_status_unit', ['status', 'org_unit_id'], unique=False)

    op.create_table('cost_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('route', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applicant_id'], ['app_user.id'], name=op.f('fk_cost_request_applicant_id_app_user')),
    sa.ForeignKeyConstraint(['category'], ['cost_category.code'], name=op.f('fk_cost_request_category_cost_category')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_cost_request_instance_id_process_instance')),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], name=op.f('fk_cost_request_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_cost_request_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_request')),
    sa.UniqueConstraint('code', name=op.f('uq_cost_request_code'))
    )
    with op.batch_alter_table('cost_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_request_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cost_request_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_cost_request_unit_created', ['org_unit_id', 'created_at'], unique=False)

    op.create_table('project_order',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_project_order_instance_id_process_instance'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_order_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'instance_id', name=op.f('pk_project_order')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_project_order_instance_id'))
    )


def downgrade() -> None:
    op.drop_table('project_order')
    with op.batch_alter_table('cost_request', schema=None) as batch_op:
        batch_op.drop_index('ix_cost_request_unit_created')
        batch_op.drop_index(batch_op.f('ix_cost_request_project_id'))
        batch_op.drop_index(batch_op.f('ix_cost_request_instance_id'))

    op.drop_table('cost_request')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_status_unit')
        batch_op.drop_index(batch_op.f('ix_project_customer'))
        batch_op.drop_index(batch_op.f('ix_project_contract_no'))

    op.drop_table('project')
    with op.batch_alter_table('kpi_result', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_result_month')

    op.drop_table('kpi_result')
    op.drop_table('kpi_month')
    op.drop_table('cost_budget')
    op.drop_table('kpi_definition')
    op.drop_table('cost_setting')
    op.drop_table('cost_category')
