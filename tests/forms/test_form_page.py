"""A published FormPage through HTTP: rendering, validation, encrypted storage, conditions,
staff-only fields, stable keys across label edits, photos and the LINE message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory

from home.forms.models import (
    FormFieldHistory,
    FormPageSubmission,
    line_user_hash,
    private_storage,
    submissions_for_line_user,
)
from home.models import FormPage
from line_channel.models import OutboxItem
from tests.forms.conftest import DEMO_FIELDS, VALID_POST, block, key, png_bytes

pytestmark = pytest.mark.django_db


def soup_of(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def post(client: Client, page: FormPage, data: dict[str, Any]) -> Any:
    return client.post(page.url, data)


def test_get_renders_every_resident_field_with_labels(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form()
    response = client.get(page.url)
    assert response.status_code == 200
    soup = soup_of(response)
    form = soup.select_one("form[data-kf-form]")
    assert form is not None and form.get("novalidate") is not None
    assert soup.select_one("h2.kf-heading").get_text() == "申込者"  # type: ignore[union-attr]
    # Labels are tied to inputs; composite parts have their own labels inside a fieldset.
    for control in form.select("input:not([type=hidden]), select, textarea"):
        assert soup.select_one(f'label[for="{control["id"]}"]'), control
    assert form.select_one(f"#kf-item-{key(2)} fieldset legend").get_text(strip=True).startswith("氏名")  # type: ignore[union-attr]
    assert form.select_one(f'input[name="{key(3)}_address"]')["value"] == "岩手県大船渡市"  # type: ignore[index]
    # The staff-only field is not there; the conditional one says what it depends on.
    assert not form.select(f'[name="{key(8)}"]')
    conditional = form.select_one(f"#kf-item-{key(7)}")
    assert conditional["data-kf-when"] == key(6) and conditional["data-kf-values"] == "c6-0"  # type: ignore[index]
    # No inline script or style (CSP); the behaviour comes from a static file.
    assert not soup.select("script:not([src])") and not soup.select("[style]") and not soup.select("style")
    assert soup.select_one('script[src$="home/forms/form.js"]')
    assert "「回答しない」" not in response.content.decode() and "回答しない" in response.content.decode()


def test_invalid_post_shows_errors_beside_fields_and_a_summary(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form()
    data = {**VALID_POST, key(4): "12345", f"{key(2)}_family_kana": "Ofunato"}
    del data[key(9)]
    response = post(client, page, data)
    assert response.status_code == 200
    soup = soup_of(response)
    summary = soup.select_one("#kf-error-summary")
    assert summary is not None and summary["role"] == "alert"
    links = {a["href"]: a.get_text() for a in summary.select("a")}
    assert links[f"#id_{key(4)}"].startswith("電話番号: 電話番号は0から始まる")
    assert f"#id_{key(2)}_0" in links and f"#id_{key(9)}" in links
    for href in links:  # each link lands on an input of its field
        assert soup.select_one(f"{href}:is(input, select, textarea)"), href
    phone = soup.select_one(f"#id_{key(4)}")
    assert phone["aria-invalid"] == "true"  # type: ignore[index]
    assert phone["aria-describedby"] == f"id_{key(4)}_error"  # type: ignore[index]
    assert "0から始まる10桁か11桁" in soup.select_one(f"#id_{key(4)}_error").get_text()  # type: ignore[union-attr]
    assert "フリガナはカタカナで入力してください。" in soup.select_one(f"#kf-item-{key(2)}").get_text()  # type: ignore[union-attr]
    assert FormPageSubmission.objects.count() == 0


def test_valid_post_stores_normalised_answers_by_stable_key(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form(thank_you_text="<p>受け付けました。当日お待ちしています。</p>")
    response = post(client, page, {**VALID_POST, key(8): "職員欄を市民が送っても捨てる"})
    assert response.status_code == 200
    assert "受け付けました。当日お待ちしています。" in response.content.decode()
    submission = FormPageSubmission.objects.get()
    assert submission.answers == {
        key(2): {"family": "大船渡", "given": "太郎", "family_kana": "オオフナト", "given_kana": "タロウ"},
        key(3): {"postal_code": "0228501", "address": "岩手県大船渡市盛町字宇津野沢15"},
        key(4): "0192-27-3111",
        key(5): 1990,
        key(6): "c6-0",
        key(7): "車いすで参加します",
        key(9): True,
    }
    data = submission.get_data()
    assert data[key(2)] == "大船渡 太郎（オオフナト タロウ）"
    assert data[key(3)] == "〒022-8501 岩手県大船渡市盛町字宇津野沢15"
    assert data[key(6)] == "会場"
    assert submission.line_user_id == "" and submission.line_user_hash == ""


def test_database_holds_no_plaintext_answers(client: Client, make_form: Callable[..., FormPage]) -> None:
    page = make_form()
    post(client, page, VALID_POST)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM home_formpagesubmission")
        dump = repr(cursor.fetchall())
    for secret in ("大船渡", "太郎", "オオフナト", "0228501", "宇津野沢", "0192-27-3111", "1990", "車いす"):
        assert secret not in dump, secret
    assert "aesgcm:" in dump


def test_conditional_field_is_required_only_when_shown_and_dropped_when_hidden(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form()
    shown_but_empty = post(client, page, {**VALID_POST, key(7): ""})
    assert "入力してください。" in soup_of(shown_but_empty).select_one(f"#kf-item-{key(7)}").get_text()  # type: ignore[union-attr]
    assert FormPageSubmission.objects.count() == 0

    online = {**VALID_POST, key(6): "c6-1", key(7): "x" * 500}  # too long, but hidden: not checked
    assert post(client, page, online).status_code == 200
    assert key(7) not in FormPageSubmission.objects.get().answers

    FormPageSubmission.objects.all().delete()
    no_answer = {**VALID_POST, key(6): "no_answer"}
    post(client, page, no_answer)
    assert FormPageSubmission.objects.get().get_data()[key(6)] == "回答しない"


def test_staff_only_fields_are_data_fields_but_not_in_the_resident_form(
    make_form: Callable[..., FormPage],
) -> None:
    page = make_form()
    assert (key(8), "受付メモ") in page.get_data_fields()
    assert key(8) not in page.get_form().fields
    assert page.get_data_fields()[0] == ("submit_time", "送信日時")


def test_codes_survive_a_label_edit_and_a_removed_field_stays_readable(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form()
    post(client, page, VALID_POST)

    # The editor renames the choice and one of its answers, and removes the phone field.
    fields = [dict(f) for f in DEMO_FIELDS if f["id"] != DEMO_FIELDS[3]["id"]]
    choice = next(f for f in fields if f["type"] == "choice")
    choice["value"] = {**choice["value"], "label": "参加のしかた"}
    choice["value"]["choices"] = [dict(c) for c in choice["value"]["choices"]]
    choice["value"]["choices"][0]["value"] = "会場（大船渡市民文化会館）"
    conditional = next(f for f in fields if f["id"] == DEMO_FIELDS[6]["id"])
    conditional["value"] = {
        **conditional["value"],
        "condition_field": "参加のしかた",
        "condition_answer": "会場（大船渡市民文化会館）",
    }
    page.form_fields = fields
    page.save_revision().publish()
    page.refresh_from_db()

    history = {h.key: h for h in FormFieldHistory.objects.filter(page=page)}
    assert history[key(6)].label == "参加のしかた" and not history[key(6)].retired
    assert history[key(4)].retired and history[key(4)].label == "電話番号"
    assert (key(4), "電話番号（削除済み）") in page.get_data_fields()

    data = FormPageSubmission.objects.get().get_data()
    assert data[key(6)] == "会場（大船渡市民文化会館）"
    assert data[key(4)] == "0192-27-3111"

    # New answers use the same codes, and the condition still works on the renamed field.
    post(client, page, {k: v for k, v in VALID_POST.items() if k != key(4)})
    newest = FormPageSubmission.objects.order_by("-pk").first()
    assert newest is not None and newest.answers[key(6)] == "c6-0" and newest.answers[key(7)]


def test_photos_are_stored_encrypted_outside_media_and_served_to_staff_only(
    client: Client,
    make_form: Callable[..., FormPage],
    make_staff: Any,
    section: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.VAR_DIR = tmp_path
    from kairan.staff.permissions import create_department
    from kairan.staff.roles import EDITOR

    page = make_form(
        [block("photo", 21, label="写真", required=True, max_count=2, max_size_mb=5)], slug="shashin"
    )
    image = png_bytes()
    upload = SimpleUploadedFile("genba.png", image, content_type="image/png")
    assert client.post(page.url, {key(21): upload}).status_code == 200
    stored = FormPageSubmission.objects.get().answers[key(21)]
    assert stored[0]["name"] == "genba.png" and stored[0]["type"] == "image/png"
    storage = private_storage()
    with storage.open(stored[0]["file"], "rb") as handle:
        on_disk = handle.read()
    assert on_disk.startswith(b"KRN") and image not in on_disk
    assert (tmp_path / "private" / stored[0]["file"]).exists()

    submission = FormPageSubmission.objects.get()
    url = f"/admin/kairan-forms/submissions/{submission.pk}/photos/{key(21)}/0/"
    assert client.get(url).status_code == 302  # to the login page
    create_department(name="防災課", section=section)
    client.force_login(make_staff("bousai", EDITOR, "防災課"))
    response = client.get(url)
    assert response.status_code == 200 and response.content == image
    assert response["Content-Type"] == "image/png" and "no-store" in response["Cache-Control"]
    from kairan.oplog.models import OperationLogEntry

    seen = OperationLogEntry.objects.get(action="kairan.personal.view", object_label="フォームの回答の写真")
    assert seen.object_id == str(submission.pk) and seen.data == {"key": key(21), "index": 0}
    outsider = Client()
    outsider.force_login(make_staff("kosodate", EDITOR))
    listing = client.get(f"/admin/forms/submissions/{page.pk}/").content.decode()
    assert f'href="{url}"' in listing and "写真1" in listing
    refused = outsider.get(url)  # Wagtail turns PermissionDenied into a redirect with a message
    assert refused.status_code == 302 and refused["Location"] == "/admin/"

    # Deleting the submission deletes the file too.
    with django_capture_on_commit_callbacks(execute=True):
        submission.delete()
    assert not storage.exists(stored[0]["file"])


def test_known_resident_gets_the_line_message_and_can_be_found_by_hash(
    client: Client, make_form: Callable[..., FormPage], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = make_form(line_message="お申込みを受け付けました。")
    monkeypatch.setattr(FormPage, "get_line_user_id", lambda self, request: "U" + "0" * 32)
    post(client, page, VALID_POST)
    submission = FormPageSubmission.objects.get()
    assert submission.line_user_id == "U" + "0" * 32
    assert submission.line_user_hash == line_user_hash("U" + "0" * 32)
    assert list(submissions_for_line_user("U" + "0" * 32)) == [submission]
    assert not submissions_for_line_user("U" + "1" * 32).exists()
    item = OutboxItem.objects.get(purpose=f"form:{page.pk}")
    assert item.recipients == ["U" + "0" * 32]
    assert item.messages == [{"type": "text", "text": "お申込みを受け付けました。"}]
    with connection.cursor() as cursor:
        cursor.execute("SELECT line_user_id FROM home_formpagesubmission")
        assert "U000" not in repr(cursor.fetchall())


def test_preview_modes_render_the_resident_view(make_form: Callable[..., FormPage], make_staff: Any) -> None:
    page = make_form()
    request = RequestFactory().get("/")
    request.user = make_staff("preview")
    form_view = page.make_preview_request(request, "form")
    assert form_view.status_code == 200
    assert "申込者" in form_view.content.decode()
    landing = page.make_preview_request(request, "landing")
    assert "送信しました。" in landing.content.decode()
