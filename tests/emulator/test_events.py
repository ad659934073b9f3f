"""What virtual users do and the webhook events the bot gets for it, parsed with line-bot-sdk and
checked against LINE's webhook.yml."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    ApiException,
    MessagingApi,
    MessagingApiBlob,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import (
    AudioMessageContent,
    Event,
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
)

from emulator.client import EmulatorControl, EmulatorError
from emulator.control import ControlError
from emulator.events import ULID_PATTERN, UlidGenerator, picked_value
from emulator.server import RunningEmulator
from emulator.state import Alias, Channel, RichMenu
from tests.conftest import run_async
from tests.emulator.openapi import schema_errors
from tests.emulator.webhook_receiver import Receiver

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


@pytest.fixture
def receiver(emu: EmulatorControl) -> Iterator[Receiver]:
    bot = Receiver()
    emu.channel(webhookUrl=bot.url, webhookActive=True)
    yield bot
    emu.drain_webhooks(timeout=10)
    bot.close()


def world(emulator: RunningEmulator, emu: EmulatorControl) -> Channel:
    channel = emulator.store.channel(emu.channel_id)
    assert channel is not None
    return channel


def parsed(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> list[Event]:
    """Every event delivered so far, through the SDK's parser (signature checked)."""
    emu.drain_webhooks()
    parser = WebhookParser(emulator.config.channels[0].channel_secret)
    events: list[Event] = []
    for request in receiver.requests:
        events.extend(parser.parse(request.body.decode("utf-8"), request.headers["x-line-signature"]))
    return events


def new_friend(emu: EmulatorControl, receiver: Receiver, name: str = "佐藤 一郎") -> str:
    user_id = str(emu.create_user(name)["user_id"])
    emu.follow(user_id)
    emu.drain_webhooks()
    receiver.requests.clear()
    return user_id


def api_has(emulator: RunningEmulator, method: str, path: str, *, data_host: bool = False) -> bool:
    """Whether another module serves this endpoint yet (404 with LINE's body means not)."""
    token = emulator.config.channels[0].access_token
    base = emulator.config.data_base if data_host else emulator.config.api_base
    response = httpx.request(method, base + path, headers={"Authorization": f"Bearer {token}"}, json={})
    return response.status_code != 404 or response.json() != {"message": "Not found"}


# --- friendship ----------------------------------------------------------------------------------


def test_follow_block_unblock(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    followed = emu.follow(user_id)
    assert emu.user(user_id)["is_friend"] is True
    emu.block(user_id)
    user = emu.user(user_id)
    assert user["is_friend"] is False and user["has_blocked"] is True
    emu.unblock(user_id)
    assert emu.user(user_id)["is_friend"] is True
    first, unfollow, again = parsed(emulator, emu, receiver)
    assert isinstance(first, FollowEvent) and first.follow.is_unblocked is False
    assert first.reply_token == followed["events"][0]["replyToken"]
    assert isinstance(unfollow, UnfollowEvent)
    assert isinstance(again, FollowEvent) and again.follow.is_unblocked is True
    raw = receiver.events()
    assert "replyToken" not in raw[1], "unfollow events carry no reply token"
    assert raw[0]["source"] == {"type": "user", "userId": user_id}
    assert all(e["mode"] == "active" and e["deliveryContext"] == {"isRedelivery": False} for e in raw)


def test_follow_after_block_is_an_unblock(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    user_id = new_friend(emu, receiver)
    emu.block(user_id)
    result = emu.follow(user_id)
    assert result["events"][0]["follow"] == {"isUnblocked": True}


def test_unfriend(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = new_friend(emu, receiver)
    assert [e["type"] for e in emu.unfriend(user_id)["events"]] == ["unfollow"]
    assert emu.follow(user_id)["events"][0]["follow"] == {"isUnblocked": False}
    emu.block(user_id)
    assert emu.action(user_id, "delete")["events"] == []  # already unfollowed when blocking
    assert emu.follow(user_id)["events"][0]["follow"] == {"isUnblocked": False}


def test_friendship_errors_are_japanese(emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = str(emu.create_user("鈴木 美咲")["user_id"])
    with pytest.raises(EmulatorError, match="友だちではない"):
        emu.block(user_id)
    with pytest.raises(EmulatorError, match="ブロックしていません"):
        emu.unblock(user_id)
    emu.follow(user_id)
    with pytest.raises(EmulatorError, match="すでに友だち"):
        emu.follow(user_id)
    with pytest.raises(EmulatorError, match="404"):
        emu.follow("U" + "0" * 32)


# --- messages -----------------------------------------------------------------------------------


def test_text_message(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = new_friend(emu, receiver)
    result = emu.send_text(user_id, "粗大ごみの出し方を教えてください")
    [event] = parsed(emulator, emu, receiver)
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert event.message.text == "粗大ごみの出し方を教えてください"
    assert event.message.quote_token and event.reply_token
    raw = receiver.events()[0]["message"]
    assert set(raw) == {"type", "id", "quoteToken", "text"}  # no emojis or mention
    assert raw["id"] == result["userMessages"][0]["message_id"]
    [sent] = emu.sent(user_id)
    assert sent["message"] == {"type": "text", "text": "粗大ごみの出し方を教えてください"}


def test_image_message_and_its_content(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, blob_api: MessagingApiBlob
) -> None:
    user_id = new_friend(emu, receiver)
    result = emu.send_image(user_id, PNG, "image/png")
    [event] = parsed(emulator, emu, receiver)
    assert isinstance(event, MessageEvent) and isinstance(event.message, ImageMessageContent)
    assert event.message.content_provider.type == "line"
    assert "imageSet" not in receiver.events()[0]["message"]
    message_id = event.message.id
    assert result["userMessages"][0]["message_id"] == message_id
    shown = httpx.get(f"{emulator.url}/control/channels/{emu.channel_id}/contents/{message_id}")
    assert shown.content == PNG and shown.headers["content-type"] == "image/png"
    if not api_has(emulator, "GET", f"/v2/bot/message/{message_id}/content", data_host=True):
        pytest.skip("GET /v2/bot/message/{id}/content is not served yet (emulator/messaging.py)")
    assert bytes(blob_api.get_message_content(message_id)) == PNG


def test_image_uploads_from_the_simulator(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    user_id = new_friend(emu, receiver)
    base = f"{emulator.url}/control/channels/{emu.channel_id}/users/{user_id}/message"
    raw = httpx.post(base, content=PNG, headers={"Content-Type": "image/png"})
    form = httpx.post(base, files={"file": ("photo.png", PNG, "image/png")}, data={"type": "image"})
    assert raw.status_code == 200 and form.status_code == 200, form.text
    channel = world(emulator, emu)
    for response in (raw, form):
        message_id = response.json()["events"][0]["message"]["id"]
        assert channel.contents[message_id].data == PNG
        assert channel.contents[message_id].content_type == "image/png"
    bad = httpx.post(base, json={"type": "image", "data": "***", "contentType": "image/png"})
    assert bad.status_code == 400 and "base64" in bad.json()["error"]


def test_location_and_sticker(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = new_friend(emu, receiver)
    emu.send_location(
        user_id, 39.0817, 141.7085, title="大船渡市役所", address="岩手県大船渡市盛町字宇津野沢15"
    )
    emu.send_sticker(user_id, "11537", "52002738")
    location, sticker = parsed(emulator, emu, receiver)
    assert isinstance(location, MessageEvent) and isinstance(location.message, LocationMessageContent)
    assert location.message.title == "大船渡市役所" and location.message.latitude == pytest.approx(39.0817)
    assert location.message.address == "岩手県大船渡市盛町字宇津野沢15"
    assert isinstance(sticker, MessageEvent) and isinstance(sticker.message, StickerMessageContent)
    assert (sticker.message.package_id, sticker.message.sticker_id) == ("11537", "52002738")
    assert sticker.message.sticker_resource_type == "STATIC"
    with pytest.raises(EmulatorError, match="latitude"):
        emu.send_location(user_id, 91.0, 0.0)


def test_only_friends_can_send(emu: EmulatorControl, receiver: Receiver) -> None:
    stranger = str(emu.create_user("高橋 健太")["user_id"])
    with pytest.raises(EmulatorError, match=r"400.*友だちではありません"):
        emu.send_text(stranger, "こんにちは")
    friend = new_friend(emu, receiver)
    emu.block(friend)
    with pytest.raises(EmulatorError, match=r"400.*ブロックしています"):
        emu.send_text(friend, "こんにちは")
    emu.drain_webhooks()
    assert [e["type"] for e in receiver.events()] == ["unfollow"]


def test_bad_messages(emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = new_friend(emu, receiver)
    for body, message in (
        ({"type": "text", "text": ""}, "text"),
        ({"type": "video"}, "type は"),
        ({"type": "sticker", "packageId": "1"}, "stickerId"),
        (
            {"type": "image", "data": base64.b64encode(PNG).decode(), "contentType": "text/plain"},
            "画像の形式",
        ),
    ):
        with pytest.raises(EmulatorError, match=message):
            emu.action(user_id, "message", body)


# --- postbacks and the rich menu ----------------------------------------------------------------


def test_postback_with_datetime_params(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    user_id = new_friend(emu, receiver)
    emu.postback(user_id, "action=reserve", {"datetime": "2026-12-01T10:00"}, display_text="予約する")
    emu.postback(user_id, "action=plain")
    first, second = parsed(emulator, emu, receiver)
    assert isinstance(first, PostbackEvent) and first.postback.data == "action=reserve"
    assert first.postback.params == {"datetime": "2026-12-01T10:00"}
    assert isinstance(second, PostbackEvent) and "params" not in receiver.events()[1]["postback"]
    assert [m["message"] for m in emu.sent(user_id)] == [{"type": "text", "text": "予約する"}]


AREAS = [
    (0, {"type": "postback", "data": "menu=garbage", "displayText": "ごみの日"}),
    (1, {"type": "message", "text": "防災情報"}),
    (2, {"type": "uri", "uri": "https://www.city.ofunato.iwate.jp/"}),
    (
        3,
        {
            "type": "datetimepicker",
            "data": "menu=visit",
            "mode": "date",
            "min": "2026-01-01",
            "max": "2027-12-31",
        },
    ),
    (4, {"type": "richmenuswitch", "richMenuAliasId": "tab-b", "data": "tab=b"}),
    (5, {"type": "postback", "data": "menu=ask", "inputOption": "openKeyboard", "fillInText": "質問: "}),
]


def menu(rich_menu_id: str, areas: list[tuple[int, dict[str, Any]]]) -> RichMenu:
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": rich_menu_id,
        "chatBarText": "メニュー",
        "areas": [
            {"bounds": {"x": 400 * column, "y": 0, "width": 400, "height": 843}, "action": action}
            for column, action in areas
        ],
    }
    return RichMenu(rich_menu_id, body, created_at=0.0, image=PNG, image_type="image/png")


@pytest.fixture
def menus(emulator: RunningEmulator, emu: EmulatorControl) -> Channel:
    channel = world(emulator, emu)
    with emulator.store.lock:
        channel.rich_menus["richmenu-a"] = menu("richmenu-a", AREAS)
        channel.rich_menus["richmenu-b"] = menu("richmenu-b", [(0, {"type": "message", "text": "B"})])
        channel.aliases["tab-b"] = Alias("tab-b", "richmenu-b")
        channel.default_rich_menu_id = "richmenu-a"
    return channel


def test_tap_postback_message_uri(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, menus: Channel
) -> None:
    user_id = new_friend(emu, receiver)
    garbage = emu.tap(user_id, x=100, y=400)
    assert garbage["area"] == 0 and garbage["richMenuId"] == "richmenu-a"
    assert emu.tap(user_id, area=1)["area"] == 1
    opened = emu.tap(user_id, x=1000, y=10)
    assert opened == {
        "events": [],
        "userMessages": [],
        "open": "https://www.city.ofunato.iwate.jp/",
        "richMenuId": "richmenu-a",
        "area": 2,
    }
    assert emu.tap(user_id, x=2450, y=10) == {
        "events": [],
        "userMessages": [],
        "area": None,
        "richMenuId": "richmenu-a",
    }
    ask = emu.tap(user_id, area=5)
    assert ask["inputOption"] == "openKeyboard" and ask["fillInText"] == "質問: "
    postback, message, ask_event = parsed(emulator, emu, receiver)
    assert isinstance(postback, PostbackEvent) and postback.postback.data == "menu=garbage"
    assert isinstance(message, MessageEvent) and isinstance(message.message, TextMessageContent)
    assert message.message.text == "防災情報"
    assert isinstance(ask_event, PostbackEvent) and ask_event.postback.data == "menu=ask"
    # displayText is shown as the user's message; the message action is a real message.
    assert [m["message"]["text"] for m in emu.sent(user_id)] == ["ごみの日", "防災情報"]


def test_tap_datetime_picker(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, menus: Channel
) -> None:
    user_id = new_friend(emu, receiver)
    with pytest.raises(EmulatorError, match="value"):
        emu.tap(user_id, area=3)
    with pytest.raises(EmulatorError, match="YYYY-MM-DD"):
        emu.tap(user_id, area=3, value="12/01/2026")
    with pytest.raises(EmulatorError, match="範囲"):
        emu.tap(user_id, area=3, value="2028-01-01")
    emu.tap(user_id, area=3, value="2026-12-01")
    [event] = parsed(emulator, emu, receiver)
    assert isinstance(event, PostbackEvent)
    assert event.postback.data == "menu=visit" and event.postback.params == {"date": "2026-12-01"}
    assert emu.sent(user_id) == []


def test_datetime_picker_values() -> None:
    action = {"type": "datetimepicker", "data": "d", "mode": "datetime", "min": "2026-01-01t00:00"}
    assert picked_value(action, "2026-12-01t10:00") == ("datetime", "2026-12-01T10:00")
    with pytest.raises(ControlError, match="範囲"):
        picked_value(action, "2025-12-31T23:59")
    with pytest.raises(ControlError, match="存在しない"):
        picked_value({"mode": "time"}, "25:00")
    with pytest.raises(ControlError, match="存在しない"):
        picked_value({"mode": "date"}, "2026-02-30")
    with pytest.raises(ControlError, match="mode"):
        picked_value({"mode": "week"}, "2026-W01")


def test_tap_richmenu_switch(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, menus: Channel
) -> None:
    pytest.importorskip("emulator.richmenu", reason="emulator/richmenu.py (switch_by_alias) is not there yet")
    user_id = new_friend(emu, receiver)
    switched = emu.tap(user_id, x=1700, y=800)
    assert switched["richMenuId"] == "richmenu-b"
    assert emu.user(user_id)["linked_rich_menu_id"] == "richmenu-b"
    with emulator.store.lock:
        menus.aliases["tab-gone"] = Alias("tab-gone", "richmenu-deleted")
        menus.rich_menus["richmenu-b"].body["areas"][0]["action"] = {
            "type": "richmenuswitch",
            "richMenuAliasId": "tab-gone",
            "data": "tab=gone",
        }
    emu.tap(user_id, area=0)
    ok, gone = parsed(emulator, emu, receiver)
    assert isinstance(ok, PostbackEvent) and ok.postback.data == "tab=b"
    assert ok.postback.params == {"newRichMenuAliasId": "tab-b", "status": "SUCCESS"}
    assert isinstance(gone, PostbackEvent) and gone.postback.params is not None
    assert gone.postback.params["status"] == "RICHMENU_NOTFOUND"
    assert emu.sent(user_id) == []  # a tab switch shows no message


def test_tap_needs_a_menu_and_a_friend(emu: EmulatorControl, receiver: Receiver, menus: Channel) -> None:
    stranger = str(emu.create_user("伊藤 大輔")["user_id"])
    with pytest.raises(EmulatorError, match="友だちではありません"):
        emu.tap(stranger, area=0)
    user_id = new_friend(emu, receiver)
    with pytest.raises(EmulatorError, match="area は 0〜5"):
        emu.tap(user_id, area=9)
    menus.default_rich_menu_id = None
    with pytest.raises(EmulatorError, match="リッチメニューが表示されていません"):
        emu.tap(user_id, area=0)


def test_perform_a_button_action(emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver) -> None:
    user_id = new_friend(emu, receiver)
    result = emu.perform(user_id, {"type": "postback", "data": "q=1", "text": "はい"})
    assert [e["type"] for e in result["events"]] == ["message", "postback"]
    assert emu.perform(user_id, {"type": "camera", "label": "カメラ"})["pick"] == "camera"
    with pytest.raises(EmulatorError, match="リッチメニューでしか"):
        emu.perform(user_id, {"type": "richmenuswitch", "richMenuAliasId": "x", "data": "x"})
    emu.drain_webhooks()
    assert len(receiver.requests) == 1, "events of one tap go in one webhook request"


# --- ids, schema ----------------------------------------------------------------------------------


def test_webhook_event_ids_are_ulids() -> None:
    generator = UlidGenerator()
    ids = [generator.new(1_764_000_000_000) for _ in range(1000)] + [generator.new(1_764_000_000_001)]
    assert all(ULID_PATTERN.match(i) for i in ids)
    assert len(set(ids)) == len(ids) and sorted(ids) == ids
    assert ids[0][:10] == "01KAV9FT00"  # 48-bit milliseconds in Crockford base32


def test_event_ids_unique_across_actions(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    user_id = new_friend(emu, receiver)
    for n in range(20):
        emu.send_text(user_id, f"{n}")
    emu.drain_webhooks()
    ids = [e["webhookEventId"] for e in receiver.events()]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert all(ULID_PATTERN.match(i) for i in ids)
    assert ids == sorted(ids)


def test_every_event_kind_matches_webhook_yml(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, menus: Channel
) -> None:
    user_id = str(emu.create_user("渡辺 結衣")["user_id"])
    emu.follow(user_id)
    emu.send_text(user_id, "テキスト")
    emu.send_image(user_id, PNG, "image/png")
    emu.send_location(user_id, 39.08, 141.7, title="市役所", address="大船渡市")
    emu.send_sticker(user_id, "11537", "52002738")
    emu.postback(user_id, "a=1", {"date": "2026-12-01"})
    emu.tap(user_id, area=4)
    emu.block(user_id)
    emu.drain_webhooks()
    kinds = [e["type"] for e in receiver.events()]
    assert kinds == ["follow", "message", "message", "message", "message", "postback", "postback", "unfollow"]
    for request in receiver.requests:
        assert schema_errors("webhook.yml", "CallbackRequest", request.json()) == []
    broken = receiver.requests[1].json()
    del broken["events"][0]["message"]["quoteToken"]
    assert schema_errors("webhook.yml", "CallbackRequest", broken), "the schema check must be able to fail"


# --- with the Messaging API (emulator/messaging.py) -----------------------------------------------


def test_reply_token_works_once(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, api: MessagingApi
) -> None:
    if not api_has(emulator, "POST", "/v2/bot/message/reply"):
        pytest.skip("POST /v2/bot/message/reply is not served yet (emulator/messaging.py)")
    user_id = new_friend(emu, receiver)
    [event] = emu.send_text(user_id, "返信して")["events"]
    request = ReplyMessageRequest(replyToken=event["replyToken"], messages=[TextMessage(text="はい")])
    api.reply_message(request)
    assert [m["message"]["text"] for m in emu.received(user_id)] == ["はい"]
    with pytest.raises(ApiException) as excinfo:
        api.reply_message(request)
    assert excinfo.value.status == 400


def test_blocked_user_receives_no_push(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver, api: MessagingApi
) -> None:
    if not api_has(emulator, "POST", "/v2/bot/message/push"):
        pytest.skip("POST /v2/bot/message/push is not served yet (emulator/messaging.py)")
    user_id = new_friend(emu, receiver)
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="お知らせ1")]))
    emu.block(user_id)
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="お知らせ2")]))
    assert [m["message"]["text"] for m in emu.received(user_id)] == ["お知らせ1"]


# --- in-process API (used by the LIFF module) ---------------------------------------------------


def test_user_sends_from_another_module(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    """What the LIFF module does for liff.sendMessages, here on a loop of the test's own (the
    delivery client is then created lazily and closed by the shut-down hook)."""
    from emulator import webhook
    from emulator.events import user_sends

    user_id = new_friend(emu, receiver)
    channel = world(emulator, emu)
    user = channel.users[user_id]
    photo = {
        "type": "external",
        "originalContentUrl": "https://kairan.example.jp/photo.jpg",
        "previewImageUrl": "https://kairan.example.jp/photo-s.jpg",
    }
    voice = {"type": "external", "originalContentUrl": "https://kairan.example.jp/voice.m4a"}

    async def liff_send() -> list[str]:
        sent = [
            await user_sends(emulator.store, channel, user, {"type": "text", "text": "LIFF から"}),
            await user_sends(emulator.store, channel, user, {"type": "image", "contentProvider": photo}),
            await user_sends(
                emulator.store, channel, user, {"type": "audio", "duration": 3000, "contentProvider": voice}
            ),
        ]
        assert await webhook.drain(timeout=5) == 0
        await webhook.on_shutdown(None)
        return [m.message_id for m in sent]

    message_ids = run_async(liff_send())
    assert [m.message_id for m in channel.user_messages[-3:]] == message_ids
    assert channel.user_messages[-3].message == {"type": "text", "text": "LIFF から"}
    assert channel.user_messages[-2].message["originalContentUrl"] == photo["originalContentUrl"]
    text, image, audio = parsed(emulator, emu, receiver)
    assert isinstance(text, MessageEvent) and text.message.id == message_ids[0]
    assert isinstance(image, MessageEvent) and isinstance(image.message, ImageMessageContent)
    assert image.message.content_provider.type == "external"
    assert image.message.content_provider.original_content_url == photo["originalContentUrl"]
    assert isinstance(audio, MessageEvent) and isinstance(audio.message, AudioMessageContent)
    assert audio.message.duration == 3000
    for request in receiver.requests:
        assert schema_errors("webhook.yml", "CallbackRequest", request.json()) == []
    with pytest.raises(ControlError, match="https"):
        run_async(
            user_sends(
                emulator.store,
                channel,
                user,
                {
                    "type": "image",
                    "contentProvider": {"type": "external", "originalContentUrl": "http://x.jp/a"},
                },
            )
        )
