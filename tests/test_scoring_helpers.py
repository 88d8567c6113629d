"""Shared helpers for the scoring tests (no tests here): the nine checks' vocabulary, tiny frameworks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from scoring.framework import Framework, build_framework
from scoring.model import FindingRow
from scoring.schema import FrameworkSpec
from zwaudit.checks import CheckOptions, Requires
from zwaudit.config import Config, load_config
from zwaudit.errors import ZwauditError

# The reason codes decided for the nine checks (docs/architecture.md, task briefs).
NINE: dict[str, frozenset[str]] = {
    "search_accuracy": frozenset({"not_found", "incomplete", "imprecise"}),
    "auth_https": frozenset(
        {"login_page_http", "form_posts_http", "mixed_content", "certificate_invalid", "hsts_missing"}
    ),
    "name_masking": frozenset({"name_unmasked", "id_number_unmasked", "phone_unmasked"}),
    "duplicate_login": frozenset({"second_login", "re_registration"}),
    "data_same_source": frozenset({"item_missing", "field_mismatch", "stale"}),
    "guide_completeness": frozenset({"element_missing"}),
    "cancelled_items": frozenset({"still_listed"}),
    "click_depth": frozenset({"too_deep"}),
    "link_health": frozenset({"broken_link"}),
}


def nine_codes(probe: str) -> frozenset[str] | None:
    return NINE.get(probe)


def framework(indicators: dict[str, Any], **top: Any) -> Framework:
    """A framework from a dict of indicators (root ``overall``), validated like a file."""
    spec = FrameworkSpec.model_validate(
        {"id": "t", "name": "test", "root": "overall", "indicators": indicators, **top}
    )
    return build_framework(spec, Path("t.yaml"), nine_codes)


class Rows:
    """Builds finding rows with increasing ids."""

    def __init__(self) -> None:
        self.next_id = 1

    def __call__(self, probe: str, target: str, status: str, code: str | None = None) -> FindingRow:
        row = FindingRow(self.next_id, probe, target, status, code)
        self.next_id += 1
        return row


def _stand_in(probe: str) -> type[Any]:
    class StandIn:
        name: ClassVar[str] = probe
        version: ClassVar[str] = "0"
        codes: ClassVar[frozenset[str]] = NINE[probe]
        requires: ClassVar[Requires] = Requires.HTTP
        Options: ClassVar[type[CheckOptions]] = CheckOptions

    return StandIn


def project_config() -> Config:
    """The project's config; checks not registered yet are stood in for with the decided codes."""
    config = load_config(validate_probes=False)
    for probe in NINE:
        try:
            config.check_class(probe)  # a registered, importable check is validated for real
        except ZwauditError:  # not registered yet, or its module not written yet
            config.check_registry[probe] = f"stand_in:{probe}"
            config._check_classes[probe] = _stand_in(probe)
    return config
