"""Sending messages through the official SDK: reply, push, multicast, broadcast, narrowcast;
accounting per user, retry keys, reply tokens, rate limits and the monthly quota."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import (
    ApiException,
    BroadcastRequest,
    DemographicFilter,
    Filter,
    Limit,
    MessagingApi,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    StickerMessage,
    TextMessage,
)

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator

# --- helpers shared by the test_messaging_* files ---------------------------------------------


def make_friend(emulator: RunningEmulator, emu: EmulatorControl, name: str = "山田 花子") -> str:
    """A virtual user who has added the account (no webhook involved)."""
    user_id = str(emu.create_user(name)["user_id"])
    user = emulator.store.default_channel().users[user_id]
    user.is_friend = True
    user.followed_at = emulator.store.now()
    return user_id


def make_blocked(emulator: RunningEmulator, emu: EmulatorControl, name: str = "佐藤 一郎") -> str:
    user_id = make_friend(emulator, emu, name)
    user = emulator.store.default_channel().users[user_id]
    user.is_friend = False
    user.has_blocked = True
    return user_id


def raw(
    emulator: RunningEmulator,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    host: str = "api",
) -> httpx.Response:
    """A request the SDK refuses to build (too many messages, unknown types...), sent as LINE gets it."""
    base = emulator.config.api_base if host == "api" else emulator.config.data_base
    token = emulator.config.channels[0].access_token
    return httpx.request(
        method,
        base + path,
        json=body,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        timeout=10,
    )


def error_body(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def received(emu: EmulatorControl, user_id: str) -> list[dict[str, Any]]:
    return emu.received(user_id)


@pytest.fixture
def restore_settings(emu: EmulatorControl) -> Iterator[None]:
    """Settings outlive the per-test reset: put rate limits and the quota back afterwards."""
    before = emu.settings()
    yield
    emu.settings(
        rate_limits=before["rate_limits"],
        monthly_quota=before["monthly_quota"],
        retry_key_ttl=before["retry_key_ttl"],
        reply_token_ttl=before["reply_token_ttl"],
    )


# --- push --------------------------------------------------------------------------------------


def test_push_delivers_and_returns_sent_messages(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    response = api.push_message_with_http_info(
        PushMessageRequest(
            to=user_id,
            messages=[
                TextMessage(text="ごみ収集日のお知らせ"),
                StickerMessage(package_id="446", sticker_id="1988"),
            ],
            notification_disabled=True,
            custom_aggregation_units=["garbage_notice"],
        )
    )
    assert response.status_code == 200
    request_id = response.headers["x-line-request-id"]
    sent = response.data.sent_messages
    assert len(sent) == 2 and all(m.id.isdigit() and m.quote_token for m in sent)
    got = received(emu, user_id)
    assert [m["message"]["type"] for m in got] == ["text", "sticker"]
    assert [m["message_id"] for m in got] == [m.id for m in sent]
    assert {m["endpoint"] for m in got} == {"push"}
    assert {m["request_id"] for m in got} == {request_id}
    assert all(m["notification_disabled"] and m["aggregation_unit"] == "garbage_notice" for m in got)


def test_push_to_someone_who_is_not_a_friend_is_accepted_and_delivers_nothing(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    stranger = str(emu.create_user("未登録 太郎")["user_id"])
    blocked = make_blocked(emulator, emu)
    for user_id in (stranger, blocked, "U" + "0" * 32):
        result = api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="届かない")]))
        assert len(result.sent_messages) == 1
    assert received(emu, stranger) == [] and received(emu, blocked) == []
    assert emu.deliveries()["total"] == 0
    assert api.get_message_quota_consumption().total_usage == 0


def test_push_to_a_malformed_id_is_400(api: MessagingApi, emu: EmulatorControl) -> None:
    with pytest.raises(ApiException) as excinfo:
        api.push_message(PushMessageRequest(to="not-a-user", messages=[TextMessage(text="x")]))
    assert excinfo.value.status == 400
    assert "'to'" in error_body(excinfo.value)["message"]


def test_bad_token_is_401(bad_token_api: MessagingApi, emu: EmulatorControl) -> None:
    with pytest.raises(ApiException) as excinfo:
        bad_token_api.push_message(PushMessageRequest(to="U" + "1" * 32, messages=[TextMessage(text="x")]))
    assert excinfo.value.status == 401
    assert error_body(excinfo.value)["message"].startswith("Authentication failed")


# --- multicast, broadcast ------------------------------------------------------------------------


def test_multicast_reaches_each_friend_exactly_once_and_nobody_else(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = [make_friend(emulator, emu, f"友だち {n}") for n in range(3)]
    blocked = make_blocked(emulator, emu)
    stranger = str(emu.create_user("未登録 花子")["user_id"])
    bystander = make_friend(emulator, emu, "宛先外 次郎")
    response = api.multicast_with_http_info(
        MulticastRequest(
            to=[*friends, friends[0], blocked, stranger],
            messages=[TextMessage(text="断水のお知らせ")],
        )
    )
    assert response.status_code == 200
    per_user = emu.deliveries()["perUser"]
    assert per_user == dict.fromkeys(friends, 1)
    assert blocked not in per_user and stranger not in per_user and bystander not in per_user
    assert {m["request_id"] for f in friends for m in received(emu, f)} == {
        response.headers["x-line-request-id"]
    }
    assert api.get_message_quota_consumption().total_usage == 3


def test_broadcast_reaches_all_friends(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(4)
    blocked = make_blocked(emulator, emu)
    api.broadcast(BroadcastRequest(messages=[TextMessage(text="避難所開設"), TextMessage(text="詳細")]))
    per_user = emu.deliveries()["perUser"]
    assert per_user == dict.fromkeys(friends, 2)
    assert blocked not in per_user
    # One message per user however many bubbles the request held.
    assert api.get_message_quota_consumption().total_usage == 4


# --- narrowcast --------------------------------------------------------------------------------


def _wait_for_narrowcast(api: MessagingApi, request_id: str) -> Any:
    deadline = time.monotonic() + 5
    while True:
        progress = api.get_narrowcast_progress(request_id)
        if progress.phase in ("succeeded", "failed") or time.monotonic() > deadline:
            return progress
        time.sleep(0.02)


def test_narrowcast_is_accepted_then_sent_with_progress(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(3)
    make_blocked(emulator, emu)
    response = api.narrowcast_with_http_info(NarrowcastRequest(messages=[TextMessage(text="防災訓練")]))
    assert response.status_code == 202
    request_id = response.headers["x-line-request-id"]
    progress = _wait_for_narrowcast(api, request_id)
    assert progress.phase == "succeeded"
    assert (progress.target_count, progress.success_count, progress.failure_count) == (3, 3, 0)
    assert progress.accepted_time is not None and progress.completed_time is not None
    assert emu.deliveries()["perUser"] == dict.fromkeys(friends, 1)


def test_narrowcast_by_friendship_length_and_limit(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    old = emu.create_followers(3)
    emu.advance_clock(10 * 24 * 3600)
    new = emu.create_followers(2)
    demographic = DemographicFilter.from_dict({"type": "subscriptionPeriod", "gte": "day_7"})
    response = api.narrowcast_with_http_info(
        NarrowcastRequest(
            messages=[TextMessage(text="長年の友だちへ")], filter=Filter(demographic=demographic)
        )
    )
    assert _wait_for_narrowcast(api, response.headers["x-line-request-id"]).success_count == 3
    assert set(emu.deliveries()["perUser"]) == set(old)

    limited = api.narrowcast_with_http_info(
        NarrowcastRequest(messages=[TextMessage(text="抽選")], limit=Limit(max=2))
    )
    progress = _wait_for_narrowcast(api, limited.headers["x-line-request-id"])
    assert progress.target_count == 2 and progress.success_count == 2
    newer = DemographicFilter.from_dict(
        {"type": "operator", "not": {"type": "subscriptionPeriod", "gte": "day_7"}}
    )
    third = api.narrowcast_with_http_info(
        NarrowcastRequest(messages=[TextMessage(text="新しい友だちへ")], filter=Filter(demographic=newer))
    )
    _wait_for_narrowcast(api, third.headers["x-line-request-id"])
    assert {
        m["user_id"] for m in emu.deliveries()["latest"] if m["message"]["text"] == "新しい友だちへ"
    } == set(new)


def test_narrowcast_filters_virtual_users_cannot_answer_are_400(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    emu.create_followers(2)
    gender = DemographicFilter.from_dict({"type": "gender", "oneOf": ["female"]})
    with pytest.raises(ApiException) as excinfo:
        api.narrowcast(NarrowcastRequest(messages=[TextMessage(text="x")], filter=Filter(demographic=gender)))
    body = error_body(excinfo.value)
    assert excinfo.value.status == 400
    assert body["details"][0]["property"] == "filter.demographic.type"
    assert "not supported" in body["details"][0]["message"]
    audience = raw(
        emulator,
        "POST",
        "/v2/bot/message/narrowcast",
        {
            "messages": [{"type": "text", "text": "x"}],
            "recipient": {"type": "audience", "audienceGroupId": 1},
        },
    )
    assert audience.status_code == 400
    assert audience.json()["details"][0]["property"] == "recipient.audienceGroupId"
    assert emu.deliveries()["total"] == 0


def test_narrowcast_progress_of_an_unknown_request_is_404(api: MessagingApi, emu: EmulatorControl) -> None:
    with pytest.raises(ApiException) as excinfo:
        api.get_narrowcast_progress(str(uuid.uuid4()))
    assert excinfo.value.status == 404


# --- reply -------------------------------------------------------------------------------------


def test_reply_token_is_single_use_and_free(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), user_id)
    result = api.reply_message(
        ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="受け付けました")])
    )
    assert len(result.sent_messages) == 1 and result.sent_messages[0].quote_token
    assert [m["endpoint"] for m in received(emu, user_id)] == ["reply"]
    with pytest.raises(ApiException) as excinfo:
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="二度目")]))
    assert excinfo.value.status == 400
    assert error_body(excinfo.value) == {"message": "Invalid reply token"}
    assert len(received(emu, user_id)) == 1
    assert api.get_message_quota_consumption().total_usage == 0


def test_reply_token_expires(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl, restore_settings: None
) -> None:
    user_id = make_friend(emulator, emu)
    channel = emulator.store.default_channel()
    token = emulator.store.issue_reply_token(channel, user_id)
    emu.advance_clock(31)
    with pytest.raises(ApiException) as excinfo:
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="遅すぎ")]))
    assert error_body(excinfo.value) == {"message": "Invalid reply token"}
    emu.settings(reply_token_ttl=120)
    token = emulator.store.issue_reply_token(channel, user_id)
    emu.advance_clock(60)
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="間に合った")]))
    assert [m["message"]["text"] for m in received(emu, user_id)] == ["間に合った"]


def test_invalid_reply_does_not_use_up_the_token(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), user_id)
    with pytest.raises(ApiException) as excinfo:
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="")]))
    assert error_body(excinfo.value)["details"] == [
        {"message": "May not be empty", "property": "messages[0].text"}
    ]
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="正しい返信")]))
    assert len(received(emu, user_id)) == 1


# --- retry keys --------------------------------------------------------------------------------


def test_retry_key_sends_once_and_answers_409_with_the_accepted_request_id(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=user_id, messages=[TextMessage(text="一度だけ")])
    first = api.push_message_with_http_info(request, x_line_retry_key=key)
    assert first.status_code == 200
    with pytest.raises(ApiException) as excinfo:
        api.push_message(request, x_line_retry_key=key)
    conflict = excinfo.value
    assert conflict.status == 409
    assert conflict.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert conflict.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    body = error_body(conflict)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"] == [m.to_dict() for m in first.data.sent_messages]
    assert len(received(emu, user_id)) == 1


def test_retry_key_on_multicast_and_broadcast(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(2)
    key = str(uuid.uuid4())
    first = api.multicast_with_http_info(
        MulticastRequest(to=friends, messages=[TextMessage(text="m")]), x_line_retry_key=key
    )
    with pytest.raises(ApiException) as excinfo:
        api.multicast(MulticastRequest(to=friends, messages=[TextMessage(text="m")]), x_line_retry_key=key)
    assert excinfo.value.status == 409
    assert error_body(excinfo.value) == {"message": "The retry key is already accepted"}
    assert excinfo.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    # Keys belong to the channel, not to one endpoint.
    with pytest.raises(ApiException) as excinfo:
        api.broadcast(BroadcastRequest(messages=[TextMessage(text="m")]), x_line_retry_key=key)
    assert excinfo.value.status == 409
    assert emu.deliveries()["perUser"] == dict.fromkeys(friends, 1)


def test_malformed_retry_key_is_400_and_does_not_send(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    for bad in ("not-a-uuid", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"):
        with pytest.raises(ApiException) as excinfo:
            api.push_message(
                PushMessageRequest(to=user_id, messages=[TextMessage(text="x")]), x_line_retry_key=bad
            )
        assert excinfo.value.status == 400
        assert error_body(excinfo.value)["details"][0]["property"] == "X-Line-Retry-Key"
    assert received(emu, user_id) == []


def test_retry_key_on_other_endpoints_is_400(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), user_id)
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    reply = raw(
        emulator,
        "POST",
        "/v2/bot/message/reply",
        {"replyToken": token, "messages": [{"type": "text", "text": "x"}]},
        key,
    )
    assert reply.status_code == 400 and "X-Line-Retry-Key" in reply.json()["message"]
    assert received(emu, user_id) == []
    for method, path in (("GET", f"/v2/bot/profile/{user_id}"), ("GET", "/v2/bot/message/quota")):
        assert raw(emulator, method, path, headers=key).status_code == 400
    # The token was not used by the refused request.
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="ok")]))


def test_refused_request_does_not_consume_the_key_and_keys_expire(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    key = str(uuid.uuid4())
    with pytest.raises(ApiException) as excinfo:
        api.push_message(
            PushMessageRequest(to=user_id, messages=[TextMessage(text="")]), x_line_retry_key=key
        )
    assert excinfo.value.status == 400
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="1")]), x_line_retry_key=key)
    emu.advance_clock(24 * 3600 - 60)
    with pytest.raises(ApiException) as excinfo:
        api.push_message(
            PushMessageRequest(to=user_id, messages=[TextMessage(text="1")]), x_line_retry_key=key
        )
    assert excinfo.value.status == 409
    emu.advance_clock(120)
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="2")]), x_line_retry_key=key)
    assert [m["message"]["text"] for m in received(emu, user_id)] == ["1", "2"]


def test_retry_key_of_a_narrowcast(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(2)
    key = str(uuid.uuid4())
    first = api.narrowcast_with_http_info(
        NarrowcastRequest(messages=[TextMessage(text="n")]), x_line_retry_key=key
    )
    _wait_for_narrowcast(api, first.headers["x-line-request-id"])
    with pytest.raises(ApiException) as excinfo:
        api.narrowcast(NarrowcastRequest(messages=[TextMessage(text="n")]), x_line_retry_key=key)
    assert excinfo.value.status == 409
    assert emu.deliveries()["perUser"] == dict.fromkeys(friends, 1)


# --- rate limit and quota ---------------------------------------------------------------------------


def test_multicast_rate_limit_answers_429(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl, restore_settings: None
) -> None:
    friends = emu.create_followers(2)
    emu.settings(rate_limits={"multicast": {"count": 2, "seconds": 60}})
    request = MulticastRequest(to=friends, messages=[TextMessage(text="r")])
    api.multicast(request)
    api.multicast(request)
    with pytest.raises(ApiException) as excinfo:
        api.multicast(request)
    assert excinfo.value.status == 429
    assert error_body(excinfo.value) == {"message": "The API rate limit has been exceeded. Try again later."}
    # Other endpoints have their own limits.
    api.push_message(PushMessageRequest(to=friends[0], messages=[TextMessage(text="p")]))
    emu.advance_clock(61)
    api.multicast(request)
    assert emu.deliveries()["perUser"] == {friends[0]: 4, friends[1]: 3}


def test_monthly_quota_answers_429_and_sends_nothing(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl, restore_settings: None
) -> None:
    friends = emu.create_followers(3)
    emu.settings(monthly_quota=4)
    quota = api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 4)
    api.push_message(PushMessageRequest(to=friends[0], messages=[TextMessage(text="1")]))
    api.multicast(MulticastRequest(to=friends[1:], messages=[TextMessage(text="2")]))
    assert api.get_message_quota_consumption().total_usage == 3
    with pytest.raises(ApiException) as excinfo:
        api.multicast(MulticastRequest(to=friends, messages=[TextMessage(text="3")]))
    assert excinfo.value.status == 429
    assert error_body(excinfo.value) == {"message": "You have reached your monthly limit."}
    with pytest.raises(ApiException):
        api.broadcast(BroadcastRequest(messages=[TextMessage(text="3")]))
    assert emu.deliveries()["total"] == 3
    # Replies are free and still go out; the last counted message fits.
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), friends[2])
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="返信")]))
    api.push_message(PushMessageRequest(to=friends[2], messages=[TextMessage(text="4")]))
    with pytest.raises(ApiException) as excinfo:
        api.push_message(PushMessageRequest(to=friends[2], messages=[TextMessage(text="5")]))
    assert excinfo.value.status == 429


def test_narrowcast_up_to_remaining_quota(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl, restore_settings: None
) -> None:
    emu.create_followers(5)
    emu.settings(monthly_quota=3)
    with pytest.raises(ApiException) as excinfo:
        api.narrowcast(NarrowcastRequest(messages=[TextMessage(text="x")]))
    assert excinfo.value.status == 429
    partial = api.narrowcast_with_http_info(
        NarrowcastRequest(messages=[TextMessage(text="x")], limit=Limit(up_to_remaining_quota=True))
    )
    assert _wait_for_narrowcast(api, partial.headers["x-line-request-id"]).success_count == 3
    emu.settings(monthly_quota=4)
    refused = api.narrowcast_with_http_info(
        NarrowcastRequest(
            messages=[TextMessage(text="y")],
            limit=Limit(up_to_remaining_quota=True, forbid_partial_delivery=True),
        )
    )
    progress = _wait_for_narrowcast(api, refused.headers["x-line-request-id"])
    assert (progress.phase, progress.error_code) == ("failed", 5)
    assert emu.deliveries()["total"] == 3


# --- conformance with LINE's OpenAPI -----------------------------------------------------------


def test_sending_answers_match_the_openapi_schemas(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    from tests.emulator.openapi import response_errors

    user_id = make_friend(emulator, emu)
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), user_id)
    text = [{"type": "text", "text": "x"}]
    cases: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("/v2/bot/message/push", {"to": user_id, "messages": text}, {}),
        ("/v2/bot/message/reply", {"replyToken": token, "messages": text}, {}),
        ("/v2/bot/message/reply", {"replyToken": token, "messages": text}, {}),
        ("/v2/bot/message/multicast", {"to": [user_id], "messages": text}, {}),
        ("/v2/bot/message/broadcast", {"messages": [*text] * 6}, {}),
        ("/v2/bot/message/narrowcast", {"messages": text}, {}),
    ]
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    cases += [("/v2/bot/message/push", {"to": user_id, "messages": text}, key)] * 2
    for path, body, headers in cases:
        response = raw(emulator, "POST", path, body, headers)
        payload = response.json() if response.content else None
        assert response_errors("messaging-api.yml", "POST", path, response.status_code, payload) == [], (
            path,
            response.status_code,
            payload,
        )
