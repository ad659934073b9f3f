"""The segment builder through HTTP: the 受信設定 items it offers, the live count with the segment
in words, the validator's Japanese message for a wrong definition, staff without the delivery
permissions refused, CSRF enforced; the widget's markup (hidden JSON textarea, endpoint URLs) and
the value it posts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django import forms
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from deliveries.widgets import SegmentBuilderWidget
from kairan.staff.roles import EDITOR, VIEWER
from residents.models import AttributeFormPage
from tests.deliveries.test_audience import BOUSAI, KUMA, MASSAKI, MORI, OFUNATO, choice, resident
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, GENDER, MEMO, TOPICS, WORK

pytestmark = pytest.mark.django_db

FIELDS = "/admin/deliveries/segment-fields/"
COUNT = "/admin/deliveries/segment-count/"
SEGMENT_PERMISSIONS = ("add_segment", "change_segment", "add_delivery", "change_delivery")


@pytest.fixture
def editor(make_staff: Callable[..., Any]) -> Client:
    """A 担当者 signed in, with the delivery permissions (the role's baseline has them)."""
    user = make_staff("tantou", EDITOR)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="deliveries", codename__in=SEGMENT_PERMISSIONS)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(make_staff: Callable[..., Any]) -> Client:
    """A 閲覧者: admin access, may look at 配信グループ, but not build them."""
    user = make_staff("etsuran", VIEWER)
    assert not user.has_perm("deliveries.add_segment") and not user.has_perm("deliveries.change_delivery")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def friends(attribute_page: AttributeFormPage) -> AttributeFormPage:
    resident(attribute_page, "U-mori-1", home=MORI, topics=[KUMA], born=1950)
    resident(attribute_page, "U-mori-2", home=MORI, topics=[BOUSAI], born=1990)
    resident(attribute_page, "U-ofunato", home=OFUNATO, topics=[KUMA], born=1950)
    resident(attribute_page, "U-massaki", home=MASSAKI, topics=[BOUSAI], born=2000, friend=False)
    return attribute_page


def post_count(client: Client, definition: Any, **extra: Any) -> Any:
    return client.post(
        COUNT, json.dumps({"definition": definition}), content_type="application/json", **extra
    )


def test_the_url_names_are_under_the_admin() -> None:
    assert reverse("deliveries_segment_fields") == FIELDS
    assert reverse("deliveries_segment_count") == COUNT


def test_fields_lists_the_choice_items_with_their_choices(
    editor: Client, attribute_page: AttributeFormPage
) -> None:
    response = editor.get(FIELDS)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["max_depth"] == 4 and data["max_conditions"] == 30
    fields = {field["key"]: field for field in data["fields"]}
    # choice items and the birth year, in the form's order, then the friend-since pseudo-item
    keys = [field["key"] for field in data["fields"]]
    assert keys == [GENDER, BIRTH_YEAR, DISTRICT, WORK, TOPICS, "friend_since"]
    assert MEMO not in fields  # a text item cannot be a condition
    district = fields[DISTRICT]
    assert district["label"] == "お住まいの地区" and district["type"] == "choice"
    assert district["choices"] == [
        {"code": "c3-0", "label": "盛町"},
        {"code": "c3-1", "label": "大船渡町"},
        {"code": "c3-2", "label": "末崎町"},
    ]
    assert district["multiple"] is False and fields[TOPICS]["multiple"] is True
    assert [c["label"] for c in fields[TOPICS]["choices"]] == ["防災・防犯", "クマ出没情報", "子育て"]
    assert fields[BIRTH_YEAR]["type"] == "birth_year" and fields[BIRTH_YEAR]["label"] == "生まれ年"
    assert fields["friend_since"] == {
        "key": "friend_since",
        "label": "友だちになった日",
        "type": "friend_since",
        "choices": [],
        "multiple": False,
        "retired": False,
    }
    assert not any(field["retired"] for field in data["fields"])


def test_fields_without_a_settings_form(editor: Client) -> None:
    data = editor.get(FIELDS).json()
    assert [field["key"] for field in data["fields"]] == ["friend_since"]


def test_count_and_description(editor: Client, friends: AttributeFormPage) -> None:
    response = post_count(editor, {"op": "and", "items": [choice(DISTRICT, MORI)]})
    assert response.status_code == 200, response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {"count": 2, "text": "お住まいの地区が「盛町」"}

    bear = {
        "op": "and",
        "items": [
            {"op": "or", "items": [choice(DISTRICT, MORI), choice(DISTRICT, OFUNATO)]},
            {"type": "age", "field": BIRTH_YEAR, "min": 60, "max": None},
            choice(TOPICS, KUMA),
        ],
    }
    data = post_count(editor, bear).json()
    assert data["count"] == 2  # the non-friend in 末崎町 is never counted
    assert data["text"] == (
        "（お住まいの地区が「盛町」 または お住まいの地区が「大船渡町」） かつ 年齢が60歳以上"
        " かつ 受け取りたい情報が「クマ出没情報」"
    )
    # everyone who registered, as the empty builder starts
    assert post_count(editor, {"op": "and", "items": []}).json() == {
        "count": 3,
        "text": "受信設定を登録した友だち全員",
    }


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"op": "and", "items": [choice(DISTRICT)]},
            "「お住まいの地区」の条件で、選択肢を1つ以上選んでください。",
        ),
        ({"op": "or", "items": []}, "「どれかを満たす」のグループに条件がありません。"),
        (
            {"op": "and", "items": [{"type": "age", "field": BIRTH_YEAR, "min": 70, "max": 60}]},
            "年齢の下限が上限より大きくなっています。",
        ),
        (
            {"op": "and", "items": [choice("f_gone", "c0")]},
            "受信設定にない項目が条件に使われています。受信設定フォームを確かめてください。",
        ),
        (None, "条件の形が正しくありません。"),
    ],
)
def test_a_wrong_definition_is_a_400_with_the_japanese_message(
    editor: Client, attribute_page: AttributeFormPage, definition: Any, message: str
) -> None:
    response = post_count(editor, definition)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert "no-store" in response["Cache-Control"]


def test_a_body_that_is_not_json_or_too_large(editor: Client, attribute_page: AttributeFormPage) -> None:
    response = editor.post(COUNT, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json() == {"error": "条件の形が正しくありません。"}
    huge = {"op": "and", "items": [choice(TOPICS, KUMA)] * 2000}
    response = post_count(editor, huge)
    assert response.status_code == 400 and "大きすぎます" in response.json()["error"]


def test_methods(editor: Client, attribute_page: AttributeFormPage) -> None:
    assert editor.get(COUNT).status_code == 405
    assert editor.post(FIELDS).status_code == 405


def test_staff_without_delivery_permissions_get_403(viewer: Client, friends: AttributeFormPage) -> None:
    response = viewer.get(FIELDS)
    assert response.status_code == 403
    assert response.json() == {"error": "配信の条件を作る権限がありません。"}
    response = post_count(viewer, {"op": "and", "items": []})
    assert response.status_code == 403 and "権限" in response.json()["error"]


def test_signed_out_is_sent_to_the_login(friends: AttributeFormPage) -> None:
    response = Client().get(FIELDS)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_csrf_is_enforced(make_staff: Callable[..., Any], friends: AttributeFormPage) -> None:
    user = make_staff("tantou2", EDITOR)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="deliveries", codename__in=SEGMENT_PERMISSIONS)
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    definition = {"op": "and", "items": [choice(DISTRICT, MORI)]}
    assert post_count(client, definition).status_code == 403

    client.get("/admin/")  # any admin page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = post_count(client, definition, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["count"] == 2


# --- the widget -------------------------------------------------------------------------------------


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_the_widget_renders_the_json_and_the_endpoints() -> None:
    definition = {"op": "or", "items": [choice(DISTRICT, MORI), choice(TOPICS, KUMA, match="none")]}
    html = SegmentBuilderWidget().render(
        "conditions",
        definition,
        attrs={"id": "id_conditions", "aria-describedby": "help-1", "required": True},
    )
    page = soup(html)
    container = page.select_one("[data-segment-builder]")
    assert container is not None
    assert container["data-fields-url"] == FIELDS
    assert container["data-count-url"] == COUNT
    assert container["data-max-depth"] == "4" and container["data-max-conditions"] == "30"
    assert container["aria-describedby"] == "help-1"
    textarea = container.select_one("textarea")
    assert textarea is not None
    assert textarea["name"] == "conditions" and textarea["id"] == "id_conditions"
    assert textarea.has_attr("hidden") and not textarea.has_attr("required")
    assert json.loads(textarea.get_text()) == definition
    assert container.select_one("[aria-live=polite][data-segment-builder-count]") is not None
    assert container.select_one("[role=alert][data-segment-builder-error]") is not None
    assert page.select("script") == [] and "style=" not in html  # CSP: no inline script or style


def test_the_widget_media_and_an_empty_value() -> None:
    widget = SegmentBuilderWidget()
    media = str(widget.media)
    assert "deliveries/segment-builder.js" in media and "deliveries/segment-builder.css" in media
    textarea = soup(widget.render("definition", None)).select_one("textarea")
    assert textarea is not None and json.loads(textarea.get_text()) == {"op": "and", "items": []}
    assert widget.id_for_label("id_definition") == ""  # no label pointing at the hidden textarea


def test_value_from_datadict_parses_the_posted_json() -> None:
    widget = SegmentBuilderWidget()
    posted = {"op": "and", "items": [choice(DISTRICT, MORI)]}
    value = widget.value_from_datadict({"conditions": json.dumps(posted)}, {}, "conditions")
    assert isinstance(value, str) and json.loads(value) == posted
    assert widget.value_from_datadict({"conditions": "{not json"}, {}, "conditions") == "{not json"
    blank = widget.value_from_datadict({"conditions": " "}, {}, "conditions")
    assert blank is not None and json.loads(blank) == {"op": "and", "items": []}
    assert widget.value_from_datadict({}, {}, "conditions") is None
    assert widget.value_omitted_from_data({}, {}, "conditions")


class SegmentForm(forms.Form):
    """As Wagtail builds it for a JSONField with ``FieldPanel(..., widget=SegmentBuilderWidget())``."""

    conditions = forms.JSONField(widget=SegmentBuilderWidget())
    title = forms.CharField()


def test_the_model_form_field_gets_the_definition_and_a_form_with_errors_renders_again() -> None:
    posted = {"op": "and", "items": [choice(DISTRICT, MORI)]}
    form = SegmentForm(data={"conditions": json.dumps(posted), "title": "x"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["conditions"] == posted

    # another field's error: the page is shown again with what was built
    form = SegmentForm(data={"conditions": json.dumps(posted), "title": ""})
    assert not form.is_valid()
    textarea = soup(str(form["conditions"])).select_one("textarea")
    assert textarea is not None and json.loads(textarea.get_text()) == posted

    # text that is not JSON (never posted by the builder) is the field's error, shown back as it was
    form = SegmentForm(data={"conditions": "{not json", "title": "x"})
    assert not form.is_valid() and "conditions" in form.errors
    textarea = soup(str(form["conditions"])).select_one("textarea")
    assert textarea is not None and textarea.get_text() == "{not json"
