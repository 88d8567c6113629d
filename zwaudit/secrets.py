"""Credentials and the test account's personal data: from the environment or a 0600 file.

Never from the database and never from a profile literally. The secrets file (``ZWAUDIT_SECRETS``,
default ``<config dir>/secrets.yaml``) must not be readable by group or others: a loose file is
refused rather than trusted, as ssh does with private keys.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zwaudit.config.schema import Account, SecretRef
from zwaudit.config.yamlfile import read_yaml
from zwaudit.errors import ConfigError


class Secrets:
    """Resolves :class:`SecretRef` values; the file is read lazily, once."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self._values: dict[str, str] | None = None

    @classmethod
    def for_config_dir(cls, directory: Path) -> Secrets:
        env = os.environ.get("ZWAUDIT_SECRETS")
        return cls(Path(env) if env else directory / "secrets.yaml")

    def _load(self) -> dict[str, str]:
        if self._values is not None:
            return self._values
        if self.file is None or not self.file.exists():
            self._values = {}
            return self._values
        mode = self.file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                self.file, "", f"permissions {stat.filemode(mode)} are too open; run: chmod 600 {self.file}"
            )
        raw = read_yaml(self.file) or {}
        if not isinstance(raw, dict):
            raise ConfigError(self.file, "", "expected a mapping of key to value")
        self._values = {str(k): str(v) for k, v in raw.items()}
        return self._values

    def resolve(self, ref: SecretRef, *, where: str = "") -> str:
        """The secret's value, or a :class:`ConfigError` naming what is missing."""
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if value is None:
                raise ConfigError(where or "environment", ref.env, "environment variable is not set")
            return value
        assert ref.secret is not None
        values = self._load()
        if ref.secret not in values:
            raise ConfigError(self.file or "secrets", ref.secret, "key not found in the secrets file")
        return values[ref.secret]

    def personal_data(self, account: Account, *, where: str = "") -> dict[str, str]:
        """The account's personal data that must never appear unmasked in evidence."""
        out: dict[str, str] = {}
        for key in ("name", "id_number", "phone", "username"):
            ref = getattr(account, key)
            if ref is not None:
                out[key] = self.resolve(ref, where=where)
        return out
