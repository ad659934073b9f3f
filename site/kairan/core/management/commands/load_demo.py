from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from kairan.core.demo import load_demo


class Command(BaseCommand):
    help = "デモ用のサイトと職員（役割ごとに1人）を作成します（KAIRAN_DEMO=1 のときだけ）。"

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            logins = load_demo()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("デモ用ログイン（役割 / ユーザー名 / パスワード）:")
        for login, secret in logins:
            departments = f"（{'・'.join(login.departments)}）" if login.departments else ""
            line = f"  {login.role}{departments}: {login.username} / {login.password}"
            if secret:
                line += f"\n    二要素認証キー: {secret}  現在のコード: make otp USER={login.username}"
            self.stdout.write(line)
