"""The Wagtail admin's searches on the Japanese backend (Django's test client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.images.tests.utils import get_test_image_file

Publish = Callable[..., Any]


@pytest.fixture
def admin_client(client: Client, make_staff: Callable[..., Any]) -> Client:
    """A システム管理者 signed in with a verified second factor."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kairan.staff.roles import ADMIN

    admin = make_staff("kanri", ADMIN, superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def pages(publish: Publish) -> dict[str, Any]:
    return {
        "sodai": publish("粗大ごみの出し方", "<p>粗大ごみは申し込みが必要です。</p>"),
        "kuma": publish("クマの出没情報", "<p>クマを見かけたら連絡してください。</p>"),
        "draft": publish("粗大ごみ料金の改定（案）", "<p>下書き</p>", live=False),
    }


def listed(response: Any, *names: str) -> list[str]:
    html = response.content.decode()
    return [name for name in names if name in html]


def test_admin_page_search(admin_client: Client, pages: dict[str, Any]) -> None:
    names = ("粗大ごみの出し方", "クマの出没情報", "粗大ごみ料金の改定（案）")
    response = admin_client.get("/admin/pages/search/", {"q": "粗大ごみ"})
    assert response.status_code == 200
    # drafts are found too (staff search everything they may edit)
    assert listed(response, *names) == ["粗大ごみの出し方", "粗大ごみ料金の改定（案）"]
    # katakana typed for a hiragana word, an unfinished word, a query of the admin's own syntax
    assert listed(admin_client.get("/admin/pages/search/", {"q": "くま"}), *names) == ["クマの出没情報"]
    assert listed(admin_client.get("/admin/pages/search/", {"q": "粗大ご"}), *names) == list(names[::2])
    live_only = admin_client.get("/admin/pages/search/", {"q": "粗大ごみ live:true"})
    assert listed(live_only, *names) == ["粗大ごみの出し方"]
    nothing = admin_client.get("/admin/pages/search/", {"q": "パスポート"})
    assert nothing.status_code == 200 and listed(nothing, *names) == []
    # ordered by a column instead of relevance
    ordered = admin_client.get("/admin/pages/search/", {"q": "粗大ごみ", "ordering": "title"})
    assert ordered.status_code == 200 and len(listed(ordered, *names)) == 2


def test_admin_page_listing_search(admin_client: Client, pages: dict[str, Any], home: Any) -> None:
    response = admin_client.get(f"/admin/pages/{home.pk}/", {"q": "クマ"})
    assert response.status_code == 200
    assert listed(response, "クマの出没情報", "粗大ごみの出し方") == ["クマの出没情報"]


def test_page_chooser_search(admin_client: Client, pages: dict[str, Any]) -> None:
    response = admin_client.get("/admin/choose-page/search/", {"q": "粗大ごみ"})
    assert response.status_code == 200
    assert listed(response, "粗大ごみの出し方", "クマの出没情報") == ["粗大ごみの出し方"]


def test_image_listing_and_chooser_search(admin_client: Client) -> None:
    Image.objects.create(title="大船渡湾の夕焼け", file=get_test_image_file())
    Image.objects.create(title="市役所の外観", file=get_test_image_file())
    names = ("大船渡湾の夕焼け", "市役所の外観")
    listing = admin_client.get("/admin/images/", {"q": "夕焼け"})
    assert listing.status_code == 200 and listed(listing, *names) == ["大船渡湾の夕焼け"]
    chooser = admin_client.get("/admin/images/chooser/results/", {"q": "市役所"})
    assert chooser.status_code == 200 and listed(chooser, *names) == ["市役所の外観"]


def test_document_listing_search(admin_client: Client) -> None:
    from django.core.files.base import ContentFile

    Document.objects.create(title="粗大ごみ申込書", file=ContentFile(b"x", name="moushikomi.pdf"))
    Document.objects.create(title="転入届の記入例", file=ContentFile(b"x", name="tennyu.pdf"))
    response = admin_client.get("/admin/documents/", {"q": "申込書"})
    assert response.status_code == 200
    assert listed(response, "粗大ごみ申込書", "転入届の記入例") == ["粗大ごみ申込書"]
    chooser = admin_client.get("/admin/documents/chooser/results/", {"q": "転入"})
    assert chooser.status_code == 200 and listed(chooser, "粗大ごみ申込書", "転入届の記入例") == [
        "転入届の記入例"
    ]


def test_user_listing_search(admin_client: Client, make_staff: Callable[..., Any]) -> None:
    make_staff("yamada")
    make_staff("suzuki")
    response = admin_client.get("/admin/users/", {"q": "yamada"})
    assert response.status_code == 200
    assert "yamada" in response.content.decode() and "suzuki" not in response.content.decode()


def test_snippet_listing_search(admin_client: Client) -> None:
    from deliveries.models import Segment

    Segment.objects.create(name="盛町の子育て世帯", definition={"op": "and", "items": []})
    response = admin_client.get("/admin/snippets/deliveries/segment/", {"q": "子育て"})
    assert response.status_code == 200 and "盛町の子育て世帯" in response.content.decode()
