"""``zwaudit login`` for real: a headed Chromium window on a (virtual) display.

The person at the window is played by the calibration stand-in (it types the account and reads
the sandbox's captcha answer); everything else is the command as an auditor runs it: the display
check, Chromium started headed on ``$DISPLAY``, the wait for the logged-in page, the session
saved 0600 where the probes look for it, and the probes then getting in with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from probes.common.person import sandbox_person
from zwaudit.app.cli import cli
from zwaudit.config.loader import Config
from zwaudit.secrets import Secrets
from zwaudit.sessions import capture_session

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def virtual_display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An Xvfb display of our own (installed by scripts/bootstrap.sh)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        if IN_CI:
            pytest.fail("CI=true but Xvfb is missing: run scripts/bootstrap.sh")
        pytest.skip("Xvfb is not installed")
    number = 90 + os.getpid() % 400
    proc = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.browser
def test_login_opens_a_headed_window_and_saves_a_session_the_probes_use(
    sandbox: Any,
    sandbox_config: Config,
    virtual_display: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = sandbox_config.portal("sbx-jin")  # the captcha province: a probe cannot log in alone
    assert portal.account is not None and portal.account.password is not None
    secrets = Secrets.for_config_dir(sandbox_config.directory)
    person = sandbox_person(
        portal,
        secrets.resolve(portal.account.username),
        secrets.resolve(portal.account.password),
        sandbox.captcha_dir,
    )
    seen: dict[str, Any] = {}

    async def at_the_window(browser: Any, *args: Any, **kwargs: Any) -> Path:
        seen["headless"] = browser.headless
        return await capture_session(browser, *args, person=person, **kwargs)

    monkeypatch.setattr("zwaudit.app.cli.login.capture_session", at_the_window)
    db = f"sqlite:///{tmp_path / 'login.sqlite'}"
    common = ["--config", str(sandbox.config_dir), "--db", db]
    result = CliRunner().invoke(cli, [*common, "login", "--portal", "sbx-jin", "--timeout", "60"])
    assert result.exit_code == 0, result.output
    assert seen == {"headless": False}
    saved = tmp_path / "var" / "sessions" / "sbx-jin.json"
    assert f"session saved: {saved}" in result.output
    assert saved.stat().st_mode & 0o777 == 0o600

    audit = CliRunner().invoke(cli, [*common, "audit", "--portal", "sbx-jin", "--probe", "name_masking"])
    assert audit.exit_code == 0, audit.output
    engine = create_engine(db)
    with engine.connect() as conn:
        found = {
            (target, status, code)
            for target, status, code in conn.execute(
                text("SELECT target, status, code FROM finding WHERE probe = 'name_masking'")
            )
        }
    engine.dispose()
    truth = {
        (e["target"], e["status"], e.get("code"))
        for e in sandbox.ground_truth("sbx-jin")["expectations"]
        if e["probe"] == "name_masking"
    }
    assert found and not [f for f in found if f[1] == "error"], found  # the saved session got in
    assert {f for f in found if f[1] == "fail"} == {t for t in truth if t[1] == "fail"}
