"""The phone simulator and the control page over HTTP: Japanese pages, the talk timeline (both sides
in order, incremental), the rich menu the user sees and its image, the loading animation, and the
control page's forms (bulk followers, settings, faults, clock, webhook, reset)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import (
    ApiException,
    ButtonsTemplate,
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    PushMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    TemplateMessage,
    TextMessage,
)
from PIL import Image

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from tests.emulator.webhook_receiver import Receiver


@pytest.fixture
def site(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[httpx.Client]:
    """An HTTP client of the emulator site that does not follow redirects (to see the 303s)."""
    with httpx.Client(base_url=emulator.url, follow_redirects=False) as client:
        yield client


@pytest.fixture
def friend(emu: EmulatorControl) -> str:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    emu.follow(user_id)
    return user_id


def png(width: int, height: int, color: str = "#06793a") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def timeline(site: httpx.Client, emu: EmulatorControl, user_id: str, after: str | None = None) -> Any:
    params = {"after": after} if after else {}
    response = site.get(f"/control/channels/{emu.channel_id}/users/{user_id}/timeline", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def push(api: MessagingApi, user_id: str, *messages: Any) -> None:
    api.push_message(PushMessageRequest(to=user_id, messages=list(messages)))


# --- pages ---------------------------------------------------------------------------------------------


def test_simulator_page_is_japanese(site: httpx.Client) -> None:
    response = site.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="ja">' in page
    for label in ("友だち追加", "ブロック", "ブロック解除", "住民を作成", "写真を送る", "位置情報を送る"):
        assert label in page
    assert "大船渡市役所" in page and 'value="39.0817,141.7081"' in page
    assert '<script type="module" src="/static/simulator.js"></script>' in page
    # Offline machine: nothing is loaded from another host.
    assert not re.search(r'(src|href)="https?://', page)


def test_control_page_shows_channels_and_credentials(
    site: httpx.Client, emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    spec = emulator.config.channels[0]
    page = site.get("/control-panel/").text
    assert '<html lang="ja">' in page
    for text in (
        "チャネル",
        spec.channel_id,
        spec.basic_id,
        spec.access_token,
        spec.channel_secret,
        spec.bot_user_id,
        "Webhook URL",
        "負荷試験用に友だちを一括作成",
        "レート制限を有効にする",
        "応答トークンの有効期間（秒）",
        "障害の注入",
        "時計",
        "すべて消えることを理解しました",
        emulator.config.api_base,
    ):
        assert text in page, text
    assert site.get("/control-panel").status_code in (301, 307, 308)


def test_static_files_are_served(site: httpx.Client) -> None:
    for path, kind in (
        ("/static/simulator.js", "javascript"),
        ("/static/simulator-flex.js", "javascript"),
        ("/static/simulator-messages.js", "javascript"),
        ("/static/simulator-browser.js", "javascript"),
        ("/static/simulator-dialog.js", "javascript"),
        ("/static/simulator-control.js", "javascript"),
        ("/static/simulator.css", "text/css"),
        ("/static/bot.svg", "image/svg+xml"),
        ("/static/liff-shim.js", "javascript"),
    ):
        response = site.get(path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], path
    assert site.get("/static/nothing.js").status_code == 404


def test_bot_picture_url_points_at_the_served_icon(api: MessagingApi, site: httpx.Client) -> None:
    picture = api.get_bot_info().picture_url
    assert picture is not None and picture.endswith("/static/bot.svg")
    assert site.get(httpx.URL(picture).path).status_code == 200


# --- the talk timeline -------------------------------------------------------------------------------


def test_timeline_has_both_sides_in_order(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    emu.send_text(friend, "ごみの日を教えて")
    push(api, friend, TextMessage(text="燃えるごみは月曜日です。\nhttps://example.jp/gomi"))
    emu.send_text(friend, "ありがとう")
    template = ButtonsTemplate(
        text="ほかに知りたいことは？", actions=[PostbackAction(label="資源ごみ", data="gomi=shigen")]
    )
    push(api, friend, TemplateMessage(alt_text="ごみの案内", template=template))

    first = timeline(site, emu, friend)
    assert first["restart"] is True
    sides = [(item["side"], item["message"]["type"]) for item in first["items"]]
    assert sides == [("user", "text"), ("bot", "text"), ("user", "text"), ("bot", "template")]
    texts = [item["message"].get("text") for item in first["items"]]
    assert texts[:3] == [
        "ごみの日を教えて",
        "燃えるごみは月曜日です。\nhttps://example.jp/gomi",
        "ありがとう",
    ]
    assert first["items"][3]["message"]["template"]["actions"][0]["data"] == "gomi=shigen"
    assert first["items"][1]["endpoint"] == "push" and first["items"][1]["requestId"]
    times = [item["at"] for item in first["items"]]
    assert times == sorted(times)
    assert first["user"]["is_friend"] is True
    assert first["bot"]["displayName"] == "大船渡市"

    # The next poll carries only what is new.
    again = emu.timeline(friend, after=first["cursor"])
    assert again["restart"] is False and again["items"] == []
    push(api, friend, TextMessage(text="またどうぞ"))
    newer = emu.timeline(friend, after=again["cursor"])
    assert [item["message"]["text"] for item in newer["items"]] == ["またどうぞ"]


def test_timeline_is_per_user_and_restarts_after_a_reset(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    other = str(emu.create_user("佐藤 一郎")["user_id"])
    emu.follow(other)
    emu.send_text(other, "別の人です")
    push(api, other, TextMessage(text="佐藤さんへ"))
    push(api, friend, TextMessage(text="山田さんへ"))
    mine = timeline(site, emu, friend)
    assert [item["message"]["text"] for item in mine["items"]] == ["山田さんへ"]

    emu.reset()
    user = str(emu.create_user("新しい 住民")["user_id"])
    emu.follow(user)
    emu.send_text(user, "はじめまして")
    fresh = timeline(site, emu, user, mine["cursor"])  # a cursor from the old world
    assert fresh["restart"] is True
    assert [item["message"]["text"] for item in fresh["items"]] == ["はじめまして"]


def test_timeline_shows_the_photo_a_user_sent(site: httpx.Client, emu: EmulatorControl, friend: str) -> None:
    photo = png(40, 30)
    response = site.post(
        f"/control/channels/{emu.channel_id}/users/{friend}/message",
        content=photo,
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 200, response.text
    item = timeline(site, emu, friend)["items"][0]
    assert item["side"] == "user" and item["message"]["type"] == "image"
    image = site.get(item["contentUrl"])
    assert image.status_code == 200 and image.content == photo
    assert image.headers["content-type"] == "image/png"


def test_timeline_errors_are_japanese(site: httpx.Client, emu: EmulatorControl, friend: str) -> None:
    missing = site.get(f"/control/channels/{emu.channel_id}/users/Unobody/timeline")
    assert missing.status_code == 404 and "いません" in missing.json()["error"]
    bad = site.get(f"/control/channels/{emu.channel_id}/users/{friend}/timeline", params={"limit": "x"})
    assert bad.status_code == 400 and "整数" in bad.json()["error"]
    nowhere = site.get(f"/control/channels/999/users/{friend}/timeline")
    assert nowhere.status_code == 404


def test_timeline_limits_the_first_page_to_the_newest(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    for n in range(3):
        push(api, friend, TextMessage(text=f"お知らせ {n}"))
    response = site.get(f"/control/channels/{emu.channel_id}/users/{friend}/timeline", params={"limit": 2})
    data = response.json()
    assert data["truncated"] is True
    assert [item["message"]["text"] for item in data["items"]] == ["お知らせ 1", "お知らせ 2"]


# --- rich menu and loading animation -------------------------------------------------------------------


def make_menu(api: MessagingApi, blob_api: MessagingApiBlob, name: str, image: bytes) -> str:
    request = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name=name,
        chat_bar_text="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=1250, height=843),
                action=PostbackAction(label="お知らせ", data=f"{name}=news"),
            )
        ],
    )
    rich_menu_id = api.create_rich_menu(request).rich_menu_id
    blob_api.set_rich_menu_image(rich_menu_id, image, _headers={"Content-Type": "image/png"})
    return rich_menu_id


def test_timeline_has_the_menu_the_user_sees_and_its_image(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, blob_api: MessagingApiBlob, friend: str
) -> None:
    assert timeline(site, emu, friend)["richMenu"] is None
    default_image, linked_image = png(2500, 843, "#cfe8d6"), png(2500, 843, "#fde8c8")
    default_id = make_menu(api, blob_api, "default", default_image)
    linked_id = make_menu(api, blob_api, "linked", linked_image)
    api.set_default_rich_menu(default_id)

    menu = timeline(site, emu, friend)["richMenu"]
    assert menu["richMenuId"] == default_id and menu["source"] == "default"
    assert menu["chatBarText"] == "メニュー" and menu["selected"] is True
    assert menu["size"] == {"width": 2500, "height": 843}
    assert menu["areas"][0]["action"]["label"] == "お知らせ"
    image = site.get(menu["imageUrl"])
    assert image.status_code == 200 and image.content == default_image
    assert image.headers["content-type"] == "image/png"

    api.link_rich_menu_id_to_user(friend, linked_id)
    menu = timeline(site, emu, friend)["richMenu"]
    assert menu["richMenuId"] == linked_id and menu["source"] == "user"
    assert site.get(menu["imageUrl"]).content == linked_image
    missing = site.get(f"/control/channels/{emu.channel_id}/richmenus/richmenu-unknown/image")
    assert missing.status_code == 404


def test_timeline_shows_the_loading_animation_until_a_message_arrives(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    assert timeline(site, emu, friend)["loading"] is None
    api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=friend, loading_seconds=20))
    loading = timeline(site, emu, friend)["loading"]
    assert loading is not None and 0 < loading["secondsLeft"] <= 20
    push(api, friend, TextMessage(text="お待たせしました"))
    assert timeline(site, emu, friend)["loading"] is None

    api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=friend, loading_seconds=5))
    emu.advance_clock(6)
    assert timeline(site, emu, friend)["loading"] is None


# --- the control page's forms ----------------------------------------------------------------------------


def test_bulk_create_followers_form(
    site: httpx.Client, emulator: RunningEmulator, emu: EmulatorControl, api: MessagingApi
) -> None:
    channel_id = emu.channel_id
    response = site.post(f"/control-panel/channels/{channel_id}/followers", data={"count": "25"})
    assert response.status_code == 303
    assert response.headers["location"] == "/control-panel/?done=followers#users"
    users = emu._call("GET", f"/channels/{channel_id}/users")
    assert users["total"] == 25
    assert all(user["is_friend"] for user in users["users"])
    # They are followers as LINE counts them.
    assert len(api.get_followers(limit=1000).user_ids) == 25

    page = site.get(response.headers["location"]).text
    assert "友だちを一括で作成しました。" in page
    assert re.search(r'data-stat="friends">25<', page)

    for bad in ("0", "abc", "1.5", "100001"):
        refused = site.post(f"/control-panel/channels/{channel_id}/followers", data={"count": bad})
        assert refused.headers["location"] == "/control-panel/?error=count#users"
    assert emu._call("GET", f"/channels/{channel_id}/users")["total"] == 25
    error_page = site.get("/control-panel/?error=count").text
    assert "作成する人数は 1〜100,000 で指定してください。" in error_page
    assert (
        site.post("/control-panel/channels/999/followers", data={"count": "1"})
        .headers["location"]
        .endswith("error=channel#users")
    )


def test_settings_faults_and_clock_forms(
    site: httpx.Client, emulator: RunningEmulator, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    config = emulator.config
    saved = (config.reply_token_ttl, config.rate_limits_enabled, config.webhook_timeout)
    try:
        response = site.post("/control-panel/settings", data={"reply_token_ttl": "5", "webhook_timeout": "3"})
        assert response.headers["location"] == "/control-panel/?done=settings#settings"
        assert config.reply_token_ttl == 5 and config.webhook_timeout == 3
        assert config.rate_limits_enabled is False  # unchecked box
        assert emu.settings()["rate_limits_enabled"] is False
        bad = site.post("/control-panel/settings", data={"reply_token_ttl": "0", "webhook_timeout": "3"})
        assert bad.headers["location"].endswith("error=number#settings")
        assert config.reply_token_ttl == 5
    finally:
        config.reply_token_ttl, config.rate_limits_enabled, config.webhook_timeout = saved

    response = site.post(
        "/control-panel/faults",
        data={"endpoint": "push", "error_rate": "100", "status": "503", "latency_ms": "0", "kind": "error"},
    )
    assert response.headers["location"] == "/control-panel/?done=fault#faults"
    with pytest.raises(ApiException) as failure:
        api.push_message(PushMessageRequest(to=friend, messages=[TextMessage(text="届かない")]))
    assert failure.value.status == 503
    page = site.get("/control-panel/").text
    assert "push の障害を解除" in page and "100%" in page
    site.post("/control-panel/faults/delete", data={"endpoint": "push"})
    api.push_message(PushMessageRequest(to=friend, messages=[TextMessage(text="届く")]))
    refused = site.post("/control-panel/faults", data={"endpoint": "push", "error_rate": "150"})
    assert refused.headers["location"].endswith("error=fault#faults")

    before = emu.advance_clock(0)
    site.post("/control-panel/clock", data={"amount": "2", "unit": "60"})
    assert emu.advance_clock(0) - before >= 120
    assert "+120 秒" in site.get("/control-panel/").text
    site.post("/control-panel/clock", data={"reset": "on"})
    assert emulator.store.clock_offset == 0


def test_webhook_form_and_results(site: httpx.Client, emu: EmulatorControl) -> None:
    bot = Receiver()
    try:
        refused = site.post(
            f"/control-panel/channels/{emu.channel_id}/webhook", data={"webhookUrl": "ftp://example.jp/x"}
        )
        assert refused.headers["location"].endswith("error=webhook-url#channels")
        saved = site.post(
            f"/control-panel/channels/{emu.channel_id}/webhook", data={"webhookUrl": bot.url, "active": "on"}
        )
        assert saved.headers["location"] == "/control-panel/?done=webhook#channels"
        assert emu.channel()["webhookUrl"] == bot.url and emu.channel()["webhookActive"] is True
        user = str(emu.create_user("山田 花子")["user_id"])
        emu.follow(user)
        emu.drain_webhooks()
        page = site.get("/control-panel/").text
        assert "最近の Webhook 送信結果" in page and "200 OK" in page and ">follow<" in page
        live = site.get("/control-panel/live").json()["parts"]
        assert "follow" in live[f"webhook-{emu.channel_id}"]
        assert 'data-stat="friends">1<' in live[f"users-{emu.channel_id}"]
    finally:
        bot.close()


def test_latest_deliveries_with_endpoint_and_request_id(
    site: httpx.Client, emu: EmulatorControl, api: MessagingApi, friend: str
) -> None:
    response = api.push_message_with_http_info(
        PushMessageRequest(to=friend, messages=[TextMessage(text="防災無線のお知らせ")])
    )
    request_id = response.headers["x-line-request-id"]
    page = site.get("/control-panel/").text
    assert request_id in page
    assert "テキスト: 防災無線のお知らせ" in page
    assert "<td class='nowrap'>push</td>" in page
    assert "<td class='nowrap'>山田 花子</td>" in page


def test_reset_needs_the_confirmation(site: httpx.Client, emu: EmulatorControl, friend: str) -> None:
    refused = site.post("/control-panel/reset", data={})
    assert refused.headers["location"].endswith("error=confirm#reset")
    assert emu.user(friend)["display_name"] == "山田 花子"
    done = site.post("/control-panel/reset", data={"confirm": "on"})
    assert done.headers["location"] == "/control-panel/?done=reset#top"
    assert emu.channel()["users"] == 0
    assert "エミュレーターをリセットしました。" in site.get(done.headers["location"]).text


def test_control_page_escapes_what_it_shows(site: httpx.Client, emu: EmulatorControl) -> None:
    emu.create_user("<script>alert(1)</script>")
    page = site.get("/control-panel/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Unknown flash keys show nothing (nothing typed is echoed back).
    assert "<b>" not in site.get("/control-panel/", params={"done": "<b>"}).text
