"""ホームページ取り込み: where the city's website is read from (取り込み設定), what each of its pages
became (``ScrapedPage``: one row per URL, with the answer page made from it) and what each run did
(``ScrapeRun`` and its lines: the 取り込み履歴 report).

A source is claimed by one run at a time (``current_run`` and its heartbeat, set in a short locked
transaction), and a URL has one row per source (unique), so two runs never make the same page twice.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from wagtail.admin.panels import FieldPanel, MultiFieldPanel

DEFAULT_MAX_PAGES = 200
DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_DELAY_SECONDS = 1.0


def lines_of(text: str) -> list[str]:
    """The non-empty lines of a text field (sections, exclude patterns)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class ScrapeSource(models.Model):
    """取り込み設定: a website (sitemap and/or start page), what to follow and where the answers go."""

    name = models.CharField("名前", max_length=100, help_text="例: 市のホームページ")
    sitemap_url = models.URLField(
        "サイトマップの URL",
        max_length=1000,
        blank=True,
        help_text=(
            "例: https://www.city.example.jp/sitemap.xml 。"
            "あれば、ここに載っているページを取り込みます（リンクはたどりません）。"
        ),
    )
    start_url = models.URLField(
        "開始ページの URL",
        max_length=1000,
        blank=True,
        help_text="サイトマップがないときは、このページからリンクをたどって取り込みます。",
    )
    sections = models.TextField(
        "取り込む範囲（パス）",
        blank=True,
        help_text=(
            "取り込むページのパスの始まりを1行に1つ（例: /kurashi/ ）。空ならサイト全体。"
            "リンクもこの範囲の中だけをたどります。"
        ),
    )
    exclude_patterns = models.TextField(
        "除外するページ",
        blank=True,
        help_text=(
            "URL のパスにこの文字を含むページは取り込みません。1行に1つ。* は任意の文字"
            "（例: /gikai/kaigiroku/ 、 */print/* ）。"
        ),
    )
    parent_page = models.ForeignKey(
        "wagtailcore.Page",
        verbose_name="取り込み先のページ",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="回答ページを作る場所。空なら、最初の取り込みでトップページの下に「ホームページ」を作ります。",
    )
    max_pages = models.PositiveIntegerField(
        "1回に読むページ数の上限",
        default=DEFAULT_MAX_PAGES,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="残りは次の取り込みで読みます（長く読んでいないページから順に）。",
    )
    max_bytes = models.PositiveIntegerField(
        "1ページの大きさの上限（バイト）",
        default=DEFAULT_MAX_BYTES,
        validators=[MinValueValidator(10_000), MaxValueValidator(20_000_000)],
        help_text="これより大きいページは読みません（2000000 で 2 MB）。",
    )
    delay_seconds = models.FloatField(
        "ページを読む間隔（秒）",
        default=DEFAULT_DELAY_SECONDS,
        validators=[MinValueValidator(0), MaxValueValidator(60)],
        help_text=(
            "相手のサーバーに負担をかけないよう、1ページごとに待つ時間です。"
            "robots.txt の指定が長ければそちらに従います。"
        ),
    )
    auto_publish = models.BooleanField(
        "自動で公開する",
        default=True,
        help_text="オフにすると、作成・更新した回答ページを承認の依頼（ワークフロー）に回し、承認されるまで公開しません。",
    )
    enabled = models.BooleanField(
        "定時の取り込みを行う", default=True, help_text="オフでも「今すぐ取り込む」は使えます。"
    )
    # The run holding this source, and when it last showed it was alive (see services._claim).
    current_run = models.ForeignKey(
        "ScrapeRun", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    panels = [
        FieldPanel("name"),
        MultiFieldPanel(
            [
                FieldPanel("sitemap_url"),
                FieldPanel("start_url"),
                FieldPanel("sections"),
                FieldPanel("exclude_patterns"),
            ],
            heading="読むページ",
        ),
        FieldPanel("parent_page"),
        MultiFieldPanel(
            [FieldPanel("max_pages"), FieldPanel("max_bytes"), FieldPanel("delay_seconds")],
            heading="読み方",
        ),
        FieldPanel("auto_publish"),
        FieldPanel("enabled"),
    ]

    class Meta:
        verbose_name = "取り込み設定"
        verbose_name_plural = "取り込み設定"
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def base_url(self) -> str:
        """The URL whose scheme, host and port are "the site" (the sitemap's, else the start page's)."""
        return self.sitemap_url or self.start_url

    def section_list(self) -> list[str]:
        return lines_of(self.sections)

    def exclude_list(self) -> list[str]:
        return lines_of(self.exclude_patterns)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if not self.sitemap_url and not self.start_url:
            errors["start_url"] = "サイトマップの URL か開始ページの URL のどちらかを入れてください。"
        for field in ("sitemap_url", "start_url"):
            value = getattr(self, field)
            if value and urlsplit(value).scheme.lower() not in ("http", "https"):
                errors[field] = "http:// か https:// で始まる URL を入れてください。"
        if self.sitemap_url and self.start_url and "start_url" not in errors:
            hosts = {(urlsplit(url).hostname or "").lower() for url in (self.sitemap_url, self.start_url)}
            if len(hosts) > 1:
                errors["start_url"] = "サイトマップと開始ページは同じサイト（ホスト名）にしてください。"
        bad = [line for line in self.section_list() if not line.startswith("/")]
        if bad:
            errors["sections"] = f"パスは / で始めてください（{bad[0]}）。"
        if self.parent_page_id:
            from chatbot.models import AnswerPage

            parent = self.parent_page
            if parent is not None and not AnswerPage.can_exist_under(parent):
                errors["parent_page"] = (
                    "ここにはチャットボットの回答を作れません。トップページ、標準ページ、"
                    "チャットボットの回答のどれかを選んでください。"
                )
        if errors:
            raise ValidationError(errors)


class ScrapeRun(models.Model):
    """One 取り込み: when, why, what it counted; its lines say what happened to each URL."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "定時"
        MANUAL = "manual", "手動（今すぐ取り込む）"

    class Status(models.TextChoices):
        QUEUED = "queued", "待機中"
        RUNNING = "running", "取り込み中"
        FINISHED = "finished", "完了"
        FAILED = "failed", "失敗"
        SKIPPED = "skipped", "実行せず（別の取り込みが実行中）"
        INTERRUPTED = "interrupted", "中断"

    source = models.ForeignKey(
        ScrapeSource, verbose_name="取り込み設定", null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    source_name = models.CharField("取り込み設定の名前", max_length=100)
    trigger = models.CharField("きっかけ", max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="実行した職員",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField("状態", max_length=20, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField("受付", auto_now_add=True)
    started_at = models.DateTimeField("開始", null=True, blank=True)
    finished_at = models.DateTimeField("終了", null=True, blank=True)
    created_count = models.PositiveIntegerField("新規", default=0)
    updated_count = models.PositiveIntegerField("更新", default=0)
    unchanged_count = models.PositiveIntegerField("変更なし", default=0)
    unpublished_count = models.PositiveIntegerField("非公開", default=0)
    skipped_count = models.PositiveIntegerField("スキップ", default=0)
    error_count = models.PositiveIntegerField("エラー", default=0)
    message = models.TextField("メッセージ", blank=True)
    # Where a run that continues in a later task stands (queue, URLs listed, pages read). A run is
    # worked on in steps (one Django-Q task each, shorter than the cluster's timeout): ``step`` counts
    # them and ``in_step`` is set while one is being worked on, so a repeated task never runs a step twice.
    state = models.JSONField(default=dict, blank=True, editable=False)
    step = models.PositiveIntegerField(default=0, editable=False)
    in_step = models.BooleanField(default=False, editable=False)
    # Not stored: whether the service call that returned this run worked a step of it (a repeated
    # task finds its step taken and must not queue the next one again).
    stepped = False

    class Meta:
        verbose_name = "取り込み履歴"
        verbose_name_plural = "取り込み履歴"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["source", "status"], name="scraper_run_source_status")]

    def __str__(self) -> str:
        return f"取り込み #{self.pk}（{self.source_name}）"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created_count,
            "updated": self.updated_count,
            "unchanged": self.unchanged_count,
            "unpublished": self.unpublished_count,
            "skipped": self.skipped_count,
            "errors": self.error_count,
        }


class Action(models.TextChoices):
    """What a run did with one URL (the line's 結果)."""

    CREATED = "created", "新規"
    UPDATED = "updated", "更新"
    UNCHANGED = "unchanged", "変更なし"
    UNPUBLISHED = "unpublished", "非公開"
    SKIPPED = "skipped", "スキップ"
    ERROR = "error", "エラー"


# ScrapeRun's counter of each action.
COUNTER_FIELDS = {
    Action.CREATED: "created_count",
    Action.UPDATED: "updated_count",
    Action.UNCHANGED: "unchanged_count",
    Action.UNPUBLISHED: "unpublished_count",
    Action.SKIPPED: "skipped_count",
    Action.ERROR: "error_count",
}


class ScrapeRunLine(models.Model):
    """One URL in a run's report: what was done and why."""

    run = models.ForeignKey(ScrapeRun, on_delete=models.CASCADE, related_name="lines")
    at = models.DateTimeField("日時", auto_now_add=True)
    url = models.CharField("URL", max_length=1000, blank=True)
    action = models.CharField("結果", max_length=20, choices=Action.choices)
    reason = models.CharField("理由", max_length=500, blank=True)
    title = models.CharField("タイトル", max_length=255, blank=True)
    page = models.ForeignKey(
        "chatbot.AnswerPage",
        verbose_name="回答ページ",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "取り込み結果"
        verbose_name_plural = "取り込み結果"
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.url}"


class ScrapedPage(models.Model):
    """A page of the website as last read, and the answer page made from it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "取り込み済み"
        GONE = "gone", "なくなった（非公開にしました）"

    source = models.ForeignKey(ScrapeSource, on_delete=models.CASCADE, related_name="pages")
    url = models.CharField("URL", max_length=1000)
    page = models.OneToOneField(
        "chatbot.AnswerPage",
        verbose_name="回答ページ",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scraped_from",
    )
    title = models.CharField("タイトル", max_length=255, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    phrasings = models.TextField(blank=True)  # what the scraper last wrote (staff edits are kept)
    etag = models.CharField(max_length=200, blank=True)
    http_last_modified = models.CharField(max_length=100, blank=True)
    last_modified = models.DateTimeField("ページの更新日時", null=True, blank=True)
    first_seen_at = models.DateTimeField("最初に読んだ日時", auto_now_add=True)
    last_seen_at = models.DateTimeField("最後に確かめた日時", null=True, blank=True)
    status = models.CharField("状態", max_length=20, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        verbose_name = "取り込んだページ"
        verbose_name_plural = "取り込んだページ"
        constraints = [models.UniqueConstraint(fields=["source", "url"], name="scraper_page_source_url")]

    def __str__(self) -> str:
        return self.title or self.url
