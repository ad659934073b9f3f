"""Fixtures for Kairan's LINE side: the channel settings pointed at the LINE emulator (the emulator
itself, ``line_emulator`` and ``emu``, comes from ``tests/conftest.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator

WEBHOOK_PATH = "/line/webhook/"


@pytest.fixture
def line_channel(line_emulator: RunningEmulator, emu: EmulatorControl, settings: Any, db: None) -> Any:
    """LINE連携設定 filled with the emulator's default channel, and the gateway aimed at it."""
    from line_channel.models import LineChannelSettings

    spec = line_emulator.config.channels[0]
    settings.KAIRAN_LINE_API_BASE = line_emulator.config.api_base
    settings.KAIRAN_LINE_DATA_BASE = line_emulator.config.data_base
    settings.KAIRAN_LINE_BACKOFF = 0.01
    config = LineChannelSettings.load()
    config.channel_id = spec.channel_id
    config.channel_secret = spec.channel_secret
    config.access_token = spec.access_token
    config.login_channel_id = spec.login_channel_id
    config.save()
    return config


@pytest.fixture
def webhook_to(emu: EmulatorControl) -> Any:
    """Point the emulator's webhook at a base URL (e.g. ``live_server.url``)."""

    def _point(base_url: str) -> str:
        url = base_url.rstrip("/") + WEBHOOK_PATH
        emu.channel(webhookUrl=url)
        return url

    return _point
