"""Django form fields, widgets and normalisers for the Kairan form field types.

Every rule is enforced here, on the server, with a Japanese message a resident
can act on; the browser only helps (no ``required`` attribute, ``novalidate``),
so the same messages appear with or without JavaScript. Values are normalised
before they are stored (full-width digits, hiragana in フリガナ, postal-code and
phone hyphens), so staff see one spelling in listings and exports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator
from django.utils import timezone

NO_ANSWER = "no_answer"
NO_ANSWER_LABEL = "回答しない"

REQUIRED_TEXT = "入力してください。"
REQUIRED_CHOICE = "選んでください。"

DASHES = "‐‑‒–—―−ｰ－ー"  # hyphen-like characters residents type in numbers
_DASH_TABLE = str.maketrans(dict.fromkeys(DASHES, "-"))
_KATAKANA = re.compile(r"^[ァ-ヺー・ 　]+$")


def nfkc(value: str) -> str:
    """Full-width digits and letters to ASCII, half-width kana to full-width."""
    return unicodedata.normalize("NFKC", value)


def hiragana_to_katakana(value: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in value)


# --- Normalisers (also used by tests and by other features) -------------------------------


def normalise_kana(value: str) -> str:
    """NFKC, hiragana to katakana, runs of spaces to one full-width space."""
    text = hiragana_to_katakana(nfkc(value)).strip()
    return re.sub(r"[ 　]+", "　", text)


def normalise_postal_code(value: str) -> str:
    """``〒022-8501`` / ``０２２８５０１`` to ``0228501``; raises ValidationError otherwise."""
    text = nfkc(value).translate(_DASH_TABLE).replace("〒", "").replace(" ", "")
    if not re.fullmatch(r"\d{3}-?\d{4}", text):
        raise ValidationError("郵便番号は7桁の数字で入力してください（例: 022-8501）。", code="postal_code")
    return text.replace("-", "")


def format_postal_code(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:]}" if len(digits) == 7 else digits


def normalise_phone(value: str) -> str:
    """A Japanese phone number as digits and single hyphens (``0192-27-3111``)."""
    text = nfkc(value).translate(_DASH_TABLE)
    text = re.sub(r"[()（）]", "-", text)
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"-{2,}", "-", text).strip("-")
    digits = text.replace("-", "")
    if not re.fullmatch(r"[0-9-]+", text) or not digits.startswith("0") or len(digits) not in (10, 11):
        raise ValidationError(
            "電話番号は0から始まる10桁か11桁の数字で入力してください（例: 0192-27-3111）。",
            code="phone",
        )
    return text


# --- Birth year ---------------------------------------------------------------------------

ERAS = ((2019, "令和"), (1989, "平成"), (1926, "昭和"), (1912, "大正"), (1868, "明治"))
MAX_AGE = 110


def wareki(year: int) -> str:
    for start, name in ERAS:
        if year >= start:
            number = year - start + 1
            return f"{name}{'元' if number == 1 else number}年"
    return ""


def age_on(year: int, on: date) -> int:
    """The age reached in ``on``'s year (only the birth year is known, not the birthday)."""
    return on.year - year


AGE_BANDS = ("10歳未満", "10代", "20代", "30代", "40代", "50代", "60代", "70代", "80代", "90歳以上")


def age_band(year: int, on: date) -> str:
    """「30代」 etc., one of ``AGE_BANDS``, for summaries and (later) segments."""
    age = age_on(year, on)
    if age < 10:
        return AGE_BANDS[0]
    if age >= 90:
        return AGE_BANDS[-1]
    return f"{age // 10 * 10}代"


def birth_year_choices(today: date | None = None) -> list[tuple[str, str]]:
    this_year = (today or timezone.localdate()).year
    return [("", "選んでください")] + [
        (str(year), f"{year}年（{wareki(year)}）") for year in range(this_year, this_year - MAX_AGE - 1, -1)
    ]


class BirthYearField(forms.TypedChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", birth_year_choices)
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("empty_value", None)
        kwargs.setdefault(
            "error_messages", {"required": REQUIRED_CHOICE, "invalid_choice": "一覧から選んでください。"}
        )
        kwargs.setdefault("widget", forms.Select(attrs={"autocomplete": "bday-year"}))
        super().__init__(**kwargs)


# --- Simple fields ------------------------------------------------------------------------


class TextField(forms.CharField):
    """One- or multi-line text with optional length limits and a pattern with its own message."""

    def __init__(
        self,
        *,
        pattern: str = "",
        pattern_message: str = "",
        min_length: int | None = None,
        max_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("error_messages", {"required": REQUIRED_TEXT})
        # Set before super().__init__, which asks widget_attrs for maxlength.
        self.min_chars = min_length
        self.max_chars = max_length
        self.pattern = pattern
        self.pattern_message = pattern_message or "入力の形式が正しくありません。"
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if self.max_chars:
            attrs["maxlength"] = str(self.max_chars)
        return attrs

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        if self.min_chars and len(value) < self.min_chars:
            raise ValidationError(
                f"{self.min_chars}文字以上で入力してください（いまは{len(value)}文字）。", code="min_length"
            )
        if self.max_chars and len(value) > self.max_chars:
            raise ValidationError(
                f"{self.max_chars}文字以内で入力してください（いまは{len(value)}文字）。", code="max_length"
            )
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ValidationError(self.pattern_message, code="pattern")


class NumberField(forms.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages",
            {
                "required": REQUIRED_TEXT,
                "invalid": "半角の数字で入力してください。",
                "min_value": "%(limit_value)s以上の数を入力してください。",
                "max_value": "%(limit_value)s以下の数を入力してください。",
                "max_digits": "数が大きすぎます。",
                "max_decimal_places": "小数点以下が長すぎます。",
                "max_whole_digits": "数が大きすぎます。",
            },
        )
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        kwargs.setdefault("max_digits", 15)
        kwargs.setdefault("decimal_places", 6)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = nfkc(value).strip().replace(",", "")
        return super().to_python(value)


class EmailField(forms.EmailField):
    default_validators = [
        EmailValidator(message="メールアドレスの形式が正しくありません（例: taro@example.jp）。")
    ]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": REQUIRED_TEXT})
        kwargs.setdefault("widget", forms.EmailInput(attrs={"autocomplete": "email"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = nfkc(super().to_python(value) or "")
        local, at, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}" if at else text


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class DateField(forms.DateField):
    input_formats = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages",
            {"required": REQUIRED_TEXT, "invalid": "日付を正しく入力してください（例: 2026-04-01）。"},
        )
        kwargs.setdefault("widget", DateInput())
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, str):
            value = nfkc(value).strip()
        return super().to_python(value)


class SingleChoiceField(forms.ChoiceField):
    def __init__(self, *, dropdown: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages", {"required": REQUIRED_CHOICE, "invalid_choice": "選択肢から選んでください。"}
        )
        if dropdown:
            kwargs["choices"] = [("", "選んでください"), *kwargs.get("choices", [])]
            kwargs.setdefault("widget", forms.Select)
        else:
            kwargs.setdefault("widget", forms.RadioSelect)
        super().__init__(**kwargs)


class MultipleChoiceField(forms.MultipleChoiceField):
    def __init__(self, *, min_count: int | None = None, max_count: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages", {"required": REQUIRED_CHOICE, "invalid_choice": "選択肢から選んでください。"}
        )
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(**kwargs)
        self.min_count = min_count
        self.max_count = max_count

    def validate(self, value: Any) -> None:
        super().validate(value)
        if not value:
            return
        if NO_ANSWER in value and len(value) > 1:
            raise ValidationError(
                f"「{NO_ANSWER_LABEL}」とほかの選択肢は同時に選べません。", code="no_answer_with_others"
            )
        if NO_ANSWER in value:
            return
        if self.min_count and len(value) < self.min_count:
            raise ValidationError(f"{self.min_count}個以上選んでください。", code="min_count")
        if self.max_count and len(value) > self.max_count:
            raise ValidationError(f"{self.max_count}個まで選べます。", code="max_count")


class PhoneField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": REQUIRED_TEXT})
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        return normalise_phone(text) if text else ""


class AgreementField(forms.BooleanField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["required"] = True  # an agreement is never optional
        kwargs.setdefault("error_messages", {"required": "同意いただける場合は、チェックを入れてください。"})
        super().__init__(**kwargs)


# --- Composite fields ---------------------------------------------------------------------


class PartsWidget(forms.MultiWidget):
    """A MultiWidget whose parts each get their own visible label (for screen readers too)."""

    template_name = "home/forms/widgets/parts.html"

    def __init__(self, parts: Sequence[tuple[str, str, forms.Widget]], attrs: dict[str, Any] | None = None):
        self.part_names = [name for name, _, _ in parts]
        self.part_labels = [label for _, label, _ in parts]
        super().__init__({name: widget for name, _, widget in parts}, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [value.get(name) for name in self.part_names]
        return [None] * len(self.part_names)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["parts"] = list(zip(self.part_labels, context["widget"]["subwidgets"], strict=True))
        return context


class CompositeField(forms.Field):
    """A field made of named parts; ``clean_parts`` turns the raw parts into the stored dict."""

    widget: PartsWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": REQUIRED_TEXT})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> dict[str, Any] | None:
        parts = dict(zip(self.widget.part_names, value or [], strict=False))
        parts = {name: (str(v).strip() if v is not None else "") for name, v in parts.items()}
        if not any(parts.values()):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        return self.clean_parts(parts)

    def clean_parts(self, parts: dict[str, str]) -> dict[str, Any]:
        """Validate and normalise the parts; each composite type (氏名, 住所, 位置) defines its own."""
        raise NotImplementedError(f"{type(self).__name__} must define clean_parts()")


class NameField(CompositeField):
    """氏・名 with optional or required カナ (セイ・メイ)."""

    def __init__(self, *, kana: str = "none", **kwargs: Any) -> None:
        self.kana = kana
        parts: list[tuple[str, str, forms.Widget]] = [
            ("family", "氏", forms.TextInput(attrs={"autocomplete": "family-name"})),
            ("given", "名", forms.TextInput(attrs={"autocomplete": "given-name"})),
        ]
        if kana != "none":
            suffix = "（必須）" if kana == "required" else "（任意）"
            parts += [
                ("family_kana", f"セイ（カタカナ）{suffix}", forms.TextInput()),
                ("given_kana", f"メイ（カタカナ）{suffix}", forms.TextInput()),
            ]
        kwargs["widget"] = PartsWidget(parts)
        super().__init__(**kwargs)

    def clean_parts(self, parts: dict[str, str]) -> dict[str, Any]:
        errors: list[ValidationError] = []
        family, given = nfkc(parts["family"]).strip(), nfkc(parts["given"]).strip()
        if not family:
            errors.append(ValidationError("氏を入力してください。", code="family"))
        if not given:
            errors.append(ValidationError("名を入力してください。", code="given"))
        if len(family) > 50 or len(given) > 50:
            errors.append(ValidationError("氏・名はそれぞれ50文字以内で入力してください。", code="length"))
        result: dict[str, Any] = {"family": family, "given": given}
        if self.kana != "none":
            family_kana = normalise_kana(parts.get("family_kana", ""))
            given_kana = normalise_kana(parts.get("given_kana", ""))
            if self.kana == "required" and not (family_kana and given_kana):
                errors.append(
                    ValidationError("セイ・メイ（カタカナ）を入力してください。", code="kana_required")
                )
            for kana in (family_kana, given_kana):
                if kana and not _KATAKANA.match(kana):
                    errors.append(ValidationError("フリガナはカタカナで入力してください。", code="kana"))
                    break
            result.update(family_kana=family_kana, given_kana=given_kana)
        if errors:
            raise ValidationError(errors)
        return result


class AddressField(CompositeField):
    """郵便番号 (normalised to 7 digits) and the address text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["widget"] = PartsWidget(
            [
                (
                    "postal_code",
                    "郵便番号（例: 022-8501）",
                    forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
                ),
                ("address", "住所", forms.TextInput(attrs={"autocomplete": "street-address"})),
            ]
        )
        super().__init__(**kwargs)

    def clean_parts(self, parts: dict[str, str]) -> dict[str, Any]:
        errors: list[ValidationError] = []
        postal = ""
        if not parts["postal_code"]:
            errors.append(ValidationError("郵便番号を入力してください。", code="postal_required"))
        else:
            try:
                postal = normalise_postal_code(parts["postal_code"])
            except ValidationError as exc:
                errors.append(exc)
        address = parts["address"].strip()
        if not address:
            errors.append(ValidationError("住所を入力してください。", code="address_required"))
        elif len(address) > 200:
            errors.append(ValidationError("住所は200文字以内で入力してください。", code="address_length"))
        if errors:
            raise ValidationError(errors)
        return {"postal_code": postal, "address": address}


class LocationField(CompositeField):
    """Latitude and longitude in decimal degrees (the page's script can fill them from the GPS)."""

    def __init__(self, **kwargs: Any) -> None:
        attrs = {"inputmode": "decimal", "data-kairan-location": ""}
        kwargs["widget"] = PartsWidget(
            [
                (
                    "lat",
                    "緯度（例: 39.0819）",
                    forms.TextInput(attrs={**attrs, "data-kairan-location": "lat"}),
                ),
                (
                    "lng",
                    "経度（例: 141.7085）",
                    forms.TextInput(attrs={**attrs, "data-kairan-location": "lng"}),
                ),
            ]
        )
        kwargs.setdefault(
            "error_messages", {"required": "場所を入力するか、「現在地を使う」を押してください。"}
        )
        super().__init__(**kwargs)

    def clean_parts(self, parts: dict[str, str]) -> dict[str, Any]:
        values: dict[str, float] = {}
        for name, label, limit in (("lat", "緯度", 90), ("lng", "経度", 180)):
            try:
                number = Decimal(nfkc(parts[name]))
            except InvalidOperation:
                raise ValidationError(
                    f"{label}は半角の数字で入力してください（例: 39.0819）。", code="location"
                ) from None
            if not number.is_finite() or abs(number) > limit:
                raise ValidationError(
                    f"{label}は-{limit}から{limit}の数で入力してください。", code="location"
                )
            values[name] = round(float(number), 6)
        return values


# --- Photos -------------------------------------------------------------------------------

IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotoField(forms.Field):
    """One or several JPEG/PNG images, checked with Pillow (not by the name or the browser's type)."""

    def __init__(self, *, max_count: int = 1, max_size_mb: int = 10, **kwargs: Any) -> None:
        self.max_count = max(1, max_count)
        self.max_size_mb = max_size_mb
        attrs = {"accept": "image/jpeg,image/png"}
        widget: forms.Widget = (
            MultipleFileInput(attrs={**attrs, "multiple": True})
            if self.max_count > 1
            else forms.FileInput(attrs=attrs)
        )
        kwargs["widget"] = widget
        kwargs.setdefault("error_messages", {"required": "写真を選んでください。"})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[UploadedFile]:
        files = [f for f in (value if isinstance(value, list) else [value]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        if len(files) > self.max_count:
            raise ValidationError(f"写真は{self.max_count}枚まで送れます。", code="max_count")
        for upload in files:
            if upload.size and upload.size > self.max_size_mb * 1024 * 1024:
                raise ValidationError(
                    f"写真1枚の大きさは{self.max_size_mb}MBまでです（「{upload.name}」が大きすぎます）。",
                    code="max_size",
                )
            upload.kairan_image_type = image_type(upload)
        return files


def image_type(upload: UploadedFile) -> tuple[str, str]:
    """(content type, extension) of a JPEG or PNG upload; ValidationError for anything else."""
    from PIL import Image, UnidentifiedImageError

    message = f"写真はJPEGかPNGの画像を選んでください（「{upload.name}」は使えません）。"
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            kind = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(message, code="image_type") from None
    finally:
        upload.seek(0)
    if kind not in IMAGE_TYPES:
        raise ValidationError(message, code="image_type")
    return IMAGE_TYPES[kind]
