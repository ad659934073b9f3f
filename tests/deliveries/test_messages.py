"""The message blocks of a 配信, the LINE message objects they make (checked by the emulator's
validator, which answers as LINE does), the personal-data warnings and the talk preview."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.images import ImageFile
from django.template.loader import render_to_string
from PIL import Image as PILImage
from wagtail.blocks import StreamBlockValidationError, StreamValue
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.models import Image
from wagtail.models import Page

from deliveries import blocks as message_blocks
from deliveries.blocks import MessageStreamBlock
from deliveries.line_messages import (
    alt_texts,
    message_count,
    personal_data_warnings,
    preview_context,
    summary_text,
    to_line_messages,
)
from emulator.errors import LineError
from emulator.validation import Checker, validate_messages
from home.models import FormPage, StandardPage
from line_channel.models import LineChannelSettings

pytestmark = pytest.mark.django_db

BASE = "https://kairan.example.jp"
LIFF_ID = "1234567890-AbCdEfGh"
LIFF = f"https://liff.line.me/{LIFF_ID}"
APPLE = "🍎"  # 2 UTF-16 code units, 1 grapheme
FAMILY = "👨\u200d👩\u200d👧"  # 8 UTF-16 code units, 1 grapheme
STREAM = MessageStreamBlock()


def child(name: str) -> Any:
    return STREAM.child_blocks[name]


def stream(*items: tuple[str, Any]) -> StreamValue:
    return StreamValue(STREAM, [(name, child(name).normalize(value)) for name, value in items])


def line_ok(messages: list[dict[str, Any]], *, local_http: bool = False) -> None:
    """LINE (the emulator's validator) accepts the messages in one request."""
    validate_messages({"messages": messages}, Checker(local_http_media=True) if local_http else None)


def sends(name: str, value: Any) -> dict[str, Any]:
    """The block accepts the value, and LINE accepts the message it makes."""
    child(name).clean(child(name).normalize(value))
    [message] = to_line_messages(stream((name, value)), base_url=BASE)
    line_ok([message])
    return message


def field_errors(block: Any, value: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(StructBlockValidationError) as caught:
        block.clean(block.normalize(value))
    return {name: error.messages for name, error in caught.value.block_errors.items()}


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.KAIRAN_LIFF_ID = ""


@pytest.fixture
def make_image() -> Callable[..., Image]:
    def _make(kind: str = "png", size: tuple[int, int] = (640, 480)) -> Image:
        buffer = io.BytesIO()
        PILImage.new("RGB", size, "white").save(buffer, kind.upper())
        return Image.objects.create(title="地図", file=ImageFile(buffer, name=f"test.{kind}"))

    return _make


@pytest.fixture
def bousai() -> StandardPage:
    home = Page.objects.get(depth=2)
    section: StandardPage = home.add_child(
        instance=StandardPage(title="防災・安全", slug="bousai", lead="災害への備えと避難所のご案内です。")
    )
    return section


@pytest.fixture
def draft_page(bousai: StandardPage) -> StandardPage:
    page: StandardPage = bousai.add_child(instance=StandardPage(title="準備中", slug="junbi", live=False))
    return page


@pytest.fixture
def with_liff(settings: Any) -> str:
    settings.KAIRAN_LIFF_ID = LIFF_ID
    return LIFF_ID


def card(**extra: Any) -> dict[str, Any]:
    return {"image": None, "title": "防災訓練のお知らせ", "body": "9月1日です。", "buttons": [], **extra}


def page_card(page: Page, label: str = "", image: Image | None = None) -> dict[str, Any]:
    return {"page": page, "button_label": label, "image": image}


def first_action(message: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = message["contents"]["footer"]["contents"][0]["action"]
    return action


def button(label: str = "詳しく見る", action: str = "url", **extra: Any) -> dict[str, Any]:
    values = {"label": label, "action": action, "url": "", "page": None, "data": "", "display_text": ""}
    return {**values, **extra}


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["あ" * 5000, APPLE * 2500, "一行目\n二行目"])
def test_text_up_to_5000_utf16_units_is_sent(text: str) -> None:
    assert sends("text", text) == {"type": "text", "text": text}


@pytest.mark.parametrize(
    ("text", "length"), [("あ" * 5001, 5001), (APPLE * 2500 + "a", 5001), (APPLE * 2501, 5002)]
)
def test_text_over_5000_utf16_units_is_refused(text: str, length: int) -> None:
    with pytest.raises(ValidationError) as caught:
        child("text").clean(text)
    assert caught.value.messages == [f"本文は5000文字以内にしてください（現在 {length} 文字）。"]
    with pytest.raises(LineError):  # LINE counts the same way
        line_ok([{"type": "text", "text": text}])


def test_text_line_breaks_from_the_browser_are_normalised_and_text_is_required() -> None:
    assert child("text").clean("一行目\r\n二行目") == "一行目\n二行目"
    with pytest.raises(ValidationError):
        child("text").clean("")


# --- image --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "extension"), [("png", ".png"), ("jpeg", ".jpg")])
def test_image_message_uses_renditions_on_the_base_url(make_image: Any, kind: str, extension: str) -> None:
    image = make_image(kind, size=(3000, 2000))
    message = sends("image", {"image": image, "alt": "避難所の地図"})
    assert message["type"] == "image"
    assert message["originalContentUrl"].startswith(f"{BASE}/media/images/")
    assert message["originalContentUrl"].endswith(extension)
    assert message["previewImageUrl"].startswith(f"{BASE}/media/images/")
    assert message["previewImageUrl"].endswith(".jpg")
    original = image.get_rendition(message_blocks.original_spec(image))
    assert (original.width, original.height) == (2048, 1365)


def test_image_on_the_default_local_base_url(make_image: Any, settings: Any) -> None:
    settings.WAGTAILADMIN_BASE_URL = "http://127.0.0.1:8000"
    [message] = to_line_messages(stream(("image", {"image": make_image(), "alt": "地図"})))
    assert message["originalContentUrl"].startswith("http://127.0.0.1:8000/media/images/")
    line_ok([message], local_http=True)  # the emulator's local-http allowance; LINE wants https


def test_image_other_than_jpeg_or_png_or_without_description_is_refused(make_image: Any) -> None:
    errors = field_errors(child("image"), {"image": make_image("gif"), "alt": ""})
    assert errors["image"] == ["LINE で送れる画像は JPEG か PNG だけです（この画像は GIF です）。"]
    assert list(errors) == ["alt", "image"]


def test_image_over_line_size_limits_is_refused(make_image: Any, monkeypatch: Any) -> None:
    image = make_image("jpeg")
    monkeypatch.setattr(message_blocks, "IMAGE_MAX_BYTES", 10)
    errors = field_errors(child("image"), {"image": image, "alt": "地図"})
    assert "上限の 10 MB を超えます" in errors["image"][0]
    monkeypatch.setattr(message_blocks, "IMAGE_MAX_BYTES", 10_000_000)
    monkeypatch.setattr(message_blocks, "PREVIEW_MAX_BYTES", 10)
    errors = field_errors(child("image"), {"image": image, "alt": "地図"})
    assert errors == {"image": ["画像の縮小版が 1 MB を超えます。JPEG で保存し直してください。"]}


# --- card ---------------------------------------------------------------------------------------


def test_card_with_every_kind_of_button(make_image: Any, bousai: StandardPage) -> None:
    value = card(
        image=make_image("jpeg"),
        buttons=[
            button("申込みページ", "url", url="https://www.city.example.jp/moushikomi/"),
            button("防災のページ", "page", page=bousai),
            button("参加します", "postback", data="event=drill&answer=yes", display_text="参加します"),
            button("不参加", "postback", data="event=drill&answer=no"),
        ],
    )
    message = sends("card", value)
    assert message["type"] == "flex"
    assert message["altText"] == "防災訓練のお知らせ"
    bubble = message["contents"]
    assert bubble["hero"]["aspectRatio"] == "20:13"
    assert bubble["hero"]["aspectMode"] == "cover"
    assert bubble["hero"]["url"].startswith(f"{BASE}/media/images/")
    title, body = bubble["body"]["contents"]
    assert title == {
        "type": "text",
        "text": "防災訓練のお知らせ",
        "weight": "bold",
        "size": "lg",
        "wrap": True,
    }
    assert body == {"type": "text", "text": "9月1日です。", "size": "md", "wrap": True, "color": "#333333"}
    buttons = bubble["footer"]["contents"]
    assert [b["style"] for b in buttons] == ["primary", "secondary", "secondary", "secondary"]
    assert {b["height"] for b in buttons} == {"sm"}
    assert buttons[0]["action"] == {
        "type": "uri",
        "label": "申込みページ",
        "uri": "https://www.city.example.jp/moushikomi/",
    }
    assert buttons[1]["action"]["uri"] == f"{BASE}/bousai/"
    assert buttons[2]["action"] == {
        "type": "postback",
        "label": "参加します",
        "data": "event=drill&answer=yes",
        "displayText": "参加します",
    }
    assert "displayText" not in buttons[3]["action"]


def test_card_without_image_or_buttons() -> None:
    message = sends("card", card(body=""))
    assert set(message["contents"]) == {"type", "body"}
    assert len(message["contents"]["body"]["contents"]) == 1


@pytest.mark.parametrize(
    ("name", "ok", "too_long", "message"),
    [
        ("title", APPLE * 20, APPLE * 20 + "a", "タイトルは40文字以内にしてください（現在 41 文字）。"),
        ("body", "あ" * 500, "あ" * 501, "本文は500文字以内にしてください（現在 501 文字）。"),
    ],
)
def test_card_text_limits(name: str, ok: str, too_long: str, message: str) -> None:
    sends("card", card(**{name: ok}))
    assert field_errors(child("card"), card(**{name: too_long})) == {name: [message]}


def test_button_label_counts_graphemes_as_line_does() -> None:
    sends("card", card(buttons=[button(FAMILY * 20, url="https://example.jp/")]))
    too_long = card(buttons=[button(FAMILY * 21, url="https://example.jp/")])
    with pytest.raises(StructBlockValidationError) as caught:
        child("card").clean(child("card").normalize(too_long))
    [(index, error)] = caught.value.block_errors["buttons"].block_errors.items()
    assert index == 0
    assert error.block_errors["label"].messages == [
        "ボタンの文字は20文字以内にしてください（現在 21 文字）。"
    ]


def _button_errors(**fields: Any) -> dict[str, list[str]]:
    return field_errors(child("card").child_blocks["buttons"].child_block, button(**fields))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"label": "あ" * 21, "url": "https://example.jp/"},
            {"label": ["ボタンの文字は20文字以内にしてください（現在 21 文字）。"]},
        ),
        ({"url": ""}, {"url": ["「URL を開く」ボタンには URL を入れてください。"]}),
        (
            {"url": "http://example.jp/"},
            {"url": ["URL は https:// で始まるものにしてください（http のページは開けません）。"]},
        ),
        ({"action": "page"}, {"page": ["ページを選んでください。"]}),
        ({"action": "postback"}, {"data": ["合図のデータを入れてください。"]}),
        (
            {"action": "postback", "data": "a" * 301},
            {"data": ["合図のデータは300文字以内にしてください（現在 301 文字）。"]},
        ),
        (
            {"action": "postback", "data": "a", "display_text": "あ" * 301},
            {"display_text": ["表示する文字は300文字以内にしてください（現在 301 文字）。"]},
        ),
    ],
)
def test_button_refuses(fields: dict[str, Any], expected: dict[str, list[str]]) -> None:
    assert _button_errors(**fields) == expected


def test_postback_limits_at_exactly_300() -> None:
    sends("card", card(buttons=[button(action="postback", data="a" * 300, display_text=FAMILY * 300)]))


def test_button_to_an_unpublished_page_is_refused(draft_page: StandardPage) -> None:
    assert _button_errors(action="page", page=draft_page) == {
        "page": ["公開されていないページは送れません。"]
    }


def test_more_than_four_buttons_are_refused() -> None:
    value = card(buttons=[button(f"ボタン{i}", url="https://example.jp/") for i in range(5)])
    with pytest.raises(StructBlockValidationError) as caught:
        child("card").clean(child("card").normalize(value))
    assert caught.value.block_errors["buttons"].non_block_errors.as_data()[0].messages == [
        "ボタンは4つまでです（現在 5 個）。"
    ]


# --- page card and page links ------------------------------------------------------------------


def test_page_card_opens_the_page_inside_line_when_liff_is_set(bousai: StandardPage, with_liff: str) -> None:
    message = sends("page_card", page_card(bousai))
    bubble = message["contents"]
    assert message["altText"] == "防災・安全"
    assert bubble["body"]["contents"][1]["text"] == "災害への備えと避難所のご案内です。"
    assert len(bubble["footer"]["contents"]) == 1
    assert first_action(message) == {"type": "uri", "label": "詳しく見る", "uri": f"{LIFF}/bousai/"}
    assert "hero" not in bubble


def test_liff_id_from_line_settings(bousai: StandardPage) -> None:
    config = LineChannelSettings.load()
    config.liff_id = "2000000000-Settings"
    config.save()
    [message] = to_line_messages(stream(("page_card", page_card(bousai, "見る"))))
    assert first_action(message)["uri"] == "https://liff.line.me/2000000000-Settings/bousai/"


def test_page_card_without_liff_uses_the_absolute_url(bousai: StandardPage, make_image: Any) -> None:
    bousai.lead = ""
    bousai.search_description = "検索用の説明文です。"
    bousai.save_revision().publish()
    message = sends("page_card", page_card(bousai, "ひらく", make_image()))
    bubble = message["contents"]
    assert bubble["body"]["contents"][1]["text"] == "検索用の説明文です。"
    assert bubble["hero"]["url"].startswith(f"{BASE}/media/images/")
    assert first_action(message) == {"type": "uri", "label": "ひらく", "uri": f"{BASE}/bousai/"}


def test_form_page_opens_inside_line(bousai: StandardPage, with_liff: str) -> None:
    form = bousai.add_child(instance=FormPage(title="防災講座の申込み", slug="moushikomi"))
    [message] = to_line_messages(stream(("page_card", page_card(form, "申し込む"))))
    assert first_action(message)["uri"] == f"{LIFF}/bousai/moushikomi/"


def test_unpublished_page_is_refused(draft_page: StandardPage) -> None:
    value = page_card(draft_page)
    assert field_errors(child("page_card"), value) == {"page": ["公開されていないページは送れません。"]}
    with pytest.raises(ValidationError) as caught:  # unpublished after the delivery was saved
        to_line_messages(stream(("text", "お知らせ"), ("page_card", value)), base_url=BASE)
    assert caught.value.messages == ["2通目: 公開されていないページは送れません。"]


# --- the stream ---------------------------------------------------------------------------------


def _five(make_image: Any, page: Page) -> list[tuple[str, Any]]:
    return [
        ("text", f"台風が近づいています {APPLE}\n早めの避難を。"),
        ("image", {"image": make_image("jpeg"), "alt": "台風の進路図"}),
        ("card", card(buttons=[button(url="https://www.jma.go.jp/")])),
        ("page_card", page_card(page, image=make_image())),
        ("text", "以上です。"),
    ]


def test_five_messages_are_one_request(make_image: Any, bousai: StandardPage) -> None:
    items = _five(make_image, bousai)
    value = stream(*items)
    STREAM.clean(value)
    messages = to_line_messages(value, base_url=BASE)
    assert [m["type"] for m in messages] == ["text", "image", "flex", "flex", "text"]
    line_ok(messages)
    assert message_count(value) == 5


def test_six_messages_are_refused(make_image: Any, bousai: StandardPage) -> None:
    items = [*_five(make_image, bousai), ("text", "6通目")]
    with pytest.raises(StreamBlockValidationError) as caught:
        STREAM.clean(stream(*items))
    assert caught.value.non_block_errors.as_data()[0].messages == [
        "LINE は1回に5通までしか送れません。メッセージを5つ以下にしてください（現在 6 個）。"
    ]
    with pytest.raises(LineError):
        line_ok(to_line_messages(stream(*items), base_url=BASE))


def test_no_message_is_refused() -> None:
    with pytest.raises(StreamBlockValidationError) as caught:
        STREAM.clean(stream())
    assert caught.value.non_block_errors.as_data()[0].messages == ["メッセージを1つ以上入れてください。"]


def test_summary_text(make_image: Any) -> None:
    long_text = "　本日は\n" + "あ" * 80
    assert summary_text(stream(("card", card()), ("text", long_text))) == "本日は " + "あ" * 55 + "…"
    assert summary_text(stream(("card", card()))) == "カード: 防災訓練のお知らせ"
    assert summary_text(stream(("image", {"image": make_image(), "alt": "地図"}))) == "画像"
    assert message_count(stream(("text", "a"), ("card", card()))) == 2


# --- personal data warnings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            "お問い合わせは 0192-27-3111 まで",
            "電話番号のような文字列があります（市の代表番号など公開の番号なら問題ありません）",
        ),
        ("携帯 ０９０－１２３４－５６７８", "電話番号のような"),
        ("09012345678 に折り返します", "電話番号のような"),
        ("電話 0192（27）3111", "電話番号のような"),
        ("080ー1234ー5678", "電話番号のような"),
        ("フリーダイヤル 0120-123-456", "電話番号のような"),
        ("+81-90-1234-5678", "電話番号のような"),
        ("〒022-8501", "郵便番号のような"),
        ("岩手県大船渡市盛町1丁目2-3 にお住まいの方", "住所のような"),
        ("大船渡市盛町15-1", "住所のような"),
        ("盛町字宇津野沢15", "住所のような"),
        ("3番地の5", "住所のような"),
        ("連絡先 taro.yamada@example.jp", "メールアドレスがあります"),
        ("{氏名}様、こんにちは", "宛名の差し込みのような"),
        ("{{name}} さん", "宛名の差し込みのような"),
        ("＜氏名＞さんへ", "宛名の差し込みのような"),
        ("〇〇様", "宛名の差し込みのような"),
        ("%name% 様", "宛名の差し込みのような"),
    ],
)
def test_personal_data_is_warned(text: str, warning: str) -> None:
    warnings = personal_data_warnings(stream(("text", "お知らせです"), ("text", text)))
    assert len(warnings) == 1
    assert warnings[0].startswith("2通目: ")
    assert warning in warnings[0]


@pytest.mark.parametrize(
    "text",
    [
        "2027-01-05 に実施します",
        "2027年1月5日（火）",
        "令和9年1月5日 7:00 から",
        "受付 9:00〜17:00",
        "参加費 1,000円",
        "¥12,000",
        "定員30人、第2回",
        "1/5-1/10 は休みます",
        "10-12歳のお子さん",
        "電話番号は後日お知らせします",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert personal_data_warnings(stream(("text", text))) == []


def test_warnings_look_at_every_typed_field(make_image: Any) -> None:
    value = card(
        title="〇〇様へ",
        body="0192-27-3111",
        buttons=[button("{{name}}", url="https://example.jp/")],
    )
    warnings = personal_data_warnings(
        stream(("image", {"image": make_image(), "alt": "〒022-8501 の地図"}), ("card", value))
    )
    assert [w.split(":")[0] for w in warnings] == ["1通目", "2通目", "2通目"]


# --- the preview --------------------------------------------------------------------------------


def test_preview_renders_the_talk(make_image: Any, bousai: StandardPage) -> None:
    text = "一行目 https://example.jp/\n二行目"
    buttons = [button("詳しく見る", url="https://example.jp/"), button("参加", "postback", data="x")]
    value = stream(
        ("text", text),
        ("image", {"image": make_image(), "alt": "避難所の地図"}),
        ("card", card(buttons=buttons)),
    )
    messages = to_line_messages(value, base_url=BASE)
    html = render_to_string(
        "deliveries/talk_preview.html", preview_context(messages, alt_texts=alt_texts(value))
    )
    assert 'aria-label="LINE のトーク画面のプレビュー"' in html
    assert "<ol" in html
    assert "一行目 https://example.jp/<br>二行目" in html  # line breaks kept, URL not linked
    assert "<a " not in html
    assert f'src="{messages[1]["previewImageUrl"]}" alt="避難所の地図"' in html
    assert "防災訓練のお知らせ" in html
    assert 'kt-card__button--primary">詳しく見る<' in html
    assert 'kt-card__button--secondary">参加<' in html
    assert "市の公式アカウント" in html
    assert "deliveries/talk-preview.css" in html
    assert "style=" not in html
    assert "<script" not in html


def test_preview_of_a_snapshot_with_other_messages() -> None:
    config = LineChannelSettings.load()
    config.bot_display_name = "大船渡市"
    config.save()
    snapshot: list[dict[str, Any]] = [
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "flex", "altText": "カルーセル", "contents": {"type": "carousel", "contents": []}},
        {"type": "image", "originalContentUrl": f"{BASE}/a.jpg", "previewImageUrl": f"{BASE}/a-small.jpg"},
    ]
    html = render_to_string("deliveries/talk_preview.html", preview_context(snapshot))
    assert html.count("（この種類のメッセージはプレビューできません）") == 2
    assert "カルーセル" in html
    assert 'alt="画像"' in html
    assert "大船渡市" in html
