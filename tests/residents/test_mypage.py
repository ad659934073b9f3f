"""My Page through HTTP, residents identified by LINE (the emulator): agreement to the terms
(versions recorded, re-agreement when the terms change), viewing, changing and deleting one's
受信設定, and withdrawing entirely."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from home.forms.models import FormPageSubmission, line_user_hash
from residents.consent import TERMS_CHANGED, consent_status, resident_number, terms_in_force
from residents.models import AttributeChange, AttributeFormPage, Consent, ResidentAttributes, TermsVersion
from tests.residents.conftest import AGREE, DISTRICT, FIRST_POST, MYPAGE, TOPICS, WORK

pytestmark = pytest.mark.django_db
Identified = Callable[..., tuple[Client, str]]


def text_of(response: object) -> str:
    return BeautifulSoup(response.content.decode(), "html.parser").get_text(" ", strip=True)  # type: ignore[attr-defined]


def new_version(version: str, *, reagree: bool = True, summary: str = "") -> TermsVersion:
    return TermsVersion.objects.create(
        version=version,
        effective_at=timezone.now() - timedelta(seconds=1),
        purpose="<p>新しい利用目的</p>",
        terms="<p>新しい規約</p>",
        privacy_policy="<p>新しい方針</p>",
        change_summary=summary,
        requires_reagreement=reagree,
    )


def test_first_visit_asks_for_agreement_then_opens_the_settings_form(
    attribute_page: AttributeFormPage, identified: Identified
) -> None:
    client, resident = identified("大船渡 花子", agreed=False)
    first = client.get(MYPAGE)
    page = BeautifulSoup(first.content.decode(), "html.parser")
    terms = terms_in_force()
    assert terms is not None and terms.version == "第1版"  # the default version the migration seeds
    assert page.find("h2", string="はじめに") is not None
    assert "利用目的のお知らせ" in page.get_text() and "暗号化して保存" in page.get_text()
    label = page.select_one("label[for=id_agree]")
    assert label is not None and label.get_text().startswith("利用規約とプライバシーポリシー")
    assert page.find(id="mypage-settings") is None, "nothing about settings before the agreement"

    # The 受信設定 form itself sends a resident who has not agreed to My Page first.
    redirect = client.get("/liff" + attribute_page.url)
    assert redirect.status_code == 302
    assert redirect["Location"] == MYPAGE + "?next=%2Fliff%2Fjushin%2F"
    assert client.post(attribute_page.url, FIRST_POST).status_code == 302
    assert not ResidentAttributes.objects.exists()

    # Agreeing without ticking the box: a clear message announced beside it, nothing recorded.
    refused = client.post(AGREE, {"terms": terms.pk, "next": "/liff/jushin/"})
    assert refused.status_code == 200
    alert = BeautifulSoup(refused.content.decode(), "html.parser").select_one("[role=alert]")
    assert alert is not None and "チェックを入れてから" in alert.get_text()
    checkbox = BeautifulSoup(refused.content.decode(), "html.parser").select_one("#id_agree")
    assert checkbox is not None and checkbox["aria-describedby"] == "agree-error"
    assert checkbox["aria-invalid"] == "true"
    assert not Consent.objects.exists()

    agreed = client.post(AGREE, {"terms": terms.pk, "agree": "yes", "next": "/liff/jushin/"})
    assert agreed.status_code == 302 and agreed["Location"] == "/liff/jushin/"
    consent = Consent.objects.get()
    assert consent.terms == terms and consent.line_user_hash == line_user_hash(resident)
    assert client.post(AGREE, {"terms": terms.pk, "agree": "yes"}).status_code == 302
    assert Consent.objects.count() == 1, "agreeing twice to a version records it once"

    form = client.get("/liff" + attribute_page.url)
    assert form.status_code == 200 and "マイページへ戻る" in text_of(form)
    # A GET of the agreement URL (liff.js reloads a page whose identity had expired) goes back to My Page.
    assert client.get(AGREE)["Location"] == MYPAGE


def test_first_agreement_without_next_goes_to_the_settings_form(
    attribute_page: AttributeFormPage, identified: Identified
) -> None:
    client, _ = identified("大船渡 次郎", agreed=False)
    terms = terms_in_force()
    assert terms is not None
    response = client.post(AGREE, {"terms": terms.pk, "agree": "yes", "next": "https://evil.example/"})
    assert response["Location"] == "/liff/jushin/", "never a redirect off the site's LIFF pages"


def test_view_change_and_delete_settings(attribute_page: AttributeFormPage, identified: Identified) -> None:
    client, resident = identified("大船渡 花子")
    empty = client.get(MYPAGE)
    assert "まだ登録していません" in text_of(empty)
    assert resident_number(resident) in text_of(empty)

    client.post("/liff" + attribute_page.url, FIRST_POST)
    shown = BeautifulSoup(client.get(MYPAGE).content.decode(), "html.parser").find(id="mypage-settings")
    assert shown is not None
    pairs = dict(
        zip(
            [dt.get_text() for dt in shown.find_all("dt")],
            [dd.get_text() for dd in shown.find_all("dd")],
            strict=True,
        )
    )
    assert pairs == {
        "性別": "女性",
        "生まれ年": "1987年",
        "お住まいの地区": "盛町",
        "勤務先・通学先の地区": "大船渡町",
        "受け取りたい情報": "防災・防犯、クマ出没情報",
    }, "the resident sees their answers, never the staff-only item"

    client.post("/liff" + attribute_page.url, {**FIRST_POST, DISTRICT: "c3-2", TOPICS: ["c5-2"], WORK: []})
    after = text_of(client.get(MYPAGE))
    assert "末崎町" in after and "子育て" in after and "クマ出没情報" not in after

    confirm = client.get("/liff/settings/delete/")
    assert confirm.status_code == 200 and "末崎町" in text_of(confirm)
    assert ResidentAttributes.objects.get().current, "a GET deletes nothing"
    done = client.post("/liff/settings/delete/", follow=True)
    assert "受信設定を削除しました" in text_of(done) and "まだ登録していません" in text_of(done)
    assert ResidentAttributes.objects.get().current == {}
    kinds = [entry.kind for entry in AttributeChange.objects.order_by("pk")]
    assert kinds == ["created", "changed", "deleted"]


def test_new_terms_ask_again_only_when_they_say_so(
    attribute_page: AttributeFormPage, identified: Identified
) -> None:
    client, resident = identified("大船渡 花子")
    client.post("/liff" + attribute_page.url, FIRST_POST)

    new_version("第1.1版（誤字の修正）", reagree=False)
    assert not consent_status(resident).needs_agreement
    assert client.get("/liff" + attribute_page.url).status_code == 200

    second = new_version("第2版", summary="保存期間を90日から60日に短くしました。")
    status = consent_status(resident)
    assert status.needs_agreement and status.is_reagreement and status.in_force == second
    page = text_of(client.get(MYPAGE))
    assert "利用規約が新しくなりました" in page and "保存期間を90日から60日に短くしました。" in page
    assert client.get("/liff" + attribute_page.url).status_code == 302

    # Agreeing to the version read before the change is not agreeing to the new one.
    first = TermsVersion.objects.get(version="第1版")
    stale = client.post(AGREE, {"terms": first.pk, "agree": "yes"})
    assert stale.status_code == 200 and TERMS_CHANGED in text_of(stale)
    assert client.post(AGREE, {"terms": second.pk, "agree": "yes"})["Location"] == MYPAGE
    assert not consent_status(resident).needs_agreement
    versions = [c.terms.version for c in Consent.objects.filter(line_user_hash=line_user_hash(resident))]
    assert versions == ["第1版", "第2版"], "each agreement is kept with its version"


def test_a_version_someone_agreed_to_cannot_be_edited(identified: Identified) -> None:
    terms = terms_in_force()
    assert terms is not None
    terms.full_clean()  # nobody agreed yet: the city may still edit its first version
    identified("大船渡 花子")
    terms.terms = "<p>こっそり変えた規約</p>"
    with pytest.raises(ValidationError, match="新しい版を追加してください"):
        terms.full_clean()


def test_no_terms_in_force_means_no_registration(
    attribute_page: AttributeFormPage, identified: Identified
) -> None:
    TermsVersion.objects.all().delete()
    client, _ = identified("大船渡 花子", agreed=False)
    assert "準備中" in text_of(client.get(MYPAGE))
    assert client.get("/liff" + attribute_page.url).status_code == 302
    refused = client.post(AGREE, {"terms": "1", "agree": "yes"})
    assert "準備中" in text_of(refused) and not Consent.objects.exists()


def test_withdraw_deletes_what_is_held_and_keeps_anonymous_counts(
    attribute_page: AttributeFormPage, identified: Identified, make_form: Callable[..., object]
) -> None:
    from tests.forms.conftest import block, key

    client, resident = identified("大船渡 花子")
    client.post("/liff" + attribute_page.url, FIRST_POST)
    survey = make_form([block("singleline", 1, label="ご意見", required=True)], requires_line_identity=True)
    client.post("/liff" + survey.url, {key(1): "図書館を広げてほしい"})  # type: ignore[attr-defined]
    submission = FormPageSubmission.objects.get()
    assert submission.line_user_hash == line_user_hash(resident)

    confirm = client.get("/liff/withdraw/")
    assert "元に戻すことはできません" in text_of(confirm)
    assert ResidentAttributes.objects.exists(), "a GET deletes nothing"
    done = client.post("/liff/withdraw/")
    assert "登録を削除しました" in text_of(done)

    assert not ResidentAttributes.objects.exists()
    assert Consent.objects.count() == 1 and Consent.objects.get().line_user_hash == ""
    submission.refresh_from_db()
    assert submission.line_user_hash == "" and submission.line_user_id == ""
    assert submission.answers == {key(1): "図書館を広げてほしい"}, "the city's record stays"
    assert [c.kind for c in AttributeChange.objects.order_by("pk")] == ["created", "deleted"]
    assert all(c.resident is None and c.changed == {} for c in AttributeChange.objects.all())
    # Coming back starts from the agreement again.
    assert consent_status(resident).needs_agreement
    assert "はじめに" in text_of(client.get(MYPAGE))
