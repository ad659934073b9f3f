"""Emulator settings: addresses, timings, rate limits and the channels it plays.

Every value can be set from the environment (``KAIRAN_EMULATOR_*``) or on the
command line of ``python -m emulator``. The defaults follow LINE's published
numbers (see shared/line-platform-facts.md); those LINE does not fix are
configurable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` requests per ``seconds`` per channel."""

    count: int
    seconds: float


# Keys are endpoint names (see emulator.endpoints); "default" covers the rest.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "default": RateLimit(2000, 1),
    "multicast": RateLimit(200, 1),
    "broadcast": RateLimit(60, 3600),
    "narrowcast": RateLimit(60, 3600),
    "richmenu.create": RateLimit(100, 3600),
    "richmenu.delete": RateLimit(100, 3600),
    "richmenu.batch": RateLimit(3, 3600),
    "richmenu.bulk": RateLimit(2000, 1),
    "richmenu.alias.delete": RateLimit(100, 3600),
    "richmenu.progress": RateLimit(100, 3600),
    "insight": RateLimit(60, 60),
}


@dataclass
class ChannelSpec:
    """A Messaging API channel and the LINE Login channel (same provider) its LIFF apps belong to."""

    channel_id: str = "2000000001"
    # Emulator-only credentials: they open nothing outside this process.
    channel_secret: str = "kairan-emulator-channel-secret"  # noqa: S105
    access_token: str = "kairan-emulator-access-token"  # noqa: S105
    bot_user_id: str = "U0000000000000000000000000000b007"
    basic_id: str = "@ofunato_city"
    display_name: str = "大船渡市"
    login_channel_id: str = "2000000002"
    login_channel_secret: str = "kairan-emulator-login-secret"  # noqa: S105
    webhook_url: str = ""
    liff_apps: dict[str, str] = field(default_factory=dict)  # LIFF id -> endpoint URL

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown channel settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8100
    # The public address of this emulator as browsers and Kairan reach it.
    public_url: str = ""
    # LINE's two hosts are served under two path prefixes of the one port.
    api_prefix: str = "/api"
    data_prefix: str = "/api-data"
    reply_token_ttl: float = 30.0
    retry_key_ttl: float = 24 * 3600.0
    content_ttl: float = 7 * 24 * 3600.0
    webhook_timeout: float = 2.0  # LINE gives a bot about this long to answer
    webhook_redelivery: bool = False
    rate_limits_enabled: bool = True
    rate_limits: dict[str, RateLimit] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    monthly_quota: int | None = None  # None: LINE's "none" (unlimited) quota type
    # Deviation from LINE, as for webhook URLs: media URLs (images, video, audio, icons...) may be
    # http on a local host, not only https, so Kairan's development server (http://127.0.0.1:8000)
    # can send its images. Off: LINE's exact behaviour ("invalid uri scheme" for any http).
    local_http_media: bool = True
    # Rich menu insight shows numbers only when at least this many users tapped the menu in the
    # period (LINE's help centre: "20 or more"); below it, only the rich menu id is returned.
    richmenu_insight_threshold: int = 20
    state_file: Path | None = None
    channels: list[ChannelSpec] = field(default_factory=lambda: [ChannelSpec()])

    def __post_init__(self) -> None:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")

    @property
    def api_base(self) -> str:
        return self.public_url + self.api_prefix

    @property
    def data_base(self) -> str:
        return self.public_url + self.data_prefix


def _env(name: str) -> str | None:
    return os.environ.get(f"KAIRAN_EMULATOR_{name}")


def config_from_env(**overrides: Any) -> EmulatorConfig:
    """Settings from ``KAIRAN_EMULATOR_*`` variables, then explicit overrides."""
    values: dict[str, Any] = {}
    for name, cast in (
        ("host", str),
        ("port", int),
        ("public_url", str),
        ("api_prefix", str),
        ("data_prefix", str),
        ("reply_token_ttl", float),
        ("retry_key_ttl", float),
        ("webhook_timeout", float),
        ("richmenu_insight_threshold", int),
    ):
        raw = _env(name.upper())
        if raw is not None and raw != "":
            try:
                values[name] = cast(raw)
            except ValueError as exc:
                raise SystemExit(f"KAIRAN_EMULATOR_{name.upper()}: bad value {raw!r}") from exc
    for name in ("webhook_redelivery", "rate_limits_enabled", "local_http_media"):
        raw = _env(name.upper())
        if raw is not None:
            values[name] = raw.strip().lower() in {"1", "true", "yes", "on"}
    if raw := _env("STATE_FILE"):
        values["state_file"] = Path(raw)
    if raw := _env("CHANNELS"):
        values["channels"] = load_channels(raw)
    elif raw := _env("WEBHOOK_URL"):
        values["channels"] = [ChannelSpec(webhook_url=raw)]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return EmulatorConfig(**values)


def load_channels(source: str) -> list[ChannelSpec]:
    """Channels from a JSON list, inline or in a file."""
    text = Path(source).read_text(encoding="utf-8") if not source.lstrip().startswith("[") else source
    data = json.loads(text)
    if not isinstance(data, list) or not data:
        raise SystemExit("KAIRAN_EMULATOR_CHANNELS must be a non-empty JSON list of channels")
    return [ChannelSpec.from_dict(item) for item in data]
