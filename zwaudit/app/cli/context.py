"""State shared by subcommands: the config and the database, both opened lazily.

Imports of the config and database layers happen on first use, so that a subcommand which needs
neither (``sandbox serve``, ``--help``) starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from zwaudit.config import Config


@dataclass
class AppContext:
    config_dir: str | None = None
    db_url: str | None = None
    verbose: int = 0
    log_format: str | None = None
    _config: Config | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from zwaudit.config import load_config

            config = load_config(self.config_dir)
            # the scoring frameworks are data files too: a malformed one is one line and exit 2
            # when the command starts, not a failure after a night of auditing
            from scoring.framework import available_frameworks, load_framework

            for framework in available_frameworks(config):
                load_framework(config, framework)
            self._config = config
        return self._config

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from zwaudit.db.engine import make_engine

            self._engine = make_engine(self.db_url)
        return self._engine

    def sessions(self, *, migrate: bool = True) -> sessionmaker[Session]:
        """A session factory; the schema is brought up to date first (idempotent)."""
        from zwaudit.db.engine import ensure_schema, session_factory

        if migrate:
            ensure_schema(self.engine)
        return session_factory(self.engine)
