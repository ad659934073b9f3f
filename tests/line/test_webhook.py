"""The webhook receiver: LINE-shaped bodies from the fixtures beside the receiver and from the
emulator's real signed posts; missing, bad and forged signatures, altered and oversized bodies,
malformed JSON, replays and redeliveries, LINE's verify request, unknown event types."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from django.db import connection, connections
from django.test import Client, RequestFactory
from django_q.models import OrmQ

import line_channel
from emulator.client import EmulatorControl
from emulator.config import ChannelSpec
from line_channel import events, tasks, webhook
from line_channel.models import Follower, LineChannelSettings, WebhookEvent
from tests.emulator.openapi import SPEC_DIR, schema_errors

FIXTURES = Path(line_channel.__file__).resolve().parent / "fixtures" / "webhook"
URL = "/line/webhook/"
SECRET = ChannelSpec().channel_secret  # what the line_channel fixture saves in LINE連携設定


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def post(client: Client, body: bytes, signature: str | None = "sign", secret: str = SECRET) -> Any:
    headers: dict[str, Any] = {}
    if signature == "sign":
        headers["HTTP_X_LINE_SIGNATURE"] = webhook.signature_of(secret, body)
    elif signature is not None:
        headers["HTTP_X_LINE_SIGNATURE"] = signature
    return client.post(URL, data=body, content_type="application/json; charset=utf-8", **headers)


@pytest.fixture(autouse=True)
def fresh_receiver() -> Iterator[None]:
    """Each test starts with no secret held in memory and no slot marked as enqueued."""
    webhook.channel_secret.forget()
    tasks._last_slot = -1
    yield
    webhook.channel_secret.forget()


@pytest.fixture
def secret(line_channel: Any) -> str:
    """LINE連携設定 aimed at the emulator (profiles of followers are fetched from it)."""
    assert line_channel.channel_secret == SECRET
    return SECRET


def payload_of(event: WebhookEvent) -> dict[str, Any]:
    """The decrypted event (an EncryptedJSONField, a text field to the type checker)."""
    return cast(dict[str, Any], event.payload)


# --- LINE's shapes ------------------------------------------------------------------------------


def test_fixtures_are_shaped_like_lines_webhook_bodies() -> None:
    if not SPEC_DIR.is_dir():
        pytest.skip(f"LINE's OpenAPI files are not at {SPEC_DIR}")
    names = sorted(path.stem for path in FIXTURES.glob("*.json"))
    assert "follow" in names and "verify" in names and len(names) >= 10
    for name in names:
        payload = json.loads(fixture_body(name))
        if name == "unknown_type":  # a type LINE may add later: only the common event fields apply
            for event in payload["events"]:
                assert schema_errors("webhook.yml", "CallbackRequest", {**payload, "events": []}) == []
                keys = ("source", "timestamp", "mode", "webhookEventId", "deliveryContext")
                common = {key: event[key] for key in keys}
                assert schema_errors("webhook.yml", "UnfollowEvent", {**common, "type": "unfollow"}) == []
            continue
        assert schema_errors("webhook.yml", "CallbackRequest", payload) == [], name


# --- accepted ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_request_answers_200_and_stores_nothing(client: Client, secret: str) -> None:
    response = post(client, fixture_body("verify"))
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Length"] == "0"  # not chunked: LINE reads a plain 200
    assert WebhookEvent.objects.count() == 0
    assert OrmQ.objects.count() == 0


@pytest.mark.django_db
def test_follow_is_stored_encrypted_and_processing_is_enqueued(client: Client, secret: str) -> None:
    body = fixture_body("follow")
    response = post(client, body)
    assert response.status_code == 200 and response.content == b""
    [event] = WebhookEvent.objects.all()
    sent = json.loads(body)["events"][0]
    assert event.event_id == sent["webhookEventId"] and event.event_type == "follow"
    assert event.source_user_id == sent["source"]["userId"]
    assert int(event.occurred_at.timestamp() * 1000) == sent["timestamp"]
    assert event.payload == sent and event.state == WebhookEvent.State.PENDING
    assert not event.redelivered and event.duplicates == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM line_channel_webhookevent WHERE id = %s", [event.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("aesgcm:") and sent["replyToken"] not in stored
    [queued] = OrmQ.objects.all()
    assert queued.func() == tasks.TASK


@pytest.mark.django_db
def test_two_users_in_one_body_are_stored_as_two_events(client: Client, secret: str) -> None:
    assert post(client, fixture_body("batch_two_events")).status_code == 200
    stored = list(WebhookEvent.objects.order_by("occurred_at").values_list("event_type", flat=True))
    assert stored == ["follow", "message"]


@pytest.mark.django_db
def test_redelivery_and_replay_are_recognised_and_never_processed_twice(client: Client, secret: str) -> None:
    original = fixture_body("message_text")
    assert post(client, original).status_code == 200
    processed = events.process_pending()
    assert processed.total == 1
    first = WebhookEvent.objects.get()
    assert first.state != WebhookEvent.State.PENDING and first.processed_at is not None

    # LINE redelivers the same event (same webhookEventId, isRedelivery true) ...
    assert post(client, fixture_body("message_text_redelivered")).status_code == 200
    # ... and someone replays the captured original request, signature and all.
    assert post(client, original).status_code == 200
    again = WebhookEvent.objects.get()
    assert again.duplicates == 2 and again.redelivered
    assert again.processed_at == first.processed_at and again.attempts == first.attempts
    assert events.process_pending().total == 0


@pytest.mark.django_db
def test_unknown_and_unused_event_types_are_stored_and_ignored(client: Client, secret: str) -> None:
    for name in ("unknown_type", "beacon"):
        assert post(client, fixture_body(name)).status_code == 200
    assert events.process_pending().ignored == 2
    stored = {e.event_type: e for e in WebhookEvent.objects.all()}
    assert set(stored) == {"cityAlert", "beacon"}
    for event in stored.values():
        assert event.state == WebhookEvent.State.IGNORED and event.error == ""
        assert payload_of(event)["webhookEventId"] == event.event_id


@pytest.mark.django_db
def test_follow_fixture_makes_a_follower_when_processed(client: Client, secret: str) -> None:
    assert post(client, fixture_body("follow")).status_code == 200
    events.process_pending()
    follower = Follower.objects.get()
    assert follower.line_user_id == "U4af4980629e7b8b7c38cd1e1dbd5b8d1"
    assert follower.status == Follower.Status.FOLLOWING
    assert WebhookEvent.objects.get().state == WebhookEvent.State.DONE


# --- rejected ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_missing_bad_forged_and_altered_signatures_are_rejected(
    client: Client, secret: str, caplog: Any
) -> None:
    body = fixture_body("follow")
    before = webhook.rejection_counts()
    caplog.set_level(logging.WARNING, logger="line_channel.webhook")

    assert post(client, body, signature=None).status_code == 400
    assert post(client, body, signature="").status_code == 400
    assert post(client, body, signature="not base64 at all ☃").status_code == 401
    assert (
        post(client, body, signature=webhook.signature_of("another-channel-secret", body)).status_code == 401
    )
    altered = body.replace(b'isUnblocked": false', b'isUnblocked": true')
    assert altered != body
    assert post(client, altered, signature=webhook.signature_of(SECRET, body)).status_code == 401

    assert WebhookEvent.objects.count() == 0
    after = webhook.rejection_counts()
    assert after["missing_signature"] - before["missing_signature"] == 2
    assert after["bad_signature"] - before["bad_signature"] == 3
    messages = [r.getMessage() for r in caplog.records if r.name == "line_channel.webhook"]
    assert sum("missing_signature" in m for m in messages) == 2
    assert sum("bad_signature" in m for m in messages) == 3


@pytest.mark.django_db
def test_a_changed_secret_is_used_at_once(client: Client, secret: str) -> None:
    body = fixture_body("follow")
    assert post(client, fixture_body("verify")).status_code == 200  # the old secret is now held
    LineChannelSettings.objects.update(channel_secret="a-rotated-secret")  # no signal: another process
    assert post(client, body, secret="a-rotated-secret").status_code == 200
    assert post(client, fixture_body("unfollow")).status_code == 401


@pytest.mark.django_db
def test_without_a_channel_secret_every_request_is_refused(client: Client) -> None:
    assert LineChannelSettings.load().channel_secret == ""
    assert post(client, fixture_body("follow")).status_code == 503
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_oversized_body_is_refused_before_it_is_read(client: Client, secret: str, settings: Any) -> None:
    filler = "あ" * (webhook.MAX_BODY_BYTES // 3 + 10)
    payload = json.loads(fixture_body("message_text"))
    payload["events"][0]["message"]["text"] = filler
    big = body_of(payload)
    assert len(big) > webhook.MAX_BODY_BYTES
    assert post(client, big).status_code == 413

    class Untouchable:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the receiver read an oversized body")

        readline = read

    request = RequestFactory().post(URL, data=b"{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = str(50 * 1024 * 1024)
    request.META["HTTP_X_LINE_SIGNATURE"] = "x"
    request._stream = Untouchable()  # type: ignore[assignment]
    assert webhook.receive(request).status_code == 413

    settings.KAIRAN_LINE_WEBHOOK_MAX_BYTES = 200
    assert post(client, fixture_body("follow")).status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"destination": "U0", "events": {}}',
        b'{"destination": 1, "events": []}',
        b'{"destination": "U0"}',
        b'{"destination": "U0", "events": [1]}',
        b'{"destination": "U0", "events": [{"type": "follow", "timestamp": 1}]}',
        b'{"destination": "U0", "events": [{"type": "follow", "timestamp": "1", "webhookEventId": "01A"}]}',
        b'{"destination": "U0", "events": [{"type": "", "timestamp": 1, "webhookEventId": "01A"}]}',
        b'{"destination": "U0", "events": [{"type": "follow", "timestamp": true, "webhookEventId": "01A"}]}',
        b'{"events": [{"type": "follow", "timestamp": 1, "webhookEventId": "01A", "source": "U1"}]}',
        b'{"events": [{"type": "follow", "timestamp": 1, "webhookEventId": "01A", "source": {"userId": 5}}]}',
        b'{"events": [{"type": "x", "timestamp": 1, "webhookEventId": "01A", "deliveryContext": []}]}',
        ('{"events": [{"type": "x", "timestamp": 1, "webhookEventId": "' + "A" * 65 + '"}]}').encode(),
    ],
)
def test_malformed_bodies_are_400_and_nothing_is_stored(client: Client, secret: str, body: bytes) -> None:
    assert post(client, body).status_code == 400
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_only_post_is_accepted(client: Client, secret: str) -> None:
    assert client.get(URL).status_code == 405


# --- concurrency -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_deliveries_of_one_event_store_it_once(secret: str) -> None:
    parsed = events.parse_body(fixture_body("message_text"))
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            events.store_events(parsed)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = WebhookEvent.objects.get()
    assert stored.duplicates == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_connection_dropped_between_requests_loses_no_event(client: Client, secret: str) -> None:
    """The receiver skips Django's per-request ping; a dead connection is replaced on failure."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite connections do not drop")
    first = fixture_body("follow")
    assert post(client, first).status_code == 200
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
    second = fixture_body("message_text")
    assert post(client, second).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert connection.connection.info.backend_pid != backend


# --- the emulator's real posts ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_emulator_posts_follow_and_text_and_they_are_stored(
    live_server: Any, line_channel: Any, emu: EmulatorControl, webhook_to: Any
) -> None:
    webhook_to(live_server.url)
    user = emu.create_user("大船渡 花子")["user_id"]
    emu.follow(user)
    emu.send_text(user, "避難所はどこですか")
    assert emu.drain_webhooks(timeout=10) == 0
    attempts = emu.webhook_log()
    assert [a["status"] for a in attempts] == [200, 200]

    stored = list(WebhookEvent.objects.order_by("occurred_at"))
    assert [e.event_type for e in stored] == ["follow", "message"]
    assert [e.event_id for e in stored] == [a["webhookEventIds"][0] for a in attempts]
    assert all(e.source_user_id == user for e in stored)
    assert payload_of(stored[1])["message"]["text"] == "避難所はどこですか"
    assert stored[1].payload == attempts[1]["body"]["events"][0]

    events.process_pending()
    follower = Follower.objects.get(line_user_id=user)
    assert follower.status == Follower.Status.FOLLOWING and follower.display_name == "大船渡 花子"
    states = dict(WebhookEvent.objects.values_list("event_type", "state"))
    assert states == {
        "follow": WebhookEvent.State.DONE,
        "message": WebhookEvent.State.DONE,
    }  # (the chatbot's)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_emulator_redelivers_what_was_refused_and_it_is_marked(
    live_server: Any, line_channel: Any, emu: EmulatorControl, webhook_to: Any
) -> None:
    webhook_to(live_server.url)
    emu.settings(webhook_redelivery=True)
    emu.webhook_redelivery([0.5, 0.5, 1.0])
    real_secret = line_channel.channel_secret
    line_channel.channel_secret = "not-the-channel-secret"
    line_channel.save()
    user = emu.create_user("陸前 太郎")["user_id"]
    emu.follow(user)
    # The first delivery fails (401); the operator fixes the secret; LINE redelivers.
    for _ in range(100):
        if emu.webhook_log():
            break
        threading.Event().wait(0.05)
    assert emu.webhook_log()[0]["status"] == 401
    line_channel.channel_secret = real_secret
    line_channel.save()
    assert emu.drain_webhooks(timeout=15) == 0
    log = emu.webhook_log()
    assert log[-1]["status"] == 200 and log[-1]["isRedelivery"]
    event = WebhookEvent.objects.get()
    assert event.redelivered and payload_of(event)["deliveryContext"]["isRedelivery"] is True
    assert event.event_id == log[0]["webhookEventIds"][0]
