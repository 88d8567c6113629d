"""Creating engines and sessions, and upgrading the schema with Alembic.

SQLite (a file under ``var/``) is the embedded default; any SQLAlchemy URL works through
``--db`` or ``ZWAUDIT_DB`` (``postgresql+psycopg://…`` for deployments; a plain
``postgresql://`` URL is taken to mean psycopg 3).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.errors import RunError, UsageError
from zwaudit.paths import var_dir

if TYPE_CHECKING:  # alembic (with mako and pygments) is imported where a schema is checked or
    # migrated: a crawler or worker process that only reads and writes rows starts without it
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_LOCK_KEY = 0x7A77_6175_6469_7401  # the advisory lock held while the schema is upgraded


def default_url() -> str:
    """``ZWAUDIT_DB``, else ``sqlite:///var/zwaudit.sqlite``."""
    env = os.environ.get("ZWAUDIT_DB")
    if env:
        return env
    return f"sqlite:///{var_dir() / 'zwaudit.sqlite'}"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` for psycopg 3 and reject what SQLAlchemy cannot parse."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"--db: not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default :func:`default_url`), creating a SQLite file's folder."""
    final = normalise_url(url or default_url())
    parsed = make_url(final)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(final, pool_pre_ping=True, future=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def is_postgresql(db_url: str) -> bool:
    return make_url(db_url).get_backend_name() == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def driver_message(exc: DBAPIError) -> str:
    """The first line of a driver error (psycopg's span lines; SQLAlchemy appends the SQL)."""
    text = str(exc.orig).strip() if exc.orig is not None else str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


def database_error(engine: Engine, exc: DBAPIError) -> RunError:
    """A one-line :class:`RunError` for a driver error (psycopg's messages span lines)."""
    return RunError(f"database {engine.url.render_as_string(hide_password=True)}: {driver_message(exc)}")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise database_error(engine, exc) from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise database_error(engine, exc) from exc


def ensure_schema(engine: Engine) -> None:
    """Upgrade when the schema is missing or behind; cheap when it is current."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current_revision(engine) == head:
        return
    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return
    # several processes (a fleet's workers starting together) may find the schema behind at once:
    # one upgrades under an advisory lock, the others wait for it and then find it current
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
            try:
                if current_revision(engine) != head:
                    upgrade(engine)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
                conn.commit()
    except OperationalError as exc:
        raise database_error(engine, exc) from exc


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
