"""``python -m emulator``: the LINE platform emulator and phone simulator."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from emulator.config import config_from_env
from emulator.server import uvicorn_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="LINE platform emulator (offline)."
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8100)")
    parser.add_argument("--public-url", help="address browsers use to reach the emulator")
    parser.add_argument("--webhook-url", help="webhook URL of the default channel")
    parser.add_argument("--state-file", type=Path, help="keep the emulator's state in this JSON file")
    parser.add_argument(
        "--liff-app",
        action="append",
        default=[],
        metavar="LIFF_ID=URL",
        help="register a LIFF app of the default channel (kept across resets; repeatable)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="answer 429 never (benchmarks)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)

    config = config_from_env(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        state_file=args.state_file,
        rate_limits_enabled=False if args.no_rate_limits else None,
    )
    if args.webhook_url:
        config.channels[0].webhook_url = args.webhook_url
    for app in args.liff_app:
        liff_id, _, url = app.partition("=")
        if not liff_id or not url.startswith(("http://", "https://")):
            parser.error(f"--liff-app wants LIFF_ID=URL, got {app!r}")
        config.channels[0].liff_apps[liff_id] = url
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    channel = config.channels[0]
    print(
        f"LINE emulator: {config.public_url}/  (API {config.api_base}, data {config.data_base})\n"
        f"  channel {channel.channel_id} {channel.basic_id}: access token {channel.access_token}, "
        f"secret {channel.channel_secret}, webhook {channel.webhook_url or '(not set)'}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(uvicorn_config(config, log_level=args.log_level)).run()


if __name__ == "__main__":
    main()
