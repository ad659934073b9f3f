"""Users and account endpoints through the SDK: profile, follower ids, quota and consumption,
counts per day, aggregation units, loading animation, and content download on api-data."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from linebot.v3.messaging import (
    ApiException,
    BroadcastRequest,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from PIL import Image

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from tests.emulator.test_messaging import error_body, make_blocked, make_friend, raw

JST = timezone(timedelta(hours=9))


def jst_day(emulator: RunningEmulator, days_ago: int = 0) -> str:
    moment = datetime.fromtimestamp(emulator.store.now(), JST) - timedelta(days=days_ago)
    return moment.strftime("%Y%m%d")


# --- profile and followers -----------------------------------------------------------------------


def test_profile_of_a_friend(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user = emu.create_user(
        "鈴木 美咲", language="en", pictureUrl="https://e.jp/p.png", statusMessage="よろしく"
    )
    emulator.store.default_channel().users[user["user_id"]].is_friend = True
    profile = api.get_profile(user["user_id"])
    assert (profile.display_name, profile.user_id, profile.language) == ("鈴木 美咲", user["user_id"], "en")
    assert (profile.picture_url, profile.status_message) == ("https://e.jp/p.png", "よろしく")
    plain = make_friend(emulator, emu, "高橋 健太")
    response = raw(emulator, "GET", f"/v2/bot/profile/{plain}")
    assert response.json() == {"displayName": "高橋 健太", "userId": plain, "language": "ja"}


def test_profile_of_anyone_else_is_404(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    stranger = str(emu.create_user("未登録 太郎")["user_id"])
    for user_id in (stranger, make_blocked(emulator, emu), "U" + "f" * 32):
        with pytest.raises(ApiException) as excinfo:
            api.get_profile(user_id)
        assert excinfo.value.status == 404
        assert error_body(excinfo.value) == {"message": "Not found"}


def test_follower_ids_in_pages(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    first = emu.create_followers(3)
    make_blocked(emulator, emu)
    emu.create_user("未登録 花子")
    second = emu.create_followers(2)
    everyone = api.get_followers()
    assert everyone.user_ids == first + second and everyone.next is None
    seen: list[str] = []
    start = None
    pages = 0
    while True:
        page = api.get_followers(start=start, limit=2)
        assert len(page.user_ids) <= 2
        seen += page.user_ids
        pages += 1
        if page.next is None:
            break
        start = page.next
    assert seen == first + second and pages >= 3


def test_follower_ids_bad_limit_or_token_is_400(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    for query in ("limit=1001", "limit=0", "limit=abc", "start=%%%"):
        response = raw(emulator, "GET", f"/v2/bot/followers/ids?{query}")
        assert response.status_code == 400, query
        assert response.json()["details"][0]["property"] in ("limit", "start")
    assert raw(emulator, "GET", "/v2/bot/followers/ids?limit=1000").status_code == 200


# --- quota and counts ------------------------------------------------------------------------------


def test_quota_and_consumption(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    quota = api.get_message_quota()
    assert quota.type == "none" and quota.value is None
    friends = emu.create_followers(3)
    api.multicast(MulticastRequest(to=friends, messages=[TextMessage(text="1"), TextMessage(text="2")]))
    api.broadcast(BroadcastRequest(messages=[TextMessage(text="3")]))
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), friends[0])
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="free")]))
    assert api.get_message_quota_consumption().total_usage == 6
    # A new month (Japan time) starts from zero.
    now = datetime.fromtimestamp(emulator.store.now(), JST)
    next_month = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 1, tzinfo=JST)
    emu.advance_clock(next_month.timestamp() - emulator.store.now())
    assert api.get_message_quota_consumption().total_usage == 0


def test_number_of_sent_messages_per_day(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(2)
    api.push_message(
        PushMessageRequest(to=friends[0], messages=[TextMessage(text="a"), TextMessage(text="b")])
    )
    api.multicast(MulticastRequest(to=friends, messages=[TextMessage(text="c")]))
    token = emulator.store.issue_reply_token(emulator.store.default_channel(), friends[1])
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="d")]))
    sent_day = jst_day(emulator)
    unready = api.get_number_of_sent_push_messages(sent_day)
    assert unready.status == "unready" and unready.success is None
    emu.advance_clock(24 * 3600)
    assert jst_day(emulator, 1) == sent_day
    counts = {
        "push": api.get_number_of_sent_push_messages(sent_day),
        "multicast": api.get_number_of_sent_multicast_messages(sent_day),
        "reply": api.get_number_of_sent_reply_messages(sent_day),
        "broadcast": api.get_number_of_sent_broadcast_messages(sent_day),
    }
    assert {k: (v.status, v.success) for k, v in counts.items()} == {
        "push": ("ready", 1),
        "multicast": ("ready", 2),
        "reply": ("ready", 1),
        "broadcast": ("ready", 0),
    }
    assert api.get_number_of_sent_push_messages("20170101").status == "out_of_service"
    bad = raw(emulator, "GET", "/v2/bot/message/delivery/push?date=2024-01-01")
    assert bad.status_code == 400 and bad.json()["details"][0]["property"] == "date"


def test_aggregation_units(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    friends = emu.create_followers(2)
    for unit in ("promo_a", "promo_b", "promo_a", "promo_c"):
        api.push_message(
            PushMessageRequest(
                to=friends[0], messages=[TextMessage(text=unit)], custom_aggregation_units=[unit]
            )
        )
    api.multicast(
        MulticastRequest(to=friends, messages=[TextMessage(text="m")], custom_aggregation_units=["promo_d"])
    )
    assert api.get_aggregation_unit_usage().num_of_custom_aggregation_units == 4
    first = api.get_aggregation_unit_name_list(limit="3")
    assert first.custom_aggregation_units == ["promo_a", "promo_b", "promo_c"] and first.next
    rest = api.get_aggregation_unit_name_list(start=first.next)
    assert rest.custom_aggregation_units == ["promo_d"] and rest.next is None
    bad = raw(
        emulator,
        "POST",
        "/v2/bot/message/push",
        {"to": friends[0], "messages": [{"type": "text", "text": "x"}], "customAggregationUnits": ["a", "b"]},
    )
    assert bad.json()["details"] == [
        {"message": "Size must be between 0 and 1", "property": "customAggregationUnits"}
    ]


# --- loading animation ------------------------------------------------------------------------------


def test_loading_animation(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user_id = make_friend(emulator, emu)
    response = api.show_loading_animation_with_http_info(
        ShowLoadingAnimationRequest(chat_id=user_id, loading_seconds=10)
    )
    assert response.status_code == 202
    assert 9 < emu.loading()[user_id] <= 10
    emu.advance_clock(5)
    assert 4 < emu.loading()[user_id] <= 5
    # A message from the account ends it.
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text="お待たせしました")]))
    assert emu.loading() == {}
    api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=user_id, loading_seconds=5))
    emu.advance_clock(6)
    assert emu.loading() == {}


def test_loading_animation_refusals(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    user_id = make_friend(emulator, emu)
    for seconds in (7, 65, 0):
        response = raw(
            emulator, "POST", "/v2/bot/chat/loading/start", {"chatId": user_id, "loadingSeconds": seconds}
        )
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"message": "Must be a multiple of 5 between 5 and 60", "property": "loadingSeconds"}
        ]
    for chat_id in (make_blocked(emulator, emu), "C" + "1" * 32):
        with pytest.raises(ApiException) as excinfo:
            api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=chat_id, loading_seconds=5))
        assert excinfo.value.status == 400
        assert error_body(excinfo.value)["details"][0]["property"] == "chatId"
    assert emu.loading() == {}


# --- content download (api-data) -------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_content_download(
    blob_api: MessagingApiBlob, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    store = emulator.store
    channel = store.default_channel()
    image = _png(1200, 800)
    store.store_content(channel, "100000000000000001", image, "image/png")
    store.store_content(channel, "100000000000000002", b"ID3audio", "audio/m4a")
    response = blob_api.get_message_content_with_http_info("100000000000000001")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert bytes(response.data) == image
    preview = bytes(blob_api.get_message_content_preview("100000000000000001"))
    with Image.open(io.BytesIO(preview)) as shown:
        assert shown.format == "JPEG" and max(shown.size) <= 240 and shown.size[0] > shown.size[1]
    assert blob_api.get_message_content_transcoding_by_message_id("100000000000000001").status == "succeeded"
    assert bytes(blob_api.get_message_content("100000000000000002")) == b"ID3audio"
    with pytest.raises(ApiException) as excinfo:
        blob_api.get_message_content_preview("100000000000000002")
    assert excinfo.value.status == 404


def test_content_unknown_expired_or_on_the_wrong_host_is_404(
    blob_api: MessagingApiBlob, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    store = emulator.store
    store.store_content(store.default_channel(), "100000000000000003", _png(10, 10), "image/png")
    assert raw(emulator, "GET", "/v2/bot/message/100000000000000003/content").status_code == 404
    with pytest.raises(ApiException) as excinfo:
        blob_api.get_message_content("999")
    assert excinfo.value.status == 404
    emu.advance_clock(emulator.config.content_ttl + 1)
    for call in (
        blob_api.get_message_content,
        blob_api.get_message_content_preview,
        blob_api.get_message_content_transcoding_by_message_id,
    ):
        with pytest.raises(ApiException) as excinfo:
            call("100000000000000003")
        assert excinfo.value.status == 404


# --- conformance -------------------------------------------------------------------------------------


def test_account_answers_match_the_openapi_schemas(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    from tests.emulator.openapi import response_errors

    friends = emu.create_followers(3)
    api.push_message(
        PushMessageRequest(to=friends[0], messages=[TextMessage(text="x")], custom_aggregation_units=["u"])
    )
    emu.advance_clock(24 * 3600)
    day = jst_day(emulator, 1)
    paths = [
        f"/v2/bot/profile/{friends[0]}",
        "/v2/bot/followers/ids?limit=2",
        "/v2/bot/message/quota",
        "/v2/bot/message/quota/consumption",
        f"/v2/bot/message/delivery/push?date={day}",
        f"/v2/bot/message/delivery/reply?date={jst_day(emulator)}",
        "/v2/bot/message/aggregation/info",
        "/v2/bot/message/aggregation/list",
    ]
    for path in paths:
        response = raw(emulator, "GET", path)
        assert response.status_code == 200
        assert response_errors("messaging-api.yml", "GET", path.split("?")[0], 200, response.json()) == [], (
            path
        )
