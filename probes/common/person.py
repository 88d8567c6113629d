"""A stand-in for the person who logs in once by hand — for calibration and tests only.

It drives the same login page headless with the same heuristics as the probes and reads the
image captcha's answer the way a person reads the picture: from the sandbox's
``DIR/captcha/<challenge id>.txt``. The session it leaves is saved by
:func:`zwaudit.sessions.capture_session`, exactly like ``zwaudit login`` does, so the probes then
take their ordinary "saved session" path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from probes.common.errors import ProbeError
from probes.common.login import LoginOptions, open_login_form, submit_credentials
from zwaudit.checks import CheckContext
from zwaudit.config.schema import PortalProfile, Settings
from zwaudit.evidence import EvidenceWriter
from zwaudit.outcomes import ErrorKind
from zwaudit.sessions import Person

if TYPE_CHECKING:
    from playwright.async_api import Page


def sandbox_person(
    portal: PortalProfile,
    username: str,
    password: str,
    captcha_dir: Path,
    options: LoginOptions | None = None,
) -> Person:
    """A :data:`~zwaudit.sessions.Person` that logs in on ``portal`` reading sandbox captchas."""
    opts = options or LoginOptions()

    async def read_captcha(page: Page) -> str:
        for frame in page.frames:
            for selector, attr in (("img[src*=captcha i]", "src"), ("input[name=cid]", "value")):
                loc = frame.locator(selector)
                if await loc.count():
                    value = await loc.first.get_attribute(attr) or ""
                    cid = Path(urlsplit(value).path).stem if attr == "src" else value
                    answer = captcha_dir / f"{cid}.txt"
                    if cid and answer.exists():
                        return answer.read_text(encoding="utf-8").strip()
        raise ProbeError(ErrorKind.CAPTCHA, "the stand-in found no captcha answer to read")

    async def act(page: Page) -> str | None:
        ctx = CheckContext(
            run_id=0,
            portal=portal,
            options=opts,
            settings=Settings(),
            evidence=EvidenceWriter(0, portal.id, "login", root=Path(tempfile.gettempdir())),
        )
        await open_login_form(page, ctx, opts)
        auth_url = page.url
        await submit_credentials(page, username, password, opts, captcha_answer=read_captcha)
        return auth_url

    return act
