"""The keyword rules of ``config/keywords.yaml``: what a good answer to each keyword must contain.

Loaded once per run and validated so that a typo or a broken regular expression is a one-line
config error naming the file and the key, never a silently wrong judgement.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zwaudit.config.yamlfile import read_yaml, validation_error
from zwaudit.errors import ConfigError

_SPACES = re.compile(r"\s+")


def normalize_title(text: str) -> str:
    """Full-width → half-width (NFKC) and no white space, as the rules in keywords.yaml say."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


def _compile(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedServiceModel(_Strict):
    name: str = Field(min_length=1)
    match: list[str] = Field(min_length=1)

    _valid = field_validator("match")(_compile)


class KeywordModel(_Strict):
    expected: list[ExpectedServiceModel] = Field(default_factory=list)
    relevant: list[str] = Field(default_factory=list)

    _valid = field_validator("relevant")(_compile)


class KeywordsFileModel(_Strict):
    top_n: int = Field(default=10, ge=1, le=50)
    imprecise_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    catalogue_match_threshold: float = Field(default=90.0, ge=50.0, le=100.0)
    keywords: dict[str, KeywordModel] = Field(min_length=1)


@dataclass(frozen=True)
class ExpectedService:
    """An official service a good answer must list, recognised by any of its patterns."""

    name: str
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, title: str) -> bool:
        norm = normalize_title(title)
        return any(p.search(norm) for p in self.patterns)


@dataclass(frozen=True)
class KeywordRule:
    """One keyword: the services expected and the words that make another result relevant."""

    keyword: str
    expected: tuple[ExpectedService, ...]
    relevant: tuple[re.Pattern[str], ...]

    def is_relevant(self, title: str) -> bool:
        """Whether a result title answers the keyword at all (expected or merely relevant)."""
        norm = normalize_title(title)
        return any(s.matches(title) for s in self.expected) or any(p.search(norm) for p in self.relevant)


@dataclass(frozen=True)
class KeywordRules:
    top_n: int
    imprecise_threshold: float
    keywords: tuple[KeywordRule, ...]
    source: Path
    catalogue_match_threshold: float = 90.0


def _patterns(items: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in items)


def load_keywords(path: Path) -> KeywordRules:
    """Read and validate a keywords file; errors name the file and the dotted key."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(path, "", "expected a mapping with top_n, imprecise_threshold and keywords")
    try:
        model = KeywordsFileModel.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, exc) from exc
    rules = tuple(
        KeywordRule(
            keyword=word,
            expected=tuple(ExpectedService(s.name, _patterns(s.match)) for s in spec.expected),
            relevant=_patterns(spec.relevant),
        )
        for word, spec in model.keywords.items()
    )
    return KeywordRules(model.top_n, model.imprecise_threshold, rules, path, model.catalogue_match_threshold)
