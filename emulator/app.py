"""The emulator as one ASGI app.

``/api/...`` plays https://api.line.me, ``/api-data/...`` plays
https://api-data.line.me (an endpoint on the wrong host is a 404, as on LINE),
``/control/...`` is the control API for tests and the simulator, and ``/``
serves the phone simulator. Each feature module contributes route lists.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import modules
from emulator.config import EmulatorConfig
from emulator.state import Store, new_request_id

log = logging.getLogger("emulator")


class RawSendMiddleware:
    """Outermost layer: keeps the server's own ``send`` in the scope, so a
    dropped-connection fault can close the socket (see ``endpoints.drop``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["emulator.raw_send"] = send
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    config: EmulatorConfig = request.app.state.store.config
    if request.url.path.startswith((config.api_prefix + "/", config.data_prefix + "/")):
        message = "Not found" if status == 404 else "Method not allowed" if status == 405 else "Error"
        return JSONResponse(
            {"message": message}, status_code=status, headers={"x-line-request-id": new_request_id()}
        )
    return JSONResponse({"error": "見つかりません" if status == 404 else "エラー"}, status_code=status)


def build_app(config: EmulatorConfig, store: Store | None = None) -> Starlette:
    store = store or Store(config)
    if config.state_file is not None:
        store.load()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for hook in modules.startup_hooks():
            await hook(app)
        try:
            yield
        finally:
            for hook in modules.shutdown_hooks():
                await hook(app)
            store.save()

    routes: list[BaseRoute] = [
        Mount(config.api_prefix, routes=modules.api_routes()),
        Mount(config.data_prefix, routes=modules.data_routes()),
        Mount("/control", routes=modules.control_routes()),
        *modules.site_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.store = store
    app.state.config = config
    # LIFF pages (another origin) call the API from the browser, as they do on LINE.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["*"],
        expose_headers=["x-line-request-id", "x-line-accepted-request-id"],
    )
    return app


def asgi_app(config: EmulatorConfig, store: Store | None = None) -> ASGIApp:
    """The app as the server runs it."""
    return RawSendMiddleware(build_app(config, store))
