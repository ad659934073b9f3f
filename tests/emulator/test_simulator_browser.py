"""The phone simulator in Chromium, as a member of staff uses it in training: create a resident,
add the account as a friend, send a text and a photo, receive a pushed text and a buttons template,
tap a template button, use a rich menu with tabs (richmenuswitch), open the sample LIFF app from
the menu and close it. Also: the control page, both pages checked by axe (WCAG 2.1 AA)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from linebot.v3.messaging import (
    ButtonsTemplate,
    CreateRichMenuAliasRequest,
    MessagingApi,
    MessagingApiBlob,
    PostbackAction,
    PushMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    RichMenuSwitchAction,
    TemplateMessage,
    TextMessage,
    URIAction,
)
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from emulator.client import EmulatorControl
from emulator.server import RunningEmulator
from tests.emulator.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}


@pytest.fixture
def phone(browser: Any, emulator: RunningEmulator, emu: EmulatorControl) -> Iterator[Any]:
    """A Japanese tab at 1366x768 (the city's PCs) that records console errors and uncaught exceptions."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="ja-JP", base_url=emulator.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def bot(emu: EmulatorControl) -> Iterator[Receiver]:
    receiver = Receiver()
    emu.channel(webhookUrl=receiver.url, webhookActive=True)
    yield receiver
    emu.drain_webhooks(timeout=10)
    receiver.close()


def assert_accessible(page: Any) -> None:
    results = Axe().run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    report = "\n".join(
        f"- {v['id']}: {v['help']}\n"
        + "\n".join(f"    {', '.join(map(str, n['target']))}: {n['html'][:160]}" for n in v["nodes"])
        for v in violations
    )
    assert violations == [], f"{page.url} has accessibility violations:\n{report}"


def png(width: int, height: int, colors: list[str]) -> bytes:
    """A menu image with one coloured column per area."""
    image = Image.new("RGB", (width, height), "#ffffff")
    draw = ImageDraw.Draw(image)
    step = width // len(colors)
    for index, color in enumerate(colors):
        draw.rectangle([index * step, 0, (index + 1) * step - 1, height - 1], fill=color)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def postbacks(emu: EmulatorControl) -> list[dict[str, Any]]:
    emu.drain_webhooks()
    return [
        event["postback"]
        for attempt in emu.webhook_log()
        for event in attempt["body"]["events"]
        if event["type"] == "postback"
    ]


def wait_for_postback(emu: EmulatorControl, page: Any, data: str) -> dict[str, Any]:
    for _ in range(50):
        found = [p for p in postbacks(emu) if p["data"] == data]
        if found:
            return found[-1]
        page.wait_for_timeout(100)
    raise AssertionError(f"no postback {data!r} in the webhook log: {postbacks(emu)}")


def column(index: int, width: int) -> RichMenuBounds:
    return RichMenuBounds(x=index * width, y=0, width=width, height=843)


def make_tab_menus(api: MessagingApi, blob_api: MessagingApiBlob, liff_url: str) -> tuple[str, str]:
    """Two compact menus (tab A and tab B) with aliases, switching to each other."""
    tab_a = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="タブA",
        chat_bar_text="メニューA",
        areas=[
            RichMenuArea(bounds=column(0, 833), action=PostbackAction(label="お知らせ", data="menu=news")),
            RichMenuArea(
                bounds=column(1, 833),
                action=RichMenuSwitchAction(label="タブBへ", rich_menu_alias_id="tab-b", data="switch=b"),
            ),
            RichMenuArea(bounds=column(2, 833), action=URIAction(label="手続きアプリ", uri=liff_url)),
        ],
    )
    tab_b = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="タブB",
        chat_bar_text="メニューB",
        areas=[
            RichMenuArea(
                bounds=column(0, 1250),
                action=RichMenuSwitchAction(label="タブAへ", rich_menu_alias_id="tab-a", data="switch=a"),
            ),
            RichMenuArea(bounds=column(1, 1250), action=PostbackAction(label="防災情報", data="menu=bosai")),
        ],
    )
    menu_a = api.create_rich_menu(tab_a).rich_menu_id
    menu_b = api.create_rich_menu(tab_b).rich_menu_id
    blob_api.set_rich_menu_image(
        menu_a, png(2500, 843, ["#cfe8d6", "#fde8c8", "#d6e4f5"]), _headers={"Content-Type": "image/png"}
    )
    blob_api.set_rich_menu_image(
        menu_b, png(2500, 843, ["#f5d6e4", "#e4f5d6"]), _headers={"Content-Type": "image/png"}
    )
    api.create_rich_menu_alias(CreateRichMenuAliasRequest(rich_menu_alias_id="tab-a", rich_menu_id=menu_a))
    api.create_rich_menu_alias(CreateRichMenuAliasRequest(rich_menu_alias_id="tab-b", rich_menu_id=menu_b))
    api.set_default_rich_menu(menu_a)
    return menu_a, menu_b


def test_a_resident_talks_with_the_account(
    phone: Any,
    emulator: RunningEmulator,
    emu: EmulatorControl,
    api: MessagingApi,
    blob_api: MessagingApiBlob,
    bot: Receiver,
) -> None:
    phone.goto("/")
    expect(phone.get_by_label("公式アカウント（チャネル）")).to_have_value(emu.channel_id)

    # A new resident, who adds the account as a friend.
    phone.get_by_label("新しい住民の表示名").fill("大船渡 太郎")
    phone.get_by_role("button", name="住民を作成").click()
    expect(phone.locator("#sim-message")).to_have_text("住民「大船渡 太郎」を作成しました。")
    user_id = phone.get_by_label("操作する住民").input_value()
    assert emu.user(user_id)["display_name"] == "大船渡 太郎"
    expect(phone.locator("#friend-state")).to_have_text("友だちではありません")
    expect(phone.get_by_label("メッセージ", exact=True)).to_be_disabled()
    phone.get_by_role("button", name="友だち追加").click()
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    assert emu.user(user_id)["is_friend"] is True

    # A text and a photo.
    phone.get_by_label("メッセージ", exact=True).fill("ごみの日を教えてください")
    phone.get_by_role("button", name="送信").click()
    log = phone.get_by_role("log")
    expect(log.locator(".talk-user").filter(has_text="ごみの日を教えてください")).to_be_visible()
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), "#06793a").save(photo, "PNG")
    with phone.expect_file_chooser() as chooser:
        phone.get_by_role("button", name="写真を送る").click()
    chooser.value.set_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": photo.getvalue()}]
    )
    sent_photo = log.locator(".talk-user[data-type=image] img")
    expect(sent_photo).to_be_visible()
    assert sent_photo.evaluate("img => img.naturalWidth") == 64
    sent = emu.sent(user_id)
    assert [m["message"]["type"] for m in sent] == ["text", "image"]

    # The bot pushes a text and a buttons template; the resident taps a button.
    template = ButtonsTemplate(
        title="ごみの分別",
        text="どのごみについて知りたいですか？",
        actions=[
            PostbackAction(label="燃えるごみ", data="gomi=moeru", display_text="燃えるごみ"),
            PostbackAction(label="資源ごみ", data="gomi=shigen"),
        ],
    )
    api.push_message(
        PushMessageRequest(
            to=user_id,
            messages=[
                TextMessage(text="燃えるごみは月曜日と木曜日です。"),
                TemplateMessage(alt_text="ごみの分別", template=template),
            ],
        )
    )
    expect(log.locator(".talk-bot").filter(has_text="燃えるごみは月曜日と木曜日です。")).to_be_visible()
    buttons = log.get_by_role("group", name="ごみの分別")
    expect(buttons.get_by_text("どのごみについて知りたいですか？")).to_be_visible()
    buttons.get_by_role("button", name="燃えるごみ").click()
    assert wait_for_postback(emu, phone, "gomi=moeru") == {"data": "gomi=moeru"}
    expect(log.locator(".talk-user").filter(has_text="燃えるごみ")).to_be_visible()  # displayText

    # Two rich menus as tabs; the default one is drawn from its image.
    liff_id = f"{emulator.config.channels[0].login_channel_id}-sample01"
    menu_a, menu_b = make_tab_menus(api, blob_api, f"https://liff.line.me/{liff_id}")
    menu = phone.get_by_role("group", name="リッチメニュー：メニューA")
    expect(menu).to_be_visible()
    expect(phone.locator("#rich-menu-body")).to_have_attribute("data-rich-menu-id", menu_a)
    image = phone.locator("#rich-menu-image")
    expect(image).to_have_attribute("src", f"/control/channels/{emu.channel_id}/richmenus/{menu_a}/image")
    phone.wait_for_function("() => document.getElementById('rich-menu-image').naturalWidth === 2500")
    assert image.bounding_box()["width"] > 300  # scaled to the phone's width
    expect(menu.get_by_role("button")).to_have_count(3)

    # The chat bar closes and opens the menu.
    bar = phone.get_by_role("button", name="メニューA")
    expect(bar).to_have_attribute("aria-expanded", "true")
    bar.click()
    expect(menu).to_be_hidden()
    bar.click()
    expect(menu).to_be_visible()

    menu.get_by_role("button", name="お知らせ").click()
    assert wait_for_postback(emu, phone, "menu=news") == {"data": "menu=news"}

    # Tabs: the switch area shows the other menu at once.
    menu.get_by_role("button", name="タブBへ").click()
    expect(phone.locator("#rich-menu-body")).to_have_attribute("data-rich-menu-id", menu_b)
    menu_b_group = phone.get_by_role("group", name="リッチメニュー：メニューB")
    expect(menu_b_group.get_by_role("button", name="防災情報")).to_be_visible()
    switched = wait_for_postback(emu, phone, "switch=b")
    assert switched["params"] == {"newRichMenuAliasId": "tab-b", "status": "SUCCESS"}
    assert emu.user(user_id)["richMenuId"] == menu_b
    menu_b_group.get_by_role("button", name="タブAへ").click()
    expect(phone.locator("#rich-menu-body")).to_have_attribute("data-rich-menu-id", menu_a)

    # The uri area opens the sample LIFF app as this resident, in the in-app browser.
    phone.get_by_role("button", name="手続きアプリ").click()
    browser_dialog = phone.get_by_role("dialog", name="LIFF サンプル - LINE エミュレーター")
    expect(browser_dialog).to_be_visible()
    app = phone.frame_locator("#browser-frame")
    expect(app.locator("#display-name")).to_have_text("大船渡 太郎")
    expect(app.locator("#user-id")).to_have_text(user_id)
    app.get_by_role("button", name="閉じる").click()  # liff.closeWindow()
    expect(phone.locator("#browser")).to_be_hidden()
    expect(phone.get_by_role("button", name="手続きアプリ")).to_be_focused()

    assert_accessible(phone)
    assert phone.console_errors == []


def test_in_app_browser_closes_with_its_button(
    phone: Any, emulator: RunningEmulator, emu: EmulatorControl, api: MessagingApi
) -> None:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    emu.follow(user_id)
    liff_id = f"{emulator.config.channels[0].login_channel_id}-sample01"
    phone.goto(f"/?user={user_id}")
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    # Links in the bot's text open in the in-app browser.
    emu_link = f"https://liff.line.me/{liff_id}"
    api.push_message(PushMessageRequest(to=user_id, messages=[TextMessage(text=f"申請はこちら\n{emu_link}")]))
    link = phone.get_by_role("link", name=emu_link)
    link.click()
    frame = phone.frame_locator("#browser-frame")
    expect(frame.locator("#display-name")).to_have_text("山田 花子")
    phone.keyboard.press("Escape")
    expect(phone.locator("#browser")).to_be_hidden()
    expect(link).to_be_focused()
    link.click()
    expect(frame.locator("#display-name")).to_have_text("山田 花子")
    phone.get_by_role("button", name="閉じる", exact=True).click()
    expect(phone.locator("#browser")).to_be_hidden()

    # Where the in-app browser goes for each kind of URL.
    resolved = phone.evaluate(
        """async ([user, liffId]) => {
            const { resolveUrl } = await import("/static/simulator-browser.js");
            return [
                `https://liff.line.me/${liffId}/form?step=2`,
                `line://app/${liffId}`,
                `${location.origin}/liff/${liffId}`,
                "https://www.city.ofunato.iwate.jp/",
                "tel:0192271111",
            ].map((url) => resolveUrl(url, user));
        }""",
        [user_id, liff_id],
    )
    assert resolved == [
        {"kind": "liff", "src": f"/liff/{liff_id}/form?step=2&user={user_id}"},
        {"kind": "liff", "src": f"/liff/{liff_id}?user={user_id}"},
        {"kind": "liff", "src": f"/liff/{liff_id}?user={user_id}"},
        {"kind": "web", "src": "https://www.city.ofunato.iwate.jp/"},
        {"kind": "unsupported", "src": "tel:0192271111"},
    ]
    assert phone.console_errors == []


def test_location_picker_flex_and_quick_reply(
    phone: Any, emu: EmulatorControl, api: MessagingApi, bot: Receiver
) -> None:
    user_id = str(emu.create_user("山田 花子")["user_id"])
    emu.follow(user_id)
    phone.goto(f"/?user={user_id}")
    expect(phone.locator("#friend-state")).to_have_text("友だちです")
    log = phone.get_by_role("log")

    # A location from the presets.
    phone.get_by_role("button", name="位置情報を送る").click()
    sheet = phone.get_by_role("dialog", name="位置情報を送る")
    expect(sheet).to_be_visible()
    sheet.get_by_label("よく使う場所").select_option(label="大船渡市役所")
    expect(sheet.get_by_label("緯度")).to_have_value("39.0817")
    sheet.get_by_role("button", name="送信").click()
    expect(log.locator(".talk-user[data-type=location]")).to_contain_text("大船渡市役所")
    location = emu.sent(user_id)[-1]["message"]
    assert location["latitude"] == 39.0817 and location["longitude"] == 141.7081

    # A datetime picker in a template, and a Flex bubble with a button.
    bubble = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "md",
            "contents": [
                {"type": "text", "text": "防災訓練", "weight": "bold", "size": "xl"},
                {
                    "type": "box",
                    "layout": "baseline",
                    "contents": [
                        {"type": "text", "text": "場所", "flex": 1, "color": "#555555"},
                        {"type": "text", "text": "大船渡市役所 前庭", "flex": 4, "wrap": True},
                    ],
                },
            ],
        },
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "action": {"type": "postback", "label": "参加する", "data": "drill=join"},
                }
            ],
        },
    }
    picker = {
        "type": "buttons",
        "text": "来庁する日を選んでください",
        "actions": [
            {
                "type": "datetimepicker",
                "label": "来庁日を選ぶ",
                "data": "visit",
                "mode": "date",
                "initial": "2026-04-01",
                "min": "2026-04-01",
                "max": "2026-04-30",
            }
        ],
    }
    quick = {
        "items": [
            {"type": "action", "action": {"type": "postback", "label": "窓口", "data": "q=madoguchi"}},
            {"type": "action", "action": {"type": "location", "label": "位置情報"}},
        ]
    }
    api.push_message(
        PushMessageRequest.from_dict(
            {
                "to": user_id,
                "messages": [
                    {"type": "template", "altText": "来庁日", "template": picker},
                    {"type": "flex", "altText": "防災訓練のお知らせ", "contents": bubble},
                    {"type": "text", "text": "受け取り方法を選んでください", "quickReply": quick},
                ],
            }
        )
    )
    log.get_by_role("button", name="来庁日を選ぶ").click()
    dialog = phone.get_by_role("dialog", name="来庁日を選ぶ")
    expect(dialog.get_by_label("日付")).to_have_value("2026-04-01")
    dialog.get_by_label("日付").fill("2026-04-02")
    dialog.get_by_role("button", name="決定").click()
    assert wait_for_postback(emu, phone, "visit") == {"data": "visit", "params": {"date": "2026-04-02"}}

    flex = log.get_by_role("group", name="防災訓練のお知らせ")
    expect(flex.get_by_text("大船渡市役所 前庭")).to_be_visible()
    flex.get_by_role("button", name="参加する").click()
    assert wait_for_postback(emu, phone, "drill=join") == {"data": "drill=join"}

    # Quick reply chips under the last message; the location chip opens the location form.
    chips = phone.get_by_role("group", name="クイックリプライ")
    expect(chips.get_by_role("button")).to_have_count(2)
    assert_accessible(phone)
    chips.get_by_role("button", name="位置情報").click()
    expect(phone.get_by_role("dialog", name="位置情報を送る")).to_be_visible()
    phone.get_by_role("dialog", name="位置情報を送る").get_by_role("button", name="キャンセル").click()
    expect(chips).to_be_hidden()  # a quick reply disappears once used
    assert phone.console_errors == []


def test_control_page_in_the_browser(phone: Any, emu: EmulatorControl) -> None:
    phone.goto("/control-panel/")
    expect(phone.get_by_role("heading", name="管理画面", level=1)).to_be_visible()
    phone.get_by_label("負荷試験用に友だちを一括作成（人数）").fill("30")
    phone.get_by_role("button", name="一括作成").click()
    expect(phone.get_by_role("status")).to_have_text("友だちを一括で作成しました。")
    expect(phone.locator("[data-stat=friends]").first).to_have_text("30")
    # The live parts refresh by themselves.
    emu.create_followers(5)
    expect(phone.locator("[data-stat=friends]").first).to_have_text("35", timeout=10_000)
    expect(phone.get_by_role("button", name="チャネルアクセストークンをコピー")).to_be_visible()
    assert_accessible(phone)

    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto("/")
    expect(phone.get_by_role("button", name="友だち追加")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    assert_accessible(phone)
    assert phone.console_errors == []
