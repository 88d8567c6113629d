"""run.status is a closed set (zwaudit.outcomes.RunStatus), with ``interrupted``

Revision ID: 0002
Revises: 0001

PostgreSQL gets a CHECK constraint. SQLite cannot add one without rebuilding the ``run`` table,
and dropping the old table would cascade-delete every finding (foreign keys are on), so there two
triggers refuse the same values instead.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUSES = "('running', 'ok', 'failed', 'interrupted')"


def upgrade() -> None:
    # a value outside the set could only come from a hand edit: keep the row, call it failed
    op.execute(f"UPDATE run SET status = 'failed' WHERE status NOT IN {STATUSES}")
    if op.get_bind().dialect.name == "sqlite":
        for event in ("INSERT", "UPDATE OF status"):
            name = "ck_run_status_" + event.split()[0].lower()
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON run "
                f"WHEN NEW.status NOT IN {STATUSES} "
                "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_run_status'); END"
            )
    else:
        op.create_check_constraint("status", "run", f"status IN {STATUSES}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ck_run_status_insert")
        op.execute("DROP TRIGGER IF EXISTS ck_run_status_update")
    else:
        op.drop_constraint("ck_run_status", "run", type_="check")
