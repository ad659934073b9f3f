"""メニューセット: tabs validated as LINE requires, and turned into LINE rich menu objects and
images; the emulator (LINE) accepts what we build."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from PIL import Image
from wagtail.blocks import StreamBlockValidationError
from wagtail.models import Page

from richmenus.blocks import TabStreamBlock
from richmenus.line_menus import line_tabs, preview_tabs
from richmenus.models import MenuSet

pytestmark = pytest.mark.django_db

LABELS = [
    "ごみ",
    "子育て",
    "健康",
    "予約",
    "通報",
    "アンケート",
    "観光",
    "市HP",
    "受信設定",
    "道路",
    "問い合わせ",
    "電話",
]


def area(label: str, action: str = "text", **target: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "label": label,
        "icon": "garbage",
        "x": 0,
        "y": 0,
        "width": 100,
        "height": 100,
        "action": action,
        "page": None,
        "url": "",
        "text": "",
        "tab": None,
        "tel": "",
    }
    if action == "text":
        value["text"] = target.get("text", label)
    value.update(target)
    return value


def tab(title: str, layout: str, areas: list[dict[str, Any]], size: str = "large") -> dict[str, Any]:
    return {
        "title": title,
        "chat_bar_text": "メニュー",
        "size": size,
        "layout": layout,
        "image_source": "generate",
        "image": None,
        "areas": areas,
    }


def clean(*tabs: dict[str, Any]) -> Any:
    block = TabStreamBlock()
    return block.clean(block.to_python([{"type": "tab", "value": t} for t in tabs]))


def errors_of(*tabs: dict[str, Any]) -> str:
    with pytest.raises((StreamBlockValidationError, ValidationError)) as caught:
        clean(*tabs)
    return str(caught.value.as_json_data() if hasattr(caught.value, "as_json_data") else caught.value)


def two_tabs(home_page: Page) -> MenuSet:
    first = [area(label) for label in LABELS[:9]]
    first[0] = area("市HP", "page", page=home_page.pk)
    first[1] = area("外部", "url", url="https://www.city.ofunato.iwate.jp/")
    first[2] = area("電話", "tel", tel="0192-27-3111")
    first[3] = area("防災へ", "tab", tab=2)
    second = [area(label) for label in LABELS[:12]]
    menu_set = MenuSet(
        name="通常メニュー", theme="sea", tabs=clean(tab("くらし", "3x3", first), tab("防災", "4x3", second))
    )
    menu_set.save()
    return menu_set


@pytest.fixture
def home_page() -> Page:
    return Page.objects.get(depth=2)


def test_a_two_tab_set_becomes_two_line_menus_with_a_tab_strip(home_page: Page) -> None:
    menu_set = two_tabs(home_page)
    tabs = line_tabs(menu_set)
    assert [t.alias_id for t in tabs] == [f"kairan-{menu_set.pk}-1", f"kairan-{menu_set.pk}-2"]
    first, second = tabs
    assert len(first.menu["areas"]) == 2 + 9 and len(second.menu["areas"]) == 2 + 12
    strip = first.menu["areas"][:2]
    assert [a["action"]["richMenuAliasId"] for a in strip] == [t.alias_id for t in tabs]
    assert strip[0]["bounds"] == {"x": 0, "y": 0, "width": 1250, "height": 200}
    tiles = first.menu["areas"][2:]
    assert tiles[0]["bounds"]["y"] == 200  # below the strip: the layout placed the areas
    actions = [a["action"] for a in tiles[:4]]
    assert actions[0]["type"] == "uri" and actions[0]["uri"].startswith("http")
    assert actions[1] == {"type": "uri", "label": "外部", "uri": "https://www.city.ofunato.iwate.jp/"}
    assert actions[2] == {"type": "uri", "label": "電話", "uri": "tel:0192273111"}
    assert actions[3]["type"] == "richmenuswitch" and actions[3]["richMenuAliasId"] == tabs[1].alias_id
    assert tiles[4]["action"] == {"type": "message", "label": "通報", "text": "通報"}
    for t in tabs:
        picture = Image.open(io.BytesIO(t.image))
        assert picture.size == (2500, 1686) and t.content_type == "image/png" and len(t.image) <= 1_000_000
        assert t.menu["size"] == {"width": 2500, "height": 1686} and t.menu["chatBarText"] == "メニュー"


def test_line_accepts_the_menus(home_page: Page, line_channel: Any) -> None:
    from django.conf import settings

    from line_channel.models import LineChannelSettings

    token = LineChannelSettings.load().access_token
    for t in line_tabs(two_tabs(home_page)):
        response = httpx.post(
            f"{settings.KAIRAN_LINE_API_BASE}/v2/bot/richmenu/validate",
            json=t.menu,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text


def test_compact_menus_and_free_layouts() -> None:
    areas = [area("左", x=0, y=0, width=1250, height=843), area("右", x=1250, y=0, width=1250, height=843)]
    menu_set = MenuSet(name="小", tabs=clean(tab("小", "free", areas, size="compact")))
    menu_set.save()
    (only,) = line_tabs(menu_set)
    assert only.menu["size"] == {"width": 2500, "height": 843}
    assert [a["bounds"]["x"] for a in only.menu["areas"]] == [0, 1250]  # one tab: no strip
    assert Image.open(io.BytesIO(only.image)).size == (2500, 843)


@pytest.mark.parametrize(
    ("tabs", "message"),
    [
        ([tab("a", "free", [area("左", width=600), area("右", x=500, width=600)])], "重なっています"),
        ([tab("a", "free", [area("外", x=2400, width=200)])], "はみ出しています"),
        ([tab("a", "3x3", [area(str(n)) for n in range(10)])], "このレイアウトのエリアは9個です"),
        (
            [tab("a", "free", [area("上", y=0, width=100, height=300)]), tab("b", "3x3", [area("x")])],
            "タブの見出しと重なっています",
        ),
        ([tab("a", "3x3", [area("行き先", "tab", tab=3)])], "切り替え先のタブ 3 はありません"),
        ([tab("a", "3x3", [area("http", "url", url="http://example.jp/")])], "https://"),
        ([tab("a", "3x3", [area("電話", "tel", tel="市役所")])], "電話番号は数字とハイフン"),
        ([tab("とても長いタブの名前です", "3x3", [area("a")])], "タブの名前"),
        ([tab("a", "3x3", [area("x" * 21)])], "名前"),
        ([tab(str(n), "3x3", [area("a")]) for n in range(6)], "最大数は5"),
    ],
)
def test_what_line_would_refuse_is_refused_in_japanese(tabs: list[dict[str, Any]], message: str) -> None:
    assert message in errors_of(*tabs)


def test_the_preview_switches_tabs_and_describes_each_area(
    home_page: Page,
) -> None:
    menu_set = two_tabs(home_page)
    preview = preview_tabs(menu_set)
    assert [len(t["areas"]) for t in preview] == [11, 14]
    assert (
        preview[0]["areas"][1]["tab"] == 2 and preview[0]["areas"][1]["describe"] == "タブ「防災」に切り替え"
    )
    assert preview[0]["areas"][4]["describe"] == "0192273111 に電話"
    assert preview[0]["areas"][5]["describe"] == "タブ「防災」に切り替え"  # an area named 「防災へ」
    assert preview[0]["image"].startswith("data:image/png;base64,")
    response = menu_set.make_preview_request()  # (what Wagtail's preview panel shows)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-switch="2"' in body and "タブ「防災」に切り替え" in body


def test_staff_find_menu_sets_in_the_admin(home_page: Page, client: Any, make_staff: Any) -> None:
    from django.urls import reverse

    from richmenus.wagtail_hooks import menu_set_viewset
    from tests.test_oplog import admin_client

    menu_set = two_tabs(home_page)
    admin_client(make_staff, client)
    listing = client.get(reverse(menu_set_viewset.get_url_name("list")))
    assert listing.status_code == 200 and "通常メニュー" in listing.content.decode()
    edit = client.get(reverse(menu_set_viewset.get_url_name("edit"), args=[menu_set.pk]))
    assert edit.status_code == 200
    body = edit.content.decode()
    assert 'id="panel-tabs-section"' in body and "chat_bar_text" in body  # the tabs' StreamField
    assert "/admin/manual/richmenu-tabs/" in body or "richmenu-tabs" in body  # the manual, one click away
    assert client.get(reverse(menu_set_viewset.get_url_name("add"))).status_code == 200


# --- publishing to LINE (the emulator) -----------------------------------------------------------


def aliases(state: dict[str, Any]) -> dict[str, str]:
    return {a["richMenuAliasId"]: a["richMenuId"] for a in state["aliases"]}


def publish_revision(menu_set: MenuSet, user: Any = None) -> Any:
    from richmenus import publish

    revision = menu_set.save_revision(user=user)
    revision.publish(user=user)
    menu_set.refresh_from_db()
    return publish.publish(menu_set_id=menu_set.pk, revision_id=revision.pk), revision


def test_publishing_creates_menus_moves_aliases_and_keeps_switched_friends_on_their_tab(
    home_page: Page,
    line_channel: Any,
    emu: Any,
) -> None:
    from richmenus.models import PublishedMenu

    menu_set = two_tabs(home_page)
    menu_set.is_default = True
    menu_set.live = False
    menu_set.save()
    result, first = publish_revision(menu_set)
    assert result.startswith("published 2 tabs")
    state = emu.rich_menus()
    live = {row.tab: row.rich_menu_id for row in PublishedMenu.objects.filter(state="live")}
    assert state["defaultRichMenuId"] == live[1]
    assert aliases(state) == {
        menu_set.alias_id(1): live[1],
        menu_set.alias_id(2): live[2],
    }
    # A friend taps the 防災 tab: LINE links them to tab 2's menu.
    user = emu.create_user("大船渡 太郎")["user_id"]
    emu.follow(user)
    assert emu.user_rich_menu(user)["source"] == "default"
    emu.tap(user, area=1)
    assert emu.user_rich_menu(user)["richMenu"]["richMenuId"] == live[2]

    # Staff change tab 2 and publish again: the friend now sees the new tab 2, the old menus go.
    tabs = menu_set.tabs
    tabs[1].value["title"] = "防災・緊急"
    menu_set.tabs = tabs
    result, second = publish_revision(menu_set)
    assert "retired 2 menus" in result
    new = {row.tab: row.rich_menu_id for row in PublishedMenu.objects.filter(state="live")}
    assert set(new.values()).isdisjoint(live.values())
    assert emu.user_rich_menu(user)["richMenu"]["richMenuId"] == new[2]
    state = emu.rich_menus()
    assert state["defaultRichMenuId"] == new[1]
    assert aliases(state) == {menu_set.alias_id(1): new[1], menu_set.alias_id(2): new[2]}
    on_line = {menu["richMenuId"] for menu in state["richMenus"]}
    assert on_line >= set(new.values()) and on_line.isdisjoint(live.values())
    assert all(menu["hasImage"] for menu in state["richMenus"])
    # Running the same task again (Django-Q may) changes nothing; an old revision is superseded.
    from richmenus import publish

    assert publish.publish(menu_set_id=menu_set.pk, revision_id=second.pk).startswith("published 2 tabs")
    assert publish.publish(menu_set_id=menu_set.pk, revision_id=first.pk) == "superseded"
    assert PublishedMenu.objects.filter(state="live").count() == 2
    assert len(emu.rich_menus()["richMenus"]) == 2


def test_publishing_in_wagtail_queues_the_line_publication(
    home_page: Page, django_capture_on_commit_callbacks: Any
) -> None:
    from unittest import mock

    menu_set = two_tabs(home_page)
    with (
        mock.patch("richmenus.signals.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        revision = menu_set.save_revision()
        revision.publish()
    queued.assert_called_once_with("richmenus.tasks.publish", menu_set.pk, revision.pk, group="richmenus")


def test_a_set_scheduled_in_wagtail_goes_live_at_its_time(home_page: Page) -> None:
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from kairan.core.tasks import publish_scheduled

    menu_set = two_tabs(home_page)
    menu_set.live = False
    menu_set.save()
    revision = menu_set.save_revision(approved_go_live_at=timezone.now() + timedelta(minutes=5))
    with mock.patch("richmenus.signals.async_task"):
        publish_scheduled()
        menu_set.refresh_from_db()
        assert not menu_set.live
        revision.approved_go_live_at = timezone.now() - timedelta(seconds=1)
        revision.save()
        publish_scheduled()
    menu_set.refresh_from_db()
    assert menu_set.live and menu_set.live_revision_id == revision.pk


@pytest.mark.parametrize(
    ("kind", "size", "expected_type"),
    [
        ("png", (2500, 1686), "image/jpeg"),
        ("jpeg", (1250, 843), "image/jpeg"),
        ("png", (1200, 405), "image/png"),
    ],
)
def test_an_uploaded_image_is_fitted_to_lines_size_and_limit(
    settings: Any, tmp_path: Any, kind: str, size: tuple[int, int], expected_type: str
) -> None:
    """A photo-like upload (a PNG of several MB) becomes exactly LINE's size under 1 MB;
    a flat PNG stays PNG; a smaller image of the right ratio is scaled up."""
    import os

    from django.core.files.images import ImageFile
    from wagtail.images.models import Image as WagtailImage

    settings.MEDIA_ROOT = str(tmp_path)
    buffer = io.BytesIO()
    if size[1] == 405:  # a flat banner (compact ratio)
        Image.new("RGB", size, "#1a6fa8").save(buffer, kind.upper())
    else:
        small = (size[0] // 10, size[1] // 10)  # a photo-like texture: noise, smoothly enlarged
        noise = Image.frombytes("RGB", small, os.urandom(small[0] * small[1] * 3))
        noise.resize(size, Image.Resampling.BICUBIC).save(buffer, kind.upper())
    compact = size[1] == 405
    assert kind != "png" or compact or buffer.tell() > 1_000_000
    uploaded = WagtailImage.objects.create(title="写真", file=ImageFile(buffer, name=f"menu.{kind}"))
    menu_tab = tab("写真", "free", [area("全体", x=0, y=0, width=2500, height=843 if compact else 1686)])
    menu_tab.update(image_source="upload", image=uploaded.pk, size="compact" if compact else "large")
    menu_set = MenuSet(name="写真", tabs=clean(menu_tab))
    menu_set.save()
    (only,) = line_tabs(menu_set)
    picture = Image.open(io.BytesIO(only.image))
    assert picture.size == ((2500, 843) if compact else (2500, 1686))
    assert len(only.image) <= 1_000_000 and only.content_type == expected_type


def test_an_upload_of_the_wrong_shape_is_refused(settings: Any, tmp_path: Any) -> None:
    from django.core.files.images import ImageFile
    from wagtail.images.models import Image as WagtailImage

    settings.MEDIA_ROOT = str(tmp_path)
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 1000), "white").save(buffer, "PNG")
    square = WagtailImage.objects.create(title="正方形", file=ImageFile(buffer, name="square.png"))
    menu_tab = tab("写真", "3x3", [area("a")])
    menu_tab.update(image_source="upload", image=square.pk)
    assert "縦横比が合いません" in errors_of(menu_tab)


def test_unpublishing_a_set_takes_it_off_line(home_page: Page, line_channel: Any, emu: Any) -> None:
    from richmenus import publish
    from richmenus.models import PublishedMenu

    menu_set = two_tabs(home_page)
    menu_set.is_default = True
    menu_set.live = False
    menu_set.save()
    with_revision = publish_revision(menu_set)
    assert with_revision[0].startswith("published 2 tabs")
    user = emu.create_user("大船渡 次郎")["user_id"]
    emu.follow(user)
    emu.tap(user, area=1)  # linked to tab 2 by the switch
    assert emu.user_rich_menu(user)["source"] == "user"
    from unittest import mock

    with mock.patch("richmenus.signals.async_task"):
        menu_set.unpublish()
    assert publish.unpublish(menu_set_id=menu_set.pk).startswith("unpublished; retired 2 menus")
    state = emu.rich_menus()
    assert state["defaultRichMenuId"] is None and state["aliases"] == [] and state["richMenus"] == []
    assert emu.user_rich_menu(user)["richMenu"] is None
    assert not PublishedMenu.objects.filter(state__in=["live", "retired"]).exists()
    assert publish.unpublish(menu_set_id=menu_set.pk) == "nothing on LINE"


def test_a_set_for_a_segment_is_shown_to_its_friends_only(
    home_page: Page, line_channel: Any, emu: Any, attribute_page: Any
) -> None:
    from deliveries.audience import validate
    from deliveries.models import Segment
    from tests.deliveries.test_audience import KUMA, MORI, OFUNATO, TOPICS, choice, resident

    users = {}
    for name, topic in (("bear", KUMA), ("bear2", KUMA), ("other", "c5-0")):
        users[name] = emu.create_user(name)["user_id"]
        emu.follow(users[name])
        resident(attribute_page, users[name], home=MORI if name != "other" else OFUNATO, topics=[topic])
    segment = Segment.objects.create(
        name="クマ出没情報の希望者", definition=validate({"op": "and", "items": [choice(TOPICS, KUMA)]})
    )
    everyday = two_tabs(home_page)
    everyday.is_default, everyday.live = True, False
    everyday.save()
    publish_revision(everyday)
    bears = MenuSet(
        name="クマ対策メニュー", segment=segment, tabs=clean(tab("クマ", "2x3", [area("クマ出没")]))
    )
    bears.live = False
    bears.full_clean()
    bears.save()
    result, _revision = publish_revision(bears)
    assert "2 friends of the segment linked" in result
    from richmenus.models import PublishedMenu

    bear_menu = PublishedMenu.objects.get(menu_set=bears, state="live").rich_menu_id
    assert emu.user_rich_menu(users["bear"])["richMenu"]["richMenuId"] == bear_menu
    assert emu.user_rich_menu(users["bear2"])["source"] == "user"
    assert emu.user_rich_menu(users["other"])["source"] == "default"

    # The next day: one more friend wants クマ出没情報, one no longer does.
    from residents.services import save_attributes
    from richmenus import publish
    from tests.residents.conftest import DISTRICT

    users["late"] = emu.create_user("late")["user_id"]
    emu.follow(users["late"])
    resident(attribute_page, users["late"], home=MORI, topics=[KUMA])
    save_attributes(
        page=attribute_page,
        line_user_id=users["bear2"],
        answers={DISTRICT: MORI, TOPICS: ["c5-0"]},
        actor="resident",
    )
    assert publish.sync_segment_links() == "1 joined, 1 left"
    assert emu.user_rich_menu(users["late"])["richMenu"]["richMenuId"] == bear_menu
    assert emu.user_rich_menu(users["bear2"])["source"] == "default"
    assert publish.sync_segment_links() == "0 joined, 0 left"

    bears.is_default = True
    with pytest.raises(ValidationError, match="配信グループを選べません"):
        bears.full_clean()
