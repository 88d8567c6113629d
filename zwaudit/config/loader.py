"""Loading a config directory: settings, portal profiles, the check registry and data files.

Layering: data files (``keywords.yaml``, ``frameworks/…``) are looked up first in the user's
config directory and then in the project's ``config/``, so a user overrides one file without
copying the rest. Portal profiles are *not* layered: the portals audited are exactly those in the
active directory's ``portals/``, so a sandbox run never wanders onto a real portal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zwaudit.checks import Check, CheckOptions, load_check_class, validate_data_files
from zwaudit.config.schema import PortalProfile, Settings
from zwaudit.config.yamlfile import read_yaml, validation_error
from zwaudit.errors import ConfigError, UsageError
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.registry import Registry, declarations, parse_registry


@dataclass
class Config:
    """A loaded, validated configuration."""

    directory: Path
    settings: Settings
    portals: dict[str, PortalProfile]
    check_registry: dict[str, str]
    registry: Registry = field(default_factory=declarations)  # declarations: labels, codes, templates
    _check_classes: dict[str, type[Check]] = field(default_factory=dict, repr=False)

    @property
    def search_path(self) -> list[Path]:
        """Directories searched for data files, the user's first."""
        dirs = [self.directory]
        if self.directory.resolve() != DEFAULT_CONFIG_DIR.resolve():
            dirs.append(DEFAULT_CONFIG_DIR)
        return dirs

    def data_file(self, relative: str) -> Path:
        """The first ``relative`` file along the search path."""
        for base in self.search_path:
            candidate = base / relative
            if candidate.exists():
                return candidate
        raise ConfigError(self.directory / relative, "", "file not found in the config directories")

    def read_data(self, relative: str) -> Any:
        """Parse a data file found along the search path."""
        return read_yaml(self.data_file(relative))

    def check_class(self, name: str) -> type[Check]:
        """The class of check ``name`` from the registry (imported on first use)."""
        if name not in self.check_registry:
            known = ", ".join(sorted(self.check_registry))
            raise UsageError(f"unknown probe {name!r} (known: {known})")
        if name not in self._check_classes:
            source = self.data_file("checks.yaml")
            self._check_classes[name] = load_check_class(name, self.check_registry[name], source)
        return self._check_classes[name]

    def check_codes(self, name: str) -> frozenset[str]:
        """The reason codes of check ``name``: declared in the registry, else its class's."""
        spec = self.registry.check(name)
        if spec is not None and spec.declared:
            return spec.code_names
        return frozenset(self.check_class(name).codes)

    def check_options(self, portal: PortalProfile, name: str) -> CheckOptions:
        """The validated options of check ``name`` for ``portal`` (defaults when not given)."""
        cls = self.check_class(name)
        raw = portal.probes.get(name, {})
        try:
            return cls.Options.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(portal.source_file or Path(portal.id), exc, f"probes.{name}") from exc

    def portal(self, portal_id: str) -> PortalProfile:
        """One portal by id, or a usage error listing the known ones."""
        try:
            return self.portals[portal_id]
        except KeyError:
            known = ", ".join(sorted(self.portals)) or "none configured"
            raise UsageError(f"unknown portal {portal_id!r} (known: {known})") from None

    def select_portals(self, ids: list[str] | tuple[str, ...] | None) -> list[PortalProfile]:
        """The portals named, or all of them in id order."""
        if ids:
            return [self.portal(i) for i in ids]
        return [self.portals[k] for k in sorted(self.portals)]


def resolve_config_dir(explicit: str | Path | None = None) -> Path:
    """``--config``, else ``ZWAUDIT_CONFIG``, else the project's ``config/``."""
    chosen = explicit or os.environ.get("ZWAUDIT_CONFIG")
    return Path(chosen).resolve() if chosen else DEFAULT_CONFIG_DIR


def load_settings(directory: Path) -> Settings:
    for base in (directory, DEFAULT_CONFIG_DIR):
        path = base / "settings.yaml"
        if path.exists():
            raw = read_yaml(path) or {}
            if not isinstance(raw, dict):
                raise ConfigError(path, "", "expected a mapping at the top level")
            try:
                return Settings.model_validate(raw)
            except ValidationError as exc:
                raise validation_error(path, exc) from exc
    return Settings()


def load_profile(path: Path) -> PortalProfile:
    """Validate one portal profile file."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(path, "", "expected a mapping with at least id, name and home_url")
    try:
        profile = PortalProfile.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, exc) from exc
    if profile.ca_bundle is not None and not profile.ca_bundle.is_absolute():
        profile = profile.model_copy(update={"ca_bundle": (path.parent / profile.ca_bundle).resolve()})
    if profile.ca_bundle is not None and not profile.ca_bundle.exists():
        raise ConfigError(path, "ca_bundle", f"file not found: {profile.ca_bundle}")
    return profile.model_copy(update={"source_file": path})


def load_registry(directory: Path) -> Registry:
    """The check registry of a config directory: the project's (``config/checks.yaml``), or the
    directory's own ``checks.yaml`` when it has one (its short entries keep the project's
    declarations of the same name)."""
    project = declarations()
    path = directory / "checks.yaml"
    if not path.exists() or path.resolve() == project.source.resolve():
        return project
    raw = read_yaml(path) or {}
    own = parse_registry(raw, path)
    merged = project.merged(own)
    merged.checks = {name: merged.checks[name] for name in own.checks}  # exactly the directory's checks
    return merged


def load_checks(directory: Path) -> tuple[dict[str, str], Path]:
    """Check name → ``module:Class`` of a config directory's registry, and the file it came from."""
    registry = load_registry(directory)
    return {name: spec.cls for name, spec in registry.checks.items()}, registry.source


def load_config(directory: str | Path | None = None, *, validate_probes: bool = True) -> Config:
    """Load and validate a config directory (see :func:`resolve_config_dir`)."""
    root = resolve_config_dir(directory)
    if not root.is_dir():
        raise ConfigError(root, "", "config directory does not exist")
    settings = load_settings(root)
    declared = load_registry(root)
    registry = {name: spec.cls for name, spec in declared.checks.items()}
    portals: dict[str, PortalProfile] = {}
    portal_dir = root / "portals"
    for path in sorted(portal_dir.glob("*.yaml")) + sorted(portal_dir.glob("*.yml")):
        profile = load_profile(path)
        if profile.id in portals:
            other = portals[profile.id].source_file
            raise ConfigError(path, "id", f"duplicate portal id {profile.id!r} (also in {other})")
        portals[profile.id] = profile
    config = Config(root, settings, portals, registry, declared)
    if validate_probes:
        for profile in portals.values():
            for name in profile.probes:
                if name not in registry:
                    raise ConfigError(profile.source_file or root, f"probes.{name}", "unknown probe")
                config.check_options(profile, name)
        validate_data_files(config)  # keywords, guide elements, masking rules … (zwaudit.checks)
    return config
