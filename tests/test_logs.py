"""Log lines never carry a test account's personal data: message, arguments and traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from zwaudit import logs
from zwaudit.redact import Redactor

PERSONAL = {"name": "王建国", "id_number": "510104198807151234", "phone": "13812345678"}


@pytest.fixture
def captured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], str]]:
    """What the handler ``configure_logging`` installs writes to stderr (pytest's capture)."""
    monkeypatch.setattr(logs, "_redactors", [])
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:], level = saved
    root.setLevel(level)


def _log_with_personal_data() -> None:
    log = logging.getLogger("zwaudit.test")
    log.warning("user centre shows %s (%s)", PERSONAL["name"], PERSONAL["phone"])
    try:
        raise RuntimeError(f"locator text={PERSONAL['name']} id {PERSONAL['id_number']} not visible")
    except RuntimeError:
        log.exception("probe failed")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_messages_and_tracebacks_are_redacted(captured: Callable[[], str], fmt: str) -> None:
    logs.configure_logging(logging.INFO, fmt)
    logs.register_redactor(Redactor(PERSONAL))
    _log_with_personal_data()
    out = captured()
    assert "user centre shows" in out and "not visible" in out  # the lines were written
    for value in PERSONAL.values():
        assert value not in out, f"{value} in log output"
    if fmt == "json":
        lines = [json.loads(line) for line in out.splitlines()]
        assert lines[1]["msg"] == "probe failed" and "RuntimeError" in lines[1]["exc"]


def test_without_a_redactor_the_line_is_unchanged(captured: Callable[[], str]) -> None:
    """The filter only rewrites when an audit registered personal data (nothing else is hidden)."""
    logs.configure_logging(logging.INFO, "json")
    logging.getLogger("zwaudit.test").warning("portal %s answered %d", "sbx-shu", 429)
    assert json.loads(captured())["msg"] == "portal sbx-shu answered 429"
