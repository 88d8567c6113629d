"""The Procrastinate app of the fleet: one queue (``zwaudit``) in the run's own PostgreSQL.

The queue lives in the database zwaudit already needs, so a fleet adds no service. Its tables are
created on first use (an advisory lock keeps two processes from creating them at once).
"""

from __future__ import annotations

import hashlib

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from zwaudit.errors import UsageError

QUEUE = "zwaudit"
JOB_PREFIX = "zwaudit"  # queueing locks: zwaudit:run<N>:<portal>:<check|crawl>


def advisory_key(text: str) -> int:
    """A signed 64-bit PostgreSQL advisory-lock key for ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def conninfo(db_url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``)."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        raise UsageError(f"the fleet needs a PostgreSQL database, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(db_url: str) -> procrastinate.App:
    """The app with the fleet's tasks (``zwaudit.app.fleet.jobs``) registered."""
    from zwaudit.app.fleet.jobs import tasks

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(db_url)),
        import_paths=["zwaudit.app.fleet.jobs"],
    )
    app.add_tasks_from(tasks, namespace="zwaudit")
    return app


def ensure_queue_schema(db_url: str) -> bool:
    """Create Procrastinate's tables when missing; ``True`` when this call created them."""
    with psycopg.connect(conninfo(db_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (advisory_key("zwaudit-queue-schema"),))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (advisory_key("zwaudit-queue-schema"),))
