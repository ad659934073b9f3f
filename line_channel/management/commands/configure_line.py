"""``manage.py configure_line``: fill LINE連携設定 from the command line (the demo: the emulator).

Examples::

    manage.py configure_line --emulator          # the emulator's default channel (KAIRAN_DEMO=1 only)
    manage.py configure_line --check --wait 20   # connection test once LINE (or the emulator) answers
    manage.py configure_line --register-webhook  # LINE posts to KAIRAN_BASE_URL/line/webhook/, then tests it
    manage.py configure_line --channel-id 1234567890 --channel-secret ... --access-token ...

Values given on the command line are visible to other users of the machine
(process list, shell history); on a production server prefer the settings
screen (設定 → LINE連携設定).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from line_channel import services_settings
from line_channel.models import LineChannelSettings

ACTOR = "manage.py configure_line"


class Command(BaseCommand):
    help = "LINE連携設定（チャネルID・シークレット・アクセストークン）を保存し、接続テストをします。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--emulator",
            action="store_true",
            help="LINE エミュレーターの既定チャネルの値を使う（KAIRAN_DEMO=1 のときだけ）",
        )
        parser.add_argument("--channel-id", help="Messaging API チャネルのチャネルID")
        parser.add_argument("--channel-secret", help="チャネルシークレット")
        parser.add_argument("--access-token", help="チャネルアクセストークン（長期）")
        parser.add_argument("--login-channel-id", help="LINE ログインチャネル（LIFF）のチャネルID")
        parser.add_argument("--liff-id", help="マイページ・フォームの LIFF アプリの LIFF ID")
        parser.add_argument("--check", action="store_true", help="保存後に接続テストをする")
        parser.add_argument(
            "--register-webhook",
            action="store_true",
            help="Webhook URL（KAIRAN_BASE_URL + /line/webhook/）を LINE に設定してテストする",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="接続テストで LINE（エミュレーター）が応答するまで待つ秒数（起動直後のデモ用）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        values: dict[str, str | None] = {
            "channel_id": None,
            "channel_secret": None,
            "access_token": None,
            "login_channel_id": None,
            "liff_id": None,
        }
        if options["emulator"]:
            if not settings.KAIRAN_DEMO:
                raise CommandError("--emulator はデモ（KAIRAN_DEMO=1）でだけ使えます。")
            from emulator.config import config_from_env

            spec = config_from_env().channels[0]
            values.update(
                channel_id=spec.channel_id,
                channel_secret=spec.channel_secret,
                access_token=spec.access_token,
                login_channel_id=spec.login_channel_id,
            )
        for name in values:
            if options[name] is not None:
                values[name] = options[name]
        try:
            changed = services_settings.configure_channel(**values, username=ACTOR)
        except ValueError as exc:
            raise CommandError(f"チャネルIDは数字で指定してください: {exc}") from exc
        config = LineChannelSettings.load()
        self.stdout.write(
            f"LINE連携設定: チャネルID {config.channel_id or '（未設定）'}、"
            f"シークレット {'設定済み' if config.channel_secret else '未設定'}、"
            f"アクセストークン {'設定済み' if config.access_token else '未設定'}"
            + (f"（変更: {', '.join(changed)}）" if changed else "（変更なし）")
        )
        if options["check"] or options["register_webhook"]:
            _wait_for_line(options["wait"])
        if options["check"]:
            self._check()
        if options["register_webhook"]:
            self._register_webhook()

    def _check(self) -> None:
        result = services_settings.test_connection(username=ACTOR)
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)

    def _register_webhook(self) -> None:
        result = services_settings.register_webhook(base_url=settings.WAGTAILADMIN_BASE_URL, username=ACTOR)
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)
        for warning in result.warnings:
            self.stdout.write(f"注意: {warning}")


def _wait_for_line(seconds: float) -> None:
    """Wait until LINE's API host (the emulator, just started by the demo) answers at all."""
    url = settings.KAIRAN_LINE_API_BASE.rstrip("/") + "/v2/bot/info"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our configured API base
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401 without a token) means it is up
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
