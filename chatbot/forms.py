"""Forms of the chatbot's admin screens: importing and exporting scenario files, choosing the page
an unanswered question leads to, and a page chooser that works under the admin's CSP."""

from __future__ import annotations

from typing import Any

from django import forms
from wagtail.models import Page, Site

from chatbot.models import AnswerPage
from chatbot.widgets import PageChooser

MAX_FILE_BYTES = 5 * 1024 * 1024
PARENT_TYPES = ["home.HomePage", "home.StandardPage", "chatbot.AnswerPage"]


class PageTreeChoiceField(forms.ModelMultipleChoiceField):
    """Answer pages in tree order, indented by depth."""

    base_depth = 0

    def label_from_instance(self, obj: Any) -> str:
        return "　" * max(obj.depth - self.base_depth, 0) + str(obj.get_admin_display_title())


class ExportForm(forms.Form):
    """書き出し: one answer page's subtree, or several siblings' (in page order)."""

    pages = PageTreeChoiceField(
        label="書き出すページ",
        queryset=AnswerPage.objects.order_by("path"),
        help_text="選んだページとその下のページをすべて書き出します。複数選ぶときは、同じ親ページの下のページにしてください。",
        error_messages={"required": "書き出すページを選んでください。"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["pages"]
        assert isinstance(field, PageTreeChoiceField)
        depths = list(AnswerPage.objects.order_by("depth").values_list("depth", flat=True)[:1])
        field.base_depth = depths[0] if depths else 0
        field.widget.attrs["size"] = 12

    def clean_pages(self) -> list[AnswerPage]:
        pages = sorted(self.cleaned_data["pages"], key=lambda page: page.path)
        parents = {page.path[: -Page.steplen] for page in pages}
        if len(parents) > 1:
            raise forms.ValidationError(
                "同じ親ページの下のページ（きょうだいのページ）だけを一緒に書き出せます。"
                "別々の場所のページは、1つずつ書き出してください。"
            )
        return pages


def default_parent() -> Page | None:
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    return site.root_page if site is not None else None


class ImportForm(forms.Form):
    """取り込み: a scenario file (or the starter pack) under a chosen parent page."""

    file = forms.FileField(
        label="シナリオのファイル（.json）",
        required=False,
        help_text="Kairan の「書き出し」で作ったファイルです。",
    )
    parent = forms.ModelChoiceField(
        label="取り込む場所（親ページ）",
        queryset=Page.objects.all(),
        widget=PageChooser(target_models=PARENT_TYPES, user_perms="add_subpage"),
        help_text="取り込んだページは、このページの下に作られます。",
        error_messages={"required": "取り込む場所（親ページ）を選んでください。"},
    )
    publish = forms.BooleanField(
        label="すぐに公開する",
        required=False,
        help_text=(
            "オフ（おすすめ）: 下書きとして取り込みます。"
            "市の内容（電話番号・窓口など）に直してから公開してください。"
        ),
    )

    def __init__(self, *args: Any, starter: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.starter = starter
        if not self.is_bound and (parent := default_parent()) is not None:
            self.initial.setdefault("parent", parent.pk)

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError("ファイルが大きすぎます（5 MB まで）。")
        if upload is None and not self.starter:
            raise forms.ValidationError("取り込むファイルを選んでください。")
        return upload

    def clean_parent(self) -> Page:
        parent = self.cleaned_data["parent"].specific
        if not AnswerPage.can_create_at(parent):
            raise forms.ValidationError(
                "このページの下にはチャットボットの回答を作れません。"
                "トップページ、一般のページ、または回答ページを選んでください。"
            )
        return parent


class AnswerPageChoiceForm(forms.Form):
    """The answer page that answers an unanswered question (対応済みにする)."""

    page = forms.ModelChoiceField(
        label="回答しているページ",
        queryset=AnswerPage.objects.all(),
        widget=PageChooser(target_models=["chatbot.AnswerPage"]),
        error_messages={"required": "この質問に答えている回答ページを選んでください。"},
    )


class ParentChoiceForm(forms.Form):
    """Where a new answer page for an unanswered question goes."""

    parent = forms.ModelChoiceField(
        label="回答ページを作る場所（親ページ）",
        queryset=Page.objects.all(),
        widget=PageChooser(target_models=PARENT_TYPES, user_perms="add_subpage"),
        error_messages={"required": "回答ページを作る場所を選んでください。"},
    )

    def clean_parent(self) -> Page:
        parent = self.cleaned_data["parent"].specific
        if not AnswerPage.can_create_at(parent):
            raise forms.ValidationError("このページの下にはチャットボットの回答を作れません。")
        return parent
