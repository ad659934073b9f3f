"""LINE 受信イベント: staff see what LINE posted and what became of it, never the message text."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from kairan.staff.roles import EDITOR, VIEWER
from line_channel import events, webhook
from line_channel.models import Follower, WebhookEvent
from tests.conftest import STAFF_PASSWORD
from tests.line.test_followers import rows_of, signed_in_admin
from tests.line.test_webhook import fixture_body, post

pytestmark = pytest.mark.django_db
REPORT = "/admin/line/events/"


@pytest.fixture(autouse=True)
def fresh_counts() -> Any:
    webhook.channel_secret.forget()
    webhook.rejections.flush()
    yield
    webhook.channel_secret.forget()


def test_report_lists_events_with_their_outcome_and_refused_requests(
    make_staff: Any, client: Client, line_channel: Any
) -> None:
    webhook_client = Client()
    assert post(webhook_client, fixture_body("follow")).status_code == 200
    assert post(webhook_client, fixture_body("message_text")).status_code == 200
    assert post(webhook_client, fixture_body("message_text")).status_code == 200  # LINE delivered it twice
    assert post(webhook_client, fixture_body("beacon")).status_code == 200  # (no handler: 対象外)
    assert post(webhook_client, fixture_body("follow"), signature="Zm9yZ2Vk").status_code == 401
    events.process_pending()
    user = WebhookEvent.objects.get(event_type="follow").source_user_id
    Follower.objects.filter(line_user_id=user).update(display_name="大船渡 花子")
    message = WebhookEvent.objects.get(event_type="message")
    assert message.state == WebhookEvent.State.DONE and message.duplicates == 1  # (the chatbot's)

    signed_in_admin(make_staff, client)
    home = client.get("/admin/").content.decode()
    assert REPORT in home  # in the レポート menu
    response = client.get(REPORT)
    assert response.status_code == 200
    page = response.content.decode()
    rows = {row[1]: row for row in rows_of(response)}
    assert rows["友だち追加・ブロック解除"][2] == "大船渡 花子"
    assert rows["友だち追加・ブロック解除"][3] == "処理済み"
    assert rows["メッセージ"][3] == "処理済み" and rows["ビーコン"][3] == "対象外"
    assert "重複受信 1回" in rows["メッセージ"][5]
    # The content of what residents wrote is personal data: not on this screen.
    assert payload_text(message) not in page
    soup = BeautifulSoup(page, "html.parser")
    refused = definitions(soup, "[data-kairan-rejections]")
    assert refused["署名が一致しない（なりすまし・改ざんの疑い）"] == "1件"
    states = definitions(soup, "[data-kairan-event-counts]")
    assert states["処理済み"] == "2件" and states["対象外"] == "1件"

    ignored = rows_of(client.get(REPORT, {"state": "ignored"}))
    assert [row[1] for row in ignored] == ["ビーコン"]
    export = client.get(REPORT, {"export": "csv", "encoding": "utf-8"})
    data = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:5] == ["受信日時", "発生日時", "種類", "送った人", "状態"]
    assert sorted(row[2] for row in table[1:]) == ["ビーコン", "メッセージ", "友だち追加・ブロック解除"]


def payload_text(event: WebhookEvent) -> str:
    payload: Any = event.payload
    return str(payload["message"]["text"])


def definitions(soup: BeautifulSoup, selector: str) -> dict[str, str]:
    pairs = zip(soup.select(f"{selector} dt"), soup.select(f"{selector} dd"), strict=True)
    return {dt.get_text(strip=True): dd.get_text(strip=True) for dt, dd in pairs}


@pytest.mark.parametrize(("role", "allowed"), [(VIEWER, True), (EDITOR, False)])
def test_who_may_see_the_report(make_staff: Any, client: Client, role: str, allowed: bool) -> None:
    make_staff("shokuin", role)
    client.post("/admin/login/", {"username": "shokuin", "password": STAFF_PASSWORD})
    response = client.get(REPORT)
    assert (response.status_code == 200) is allowed
    assert (REPORT in client.get("/admin/").content.decode()) is allowed
