"""Shared fixtures for probe tests: one Chromium per test session, checks run as in an audit.

Playwright objects belong to the event loop that made them, so the session's browser lives on a
background loop thread and tests hand it coroutines (``browser_harness.run(coro)``). Usage::

    @pytest.mark.browser
    def test_search(run_check):
        findings = run_check("sbx-shu", "search_accuracy")   # exactly what `zwaudit audit` runs
        ...

    @pytest.mark.browser
    def test_observer(browser_harness, sandbox_config):
        async def observe():
            audit = browser_harness.check_runner(sandbox_config, "sbx-shu")
            try:
                context = await audit.browser_context()
                page = await context.new_page()
                ...
            finally:
                await audit.close()
        browser_harness.run(observe())

``run_check`` builds the :class:`~zwaudit.checks.CheckContext` through
:class:`zwaudit.app.check_runner.PortalCheckRunner`, the same code path as the orchestrator (evidence
under the test's ``tmp_path / "evidence"``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from zwaudit.app.check_runner import PortalCheckRunner
from zwaudit.browser import AuditBrowser
from zwaudit.config.loader import Config, load_config
from zwaudit.config.schema import Settings
from zwaudit.findings import Finding
from zwaudit.secrets import Secrets

T = TypeVar("T")


class BrowserHarness:
    """A Chromium on a private event-loop thread, shared by the tests of one session."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="browser-loop", daemon=True)
        self._thread.start()
        self.browser = AuditBrowser(self.settings.browser, self.settings.user_agent)
        self.run(self.browser.start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 240.0) -> T:
        """Run ``coro`` on the browser's loop and return its result (exceptions propagate)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def check_runner(
        self, config: Config, portal_id: str, *, run_id: int = 1, evidence_root: Path | None = None
    ) -> PortalCheckRunner:
        """A :class:`PortalCheckRunner` on the shared browser (close it with ``await audit.close()``)."""
        return PortalCheckRunner(
            config,
            config.portal(portal_id),
            run_id,
            secrets=Secrets.for_config_dir(config.directory),
            browser=self.browser,
            evidence_root=evidence_root,
        )

    def run_check(
        self, config: Config, portal_id: str, name: str, *, evidence_root: Path | None = None
    ) -> list[Finding]:
        """Run one registered check on one portal, exactly as the orchestrator does."""
        audit = self.check_runner(config, portal_id, evidence_root=evidence_root)

        async def go() -> list[Finding]:
            try:
                return await audit.run_check(name)
            finally:
                await audit.close()

        return self.run(go())

    def close(self) -> None:
        try:
            self.run(self.browser.close(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@pytest.fixture(scope="session")
def browser_harness() -> Iterator[BrowserHarness]:
    """The session's Chromium (skipped when Debian chromium is not installed)."""
    settings = Settings()
    exe = settings.browser.executable_path
    if exe is not None and not exe.exists():
        pytest.skip(f"browser not installed: {exe}")
    harness = BrowserHarness(settings)
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def sandbox_config(sandbox: Any) -> Config:
    """The sandbox's generated config directory, loaded (profiles with real ports, secrets 0600)."""
    return load_config(sandbox.config_dir)


@pytest.fixture
def run_check(
    browser_harness: BrowserHarness, sandbox_config: Config, tmp_path: Path
) -> Callable[[str, str], list[Finding]]:
    """``run_check(portal_id, check_name)`` → findings, evidence under ``tmp_path / "evidence"``."""

    def go(portal_id: str, name: str) -> list[Finding]:
        return browser_harness.run_check(sandbox_config, portal_id, name, evidence_root=tmp_path / "evidence")

    return go
