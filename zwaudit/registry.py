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
from typing import Any, Literal

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


def _templates(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_check_template(t) for t in value)


class _Explained(_Strict):
    """Something explained in one Chinese sentence: templates tried in order (:mod:`zwaudit.explain`)."""

    explain: tuple[str, ...] = Field(min_length=1)

    @field_validator("explain")
    @classmethod
    def _valid_templates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _templates(value)


class CodeSpec(_Explained):
    """One reason code: its Chinese label and the templates of its explanation, tried in order;
    ``requires_personal``: the personal field of the test account the code is about (without it
    the runner writes the code ``not_applicable``: precondition ``personal_data``)."""

    label: str = Field(min_length=1)
    requires_personal: Literal["name", "id_number", "phone"] | None = None


class ErrorKindSpec(_Explained):
    """An error kind: its label and the templates of the sentence of an ``error`` finding."""

    label: str = Field(min_length=1)


class PreconditionSpec(_Explained):
    """What a check may need before it observes (the runner checks it, :mod:`zwaudit.checks`):
    the finding written when it is unmet (``not_applicable``, or ``error`` of ``error_kind``), its
    target (``subject``: the check's own, :meth:`~zwaudit.checks.TwoPhaseCheck.subject`;
    ``catalogue``: ``catalogue@portal``) and its one Chinese sentence."""

    unmet: Literal["not_applicable", "error"]
    error_kind: str | None = None
    target: Literal["subject", "catalogue"] = "subject"
    reason: str = Field(min_length=1)  # the machine fact, in the finding's detail

    @model_validator(mode="after")
    def _kind(self) -> PreconditionSpec:
        kinds = {k.value for k in ErrorKind}
        if (self.unmet == "error") != (self.error_kind is not None) or (
            self.error_kind is not None and self.error_kind not in kinds
        ):
            raise ValueError("an unmet 'error' names its error_kind (an ErrorKind); not_applicable none")
        return self


class CheckSpec(_Strict):
    """One check as declared in the registry."""

    name: str = ""  # filled from the key
    cls: str = Field(alias="class", pattern=r"^[\w.]+:\w+$")
    label: str = Field(min_length=1)
    logged_in: bool = False
    evidence: tuple[str, ...] = ()
    preconditions: tuple[str, ...] = ()  # names in the top-level ``preconditions`` table
    codes: dict[str, CodeSpec] = Field(default_factory=dict)
    errors: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # error kind → own templates
    declared: bool = True  # False: a short ``name: "module:Class"`` entry (codes from the class)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def code_names(self) -> frozenset[str]:
        return frozenset(self.codes)

    def code_for_personal(self, field: str) -> str:
        """The code declared ``requires_personal: field``: which leak a personal field is reported
        as is said once, in the registry, not again in the check."""
        found = [c for c, s in self.codes.items() if s.requires_personal == field]
        if len(found) != 1:
            raise LookupError(f"{self.name}: {len(found)} codes declare requires_personal: {field}")
        return found[0]

    @field_validator("errors")
    @classmethod
    def _error_templates(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        kinds = {k.value for k in ErrorKind}
        for kind, templates in value.items():
            if kind not in kinds:
                raise ValueError(f"errors: {kind!r} is not an error kind")
            _templates(templates)
        return value


class RegistryFile(_Strict):
    checks: dict[str, CheckSpec | str]
    statuses: dict[str, str] = Field(default_factory=dict)
    error_kinds: dict[str, ErrorKindSpec | str] = Field(default_factory=dict)
    preconditions: dict[str, PreconditionSpec] = Field(default_factory=dict)
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
        self.error_kinds = {k: v if isinstance(v, str) else v.label for k, v in data.error_kinds.items()}
        self.error_explain = {k: v.explain for k, v in data.error_kinds.items() if not isinstance(v, str)}
        self.preconditions = dict(data.preconditions)
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
        out.error_explain = {**self.error_explain, **other.error_explain}
        out.preconditions = {**self.preconditions, **other.preconditions}
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
        plain = sorted(k for k, v in data.error_kinds.items() if isinstance(v, str))
        if plain:  # the project's file explains every error kind in one Chinese sentence
            raise ConfigError(source, f"error_kinds.{plain[0]}", "expected {label, explain}")
        have, want = set(data.preconditions), {p.value for p in _precondition_enum()}
        if have != want:
            raise ConfigError(source, "preconditions", f"expected exactly: {', '.join(sorted(want))}")
    known = {p.value for p in _precondition_enum()}
    for name, spec in data.checks.items():
        if not isinstance(spec, CheckSpec):
            continue
        where = f"checks.{name}"
        if set(spec.preconditions) - known:
            raise ConfigError(
                source, f"{where}.preconditions", f"unknown: {sorted(set(spec.preconditions) - known)}"
            )
        personal = [c for c, s in spec.codes.items() if s.requires_personal]
        if personal and "test_account" not in spec.preconditions:
            raise ConfigError(source, f"{where}.codes.{personal[0]}", "requires_personal needs test_account")
    return Registry(data, source)


def _precondition_enum() -> Any:
    from zwaudit.checks import Precondition  # the checks module imports this one

    return Precondition


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
