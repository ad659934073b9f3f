from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kairan.oplog.services import verify_and_remember


class Command(BaseCommand):
    help = "操作ログのハッシュチェーンを検証し、最初に壊れている記録を報告します（異常があれば終了コード1）。"

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_and_remember()
        if not result.ok:
            raise CommandError(result.describe())
        self.stdout.write(result.describe())
