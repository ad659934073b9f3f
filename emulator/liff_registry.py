"""LIFF apps of a channel, and LINE's LIFF server API that manages them (``liff.yml``).

A channel's LIFF apps map a LIFF id (``<loginChannelId>-<8 alphanumerics>``)
to an endpoint URL (``Channel.liff_apps``, also set from ``ChannelSpec.liff_apps``
and ``PUT /control/channels/{id}``); the rest of an app's settings (view size,
scope, bot prompt, ...) live in ``Channel.liff_app_settings``. Apps that were
configured without settings get a full-size view and every scope LIFF pages use.

The server API (``GET|POST /liff/v1/apps``, ``PUT|DELETE /liff/v1/apps/{liffId}``)
is authenticated with the channel access token, as on LINE (where it is the
LINE Login channel's token; the emulator plays both channels as one).
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import Route

from emulator.endpoints import Call, line_endpoint
from emulator.errors import Detail, LineError, invalid_request
from emulator.state import Channel, Store

VIEW_TYPES = ("compact", "tall", "full")
SCOPES = ("openid", "email", "profile", "chat_message.write")
BOT_PROMPTS = ("normal", "aggressive", "none")
MAX_APPS_PER_CHANNEL = 30  # "You can add up to 30 LIFF apps on one channel."
# The server API's default scope when a request names none (liff.yml, LiffScope).
API_DEFAULT_SCOPE = ["profile", "chat_message.write"]
# Apps registered through emulator settings carry no scope: give them what LIFF pages use.
CONFIGURED_DEFAULT_SCOPE = ["openid", "profile", "chat_message.write"]
_ALNUM = string.ascii_letters + string.digits
# "The LIFF app name can't include 'LINE' or similar strings" ("online" is fine, "LINE申請" is not).
_LINE_WORD = re.compile(r"(?<![a-z])line(?![a-z])")


def new_liff_id(channel: Channel) -> str:
    while True:
        liff_id = f"{channel.spec.login_channel_id}-" + "".join(secrets.choice(_ALNUM) for _ in range(8))
        if liff_id not in channel.liff_apps:
            return liff_id


def find_app(store: Store, liff_id: str) -> Channel | None:
    """The channel a LIFF app belongs to (LIFF ids are unique across the LINE Platform)."""
    for channel in store.channels.values():
        if liff_id in channel.liff_apps:
            return channel
    return None


def app_settings(channel: Channel, liff_id: str) -> dict[str, Any]:
    """An app's settings with the defaults filled in (the endpoint URL is ``channel.liff_apps``)."""
    stored = channel.liff_app_settings.get(liff_id, {})
    view = {"type": "full", **stored.get("view", {})}
    return {
        "view": view,
        "description": stored.get("description", ""),
        "features": {"ble": False, "qrCode": False, **stored.get("features", {})},
        "permanentLinkPattern": "concat",
        "scope": list(stored.get("scope", CONFIGURED_DEFAULT_SCOPE)),
        "botPrompt": stored.get("botPrompt", "none"),
    }


def app_json(channel: Channel, liff_id: str) -> dict[str, Any]:
    """One LIFF app as ``GET /liff/v1/apps`` lists it (``LiffApp`` in liff.yml)."""
    settings = app_settings(channel, liff_id)
    view: dict[str, Any] = {"type": settings["view"]["type"], "url": channel.liff_apps[liff_id]}
    if "moduleMode" in settings["view"]:
        view["moduleMode"] = settings["view"]["moduleMode"]
    return {
        "liffId": liff_id,
        "view": view,
        "description": settings["description"],
        "features": settings["features"],
        "permanentLinkPattern": settings["permanentLinkPattern"],
        "scope": settings["scope"],
        "botPrompt": settings["botPrompt"],
    }


# --- validation ------------------------------------------------------------------


def _local_host(host: str) -> bool:
    """Hosts no public https site can have: loopback and single-label names (compose services)."""
    return host in {"localhost", "127.0.0.1", "::1"} or ("." not in host and ":" not in host)


def endpoint_url_problem(url: Any) -> str | None:
    """Why an endpoint URL is refused, or None. LINE requires https and no fragment; the
    emulator also accepts http on hosts that are only reachable locally (see module docs)."""
    if not isinstance(url, str) or not url:
        return "must be specified"
    if "#" in url:
        return "URL fragments (#URL-fragment) can't be specified"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        return "must be an absolute URL"
    if parts.scheme == "https" or (parts.scheme == "http" and _local_host(host)):
        return None
    return "The URL scheme must be https"


def _validate(data: dict[str, Any], *, creating: bool) -> tuple[dict[str, Any], list[Detail]]:
    """Check an add/update request; return the settings it changes and the problems found."""
    problems: list[Detail] = []
    changes: dict[str, Any] = {}
    view = data.get("view")
    if view is None:
        if creating:
            problems.append(Detail("must be specified", "view"))
    elif not isinstance(view, dict):
        problems.append(Detail("must be an object", "view"))
    else:
        view_changes: dict[str, Any] = {}
        if "type" in view or creating:
            if view.get("type") not in VIEW_TYPES:
                problems.append(Detail(f"must be one of {', '.join(VIEW_TYPES)}", "view.type"))
            else:
                view_changes["type"] = view["type"]
        if "url" in view or creating:
            problem = endpoint_url_problem(view.get("url"))
            if problem:
                problems.append(Detail(problem, "view.url"))
            else:
                changes["url"] = view["url"]
        if "moduleMode" in view:
            if not isinstance(view["moduleMode"], bool):
                problems.append(Detail("must be a boolean", "view.moduleMode"))
            else:
                view_changes["moduleMode"] = view["moduleMode"]
        changes["view"] = view_changes
    if "description" in data:
        description = data["description"]
        if not isinstance(description, str):
            problems.append(Detail("must be a string", "description"))
        elif _LINE_WORD.search(unicodedata.normalize("NFKC", description).casefold()):
            problems.append(
                Detail('The LIFF app name can\'t include "LINE" or similar strings', "description")
            )
        else:
            changes["description"] = description
    if "features" in data:
        features = data["features"]
        if not isinstance(features, dict):
            problems.append(Detail("must be an object", "features"))
        else:
            for name in ("ble", "qrCode"):
                if name in features and not isinstance(features[name], bool):
                    problems.append(Detail("must be a boolean", f"features.{name}"))
            changes["features"] = {k: v for k, v in features.items() if k in ("ble", "qrCode")}
    if "permanentLinkPattern" in data and data["permanentLinkPattern"] != "concat":
        problems.append(Detail("Specify concat", "permanentLinkPattern"))
    if "scope" in data:
        scope = data["scope"]
        if not isinstance(scope, list) or any(item not in SCOPES for item in scope):
            problems.append(Detail(f"must be a list of {', '.join(SCOPES)}", "scope"))
        else:
            changes["scope"] = list(dict.fromkeys(scope))
    elif creating:
        changes["scope"] = list(API_DEFAULT_SCOPE)
    if "botPrompt" in data:
        if data["botPrompt"] not in BOT_PROMPTS:
            problems.append(Detail(f"must be one of {', '.join(BOT_PROMPTS)}", "botPrompt"))
        else:
            changes["botPrompt"] = data["botPrompt"]
    return changes, problems


def _apply(channel: Channel, liff_id: str, changes: dict[str, Any]) -> None:
    settings = channel.liff_app_settings.setdefault(liff_id, {})
    if "url" in changes:
        channel.liff_apps[liff_id] = changes["url"]
    if changes.get("view"):
        settings["view"] = {**settings.get("view", {}), **changes["view"]}
    if "features" in changes:
        settings["features"] = {**settings.get("features", {}), **changes["features"]}
    for name in ("description", "scope", "botPrompt"):
        if name in changes:
            settings[name] = changes[name]


def _app_of(call: Call) -> str:
    """The path's LIFF app on the caller's channel; 404 when absent or on another channel."""
    liff_id = call.path("liff_id")
    if liff_id not in call.channel.liff_apps:
        raise LineError(404, "The specified LIFF app does not exist")
    return liff_id


# --- the LIFF server API -----------------------------------------------------------


@line_endpoint("liff.apps.list")
async def list_apps(call: Call) -> dict[str, Any]:
    channel = call.channel
    if not channel.liff_apps:
        raise LineError(404, "There is no LIFF app on the channel")
    return {"apps": [app_json(channel, liff_id) for liff_id in channel.liff_apps]}


@line_endpoint("liff.apps.add")
async def add_app(call: Call) -> dict[str, Any]:
    channel = call.channel
    changes, problems = _validate(await call.json_object(), creating=True)
    if problems:
        raise invalid_request(problems)
    if len(channel.liff_apps) >= MAX_APPS_PER_CHANNEL:
        raise LineError(400, f"The maximum number of LIFF apps ({MAX_APPS_PER_CHANNEL}) has been reached")
    liff_id = new_liff_id(channel)
    _apply(channel, liff_id, changes)
    return {"liffId": liff_id}


@line_endpoint("liff.apps.update")
async def update_app(call: Call) -> dict[str, Any]:
    liff_id = _app_of(call)
    changes, problems = _validate(await call.json_object(), creating=False)
    if problems:
        raise invalid_request(problems)
    _apply(call.channel, liff_id, changes)
    return {}


@line_endpoint("liff.apps.delete")
async def delete_app(call: Call) -> dict[str, Any]:
    liff_id = _app_of(call)
    del call.channel.liff_apps[liff_id]
    call.channel.liff_app_settings.pop(liff_id, None)
    return {}


api_routes = [
    Route("/liff/v1/apps", list_apps, methods=["GET"]),
    Route("/liff/v1/apps", add_app, methods=["POST"]),
    Route("/liff/v1/apps/{liff_id}", update_app, methods=["PUT"]),
    Route("/liff/v1/apps/{liff_id}", delete_app, methods=["DELETE"]),
]
