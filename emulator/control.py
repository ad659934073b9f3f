"""The control API (``/control/...``) that tests and the simulator use to run the world.

JSON in, JSON out, no authentication (the emulator is a local tool). User
actions that produce webhook events (follow, send, tap) live in
``emulator.events``; this module covers the rest: reset, clock, faults,
settings, channels, users and what they received.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulator.config import ChannelSpec, RateLimit
from emulator.endpoints import store_of
from emulator.state import Channel, Fault, VirtualUser

NAMES = (
    "山田 花子",
    "佐藤 一郎",
    "鈴木 美咲",
    "高橋 健太",
    "田中 さくら",
    "伊藤 大輔",
    "渡辺 結衣",
    "中村 翔",
)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ControlError(400, "JSON オブジェクトを送ってください。")
    return data


def channel_of(request: Request) -> Channel:
    store = store_of(request)
    channel_id = request.path_params.get("channel_id")
    channel = store.channel(channel_id) if channel_id else store.default_channel()
    if channel is None:
        raise ControlError(404, f"チャネル {channel_id} はありません。")
    return channel


def user_of(request: Request, channel: Channel) -> VirtualUser:
    user = channel.users.get(request.path_params["user_id"])
    if user is None:
        raise ControlError(404, f"ユーザー {request.path_params['user_id']} はいません。")
    return user


def user_json(channel: Channel, user: VirtualUser) -> dict[str, Any]:
    data = asdict(user)
    data["richMenuId"] = channel.menu_for(user.user_id)
    return data


def channel_json(channel: Channel) -> dict[str, Any]:
    return {
        "channelId": channel.channel_id,
        "basicId": channel.spec.basic_id,
        "displayName": channel.spec.display_name,
        "botUserId": channel.spec.bot_user_id,
        "accessToken": channel.spec.access_token,
        "channelSecret": channel.spec.channel_secret,
        "loginChannelId": channel.spec.login_channel_id,
        "webhookUrl": channel.webhook_url,
        "webhookActive": channel.webhook_active,
        "liffApps": channel.liff_apps,
        "users": len(channel.users),
        "friends": len(channel.friends()),
        "deliveries": channel.delivery_count,
        "richMenus": len(channel.rich_menus),
        "defaultRichMenuId": channel.default_rich_menu_id,
    }


def control(handler: Any) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            result = await handler(request)
        except ControlError as exc:
            return _error(exc.status, exc.message)
        except (ValueError, TypeError, KeyError) as exc:
            return _error(400, f"入力が正しくありません: {exc}")
        return result if isinstance(result, JSONResponse) else JSONResponse(result)

    endpoint.__name__ = handler.__name__
    return endpoint


@control
async def reset(request: Request) -> dict[str, Any]:
    store_of(request).reset()
    return {"ok": True}


@control
async def clock(request: Request) -> dict[str, Any]:
    store = store_of(request)
    if request.method == "POST":
        data = await _json(request)
        store.advance_clock(float(data.get("advance", 0)))
    return {"now": store.now(), "offset": store.clock_offset}


@control
async def faults(request: Request) -> dict[str, Any]:
    """GET: the injected faults. PUT: replace them, e.g. {"multicast": {"error_rate": 1, "status": 500}}."""
    store = store_of(request)
    if request.method == "PUT":
        data = await _json(request)
        store.faults = {name: Fault(**spec) for name, spec in data.items()}
    return {name: asdict(fault) for name, fault in store.faults.items()}


@control
async def settings(request: Request) -> dict[str, Any]:
    """Run-time settings: rate limits (on/off and per endpoint), token and key lifetimes, redelivery,
    the monthly quota, the privacy threshold of rich menu insight and the local-http allowance for
    media URLs."""
    store = store_of(request)
    config = store.config
    if request.method == "PUT":
        data = await _json(request)
        threshold = data.get("richmenu_insight_threshold", 0)
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ControlError(400, "richmenu_insight_threshold は 0 以上の整数で指定してください。")
        for name in ("reply_token_ttl", "retry_key_ttl", "content_ttl", "webhook_timeout"):
            if name in data:
                setattr(config, name, float(data[name]))
        for name in ("rate_limits_enabled", "webhook_redelivery", "local_http_media"):
            if name in data:
                setattr(config, name, bool(data[name]))
        if "monthly_quota" in data:
            config.monthly_quota = None if data["monthly_quota"] is None else int(data["monthly_quota"])
        if "richmenu_insight_threshold" in data:
            config.richmenu_insight_threshold = threshold
        for name, limit in data.get("rate_limits", {}).items():
            config.rate_limits[name] = RateLimit(int(limit["count"]), float(limit["seconds"]))
        for channel in store.channels.values():
            channel.rate_windows.clear()
    return {
        "reply_token_ttl": config.reply_token_ttl,
        "retry_key_ttl": config.retry_key_ttl,
        "content_ttl": config.content_ttl,
        "webhook_timeout": config.webhook_timeout,
        "webhook_redelivery": config.webhook_redelivery,
        "rate_limits_enabled": config.rate_limits_enabled,
        "monthly_quota": config.monthly_quota,
        "local_http_media": config.local_http_media,
        "richmenu_insight_threshold": config.richmenu_insight_threshold,
        "rate_limits": {name: asdict(limit) for name, limit in config.rate_limits.items()},
        "api_base": config.api_base,
        "data_base": config.data_base,
    }


@control
async def channels(request: Request) -> Any:
    store = store_of(request)
    if request.method == "POST":
        spec = ChannelSpec.from_dict(await _json(request))
        if spec.channel_id in store.channels:
            raise ControlError(409, f"チャネル {spec.channel_id} はすでにあります。")
        return channel_json(store.add_channel(spec))
    return [channel_json(c) for c in store.channels.values()]


@control
async def channel_detail(request: Request) -> dict[str, Any]:
    channel = channel_of(request)
    if request.method == "PUT":
        data = await _json(request)
        if "webhookUrl" in data:
            channel.webhook_url = str(data["webhookUrl"])
        if "webhookActive" in data:
            channel.webhook_active = bool(data["webhookActive"])
        if "liffApps" in data:
            channel.liff_apps = {str(k): str(v) for k, v in dict(data["liffApps"]).items()}
    return channel_json(channel)


@control
async def users(request: Request) -> Any:
    """GET: the channel's virtual users. POST {"displayName"} or {"count": N, "follow": true} creates them."""
    store = store_of(request)
    channel = channel_of(request)
    if request.method == "GET":
        limit = int(request.query_params.get("limit", "200"))
        listed = list(channel.users.values())[-limit:]
        return {"total": len(channel.users), "users": [user_json(channel, u) for u in listed]}
    data = await _json(request)
    count = int(data.get("count", 1))
    if not 1 <= count <= 1_000_000:
        raise ControlError(400, "count は 1〜1000000 で指定してください。")
    follow = bool(data.get("follow", count > 1))
    created = []
    for n in range(count):
        name = str(data.get("displayName") or NAMES[(len(channel.users) + n) % len(NAMES)])
        if "count" in data:
            name = f"{name} {len(channel.users) + 1}"
        user = store.create_user(
            channel,
            display_name=name,
            user_id=data.get("userId") if "count" not in data else None,
            language=str(data.get("language", "ja")),
            picture_url=str(data.get("pictureUrl", "")),
            status_message=str(data.get("statusMessage", "")),
        )
        if follow:
            # Bulk followers for load tests become friends silently (no webhook storm).
            user.is_friend = True
            user.followed_at = store.now()
        created.append(user)
    if "count" not in data:
        return user_json(channel, created[0])
    return {"created": count, "userIds": [u.user_id for u in created[:1000]]}


@control
async def user_detail(request: Request) -> dict[str, Any]:
    channel = channel_of(request)
    return user_json(channel, user_of(request, channel))


@control
async def received(request: Request) -> dict[str, Any]:
    """Every message the user received, oldest first, with endpoint and request id."""
    store = store_of(request)
    channel = channel_of(request)
    user = user_of(request, channel)
    items = store.received(channel, user.user_id)
    return {"count": len(items), "messages": [asdict(d) for d in items]}


@control
async def deliveries(request: Request) -> dict[str, Any]:
    """Counts per user (so tests can assert "each user got exactly one") and the latest deliveries."""
    channel = channel_of(request)
    per_request: dict[str, int] = {}
    per_user = channel.received_counts()
    for sending in channel.sendings:
        per_request[sending.request_id] = per_request.get(sending.request_id, 0) + len(sending.user_ids)
    limit = int(request.query_params.get("limit", "100"))
    latest = [asdict(d) for d in channel.latest_deliveries(limit)]
    return {
        "total": channel.delivery_count,
        "perUser": per_user,
        "perRequest": per_request,
        "latest": latest,
    }


_C = "/channels/{channel_id}"
control_routes = [
    Route("/reset", reset, methods=["POST"]),
    Route("/clock", clock, methods=["GET", "POST"]),
    Route("/faults", faults, methods=["GET", "PUT"]),
    Route("/settings", settings, methods=["GET", "PUT"]),
    Route("/channels", channels, methods=["GET", "POST"]),
    Route(_C, channel_detail, methods=["GET", "PUT"]),
    Route(_C + "/users", users, methods=["GET", "POST"]),
    Route(_C + "/users/{user_id}", user_detail, methods=["GET"]),
    Route(_C + "/users/{user_id}/received", received, methods=["GET"]),
    Route(_C + "/deliveries", deliveries, methods=["GET"]),
]
