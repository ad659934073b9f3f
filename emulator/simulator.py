"""The phone simulator (``/``) and the control page (``/control-panel/``), served by the emulator.

The simulator page is a static shell (``templates/simulator.html``) driven by
``static/simulator.js``: it reads and changes the world through the control API
(``/control/...``) — users, friendship, the user's messages, taps — and polls
the talk timeline this module adds:

``GET /control/channels/{channel_id}/users/{user_id}/timeline?after=<cursor>``
    both sides of the talk in order (the user's messages from
    ``channel.user_messages``, the bot's from ``channel.received``), the rich
    menu the user sees with its image URL, the loading animation, and a cursor
    for the next poll. Showing a rich menu counts as an impression for rich menu insight
    (``emulator.richmenu_insight.record_impression``: once a day per menu and user).

The control page is rendered on the server (``emulator.simulator_panel``) so
its forms work without JavaScript. Everything in ``static/`` (the simulator's
scripts and styles, the bot's icon, the LIFF shim) is served under ``/static/``.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from string import Template
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from emulator import simulator_panel
from emulator.control import ControlError, channel_of, control, user_json, user_of
from emulator.endpoints import store_of
from emulator.richmenu_insight import record_impression
from emulator.state import Channel, Delivery, UserMessage

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

HISTORY_LIMIT = 300  # talk items a first poll returns (the newest)
NO_STORE = {"Cache-Control": "no-store"}
_EPOCH = "_simulator_epoch"


def render(name: str, **values: str) -> str:
    """``templates/<name>`` with ``$placeholders`` filled in (values are HTML, escape before)."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return Template(text).substitute(values)


async def simulator_page(request: Request) -> HTMLResponse:
    store = store_of(request)
    body = render(
        "simulator.html",
        default_channel=html.escape(store.default_channel().channel_id, quote=True),
    )
    return HTMLResponse(body, headers=NO_STORE)


# --- the talk timeline --------------------------------------------------------------------


def _epoch(channel: Channel) -> str:
    """A mark of this channel object: a world reset (or a state load) builds new channels, so an
    old cursor starts over. Kept on the object (not persisted); ``id()`` could be reused."""
    epoch = channel.__dict__.get(_EPOCH)
    if epoch is None:
        epoch = secrets.token_hex(6)
        channel.__dict__[_EPOCH] = epoch
    return str(epoch)


def parse_cursor(raw: str | None, channel: Channel, user_id: str) -> tuple[int, int] | None:
    """``<epoch>.<sendings seen>.<user messages seen>``; None when absent, stale or out of range."""
    if not raw:
        return None
    parts = raw.split(".")
    if len(parts) != 3 or parts[0] != _epoch(channel):
        return None
    try:
        seen_deliveries, seen_messages = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    if not (
        0 <= seen_deliveries <= len(channel.sendings) and 0 <= seen_messages <= len(channel.user_messages)
    ):
        return None
    return seen_deliveries, seen_messages


def make_cursor(channel: Channel, user_id: str) -> str:
    return f"{_epoch(channel)}.{len(channel.sendings)}.{len(channel.user_messages)}"


def _bot_item(delivery: Delivery) -> dict[str, Any]:
    return {
        "side": "bot",
        "id": delivery.message_id,
        "at": delivery.sent_at,
        "message": delivery.message,
        "endpoint": delivery.endpoint,
        "requestId": delivery.request_id,
    }


def _user_item(channel: Channel, sent: UserMessage) -> dict[str, Any]:
    item: dict[str, Any] = {
        "side": "user",
        "id": sent.message_id,
        "at": sent.sent_at,
        "message": sent.message,
    }
    if sent.message.get("type") == "image" and sent.message_id in channel.contents:
        item["contentUrl"] = f"/control/channels/{channel.channel_id}/contents/{sent.message_id}"
    return item


def talk_items(channel: Channel, user_id: str, seen: tuple[int, int]) -> list[dict[str, Any]]:
    """The user's and the bot's messages after ``seen``, in the order they were sent.

    At equal times the user's message comes first (the bot answers what the user did).
    """
    seen_deliveries, seen_messages = seen
    keyed: list[tuple[float, int, int, dict[str, Any]]] = []
    for index, sent in enumerate(channel.user_messages[seen_messages:]):
        if sent.user_id == user_id:
            keyed.append((sent.sent_at, 0, index, _user_item(channel, sent)))
    for index, delivery in enumerate(channel.received(user_id, seen_deliveries)):
        keyed.append((delivery.sent_at, 1, index, _bot_item(delivery)))
    keyed.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in keyed]


def _rich_menu(channel: Channel, user_id: str) -> dict[str, Any] | None:
    rich_menu_id = channel.menu_for(user_id)
    if rich_menu_id is None:
        return None
    menu = channel.rich_menus[rich_menu_id]
    body = menu.body
    user = channel.users.get(user_id)
    return {
        "richMenuId": rich_menu_id,
        "size": body.get("size"),
        "selected": bool(body.get("selected")),
        "name": body.get("name", ""),
        "chatBarText": body.get("chatBarText", ""),
        "areas": body.get("areas", []),
        "imageUrl": (
            f"/control/channels/{channel.channel_id}/richmenus/{rich_menu_id}/image"
            if menu.image is not None
            else None
        ),
        "source": "user" if user is not None and user.linked_rich_menu_id == rich_menu_id else "default",
    }


@control
async def timeline(request: Request) -> dict[str, Any]:
    """The talk screen of one user: new messages since ``after``, the rich menu, the loading animation."""
    store = store_of(request)
    channel = channel_of(request)
    user = user_of(request, channel)
    try:
        limit = max(1, min(int(request.query_params.get("limit", HISTORY_LIMIT)), 5000))
    except ValueError as exc:
        raise ControlError(400, "limit は整数で指定してください。") from exc
    seen = parse_cursor(request.query_params.get("after"), channel, user.user_id)
    restart = seen is None
    items = talk_items(channel, user.user_id, seen or (0, 0))
    truncated = restart and len(items) > limit
    if truncated:
        items = items[-limit:]
    now = store.now()
    # The bot's POST /v2/bot/chat/loading/start; a delivered message ends it (Store.deliver).
    until = channel.loading_until.get(user.user_id)
    showing = until is not None and until > now
    rich_menu = _rich_menu(channel, user.user_id)
    if rich_menu is not None:
        # Showing the menu is an impression for rich menu insight (counted once a day per menu).
        record_impression(store, channel, user.user_id, rich_menu["richMenuId"])
    return {
        "cursor": make_cursor(channel, user.user_id),
        "restart": restart,
        "truncated": truncated,
        "items": items,
        "now": now,
        "user": user_json(channel, user),
        "bot": {
            "displayName": channel.spec.display_name,
            "basicId": channel.spec.basic_id,
            "pictureUrl": "/static/bot.svg",
        },
        "richMenu": rich_menu,
        "loading": {"until": until, "secondsLeft": round(until - now, 3)} if showing and until else None,
    }


site_routes: list[BaseRoute] = [
    Route("/", simulator_page, methods=["GET"]),
    *simulator_panel.site_routes,
    Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
]

control_routes: list[BaseRoute] = [
    Route("/channels/{channel_id}/users/{user_id}/timeline", timeline, methods=["GET"]),
]
