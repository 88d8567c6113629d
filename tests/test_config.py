"""Config validation: one line naming file and key, exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from zwaudit.app.cli import cli
from zwaudit.config import load_config
from zwaudit.config.schema import Account, SecretRef
from zwaudit.errors import ConfigError
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.secrets import Secrets


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "portals").mkdir(exist_ok=True)
    path = tmp_path / "portals" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_profile_is_valid(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "id: sc\nname: 四川政务服务网\nhome_url: https://www.sczwfw.gov.cn/\n")
    config = load_config(tmp_path)
    assert list(config.portals) == ["sc"]
    assert config.portals["sc"].politeness.concurrency_per_host == 1


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("id: sc\nname: 四川\n", "home_url", "required key is missing"),
        ("id: sc\nname: 四川\nhome_url: https://x.cn/\nhomepage: x\n", "homepage", "unknown key"),
        (
            "id: sc\nname: 四川\nhome_url: https://x.cn/\naccount:\n  username: {env: U}\n  password: hunter2\n",
            "account.password",
            "literal secrets are not allowed",
        ),
        ("id: sc\nname: 四川\nhome_url: not a url\n", "home_url", "URL"),
        ("id: Bad Id\nname: 四川\nhome_url: https://x.cn/\n", "id", "pattern"),
        (
            "id: sc\nname: 四川\nhome_url: https://x.cn/\npoliteness: {concurrency_per_host: 8}\n",
            "politeness.concurrency_per_host",
            "less than or equal to 2",
        ),
        ("id: sc\nid: sd\nname: x\nhome_url: https://x.cn/\n", "line 2", "duplicate key"),
    ],
)
def test_bad_profile_names_file_and_key(tmp_path: Path, body: str, key: str, message: str) -> None:
    path = _write(tmp_path, "bad.yaml", body)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    text = str(info.value)
    assert text.startswith(f"{path}: {key}: ")
    assert message in text
    assert "\n" not in text


def test_cli_reports_one_line_and_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", "id: sc\nname: 四川\naccount:\n  username: {env: U}\n")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path), "portals"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines == [f"zwaudit: error: {path}: home_url: required key is missing"]


def test_unknown_probe_override_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "id: sc\nname: x\nhome_url: https://x.cn/\nprobes:\n  no_such_probe: {}\n")
    with pytest.raises(ConfigError, match=r"probes\.no_such_probe: unknown probe"):
        load_config(tmp_path)


def test_duplicate_portal_id(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "id: sc\nname: x\nhome_url: https://x.cn/\n")
    _write(tmp_path, "b.yaml", "id: sc\nname: y\nhome_url: https://y.cn/\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: id: duplicate portal id"):
        load_config(tmp_path)


def test_shipped_config_and_examples_validate() -> None:
    load_config(DEFAULT_CONFIG_DIR)
    example_dir = DEFAULT_CONFIG_DIR / "examples"
    config = load_config(example_dir)
    assert len(config.portals) >= 3


def test_secrets_file_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("sc.password: s3cret\n", encoding="utf-8")
    os.chmod(secrets_file, 0o644)
    secrets = Secrets(secrets_file)
    with pytest.raises(ConfigError, match="too open; run: chmod 600"):
        secrets.resolve(SecretRef(secret="sc.password"))
    os.chmod(secrets_file, 0o600)
    assert Secrets(secrets_file).resolve(SecretRef(secret="sc.password")) == "s3cret"
    monkeypatch.setenv("ZW_USER", "u1")
    account = Account(username=SecretRef(env="ZW_USER"))
    assert Secrets(secrets_file).personal_data(account) == {"username": "u1"}
    with pytest.raises(ConfigError, match="MISSING_VAR: environment variable is not set"):
        Secrets(None).resolve(SecretRef(env="MISSING_VAR"))


@pytest.mark.parametrize(
    ("relative", "text", "key"),
    [
        # a malformed guide-elements file once made every guide pass (no required element)
        ("guide_elements.yaml", "elements:\n  事项名称: yes\n", "elements"),
        ("guide_elements.yaml", "elements:\n  事项名称: {required: maybe}\n", "elements"),
        (
            "keywords.yaml",
            "top_n: 10\nimprecise_threshold: 0.5\nkeywords:\n  社保: {expected: [{name: x, match: ['(']}]}\n",
            "keywords",
        ),
        ("masking.yaml", "- just a list\n", ""),
        ("data_same_source.yaml", "text_match_threshold: high\n", "text_match_threshold"),
        ("cancelled_items.yaml", "decisions: 3\n", "decisions"),
    ],
)
def test_a_malformed_data_file_fails_when_the_config_loads(
    tmp_path: Path, relative: str, text: str, key: str
) -> None:
    """Data files are validated at load, by the parser the check uses: one line naming the file
    (and the key), exit 2, before any portal is visited."""
    _write(tmp_path, "a.yaml", "id: sc\nname: x\nhome_url: https://x.cn/\n")
    path = tmp_path / relative
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value).startswith(f"{path}: {key}")
    assert "\n" not in str(info.value)
    result = CliRunner().invoke(cli, ["--config", str(tmp_path), "portals"])
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line] == [f"zwaudit: error: {info.value}"]


def test_a_malformed_framework_fails_when_a_command_starts(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "id: sc\nname: x\nhome_url: https://x.cn/\n")
    (tmp_path / "frameworks").mkdir()
    path = tmp_path / "frameworks" / "ccps.yaml"
    path.write_text("id: ccps\nindicators: 7\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path), "portals"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"zwaudit: error: {path}")
