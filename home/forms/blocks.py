"""The form's fields as a StreamField: one block type per field type, each with its own options.

Staff build forms in the Wagtail editor; every field and every choice gets a
Wagtail block id, from which its stable key (``f_<12 hex>``) and choice code
come, so labels can be edited after answers arrive without losing them.
``field_specs`` turns the stream into the lightweight field objects that
Wagtail's FormBuilder, listing and export expect.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from wagtail import blocks
from wagtail.blocks.struct_block import BlockGroup, StructBlockValidationError

from home.forms.fields import NO_ANSWER, NO_ANSWER_LABEL

CHOICE_TYPES = ("choice", "choices")
DISPLAY_TYPES = ("heading", "paragraph")
CONDITION_BLOCKS = ("staff_only", "condition_field", "condition_answer")


def key_for(block_id: str) -> str:
    """The stable answer key of a field: ``f_`` and the first 12 hex digits of its block id."""
    return "f_" + block_id.replace("-", "")[:12]


@dataclass
class FieldSpec:
    """One field of a form as Wagtail's FormBuilder and listings see it (duck-types AbstractFormField)."""

    clean_name: str
    label: str
    field_type: str
    required: bool = False
    help_text: str = ""
    default_value: str = ""
    staff_only: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)  # (code, label)
    options: dict[str, Any] = field(default_factory=dict)
    condition: tuple[str, frozenset[str]] | None = None  # (key of the controlling field, codes)
    block_id: str = ""

    @property
    def is_answer(self) -> bool:
        return self.field_type not in DISPLAY_TYPES

    def get_field_clean_name(self) -> str:
        return self.clean_name

    def choice_label(self, code: str) -> str:
        return dict(self.choices).get(code, code)


# --- Blocks -------------------------------------------------------------------------------


class AnswerBlock(blocks.StructBlock):
    """Options every answer field has: label, help text, required, staff-only, display condition."""

    field_type: ClassVar[str] = ""
    always_required: ClassVar[bool] = False

    label = blocks.CharBlock(label="項目名", max_length=255)
    help_text = blocks.CharBlock(label="説明（任意）", required=False, max_length=255)
    required = blocks.BooleanBlock(label="必須にする", required=False, default=True)
    staff_only = blocks.BooleanBlock(
        label="職員だけが入力する項目",
        required=False,
        help_text="市民のフォームには表示されません。回答一覧には列として出ます。",
    )
    condition_field = blocks.CharBlock(
        label="表示する条件: 項目名（任意）",
        required=False,
        max_length=255,
        help_text="この項目より前にある選択の項目の名前。空なら常に表示します。",
    )
    condition_answer = blocks.CharBlock(
        label="表示する条件: 回答",
        required=False,
        max_length=255,
        help_text="上の項目でこの選択肢が選ばれたときだけ表示します。",
    )

    def get_form_layout(self) -> BlockGroup:
        names = [name for name in self.child_blocks if name not in CONDITION_BLOCKS]
        return BlockGroup([*names, *CONDITION_BLOCKS])

    def option_errors(self, value: Any) -> dict[str, str]:
        """Errors in this type's own options, by child block name."""
        return {}

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        errors = self.option_errors(value)
        if bool(value.get("condition_field")) != bool(value.get("condition_answer")):
            missing = "condition_answer" if value.get("condition_field") else "condition_field"
            errors[missing] = "条件には項目名と回答の両方を入れてください。"
        if errors:
            raise StructBlockValidationError(
                block_errors={name: ValidationError(message) for name, message in errors.items()}
            )
        return value


def _limits_error(low: Any, high: Any, what: str) -> str:
    if low is not None and high is not None and low > high:
        return f"{what}の最小が最大より大きくなっています。"
    return ""


class SingleLineBlock(AnswerBlock):
    field_type = "singleline"
    min_length = blocks.IntegerBlock(label="最小文字数（任意）", required=False, min_value=1)
    max_length = blocks.IntegerBlock(
        label="最大文字数", required=False, min_value=1, max_value=1000, default=100
    )
    pattern = blocks.CharBlock(
        label="入力の形式（正規表現・任意）",
        required=False,
        max_length=255,
        help_text="例: 半角数字6桁なら [0-9]{6}。全体が一致するかを調べます。",
    )
    pattern_message = blocks.CharBlock(
        label="形式が違うときのメッセージ",
        required=False,
        max_length=255,
        help_text="例: 会員番号は半角数字6桁で入力してください。",
    )

    def option_errors(self, value: Any) -> dict[str, str]:
        errors = {}
        if message := _limits_error(value.get("min_length"), value.get("max_length"), "文字数"):
            errors["min_length"] = message
        if pattern := value.get("pattern"):
            try:
                re.compile(pattern)
            except re.error:
                errors["pattern"] = "正規表現として正しくありません。"
            if not value.get("pattern_message"):
                errors["pattern_message"] = (
                    "形式を指定したときは、形式が違うときのメッセージも入れてください。"
                )
        return errors

    class Meta:
        label = "1行テキスト"
        icon = "pilcrow"


class MultiLineBlock(AnswerBlock):
    field_type = "multiline"
    max_length = blocks.IntegerBlock(
        label="最大文字数", required=False, min_value=1, max_value=10000, default=1000
    )

    class Meta:
        label = "複数行テキスト"
        icon = "doc-full"


class NumberBlock(AnswerBlock):
    field_type = "number"
    min_value = blocks.DecimalBlock(label="最小値（任意）", required=False)
    max_value = blocks.DecimalBlock(label="最大値（任意）", required=False)

    def option_errors(self, value: Any) -> dict[str, str]:
        message = _limits_error(value.get("min_value"), value.get("max_value"), "値")
        return {"min_value": message} if message else {}

    class Meta:
        label = "数値"
        icon = "order"


class EmailBlock(AnswerBlock):
    field_type = "email"

    class Meta:
        label = "メールアドレス"
        icon = "mail"


class DateBlock(AnswerBlock):
    field_type = "date"

    class Meta:
        label = "日付"
        icon = "date"


class ChoiceBlock(AnswerBlock):
    field_type = "choice"
    choices = blocks.ListBlock(blocks.CharBlock(label="選択肢", max_length=255), label="選択肢", min_num=1)
    allow_no_answer = blocks.BooleanBlock(label="「回答しない」を選べるようにする", required=False)
    display = blocks.ChoiceBlock(
        label="表示のしかた",
        choices=[("radio", "ボタンを並べる"), ("dropdown", "プルダウン")],
        default="radio",
    )

    class Meta:
        label = "選択（1つ）"
        icon = "list-ul"


class MultipleChoiceBlock(AnswerBlock):
    field_type = "choices"
    choices = blocks.ListBlock(blocks.CharBlock(label="選択肢", max_length=255), label="選択肢", min_num=1)
    allow_no_answer = blocks.BooleanBlock(label="「回答しない」を選べるようにする", required=False)
    min_count = blocks.IntegerBlock(label="最小の選択数（任意）", required=False, min_value=1)
    max_count = blocks.IntegerBlock(label="最大の選択数（任意）", required=False, min_value=1)

    def option_errors(self, value: Any) -> dict[str, str]:
        message = _limits_error(value.get("min_count"), value.get("max_count"), "選択数")
        return {"min_count": message} if message else {}

    class Meta:
        label = "選択（複数）"
        icon = "tasks"


class BirthYearBlock(AnswerBlock):
    field_type = "birth_year"

    class Meta:
        label = "生まれ年"
        icon = "date"


class NameBlock(AnswerBlock):
    field_type = "name"
    kana = blocks.ChoiceBlock(
        label="フリガナ（カタカナ）",
        choices=[("none", "たずねない"), ("optional", "任意"), ("required", "必須")],
        default="optional",
    )

    class Meta:
        label = "氏名"
        icon = "user"


class AddressBlock(AnswerBlock):
    field_type = "address"
    default_address = blocks.CharBlock(
        label="住所の初期値（任意）",
        required=False,
        max_length=100,
        help_text="例: 岩手県大船渡市。入力欄にはじめから入ります。",
    )

    class Meta:
        label = "住所"
        icon = "home"


class PhoneBlock(AnswerBlock):
    field_type = "phone"

    class Meta:
        label = "電話番号"
        icon = "mobile-alt"


class PhotoBlock(AnswerBlock):
    field_type = "photo"
    max_count = blocks.IntegerBlock(label="最大枚数", min_value=1, max_value=10, default=3)
    max_size_mb = blocks.IntegerBlock(label="1枚の最大サイズ（MB）", min_value=1, max_value=20, default=10)

    class Meta:
        label = "写真"
        icon = "image"


class LocationBlock(AnswerBlock):
    field_type = "location"

    class Meta:
        label = "位置"
        icon = "site"


class AgreementBlock(AnswerBlock):
    field_type = "agree"
    always_required = True
    required = None  # an agreement is always required
    text = blocks.TextBlock(label="同意していただく内容", required=False)
    link_url = blocks.URLBlock(label="詳しい説明のリンク（任意）", required=False)
    link_text = blocks.CharBlock(label="リンクの文字（任意）", required=False, max_length=100)

    class Meta:
        label = "同意"
        icon = "tick-inverse"


ANSWER_BLOCK_CLASSES: tuple[type[AnswerBlock], ...] = (
    SingleLineBlock,
    MultiLineBlock,
    NumberBlock,
    EmailBlock,
    DateBlock,
    ChoiceBlock,
    MultipleChoiceBlock,
    BirthYearBlock,
    NameBlock,
    AddressBlock,
    PhoneBlock,
    PhotoBlock,
    LocationBlock,
    AgreementBlock,
)
TYPE_LABELS: dict[str, str] = {cls.field_type: str(cls._meta_class.label) for cls in ANSWER_BLOCK_CLASSES} | {
    "heading": "見出し",
    "paragraph": "説明文",
}


def _child_blocks() -> list[tuple[str, blocks.Block]]:
    return [
        *((cls.field_type, cls()) for cls in ANSWER_BLOCK_CLASSES),
        ("heading", blocks.CharBlock(label="見出し", max_length=255, icon="title")),
        (
            "paragraph",
            blocks.RichTextBlock(
                label="説明文", features=["bold", "link", "ol", "ul"], icon="doc-full-inverse"
            ),
        ),
    ]


class FormFieldsBlock(blocks.StreamBlock):
    """The whole form; checks that each display condition points at an earlier choice and answer."""

    def __init__(self, local_blocks: Any = None, **kwargs: Any) -> None:
        super().__init__(local_blocks or _child_blocks(), **kwargs)

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        errors: dict[int, ValidationError] = {}
        seen: dict[str, list[str]] = {}  # label of an earlier choice field -> its answers
        for index, child in enumerate(value):
            if child.block_type in DISPLAY_TYPES:
                continue
            if (label := child.value.get("condition_field")) and (
                answer := child.value.get("condition_answer")
            ):
                if label not in seen:
                    errors[index] = StructBlockValidationError(
                        block_errors={
                            "condition_field": ValidationError(
                                f"「{label}」という選択の項目が、この項目より前にありません。"
                            )
                        }
                    )
                elif answer not in seen[label]:
                    shown = "、".join(f"「{a}」" for a in seen[label])
                    errors[index] = StructBlockValidationError(
                        block_errors={
                            "condition_answer": ValidationError(
                                f"「{label}」の選択肢から選んでください: {shown}"
                            )
                        }
                    )
            if child.block_type in CHOICE_TYPES:
                answers = list(child.value["choices"])
                if child.value.get("allow_no_answer"):
                    answers.append(NO_ANSWER_LABEL)
                seen[child.value["label"]] = answers
        if errors:
            raise blocks.StreamBlockValidationError(block_errors=errors)
        return value

    class Meta:
        label = "フォームの項目"


# --- Stream to specs ----------------------------------------------------------------------


def _ensure_id(child: Any) -> str:
    # Blocks added in code (or an unsaved preview) may not have an id yet; Wagtail would
    # assign one on save, so assign it now in the same way and keep it on the value.
    if not child.id:
        child.id = str(uuid.uuid4())
    return str(child.id)


def _choices(value: Any) -> list[tuple[str, str]]:
    choices = [(_ensure_id(item), str(item.value)) for item in value["choices"].bound_blocks]
    if value.get("allow_no_answer"):
        choices.append((NO_ANSWER, NO_ANSWER_LABEL))
    return choices


OPTION_NAMES = (
    "min_length",
    "max_length",
    "pattern",
    "pattern_message",
    "min_value",
    "max_value",
    "display",
    "min_count",
    "max_count",
    "kana",
    "max_size_mb",
    "text",
    "link_url",
    "link_text",
)


def field_specs(stream: Any) -> list[FieldSpec]:
    """Every item of the form in order, display-only items included."""
    specs: list[FieldSpec] = []
    by_label: dict[str, FieldSpec] = {}
    for child in stream:
        block_id = _ensure_id(child)
        key = key_for(block_id)
        if child.block_type == "heading":
            specs.append(FieldSpec(key, str(child.value), "heading", block_id=block_id))
            continue
        if child.block_type == "paragraph":
            spec = FieldSpec(key, "", "paragraph", block_id=block_id, options={"html": child.value})
            specs.append(spec)
            continue
        value = child.value
        block = child.block
        spec = FieldSpec(
            clean_name=key,
            label=value["label"],
            field_type=child.block_type,
            required=bool(block.always_required or value.get("required")),
            help_text=value.get("help_text") or "",
            default_value=value.get("default_address") or "",
            staff_only=bool(value.get("staff_only")),
            options={name: value.get(name) for name in OPTION_NAMES if value.get(name) not in (None, "")},
            block_id=block_id,
        )
        if child.block_type in CHOICE_TYPES:
            spec.choices = _choices(value)
        if (label := value.get("condition_field")) and (answer := value.get("condition_answer")):
            controller = by_label.get(label)
            if controller is not None:
                codes = frozenset(code for code, text in controller.choices if text == answer)
                spec.condition = (controller.clean_name, codes)
        if spec.choices:
            by_label[spec.label] = spec
        specs.append(spec)
    return specs
