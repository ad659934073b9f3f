"""An answer page as LINE messages (choices as quick replies, a buttons template or a carousel,
within LINE's limits, checked by the emulator's validation), and scenario files: the starter pack
imports and exports unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from wagtail.models import Page

from chatbot import transfer
from chatbot.line_messages import TOP_LABEL, answer_messages
from chatbot.models import AnswerPage
from tests.chatbot.conftest import STARTER
from tests.line.conftest import line_channel  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def answer(parent: Page, title: str, **fields: Any) -> AnswerPage:
    page = AnswerPage(title=title, body=[{"type": "text", "value": f"{title}の回答です。"}], **fields)
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


@pytest.fixture
def menu() -> AnswerPage:
    return answer(Page.objects.get(depth=2), "くらしの手続き")


def test_the_starter_pack_imports_and_exports_unchanged() -> None:
    document = transfer.parse(STARTER.read_text(encoding="utf-8"))
    tops, problems = transfer.import_tree(document=document, parent=Page.objects.get(depth=2))
    assert problems == [] and [page.title for page in tops] == [
        "メニュー",
        "友だち追加のあいさつ",
        "答えが見つからないとき",
    ]
    assert not any(page.live for page in AnswerPage.objects.all())  # drafts, for staff to adapt
    assert transfer.dumps(transfer.export_tree(tops)) == STARTER.read_text(encoding="utf-8")
    assert AnswerPage.objects.count() == 32


def test_references_inside_and_outside_the_file(menu: AnswerPage) -> None:
    elsewhere = answer(Page.objects.get(depth=2), "ごみカレンダー")
    menu.extra_choices = [{"type": "page", "value": {"label": "カレンダー", "page": elsewhere.pk}}]
    menu.save_revision().publish()
    child = answer(menu, "転入届")
    child.extra_choices = [{"type": "page", "value": {"label": "戻る", "page": menu.pk}}]
    child.save_revision().publish()
    document = transfer.export_tree([menu])
    assert document["pages"][0]["extra_choices"][0]["value"]["page"] == f"/{elsewhere.slug}/"
    assert document["pages"][0]["children"][0]["extra_choices"][0]["value"]["page"] == f"./{menu.slug}"

    copy_parent = answer(Page.objects.get(depth=2), "コピー先")
    (copy,), problems = transfer.import_tree(document=document, parent=copy_parent, publish=True)
    assert problems == []
    copied_child = copy.get_children().specific().get()
    assert copied_child.extra_choices[0].value["page"].pk == copy.pk  # points into the copy
    assert copy.extra_choices[0].value["page"].pk == elsewhere.pk  # outside: the same page

    document["pages"][0]["extra_choices"][0]["value"]["page"] = "/nowhere/"
    _, problems = transfer.import_tree(document=document, parent=copy_parent)
    assert problems == ["「くらしの手続き」: ページ「/nowhere/」が見つからないため、空にしました。"]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": transfer.FORMAT, "version": 9, "pages": [{}]}),
    ],
)
def test_files_that_are_not_scenarios_are_refused_in_japanese(text: str) -> None:
    with pytest.raises(transfer.ScenarioFileError):
        transfer.parse(text)


def test_choices_as_quick_replies_buttons_or_a_carousel(menu: AnswerPage) -> None:
    for number in range(1, 15):
        answer(menu, f"手続き{number:02d}")
    menu.refresh_from_db()
    text, message = answer_messages(menu, top_id=None)
    template = message["template"]  # 14 choices: too many quick replies, so a carousel (auto)
    assert template["type"] == "carousel" and "quickReply" not in message
    assert [len(column["actions"]) for column in template["columns"]] == [2] * 7  # equal columns
    assert message["altText"].startswith("くらしの手続き: 手続き01 / 手続き02")

    menu.choice_style = "quick_reply"
    with pytest.raises(ValidationError) as refused:
        menu.full_clean()
    assert "クイックリプライで見せられるのは12個までです" in str(refused.value)

    for page in menu.get_children()[4:]:
        page.unpublish()
    menu.choice_style = "buttons"
    text, buttons = answer_messages(menu, top_id=Page.objects.get(depth=2).pk)
    assert buttons["template"]["type"] == "buttons" and len(buttons["template"]["actions"]) == 4
    assert [item["action"]["label"] for item in buttons["quickReply"]["items"]] == [TOP_LABEL]
    assert text == {"type": "text", "text": "くらしの手続きの回答です。"}


def test_every_kind_of_choice_is_valid_for_line(menu: AnswerPage, line_channel: Any) -> None:  # noqa: F811
    from home.models import FormPage
    from line_channel.gateway import Gateway

    form = FormPage(title="転入の事前申請", intro="", form_fields=[])
    Page.objects.get(depth=2).add_child(instance=form)
    answer(menu, "転入届")
    menu.extra_choices = [
        {"type": "page", "value": {"label": "事前申請", "page": form.pk}},
        {"type": "url", "value": {"label": "地図", "url": "https://example.jp/map"}},
        {"type": "phone", "value": {"label": "市民課に電話", "number": "0192-27-3111"}},
    ]
    for style in ("quick_reply", "buttons", "carousel"):
        menu.choice_style = style
        messages = answer_messages(menu, top_id=Page.objects.get(depth=2).pk)
        with Gateway.from_settings() as gateway:
            gateway.validate_messages(kind="reply", messages=messages)  # the emulator checks as LINE
    menu.choice_style = "auto"
    actions = [item["action"] for item in answer_messages(menu, top_id=None)[0]["quickReply"]["items"]]
    assert [a["type"] for a in actions] == ["postback", "uri", "uri", "uri"]
    assert actions[2]["uri"] == "https://example.jp/map" and actions[3]["uri"] == "tel:0192273111"


def test_a_delivery_card_opening_an_answer_page_starts_that_conversation(menu: AnswerPage) -> None:
    from deliveries.blocks import MessageStreamBlock
    from deliveries.line_messages import to_line_messages

    stream = MessageStreamBlock().to_python(
        [
            {"type": "page_card", "value": {"page": menu.pk, "button_label": "手続きを調べる"}},
            {
                "type": "card",
                "value": {
                    "title": "引っ越しの手続き",
                    "body": "",
                    "buttons": [{"label": "くらしの手続き", "action": "page", "page": menu.pk}],
                },
            },
        ]
    )
    for message in to_line_messages(stream):
        (button,) = message["contents"]["footer"]["contents"]
        assert button["action"] == {
            "type": "postback",
            "label": button["action"]["label"],
            "data": f"chatbot={menu.pk}",
            "displayText": button["action"]["label"],
        }
