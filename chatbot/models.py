"""チャットボット: answer pages in the Wagtail page tree, the bot's settings, conversations and
unanswered questions.

An ``AnswerPage`` is one step of a scenario: its body is what the bot sends (1–5 LINE messages, the
delivery composer's blocks), its live children are the buttons offered under it, so the page tree *is*
the scenario and staff build it with the page editor (drafts, revisions, moderation, scheduled
publishing). Keywords and alternative phrasings lead residents' own words to it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting
from wagtail.fields import StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index

from chatbot.blocks import ChoiceStreamBlock, label_error
from chatbot.widgets import AnswerPageChooser
from deliveries.blocks import MessageStreamBlock
from kairan.core.crypto import EncryptedTextField

CHOICE_STYLES = [
    ("auto", "自動（12個まではクイックリプライ、それより多いとカルーセル）"),
    ("quick_reply", "クイックリプライ（トーク画面の下のボタン、12個まで）"),
    ("buttons", "ボタン付きメッセージ（4個まで）"),
    ("carousel", "カルーセル（横に並ぶカード、30個まで）"),
    ("none", "選択肢を出さない（子ページはキーワードと自由入力の質問で探されます）"),
]


class AnswerPage(Page):
    """チャットボットの回答: what the bot answers, and the choices that lead on."""

    body = StreamField(
        MessageStreamBlock(),
        verbose_name="回答",
        help_text="このページが選ばれたときにボットが送るメッセージ（5通まで。選択肢があるときは4通まで）。",
    )
    button_label = models.CharField(
        "ボタンの文字",
        max_length=20,
        blank=True,
        help_text="親ページの選択肢としてこのページが並ぶときの文字（20文字まで）。空ならタイトル。",
    )
    choice_style = models.CharField("選択肢の見せ方", max_length=20, choices=CHOICE_STYLES, default="auto")
    choice_prompt = models.CharField(
        "選択肢の案内",
        max_length=60,
        blank=True,
        default="",
        help_text="ボタン付きメッセージ・カルーセルの上に出す短い文（例: 知りたいことを選んでください）。",
    )
    extra_choices = StreamField(
        ChoiceStreamBlock(),
        verbose_name="追加の選択肢",
        blank=True,
        help_text="子ページのほかに並べるボタン（別の回答ページへ進む、フォームや URL を開く、電話）。",
    )
    phrasings = models.TextField(
        "言い換え",
        blank=True,
        help_text=(
            "住民が書きそうな言い方を1行に1つ（例: 粗大ごみはどうやって捨てるの）。自由入力の検索に使います。"
        ),
    )
    source_url = models.URLField("取り込み元", max_length=1000, blank=True, editable=False)
    source_modified = models.DateTimeField("取り込み元の更新日時", null=True, blank=True, editable=False)

    content_panels = [
        *Page.content_panels,
        FieldPanel("body"),
        MultiFieldPanel(
            [FieldPanel("button_label"), FieldPanel("choice_style"), FieldPanel("choice_prompt")],
            heading="選択肢",
            help_text="子ページが選択肢のボタンになります（並び順はページの並び順）。「最初に戻る」は自動で付きます。",
        ),
        FieldPanel("extra_choices"),
    ]
    promote_panels = [
        MultiFieldPanel(
            [InlinePanel("keywords", label="キーワード"), FieldPanel("phrasings")],
            heading="キーワードと言い換え",
        ),
        *Page.promote_panels,
    ]

    search_fields = [
        *Page.search_fields,
        index.SearchField("search_text"),
        index.SearchField("phrasings"),
        index.RelatedFields("keywords", [index.SearchField("text")]),
    ]

    parent_page_types = ["home.HomePage", "home.StandardPage", "chatbot.AnswerPage"]
    subpage_types = ["chatbot.AnswerPage"]
    template = "chatbot/answer_page.html"

    class Meta:
        verbose_name = "チャットボットの回答"
        verbose_name_plural = "チャットボットの回答"

    @property
    def choice_label(self) -> str:
        return (self.button_label or self.title)[:20]

    def search_text(self) -> str:
        """The answer's words for the search index (texts and cards)."""
        from chatbot.line_messages import body_text

        return body_text(self.body)

    def clean(self) -> None:
        super().clean()
        from chatbot.line_messages import structure_errors

        if problems := structure_errors(self):
            raise ValidationError({"body": problems})
        if not self.button_label and (
            problem := label_error(self.title[:20] if len(self.title) > 20 else "")
        ):
            raise ValidationError({"button_label": problem})

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from chatbot.preview import preview_context

        context = super().get_context(request, *args, **kwargs)
        context.update(preview_context(self))
        return context


class AnswerKeyword(Orderable):
    """A word that starts this answer when a resident sends it."""

    class Match(models.TextChoices):
        EXACT = "exact", "完全一致"
        CONTAINS = "contains", "含む"

    page = ParentalKey(AnswerPage, on_delete=models.CASCADE, related_name="keywords")
    text = models.CharField("キーワード", max_length=100)
    match = models.CharField("一致のしかた", max_length=10, choices=Match.choices, default=Match.EXACT)
    priority = models.IntegerField(
        "優先度", default=0, help_text="同じ言葉に複数のキーワードが当たるとき、大きい方が先です。"
    )

    panels = [FieldPanel("text"), FieldPanel("match"), FieldPanel("priority")]

    class Meta(Orderable.Meta):
        verbose_name = "キーワード"
        verbose_name_plural = "キーワード"

    def __str__(self) -> str:
        return self.text


@register_setting(icon="help", name="chatbot")
class ChatbotSettings(BaseGenericSetting):
    """チャットボットの設定: where conversations start and end, and what is kept."""

    top_page = models.ForeignKey(
        AnswerPage,
        verbose_name="最初のページ",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="「最初に戻る」で表示するページ（メニュー）。",
    )
    greeting_page = models.ForeignKey(
        AnswerPage,
        verbose_name="友だち追加のあいさつ",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="友だち追加（ブロック解除を含む）のときに送るページ。空なら送りません。",
    )
    fallback_page = models.ForeignKey(
        AnswerPage,
        verbose_name="答えが見つからないとき",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="質問に合う回答がないときに送るページ（問い合わせ先など）。空なら下の文を送ります。",
    )
    fallback_text = models.TextField(
        "答えが見つからないときの文",
        max_length=1000,
        default=(
            "申し訳ありません。お答えできる情報が見つかりませんでした。\n"
            "お手数ですが、市役所の担当課へお問い合わせください。"
        ),
    )
    answer_free_text = models.BooleanField(
        "自由入力の質問に答える",
        default=True,
        help_text="オフにすると、キーワードと選択肢だけで応答します。",
    )
    timeout_minutes = models.PositiveIntegerField(
        "会話の有効時間（分）",
        default=30,
        help_text="最後のやりとりからこの時間がたつと、選択肢の文字を送っても続きとして扱いません。",
    )
    keep_unanswered_text = models.BooleanField(
        "答えられなかった質問の文を保存する",
        default=False,
        help_text=(
            "オンにすると未回答の質問の文を暗号化して保存します。オフ（既定）では、"
            "質問を区別する値と件数だけを保存します"
            "（国の LINE 利用ガイドライン: トーク内容を不必要に保存しない）。"
        ),
    )

    panels = [
        MultiFieldPanel(
            [
                FieldPanel(name, widget=AnswerPageChooser)
                for name in ("top_page", "greeting_page", "fallback_page")
            ],
            heading="ページ",
        ),
        FieldPanel("fallback_text"),
        FieldPanel("answer_free_text"),
        FieldPanel("timeout_minutes"),
        FieldPanel("keep_unanswered_text"),
    ]

    class Meta:
        verbose_name = "チャットボットの設定"


class Conversation(models.Model):
    """Where one resident is in the scenarios: the last answer sent, and when."""

    line_user_hash = models.CharField(max_length=64, unique=True)
    page = models.ForeignKey(AnswerPage, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "会話の状態"
        verbose_name_plural = "会話の状態"

    def __str__(self) -> str:
        return f"{self.line_user_hash[:10]}: {self.page_id}"


class UnansweredQuestion(models.Model):
    """未回答の質問: a free-text question the bot could not answer, counted per normalised form."""

    question_hash = models.CharField("質問の識別値", max_length=64, unique=True)
    text = EncryptedTextField("質問", blank=True, default="")
    count = models.PositiveIntegerField("件数", default=0)
    first_asked_at = models.DateTimeField("最初")
    last_asked_at = models.DateTimeField("最新")
    answer = models.ForeignKey(
        AnswerPage,
        verbose_name="作成した回答",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "未回答の質問"
        verbose_name_plural = "未回答の質問"
        ordering = ["-count", "-last_asked_at"]
        permissions = [("view_unanswered_text", "未回答の質問の文を見る")]

    def __str__(self) -> str:
        return self.text or f"#{self.question_hash[:10]}"
