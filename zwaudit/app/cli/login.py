"""``zwaudit login``: a person logs in once in a visible browser; the session is saved 0600."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from zwaudit.app.cli.context import AppContext
from zwaudit.browser import AuditBrowser
from zwaudit.errors import UsageError
from zwaudit.secrets import Secrets
from zwaudit.sessions import capture_session, name_signs, session_path


def has_display() -> bool:
    """A headed browser needs X11 or Wayland (or macOS/Windows)."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@click.command("login")
@click.option("--portal", "portal_id", required=True, metavar="ID", help="The portal to log in to.")
@click.option(
    "--url",
    default=None,
    help="Start here instead of the login entry (default: probes.name_masking.login_url or the home page).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.IntRange(10, 3600),
    default=300,
    show_default=True,
    help="Seconds to wait for the person to finish logging in.",
)
@click.pass_obj
def command(app: AppContext, portal_id: str, url: str | None, timeout_s: int) -> None:
    """Open a browser window at the portal's login; once you are logged in (captcha, SMS …) the
    session is saved (mode 0600) and the logged-in probes reuse it."""
    config = app.config
    portal = config.portal(portal_id)
    if not has_display():
        raise UsageError(
            "zwaudit login needs a display for the browser window (no DISPLAY or WAYLAND_DISPLAY set)"
        )
    personal = (
        Secrets.for_config_dir(config.directory).personal_data(portal.account) if portal.account else {}
    )
    signs = name_signs(personal.get("name"))
    start = url or str(portal.probes.get("name_masking", {}).get("login_url") or portal.home_url)
    click.echo(
        f"log in as the test account in the browser window ({timeout_s}s); the window closes by itself"
    )

    async def go() -> str:
        async with AuditBrowser(
            config.settings.browser, config.settings.user_agent, headless=False
        ) as browser:
            return str(await capture_session(browser, portal, start, timeout_s=timeout_s, signs=signs))

    path = asyncio.run(go())
    click.echo(f"session saved: {path} (mode 0600; expected at {session_path(portal)})")
