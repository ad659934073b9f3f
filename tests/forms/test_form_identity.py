"""A form that needs the resident's LINE identity: only LINE's word (a verified LIFF ID token) ties
an answer to a resident; a user id posted by the page never does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client

from emulator.client import EmulatorControl
from home.forms.models import FormPageSubmission, submissions_for_line_user
from home.models import FormPage
from line_channel.models import OutboxItem
from tests.forms.conftest import VALID_POST
from tests.forms.test_form_page import post, soup_of
from tests.line.conftest import line_channel  # noqa: F401 - fixture
from tests.line.test_liff import identify, liff_app, opens_app  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
IDENTIFYING = "LINE で本人確認をしています"


def test_identity_form_asks_line_first_and_ignores_posted_ids(
    client: Client,
    make_form: Callable[..., FormPage],
    liff_app: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
) -> None:
    page = make_form(requires_line_identity=True, line_message="受け付けました。")
    response = client.get(page.url)
    assert response.status_code == 200 and IDENTIFYING in soup_of(response).get_text()
    assert soup_of(response).find("form", attrs={"data-kf-form": True}) is None
    # Posting answers with somebody's user id changes nothing: no identity, nothing stored.
    forged = post(client, page, {**VALID_POST, "user_id": "U" + "1" * 32, "line_user_id": "U" + "1" * 32})
    assert IDENTIFYING in soup_of(forged).get_text()
    assert not FormPageSubmission.objects.exists()

    resident, token = opens_app(emu, "大船渡 花子")
    assert identify(client, token).status_code == 200
    form = client.get(page.url)
    assert (
        IDENTIFYING not in soup_of(form).get_text()
        and soup_of(form).find("form", attrs={"data-kf-form": True}) is not None
    )
    post(client, page, {**VALID_POST, "user_id": "U" + "1" * 32})
    submission = FormPageSubmission.objects.get()
    assert submission.line_user_id == resident
    assert list(submissions_for_line_user(resident)) == [submission]
    assert OutboxItem.objects.get(purpose=f"form:{page.pk}").recipients == [resident]


def test_forms_without_identity_stay_open_to_anyone(
    client: Client, make_form: Callable[..., FormPage]
) -> None:
    page = make_form()
    assert IDENTIFYING not in soup_of(client.get(page.url)).get_text()
    post(client, page, VALID_POST)
    assert FormPageSubmission.objects.get().line_user_id == ""


def test_a_form_opened_through_the_liff_app_is_served_under_liff(
    client: Client,
    make_form: Callable[..., FormPage],
    liff_app: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
) -> None:
    """``https://liff.line.me/{liffId}/<path>`` ends at ``/liff/<path>``: the page at ``/<path>``."""
    page = make_form(requires_line_identity=True)
    liff_url = "/liff" + page.url
    assert IDENTIFYING in soup_of(client.get(liff_url)).get_text()
    resident, token = opens_app(emu, "大船渡 太郎")
    assert identify(client, token).status_code == 200
    response = client.get(liff_url)
    assert soup_of(response).find("form", attrs={"data-kf-form": True}) is not None
    sdk_origin = settings.KAIRAN_LIFF_SDK_URL.split("/static/")[0]
    assert f"script-src 'self' {sdk_origin}" in response["Content-Security-Policy"]  # LIFF headers
    client.post(liff_url, VALID_POST)
    assert FormPageSubmission.objects.get().line_user_id == resident
    assert client.get("/liff/no-such-page/").status_code == 404
