from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from wagtail.models import Page

from kairan.staff.permissions import create_department


class Command(BaseCommand):
    help = "部署（グループ）を作成し、画像・文書のコレクションと、指定したページ以下の編集権限を与えます。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="部署名（例: 防災課）")
        parser.add_argument("--page-id", type=int, help="この部署が編集するページの ID（その子ページも含む）")

    def handle(self, *args: Any, **options: Any) -> None:
        section = None
        if options["page_id"] is not None:
            section = Page.objects.filter(pk=options["page_id"]).first()
            if section is None:
                raise CommandError(f"ページ ID {options['page_id']} は見つかりません。")
        try:
            group = create_department(name=options["name"], section=section)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        where = f"「{section.title}」以下のページ" if section else "ページ権限なし"
        self.stdout.write(f"部署「{group.name}」を用意しました（{where}、コレクション「{group.name}」）。")
