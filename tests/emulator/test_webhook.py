"""Webhook delivery: signature, headers, body, background sending, redelivery, the log, and the
webhook endpoint API (get, set, test) through line-bot-sdk."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiException,
    MessagingApi,
    SetWebhookEndpointRequest,
)
from linebot.v3.messaging import TestWebhookEndpointRequest as VerifyRequest
from linebot.v3.webhooks import MessageEvent, TextMessageContent

from emulator.client import EmulatorControl, EmulatorError
from emulator.server import RunningEmulator, free_port
from emulator.webhook import endpoint_problem, signature
from tests.emulator.openapi import response_errors, schema_errors
from tests.emulator.webhook_receiver import Receiver


@pytest.fixture
def receiver(emu: EmulatorControl) -> Iterator[Receiver]:
    bot = Receiver()
    emu.channel(webhookUrl=bot.url, webhookActive=True)
    yield bot
    emu.drain_webhooks(timeout=10)
    bot.close()


@pytest.fixture
def friend(emu: EmulatorControl, receiver: Receiver) -> str:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    emu.follow(user_id)
    emu.drain_webhooks()
    receiver.requests.clear()
    emu.clear_webhook_log()
    return user_id


def secret(emulator: RunningEmulator) -> str:
    return emulator.config.channels[0].channel_secret


def test_signed_body_parses_with_the_sdk(
    emu: EmulatorControl, emulator: RunningEmulator, receiver: Receiver, friend: str
) -> None:
    emu.send_text(friend, "こんにちは")
    emu.drain_webhooks()
    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"] == "LineBotWebhook/2.0"
    assert request.headers["x-line-signature"] == signature(secret(emulator), request.body)
    payload = WebhookParser(secret(emulator)).parse(
        request.body.decode("utf-8"), request.headers["x-line-signature"], as_payload=True
    )
    assert payload.destination == emulator.config.channels[0].bot_user_id
    [event] = payload.events
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert event.message.text == "こんにちは"
    assert event.source is not None and event.source.user_id == friend
    with pytest.raises(InvalidSignatureError):
        WebhookParser("another-secret").parse(
            request.body.decode("utf-8"), request.headers["x-line-signature"]
        )


def test_body_follows_the_webhook_schema(
    emu: EmulatorControl, receiver: Receiver, friend: str, emulator: RunningEmulator
) -> None:
    emu.send_text(friend, "ごみの日は？")
    emu.drain_webhooks()
    [request] = receiver.requests
    assert schema_errors("webhook.yml", "CallbackRequest", request.json()) == []
    broken = {**request.json(), "destination": "not-a-bot-id"}
    assert schema_errors("webhook.yml", "CallbackRequest", broken), "the schema check must be able to fail"


def test_sending_does_not_wait_for_the_bot(emu: EmulatorControl, receiver: Receiver, friend: str) -> None:
    receiver.delay = 1.0
    started = time.monotonic()
    emu.send_text(friend, "急ぎません")
    assert time.monotonic() - started < 0.5
    assert emu.drain_webhooks() == 0
    assert time.monotonic() - started >= 1.0
    assert [e["message"]["text"] for e in receiver.events()] == ["急ぎません"]


def test_one_users_events_in_order_users_in_parallel(
    emu: EmulatorControl, receiver: Receiver, friend: str
) -> None:
    other = str(emu.create_user("佐藤 一郎")["user_id"])
    emu.follow(other)
    emu.drain_webhooks()
    receiver.requests.clear()
    receiver.delay = 0.5
    started = time.monotonic()
    for n in range(3):
        emu.send_text(friend, f"花子{n}")
    emu.send_text(other, "一郎")
    emu.drain_webhooks()
    elapsed = time.monotonic() - started
    texts = [e["message"]["text"] for e in receiver.events()]
    assert [t for t in texts if t.startswith("花子")] == ["花子0", "花子1", "花子2"]
    assert 1.5 <= elapsed < 1.95, "one user's requests one by one, the other user's alongside"


def test_inactive_or_missing_webhook_sends_nothing(
    emu: EmulatorControl, receiver: Receiver, friend: str
) -> None:
    emu.channel(webhookActive=False)
    emu.send_text(friend, "届かない")
    emu.drain_webhooks()
    assert receiver.requests == []
    emu.channel(webhookActive=True, webhookUrl="")
    emu.send_text(friend, "これも届かない")
    emu.drain_webhooks()
    assert receiver.requests == [] and emu.webhook_log() == []


def test_every_attempt_is_logged(emu: EmulatorControl, receiver: Receiver, friend: str) -> None:
    receiver.answer(503)
    result = emu.send_text(friend, "ログ")
    emu.drain_webhooks()
    [entry] = emu.webhook_log()
    assert entry["url"] == receiver.url
    assert entry["status"] == 503 and entry["reason"] == "Service Unavailable"
    assert entry["isRedelivery"] is False and entry["verify"] is False
    assert entry["webhookEventIds"] == [result["events"][0]["webhookEventId"]]
    assert entry["body"]["events"][0]["message"]["text"] == "ログ"


def test_no_redelivery_unless_turned_on(emu: EmulatorControl, receiver: Receiver, friend: str) -> None:
    emu.settings(webhook_redelivery=False)
    emu.webhook_redelivery([0.01, 0.01])
    receiver.answer(500)
    emu.send_text(friend, "一度だけ")
    emu.drain_webhooks()
    assert len(receiver.requests) == 1


def test_redelivery_repeats_the_same_event_ids(
    emu: EmulatorControl, receiver: Receiver, friend: str, emulator: RunningEmulator
) -> None:
    emu.settings(webhook_redelivery=True)
    emu.webhook_redelivery([0.05, 0.05, 0.05])
    try:
        receiver.answer(500, 502)
        emu.send_text(friend, "再送して")
        emu.postback(friend, "action=again")
        emu.drain_webhooks()
    finally:
        emu.settings(webhook_redelivery=False)
    bodies = [r.json() for r in receiver.requests]
    assert len(bodies) == 4  # two failed first attempts, then each redelivered once with 200
    firsts = [b for b in bodies if not b["events"][0]["deliveryContext"]["isRedelivery"]]
    agains = [b for b in bodies if b["events"][0]["deliveryContext"]["isRedelivery"]]
    assert len(firsts) == 2 and len(agains) == 2
    first_ids = sorted(b["events"][0]["webhookEventId"] for b in firsts)
    again_ids = sorted(b["events"][0]["webhookEventId"] for b in agains)
    assert first_ids == again_ids
    for request in receiver.requests:
        assert request.headers["x-line-signature"] == signature(secret(emulator), request.body)
    for again in agains:
        original = next(
            b for b in firsts if b["events"][0]["webhookEventId"] == again["events"][0]["webhookEventId"]
        )
        assert again["events"][0]["timestamp"] == original["events"][0]["timestamp"]
    log = emu.webhook_log()
    assert sorted((e["status"], e["isRedelivery"]) for e in log) == [
        (200, True),
        (200, True),
        (500, False),
        (502, False),
    ]


def test_redelivery_after_a_failed_connection_gives_up(emu: EmulatorControl, friend: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/callback"
    emu.channel(webhookUrl=dead)
    emu.settings(webhook_redelivery=True)
    emu.webhook_redelivery([0.01, 0.01])
    try:
        emu.send_text(friend, "誰もいない")
        emu.drain_webhooks()
    finally:
        emu.settings(webhook_redelivery=False)
    log = emu.webhook_log()
    assert [e["isRedelivery"] for e in log] == [False, True, True]
    assert all(e["status"] is None and e["reason"] == "could_not_connect" for e in log)
    assert all(dead in e["error"] for e in log)
    assert len({tuple(e["webhookEventIds"]) for e in log}) == 1


def test_a_slow_bot_is_a_request_timeout(emu: EmulatorControl, receiver: Receiver, friend: str) -> None:
    timeout = emu.settings()["webhook_timeout"]
    emu.settings(webhook_timeout=0.2)
    try:
        receiver.delay = 1.0
        emu.send_text(friend, "遅い")
        emu.drain_webhooks()
    finally:
        emu.settings(webhook_timeout=timeout)
    [entry] = emu.webhook_log()
    assert entry["status"] is None and entry["reason"] == "request_timeout"
    assert len(receiver.requests) == 1


def test_webhook_endpoint_get_and_set(api: MessagingApi, emu: EmulatorControl) -> None:
    info = api.get_webhook_endpoint()
    assert info.endpoint == "" and info.active is False
    api.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint="https://kairan.example.jp/line/webhook"))
    info = api.get_webhook_endpoint()
    assert info.endpoint == "https://kairan.example.jp/line/webhook" and info.active is True
    assert emu.channel()["webhookUrl"] == "https://kairan.example.jp/line/webhook"
    emu.channel(webhookActive=False)
    assert api.get_webhook_endpoint().active is False
    # Local http URLs are the emulator's allowance for a bot running next to it.
    api.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint="http://127.0.0.1:8000/line/webhook"))
    assert api.get_webhook_endpoint().endpoint == "http://127.0.0.1:8000/line/webhook"


@pytest.mark.parametrize(
    "endpoint",
    ["http://kairan.example.jp/line/webhook", "ftp://kairan.example.jp/", "not a url"],
)
def test_webhook_endpoint_refuses_what_line_refuses(api: MessagingApi, endpoint: str) -> None:
    with pytest.raises(ApiException) as excinfo:
        api.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint=endpoint))
    assert excinfo.value.status == 400
    assert '"property":"endpoint"' in str(excinfo.value.body).replace(" ", "")
    assert api.get_webhook_endpoint().endpoint == ""


def test_webhook_endpoint_longer_than_500_is_400(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    # The SDK refuses it before sending; LINE's answer is checked with a plain request.
    token = emulator.config.channels[0].access_token
    response = httpx.put(
        emulator.config.api_base + "/v2/bot/channel/webhook/endpoint",
        headers={"Authorization": f"Bearer {token}"},
        json={"endpoint": "https://kairan.example.jp/" + "a" * 480},
    )
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"message": "size must be between 0 and 500", "property": "endpoint"}
    ]


def test_local_http_allowance() -> None:
    assert endpoint_problem("http://localhost:8000/cb") is None
    assert endpoint_problem("http://web:8000/cb") is None  # a compose service name
    assert endpoint_problem("http://192.168.1.20/cb") is None
    assert endpoint_problem("http://8.8.8.8/cb") == "must be an HTTPS URL"
    assert endpoint_problem("https://8.8.8.8/cb") is None


def test_verify_sends_no_events_and_reports_the_status(
    api: MessagingApi, emu: EmulatorControl, receiver: Receiver, emulator: RunningEmulator
) -> None:
    result = api.test_webhook_endpoint()
    assert result.success is True and result.status_code == 200
    assert result.reason == "OK" and result.detail == "200"
    [request] = receiver.requests
    assert request.json() == {"destination": emulator.config.channels[0].bot_user_id, "events": []}
    assert (
        WebhookParser(secret(emulator)).parse(request.body.decode(), request.headers["x-line-signature"])
        == []
    )
    receiver.answer(404)
    failed = api.test_webhook_endpoint()
    assert failed.success is False and failed.status_code == 404 and failed.detail == "404"
    assert failed.reason == "Not Found"
    assert [e["verify"] for e in emu.webhook_log()] == [True, True]


def test_verify_another_url_and_a_dead_one(
    api: MessagingApi, emu: EmulatorControl, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        result = api.test_webhook_endpoint(VerifyRequest(endpoint=other.url))
        assert result.success is True and len(other.requests) == 1 and receiver.requests == []
    finally:
        other.close()
    assert emu.channel()["webhookUrl"] == receiver.url  # testing a URL does not save it
    dead = api.test_webhook_endpoint(VerifyRequest(endpoint=f"http://127.0.0.1:{free_port()}/callback"))
    assert dead.success is False and dead.status_code == 0 and dead.reason == "could_not_connect"


def test_verify_answer_matches_lines_schema(
    emulator: RunningEmulator, emu: EmulatorControl, receiver: Receiver
) -> None:
    token = emulator.config.channels[0].access_token
    response = httpx.post(
        emulator.config.api_base + "/v2/bot/channel/webhook/test",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.headers["x-line-request-id"]
    body = response.json()
    assert response_errors("messaging-api.yml", "POST", "/v2/bot/channel/webhook/test", 200, body) == []
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == len("2020-09-30T05:38:20.031Z")
    get = httpx.get(
        emulator.config.api_base + "/v2/bot/channel/webhook/endpoint",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (
        response_errors("messaging-api.yml", "GET", "/v2/bot/channel/webhook/endpoint", 200, get.json()) == []
    )


def test_verify_without_a_url_is_400(api: MessagingApi, emu: EmulatorControl) -> None:
    with pytest.raises(ApiException) as excinfo:
        api.test_webhook_endpoint()
    assert excinfo.value.status == 400


def test_webhook_endpoints_need_a_token(bad_token_api: MessagingApi) -> None:
    for call in (
        bad_token_api.get_webhook_endpoint,
        lambda: bad_token_api.set_webhook_endpoint(SetWebhookEndpointRequest(endpoint="https://x.jp/")),
        bad_token_api.test_webhook_endpoint,
    ):
        with pytest.raises(ApiException) as excinfo:
            call()
        assert excinfo.value.status == 401


def test_control_errors(emu: EmulatorControl) -> None:
    with pytest.raises(EmulatorError, match="delays"):
        emu._call("PUT", "/webhook/redelivery", {"delays": "soon"})
    with pytest.raises(EmulatorError, match="404"):
        emu._call("GET", "/channels/9999999999/webhook-log")
    assert emu.webhook_redelivery([1, 2])["delays"] == [1.0, 2.0]
