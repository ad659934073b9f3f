"""Conformance: a walk through the emulator's Messaging API, insight and LIFF endpoints, checking
every JSON answer (successes and errors) against the schema LINE's OpenAPI files document for that
operation and status. Skipped, with the reason, when ../shared/line-openapi is absent."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from tests.emulator import openapi

# Operations of the OpenAPI files the emulator deliberately does not play (no groups, rooms,
# memberships, coupons, phone-number push or account linking for virtual users).
NOT_PLAYED = (
    "/v2/bot/group/",
    "/v2/bot/room/",
    "/v2/bot/membership/",
    "/v2/bot/coupon",
    "/bot/pnp/push",
    "/v2/bot/message/delivery/pnp",
    "/v2/bot/user/{userId}/linkToken",
    "/v2/bot/message/markAsRead",
    "/v2/bot/chat/markAsRead",
)


def spec_for(path: str) -> str:
    if path.startswith("/v2/bot/insight"):
        return "insight.yml"
    if path.startswith("/liff/v1"):
        return "liff.yml"
    return "messaging-api.yml"


class Recorder:
    """Every request made through ``call`` with its answer."""

    def __init__(self, emulator: RunningEmulator) -> None:
        self.config = emulator.config
        self.token = emulator.config.channels[0].access_token
        self.http = httpx.Client(timeout=10)
        self.seen: list[tuple[str, str, int, Any]] = []

    def call(
        self, method: str, path: str, *, data_host: bool = False, expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        base = self.config.data_base if data_host else self.config.api_base
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = self.http.request(method, base + path, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        assert response.headers["x-line-request-id"]
        body: Any = response.json() if "json" in response.headers.get("content-type", "") else None
        self.seen.append((method, path.split("?")[0], response.status_code, body))
        return response


@pytest.fixture
def rec(emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Recorder]:
    openapi.require_specs()
    recorder = Recorder(emulator)
    yield recorder
    recorder.http.close()


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 79, 113)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_answer_matches_lines_schemas(
    rec: Recorder, emu: EmulatorControl, emulator: RunningEmulator
) -> None:
    store = emulator.store
    channel = store.default_channel()
    friends = emu.create_followers(3)
    user = friends[0]
    text = [{"type": "text", "text": "大船渡市からのお知らせです。"}]

    # Channel and webhook endpoint.
    rec.call("GET", "/v2/bot/info")
    rec.call("PUT", "/v2/bot/channel/webhook/endpoint", json={"endpoint": "https://bot.example.jp/webhook"})
    rec.call("GET", "/v2/bot/channel/webhook/endpoint")

    # Sending, with and without retry keys, and LINE's errors.
    key = str(uuid.uuid4())
    rec.call(
        "POST", "/v2/bot/message/push", json={"to": user, "messages": text}, headers={"X-Line-Retry-Key": key}
    )
    rec.call(
        "POST",
        "/v2/bot/message/push",
        json={"to": user, "messages": text},
        headers={"X-Line-Retry-Key": key},
        expect=409,
    )
    rec.call(
        "POST",
        "/v2/bot/message/push",
        json={"to": user, "messages": [{"type": "text", "text": ""}]},
        expect=400,
    )
    rec.call("POST", "/v2/bot/message/multicast", json={"to": friends, "messages": text})
    rec.call("POST", "/v2/bot/message/multicast", json={"to": friends, "messages": text * 6}, expect=400)
    rec.call("POST", "/v2/bot/message/broadcast", json={"messages": text})
    accepted = rec.call("POST", "/v2/bot/message/narrowcast", json={"messages": text}, expect=202)
    narrowcast_id = accepted.headers["x-line-request-id"]
    rec.call("GET", f"/v2/bot/message/progress/narrowcast?requestId={narrowcast_id}")
    token = store.issue_reply_token(channel, user)
    rec.call("POST", "/v2/bot/message/reply", json={"replyToken": token, "messages": text})
    rec.call("POST", "/v2/bot/message/reply", json={"replyToken": token, "messages": text}, expect=400)
    for kind in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        rec.call("POST", f"/v2/bot/message/validate/{kind}", json={"messages": text})
    rec.call("POST", "/v2/bot/message/validate/push", json={"messages": [{"type": "nope"}]}, expect=400)

    # Account, users and counts.
    rec.call("GET", f"/v2/bot/profile/{user}")
    rec.call("GET", "/v2/bot/profile/U" + "0" * 32, expect=404)
    rec.call("GET", "/v2/bot/followers/ids?limit=2")
    rec.call("GET", "/v2/bot/message/quota")
    rec.call("GET", "/v2/bot/message/quota/consumption")
    for kind in ("reply", "push", "multicast", "broadcast"):
        rec.call("GET", f"/v2/bot/message/delivery/{kind}?date=20261101")
    rec.call("POST", "/v2/bot/chat/loading/start", json={"chatId": user, "loadingSeconds": 10}, expect=202)
    rec.call("GET", "/v2/bot/message/aggregation/info")
    rec.call("GET", "/v2/bot/message/aggregation/list")

    # Insight.
    rec.call("GET", f"/v2/bot/insight/message/event?requestId={narrowcast_id}")
    rec.call("GET", "/v2/bot/insight/followers?date=20261101")
    rec.call("GET", "/v2/bot/insight/message/delivery?date=20261101")

    # Rich menus, images on the data host, default, links, aliases, bulk and batch.
    menu = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "防災メニュー",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "postback", "data": "a"},
            },
            {
                "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "richmenuswitch", "richMenuAliasId": "tab-b", "data": "b"},
            },
        ],
    }
    rec.call("POST", "/v2/bot/richmenu/validate", json=menu)
    rec.call("POST", "/v2/bot/richmenu/validate", json={**menu, "chatBarText": "x" * 15}, expect=400)
    first = rec.call("POST", "/v2/bot/richmenu", json=menu).json()["richMenuId"]
    second = rec.call("POST", "/v2/bot/richmenu", json={**menu, "name": "子育てメニュー"}).json()[
        "richMenuId"
    ]
    for rich_menu_id in (first, second):
        rec.call(
            "POST",
            f"/v2/bot/richmenu/{rich_menu_id}/content",
            data_host=True,
            content=png((2500, 843)),
            headers={"Content-Type": "image/png"},
        )
    rec.call("GET", f"/v2/bot/richmenu/{first}")
    rec.call("GET", "/v2/bot/richmenu/list")
    rec.call("GET", "/v2/bot/richmenu/richmenu-" + "0" * 32, expect=404)
    rec.call("POST", f"/v2/bot/user/all/richmenu/{first}")
    rec.call("GET", "/v2/bot/user/all/richmenu")
    rec.call("POST", f"/v2/bot/user/{user}/richmenu/{second}")
    rec.call("GET", f"/v2/bot/user/{user}/richmenu")
    rec.call("DELETE", f"/v2/bot/user/{user}/richmenu")
    rec.call(
        "POST", "/v2/bot/richmenu/bulk/link", json={"richMenuId": second, "userIds": friends}, expect=202
    )
    rec.call("POST", "/v2/bot/richmenu/bulk/unlink", json={"userIds": friends}, expect=202)
    rec.call("POST", "/v2/bot/richmenu/alias", json={"richMenuAliasId": "tab-a", "richMenuId": first})
    rec.call("POST", "/v2/bot/richmenu/alias", json={"richMenuAliasId": "tab-b", "richMenuId": second})
    rec.call(
        "POST", "/v2/bot/richmenu/alias", json={"richMenuAliasId": "tab-a", "richMenuId": first}, expect=400
    )
    rec.call("GET", "/v2/bot/richmenu/alias/tab-a")
    rec.call("GET", "/v2/bot/richmenu/alias/list")
    rec.call("POST", "/v2/bot/richmenu/alias/tab-a", json={"richMenuId": second})
    batch = {"operations": [{"type": "link", "from": first, "to": second}]}
    rec.call("POST", "/v2/bot/richmenu/validate/batch", json=batch)
    batched = rec.call("POST", "/v2/bot/richmenu/batch", json=batch, expect=202)
    rec.call("GET", f"/v2/bot/richmenu/progress/batch?requestId={batched.headers['x-line-request-id']}")
    rec.call("DELETE", "/v2/bot/richmenu/alias/tab-a")
    rec.call("DELETE", "/v2/bot/user/all/richmenu")
    rec.call("DELETE", f"/v2/bot/richmenu/{second}")

    # LIFF apps.
    added = rec.call(
        "POST",
        "/liff/v1/apps",
        json={
            "view": {"type": "full", "url": "https://kairan.example.jp/liff/settings/"},
            "scope": ["openid"],
        },
    )
    rec.call("GET", "/liff/v1/apps")
    liff_id = added.json()["liffId"]
    rec.call("PUT", f"/liff/v1/apps/{liff_id}", json={"description": "受信設定"})
    rec.call("DELETE", f"/liff/v1/apps/{liff_id}")

    # Authentication failure, the last of the walk.
    rec.token = "not-a-token"
    rec.call("GET", "/v2/bot/info", expect=401)

    problems = []
    for method, path, status, body in rec.seen:
        if body is None:
            continue
        for error in openapi.response_errors(spec_for(path), method, path, status, body):
            problems.append(
                f"{method} {path} {status}: {error} — {json.dumps(body, ensure_ascii=False)[:200]}"
            )
    assert problems == [], "\n".join(problems)
    checked = {(m, p) for m, p, _, body in rec.seen if body is not None}
    assert len(checked) >= 45


def test_every_documented_operation_is_played_or_listed_as_not_played(emulator: RunningEmulator) -> None:
    """Each operation of messaging-api.yml, insight.yml and liff.yml has a route in the emulator
    (on the right host), unless NOT_PLAYED lists it."""
    openapi.require_specs()
    missing = []
    for name in ("messaging-api.yml", "insight.yml", "liff.yml"):
        for template, item in openapi.load(name)["paths"].items():
            if any(template.startswith(prefix) for prefix in NOT_PLAYED):
                continue
            on_data_host = template.endswith(("/content", "/content/preview", "/content/transcoding"))
            prefix = emulator.config.data_prefix if on_data_host else emulator.config.api_prefix
            path = prefix + re.sub(r"\{[^}]+\}", "x1", template)
            for method in item:
                if method in ("get", "post", "put", "delete") and not routed(emulator, path, method.upper()):
                    missing.append(f"{method.upper()} {template} ({name})")
    assert missing == [], "\n".join(missing)
    # The check can fail: a made-up operation has no route.
    assert not routed(emulator, emulator.config.api_prefix + "/v2/bot/nothing", "GET")


def routed(emulator: RunningEmulator, path: str, method: str) -> bool:
    """Whether the app has a route for ``method path``, looking inside mounts."""
    from starlette.routing import Match, Mount

    from emulator.app import build_app

    def search(routes: list[Any], scope: dict[str, Any]) -> bool:
        for route in routes:
            match, child = route.matches(scope)
            if match is Match.NONE:
                continue
            if isinstance(route, Mount):
                if search(route.routes, {**scope, **child}):
                    return True
            elif match is Match.FULL:
                return True
        return False

    app = build_app(emulator.config, emulator.store)
    return search(list(app.router.routes), {"type": "http", "path": path, "method": method, "root_path": ""})
