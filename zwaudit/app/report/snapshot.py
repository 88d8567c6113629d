"""Opening a rendered report in headless Chromium: a PNG of its first page, and the console
errors it shows (a missing screenshot, a broken include) — used by ``zwaudit report --png`` and
by the tests, so "the report renders" is checked by a real browser, offline.

Requests to anything but ``file:`` are aborted and recorded: the report must be self-contained.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from zwaudit.browser import LAUNCH_ARGS
from zwaudit.errors import RunError


@dataclass
class Snapshot:
    title: str
    text: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    png: Path | None = None


async def _open(html: Path, png: Path | None, executable: Path | None, width: int, height: int) -> Snapshot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import Route, async_playwright

    errors: list[str] = []
    external: list[str] = []

    async def guard(route: Route) -> None:
        if route.request.url.startswith("file:"):
            await route.continue_()
        else:
            external.append(route.request.url)
            await route.abort()

    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(executable) if executable else None, headless=True, args=list(LAUNCH_ARGS)
            )
            try:
                page = await browser.new_page(viewport={"width": width, "height": height})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                await page.route("**/*", guard)
                await page.goto(html.resolve().as_uri(), wait_until="load")
                if png is not None:
                    png.parent.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=str(png), full_page=False)
                return Snapshot(await page.title(), await page.inner_text("body"), errors, external, png)
            finally:
                await browser.close()
    except PlaywrightError as exc:
        raise RunError(f"headless Chromium could not open {html}: {str(exc).splitlines()[0]}") from exc


def snapshot(
    html: Path,
    png: Path | None = None,
    *,
    executable: Path | None = Path("/usr/bin/chromium"),
    width: int = 1280,
    height: int = 900,
) -> Snapshot:
    """Open ``html`` in headless Chromium; optionally save the first page (viewport) as ``png``."""
    return asyncio.run(_open(html, png, executable, width, height))
