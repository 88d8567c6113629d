"""State shared by subcommands: the config and the database, both opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from zwaudit.config import Config, load_config
from zwaudit.db.engine import ensure_schema, make_engine, session_factory


@dataclass
class AppContext:
    config_dir: str | None = None
    db_url: str | None = None
    _config: Config | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_dir)
        return self._config

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return self._engine

    def sessions(self, *, migrate: bool = True) -> sessionmaker[Session]:
        """A session factory; the schema is brought up to date first (idempotent)."""
        if migrate:
            ensure_schema(self.engine)
        return session_factory(self.engine)
