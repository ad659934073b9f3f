from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "デモ環境専用: 職員の認証アプリに表示されるはずの現在の6桁コードを表示します。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.KAIRAN_DEMO:
            raise CommandError("このコマンドはデモ環境（KAIRAN_DEMO=1）でだけ使えます。")
        device = TOTPDevice.objects.filter(user__username=options["username"], confirmed=True).first()
        if device is None:
            raise CommandError(f"{options['username']} には認証アプリが登録されていません。")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        remaining = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}  （あと{remaining}秒有効）")
