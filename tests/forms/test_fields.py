"""Each field type's validation and normalisation, with the Japanese messages residents see."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from home.forms import fields as kf
from home.forms.blocks import FormFieldsBlock, field_specs
from tests.forms.conftest import DEMO_FIELDS, png_bytes


def messages_of(field: Any, value: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        field.clean(value)
    return list(info.value.messages)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0192-27-3111", "0192-27-3111"),
        ("０１９２（２７）３１１１", "0192-27-3111"),
        ("090 1234 5678", "09012345678"),
        ("090ー1234ー5678", "090-1234-5678"),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str) -> None:
    assert kf.PhoneField(required=True).clean(raw) == expected


@pytest.mark.parametrize("raw", ["192-27-3111", "0192-27-311", "電話0192273111", "0120-12-34567-8"])
def test_bad_phone_numbers_get_a_japanese_message(raw: str) -> None:
    assert messages_of(kf.PhoneField(required=True), raw) == [
        "電話番号は0から始まる10桁か11桁の数字で入力してください（例: 0192-27-3111）。"
    ]


def test_required_text_and_length_and_pattern_messages() -> None:
    field = kf.TextField(
        required=True, min_length=3, max_length=5, pattern="[0-9]+", pattern_message="数字だけです"
    )
    assert messages_of(field, "") == ["入力してください。"]
    assert messages_of(field, "12") == ["3文字以上で入力してください（いまは2文字）。"]
    assert messages_of(field, "123456") == ["5文字以内で入力してください（いまは6文字）。"]
    assert messages_of(field, "12a") == ["数字だけです"]
    assert field.clean(" 1234 ") == "1234"


def test_numbers_accept_full_width_digits_and_check_limits() -> None:
    field = kf.NumberField(required=True, min_value=Decimal("0"), max_value=Decimal("120"))
    assert field.clean("３６．５") == Decimal("36.5")
    assert messages_of(field, "121") == ["120以下の数を入力してください。"]
    assert messages_of(field, "-1") == ["0以上の数を入力してください。"]
    assert messages_of(field, "たくさん") == ["半角の数字で入力してください。"]


def test_email_is_normalised_and_checked() -> None:
    field = kf.EmailField(required=True)
    assert field.clean("Taro＠Example.JP") == "Taro@example.jp"
    assert messages_of(field, "taro@") == ["メールアドレスの形式が正しくありません（例: taro@example.jp）。"]


def test_dates_in_japanese_formats() -> None:
    field = kf.DateField(required=True)
    assert field.clean("2026/04/01") == date(2026, 4, 1)
    assert field.clean("２０２６-０４-０１") == date(2026, 4, 1)
    assert messages_of(field, "4月1日") == ["日付を正しく入力してください（例: 2026-04-01）。"]


def test_single_choice_takes_codes_only() -> None:
    field = kf.SingleChoiceField(required=True, choices=[("a1", "会場"), (kf.NO_ANSWER, "回答しない")])
    assert field.clean("a1") == "a1"
    assert messages_of(field, "会場") == ["選択肢から選んでください。"]
    assert messages_of(field, "") == ["選んでください。"]


def test_multiple_choice_counts_and_prefer_not_to_answer() -> None:
    choices = [("a", "A"), ("b", "B"), ("c", "C"), (kf.NO_ANSWER, "回答しない")]
    field = kf.MultipleChoiceField(required=True, choices=choices, min_count=2, max_count=2)
    assert field.clean(["a", "b"]) == ["a", "b"]
    assert field.clean([kf.NO_ANSWER]) == [kf.NO_ANSWER]
    assert messages_of(field, ["a"]) == ["2個以上選んでください。"]
    assert messages_of(field, ["a", "b", "c"]) == ["2個まで選べます。"]
    assert messages_of(field, ["a", kf.NO_ANSWER]) == ["「回答しない」とほかの選択肢は同時に選べません。"]


def test_birth_year_helpers() -> None:
    assert kf.age_on(1990, date(2026, 4, 1)) == 36
    assert kf.age_band(1990, date(2026, 4, 1)) == "30代"
    assert kf.age_band(2020, date(2026, 4, 1)) == "10歳未満"
    assert kf.age_band(1930, date(2026, 4, 1)) == "90歳以上"
    assert set(kf.AGE_BANDS) >= {kf.age_band(year, date(2026, 1, 1)) for year in range(1916, 2027)}
    assert kf.wareki(2019) == "令和元年" and kf.wareki(1990) == "平成2年" and kf.wareki(1975) == "昭和50年"
    field = kf.BirthYearField(required=True)
    assert field.clean("1990") == 1990
    assert messages_of(field, "1800") == ["一覧から選んでください。"]
    assert ("1990", "1990年（平成2年）") in kf.birth_year_choices()


def test_name_with_required_kana_normalises_hiragana_and_half_width() -> None:
    field = kf.NameField(required=True, kana="required")
    assert field.clean(["大船渡", "太郎", "おおふなと", "ﾀﾛｳ"]) == {
        "family": "大船渡",
        "given": "太郎",
        "family_kana": "オオフナト",
        "given_kana": "タロウ",
    }
    assert messages_of(field, ["大船渡", "", "", ""]) == [
        "名を入力してください。",
        "セイ・メイ（カタカナ）を入力してください。",
    ]
    assert messages_of(field, ["大船渡", "太郎", "Ofunato", "タロウ"]) == [
        "フリガナはカタカナで入力してください。"
    ]
    assert messages_of(field, ["", "", "", ""]) == ["入力してください。"]
    assert kf.NameField(required=False, kana="optional").clean(["", "", "", ""]) is None
    optional_kana = kf.NameField(required=True, kana="optional").clean(["大船渡", "太郎", "", ""])
    assert optional_kana is not None and optional_kana["family_kana"] == ""


def test_address_postal_code_with_or_without_hyphen() -> None:
    field = kf.AddressField(required=True)
    expected = {"postal_code": "0228501", "address": "岩手県大船渡市盛町"}
    assert field.clean(["022-8501", "岩手県大船渡市盛町"]) == expected
    assert field.clean(["〒０２２８５０１", " 岩手県大船渡市盛町 "]) == expected
    assert messages_of(field, ["022-850", "岩手県大船渡市盛町"]) == [
        "郵便番号は7桁の数字で入力してください（例: 022-8501）。"
    ]
    assert messages_of(field, ["0228501", ""]) == ["住所を入力してください。"]
    assert kf.format_postal_code("0228501") == "022-8501"


def test_location_in_range() -> None:
    field = kf.LocationField(required=True)
    assert field.clean(["39.0819", "141.7085"]) == {"lat": 39.0819, "lng": 141.7085}
    assert messages_of(field, ["99", "141"]) == ["緯度は-90から90の数で入力してください。"]
    assert messages_of(field, ["39", "東経"]) == ["経度は半角の数字で入力してください（例: 39.0819）。"]
    assert messages_of(field, ["", ""]) == ["場所を入力するか、「現在地を使う」を押してください。"]


def test_agreement_is_always_required() -> None:
    field = kf.AgreementField(required=False)
    assert field.required
    assert messages_of(field, False) == ["同意いただける場合は、チェックを入れてください。"]


def test_photos_are_checked_by_content_count_and_size() -> None:
    field = kf.PhotoField(required=True, max_count=2, max_size_mb=1)
    photo = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    assert field.clean([photo]) == [photo]
    assert photo.kairan_image_type == ("image/png", "png")  # type: ignore[attr-defined]
    fake = SimpleUploadedFile("b.jpg", b"<script>alert(1)</script>", content_type="image/jpeg")
    assert messages_of(field, [fake]) == ["写真はJPEGかPNGの画像を選んでください（「b.jpg」は使えません）。"]
    three = [SimpleUploadedFile(f"{i}.png", png_bytes()) for i in range(3)]
    assert messages_of(field, three) == ["写真は2枚まで送れます。"]
    big = SimpleUploadedFile("big.png", b"0" * (1024 * 1024 + 1))
    assert messages_of(field, [big]) == ["写真1枚の大きさは1MBまでです（「big.png」が大きすぎます）。"]
    assert messages_of(field, []) == ["写真を選んでください。"]


# --- The editor's blocks --------------------------------------------------------------------


def stream_errors(raw: list[dict[str, Any]]) -> dict[int, Any]:
    block = FormFieldsBlock()
    value = block.to_python(raw)
    with pytest.raises(ValidationError) as info:
        block.clean(value)
    return dict(info.value.block_errors)  # type: ignore[attr-defined]


def test_demo_fields_are_valid_and_give_stable_keys_and_codes() -> None:
    block = FormFieldsBlock()
    value = block.clean(block.to_python(DEMO_FIELDS))
    specs = field_specs(value)
    assert [s.field_type for s in specs][:3] == ["heading", "name", "address"]
    choice = next(s for s in specs if s.field_type == "choice")
    assert choice.clean_name == "f_000000060006"
    assert choice.choices == [("c6-0", "会場"), ("c6-1", "オンライン"), ("no_answer", "回答しない")]
    conditional = next(s for s in specs if s.label == "会場での配慮")
    assert conditional.condition == ("f_000000060006", frozenset({"c6-0"}))
    assert next(s for s in specs if s.field_type == "agree").required


def _with_condition(field: str, answer: str, position: int = -1) -> list[dict[str, Any]]:
    fields = [dict(f) for f in DEMO_FIELDS]
    extra = {
        "type": "singleline",
        "id": "ffffffff-0000-0000-0000-000000000000",
        "value": {"label": "条件つき", "condition_field": field, "condition_answer": answer},
    }
    fields.insert(position if position >= 0 else len(fields), extra)
    return fields


def test_condition_must_name_an_earlier_choice_field() -> None:
    errors = stream_errors(_with_condition("参加方法", "会場", position=1))
    assert "「参加方法」という選択の項目が、この項目より前にありません。" in str(errors[1].as_json_data())
    errors = stream_errors(_with_condition("存在しない項目", "会場"))
    assert "「存在しない項目」という選択の項目" in str(errors[len(DEMO_FIELDS)].as_json_data())


def test_condition_answer_must_be_one_of_the_choices() -> None:
    errors = stream_errors(_with_condition("参加方法", "電話"))
    text = str(errors[len(DEMO_FIELDS)].as_json_data())
    assert "「参加方法」の選択肢から選んでください: 「会場」、「オンライン」、「回答しない」" in text


def test_pattern_must_compile_and_have_a_message() -> None:
    fields = [
        {
            "type": "singleline",
            "id": "aaaaaaaa-0000-0000-0000-000000000000",
            "value": {"label": "会員番号", "pattern": "[0-9"},
        }
    ]
    text = str(stream_errors(fields)[0].as_json_data())
    assert "正規表現として正しくありません。" in text
    assert "形式が違うときのメッセージも入れてください。" in text
