"""The feature modules that make up the emulator, and the routes each contributes.

A module may define ``api_routes``, ``data_routes``, ``control_routes`` and
``site_routes`` (lists of Starlette routes) and ``on_startup`` /
``on_shutdown`` coroutines taking the app.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from starlette.routing import BaseRoute

MODULES = (
    "emulator.channel",
    "emulator.messaging",
    "emulator.richmenu",
    "emulator.webhook",
    "emulator.events_control",
    "emulator.liff",
    "emulator.control",
    "emulator.simulator",
)


def _loaded() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]


def _collect(attribute: str) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for module in _loaded():
        routes.extend(getattr(module, attribute, []))
    return routes


def api_routes() -> list[BaseRoute]:
    return _collect("api_routes")


def data_routes() -> list[BaseRoute]:
    return _collect("data_routes")


def control_routes() -> list[BaseRoute]:
    return _collect("control_routes")


def site_routes() -> list[BaseRoute]:
    return _collect("site_routes")


def startup_hooks() -> list[Callable[[Any], Awaitable[None]]]:
    return [m.on_startup for m in _loaded() if hasattr(m, "on_startup")]


def shutdown_hooks() -> list[Callable[[Any], Awaitable[None]]]:
    return [m.on_shutdown for m in _loaded() if hasattr(m, "on_shutdown")]
