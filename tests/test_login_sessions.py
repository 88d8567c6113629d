"""Saved login sessions: 0600 files, refused when loose, notes kept apart from the browser state."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from zwaudit.app.cli import cli
from zwaudit.config.schema import PortalProfile
from zwaudit.errors import ConfigError
from zwaudit.sessions import (
    SESSION_META_KEY,
    load_session,
    name_signs,
    save_session,
    saved_session,
    session_path,
)

STATE = {
    "cookies": [{"name": "sid", "value": "x", "domain": "zw.example.gov.cn", "path": "/"}],
    "origins": [],
}


def portal(**kw: object) -> PortalProfile:
    return PortalProfile.model_validate(
        {"id": "zw", "name": "政务服务网", "home_url": "https://zw.example.gov.cn/", **kw}
    )


def test_saved_with_mode_0600_and_notes(tmp_path: Path) -> None:
    os.umask(0o022)
    path = save_session(portal(), STATE, {"auth_url": "https://auth.example.gov.cn/login"})
    assert path == session_path(portal())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    state = load_session(portal())
    assert state is not None and state[SESSION_META_KEY]["auth_url"].startswith("https://auth.")
    assert state["cookies"][0]["name"] == "sid"


def test_loose_session_file_is_refused(tmp_path: Path) -> None:
    path = save_session(portal(), STATE)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        saved_session(portal())


def test_account_session_file_is_relative_to_the_profile(tmp_path: Path) -> None:
    profile = portal(account={"username": {"env": "U"}, "session_file": "sessions/zw.json"})
    profile = profile.model_copy(update={"source_file": tmp_path / "portals" / "zw.yaml"})
    assert session_path(profile) == (tmp_path / "portals" / "sessions" / "zw.json").resolve()
    assert saved_session(profile) is None


def test_name_signs_cover_the_usual_masks() -> None:
    assert name_signs("张大友") == ["张大友", "张*", "张＊", "*大友", "＊大友"]
    assert name_signs(None) == []


def test_login_without_a_display_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    (config / "portals").mkdir(parents=True)
    (config / "portals" / "zw.yaml").write_text(
        "id: zw\nname: 政务服务网\nhome_url: https://zw.example.gov.cn/\n", encoding="utf-8"
    )
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(config), "login", "--portal", "zw"])
    assert result.exit_code == 2
    assert "needs a display" in result.output
