"""チャットボット in the admin, through Django's test client as a signed-in member of staff: the
scenario map and its flags, 「テスターに送る」, 未回答の質問 and the answer page made from one,
importing and exporting scenario files, and who may do what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page

from chatbot import transfer
from chatbot.engine import count_unanswered
from chatbot.models import AnswerPage, UnansweredQuestion
from kairan.oplog.models import OperationLogEntry
from kairan.staff.permissions import create_department
from kairan.staff.roles import EDITOR, VIEWER
from line_channel.models import Follower, OutboxItem
from tests.chatbot.conftest import STARTER
from tests.test_oplog import admin_client

pytestmark = pytest.mark.django_db
Pages = dict[str, AnswerPage]
MAP = "/admin/chatbot/map/"
UNANSWERED = "/admin/chatbot/unanswered/"
TRANSFER = "/admin/chatbot/transfer/"


def soup_of(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.content.decode(), "html.parser")


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def flags_by_page(response: Any) -> dict[int, list[str]]:
    soup = soup_of(response)
    found = {}
    for node in soup.select("article.cb-node"):
        pk = int(str(node["id"]).removeprefix("node-"))
        found[pk] = [flag.get_text(strip=True) for flag in node.select(".cb-node__meta .cb-flag")]
    return found


def add_answer(parent: Page, title: str, text: str, *, publish: bool = True, **fields: Any) -> AnswerPage:
    page = AnswerPage(title=title, body=[{"type": "text", "value": text}], **fields)
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
    else:
        page.unpublish() if page.live else None
    page.refresh_from_db()
    return page


def make_testers(*names: str) -> list[str]:
    from deliveries.models import Tester

    ids = []
    for number, name in enumerate(names, start=1):
        now = timezone.now()
        user_id = "U" + f"{number:x}" * 32
        follower = Follower.objects.create(
            line_user_id=user_id,
            status=Follower.Status.FOLLOWING,
            first_followed_at=now,
            followed_at=now,
        )
        Tester.objects.create(follower=follower, label=name)
        ids.append(user_id)
    return ids


@pytest.fixture
def staff(make_staff: Any, client: Client) -> Client:
    """A signed-in システム管理者 (two-factor passed)."""
    admin_client(make_staff, client)
    return client


# --- the menu ------------------------------------------------------------------------------------------


def test_the_chatbot_menu_has_its_screens_and_the_settings(staff: Client) -> None:
    from django.test import RequestFactory
    from wagtail.admin.menu import admin_menu

    request = RequestFactory().get("/admin/")
    request.user = staff.get("/admin/").wsgi_request.user
    item = {item.name: item for item in admin_menu.menu_items_for_request(request)}["chatbot"]
    assert item.label == "チャットボット" and 260 < item.order < 300
    children = [(child.label, child.url) for child in item.menu.menu_items_for_request(request)]
    assert children == [
        ("シナリオマップ", MAP),
        ("未回答の質問", UNANSWERED),
        ("シナリオの取り込み・書き出し", TRANSFER),
        ("チャットボットの設定", "/admin/settings/chatbot/chatbotsettings/"),
    ]


# --- the scenario map ----------------------------------------------------------------------------------


def test_map_of_the_starter_pack_has_every_page_and_no_flags(staff: Client, starter: Pages) -> None:
    response = staff.get(MAP)
    assert response.status_code == 200
    flags = flags_by_page(response)
    menu_tree = [page for path, page in starter.items() if path.startswith("menu")]
    assert set(flags) == {page.pk for page in menu_tree}  # (the default: the top page's subtree)
    assert all(found == [] for found in flags.values()), flags
    soup = soup_of(response)
    top = soup.select_one(f"#node-{starter['menu'].pk}")
    assert top is not None and "最初のページ" in top.get_text() and "メニュー（完全一致）" in top.get_text()
    assert "このシナリオには、行き止まりや到達できないページはありません。" in soup.get_text()
    link = soup.select_one(
        f"#node-{starter['menu/gomi'].pk} a[href='/admin/pages/{starter['menu/gomi'].pk}/edit/']"
    )
    assert link is not None
    assert soup.select_one(f"a[href='/admin/chatbot/preview/{starter['menu/gomi'].pk}/']") is not None
    # The greeting and fallback pages are scenarios of their own (not under the top page).
    response = staff.get(MAP, {"page": starter["aisatsu"].pk})
    assert flags_by_page(response) == {starter["aisatsu"].pk: []}
    assert "友だち追加のあいさつ" in soup_of(response).select_one(".cb-node__meta").get_text()  # type: ignore[union-attr]


def test_map_flags_dead_ends_and_unreachable_pages(staff: Client, starter: Pages) -> None:
    menu, kosodate = starter["menu"], starter["menu/kosodate"]
    # Asks to choose, offers nothing.
    dead = add_answer(menu, "各種手続き", "手続きの種類を選んでください。")
    # A choice that leads to an unpublished page.
    hidden = add_answer(menu, "準備中の案内", "準備中です。", publish=False)
    broken = add_answer(
        kosodate,
        "子育ての相談",
        "相談の窓口をご案内します。",
        extra_choices=[{"type": "page", "value": {"label": "準備中", "page": hidden.pk}}],
    )
    # A published page under a draft one: cut off.
    draft_parent = add_answer(menu, "新しい分類", "新しい分類です。", publish=False)
    orphan = add_answer(draft_parent, "取り残された回答", "この回答にはたどり着けません。")
    # The same, but a keyword (or another page's choice) leads to it: reachable.
    keyword_page = add_answer(draft_parent, "キーワードの回答", "キーワードで届きます。")
    keyword_page.keywords.create(text="とどく")
    keyword_page.save_revision().publish()
    linked = add_answer(draft_parent, "選択肢の行き先", "ほかのページの選択肢から届きます。")
    searched = add_answer(draft_parent, "検索で届く回答", "言い換えで探せます。", phrasings="犬の登録")
    revision = starter["menu/toiawase"].get_latest_revision_as_object()
    revision.extra_choices.append(("page", {"label": "行き先", "page": linked}))
    revision.save_revision().publish()

    response = staff.get(MAP)
    assert response.status_code == 200
    flags = flags_by_page(response)
    assert flags[dead.pk] == ["行き止まり"]
    assert flags[broken.pk] == ["行き止まり"]
    assert flags[orphan.pk] == ["到達できない"]
    assert flags[hidden.pk] == [] and flags[draft_parent.pk] == []  # (drafts reach nobody yet)
    assert flags[keyword_page.pk] == [] and flags[linked.pk] == [] and flags[searched.pk] == []
    assert all(flags[page.pk] == [] for path, page in starter.items() if path.startswith("menu"))
    soup = soup_of(response)
    summary = soup.select_one(".cb-summary")
    assert summary is not None and "確認が必要なページ（3）" in summary.get_text()
    assert "行き先のページが公開されていません" in soup.select_one(f"#node-{broken.pk}").get_text()  # type: ignore[union-attr]
    assert "下書き" in soup.select_one(f"#node-{hidden.pk} .cb-state").get_text()  # type: ignore[union-attr]

    # A rich menu area opening the orphan reaches it too.
    from richmenus.models import MenuSet

    area = {
        "label": "取り残し",
        "action": "page",
        "page": orphan.pk,
        "x": 0,
        "y": 0,
        "width": 833,
        "height": 562,
    }
    tabs = [{"type": "tab", "value": {"title": "くらし", "areas": [area]}}]
    MenuSet.objects.create(name="通常", tabs=json.dumps(tabs), live=True)
    assert flags_by_page(staff.get(MAP))[orphan.pk] == []
    # Phrasings reach a page only while the bot answers free text.
    from chatbot.models import ChatbotSettings

    ChatbotSettings.objects.update(answer_free_text=False)
    assert flags_by_page(staff.get(MAP))[searched.pk] == ["到達できない"]


def test_map_of_a_chosen_page_and_the_page_listing_button(staff: Client, starter: Pages) -> None:
    gomi = starter["menu/gomi"]
    response = staff.get(MAP, {"page": gomi.pk})
    assert set(flags_by_page(response)) == {
        page.pk for path, page in starter.items() if path.startswith("menu/gomi")
    }
    assert staff.get(MAP, {"page": 999999}).status_code == 404
    listing = staff.get(f"/admin/pages/{starter['menu'].pk}/")
    assert f'href="{MAP}?page={gomi.pk}"' in listing.content.decode()


def test_preview_shows_the_latest_revision_with_links_to_the_choices(staff: Client, starter: Pages) -> None:
    gomi = starter["menu/gomi"]
    draft = gomi.get_latest_revision_as_object()
    draft.body = [("text", "下書きの本文です。選んでください。")]
    draft.save_revision()
    response = staff.get(f"/admin/chatbot/preview/{gomi.pk}/")
    assert response.status_code == 200
    soup = soup_of(response)
    assert "下書きの本文です。" in soup.select_one(".kt-talk").get_text()  # type: ignore[union-attr]
    quick = {a.get_text(strip=True): a["href"] for a in soup.select(".kt-quick a")}
    assert quick["粗大ごみ"] == f"/admin/chatbot/preview/{starter['menu/gomi/sodai'].pk}/"
    assert quick["最初に戻る"] == f"/admin/chatbot/preview/{starter['menu'].pk}/"


# --- テスターに送る ------------------------------------------------------------------------------------


def test_send_to_testers_queues_one_push_per_tester_once(staff: Client, starter: Pages) -> None:
    testers = make_testers("防災課 大船渡", "市民課 盛")
    page = starter["menu/gomi"]
    draft = page.get_latest_revision_as_object()
    draft.body = [("text", "ごみの案内（改訂中）です。知りたいことを選んでください。")]
    draft.save_revision()

    url = reverse("chatbot_admin:test", args=[page.pk])
    response = staff.post(url, {"next": f"{MAP}?page={page.pk}"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{MAP}?page={page.pk}"
    assert any("テスター 2 人に送りました" in text for text in messages_of(response))
    items = list(OutboxItem.objects.filter(purpose__startswith=f"chatbot-test:{page.pk}:"))
    assert sorted(item.recipients[0] for item in items) == sorted(testers)
    first: Any = items[0].messages  # (an encrypted JSON field: a text field to the type checker)
    assert first[0]["text"] == "ごみの案内（改訂中）です。知りたいことを選んでください。"  # (the draft)
    postbacks = [i["action"].get("data") for i in first[-1]["quickReply"]["items"]]
    assert f"chatbot={starter['menu/gomi/sodai'].pk}&draft=1" in postbacks  # taps show drafts to testers

    again = staff.post(url, follow=True)
    assert OutboxItem.objects.filter(purpose__startswith=f"chatbot-test:{page.pk}:").count() == 2
    assert any("もう送ってあります" in text for text in messages_of(again))
    assert again.redirect_chain[-1][0] == f"/admin/pages/{page.pk}/edit/"

    entries = OperationLogEntry.objects.filter(action="kairan.chatbot.test_send")
    assert [(e.object_id, e.data["testers"]) for e in entries] == [(str(page.pk), 2)]
    assert not OperationLogEntry.objects.filter(object_type="line_channel.outboxitem").exists()


def test_send_to_testers_explains_no_testers_and_pages_line_would_refuse(
    staff: Client, starter: Pages
) -> None:
    page = starter["menu/gomi"]
    url = reverse("chatbot_admin:test", args=[page.pk])
    response = staff.post(url, follow=True)
    assert any("テスターがいません" in text for text in messages_of(response))
    assert not OutboxItem.objects.exists()

    make_testers("防災課 大船渡")
    draft = page.get_latest_revision_as_object()
    draft.choice_style = "buttons"
    for number in range(3):
        add_answer(page, f"追加{number}", "追加の回答です。")
    draft.save_revision(clean=False)
    response = staff.post(url, follow=True)
    assert any("LINE に送れません" in text and "選択肢が多すぎます" in text for text in messages_of(response))
    assert not OutboxItem.objects.exists()


def test_the_editor_of_an_answer_page_offers_send_to_testers(staff: Client, starter: Pages) -> None:
    page = starter["menu/gomi"]
    soup = soup_of(staff.get(f"/admin/pages/{page.pk}/edit/"))
    button = soup.select_one("button[data-chatbot-test]")
    assert button is not None and button.find_parent("form") is not None
    assert str(button["formaction"]).startswith(f"/admin/chatbot/test/{page.pk}/?next=")
    home = Page.objects.get(depth=2)
    assert soup_of(staff.get(f"/admin/pages/{home.pk}/edit/")).select_one("button[data-chatbot-test]") is None


# --- 未回答の質問 --------------------------------------------------------------------------------------


def test_unanswered_questions_are_listed_by_count_with_the_text_only_where_kept(
    staff: Client, starter: Pages, make_staff: Any
) -> None:
    for _ in range(3):
        count_unanswered(text="粗大ごみの予約はいつまで？", keep_text=True)
    count_unanswered(text="秘密の質問", keep_text=False)
    response = staff.get(UNANSWERED)
    assert response.status_code == 200
    rows = [
        [td.get_text(" ", strip=True) for td in tr.select("td")]
        for tr in soup_of(response).select("table.listing tbody tr")
    ]
    assert [row[:2] for row in rows] == [
        ["粗大ごみの予約はいつまで？", "3"],
        ["（文は保存していません）", "1"],
    ]
    assert "秘密の質問" not in response.content.decode()

    csv_text = staff.get(UNANSWERED, {"export": "csv", "encoding": "utf-8"}).getvalue().decode("utf-8-sig")
    assert "粗大ごみの予約はいつまで？,3," in csv_text

    # Staff who may see the list but not the words.
    group = Group.objects.create(name="問い合わせ担当")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_unansweredquestion"),
    )
    reader = Client()
    reader.force_login(make_staff("toiawase", "問い合わせ担当"))
    shown = reader.get(UNANSWERED).content.decode()
    assert "（文を見る権限がありません）" in shown and "粗大ごみの予約" not in shown


def test_an_answer_page_is_made_from_a_question_in_one_step(staff: Client, starter: Pages) -> None:
    count_unanswered(text="犬の登録はどこでできますか", keep_text=True)
    question = UnansweredQuestion.objects.get()
    response = staff.post(reverse("chatbot_admin:unanswered_answer", args=[question.pk]))
    page = AnswerPage.objects.get(title="犬の登録はどこでできますか")
    assert response.status_code == 302 and response["Location"] == f"/admin/pages/{page.pk}/edit/"
    assert page.get_parent().pk == starter["menu"].pk and not page.live
    assert page.phrasings == "犬の登録はどこでできますか"
    assert [block.value for block in page.body] == ["（ここに回答を書いてください）"]
    question.refresh_from_db()
    assert question.answer_id == page.pk
    assert OperationLogEntry.objects.filter(action="wagtail.create", object_id=str(page.pk)).exists()
    listing = soup_of(staff.get(UNANSWERED))
    assert "犬の登録はどこでできますか" in listing.select_one("table.listing tbody tr").get_text()  # type: ignore[union-attr]
    assert listing.select_one(f"a[href='/admin/pages/{page.pk}/edit/']") is not None
    assert soup_of(staff.get(UNANSWERED, {"state": "open"})).select("table.listing tbody tr") == []

    # A question whose words were not kept: a page titled 「新しい回答」 under a chosen parent.
    count_unanswered(text="だれにも見せない", keep_text=False)
    other = UnansweredQuestion.objects.get(answer=None)
    url = reverse("chatbot_admin:unanswered_parent", args=[other.pk])
    assert staff.get(url).status_code == 200
    response = staff.post(url, {"parent": starter["menu/kosodate"].pk})
    made = AnswerPage.objects.get(title="新しい回答")
    assert response["Location"] == f"/admin/pages/{made.pk}/edit/"
    assert made.get_parent().pk == starter["menu/kosodate"].pk and made.phrasings == ""


def test_a_question_is_resolved_by_an_existing_page_or_deleted(staff: Client, starter: Pages) -> None:
    count_unanswered(text="ごみの日", keep_text=True)
    count_unanswered(text="いたずら", keep_text=True)
    first, second = UnansweredQuestion.objects.order_by("pk")
    response = staff.post(
        reverse("chatbot_admin:unanswered_resolve", args=[first.pk]),
        {"page": starter["menu/gomi/shushubi"].pk},
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.answer_id == starter["menu/gomi/shushubi"].pk
    assert staff.get(reverse("chatbot_admin:unanswered_delete", args=[second.pk])).status_code == 200
    staff.post(reverse("chatbot_admin:unanswered_delete", args=[second.pk]))
    assert list(UnansweredQuestion.objects.values_list("pk", flat=True)) == [first.pk]


# --- 取り込み・書き出し --------------------------------------------------------------------------------


def test_export_downloads_the_scenario_file_of_the_chosen_pages(staff: Client, starter: Pages) -> None:
    menu = starter["menu"]
    assert staff.get(TRANSFER).status_code == 200
    response = staff.get(reverse("chatbot_admin:export"), {"pages": menu.pk})
    assert response.status_code == 200
    assert json.loads(response.content) == transfer.export_tree([menu])
    assert f'filename="scenario-menu-{timezone.localdate():%Y%m%d}.json"' in response["Content-Disposition"]
    entry = OperationLogEntry.objects.filter(action="kairan.export").order_by("-sequence").first()
    assert entry is not None and entry.object_label == "チャットボットのシナリオ"

    siblings = staff.get(
        reverse("chatbot_admin:export"), {"pages": [starter["aisatsu"].pk, starter["wakaranai"].pk]}
    )
    assert json.loads(siblings.content) == transfer.export_tree([starter["aisatsu"], starter["wakaranai"]])
    mixed = staff.get(
        reverse("chatbot_admin:export"), {"pages": [menu.pk, starter["menu/gomi"].pk]}, follow=True
    )
    assert any("同じ親ページの下のページ" in text for text in messages_of(mixed))


def test_import_of_the_starter_pack_through_the_form_makes_drafts(staff: Client, db: None) -> None:
    from home.models import HomePage

    root = Page.get_first_root_node().add_child(instance=HomePage(title="大船渡市", slug="ofunato"))
    assert "スターターパックを取り込む" in staff.get(TRANSFER).content.decode()
    response = staff.post(TRANSFER, {"starter": "1", "parent": root.pk}, follow=True)
    menu = AnswerPage.objects.get(slug="menu")
    assert response.redirect_chain[-1][0] == f"{MAP}?page={menu.pk}"
    expected = json.loads(STARTER.read_text(encoding="utf-8"))

    def count(pages: list[dict[str, Any]]) -> int:
        return sum(1 + count(page["children"]) for page in pages)

    assert AnswerPage.objects.count() == count(expected["pages"])
    assert not AnswerPage.objects.filter(live=True).exists()
    assert any(
        f"スターターパックの {count(expected['pages'])} ページ" in text for text in messages_of(response)
    )
    # What was imported exports as the pack (import then export gives the same document).
    assert transfer.export_tree(list(AnswerPage.objects.child_of(root))) == expected


def test_import_of_a_file_and_its_errors(staff: Client, starter: Pages) -> None:
    kosodate = starter["menu/kosodate"]
    document = transfer.export_tree([starter["menu/gomi"]])
    upload = SimpleUploadedFile(
        "gomi.json", transfer.dumps(document).encode(), content_type="application/json"
    )
    response = staff.post(TRANSFER, {"file": upload, "parent": kosodate.pk, "publish": "on"})
    assert response.status_code == 302
    made = AnswerPage.objects.child_of(kosodate).get(slug="gomi")
    assert made.live and AnswerPage.objects.descendant_of(made).count() == 9

    bad = SimpleUploadedFile("bad.json", b"not json", content_type="application/json")
    response = staff.post(TRANSFER, {"file": bad, "parent": kosodate.pk})
    assert response.status_code == 200
    assert "シナリオのファイルとして読めません" in response.content.decode()
    other = SimpleUploadedFile("other.json", b'{"format": "other"}', content_type="application/json")
    assert (
        "Kairan のシナリオのファイルではありません"
        in staff.post(TRANSFER, {"file": other, "parent": kosodate.pk}).content.decode()
    )
    missing = staff.post(TRANSFER, {"parent": kosodate.pk})
    assert "取り込むファイルを選んでください" in missing.content.decode()
    home = Page.objects.get(depth=1)
    wrong = staff.post(TRANSFER, {"starter": "1", "parent": home.pk})
    assert "回答を作れません" in wrong.content.decode()


# --- permissions ---------------------------------------------------------------------------------------


def test_staff_without_rights_are_refused(client: Client, make_staff: Any, starter: Pages) -> None:
    count_unanswered(text="質問", keep_text=True)
    question = UnansweredQuestion.objects.get()
    page = starter["menu/gomi"]
    Group.objects.create(name="権限なし").permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(make_staff("nanimo", "権限なし"))
    urls = (
        MAP,
        TRANSFER,
        UNANSWERED,
        f"/admin/chatbot/preview/{page.pk}/",
        f"{reverse('chatbot_admin:export')}?pages={page.pk}",
        reverse("chatbot_admin:unanswered_parent", args=[question.pk]),
    )
    for url in urls:
        assert client.get(url).status_code in (302, 403), url
    assert client.post(reverse("chatbot_admin:test", args=[page.pk])).status_code in (302, 403)
    assert client.post(reverse("chatbot_admin:unanswered_answer", args=[question.pk])).status_code in (
        302,
        403,
    )
    assert client.post(TRANSFER, {"starter": "1", "parent": page.pk}).status_code in (302, 403)

    # 担当者 without a department have no page rights: no answer page from a question either.
    editor = Client()
    editor.force_login(make_staff("tanto", EDITOR))
    assert editor.get(MAP).status_code in (302, 403)
    assert editor.post(reverse("chatbot_admin:unanswered_answer", args=[question.pk])).status_code in (
        302,
        403,
    )
    viewer = Client()
    viewer.force_login(make_staff("etsuran", VIEWER))  # may list the questions, not delete them
    assert viewer.get(UNANSWERED).status_code == 200
    assert viewer.post(reverse("chatbot_admin:unanswered_delete", args=[question.pk])).status_code in (
        302,
        403,
    )
    assert AnswerPage.objects.count() == len(starter)
    assert UnansweredQuestion.objects.filter(pk=question.pk, answer=None).exists()
    assert not OutboxItem.objects.exists()


def test_a_department_works_in_its_own_section_only(client: Client, make_staff: Any, starter: Pages) -> None:
    make_testers("環境課 大船渡")
    create_department(name="環境課", section=starter["menu/gomi"])
    client.force_login(make_staff("kankyo", "環境課"))
    assert client.get(MAP).status_code == 200
    soup = soup_of(client.get(MAP))
    assert soup.select_one(
        f"#node-{starter['menu/gomi'].pk} form[action$='/test/{starter['menu/gomi'].pk}/']"
    )
    assert soup.select_one(f"#node-{starter['menu/kosodate'].pk} form") is None
    assert client.post(reverse("chatbot_admin:test", args=[starter["menu/kosodate"].pk])).status_code in (
        302,
        403,
    )
    assert not OutboxItem.objects.exists()
    assert client.post(reverse("chatbot_admin:test", args=[starter["menu/gomi"].pk])).status_code == 302
    assert OutboxItem.objects.count() == 1

    refused = client.post(TRANSFER, {"starter": "1", "parent": starter["menu"].pk})
    assert "ページを作る権限がありません" in refused.content.decode()
    published = client.post(TRANSFER, {"starter": "1", "parent": starter["menu/gomi"].pk, "publish": "on"})
    assert "公開する権限がありません" in published.content.decode()
    assert client.post(TRANSFER, {"starter": "1", "parent": starter["menu/gomi"].pk}).status_code == 302
    assert AnswerPage.objects.child_of(starter["menu/gomi"]).filter(slug="menu", live=False).exists()


# --- in a browser --------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_map_and_the_import_form_work_in_a_browser(page: Any, make_staff: Any, starter: Pages) -> None:
    """Accessible (axe, WCAG 2.1 AA), no CSP violation, and the page chooser opens its modal."""
    from tests.conftest import sign_in_as_system_admin
    from tests.test_browser_a11y import assert_accessible

    sign_in_as_system_admin(page, make_staff)
    page.goto(MAP)
    page.locator(f"#node-{starter['menu/gomi/sodai'].pk}").wait_for()
    assert_accessible(page)

    page.goto(TRANSFER)
    page.locator("[data-chatbot-page-chooser][data-chatbot-done]").wait_for(state="attached")
    assert_accessible(page)
    chooser = page.locator("#id_parent-chooser")
    chooser.locator("[data-w-dropdown-target=toggle]").click()
    chooser.get_by_role("button", name="別のページを選択").click()
    modal = page.locator(".modal-dialog")
    modal.wait_for()
    # (the modal lists the pages under which an answer may go: the site's pages, to open)
    modal.get_by_text(Page.objects.get(depth=2).title).first.wait_for()
    assert page.csp_violations == []
