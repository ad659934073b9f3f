"""A small client of the control API, for tests and scripts.

emu = EmulatorControl("http://127.0.0.1:8100")
user = emu.create_user("山田 花子")
emu.follow(user["user_id"])
emu.send_text(user["user_id"], "こんにちは")
emu.received(user["user_id"])
"""

from __future__ import annotations

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

    # --- user actions (emulator.events) --------------------------------------
    def action(self, user_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", self._c(f"/users/{user_id}/{action}"), body or {})
        return result
