"""Insight endpoints through the SDK's ``linebot.v3.insight.Insight``: followers, deliveries per day,
interaction statistics of a broadcast or narrowcast and per aggregation unit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from linebot.v3.insight import ApiClient, ApiException, Configuration, Insight
from linebot.v3.messaging import (
    BroadcastRequest,
    MessagingApi,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    TemplateMessage,
    TextMessage,
)

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from tests.emulator.test_messaging import make_blocked, raw
from tests.emulator.test_messaging_account import jst_day

DAY = 24 * 3600


@pytest.fixture
def insight(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Insight]:
    configuration = Configuration(
        host=emulator.config.api_base, access_token=emulator.config.channels[0].access_token
    )
    with ApiClient(configuration) as client:
        yield Insight(client)


def test_number_of_followers(insight: Insight, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    emu.create_followers(3)
    make_blocked(emulator, emu)
    emu.create_user("未登録 太郎")
    first_day = jst_day(emulator)
    assert insight.get_number_of_followers(first_day).status == "unready"
    emu.advance_clock(DAY)
    emu.create_followers(2)
    result = insight.get_number_of_followers(first_day)
    assert (result.status, result.followers, result.targeted_reaches, result.blocks) == ("ready", 4, 3, 1)
    emu.advance_clock(DAY)
    # Without a date: yesterday.
    latest = insight.get_number_of_followers()
    assert (latest.followers, latest.targeted_reaches, latest.blocks) == (6, 5, 1)
    assert insight.get_number_of_followers("20160101").status == "out_of_service"


def test_number_of_message_deliveries(
    insight: Insight, api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(3)
    api.broadcast(BroadcastRequest(messages=[TextMessage(text="b")]))
    api.push_message(PushMessageRequest(to=friends[0], messages=[TextMessage(text="p")]))
    api.multicast(MulticastRequest(to=friends[:2], messages=[TextMessage(text="m")]))
    day = jst_day(emulator)
    assert insight.get_number_of_message_deliveries(day).status == "unready"
    emu.advance_clock(DAY)
    result = insight.get_number_of_message_deliveries(day)
    assert result.status == "ready"
    assert (result.broadcast, result.api_broadcast, result.api_push, result.api_multicast) == (3, 3, 1, 2)
    assert (result.targeting, result.api_narrowcast, result.api_reply) == (0, 0, 0)


def test_message_event_of_a_broadcast_and_a_narrowcast(
    insight: Insight, api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    emu.create_followers(3)
    buttons = TemplateMessage.from_dict(
        {
            "type": "template",
            "altText": "お知らせ",
            "template": {
                "type": "buttons",
                "text": "詳しくはこちら",
                "actions": [
                    {"type": "uri", "label": "市のサイト", "uri": "https://www.city.ofunato.iwate.jp/"}
                ],
            },
        }
    )
    sent = api.broadcast_with_http_info(BroadcastRequest(messages=[TextMessage(text="a"), buttons]))
    request_id = sent.headers["x-line-request-id"]
    event = insight.get_message_event(request_id)
    overview = event.overview
    assert (overview.request_id, overview.delivered) == (request_id, 3)
    assert abs(overview.timestamp - emulator.store.now()) < 5
    assert overview.unique_impression is None and overview.unique_click is None
    assert [m.seq for m in event.messages] == [1, 2] and all(m.impression is None for m in event.messages)
    assert [(c.seq, c.url, c.click) for c in event.clicks] == [
        (2, "https://www.city.ofunato.iwate.jp/", None)
    ]

    narrow = api.narrowcast_with_http_info(NarrowcastRequest(messages=[TextMessage(text="n")]))
    narrow_id = narrow.headers["x-line-request-id"]
    deadline = time.monotonic() + 5
    while api.get_narrowcast_progress(narrow_id).phase != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert insight.get_message_event(narrow_id).overview.delivered == 3


def test_message_event_of_other_requests(
    insight: Insight, api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(2)
    push = api.push_message_with_http_info(
        PushMessageRequest(to=friends[0], messages=[TextMessage(text="p")])
    )
    with pytest.raises(ApiException) as excinfo:
        insight.get_message_event(push.headers["x-line-request-id"])
    assert excinfo.value.status == 400
    with pytest.raises(ApiException) as excinfo:
        insight.get_message_event(str(uuid.uuid4()))
    assert excinfo.value.status == 404


def test_statistics_per_unit(
    insight: Insight, api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    friends = emu.create_followers(2)
    api.multicast(
        MulticastRequest(
            to=friends, messages=[TextMessage(text="キャンペーン")], custom_aggregation_units=["spring"]
        )
    )
    day = jst_day(emulator)
    stats = insight.get_statistics_per_unit("spring", day, day)
    assert [m.seq for m in stats.messages] == [1]
    assert stats.overview.unique_impression is None
    assert insight.get_statistics_per_unit("autumn", day, day).messages == []
    too_long = raw(
        emulator,
        "GET",
        "/v2/bot/insight/message/event/aggregation?customAggregationUnit=spring&from=20250101&to=20250301",
    )
    assert too_long.status_code == 400


def test_insight_answers_match_the_openapi_schemas(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    from tests.emulator.openapi import response_errors

    emu.create_followers(2)
    sent = api.broadcast_with_http_info(BroadcastRequest(messages=[TextMessage(text="x")]))
    day = jst_day(emulator)
    emu.advance_clock(DAY)
    paths = [
        f"/v2/bot/insight/followers?date={day}",
        f"/v2/bot/insight/message/delivery?date={day}",
        f"/v2/bot/insight/message/event?requestId={sent.headers['x-line-request-id']}",
        f"/v2/bot/insight/message/event/aggregation?customAggregationUnit=u&from={day}&to={day}",
        "/v2/bot/insight/demographic",
    ]
    for path in paths:
        response = raw(emulator, "GET", path)
        assert response.status_code == 200, path
        assert response_errors("insight.yml", "GET", path.split("?")[0], 200, response.json()) == [], path
