"""Staff screens about one resident (市民の情報) through HTTP: found by the お問い合わせ番号 or from
the friends list, everything held shown (受信設定 with staff-only items, history, agreements,
form answers), the disclosure export, staff changes and withdrawal; each view of personal data
in the operation log; staff without the permission see nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Permission
from django.test import Client

from home.forms.models import FormPageSubmission, line_user_hash
from kairan.oplog.models import OperationLogEntry
from kairan.staff.roles import APPROVER, EDITOR
from residents.consent import resident_number
from residents.models import AttributeChange, AttributeFormPage, Consent, ResidentAttributes, TermsVersion
from tests.line.test_liff import befriend
from tests.residents.conftest import DISTRICT, FIRST_POST, MEMO

pytestmark = pytest.mark.django_db
Identified = Callable[..., tuple[Client, str]]


def grant(user: Any, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="residents", codename__in=codenames)
    )


@pytest.fixture
def officer(make_staff: Callable[..., Any]) -> tuple[Client, Any]:
    """A 担当者 of the citizens' desk, allowed to see and change residents' data."""
    user = make_staff("madoguchi", EDITOR)
    grant(user, "view_personal_data", "change_residentattributes", "delete_residentattributes")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="line_channel", codename="view_follower")
    )
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def hanako(attribute_page: AttributeFormPage, identified: Identified, emu: Any) -> tuple[str, str]:
    """A friend who registered through My Page; her user id and resident hash."""
    client, user_id = identified("大船渡 花子")
    befriend(emu, user_id)
    client.post("/liff" + attribute_page.url, FIRST_POST)
    client.post("/liff" + attribute_page.url, {**FIRST_POST, DISTRICT: "c3-2"})
    return user_id, line_user_hash(user_id)


def denied(response: Any) -> bool:
    """Wagtail answers a PermissionDenied with a redirect to the dashboard and a message."""
    return response.status_code == 302 and response["Location"] == "/admin/"


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def test_find_by_number_and_see_everything(officer: tuple[Client, Any], hanako: tuple[str, str]) -> None:
    client, user = officer
    user_id, key = hanako
    number = resident_number(user_id)
    typed = number.lower().replace("-", " - ")  # as a resident might read it out
    found = client.get("/admin/residents/", {"number": typed})
    assert found.status_code == 302 and found["Location"] == f"/admin/residents/{key}/"
    missing = client.get("/admin/residents/", {"number": "00000-00000"}, follow=True)
    assert "見つかりません" in missing.content.decode()

    page = soup(client.get(f"/admin/residents/{key}/"))
    assert page.select_one("#resident-number").get_text() == number  # type: ignore[union-attr]
    text = page.get_text(" ")
    assert user_id in text and "大船渡 花子" in text and "友だち" in text
    assert "第1版" in text  # her agreement
    settings = {
        row.th.get_text(strip=True): row.td.get_text(strip=True)  # type: ignore[union-attr]
        for row in page.select("#resident-settings tbody tr")
    }
    assert settings["お住まいの地区"] == "末崎町" and settings["生まれ年"] == "1987年"
    assert settings["職員メモ（職員のみ）"] == "（未回答）"
    history = [
        [td.get_text(" ", strip=True) for td in tr.select("td")]
        for tr in page.select("#resident-history tbody tr")
    ]
    assert [row[1:3] for row in history] == [["登録", "本人"], ["変更", "本人"]]
    assert "お住まいの地区: 盛町 → 末崎町" in history[1][3]

    sidebar = page.select_one("#wagtail-sidebar-props")
    assert sidebar is not None and '"/admin/residents/"' in sidebar.get_text(), "in the menu"
    entry = OperationLogEntry.objects.filter(action="kairan.personal.view").latest("sequence")
    assert (
        entry.actor_id == user.pk
        and entry.object_id == number
        and entry.get_category_display() == "個人情報の閲覧"
    )


def test_friends_list_links_to_the_resident_for_staff_with_the_right(
    officer: tuple[Client, Any], hanako: tuple[str, str], make_staff: Callable[..., Any]
) -> None:
    client, _ = officer
    _, key = hanako
    listing = soup(client.get("/admin/line/followers/"))
    assert listing.select_one(f'a[href="/admin/residents/{key}/"]') is not None
    assert OperationLogEntry.objects.filter(action="kairan.personal.view", object_label="友だち一覧").exists()

    approver = Client()
    approver.force_login(make_staff("shonin", APPROVER))
    plain = soup(approver.get("/admin/line/followers/"))
    assert plain.select_one('a[href^="/admin/residents/"]') is None
    for path in ("", f"{key}/", f"{key}/export/", f"{key}/settings/", f"{key}/withdraw/"):
        assert denied(approver.get(f"/admin/residents/{path}")), path
    assert denied(approver.post(f"/admin/residents/{key}/withdraw/"))
    assert denied(approver.post(f"/admin/residents/{key}/settings/", FIRST_POST))
    assert ResidentAttributes.objects.exists()


def test_disclosure_export_holds_everything_and_is_logged(
    officer: tuple[Client, Any], hanako: tuple[str, str], attribute_page: AttributeFormPage
) -> None:
    client, user = officer
    user_id, key = hanako
    FormPageSubmission.objects.create(
        page=attribute_page, form_data={MEMO: "窓口で受付"}, line_user_id=user_id, line_user_hash=key
    )
    response = client.get(f"/admin/residents/{key}/export/")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert f"resident-{resident_number(user_id)}-" in response["Content-Disposition"]
    document = json.loads(response.content.decode("utf-8"))
    assert document["お問い合わせ番号"] == resident_number(user_id) and document["LINE ユーザーID"] == user_id
    assert document["作成者"] == "madoguchi"
    assert (
        document["LINE の友だち"]["表示名"] == "大船渡 花子" and document["LINE の友だち"]["状態"] == "友だち"
    )
    assert [c["版"] for c in document["利用規約への同意"]] == ["第1版"]
    assert document["受信設定"]["お住まいの地区"] == "末崎町"
    assert [h["種類"] for h in document["受信設定の変更履歴"]] == ["登録", "変更"]
    assert document["フォームの回答"][0]["回答"] == {"職員メモ": "窓口で受付"}
    entry = OperationLogEntry.objects.get(action="kairan.personal.export")
    assert entry.actor_id == user.pk and entry.object_id == resident_number(user_id)
    assert "末崎町" not in json.dumps(entry.data, ensure_ascii=False), "the log never holds the data"


def test_staff_change_settings_including_staff_only_items(
    officer: tuple[Client, Any], hanako: tuple[str, str], identified: Identified
) -> None:
    client, user = officer
    _user_id, key = hanako
    form = soup(client.get(f"/admin/residents/{key}/settings/"))
    assert form.select_one(f'input[name="{MEMO}"]') is not None, "staff-only items are on the staff form"
    assert form.select_one(f'input[name="{DISTRICT}"][value="c3-2"][checked]') is not None

    bad = client.post(f"/admin/residents/{key}/settings/", {**FIRST_POST, DISTRICT: "nope"})
    assert bad.status_code == 400 and "入力内容を確認してください" in bad.content.decode()
    done = client.post(
        f"/admin/residents/{key}/settings/", {**FIRST_POST, MEMO: "電話で依頼あり"}, follow=True
    )
    assert "受信設定を変更しました" in done.content.decode()
    row = ResidentAttributes.objects.get(line_user_hash=key)
    assert row.current[MEMO] == "電話で依頼あり" and row.current[DISTRICT] == "c3-0"
    change = AttributeChange.objects.filter(resident=row).latest("pk")
    assert change.actor == f"staff:{user.pk}" and set(change.changed) == {DISTRICT, MEMO}
    page = soup(client.get(f"/admin/residents/{key}/"))
    last = [td.get_text(" ", strip=True) for td in page.select("#resident-history tbody tr")[-1].select("td")]
    assert last[1:3] == ["変更", "職員（madoguchi）"]


def test_staff_withdraw_on_request(officer: tuple[Client, Any], hanako: tuple[str, str]) -> None:
    client, _ = officer
    _user_id, key = hanako
    assert "元に戻せません" in client.get(f"/admin/residents/{key}/withdraw/").content.decode()
    done = client.post(f"/admin/residents/{key}/withdraw/", follow=True)
    assert "利用登録を削除しました" in done.content.decode()
    assert not ResidentAttributes.objects.exists() and Consent.objects.get().line_user_hash == ""
    page = soup(client.get(f"/admin/residents/{key}/"))  # still a friend: the friend's facts remain
    assert "登録されていません" in page.get_text() and "同意の記録はありません" in page.get_text()


def test_terms_versions_are_managed_in_the_admin(
    make_staff: Callable[..., Any], identified: Identified, attribute_page: AttributeFormPage
) -> None:
    user = make_staff("kikaku", EDITOR)
    grant(user, "view_termsversion", "add_termsversion", "change_termsversion")
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/snippets/residents/termsversion/")
    assert listing.status_code == 200 and "第1版" in listing.content.decode()
    sidebar = soup(client.get("/admin/")).select_one("#wagtail-sidebar-props")
    assert sidebar is not None
    assert '"/admin/snippets/residents/termsversion/"' in sidebar.get_text()
    assert '"/admin/residents/"' not in sidebar.get_text(), "市民の情報 only for staff with the right"

    first = TermsVersion.objects.get(version="第1版")
    fields = {
        "version": "第1版",
        "effective_at": "2026-01-01 00:00",
        "requires_reagreement": "on",
        "change_summary": "",
        "purpose": json.dumps(
            {
                "blocks": [
                    {
                        "key": "a",
                        "type": "unstyled",
                        "text": "目的",
                        "depth": 0,
                        "inlineStyleRanges": [],
                        "entityRanges": [],
                    }
                ],
                "entityMap": {},
            }
        ),
        "terms": json.dumps(
            {
                "blocks": [
                    {
                        "key": "b",
                        "type": "unstyled",
                        "text": "規約",
                        "depth": 0,
                        "inlineStyleRanges": [],
                        "entityRanges": [],
                    }
                ],
                "entityMap": {},
            }
        ),
        "privacy_policy": json.dumps(
            {
                "blocks": [
                    {
                        "key": "c",
                        "type": "unstyled",
                        "text": "方針",
                        "depth": 0,
                        "inlineStyleRanges": [],
                        "entityRanges": [],
                    }
                ],
                "entityMap": {},
            }
        ),
    }
    # Nobody agreed yet: the city can still edit its first version.
    edited = client.post(f"/admin/snippets/residents/termsversion/edit/{first.pk}/", fields)
    assert edited.status_code == 302, edited.content.decode()[:2000]
    identified("大船渡 花子")  # agrees to it
    refused = client.post(
        f"/admin/snippets/residents/termsversion/edit/{first.pk}/", {**fields, "terms": fields["purpose"]}
    )
    assert refused.status_code == 200 and "新しい版を追加してください" in refused.content.decode()
    first.refresh_from_db()
    assert "規約" in first.terms


def test_the_rights_can_be_granted_in_the_group_screen(
    make_staff: Callable[..., Any], client: Client
) -> None:
    from django.contrib.auth.models import Group
    from django.urls import reverse
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kairan.staff.roles import ADMIN
    from tests.conftest import STAFF_PASSWORD, totp_code

    admin = make_staff("kanri", ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    client.post(reverse("wagtailadmin_login"), {"username": "kanri", "password": STAFF_PASSWORD})
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(admin), "next": "/admin/"})
    screen = client.get(f"/admin/groups/edit/{Group.objects.get(name=EDITOR).pk}/").content.decode()
    for name in ("市民の個人情報の閲覧", "受信設定の変更", "受信設定の削除", "友だちの閲覧"):
        assert name in screen, name
