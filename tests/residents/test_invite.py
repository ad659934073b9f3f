"""マイページの案内: a new friend gets a message with a button that opens My Page, once per follow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from emulator.client import EmulatorControl
from line_channel import events, outbox
from line_channel.handling import REPLY_PURPOSE
from line_channel.models import OutboxItem, WebhookEvent
from residents.models import MyPageSettings
from tests.line.conftest import line_channel  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
LIFF_ID = "2000000002-kairan01"


def follow(user_id: str, event_id: str, *, mode: str = "active") -> None:
    body = {
        "destination": "U0",
        "events": [
            {
                "type": "follow",
                "mode": mode,
                "timestamp": int(timezone.now().timestamp() * 1000),
                "source": {"type": "user", "userId": user_id},
                "webhookEventId": event_id,
                "deliveryContext": {"isRedelivery": False},
                "replyToken": f"reply-{event_id}",
                "follow": {"isUnblocked": False},
            }
        ],
    }
    events.store_events(events.parse_body(json.dumps(body).encode()))
    events.process_pending()


@pytest.fixture
def friend(line_channel: Any, emu: EmulatorControl, settings: Any) -> str:  # noqa: F811 - the fixture
    settings.KAIRAN_LIFF_ID = LIFF_ID
    user = emu.create_user("大船渡 花子")
    emu.follow(user["user_id"])
    return str(user["user_id"])


def test_a_new_friend_is_invited_once(friend: str) -> None:
    follow(friend, "01KAIRANINVITE000000000001")
    item = OutboxItem.objects.get(purpose=REPLY_PURPOSE + "01KAIRANINVITE000000000001")
    # Sent at once by the worker; the test's made-up reply token is refused by LINE, so it went
    # out as a push.
    assert item.reply_token == "reply-01KAIRANINVITE000000000001" and item.state == OutboxItem.State.SENT
    assert item.kind == OutboxItem.Kind.PUSH and item.error == outbox.NOTE_REPLY_AS_PUSH
    assert item.recipients == [friend]
    stored: Any = item.messages  # decrypted JSON (a TextField to the stubs)
    (message,) = stored
    template = message["template"]
    assert message["type"] == "template" and template["type"] == "buttons"
    assert template["text"].startswith("友だち追加ありがとうございます。") and len(template["text"]) <= 160
    assert template["actions"] == [
        {"type": "uri", "label": "マイページで登録する", "uri": f"https://liff.line.me/{LIFF_ID}"}
    ]

    # The same event handled again (a retried task) queues nothing more.
    WebhookEvent.objects.update(state=WebhookEvent.State.PENDING, claimed_at=None)
    events.process_pending()
    assert OutboxItem.objects.filter(purpose__startswith=REPLY_PURPOSE).count() == 1


def test_the_city_edits_or_turns_off_the_invitation(friend: str) -> None:
    config = MyPageSettings.load()
    config.invite_text = "大船渡市の LINE へようこそ。"
    config.invite_button = "登録する"
    config.save()
    follow(friend, "01KAIRANINVITE000000000002")
    stored: Any = OutboxItem.objects.get().messages
    message = stored[0]
    assert (
        message["altText"] == "大船渡市の LINE へようこそ。"
        and message["template"]["actions"][0]["label"] == "登録する"
    )

    config.invite_on_follow = False
    config.save()
    follow(friend, "01KAIRANINVITE000000000003")
    assert OutboxItem.objects.count() == 1


def test_no_invitation_without_a_liff_app_or_in_standby(friend: str, settings: Any) -> None:
    follow(friend, "01KAIRANINVITE000000000004", mode="standby")
    settings.KAIRAN_LIFF_ID = ""
    follow(friend, "01KAIRANINVITE000000000005")
    assert not OutboxItem.objects.exists()
