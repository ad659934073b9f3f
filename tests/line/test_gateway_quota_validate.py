"""The gateway's quota and message validation against the emulator: the monthly limit and what
was counted, and LINE's verdict on message objects with the problems it names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import EmulatorControl
from line_channel.gateway import VALIDATE_KINDS, Gateway, LineApiError, Quota

pytestmark = pytest.mark.django_db

TEXT = [{"type": "text", "text": "大船渡市からのお知らせです。"}]
BUBBLE = {
    "type": "bubble",
    "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "避難所のご案内"}]},
}


@pytest.fixture
def restore_quota(emu: EmulatorControl) -> Iterator[None]:
    """The emulator's settings outlive its per-test reset: put the monthly quota back."""
    before = emu.settings()["monthly_quota"]
    yield
    emu.settings(monthly_quota=before)


def refusal(gateway: Gateway, messages: list[dict[str, Any]], kind: str = "push") -> LineApiError:
    with pytest.raises(LineApiError) as excinfo:
        gateway.validate_messages(kind=kind, messages=messages)
    error = excinfo.value
    assert error.status == 400 and not error.retryable
    return error


# --- quota ------------------------------------------------------------------------------------


def test_quota_unlimited(line_channel: Any, emu: EmulatorControl, restore_quota: None) -> None:
    emu.settings(monthly_quota=None)
    with Gateway.from_settings() as gateway:
        quota = gateway.quota()
    assert quota == Quota(limited=False, limit=None, used=0)
    assert quota.remaining is None


def test_quota_limited_and_consumption_after_a_multicast(
    line_channel: Any, emu: EmulatorControl, restore_quota: None
) -> None:
    users = emu.create_followers(3)
    emu.settings(monthly_quota=1000)
    with Gateway.from_settings() as gateway:
        assert gateway.quota() == Quota(limited=True, limit=1000, used=0)
        # One message per recipient, however many message objects a request holds.
        gateway.multicast(to=users, messages=TEXT * 2, retry_key=str(uuid.uuid4()))
        gateway.push(to=users[0], messages=TEXT, retry_key=str(uuid.uuid4()))
        quota = gateway.quota()
    assert quota == Quota(limited=True, limit=1000, used=4)
    assert quota.remaining == 996


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", VALIDATE_KINDS)
def test_valid_messages_pass_and_send_nothing(line_channel: Any, emu: EmulatorControl, kind: str) -> None:
    user = emu.create_followers(1)[0]
    messages: list[dict[str, Any]] = [
        *TEXT,
        {"type": "flex", "altText": "避難所のご案内", "contents": BUBBLE},
        {
            "type": "image",
            "originalContentUrl": "https://example.jp/hinanjo.jpg",
            "previewImageUrl": "https://example.jp/hinanjo-s.jpg",
        },
    ]
    with Gateway.from_settings() as gateway:
        gateway.validate_messages(kind=kind, messages=messages)  # no LineApiError
    assert emu.received(user) == []
    assert emu.deliveries()["total"] == 0


def test_text_too_long_names_the_property(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway:
        error = refusal(gateway, [*TEXT, {"type": "text", "text": "あ" * 5001}], kind="multicast")
    assert error.details == [{"message": "Length must be between 0 and 5000", "property": "messages[1].text"}]
    assert "messages[1].text" in str(error)


def test_more_than_five_messages(line_channel: Any, emu: EmulatorControl) -> None:
    # The SDK's own ValidateMessageRequest would refuse this list before LINE saw it.
    with Gateway.from_settings() as gateway:
        error = refusal(gateway, TEXT * 6, kind="broadcast")
    assert error.details == [{"message": "Size must be between 1 and 5", "property": "messages"}]


def test_every_problem_is_listed(line_channel: Any, emu: EmulatorControl) -> None:
    messages = [
        {"type": "text", "text": ""},
        {"type": "image", "originalContentUrl": "ftp://example.jp/a.jpg", "previewImageUrl": "x"},
    ]
    with Gateway.from_settings() as gateway:
        error = refusal(gateway, messages, kind="reply")
    assert {d["property"] for d in error.details} == {
        "messages[0].text",
        "messages[1].originalContentUrl",
        "messages[1].previewImageUrl",
    }
    assert all(d["message"] for d in error.details)


def test_flex_bubble_with_a_bad_property(line_channel: Any, emu: EmulatorControl) -> None:
    bubble = {**BUBBLE, "size": "huge"}
    with Gateway.from_settings() as gateway:
        error = refusal(gateway, [*TEXT, {"type": "flex", "altText": "案内", "contents": bubble}])
    # Inside one message object LINE names the message and gives JSON pointers into the container.
    assert error.message == "A message (messages[1]) in the request body is invalid"
    assert [d["property"] for d in error.details] == ["/size"]
    assert error.details[0]["message"].startswith("must be one of the following values")


def test_unknown_kind_is_refused_before_calling_line(line_channel: Any, emu: EmulatorControl) -> None:
    with Gateway.from_settings() as gateway, pytest.raises(ValueError, match="kind"):
        gateway.validate_messages(kind="send", messages=TEXT)
