"""Settings from the environment, with a `.env` file as fallback (python-dotenv).

Read once per call, never written back: a key typed into the UI must not end up here, and
`.env` is not copied into `os.environ` where every visitor's request could spend it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from playground.model.seedance import DEFAULT_MODEL
from playground.store.quotas import Limits
from wavespeed_client import DEFAULT_BASE_URL

# Every variable read here (tests clear them all for a clean slate).
ENV_VARS = (
    "WAVESPEED_API_KEY",
    "WAVESPEED_BASE_URL",
    "WAVESPEED_TIER",
    "SEEDANCE_MODEL",
    "SPACE_ID",
    "PLAYGROUND_DATA_DIR",
    "PLAYGROUND_OFFLINE",
    "PLAYGROUND_OFFLINE_SECONDS",
    "PLAYGROUND_SHARED",
    "PLAYGROUND_MAX_AGE_DAYS",
    "PLAYGROUND_MAX_DATA_MB",
    "PLAYGROUND_MCP",
    "PLAYGROUND_DAILY_USD",
    "PLAYGROUND_MAX_DURATION",
    "PLAYGROUND_MAX_VARIATIONS",
    "PLAYGROUND_RUNS_PER_SESSION",
    "PLAYGROUND_RUNS_PER_HOUR",
    "PLAYGROUND_SESSIONS_PER_ADDRESS",
    "PLAYGROUND_REQUIRE_LOGIN",
    "PLAYGROUND_PUBLIC_URL",
    "PLAYGROUND_WEBHOOKS",
    "SPACE_HOST",
    "SYSTEM",
    "OAUTH_CLIENT_ID",
)

# On a Space the disk is temporary and shared by strangers: a day of runs is plenty.
SPACE_DATA_DIR = "/tmp/seedance-playground"
SPACE_MAX_AGE_DAYS = 1.0


@dataclass(frozen=True)
class Settings:
    api_key: str | None
    base_url: str
    data_dir: Path
    default_model: str
    offline: bool
    shared: bool = False
    max_age_days: float | None = None
    max_data_mb: float | None = None
    offline_seconds: float = 3.0
    tier: str | None = None  # a hint for pacing; unset, the pacer learns the account's limit
    space: bool = False
    visitor_limits: Limits | None = None  # set: visitors may spend the owner's key
    mcp: bool = False
    oauth: bool = False  # a Space with `hf_oauth: true`: visitors may sign in with HF
    require_login: bool = False  # visitors must sign in to spend the owner's key
    # Where WaveSpeed can reach this app (a Space's address, or a setting): runs then ask
    # for their result by webhook and poll only as a fallback. None: polling only.
    webhook_base: str | None = None

    def __repr__(self) -> str:  # never shows the key
        return (
            f"Settings(api_key={'set' if self.api_key else 'unset'}, "
            f"base_url={self.base_url!r}, data_dir={str(self.data_dir)!r}, "
            f"default_model={self.default_model!r}, offline={self.offline}, "
            f"shared={self.shared})"
        )


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Settings from `os.environ`, falling back to `env_file` for anything unset there.

    WAVESPEED_API_KEY, WAVESPEED_BASE_URL (default https://api.wavespeed.ai),
    PLAYGROUND_DATA_DIR (default ./outputs), SEEDANCE_MODEL (the model selected at start),
    PLAYGROUND_OFFLINE=1 (serve everyone from the built-in emulator), PLAYGROUND_SHARED=1
    or a Hugging Face Space's SPACE_ID (a public server: each session sees only its runs),
    PLAYGROUND_MAX_AGE_DAYS / PLAYGROUND_MAX_DATA_MB (housekeeping; unset: keep everything),
    PLAYGROUND_OFFLINE_SECONDS (the offline emulator's simulated inference time, default 3),
    WAVESPEED_TIER (bronze, silver or gold: the account's rate limit to start pacing at;
    unset, pacing learns it from the API's 429s).

    On a public server, visitors bring their own key unless the owner sets a daily cap,
    PLAYGROUND_DAILY_USD; then the owner's key is spent within it and within
    PLAYGROUND_MAX_DURATION (5), PLAYGROUND_MAX_VARIATIONS (2), PLAYGROUND_RUNS_PER_SESSION
    (3), PLAYGROUND_RUNS_PER_HOUR (20) and PLAYGROUND_SESSIONS_PER_ADDRESS (10 sessions
    from one network address an hour); with PLAYGROUND_REQUIRE_LOGIN=1 only to visitors
    signed in with Hugging Face. PLAYGROUND_MCP=1 serves the MCP endpoint.

    Webhooks: PLAYGROUND_PUBLIC_URL (the address WaveSpeed can reach this app at; on a
    Space, https://$SPACE_HOST) makes runs ask for their result by webhook;
    PLAYGROUND_WEBHOOKS=0 keeps them polling anyway.
    """
    file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}

    def get(name: str) -> str:
        return (os.environ.get(name) or file_values.get(name) or "").strip()

    space = bool(get("SPACE_ID"))
    return Settings(
        api_key=get("WAVESPEED_API_KEY") or None,
        base_url=(get("WAVESPEED_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        data_dir=Path(get("PLAYGROUND_DATA_DIR") or (SPACE_DATA_DIR if space else "outputs")),
        default_model=get("SEEDANCE_MODEL") or DEFAULT_MODEL,
        offline=_flag(get("PLAYGROUND_OFFLINE")),
        shared=_flag(get("PLAYGROUND_SHARED")) or space,
        max_age_days=_number(get("PLAYGROUND_MAX_AGE_DAYS"), "PLAYGROUND_MAX_AGE_DAYS")
        or (SPACE_MAX_AGE_DAYS if space else None),
        max_data_mb=_number(get("PLAYGROUND_MAX_DATA_MB"), "PLAYGROUND_MAX_DATA_MB"),
        offline_seconds=_number(get("PLAYGROUND_OFFLINE_SECONDS"), "PLAYGROUND_OFFLINE_SECONDS")
        or 3.0,
        tier=_tier(get("WAVESPEED_TIER")),
        space=space,
        visitor_limits=_limits(get),
        mcp=_flag(get("PLAYGROUND_MCP")),
        oauth=space and hf_oauth(),
        require_login=_flag(get("PLAYGROUND_REQUIRE_LOGIN")),
        webhook_base=_webhook_base(get),
    )


def _webhook_base(get: Callable[[str], str]) -> str | None:
    """The public address deliveries go to, unless webhooks are turned off."""
    if get("PLAYGROUND_WEBHOOKS").lower() in ("0", "false", "no", "off"):
        return None
    host = get("SPACE_HOST")
    url = get("PLAYGROUND_PUBLIC_URL") or (f"https://{host}" if host else "")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(
            f"PLAYGROUND_PUBLIC_URL must be an http(s) address like https://example.com, "
            f"not {url!r}"
        )
    return url.rstrip("/")


def hf_oauth() -> bool:
    """Whether Gradio serves real "Sign in with Hugging Face" here: on a Space (SYSTEM=spaces)
    whose README sets `hf_oauth: true`, so that HF sets OAUTH_CLIENT_ID. Anywhere else
    Gradio would mock sign-in with the machine's own HF login, and refuse to start without
    one. Read from os.environ only, as Gradio does (the platform sets these, not `.env`)."""
    return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("OAUTH_CLIENT_ID"))


def _limits(get: Callable[[str], str]) -> Limits | None:
    daily = _number(get("PLAYGROUND_DAILY_USD"), "PLAYGROUND_DAILY_USD")
    if daily is None:
        return None
    defaults = Limits(daily_usd=daily)

    def whole(name: str, default: int | None) -> int | None:
        value = _number(get(name), name)
        return default if value is None else int(value)

    return Limits(
        daily_usd=daily,
        max_duration_s=whole("PLAYGROUND_MAX_DURATION", defaults.max_duration_s),
        max_variations=whole("PLAYGROUND_MAX_VARIATIONS", defaults.max_variations),
        runs_per_session=whole("PLAYGROUND_RUNS_PER_SESSION", defaults.runs_per_session),
        runs_per_hour=whole("PLAYGROUND_RUNS_PER_HOUR", defaults.runs_per_hour),
        sessions_per_address=whole(
            "PLAYGROUND_SESSIONS_PER_ADDRESS", defaults.sessions_per_address
        ),
    )


TIERS = ("bronze", "silver", "gold")


def _tier(value: str) -> str | None:
    if not value:
        return None
    tier = value.lower()
    if tier not in TIERS:
        raise ValueError(f"WAVESPEED_TIER must be one of {', '.join(TIERS)}, not {value!r}")
    return tier


def _number(value: str, name: str) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return number


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")
