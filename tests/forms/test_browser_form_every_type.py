"""An editor builds a form with every field type (and display conditions) in the Wagtail editor,
previews and publishes it; a resident on a 320px-wide phone answers every field (a photo, the
location from the phone's GPS); the answers are stored as typed, the photo encrypted in private
storage; staff download the answers as CSV from the submissions listing."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from PIL import Image
from playwright.sync_api import expect
from wagtail.models import Page

from home.forms.blocks import ANSWER_BLOCK_CLASSES, key_for
from home.forms.fields import NO_ANSWER
from home.forms.models import FormPageSubmission, photo_context
from home.models import FormPage, StandardPage
from kairan.core.crypto import decrypt_bytes
from tests.conftest import sign_in_as_system_admin
from tests.test_browser_a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

STREAM = "#form_fields-root"
OFUNATO_CITY_HALL = {"latitude": 39.0819, "longitude": 141.7085}
# The resident's form, in order: (block type, label); the two display-only items have no label.
ANSWER_FIELDS = [
    ("choice", "避難の状況"),
    ("singleline", "避難所の名前"),  # shown when 避難の状況 is 避難所にいる
    ("choice", "住まいの種類"),  # a drop-down with 「回答しない」
    ("choices", "必要な物資"),  # with 「回答しない」
    ("singleline", "その他の物資"),  # shown when 必要な物資 includes その他
    ("multiline", "困っていること"),
    ("number", "世帯の人数"),
    ("email", "メールアドレス"),
    ("date", "避難した日"),
    ("birth_year", "生まれ年"),
    ("name", "氏名"),
    ("address", "住所"),
    ("phone", "電話番号"),
    ("photo", "被害の写真"),
    ("location", "現在地"),
    ("agree", "個人情報の取り扱いに同意します"),
]
CONDITIONAL = {"避難所の名前", "その他の物資"}


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 60, 40)).save(out, format="JPEG")
    return out.getvalue()


class Editor:
    """Adds blocks to the form's stream in the page editor; remembers each answer field's key."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.keys: dict[str, str] = {}  # label -> field key, from the block ids the editor gave

    def add(self, block_label: str) -> str:
        """Append a block of the given type; returns the prefix of its inputs."""
        page = self.page
        index = page.locator(
            f"{STREAM} input[name$='-type'][name^='form_fields-']:not([name*='-value-'])"
        ).count()
        page.locator(f"{STREAM} .c-sf-add-button:not([data-streamfield-list-add])").last.click()
        page.get_by_role("option", name=block_label, exact=True).click()
        expect(page.locator(f"input[name='form_fields-{index}-type']")).to_be_attached()
        return f"form_fields-{index}"

    def field(self, block_label: str, label: str, **options: Any) -> str:
        """Add an answer field with its label and options (text, checkbox or select inputs)."""
        prefix = self.add(block_label)
        page = self.page
        page.locator(f"#{prefix}-value-label").fill(label)
        for name, value in options.items():
            control = page.locator(f"#{prefix}-value-{name}")
            if name == "choices":
                for i, choice in enumerate(value):
                    if i:
                        page.locator(f"{STREAM} [data-streamfield-list-add]").last.click()
                    page.locator(f"#{prefix}-value-choices-{i}-value").fill(choice)
            elif isinstance(value, bool):
                control.set_checked(value)
            elif control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(str(value))
        block_id = page.locator(f"input[name='{prefix}-id']").input_value()
        assert block_id, prefix
        self.keys[label] = key_for(block_id)
        return prefix


def build_form(page: Any) -> dict[str, str]:
    """Every block type the form offers, in the editor; returns the answer fields' keys by label."""
    editor = Editor(page)
    prefix = editor.add("見出し")
    page.locator(f"#{prefix}-value").fill("被害と避難の状況")
    prefix = editor.add("説明文")
    page.locator(f"[data-streamfield-widget]:has(> #{prefix}-value) [role=textbox]").fill(
        "わかる範囲で答えてください。"
    )
    editor.field("選択（1つ）", "避難の状況", choices=["避難所にいる", "自宅にいる"])
    editor.field(
        "1行テキスト",
        "避難所の名前",
        max_length=50,
        condition_field="避難の状況",
        condition_answer="避難所にいる",
    )
    editor.field(
        "選択（1つ）", "住まいの種類", choices=["持ち家", "賃貸"], allow_no_answer=True, display="dropdown"
    )
    editor.field(
        "選択（複数）", "必要な物資", choices=["水", "食料", "その他"], allow_no_answer=True, max_count=2
    )
    editor.field("1行テキスト", "その他の物資", condition_field="必要な物資", condition_answer="その他")
    editor.field("複数行テキスト", "困っていること", help_text="薬や介助など")
    editor.field("数値", "世帯の人数", min_value=1, max_value=20)
    editor.field("メールアドレス", "メールアドレス", required=False)
    editor.field("日付", "避難した日")
    editor.field("生まれ年", "生まれ年")
    editor.field("氏名", "氏名", kana="required")
    editor.field("住所", "住所", default_address="岩手県大船渡市")
    editor.field("電話番号", "電話番号")
    editor.field("写真", "被害の写真", max_count=2, max_size_mb=5)
    editor.field("位置", "現在地")
    editor.field("同意", "個人情報の取り扱いに同意します", text="回答は災害対応にだけ使います。")
    return editor.keys


def test_every_field_type_from_the_editor_to_a_resident_and_the_csv(
    page: Any, make_staff: Any, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path  # private storage (photos) for this test only
    settings.WAGTAIL_AUTOSAVE_INTERVAL = (
        0  # no autosave racing the publish click (see test_browser_form_page)
    )
    # The form above really has every answer type the stream offers.
    assert {kind for kind, _ in ANSWER_FIELDS} == {cls.field_type for cls in ANSWER_BLOCK_CLASSES}

    section = Page.objects.get(depth=2).add_child(instance=StandardPage(title="防災・安全", slug="bousai"))
    sign_in_as_system_admin(page, make_staff)
    page.goto(f"/admin/pages/add/home/formpage/{section.pk}/")
    page.locator("#id_title").fill("災害時の状況確認")
    keys = build_form(page)
    assert list(keys) == [label for _, label in ANSWER_FIELDS]

    # The preview shows the form as a resident sees it: every item, the conditional ones hidden.
    page.locator("[data-side-panel-toggle='preview']").click()
    preview = page.frame_locator("#w-preview-iframe")
    expect(preview.get_by_role("heading", name="被害と避難の状況", level=2)).to_be_visible()
    expect(preview.locator(".kf-paragraph")).to_have_text("わかる範囲で答えてください。")
    for label, key in keys.items():
        item = preview.locator(f"#kf-item-{key}")
        if label in CONDITIONAL:
            expect(item).to_be_hidden()
        else:
            expect(item).to_contain_text(label)
    expect(preview.locator(".kf-field")).to_have_count(len(ANSWER_FIELDS))
    preview.get_by_role("radio", name="避難所にいる").check()
    expect(preview.get_by_label("避難所の名前")).to_be_visible()
    expect(preview.get_by_role("button", name="送信する")).to_be_visible()

    page.locator("footer [data-w-dropdown-target='toggle']").last.click()
    page.locator("button[name='action-publish']").click()
    expect(page.locator(".messages .success").first).to_be_visible()
    form_page = FormPage.objects.get()
    assert form_page.live
    specs = {spec.label: spec for spec in form_page.get_form_fields()}
    assert [(s.field_type, s.label) for s in specs.values()] == ANSWER_FIELDS
    assert {label: spec.clean_name for label, spec in specs.items()} == keys  # the editor's block ids
    assert [label for _, label in form_page.get_data_fields()[1:]] == [label for _, label in ANSWER_FIELDS]
    assert page.csp_violations == []

    # A resident on a small phone, who lets the page use the phone's location.
    resident_context = page.context.browser.new_context(
        viewport={"width": 320, "height": 640},
        locale="ja-JP",
        base_url=live_server.url,
        permissions=["geolocation"],
        geolocation=OFUNATO_CITY_HALL,
    )
    resident = resident_context.new_page()
    console: list[str] = []
    resident.on("console", lambda message: console.append(message.text))
    resident.goto(form_page.url)
    expect(resident.get_by_role("button", name="現在地を使う")).to_be_visible()  # the script ran
    assert_accessible(resident)
    assert resident.evaluate("document.documentElement.scrollWidth") <= 320

    def part(label: str, part_label: str) -> Any:
        """One input of a field made of parts (氏名, 住所, 現在地), by the part's own label."""
        return resident.locator(f"#kf-item-{keys[label]}").get_by_label(part_label, exact=True)

    resident.get_by_label("避難所にいる").check()
    resident.get_by_label("避難所の名前").fill("大船渡中学校")
    housing = resident.locator(f"#kf-item-{keys['住まいの種類']}")
    expect(housing.locator("label.kf-label")).to_have_css("border-top-style", "none")  # not an option
    housing.get_by_label("住まいの種類").select_option(label="回答しない")
    supplies = resident.locator(f"#kf-item-{keys['必要な物資']}")
    expect(supplies.get_by_label("回答しない")).to_be_visible()
    other = resident.get_by_label("その他の物資")
    expect(other).to_be_hidden()
    supplies.get_by_label("その他").check()
    other.fill("発電機")
    supplies.get_by_label("その他").uncheck()  # hidden again: what was typed is not sent
    expect(other).to_be_hidden()
    supplies.get_by_label("水", exact=True).check()
    supplies.get_by_label("食料").check()
    resident.get_by_label("困っていること").fill("血圧の薬が足りません。\n眼鏡をなくしました。")
    resident.get_by_label("世帯の人数").fill("３")  # full-width, as a phone keyboard may type it
    resident.get_by_label("メールアドレス").fill("hanako@Example.JP")
    resident.get_by_label("避難した日").fill("2026-03-11")
    resident.get_by_label("生まれ年").select_option("1990")
    part("氏名", "氏").fill("大船渡")
    part("氏名", "名").fill("花子")
    part("氏名", "セイ（カタカナ）（必須）").fill("おおふなと")
    part("氏名", "メイ（カタカナ）（必須）").fill("ハナコ")
    expect(part("住所", "住所")).to_have_value("岩手県大船渡市")
    part("住所", "郵便番号（例: 022-8501）").fill("022-8501")
    part("住所", "住所").fill("岩手県大船渡市盛町字宇津野沢15")
    resident.get_by_label("電話番号").fill("0192-27-3111")
    photo = jpeg_bytes()
    resident.get_by_label("被害の写真").set_input_files(
        files=[{"name": "higai.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    resident.get_by_role("button", name="現在地を使う").click()
    expect(resident.get_by_text("現在地を入れました。")).to_be_visible()
    expect(part("現在地", "緯度（例: 39.0819）")).to_have_value("39.081900")
    resident.get_by_label("個人情報の取り扱いに同意します").check()
    resident.get_by_role("button", name="送信する").click()
    expect(resident.get_by_role("status")).to_contain_text("送信しました。")
    assert not [text for text in console if "Content Security Policy" in text]
    resident_context.close()

    # Stored by key: choice codes, normalised values, the hidden conditional field dropped.
    submission = FormPageSubmission.objects.get()
    answers = submission.answers
    code = {label: {text: c for c, text in spec.choices} for label, spec in specs.items()}
    stored_photo = answers[keys["被害の写真"]]
    assert answers == {
        keys["避難の状況"]: code["避難の状況"]["避難所にいる"],
        keys["避難所の名前"]: "大船渡中学校",
        keys["住まいの種類"]: NO_ANSWER,
        keys["必要な物資"]: [code["必要な物資"]["水"], code["必要な物資"]["食料"]],
        keys["困っていること"]: "血圧の薬が足りません。\r\n眼鏡をなくしました。",
        keys["世帯の人数"]: "3",
        keys["メールアドレス"]: "hanako@example.jp",
        keys["避難した日"]: "2026-03-11",
        keys["生まれ年"]: 1990,
        keys["氏名"]: {
            "family": "大船渡",
            "given": "花子",
            "family_kana": "オオフナト",
            "given_kana": "ハナコ",
        },
        keys["住所"]: {"postal_code": "0228501", "address": "岩手県大船渡市盛町字宇津野沢15"},
        keys["電話番号"]: "0192-27-3111",
        keys["被害の写真"]: [
            {"file": stored_photo[0]["file"], "name": "higai.jpg", "type": "image/jpeg", "size": len(photo)}
        ],
        keys["現在地"]: {"lat": 39.0819, "lng": 141.7085},
        keys["個人情報の取り扱いに同意します"]: True,
    }

    # The photo is encrypted in private storage, bound to its name, and nowhere under MEDIA_ROOT.
    name = stored_photo[0]["file"]
    on_disk = tmp_path / "private" / name
    blob = on_disk.read_bytes()
    assert blob.startswith(b"KRN") and photo not in blob
    assert decrypt_bytes(blob, context=photo_context(name)) == photo
    media = Path(django_settings.MEDIA_ROOT).resolve()
    assert media not in on_disk.resolve().parents
    assert not media.exists() or not any(p.name == on_disk.name for p in media.rglob("*"))

    # Staff read the answer in the listing and download it as CSV: BOM, one column per field.
    page.goto(f"/admin/forms/submissions/{form_page.pk}/")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("大船渡 花子（オオフナト ハナコ）")
    expect(row.get_by_role("link", name="写真1")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV（UTF-8）").click()
    data = Path(download_info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["回答番号", "送信日時", *(label for _, label in ANSWER_FIELDS)]
    assert len(rows) == 2
    photo_url = (
        f"{settings.WAGTAILADMIN_BASE_URL}/admin/kairan-forms/submissions/"
        f"{submission.pk}/photos/{keys['被害の写真']}/0/"
    )
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cells.pop("送信日時"))
    assert cells == {
        "回答番号": str(submission.pk),
        "避難の状況": "避難所にいる",
        "避難所の名前": "大船渡中学校",
        "住まいの種類": "回答しない",
        "必要な物資": "水、食料",
        "その他の物資": "",
        "困っていること": "血圧の薬が足りません。\r\n眼鏡をなくしました。",
        "世帯の人数": "3",
        "メールアドレス": "hanako@example.jp",
        "避難した日": "2026-03-11",
        "生まれ年": "1990",
        "氏名": "大船渡 花子（オオフナト ハナコ）",
        "住所": "〒022-8501 岩手県大船渡市盛町字宇津野沢15",
        "電話番号": "0192-27-3111",
        "被害の写真": photo_url,
        "現在地": "39.0819, 141.7085",
        "個人情報の取り扱いに同意します": "同意する",
    }
    assert page.csp_violations == []
