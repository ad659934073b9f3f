"""The acceptance scenario of リッチメニュー, in a real browser: a 担当者 builds a two-tab メニューセット
(くらし: 3×3, 9 areas; 防災: 4×3, 12 areas) whose images the generator draws, with every kind of
action (a form page of the site, another page, an external https URL, a text to send, a tab switch
there and back, a phone call), checks it in the preview and asks for approval; a 承認者 finds it on
the dashboard and approves it, which publishes it, and the Django-Q task that queued puts it on
LINE (the emulator): two 2500×1686 PNG images under 1 MB, the aliases, the default menu. In the phone
simulator a new friend sees the menu; the tabs switch through the set's aliases and each area does
what it says: the text is sent as the resident's message, the form opens inside LINE (LIFF), the
other pages in the in-app browser, and the simulator says it cannot place a call.

The live server runs no Django-Q cluster: the test does the cluster's work with the task it finds
queued.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.utils.module_loading import import_string
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q.models import OrmQ
from PIL import Image
from playwright.sync_api import expect
from wagtail.models import Page

from emulator.client import EmulatorControl
from home.models import FormPage, StandardPage
from kairan.staff.roles import APPROVER, EDITOR
from line_channel.richmenu_design.layouts import grid_3x3, grid_4x3
from line_channel.richmenu_design.render import MAX_BYTES
from richmenus.models import MenuSet, PublishedMenu
from tests.conftest import sign_in_with_totp
from tests.forms.conftest import block
from tests.line.test_browser_liff import LIFF_URL, kairan_liff, phone  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "通常メニュー 2027年度"
CITY_URL = "https://www.city.ofunato.iwate.jp/"
CITY_PAGE = "<!doctype html><html lang='ja'><title>大船渡市</title><h1>大船渡市ホームページ</h1></html>"
SECTION = "防災・安全"
FORM = "防災講座の申込み"

# (label, icon, action, target); a page's target is its title (under the site's root page).
KURASHI = [
    ("講座の申込み", "reservation", "page", FORM),
    ("市のホームページ", "homepage", "url", CITY_URL),
    ("ごみの日", "garbage", "text", "ごみの日を教えて"),
    ("防災メニューへ", "disaster", "tab", "2"),
    ("市役所に電話", "phone", "tel", "0192-27-3111"),
    ("子育て", "childcare", "text", "子育ての相談"),
    ("健康", "health", "text", "健診の日程"),
    ("観光", "tourism", "text", "観光案内"),
    ("受信設定", "settings", "text", "受信設定"),
]
BOUSAI = [
    ("くらしへ戻る", "notice", "tab", "1"),
    ("避難所", "shelter", "text", "近くの避難所"),
    ("防災のページ", "safety", "page", SECTION),
    ("消防に電話", "phone", "tel", "0192-27-0119"),
    ("気象・河川", "weather", "text", "気象・河川情報"),
    ("クマ出没", "bear", "text", "クマ出没情報"),
    ("安否確認", "", "text", "安否確認"),
    ("道路", "", "text", "道路情報"),
    ("通報", "", "text", "通報"),
    ("アンケート", "", "text", "アンケート"),
    ("問い合わせ", "", "text", "問い合わせ"),
    ("お知らせ", "", "text", "お知らせ"),
]


def staff_with_app(make_staff: Callable[..., Any], username: str, role: str) -> Any:
    user = make_staff(username, role)
    TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
    return user


def add_tab(page: Any) -> str:
    """Append a tab to the set; returns the prefix of its inputs."""
    index = page.locator("#tabs-root input[name$='-type'][name^='tabs-']:not([name*='-value-'])").count()
    page.locator("#tabs-root .c-sf-add-button:not([data-streamfield-list-add])").last.click()
    expect(page.locator(f"#tabs-{index}-value-layout")).to_be_attached()
    return f"tabs-{index}"


def add_area(page: Any, tab: str, index: int) -> str:
    """Area ``index`` of the tab (the list starts with one; the others are appended)."""
    if index > 0:
        areas = page.locator(f"[data-contentpath='areas']:has(input[name='{tab}-value-areas-count'])")
        # (a click without Playwright's wait for the growing form to stop moving: 1 s an area)
        areas.locator("[data-streamfield-list-add]").last.evaluate("button => button.click()")
    prefix = f"{tab}-value-areas-{index}"
    expect(page.locator(f"#{prefix}-value-label")).to_be_attached()
    return prefix


def choose_page(page: Any, area: str, path: list[str]) -> None:
    """Pick a page with Wagtail's page chooser: browse down ``path`` (titles), choose the last one."""
    chooser = page.locator(f"#{area}-value-page-chooser")
    chooser.get_by_role("button", name="ページを選択").click()
    modal = page.locator(".modal-content")
    for title, child in itertools.pairwise(path):
        modal.locator(f"a.navigate-pages[title='{title}のサブページを閲覧']").click()
        expect(modal.locator("a.choose-page", has_text=child)).to_be_visible()
    modal.locator("a.choose-page", has_text=path[-1]).click()
    expect(modal).to_be_hidden()
    expect(chooser.locator("[data-chooser-title]")).to_have_text(path[-1])


def fill_tab(
    page: Any,
    tab: str,
    *,
    title: str,
    chat_bar: str,
    layout: str,
    areas: list[tuple[str, str, str, str]],
    paths: dict[str, list[str]],
) -> None:
    """The tab's fields, then its areas one by one (``paths``: a page target's titles from Root)."""
    page.locator(f"#{tab}-value-title").fill(title)
    page.locator(f"#{tab}-value-chat_bar_text").fill(chat_bar)
    page.locator(f"#{tab}-value-layout").select_option(layout)
    page.locator(f"#{tab}-value-image_source").select_option("generate")
    for index, (label, icon, action, target) in enumerate(areas):
        area = add_area(page, tab, index)
        page.locator(f"#{area}-value-label").fill(label)
        if icon:
            page.locator(f"#{area}-value-icon").select_option(icon)
        page.locator(f"#{area}-value-action").select_option(action)
        if action == "page":
            choose_page(page, area, paths[target])
        else:
            page.locator(f"#{area}-value-{action}").fill(target)


def open_action_menu(page: Any) -> None:
    page.locator("footer [data-w-dropdown-target='toggle']").last.click()


def png_size(data: bytes) -> tuple[int, int]:
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG"
    return picture.size


def test_a_two_tab_menu_from_the_editor_to_the_phone(
    page: Any,
    browser: Any,
    live_server: Any,
    phone: Any,  # noqa: F811 - the imported fixture
    kairan_liff: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
    make_staff: Callable[..., Any],
    settings: Any,
) -> None:
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0  # no autosave racing the buttons
    settings.WAGTAILADMIN_BASE_URL = kairan_liff  # the site's pages open from LINE at the live server
    home = Page.objects.get(depth=2)
    section = home.add_child(instance=StandardPage(title=SECTION, slug="bousai"))
    form = FormPage(
        title=FORM,
        slug="moushikomi",
        form_fields=[block("singleline", 1, label="ニックネーム", required=True, max_length=20)],
    )
    section.add_child(instance=form)
    form.save_revision().publish()
    author = staff_with_app(make_staff, "tanto", EDITOR)
    approver = staff_with_app(make_staff, "shonin", APPROVER)

    # The 担当者 opens リッチメニュー and adds a set: the friends' default, in the 椿 colours.
    sign_in_with_totp(page, author)
    page.get_by_role("link", name="リッチメニュー").click()
    page.get_by_role("link", name="メニューセット を追加").click()
    page.wait_for_url("**/richmenus/menuset/add/")
    page.locator("#id_name").fill(NAME)
    page.locator("#id_theme").select_option(label="椿")
    page.get_by_label("友だち全員のメニューにする").check()

    # Tab 1 (くらし, 3×3) and tab 2 (防災, 4×3), images drawn by the generator.
    first = add_tab(page)
    paths = {SECTION: [home.title, SECTION], FORM: [home.title, SECTION, FORM]}
    fill_tab(
        page, first, title="くらし", chat_bar="くらしのメニュー", layout="3x3", areas=KURASHI, paths=paths
    )
    second = add_tab(page)
    fill_tab(page, second, title="防災", chat_bar="防災メニュー", layout="4x3", areas=BOUSAI, paths=paths)
    # The area editor draws both tabs with their tab strip and the layouts' places filled.
    for number, count in ((1, 9), (2, 12)):
        canvas = page.get_by_role("group", name=f"タブ {number} の配置")
        expect(canvas.locator(".rm-editor__area")).to_have_count(count)
        expect(canvas.locator(".rm-editor__tab")).to_have_text(["くらし", "防災"])
        expect(canvas.locator(".rm-editor__slot")).to_have_count(0)
    expect(page.locator(".rm-editor__problems:visible")).to_have_count(0)

    page.get_by_role("button", name="下書きを保存").click()
    page.wait_for_url("**/richmenus/menuset/edit/*/")
    edit_url = page.url
    menu_set = MenuSet.objects.get()
    assert not menu_set.live
    draft = menu_set.get_latest_revision_as_object()
    assert (draft.name, draft.theme, draft.is_default) == (NAME, "camellia", True)
    tabs = [child.value for child in draft.tabs]
    assert [(t["title"], t["layout"], t["image_source"], len(t["areas"])) for t in tabs] == [
        ("くらし", "3x3", "generate", 9),
        ("防災", "4x3", "generate", 12),
    ]
    saved = [area for tab in tabs for area in tab["areas"]]
    assert {area["action"] for area in saved} == {"page", "url", "text", "tab", "tel"}
    assert [area["page"].pk for area in saved if area["action"] == "page"] == [form.pk, section.pk]
    grids = (grid_3x3("large", 2).tiles, grid_4x3("large", 2).tiles)
    for tab, tiles in zip(tabs, grids, strict=True):
        assert [(a["x"], a["y"], a["width"], a["height"]) for a in tab["areas"]] == [
            (r.x, r.y, r.width, r.height) for r in tiles
        ]

    # The preview: the tab strip switches to 防災's image; a phone area says whom it calls.
    page.locator("[data-side-panel-toggle='preview']").click()
    preview = page.frame_locator("#w-preview-iframe")
    kurashi, bousai = preview.locator(".rm-tab[data-tab='1']"), preview.locator(".rm-tab[data-tab='2']")
    expect(kurashi).to_be_visible()
    expect(bousai).to_be_hidden()
    status = preview.locator(".rm-status")
    kurashi.get_by_role("button", name="防災タブ: タブ「防災」に切り替え").click()
    expect(bousai).to_be_visible()
    expect(kurashi).to_be_hidden()
    expect(status).to_have_text("タブ「防災」に切り替え")
    expect(bousai.locator("img.rm-image")).to_have_js_property("naturalWidth", 2500)
    bousai.get_by_role("button", name="消防に電話: 0192270119 に電話").click()
    expect(status).to_have_text("0192270119 に電話")
    bousai.get_by_role("button", name="くらしへ戻る").click()
    expect(kurashi).to_be_visible()
    kurashi.get_by_role("button", name="講座の申込み").click()
    expect(status).to_have_text(f"{LIFF_URL}/bousai/moushikomi/ を開く")
    kurashi.get_by_role("button", name="市役所に電話").click()
    expect(status).to_have_text("0192273111 に電話")

    # … and asks for approval (a 担当者 cannot publish a set).
    open_action_menu(page)
    expect(page.get_by_role("button", name="公開", exact=True)).to_have_count(0)
    page.get_by_role("button", name="リッチメニューの承認に提出する").click()
    expect(page.locator(".messages")).to_contain_text(f"メニューセット「{NAME}」を承認のために提出しました")
    menu_set.refresh_from_db()
    assert menu_set.workflow_in_progress and not menu_set.live

    # The 承認者, in a browser of their own, approves it: that publishes the set.
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", base_url=live_server.url
    )
    second_page = context.new_page()
    second_page.set_default_timeout(15_000)
    sign_in_with_totp(second_page, approver)
    review = second_page.locator("#awaiting-review-section")  # the dashboard's あなたのレビューの待機中
    review.get_by_role("link", name=NAME).click()
    second_page.wait_for_url(edit_url)
    open_action_menu(second_page)
    second_page.get_by_role("button", name="承認と公開", exact=True).click()
    expect(second_page.locator(".messages")).to_contain_text(f"メニューセット「{NAME}」を更新しました")
    context.close()
    menu_set.refresh_from_db()
    assert menu_set.live and not menu_set.workflow_in_progress
    workflow = menu_set.workflow_states.get()
    assert (workflow.status, workflow.requested_by) == ("approved", author)
    assert workflow.task_states.get().finished_by == approver
    revision = menu_set.live_revision

    # Publishing queued the LINE publication; the test runs it as the cluster would.
    queued = [task for task in OrmQ.objects.all() if task.task.get("func") == "richmenus.tasks.publish"]
    assert len(queued) == 1
    task = queued[0].task
    assert (task["args"], task.get("group")) == ((menu_set.pk, revision.pk), "richmenus")
    result = import_string(task["func"])(*task["args"], **task["kwargs"])
    assert result.startswith("published 2 tabs")
    queued[0].delete()

    # On LINE: two menus with the generator's images, the aliases, the default menu.
    live = {
        row.tab: row.rich_menu_id for row in PublishedMenu.objects.filter(menu_set=menu_set, state="live")
    }
    state = emu.rich_menus()
    assert state["defaultRichMenuId"] == live[1]
    assert {a["richMenuAliasId"]: a["richMenuId"] for a in state["aliases"]} == {
        menu_set.alias_id(1): live[1],
        menu_set.alias_id(2): live[2],
    }
    for rich_menu_id in live.values():
        image = emu.rich_menu_image(rich_menu_id)
        assert png_size(image) == (2500, 1686) and len(image) <= MAX_BYTES

    # The site's pages open in the phone's in-app browser (LINE's is no frame: the page's framing
    # headers are dropped); the city's site is not on the test network: a stand-in answers.
    def unframed(route: Any) -> None:
        response = route.fetch()
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("x-frame-options", "content-security-policy")
        }
        route.fulfill(response=response, headers=headers)

    phone.context.route(f"{kairan_liff}/bousai/", unframed)
    phone.context.route(
        f"{CITY_URL}**", lambda route: route.fulfill(body=CITY_PAGE, content_type="text/html; charset=utf-8")
    )

    # A resident in the phone simulator adds the account as a friend: the くらし menu shows.
    phone.goto("/")
    phone.get_by_label("新しい住民の表示名").fill("大船渡 太郎")
    phone.get_by_role("button", name="住民を作成").click()
    expect(phone.locator("#sim-message")).to_have_text("住民「大船渡 太郎」を作成しました。")
    resident = phone.get_by_label("操作する住民").input_value()
    phone.get_by_role("button", name="友だち追加").click()
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    body = phone.locator("#rich-menu-body")
    image = phone.locator("#rich-menu-image")

    def shows(tab: int, chat_bar: str) -> Any:
        menu = phone.get_by_role("group", name=f"リッチメニュー：{chat_bar}")
        expect(menu).to_be_visible()
        expect(body).to_have_attribute("data-rich-menu-id", live[tab])
        expect(image).to_have_attribute(
            "src", f"/control/channels/{emu.channel_id}/richmenus/{live[tab]}/image"
        )
        phone.wait_for_function(  # the new image itself is shown (not the last one while it loads)
            """(id) => {
                const img = document.getElementById("rich-menu-image");
                return img.complete && img.currentSrc.endsWith(`/${id}/image`) && img.naturalWidth === 2500;
            }""",
            arg=live[tab],
        )
        return menu

    menu = shows(1, "くらしのメニュー")
    assert emu.user_rich_menu(resident)["source"] == "default"
    expect(menu.get_by_role("button")).to_have_count(2 + 9)

    in_app = phone.locator("#browser")
    close = phone.locator("#browser-close")
    log = phone.get_by_role("log")

    # The 防災 tab of the strip: LINE switches the resident to tab 2's menu through its alias.
    menu.get_by_role("button", name="防災タブ").click()
    menu = shows(2, "防災メニュー")
    expect(menu.get_by_role("button")).to_have_count(2 + 12)
    seen = emu.user_rich_menu(resident)
    assert (seen["source"], seen["richMenu"]["richMenuId"]) == ("user", live[2])

    # A text area: the text is the resident's message in the talk.
    menu.get_by_role("button", name="避難所").click()
    expect(log.locator(".talk-user").filter(has_text="近くの避難所")).to_be_visible()
    assert emu.sent(resident)[-1]["message"] == {"type": "text", "text": "近くの避難所"}

    # A phone area: the simulator cannot call, and says so with the number.
    menu.get_by_role("button", name="消防に電話").click()
    expect(in_app).to_be_visible()
    expect(phone.locator("#browser-title")).to_have_text("開けないリンク")
    expect(phone.locator("#browser-notice")).to_have_text(
        "このリンクはシミュレーターでは開けません：tel:0192270119"
    )
    close.click()
    expect(in_app).to_be_hidden()

    # A page of the site: the in-app browser opens it.
    menu.get_by_role("button", name="防災のページ").click()
    expect(phone.locator("#browser-url")).to_have_text(f"{kairan_liff}/bousai/")
    expect(phone.frame_locator("#browser-frame").get_by_role("heading", name=SECTION)).to_be_visible()
    close.click()
    expect(in_app).to_be_hidden()

    # Back to くらし with the area that switches tabs.
    menu.get_by_role("button", name="くらしへ戻る").click()
    menu = shows(1, "くらしのメニュー")
    assert emu.user_rich_menu(resident)["richMenu"]["richMenuId"] == live[1]

    # The form page opens inside LINE (LIFF) as the resident.
    menu.get_by_role("button", name="講座の申込み").click()
    app = phone.frame_locator("#browser-frame")
    expect(app.get_by_label("ニックネーム")).to_be_visible()
    frame = next(f for f in phone.frames if f.url.startswith(kairan_liff))
    assert frame.url.startswith(f"{kairan_liff}/liff/bousai/moushikomi/")
    close.click()
    expect(in_app).to_be_hidden()

    # The external URL: in the in-app browser, with the 別タブ link to it.
    menu.get_by_role("button", name="市のホームページ").click()
    expect(phone.locator("#browser-url")).to_have_text(CITY_URL)
    expect(phone.locator("#browser-external")).to_have_attribute("href", CITY_URL)
    expect(
        phone.frame_locator("#browser-frame").get_by_role("heading", name="大船渡市ホームページ")
    ).to_be_visible()
    close.click()
    expect(in_app).to_be_hidden()

    # Tab 1's own tel and text areas, then the 防災メニューへ area and the strip's くらし tab.
    menu.get_by_role("button", name="市役所に電話").click()
    expect(phone.locator("#browser-notice")).to_have_text(
        "このリンクはシミュレーターでは開けません：tel:0192273111"
    )
    close.click()
    menu.get_by_role("button", name="ごみの日").click()
    expect(log.locator(".talk-user").filter(has_text="ごみの日を教えて")).to_be_visible()
    menu.get_by_role("button", name="防災メニューへ").click()
    menu = shows(2, "防災メニュー")
    menu.get_by_role("button", name="くらしタブ").click()
    shows(1, "くらしのメニュー")
    assert [m["message"]["text"] for m in emu.sent(resident)] == ["近くの避難所", "ごみの日を教えて"]
    assert phone.console_errors == []
    assert page.csp_violations == []
