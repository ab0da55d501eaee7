"""status checks: task, instance, incident and job statuses kept to their StrEnum values by CHECK constraints;
a process instance may also have failed (an uncaught BPMN error)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:50:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# table → allowed statuses (engine/*/models.py: TaskStatus, InstanceStatus, IncidentStatus, JobStatus)
CHECKS = {
    "human_task": ("ready", "completed", "returned", "cancelled"),
    "process_instance": ("running", "completed", "cancelled", "failed"),
    "incident": ("open", "resolved"),
    "job": ("pending", "running", "done", "failed", "cancelled"),
}

# SQLite rebuilds a table to add a constraint; its partial indexes are created again with their WHERE
PARTIAL_INDEXES = {
    "human_task": [
        "CREATE INDEX ix_human_task_warn_pending ON human_task (warn_at) "
        "WHERE status = 'ready' AND warned_at IS NULL AND suspended_at IS NULL",
        "CREATE INDEX ix_human_task_due_pending ON human_task (due_at) "
        "WHERE status = 'ready' AND overdue_at IS NULL AND suspended_at IS NULL",
    ],
    "process_instance": [
        "CREATE UNIQUE INDEX uq_process_instance_open_business_key ON process_instance (process_key, business_key) "
        "WHERE status != 'cancelled'",
    ],
    "job": [
        "CREATE INDEX ix_job_pending_due ON job (due_at) WHERE status = 'pending'",
        "CREATE INDEX ix_job_running_lock ON job (locked_until) WHERE status = 'running'",
    ],
}


def _condition(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def _index_names(table: str) -> list[str]:
    return [sql.split()[2] if sql.split()[1] == "INDEX" else sql.split()[3] for sql in PARTIAL_INDEXES.get(table, [])]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, statuses in CHECKS.items():
        if not sqlite:
            op.create_check_constraint("status", table, _condition(statuses))
            continue
        for name in _index_names(table):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.create_check_constraint("status", _condition(statuses))
        for sql in PARTIAL_INDEXES.get(table, []):
            op.execute(sql)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in CHECKS:
        if not sqlite:
            op.drop_constraint("status", table, type_="check")
            continue
        for name in _index_names(table):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.drop_constraint("status", type_="check")
        for sql in PARTIAL_INDEXES.get(table, []):
            op.execute(sql)
