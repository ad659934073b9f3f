"""The emulator's local-http allowance for media URLs (``config.local_http_media``, on by default):
an http image on a local host (Kairan's development server) passes, as webhook URLs do; with the
flag off, or on any other host, http is refused with LINE's exact answer. The phone simulator then
shows such images, from an origin other than its own."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from linebot.v3.messaging import ApiException, ImageMessage, MessagingApi, PushMessageRequest
from PIL import Image
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.config import config_from_env
from emulator.server import RunningEmulator
from emulator.validation import is_local_host, local_http_url
from tests.emulator.test_messaging import error_body, make_friend
from tests.emulator.test_messaging_validation import validate

LOCAL = "http://127.0.0.1:8000/media/images/hinanjo.jpg"
LOCAL_HOSTS = [
    "http://127.0.0.1:8000/a.jpg",
    "http://localhost:8000/a.jpg",
    "http://kairan.localhost/a.jpg",
    "http://web:8000/a.jpg",  # a compose service
    "http://192.168.1.20/a.jpg",
    "http://10.0.0.5:8000/a.jpg",
    "http://[::1]:8000/a.jpg",
]
NOT_LOCAL = [
    "http://example.jp/a.jpg",
    "http://8.8.8.8/a.jpg",
    "http://[2606:4700::1111]/a.jpg",
    "http://city.ofunato.iwate.jp/a.jpg",
]


def image(url: str, preview: str | None = None) -> dict[str, str]:
    return {"type": "image", "originalContentUrl": url, "previewImageUrl": preview or url}


def buttons(url: str) -> dict[str, Any]:
    """A buttons template with a thumbnail."""
    template = {
        "type": "buttons",
        "thumbnailImageUrl": url,
        "title": "避難所",
        "text": "開設状況",
        "actions": [{"type": "message", "label": "見る", "text": "避難所"}],
    }
    return {"type": "template", "altText": "避難所", "template": template}


def every_media_url(url: str) -> list[dict[str, Any]]:
    """One of each message carrying a media URL LINE takes only as https (five, LINE's maximum;
    the buttons template is ``buttons``)."""
    bubble = {
        "type": "bubble",
        "hero": {"type": "image", "url": url, "size": "full"},
        "body": {
            "type": "box",
            "layout": "baseline",
            "contents": [{"type": "icon", "url": url}, {"type": "text", "text": "避難所"}],
        },
    }
    quick = {
        "items": [
            {"type": "action", "imageUrl": url, "action": {"type": "message", "label": "a", "text": "a"}}
        ]
    }
    return [
        {**image(url), "sender": {"name": "防災課", "iconUrl": url}},
        {"type": "video", "originalContentUrl": url, "previewImageUrl": url},
        {"type": "audio", "originalContentUrl": url, "duration": 1000},
        {
            "type": "imagemap",
            "baseUrl": url,
            "altText": "地図",
            "baseSize": {"width": 1040, "height": 1040},
            "actions": [{"type": "message", "text": "a", "area": {"x": 0, "y": 0, "width": 1, "height": 1}}],
        },
        {"type": "flex", "altText": "避難所", "contents": bubble, "quickReply": quick},
    ]


@pytest.fixture
def strict(emu: EmulatorControl) -> Iterator[None]:
    """LINE's exact behaviour: the allowance off (settings outlive the per-test reset)."""
    emu.settings(local_http_media=False)
    yield
    emu.settings(local_http_media=True)


# --- the allowance on (the default) ----------------------------------------------------------------


def test_the_allowance_is_on_by_default(emu: EmulatorControl, monkeypatch: pytest.MonkeyPatch) -> None:
    assert emu.settings()["local_http_media"] is True
    monkeypatch.delenv("KAIRAN_EMULATOR_LOCAL_HTTP_MEDIA", raising=False)
    assert config_from_env().local_http_media is True
    monkeypatch.setenv("KAIRAN_EMULATOR_LOCAL_HTTP_MEDIA", "0")
    assert config_from_env().local_http_media is False


def test_local_http_image_is_sent(api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl) -> None:
    user_id = make_friend(emulator, emu)
    api.push_message(
        PushMessageRequest(
            to=user_id, messages=[ImageMessage(original_content_url=LOCAL, preview_image_url=LOCAL)]
        )
    )
    [received] = emu.received(user_id)
    assert received["message"]["originalContentUrl"] == LOCAL


@pytest.mark.parametrize("url", LOCAL_HOSTS)
def test_http_on_local_hosts_passes(emulator: RunningEmulator, emu: EmulatorControl, url: str) -> None:
    assert validate(emulator, [image(url)]) == (200, {})


def test_every_media_url_may_be_local_http(emulator: RunningEmulator, emu: EmulatorControl) -> None:
    for kind in ("push", "multicast", "broadcast", "reply", "narrowcast"):
        assert validate(emulator, every_media_url(LOCAL), kind) == (200, {})
        assert validate(emulator, [buttons(LOCAL)], kind) == (200, {})


@pytest.mark.parametrize("url", NOT_LOCAL)
def test_http_elsewhere_is_still_refused(emulator: RunningEmulator, emu: EmulatorControl, url: str) -> None:
    status, body = validate(emulator, [image("https://example.jp/a.jpg", preview=url)])
    assert status == 400
    assert body == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "invalid uri scheme", "property": "messages[0].previewImageUrl"}],
    }


def test_other_schemes_and_non_urls_are_still_refused(
    emulator: RunningEmulator, emu: EmulatorControl
) -> None:
    status, body = validate(
        emulator, [image("ftp://127.0.0.1/a.jpg", preview="http://"), image("127.0.0.1/a.jpg")]
    )
    assert status == 400
    assert body["details"] == [
        {"message": "invalid uri scheme", "property": "messages[0].originalContentUrl"},
        {"message": "invalid uri scheme", "property": "messages[0].previewImageUrl"},  # no host
        {"message": "invalid uri", "property": "messages[1].originalContentUrl"},
        {"message": "invalid uri", "property": "messages[1].previewImageUrl"},
    ]


def test_https_passes_either_way(emulator: RunningEmulator, emu: EmulatorControl, strict: None) -> None:
    assert validate(emulator, every_media_url("https://example.jp/a.jpg")) == (200, {})
    assert validate(emulator, [buttons("https://example.jp/a.jpg")]) == (200, {})


# --- the allowance off: LINE's exact behaviour ---------------------------------------------------------


def test_local_http_image_is_refused_with_the_flag_off(
    api: MessagingApi, emulator: RunningEmulator, emu: EmulatorControl, strict: None
) -> None:
    user_id = make_friend(emulator, emu)
    with pytest.raises(ApiException) as excinfo:
        api.push_message(
            PushMessageRequest(
                to=user_id, messages=[ImageMessage(original_content_url=LOCAL, preview_image_url=LOCAL)]
            )
        )
    assert excinfo.value.status == 400
    assert error_body(excinfo.value) == {
        "message": "The request body has 2 error(s)",
        "details": [
            {"message": "invalid uri scheme", "property": "messages[0].originalContentUrl"},
            {"message": "invalid uri scheme", "property": "messages[0].previewImageUrl"},
        ],
    }
    assert emu.received(user_id) == []


def test_every_media_url_is_refused_with_the_flag_off(
    emulator: RunningEmulator, emu: EmulatorControl, strict: None
) -> None:
    scheme = "invalid uri scheme"
    messages = every_media_url(LOCAL)
    status, body = validate(emulator, messages)
    assert status == 400
    assert body["details"] == [
        {"message": scheme, "property": "messages[0].originalContentUrl"},
        {"message": scheme, "property": "messages[0].previewImageUrl"},
        {"message": scheme, "property": "messages[0].sender.iconUrl"},
        {"message": scheme, "property": "messages[1].originalContentUrl"},
        {"message": scheme, "property": "messages[1].previewImageUrl"},
        {"message": scheme, "property": "messages[2].originalContentUrl"},
        {"message": scheme, "property": "messages[3].baseUrl"},
    ]
    # Inside message objects (reported once the request-level ones are fixed).
    flex = messages[4]
    status, body = validate(emulator, [flex])
    assert body["message"] == "A message (messages[0]) in the request body is invalid"
    assert body["details"] == [
        {"message": scheme, "property": "/hero/url"},
        {"message": scheme, "property": "/body/contents/0/url"},
        {"message": scheme, "property": "quickReply/items/0/imageUrl"},
    ]
    status, body = validate(emulator, [buttons(LOCAL)])
    assert body["details"] == [{"message": scheme, "property": "template/thumbnailImageUrl"}]


# --- what counts as local -----------------------------------------------------------------------------


def test_local_hosts() -> None:
    for host in ("127.0.0.1", "localhost", "a.localhost", "web", "192.168.0.1", "10.1.2.3", "::1", "fe80::1"):
        assert is_local_host(host), host
    for host in ("", "example.jp", "8.8.8.8", "2606:4700::1111"):
        assert not is_local_host(host), host
    assert local_http_url("http://127.0.0.1:8000/a.jpg")
    assert not local_http_url("https://127.0.0.1:8000/a.jpg")  # https needs no allowance
    assert not local_http_url("http://[::1/a.jpg")  # not a URL


# --- the phone simulator shows them --------------------------------------------------------------------


class _Images(BaseHTTPRequestHandler):
    """Kairan's development server in miniature: a PNG over plain http."""

    def do_GET(self) -> None:
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), "#06793a").save(buffer, "PNG")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(buffer.getvalue())))
        self.end_headers()
        self.wfile.write(buffer.getvalue())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_simulator_shows_local_http_images(
    browser: Any, emulator: RunningEmulator, emu: EmulatorControl, api: MessagingApi, image_server: str
) -> None:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    emu.follow(user_id)
    url = f"{image_server}/media/hinanjo.png"
    bubble = {
        "type": "bubble",
        "hero": {"type": "image", "url": url, "size": "full", "aspectRatio": "4:3"},
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "避難所"}]},
    }
    api.push_message(
        PushMessageRequest.from_dict(
            {
                "to": user_id,
                "messages": [image(url), {"type": "flex", "altText": "避難所のご案内", "contents": bubble}],
            }
        )
    )
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", base_url=emulator.url
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"/?user={user_id}")
        log = page.get_by_role("log")
        for row in (
            log.locator(".talk-bot[data-type=image] .bubble-image img"),
            log.locator(".talk-bot[data-type=flex] .flex-image img"),
        ):
            expect(row).to_have_attribute("src", url)
            row.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=row.element_handle())
        assert errors == []
    finally:
        context.close()
