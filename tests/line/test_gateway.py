"""The gateway against the emulator: sends with retry keys, 409 as sent, retries on 5xx, profile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from emulator.client import EmulatorControl
from line_channel.gateway import Gateway, LineApiError

pytestmark = pytest.mark.django_db

TEXT = [{"type": "text", "text": "大船渡市からのお知らせです。"}]


def test_push_multicast_and_profile(line_channel: Any, emu: EmulatorControl) -> None:
    users = emu.create_followers(3)
    with Gateway.from_settings() as gateway:
        sent = gateway.push(to=users[0], messages=TEXT, retry_key=str(uuid.uuid4()))
        assert sent.request_id and not sent.duplicate and sent.sent_messages
        gateway.multicast(to=users, messages=TEXT, retry_key=str(uuid.uuid4()))
        profile = gateway.profile(users[1])
        assert profile is not None and profile.user_id == users[1] and profile.display_name
        assert gateway.profile("U" + "0" * 32) is None
        assert gateway.bot_info()["basicId"] == "@ofunato_city"
    assert emu.deliveries()["perUser"] == {users[0]: 2, users[1]: 1, users[2]: 1}


def test_lost_answer_is_retried_with_the_same_key_and_sent_once(
    line_channel: Any, emu: EmulatorControl
) -> None:
    user = emu.create_followers(1)[0]
    emu.set_faults({"push": {"error_rate": 1.0, "status": 500, "after": True}})
    key = str(uuid.uuid4())
    with Gateway.from_settings(attempts=1) as gateway, pytest.raises(LineApiError) as excinfo:
        gateway.push(to=user, messages=TEXT, retry_key=key)
    assert excinfo.value.status == 500 and excinfo.value.retryable
    emu.set_faults({})
    with Gateway.from_settings() as gateway:
        again = gateway.push(to=user, messages=TEXT, retry_key=key)
    assert again.duplicate
    # The id of the send LINE accepted (the one whose answer was lost), not of the 409.
    assert again.request_id == emu.received(user)[0]["request_id"]
    assert len(emu.received(user)) == 1


def test_retries_5xx_then_succeeds_and_stops_on_400(line_channel: Any, emu: EmulatorControl) -> None:
    user = emu.create_followers(1)[0]
    emu.set_faults({"push": {"error_rate": 0.5, "status": 503}})
    with Gateway.from_settings(attempts=12) as gateway:
        for _ in range(5):
            gateway.push(to=user, messages=TEXT, retry_key=str(uuid.uuid4()))
    emu.set_faults({})
    assert len(emu.received(user)) == 5
    with Gateway.from_settings() as gateway, pytest.raises(LineApiError) as excinfo:
        gateway.push(to=user, messages=[{"type": "text", "text": ""}], retry_key=str(uuid.uuid4()))
    assert excinfo.value.status == 400 and not excinfo.value.retryable
    assert excinfo.value.details and excinfo.value.details[0]["property"] == "messages[0].text"
