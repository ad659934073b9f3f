"""``manage.py build_design_assets``: (re)write the design files in ``design/`` from the code.

Writes ``design/icons/<name>.svg``, ``design/icons/png/<name>.png`` and the
sample menus in ``design/samples/``, and removes files there that the code no
longer makes. Needs the Japanese font of ``KAIRAN_RICHMENU_FONT``.

    manage.py build_design_assets                 # into <repository>/design
    manage.py build_design_assets --output /tmp/design
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from line_channel.richmenu_design.assets import build_assets
from line_channel.richmenu_design.errors import RichMenuDesignError


class Command(BaseCommand):
    help = "リッチメニューのデザイン素材（design/ のアイコンと見本画像）をコードから作り直します。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=Path(settings.BASE_DIR) / "design",
            help="書き出し先のフォルダ（既定: リポジトリの design/）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        design_dir: Path = options["output"]
        try:
            written, removed = build_assets(design_dir)
        except RichMenuDesignError as exc:
            raise CommandError(str(exc)) from exc
        for path in removed:
            self.stdout.write(f"削除: {path}")
        total = sum(path.stat().st_size for path in written)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(written)} 個のファイルを {design_dir} に書き出しました（計 {total:,} バイト）"
            )
        )
