"""A small client of the control API, for tests and scripts.

emu = EmulatorControl("http://127.0.0.1:8100")
user = emu.create_user("山田 花子")
emu.follow(user["user_id"])
emu.send_text(user["user_id"], "こんにちは")
emu.received(user["user_id"])
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx


class EmulatorError(Exception):
    pass


class EmulatorControl:
    def __init__(self, base_url: str, channel_id: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url + "/control", timeout=timeout)
        self.channel_id = channel_id or self.channels()[0]["channelId"]

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = self.http.request(method, path, json=json, **kwargs)
        if response.status_code >= 400:
            raise EmulatorError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def _c(self, path: str = "") -> str:
        return f"/channels/{self.channel_id}{path}"

    # --- world ---------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/reset")

    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "/clock", {"advance": seconds})["now"])

    def set_faults(self, faults: dict[str, dict[str, Any]]) -> None:
        self._call("PUT", "/faults", faults)

    def settings(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT" if changes else "GET", "/settings", changes or None)
        return result

    def channels(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/channels")
        return result

    def channel(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT" if changes else "GET", self._c(), changes or None)
        return result

    # --- users ---------------------------------------------------------------
    def create_user(self, display_name: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"displayName": display_name, **fields} if display_name else fields
        result: dict[str, Any] = self._call("POST", self._c("/users"), body)
        return result

    def create_followers(self, count: int) -> list[str]:
        result = self._call("POST", self._c("/users"), {"count": count, "follow": True})
        return list(result["userIds"])

    def user(self, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", self._c(f"/users/{user_id}"))
        return result

    def received(self, user_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", self._c(f"/users/{user_id}/received"))["messages"])

    def deliveries(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", self._c("/deliveries"))
        return result

    def loading(self) -> dict[str, float]:
        """Users who see a loading animation (chat/loading/start) now, with the seconds it has left."""
        return {k: float(v) for k, v in self._call("GET", self._c("/loading"))["loading"].items()}

    # --- user actions (emulator.events) --------------------------------------
    def action(self, user_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", self._c(f"/users/{user_id}/{action}"), body or {})
        return result

    def follow(self, user_id: str) -> dict[str, Any]:
        return self.action(user_id, "follow")

    def block(self, user_id: str) -> dict[str, Any]:
        return self.action(user_id, "block")

    def unblock(self, user_id: str) -> dict[str, Any]:
        return self.action(user_id, "unblock")

    def unfriend(self, user_id: str) -> dict[str, Any]:
        return self.action(user_id, "unfriend")

    def send_text(self, user_id: str, text: str) -> dict[str, Any]:
        return self.action(user_id, "message", {"type": "text", "text": text})

    def send_image(self, user_id: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
        encoded = base64.b64encode(data).decode("ascii")
        return self.action(
            user_id, "message", {"type": "image", "data": encoded, "contentType": content_type}
        )

    def send_location(
        self,
        user_id: str,
        latitude: float,
        longitude: float,
        title: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "location", "latitude": latitude, "longitude": longitude}
        if title is not None:
            body["title"] = title
        if address is not None:
            body["address"] = address
        return self.action(user_id, "message", body)

    def send_sticker(self, user_id: str, package_id: str, sticker_id: str) -> dict[str, Any]:
        return self.action(
            user_id, "message", {"type": "sticker", "packageId": package_id, "stickerId": sticker_id}
        )

    def postback(
        self, user_id: str, data: str, params: dict[str, str] | None = None, display_text: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"data": data}
        if params is not None:
            body["params"] = params
        if display_text is not None:
            body["displayText"] = display_text
        return self.action(user_id, "postback", body)

    def perform(self, user_id: str, action: dict[str, Any], value: Any = None) -> dict[str, Any]:
        """Tap a control (button, quick reply item) whose action object is ``action``."""
        return self.action(user_id, "perform", {"action": action, "value": value})

    def tap(
        self,
        user_id: str,
        *,
        x: int | None = None,
        y: int | None = None,
        area: int | None = None,
        value: Any = None,
    ) -> dict[str, Any]:
        """Tap the rich menu the user sees, at (x, y) in menu pixels or on area ``area``."""
        body = {k: v for k, v in {"x": x, "y": y, "area": area, "value": value}.items() if v is not None}
        return self.action(user_id, "tap", body)

    def sent(self, user_id: str) -> list[dict[str, Any]]:
        """What the user sent to the account (the talk screen's right-hand side)."""
        return list(self._call("GET", self._c(f"/users/{user_id}/sent"))["messages"])

    # --- webhook (emulator.webhook) ------------------------------------------
    def drain_webhooks(self, timeout: float = 30.0) -> int:
        """Wait until pending webhook deliveries (and redeliveries) are done; return how many still run."""
        result = self._call("POST", "/webhook/drain", {"timeout": timeout}, timeout=timeout + 5)
        return int(result["pending"])

    def webhook_log(self) -> list[dict[str, Any]]:
        return list(self._call("GET", self._c("/webhook-log"))["attempts"])

    def clear_webhook_log(self) -> None:
        self._call("DELETE", self._c("/webhook-log"))

    def webhook_redelivery(self, delays: list[float] | None = None) -> dict[str, Any]:
        """The redelivery schedule (seconds between attempts); turn redelivery on with settings()."""
        body = None if delays is None else {"delays": delays}
        result: dict[str, Any] = self._call("PUT" if body else "GET", "/webhook/redelivery", body)
        return result

    # --- rich menus (emulator.richmenu) ----------------------------------------
    def rich_menus(self) -> dict[str, Any]:
        """The channel's rich menus (``hasImage`` each), ``defaultRichMenuId`` and ``aliases``."""
        result: dict[str, Any] = self._call("GET", self._c("/richmenus"))
        return result

    def user_rich_menu(self, user_id: str) -> dict[str, Any]:
        """The menu the user sees (``richMenu``) and ``source``: "user", "default" or None."""
        result: dict[str, Any] = self._call("GET", self._c(f"/users/{user_id}/richmenu"))
        return result

    def rich_menu_audience(self) -> dict[str, Any]:
        """How many friends see each rich menu (``menus``), by a per-user link (``perUser``), none."""
        result: dict[str, Any] = self._call("GET", self._c("/richmenu-audience"))
        return result

    def rich_menu_image(self, rich_menu_id: str) -> bytes:
        response = self.http.get(self._c(f"/richmenus/{rich_menu_id}/image"))
        if response.status_code >= 400:
            raise EmulatorError(f"GET rich menu image: {response.status_code} {response.text}")
        return response.content

    # --- LIFF (emulator.liff) ------------------------------------------------------
    def open_liff(self, liff_id: str, user_id: str | None = None, path: str = "") -> dict[str, Any]:
        """Open ``/liff/{liffId}{path}`` as the simulator's LIFF browser does, without a browser.

        Returns ``location`` (the redirect, without fragment) and, when a user opens it, the
        credentials the LIFF page receives: ``accessToken``, ``idToken``, ``context``, ...
        """
        url = httpx.URL(f"{self.base_url}/liff/{liff_id}{path}")
        if user_id:
            url = url.copy_add_param("user", user_id)
        response = httpx.get(url, follow_redirects=False, timeout=self.http.timeout)
        if response.status_code != 302:
            raise EmulatorError(f"GET /liff/{liff_id}{path}: {response.status_code} {response.text[:200]}")
        location, _, fragment = response.headers["location"].partition("#")
        result: dict[str, Any] = {"location": location}
        key, _, encoded = fragment.partition("=")
        if key == "liff.emulator":
            result.update(json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))))
        return result

    # --- phone simulator (emulator.simulator) ----------------------------------------
    def timeline(self, user_id: str, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """The user's talk screen: ``items`` (both sides, in order) after the cursor ``after``,
        the next ``cursor``, ``richMenu`` (with ``imageUrl``) and ``loading``."""
        params: dict[str, Any] = {}
        if after:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        result: dict[str, Any] = self._call("GET", self._c(f"/users/{user_id}/timeline"), params=params)
        return result
