"""finding.status is a closed set (zwaudit.outcomes.Status)

Revision ID: 0004
Revises: 0003

As ``run.status`` (0002): PostgreSQL gets a CHECK constraint; SQLite, which cannot add one without
rebuilding the ``finding`` table, gets two triggers refusing the same values. The set is spelled
out here, not imported, so this revision stays what it was when the enum changes.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATUSES = "('pass', 'fail', 'error', 'not_applicable')"


def upgrade() -> None:
    # a value outside the set could only come from a hand edit: keep the row as an internal error
    op.execute(f"UPDATE finding SET status = 'error', code = 'internal' WHERE status NOT IN {STATUSES}")
    if op.get_bind().dialect.name == "sqlite":
        for event in ("INSERT", "UPDATE OF status"):
            name = "ck_finding_status_" + event.split()[0].lower()
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON finding "
                f"WHEN NEW.status NOT IN {STATUSES} "
                "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_finding_status'); END"
            )
    else:
        op.create_check_constraint("status", "finding", f"status IN {STATUSES}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ck_finding_status_insert")
        op.execute("DROP TRIGGER IF EXISTS ck_finding_status_update")
    else:
        op.drop_constraint("ck_finding_status", "finding", type_="check")
