"""Validation of message objects: LINE's 400 bodies, wording and property paths, on the sending
endpoints and on /v2/bot/message/validate/*."""

from __future__ import annotations

from typing import Any

import pytest
from linebot.v3.messaging import (
    ApiException,
    ImageMessage,
    MessagingApi,
    MulticastRequest,
    PushMessageRequest,
    TextMessage,
    ValidateMessageRequest,
)

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from emulator.validation import grapheme_len, utf16_len
from tests.emulator.test_messaging import error_body, make_friend, raw

TEXT = {"type": "text", "text": "x"}


def validate(emulator: RunningEmulator, messages: Any, kind: str = "push") -> tuple[int, dict[str, Any]]:
    response = raw(emulator, "POST", f"/v2/bot/message/validate/{kind}", {"messages": messages})
    return response.status_code, response.json()


def details(emulator: RunningEmulator, *messages: Any) -> list[dict[str, str]]:
    status, body = validate(emulator, list(messages))
    assert status == 400, body
    result: list[dict[str, str]] = body["details"]
    return result


def nested(emulator: RunningEmulator, message: dict[str, Any]) -> list[dict[str, str]]:
    """Problems inside one message object: LINE's 'A message (messages[0]) ... is invalid'."""
    status, body = validate(emulator, [message])
    assert status == 400, body
    assert body["message"] == "A message (messages[0]) in the request body is invalid"
    result: list[dict[str, str]] = body["details"]
    return result


# --- through the SDK -----------------------------------------------------------------------------


def test_more_than_five_messages_is_400(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    # The SDK refuses to build this request; construct() skips its own check so LINE's answer shows.
    request = PushMessageRequest.construct(to=user_id, messages=[TextMessage(text=str(n)) for n in range(6)])
    with pytest.raises(ApiException) as excinfo:
        api.push_message(request)
    assert excinfo.value.status == 400
    assert error_body(excinfo.value) == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "Size must be between 1 and 5", "property": "messages"}],
    }
    assert emu.received(user_id) == []


def test_text_limits_count_utf16_code_units(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="あ" * 5000)]))
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="🍎" * 2500)]))
    for text in ("a" * 5001, "🍎" * 2501):
        with pytest.raises(ApiException) as excinfo:
            api.push_message(
                PushMessageRequest(to=user_id, messages=[TextMessage(text="ok"), TextMessage(text=text)])
            )
        assert error_body(excinfo.value)["details"] == [
            {"message": "Length must be between 0 and 5000", "property": "messages[1].text"}
        ]
    with pytest.raises(ApiException) as excinfo:
        api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="")]))
    assert error_body(excinfo.value)["details"] == [
        {"message": "May not be empty", "property": "messages[0].text"}
    ]
    assert len(emu.received(user_id)) == 2


def test_image_urls_must_be_https(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user_id = make_friend(emulator, emu)
    long_url = "https://example.com/" + "a" * 1990
    bad = ImageMessage(original_content_url="http://example.com/a.jpg", preview_image_url=long_url)
    with pytest.raises(ApiException) as excinfo:
        api.push_message(PushMessageRequest(to=user_id, messages=[bad]))
    body = error_body(excinfo.value)
    assert body["message"] == "The request body has 2 error(s)"
    assert body["details"] == [
        {"message": "invalid uri scheme", "property": "messages[0].originalContentUrl"},
        {"message": "Length must be between 0 and 2000", "property": "messages[0].previewImageUrl"},
    ]
    good = ImageMessage(
        original_content_url="https://example.com/a.jpg", preview_image_url="https://example.com/p.jpg"
    )
    api.push_message(PushMessageRequest(to=user_id, messages=[good]))
    assert [m["message"]["type"] for m in emu.received(user_id)] == ["image"]


def test_multicast_to_more_than_500_users_is_400(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    to = [f"U{n:032x}" for n in range(501)]
    with pytest.raises(ApiException) as excinfo:
        api.multicast(MulticastRequest.construct(to=to, messages=[TextMessage(text="x")]))
    assert error_body(excinfo.value)["details"] == [
        {"message": "Size must be between 1 and 500", "property": "to"}
    ]
    with pytest.raises(ApiException) as excinfo:
        api.multicast(MulticastRequest(to=["U" + "a" * 32, "Cgroup"], messages=[TextMessage(text="")]))
    assert error_body(excinfo.value)["details"] == [
        {"message": "Must be a user ID (U followed by 32 hexadecimal digits)", "property": "to[1]"},
        {"message": "May not be empty", "property": "messages[0].text"},
    ]


def test_validate_endpoints_through_the_sdk(api: MessagingApi, emu: EmulatorControl) -> None:
    good = ValidateMessageRequest(messages=[TextMessage(text="確認")])
    for method in (api.validate_push, api.validate_reply, api.validate_multicast, api.validate_broadcast):
        method(good)
    api.validate_narrowcast(good)
    with pytest.raises(ApiException) as excinfo:
        api.validate_reply(ValidateMessageRequest(messages=[TextMessage(text="")]))
    assert excinfo.value.status == 400
    assert emu.deliveries()["total"] == 0


# --- request-level problems ----------------------------------------------------------------------


def test_unknown_type_and_several_errors_are_all_listed(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    status, body = validate(
        emulator, [{"type": "text", "text": ""}, {"type": "richmessage"}, {"text": "no type"}]
    )
    assert status == 400
    assert body["message"] == "The request body has 3 error(s)"
    assert body["details"][0] == {"message": "May not be empty", "property": "messages[0].text"}
    assert body["details"][1]["property"] == "messages[1].type"
    assert body["details"][1]["message"].startswith(
        "Must be one of the following values: [text, image, video"
    )
    assert body["details"][2] == {"message": "May not be empty", "property": "messages[2].type"}
    assert details(emulator) == [{"message": "Size must be between 1 and 5", "property": "messages"}]


def test_media_location_and_sticker_fields(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    problems = details(
        emulator,
        {"type": "video", "originalContentUrl": "https://e.jp/v.mp4", "previewImageUrl": "ftp://e.jp/p.jpg"},
        {"type": "audio", "originalContentUrl": "https://e.jp/a.m4a"},
        {"type": "location", "title": "市役所", "address": "大船渡市", "latitude": 91, "longitude": "141"},
        {"type": "sticker", "packageId": "446"},
        {"type": "image", "originalContentUrl": "not a url", "previewImageUrl": "https://e.jp/p.jpg"},
    )
    assert problems == [
        {"message": "invalid uri scheme", "property": "messages[0].previewImageUrl"},
        {"message": "May not be null", "property": "messages[1].duration"},
        {"message": "Must be between -90 and 90", "property": "messages[2].latitude"},
        {"message": "Must be a number", "property": "messages[2].longitude"},
        {"message": "May not be empty", "property": "messages[3].stickerId"},
        {"message": "invalid uri", "property": "messages[4].originalContentUrl"},
    ]


def test_alt_text_emojis_sender_and_text_v2(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    flex = {"type": "flex", "altText": "a" * 401, "contents": {"type": "bubble", "body": {"type": "box"}}}
    emoji = {"type": "text", "text": "x$", "emojis": [{"index": 0, "productId": "p", "emojiId": "001"}]}
    sender = {**TEXT, "sender": {"name": "LINE公式", "iconUrl": "http://e.jp/i.png"}}
    v2 = {
        "type": "textV2",
        "text": "{user}さん",
        "substitution": {"user": {"type": "mention", "mentionee": {}}},
    }
    assert details(emulator, flex, emoji, sender, v2) == [
        {"message": "Length must be between 0 and 400", "property": "messages[0].altText"},
        {"message": "Must point at a $ placeholder in text", "property": "messages[1].emojis[0].index"},
        {"message": "Must not contain the word LINE", "property": "messages[2].sender.name"},
        {"message": "invalid uri scheme", "property": "messages[2].sender.iconUrl"},
        {"message": "May not be empty", "property": "messages[3].substitution.user.mentionee.type"},
    ]
    ok = {
        "type": "textV2",
        "text": "{a}",
        "substitution": {"a": {"type": "mention", "mentionee": {"type": "all"}}},
    }
    apple = {"type": "text", "text": "🍎$", "emojis": [{"index": 2, "productId": "p", "emojiId": "001"}]}
    assert validate(
        emulator, [ok, apple, {**emoji, "emojis": [{"index": 1, "productId": "p", "emojiId": "001"}]}]
    ) == (
        200,
        {},
    )


# --- inside one message: templates, quick replies, imagemaps, Flex --------------------------------


def _postback(label: str = "はい", data: str = "yes") -> dict[str, Any]:
    return {"type": "postback", "label": label, "data": data}


def test_buttons_and_confirm_templates(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    buttons = {"type": "buttons", "text": "選んでください", "actions": [_postback()] * 5}
    message = {"type": "template", "altText": "選択", "template": buttons}
    assert nested(emulator, message) == [
        {"message": "size must be between 1 and 4", "property": "template/actions"}
    ]
    confirm = {"type": "confirm", "text": "よろしいですか", "actions": [_postback()]}
    assert nested(emulator, {**message, "template": confirm}) == [
        {"message": "size must be between 2 and 2", "property": "template/actions"}
    ]
    actions = [
        {"type": "uri", "label": "開く", "uri": "ftp://example.com"},
        _postback(data="d" * 301),
        {"type": "camera", "label": "カメラ"},
        {"type": "message", "label": "👨‍👩‍👧‍👦" * 21, "text": "t"},
    ]
    problems = nested(emulator, {**message, "template": {**buttons, "actions": actions}})
    assert problems[0] == {"message": "invalid uri scheme", "property": "template/actions/0/uri"}
    assert problems[1] == {"message": "size must be between 0 and 300", "property": "template/actions/1/data"}
    assert problems[2]["property"] == "template/actions/2/type"
    assert problems[3] == {"message": "size must be between 0 and 20", "property": "template/actions/3/label"}
    # 20 family emojis are 20 grapheme clusters: a valid label.
    # An empty postback data is allowed (minLength 0).
    fine = {
        **buttons,
        "actions": [{"type": "message", "label": "👨‍👩‍👧‍👦" * 20, "text": "t"}, _postback(data="")],
    }
    assert validate(emulator, [{**message, "template": fine}]) == (200, {})


def test_carousel_templates(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    column = {"text": "説明", "actions": [_postback()]}
    message = {
        "type": "template",
        "altText": "カルーセル",
        "template": {"type": "carousel", "columns": [column] * 11},
    }
    assert nested(emulator, message) == [
        {"message": "size must be between 1 and 10", "property": "template/columns"}
    ]
    uneven = [column, {**column, "actions": [_postback(), _postback("いいえ", "no")]}]
    assert nested(emulator, {**message, "template": {"type": "carousel", "columns": uneven}}) == [
        {"message": "all columns must have the same number of actions", "property": "template/columns"}
    ]
    images = {
        "type": "image_carousel",
        "columns": [{"imageUrl": "https://e.jp/1.png", "action": _postback("十三文字のとても長いラベル名")}],
    }
    assert nested(emulator, {**message, "template": images}) == [
        {"message": "size must be between 0 and 12", "property": "template/columns/0/action/label"}
    ]
    picker = {"type": "datetimepicker", "label": "日時", "data": "d", "mode": "week", "initial": "2025-01-01"}
    assert (
        nested(emulator, {**message, "template": {"type": "buttons", "text": "t", "actions": [picker]}})[0][
            "property"
        ]
        == "template/actions/0/mode"
    )
    picker = {**picker, "mode": "date", "min": "2025-02-01", "max": "2025-03-01"}
    assert nested(
        emulator, {**message, "template": {"type": "buttons", "text": "t", "actions": [picker]}}
    ) == [{"message": "must be between min and max", "property": "template/actions/0/initial"}]


def test_quick_reply(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    item = {"type": "action", "action": {"type": "message", "label": "はい", "text": "はい"}}
    assert nested(emulator, {**TEXT, "quickReply": {"items": [item] * 14}}) == [
        {"message": "size must be between 1 and 13", "property": "quickReply/items"}
    ]
    items = [
        {"type": "action", "action": {"type": "camera", "label": "カメラ"}},
        {"type": "action", "action": {"type": "location"}},
        {
            "type": "action",
            "action": {"type": "richmenuswitch", "label": "タブ", "richMenuAliasId": "a", "data": "d"},
        },
    ]
    problems = nested(emulator, {**TEXT, "quickReply": {"items": items}})
    assert problems[0] == {"message": "must be specified", "property": "quickReply/items/1/action/label"}
    assert problems[1]["property"] == "quickReply/items/2/action/type"
    assert validate(emulator, [{**TEXT, "quickReply": {"items": [item] * 13}}]) == (200, {})


def test_imagemap(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    imagemap = {
        "type": "imagemap",
        "baseUrl": "https://e.jp/map",
        "altText": "地図",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": [
            {
                "type": "uri",
                "linkUri": "javascript:alert(1)",
                "area": {"x": 0, "y": 0, "width": 520, "height": 1040},
            },
            {"type": "message", "text": "右", "area": {"x": 520, "y": 0, "width": 0, "height": 1040}},
        ],
    }
    assert nested(emulator, imagemap) == [
        {"message": "invalid uri scheme", "property": "actions/0/linkUri"},
        {"message": "must be greater than or equal to 1", "property": "actions/1/area/width"},
    ]
    assert details(emulator, {**imagemap, "baseSize": {"width": 1000, "height": 1040}}) == [
        {"message": "Must be 1040", "property": "messages[0].baseSize.width"}
    ]


def test_flex_messages(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    bubble: dict[str, Any] = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "本文"}]},
    }
    flex = {"type": "flex", "altText": "お知らせ", "contents": bubble}
    assert validate(emulator, [flex]) == (200, {})
    carousel = {"type": "carousel", "contents": [bubble] * 13}
    assert nested(emulator, {**flex, "contents": carousel}) == [
        {"message": "size must be between 1 and 12", "property": "/contents"}
    ]
    empty_text = {
        **bubble,
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": ""}]},
    }
    assert nested(emulator, {**flex, "contents": {"type": "carousel", "contents": [bubble, empty_text]}}) == [
        {"message": "must be non-empty text", "property": "/contents/1/body/contents/0/text"}
    ]
    assert nested(emulator, {**flex, "contents": {"type": "bubble"}}) == [
        {"message": "At least one block must be specified", "property": "/"}
    ]
    parts = {
        "type": "bubble",
        "hero": {"type": "image", "url": "http://e.jp/hero.png", "aspectRatio": "1:4"},
        "body": {
            "type": "box",
            "layout": "baseline",
            "contents": [
                {"type": "button", "action": {"type": "uri", "label": "開く", "uri": "https://e.jp"}}
            ],
        },
        "footer": {"type": "box", "layout": "vertical", "contents": [{"type": "button"}]},
    }
    problems = nested(emulator, {**flex, "contents": parts})
    assert [p["property"] for p in problems] == [
        "/hero/url",
        "/hero/aspectRatio",
        "/body/contents/0/type",
        "/footer/contents/0/action",
    ]
    huge = {**bubble, "body": {**bubble["body"], "contents": [{"type": "text", "text": "あ" * 11000}]}}
    assert nested(emulator, {**flex, "contents": huge})[0]["message"].startswith("Too large flex message")


def test_request_level_problems_are_reported_before_message_contents(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    template = {
        "type": "template",
        "altText": "x",
        "template": {"type": "confirm", "text": "t", "actions": []},
    }
    status, body = validate(emulator, [template, {"type": "text", "text": ""}])
    assert status == 400 and body["message"] == "The request body has 1 error(s)"
    status, body = validate(emulator, [TEXT, template])
    assert body["message"] == "A message (messages[1]) in the request body is invalid"


# --- counting ---------------------------------------------------------------------------------------


def test_character_counting() -> None:
    assert utf16_len("🍎") == 2 and utf16_len("あ") == 1 and utf16_len("𩸽") == 2
    assert grapheme_len("👨‍👩‍👧‍👦") == 1
    assert grapheme_len("🇯🇵🇺🇸") == 2
    assert grapheme_len("が") == 1  # か + combining voiced mark
    assert grapheme_len("👍🏽") == 1
    assert grapheme_len("❤️") == 1
    assert grapheme_len("はい\r\n") == 3
