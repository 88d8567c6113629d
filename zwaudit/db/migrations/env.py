"""Alembic environment: the engine is handed in by :func:`zwaudit.db.engine.upgrade`."""

from __future__ import annotations

from alembic import context

from zwaudit.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain ``alembic`` CLI use
    from zwaudit.db.engine import make_engine

    engine = make_engine()

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
