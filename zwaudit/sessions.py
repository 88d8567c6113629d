"""Saved login sessions: a person logs in once (captcha, SMS), probes reuse the session.

``zwaudit login --portal ID`` stores Playwright's ``storage_state`` (cookies and local storage)
at ``var/sessions/<portal>.json`` or the account's ``session_file``. A session file is as good as
a password, so it is written with mode 0600 in a 0700 folder, atomically, and a file readable by
others is refused rather than used (as ssh does with keys).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zwaudit.browser import AuditBrowser
from zwaudit.config.schema import PortalProfile
from zwaudit.errors import ConfigError, RunError
from zwaudit.paths import var_dir

if TYPE_CHECKING:
    from playwright.async_api import Page

log = logging.getLogger("zwaudit.sessions")

# zwaudit's own notes in the session file (where the unified login was, the user-centre URL);
# removed before the state is handed to the browser.
SESSION_META_KEY = "zwaudit"


def session_path(portal: PortalProfile) -> Path:
    """Where ``portal``'s session lives (``account.session_file`` relative to the profile)."""
    account = portal.account
    if account is not None and account.session_file is not None:
        path = account.session_file
        if not path.is_absolute() and portal.source_file is not None:
            path = portal.source_file.parent / path
        return path.resolve()
    return var_dir() / "sessions" / f"{portal.id}.json"


def saved_session(portal: PortalProfile) -> Path | None:
    """The saved session file when one exists and is private; None when there is none.

    A file with group/other permissions is a :class:`ConfigError` (naming the chmod to run).
    """
    path = session_path(portal)
    if not path.exists():
        return None
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(path, "", f"permissions {stat.filemode(mode)} are too open; run: chmod 600 {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable session file %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or "cookies" not in data:
        log.warning("ignoring session file %s: not a browser storage state", path)
        return None
    return path


def load_session(portal: PortalProfile) -> dict[str, Any] | None:
    """The saved storage state (with its ``zwaudit`` notes) or None; see :func:`saved_session`."""
    path = saved_session(portal)
    if path is None:
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save_session(portal: PortalProfile, state: dict[str, Any], meta: dict[str, Any] | None = None) -> Path:
    """Write ``state`` (a Playwright storage state) with mode 0600; returns the path."""
    path = session_path(portal)
    if meta:
        state = {**state, SESSION_META_KEY: meta}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, an old file cannot keep wider bits
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def forget_session(portal: PortalProfile) -> None:
    """Remove a session that turned out to be expired, so the next run logs in afresh."""
    session_path(portal).unlink(missing_ok=True)


# A person would say "logged in": a visible 退出/注销 control and no visible password field.
_LOGGED_IN_JS = """
([texts, signs]) => {
  const vis = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  if ([...document.querySelectorAll('input[type=password]')].some(vis)) return 'password';
  const body = document.body ? document.body.innerText : '';
  if (signs.some((x) => x && body.includes(x))) return 'in';
  const els = document.querySelectorAll('a, button, [role=link], [role=button], [onclick], span');
  for (const el of els) {
    const t = (el.innerText || '').replace(/\\s+/g, '');
    if (t && t.length <= 8 && texts.some((x) => t.includes(x)) && vis(el)) return 'in';
  }
  return 'out';
}
"""
LOGOUT_TEXTS = ("退出", "注销", "Logout", "Sign out")

# Acts on the login page like a person would; returns the URL of the password form it used.
Person = Callable[["Page"], Awaitable[str | None]]


def name_signs(name: str | None) -> list[str]:
    """Texts that show the account's name, in full or in the usual masks (张*, *大友)."""
    if not name or len(name) < 2:
        return []
    return [name, f"{name[0]}*", f"{name[0]}＊", f"*{name[1:]}", f"＊{name[1:]}"]


async def page_login_state(
    page: Page, logout_texts: tuple[str, ...] = LOGOUT_TEXTS, signs: list[str] | None = None
) -> str:
    """``in`` (logout or the user's name shown, no password field), ``password`` or ``out``."""
    states = []
    for frame in page.frames:
        try:
            states.append(await frame.evaluate(_LOGGED_IN_JS, [list(logout_texts), signs or []]))
        except Exception:  # a frame navigating away: ask again on the next poll
            continue
    if "password" in states:
        return "password"
    return "in" if "in" in states else "out"


async def capture_session(
    browser: AuditBrowser,
    portal: PortalProfile,
    start_url: str,
    *,
    timeout_s: float,
    person: Person | None = None,
    signs: list[str] | None = None,
) -> Path:
    """Open ``start_url`` and wait until the page shows the user logged in; save the session.

    ``person`` None means a human acts in the (headed) window; calibration passes a stand-in
    that fills the same page. Either way the result is the saved session the probes reuse.
    ``signs`` are texts that prove the login besides a logout control (see :func:`name_signs`).
    """
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(start_url, wait_until="load")
        auth_url: str | None = None
        if person is not None:
            auth_url = await person(page)
        deadline = time.monotonic() + timeout_s
        while True:
            active = context.pages[-1] if context.pages else page
            state = await page_login_state(active, signs=signs)
            log.debug("login state %s at %s", state, active.url)
            if state == "password":
                auth_url = active.url
            if state == "in":
                break
            if time.monotonic() > deadline:
                raise RunError(f"{portal.id}: not logged in after {timeout_s:.0f}s; nothing saved")
            await asyncio.sleep(1.0)
        storage: dict[str, Any] = dict(await context.storage_state())
        return save_session(portal, storage, {"auth_url": auth_url, "saved_from": active.url})
    finally:
        await context.close()
