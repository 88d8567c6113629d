"""fleet: the database's own identity, shared evidence blobs, crawl outcomes of queued crawls

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "zwaudit_meta",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_zwaudit_meta")),
    )
    # what names this database's runs on disk: the same for every client, whatever URL it uses
    op.bulk_insert(meta, [{"key": "database_id", "value": str(uuid.uuid4())}])
    op.create_table(
        "evidence_blob",
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_evidence_blob")),
    )
    op.create_table(
        "crawl_outcome",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("portal_id", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_crawl_outcome_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "portal_id", name=op.f("pk_crawl_outcome")),
    )


def downgrade() -> None:
    op.drop_table("crawl_outcome")
    op.drop_table("evidence_blob")
    op.drop_table("zwaudit_meta")
