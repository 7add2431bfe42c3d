"""Settings: the environment wins over `.env`, defaults apply, the key never shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from playground.model.seedance import DEFAULT_MODEL
from playground.settings import load_settings
from wavespeed_client import DEFAULT_BASE_URL

KEY = "sk-CANARY-1234"
NAMES = (
    "WAVESPEED_API_KEY",
    "WAVESPEED_BASE_URL",
    "PLAYGROUND_DATA_DIR",
    "SEEDANCE_MODEL",
    "PLAYGROUND_OFFLINE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def env_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = env_file(tmp_path, WAVESPEED_API_KEY="sk-from-file", SEEDANCE_MODEL="a/from-file")
    monkeypatch.setenv("WAVESPEED_API_KEY", "sk-from-env")
    monkeypatch.setenv("SEEDANCE_MODEL", "a/from-env")
    s = load_settings(dotenv)
    assert (s.api_key, s.default_model) == ("sk-from-env", "a/from-env")


def test_dotenv_is_used_when_the_environment_is_unset(tmp_path: Path) -> None:
    dotenv = env_file(
        tmp_path,
        WAVESPEED_API_KEY="sk-from-file",
        WAVESPEED_BASE_URL="http://127.0.0.1:8765",
        PLAYGROUND_DATA_DIR=str(tmp_path / "runs"),
        SEEDANCE_MODEL="bytedance/seedance-v1-lite-i2v-480p",
        PLAYGROUND_OFFLINE="1",
    )
    s = load_settings(dotenv)
    assert s.api_key == "sk-from-file"
    assert s.base_url == "http://127.0.0.1:8765"
    assert s.data_dir == tmp_path / "runs"
    assert s.default_model == "bytedance/seedance-v1-lite-i2v-480p"
    assert s.offline is True


def test_dotenv_fills_only_what_the_environment_leaves_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = env_file(tmp_path, WAVESPEED_API_KEY="sk-from-file", SEEDANCE_MODEL="a/from-file")
    monkeypatch.setenv("WAVESPEED_API_KEY", "sk-from-env")
    s = load_settings(dotenv)
    assert (s.api_key, s.default_model) == ("sk-from-env", "a/from-file")


def test_defaults_apply_without_environment_or_dotenv(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "missing.env")
    assert s.api_key is None
    assert s.base_url == DEFAULT_BASE_URL == "https://api.wavespeed.ai"
    assert s.data_dir == Path("outputs")
    assert s.default_model == DEFAULT_MODEL
    assert s.offline is False


def test_no_env_file_at_all_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", "sk-from-env")
    assert load_settings(None).api_key == "sk-from-env"


def test_an_empty_key_in_dotenv_means_no_key(tmp_path: Path) -> None:
    assert load_settings(env_file(tmp_path, WAVESPEED_API_KEY="")).api_key is None


def test_values_are_stripped_and_base_url_loses_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", f"  {KEY}\n")
    monkeypatch.setenv("WAVESPEED_BASE_URL", "http://127.0.0.1:8765/ ")
    s = load_settings(None)
    assert (s.api_key, s.base_url) == (KEY, "http://127.0.0.1:8765")


@pytest.mark.parametrize(
    ("value", "offline"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("no", False)],
)
def test_offline_flag(value: str, offline: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_OFFLINE", value)
    assert load_settings(None).offline is offline


def test_repr_hides_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", KEY)
    s = load_settings(None)
    assert s.api_key == KEY
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    assert "api_key=set" in repr(s)


def test_repr_says_when_the_key_is_unset() -> None:
    assert "api_key=unset" in repr(load_settings(None))


def test_dotenv_is_not_copied_into_the_environment(tmp_path: Path) -> None:
    load_settings(env_file(tmp_path, WAVESPEED_API_KEY=KEY))
    assert "WAVESPEED_API_KEY" not in os.environ


@pytest.mark.parametrize(
    ("env", "base"),
    [
        ({}, None),
        ({"SPACE_HOST": "someone-seedance.hf.space"}, "https://someone-seedance.hf.space"),
        ({"PLAYGROUND_PUBLIC_URL": "https://play.example.org/"}, "https://play.example.org"),
        (
            {"PLAYGROUND_PUBLIC_URL": "http://10.0.0.5:7860", "SPACE_HOST": "x.hf.space"},
            "http://10.0.0.5:7860",
        ),
        ({"SPACE_HOST": "x.hf.space", "PLAYGROUND_WEBHOOKS": "0"}, None),
        ({"PLAYGROUND_PUBLIC_URL": "https://a.org", "PLAYGROUND_WEBHOOKS": "off"}, None),
    ],
)
def test_webhooks_go_to_the_public_address_when_there_is_one(
    env: dict[str, str], base: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PLAYGROUND_PUBLIC_URL", "PLAYGROUND_WEBHOOKS", "SPACE_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(env_file=None).webhook_base == base


@pytest.mark.parametrize(
    "url", ["ftp://a.org", "play.example.org", "https://", "https://a.org/?x=1"]
)
def test_a_public_address_that_is_no_http_address_is_refused_in_words(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAYGROUND_WEBHOOKS", raising=False)
    monkeypatch.setenv("PLAYGROUND_PUBLIC_URL", url)
    with pytest.raises(ValueError, match="PLAYGROUND_PUBLIC_URL must be an http"):
        load_settings(env_file=None)
