"""Fixtures for the emulator's own tests: one emulator per session, reset before each test,
and the official line-bot-sdk clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator


@pytest.fixture(scope="session")
def emulator(line_emulator: RunningEmulator) -> RunningEmulator:
    """The session's emulator (``tests/conftest.py``), by the name these tests use."""
    return line_emulator


@pytest.fixture
def channel(emulator: RunningEmulator) -> Any:
    return emulator.store.default_channel()


def _configuration(emulator: RunningEmulator, host: str, token: str | None = None) -> Configuration:
    return Configuration(host=host, access_token=token or emulator.config.channels[0].access_token)


@pytest.fixture
def api(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[MessagingApi]:
    """The SDK's MessagingApi on the emulator's api host."""
    with ApiClient(_configuration(emulator, emulator.config.api_base)) as client:
        yield MessagingApi(client)


@pytest.fixture
def blob_api(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[MessagingApiBlob]:
    """The SDK's MessagingApiBlob on the emulator's api-data host."""
    with ApiClient(_configuration(emulator, emulator.config.data_base)) as client:
        yield MessagingApiBlob(client)


@pytest.fixture
def bad_token_api(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[MessagingApi]:
    with ApiClient(_configuration(emulator, emulator.config.api_base, token="not-a-token")) as client:
        yield MessagingApi(client)
