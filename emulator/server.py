"""Running the emulator: in the foreground (``python -m emulator``) or in a thread (tests)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from emulator.app import asgi_app
from emulator.config import EmulatorConfig
from emulator.state import Store


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_config(
    config: EmulatorConfig, store: Store | None = None, *, log_level: str = "warning"
) -> uvicorn.Config:
    return uvicorn.Config(
        asgi_app(config, store),
        host=config.host,
        port=config.port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


@dataclass
class RunningEmulator:
    config: EmulatorConfig
    store: Store
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.config.public_url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(config: EmulatorConfig | None = None) -> RunningEmulator:
    """Start the emulator on a free port in a daemon thread and wait until it answers."""
    if config is None:
        config = EmulatorConfig(port=free_port())
    store = Store(config)
    server = uvicorn.Server(uvicorn_config(config, store))
    thread = threading.Thread(target=server.run, name="line-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the LINE emulator did not start")
        time.sleep(0.02)
    return RunningEmulator(config, store, server, thread)
