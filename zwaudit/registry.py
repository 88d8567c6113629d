"""The one registry of checks, reason codes and their Chinese labels (``config/checks.yaml``).

Each check declares there its implementation, its Chinese name, whether it needs the logged-in
session, its evidence kinds and its closed set of reason codes, each with a Chinese label and the
templates of the one sentence that explains a finding (:mod:`zwaudit.explain`). Everything else
derives from it: the check classes' ``codes``, :class:`~zwaudit.findings.Finding`'s refusal of an
undeclared code, the report's labels, scoring's check of framework codes, calibration's logged-in
checks and the sandbox truth. The labels of the closed vocabularies (statuses, error kinds) are
there too, and must cover the enums exactly.

The project's file is read once (:func:`declarations`); a user's config directory may add or
replace entries (:func:`parse_registry`, used by the config loader).
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zwaudit.errors import ConfigError
from zwaudit.outcomes import ErrorKind, Status
from zwaudit.paths import DEFAULT_CONFIG_DIR

REGISTRY_FILE = DEFAULT_CONFIG_DIR / "checks.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(template: str) -> str:
    """A template must parse as a ``str.format`` string (its fields are checked when rendered)."""
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from exc
    return template


class CodeSpec(_Strict):
    """One reason code: its Chinese label and the templates of its explanation, tried in order."""

    label: str = Field(min_length=1)
    explain: tuple[str, ...] = Field(min_length=1)

    @field_validator("explain")
    @classmethod
    def _templates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_template(t) for t in value)


class CheckSpec(_Strict):
    """One check as declared in the registry."""

    name: str = ""  # filled from the key
    cls: str = Field(alias="class", pattern=r"^[\w.]+:\w+$")
    label: str = Field(min_length=1)
    logged_in: bool = False
    evidence: tuple[str, ...] = ()
    codes: dict[str, CodeSpec] = Field(default_factory=dict)
    declared: bool = True  # False: a short ``name: "module:Class"`` entry (codes from the class)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def code_names(self) -> frozenset[str]:
        return frozenset(self.codes)


class RegistryFile(_Strict):
    checks: dict[str, CheckSpec | str]
    statuses: dict[str, str] = Field(default_factory=dict)
    error_kinds: dict[str, str] = Field(default_factory=dict)
    words: dict[str, str] = Field(default_factory=dict)
    channels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _codes_are_not_error_kinds(self) -> RegistryFile:
        kinds = {k.value for k in ErrorKind}
        for name, spec in self.checks.items():
            if isinstance(spec, CheckSpec) and kinds & set(spec.codes):
                clash = ", ".join(sorted(kinds & set(spec.codes)))
                raise ValueError(f"check {name}: reason code(s) {clash} are error kinds")
        return self


class Registry:
    """The parsed registry: checks by name, and the labels of the closed vocabularies."""

    def __init__(self, data: RegistryFile, source: Path) -> None:
        self.source = source
        self.checks: dict[str, CheckSpec] = {}
        for name, spec in data.checks.items():
            if isinstance(spec, str):
                spec = CheckSpec.model_validate({"class": spec, "label": name, "declared": False})
            self.checks[name] = spec.model_copy(update={"name": name})
        self.statuses = dict(data.statuses)
        self.error_kinds = dict(data.error_kinds)
        self.words = dict(data.words)
        self.channels = dict(data.channels)

    def check(self, name: str) -> CheckSpec | None:
        return self.checks.get(name)

    def declared(self, name: str) -> CheckSpec:
        """The declared check ``name``; a KeyError (a programming error) when it is not."""
        spec = self.checks.get(name)
        if spec is None or not spec.declared:
            raise KeyError(f"check {name!r} is not declared in {self.source}")
        return spec

    def code_label(self, code: str) -> str | None:
        """The label of a reason code (any check's) or an error kind; None when unknown."""
        for spec in self.checks.values():
            if code in spec.codes:
                return spec.codes[code].label
        return self.error_kinds.get(code)

    def merged(self, other: Registry) -> Registry:
        """This registry with ``other``'s entries on top; a short entry keeps the declarations
        this registry has for the same name (only its implementation changes)."""
        out = Registry.__new__(Registry)
        out.source = other.source
        out.checks = dict(self.checks)
        for name, spec in other.checks.items():
            mine = self.checks.get(name)
            if not spec.declared and mine is not None and mine.declared:
                spec = mine.model_copy(update={"cls": spec.cls})
            out.checks[name] = spec
        out.statuses = {**self.statuses, **other.statuses}
        out.error_kinds = {**self.error_kinds, **other.error_kinds}
        out.words = {**self.words, **other.words}
        out.channels = {**self.channels, **other.channels}
        return out


def parse_registry(raw: Any, source: Path, *, complete: bool = False) -> Registry:
    """Validate a ``checks.yaml``; ``complete``: the project's own, which must label every status
    and error kind (and nothing else)."""
    from zwaudit.config.yamlfile import validation_error  # the config package imports this module

    if not isinstance(raw, dict) or not isinstance(raw.get("checks"), dict):
        raise ConfigError(source, "checks", "expected a mapping of check name to its declaration")
    try:
        data = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(source, exc) from exc
    if complete:
        for key, enum in (("statuses", Status), ("error_kinds", ErrorKind)):
            have, want = set(getattr(data, key)), {m.value for m in enum}
            if have != want:
                diff = sorted(want - have) or sorted(have - want)
                what = "unlabelled" if want - have else "not in the enum"
                raise ConfigError(source, key, f"{what}: {', '.join(diff)}")
    return Registry(data, source)


@cache
def declarations() -> Registry:
    """The project's registry (``config/checks.yaml``), read once."""
    from zwaudit.config.yamlfile import read_yaml

    return parse_registry(read_yaml(REGISTRY_FILE), REGISTRY_FILE, complete=True)


def declared_codes(check: str) -> frozenset[str]:
    """The reason codes check ``check`` declares (for its class's ``codes``)."""
    return declarations().declared(check).code_names


def undeclared_code(probe: str, status: Status, code: str | None) -> str | None:
    """Why ``code`` is not one ``probe`` may report with ``status`` (None: it may).

    Only checks declared in the project's registry are held to it here; the runner holds every
    other check to its class's ``codes``.
    """
    if code is None or status is Status.ERROR or status is Status.PASS:
        return None
    spec = declarations().check(probe)
    if spec is None or not spec.declared or code in spec.codes:
        return None
    return f"{probe} does not declare reason code {code!r} (declared: {', '.join(sorted(spec.codes))})"
