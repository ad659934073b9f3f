"""An editor builds a form in the Wagtail editor (with a conditional field), previews and
publishes it; a resident answers it on a 320px-wide phone screen with the page's script."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from wagtail.models import Page

from home.forms.models import FormPageSubmission
from home.models import FormPage, StandardPage
from tests.conftest import sign_in_as_system_admin
from tests.test_browser_a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

STREAM = "#form_fields-root"


def add_block(page: Any, label: str) -> int:
    """Append a block of the given type to the form's fields; returns its index."""
    index = page.locator(
        f"{STREAM} input[name$='-type'][name^='form_fields-']:not([name*='-value-'])"
    ).count()
    page.locator(f"{STREAM} .c-sf-add-button:not([data-streamfield-list-add])").last.click()
    page.get_by_role("option", name=label, exact=True).click()
    expect(page.locator(f"#form_fields-{index}-value-label")).to_be_visible()
    return int(index)


def test_editor_builds_previews_and_publishes_a_form_that_a_resident_answers(
    page: Any, make_staff: Any, live_server: Any, settings: Any
) -> None:
    # Wagtail's autosave could create the page while the publish click still posts to the add
    # view (a slug clash under CI load); this test is about the form, so the editor saves once.
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0
    home = Page.objects.get(depth=2)
    section = home.add_child(instance=StandardPage(title="防災・安全", slug="bousai"))
    sign_in_as_system_admin(page, make_staff)

    page.goto(f"/admin/pages/add/home/formpage/{section.pk}/")
    page.locator("#id_title").fill("避難状況の確認")

    i = add_block(page, "選択（1つ）")
    page.locator(f"#form_fields-{i}-value-label").fill("避難の状況")
    page.locator(f"#form_fields-{i}-value-required").check()
    page.locator(f"#form_fields-{i}-value-choices-0-value").fill("避難所にいる")
    page.locator(f"{STREAM} [data-streamfield-list-add]").last.click()
    page.locator(f"#form_fields-{i}-value-choices-1-value").fill("自宅にいる")

    i = add_block(page, "1行テキスト")
    page.locator(f"#form_fields-{i}-value-label").fill("避難所の名前")
    page.locator(f"#form_fields-{i}-value-required").check()
    page.locator(f"#form_fields-{i}-value-condition_field").fill("避難の状況")
    page.locator(f"#form_fields-{i}-value-condition_answer").fill("避難所にいる")

    i = add_block(page, "氏名")
    page.locator(f"#form_fields-{i}-value-label").fill("氏名")
    page.locator(f"#form_fields-{i}-value-required").check()

    i = add_block(page, "電話番号")
    page.locator(f"#form_fields-{i}-value-label").fill("電話番号")
    page.locator(f"#form_fields-{i}-value-required").uncheck()

    # The preview shows the resident's form.
    page.locator("[data-side-panel-toggle='preview']").click()
    preview = page.frame_locator("#w-preview-iframe")
    expect(preview.get_by_role("radio", name="避難所にいる")).to_be_visible()
    expect(preview.get_by_text("避難所の名前")).to_be_hidden()  # until 避難所にいる is chosen
    preview.get_by_role("radio", name="避難所にいる").check()
    expect(preview.get_by_text("避難所の名前")).to_be_visible()
    expect(preview.get_by_role("button", name="送信する")).to_be_visible()

    page.locator("footer [data-w-dropdown-target='toggle']").last.click()
    page.locator("button[name='action-publish']").click()
    expect(page.locator(".messages .success").first).to_be_visible()
    form_page = FormPage.objects.get()
    assert form_page.live
    assert [spec.label for spec in form_page.get_form_fields()] == [
        "避難の状況",
        "避難所の名前",
        "氏名",
        "電話番号",
    ]
    assert page.csp_violations == []

    # A resident on a small phone.
    resident_context = page.context.browser.new_context(
        viewport={"width": 320, "height": 640}, locale="ja-JP", base_url=live_server.url
    )
    resident = resident_context.new_page()
    console: list[str] = []
    resident.on("console", lambda message: console.append(message.text))
    resident.goto(form_page.url)
    assert_accessible(resident)
    shelter = resident.get_by_label("避難所の名前")
    expect(shelter).to_be_hidden()
    assert resident.evaluate("document.documentElement.scrollWidth") <= 320

    # Sending without answers: the summary and the messages beside the fields.
    resident.get_by_role("button", name="送信する").click()
    expect(resident.get_by_role("alert")).to_contain_text("避難の状況: 選んでください。")
    expect(resident.get_by_role("alert")).to_be_focused()
    assert_accessible(resident)

    resident.get_by_label("避難所にいる").check()
    expect(shelter).to_be_visible()
    shelter.fill("大船渡中学校")
    resident.get_by_label("自宅にいる").check()
    expect(shelter).to_be_hidden()
    resident.get_by_label("避難所にいる").check()
    resident.get_by_label("氏", exact=True).fill("大船渡")
    resident.get_by_label("名", exact=True).fill("花子")
    resident.get_by_role("button", name="送信する").click()
    expect(resident.get_by_role("status")).to_contain_text("送信しました。")
    assert not [text for text in console if "Content Security Policy" in text]
    resident_context.close()

    submission = FormPageSubmission.objects.get()
    specs = {spec.label: spec for spec in form_page.get_form_fields()}
    assert submission.answers[specs["避難所の名前"].clean_name] == "大船渡中学校"
    assert submission.answers[specs["避難の状況"].clean_name] == specs["避難の状況"].choices[0][0]
    assert submission.get_data()[specs["氏名"].clean_name] == "大船渡 花子"
