"""The tabs of a メニューセット as a StreamField: each tab is one LINE rich menu, its areas a list.

Staff never write JSON: a tab has its size, layout, image (generated or uploaded) and up to
LINE's 20 areas, each with bounds in image pixels (2,500 wide), a label and one action. The
checks here are LINE's (sizes, area count, bounds, action limits) plus our own (no overlap, https
links, phone numbers), with Japanese errors on the field concerned, so a set that saves is a set
LINE accepts.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from wagtail import blocks
from wagtail.blocks.list_block import ListBlockValidationError
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.images.blocks import ImageChooserBlock

from deliveries.blocks import CheckedStructBlock, _too_long, grapheme_len, image_format, page_errors
from line_channel.richmenu_design.icons import ICONS
from line_channel.richmenu_design.layouts import (
    LAYOUTS,
    MAX_AREAS,
    SIZES,
    Layout,
    Rect,
    check_layout,
    tab_rects,
)

CHAT_BAR_MAX = 14  # LINE: chatBarText
TAB_TITLE_MAX = 8  # ours: a tab label that fits a fifth of 2,500 px at a readable size
AREA_LABEL_MAX = 20  # LINE: an action's label
TEXT_MAX = 300  # LINE: a message action's text
URI_MAX = 1000  # LINE: a uri action's uri
MAX_TABS = 5
TEL = re.compile(r"^\+?[0-9][0-9-]{1,19}$")

SIZE_CHOICES = [("large", "大（2500×1686）"), ("compact", "小（2500×843）")]
LAYOUT_CHOICES = [
    ("3x3", "3×3（9 エリア）"),
    ("2x3", "2段×3列（6 エリア）"),
    ("4x3", "3段×4列（12 エリア）"),
    ("tabs_3x2", "2段×3列（タブ用の見出しつき）"),
    ("free", "自由（エリアを自分で配置）"),
]
IMAGE_CHOICES = [("generate", "自動で作る（アイコンと文字）"), ("upload", "画像をアップロードする")]
ACTION_CHOICES = [
    ("page", "このサイトのページを開く"),
    ("url", "外部の URL を開く"),
    ("text", "文字を送る"),
    ("tab", "タブを切り替える"),
    ("tel", "電話をかける"),
]
ICON_CHOICES = [(name, icon.label) for name, icon in ICONS.items()]


class AreaBlock(CheckedStructBlock):
    """One tappable area: where it is, what it says, what a tap does."""

    label = blocks.CharBlock(
        label="名前",
        help_text=f"画像に表示し、読み上げにも使います（{AREA_LABEL_MAX}文字まで）。",
    )
    icon = blocks.ChoiceBlock(label="アイコン", choices=ICON_CHOICES, required=False)
    x = blocks.IntegerBlock(label="左（px）", min_value=0, max_value=2500, default=0)
    y = blocks.IntegerBlock(label="上（px）", min_value=0, max_value=1686, default=0)
    width = blocks.IntegerBlock(label="幅（px）", min_value=1, max_value=2500, default=833)
    height = blocks.IntegerBlock(label="高さ（px）", min_value=1, max_value=1686, default=562)
    action = blocks.ChoiceBlock(label="押したときの動作", choices=ACTION_CHOICES, default="page")
    page = blocks.PageChooserBlock(
        label="ページ（「このサイトのページを開く」のとき）",
        required=False,
        help_text="フォームのページは LINE の中（LIFF）で、ほかのページはブラウザで開きます。",
    )
    url = blocks.URLBlock(label="URL（「外部の URL を開く」のとき）", required=False)
    text = blocks.CharBlock(
        label="送る文字（「文字を送る」のとき）",
        required=False,
        help_text="利用者の発言としてトークに送られます。",
    )
    tab = blocks.IntegerBlock(
        label="切り替え先のタブ（番号、「タブを切り替える」のとき）", required=False, min_value=1
    )
    tel = blocks.CharBlock(
        label="電話番号（「電話をかける」のとき）", required=False, help_text="例: 0192-27-3111"
    )

    def field_errors(self, value: Any) -> dict[str, str | None]:
        errors: dict[str, str | None] = {}
        label = value.get("label")
        if isinstance(label, str):
            errors["label"] = _too_long("名前", label, AREA_LABEL_MAX, grapheme_len)
        required = not self.is_deferred_validation  # a draft may leave the target for later
        action = value.get("action")
        if action == "page":
            page = value.get("page")
            errors["page"] = (
                page_errors(page) if page is not None else ("ページを選んでください。" if required else None)
            )
        elif action == "url":
            url = str(value.get("url") or "")
            if not url:
                errors["url"] = "URL を入れてください。" if required else None
            elif not url.lower().startswith("https://"):
                errors["url"] = "URL は https:// で始まるものにしてください。"
            else:
                errors["url"] = _too_long("URL", url, URI_MAX)
        elif action == "text":
            text = value.get("text") or ""
            errors["text"] = (
                _too_long("送る文字", text, TEXT_MAX)
                if text
                else ("送る文字を入れてください。" if required else None)
            )
        elif action == "tab":
            if value.get("tab") is None and required:
                errors["tab"] = "切り替え先のタブの番号を入れてください。"
        elif action == "tel":
            tel = (value.get("tel") or "").strip()
            if not tel:
                errors["tel"] = "電話番号を入れてください。" if required else None
            elif not TEL.match(tel):
                errors["tel"] = "電話番号は数字とハイフンで入れてください（例: 0192-27-3111）。"
        return errors

    class Meta:
        label = "エリア"
        icon = "pick"


class AreaListBlock(blocks.ListBlock):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(AreaBlock(), max_num=MAX_AREAS, **kwargs)

    def clean(self, value: Any) -> Any:
        try:
            return super().clean(value)
        except ListBlockValidationError as error:
            count = len(self.normalize(value))
            non_block = [] if count <= MAX_AREAS else [f"エリアは{MAX_AREAS}個までです（現在 {count} 個）。"]
            raise ListBlockValidationError(
                block_errors=error.block_errors, non_block_errors=non_block
            ) from error


def area_rect(area: Any) -> Rect:
    return Rect(int(area["x"]), int(area["y"]), int(area["width"]), int(area["height"]))


class TabBlock(CheckedStructBlock):
    """One tab: one LINE rich menu."""

    title = blocks.CharBlock(label="タブの名前", help_text=f"タブに表示します（{TAB_TITLE_MAX}文字まで）。")
    chat_bar_text = blocks.CharBlock(
        label="メニューの名前（トーク画面の下）",
        default="メニュー",
        help_text=f"メニューを閉じたとき画面の下に出る文字（{CHAT_BAR_MAX}文字まで）。",
    )
    size = blocks.ChoiceBlock(label="大きさ", choices=SIZE_CHOICES, default="large")
    layout = blocks.ChoiceBlock(label="レイアウト", choices=LAYOUT_CHOICES, default="3x3")
    image_source = blocks.ChoiceBlock(label="画像", choices=IMAGE_CHOICES, default="generate")
    image = ImageChooserBlock(
        label="アップロードする画像（「画像をアップロードする」のとき）",
        required=False,
        help_text=(
            "JPEG か PNG、大きさに合った縦横比のもの（横 2500 ピクセルが最適）。"
            "1 MB を超える画像は自動で圧縮します。"
        ),
    )
    areas = AreaListBlock(label="エリア")

    def field_errors(self, value: Any) -> dict[str, str | None]:
        errors: dict[str, str | None] = {}
        if isinstance(title := value.get("title"), str):
            errors["title"] = _too_long("タブの名前", title, TAB_TITLE_MAX, grapheme_len)
        if isinstance(text := value.get("chat_bar_text"), str):
            errors["chat_bar_text"] = _too_long("メニューの名前", text, CHAT_BAR_MAX, grapheme_len)
        size = value.get("size") or "large"
        if value.get("image_source") == "upload":
            errors["image"] = upload_errors(value.get("image"), size)
        if not value.get("areas") and not self.is_deferred_validation:
            errors["areas"] = "エリアを1つ以上作ってください。"
        return errors

    def clean(self, value: Any) -> Any:
        try:
            return super().clean(value)
        except StructBlockValidationError as error:
            # The areas' own list error replaces ours, whose message would otherwise be lost.
            raise StructBlockValidationError(block_errors=dict(error.block_errors)) from error

    class Meta:
        label = "タブ"
        icon = "table"


def upload_errors(image: Any, size: str) -> str | None:
    """Why an uploaded image cannot be a rich menu of ``size``."""
    if image is None:
        return "画像を選んでください。"
    if image_format(image) not in ("jpeg", "png"):
        return "画像は JPEG か PNG にしてください。"
    width, height = SIZES[size]
    if image.width < 800 or image.height < 250:
        return "画像が小さすぎます（横 800 ピクセル以上、縦 250 ピクセル以上）。"
    if abs(image.width / image.height - width / height) > 0.02:
        return f"画像の縦横比が合いません（{width}×{height} と同じ比の画像にしてください）。"
    from line_channel.richmenu_design.errors import RichMenuDesignError
    from richmenus.line_menus import fit_upload

    try:
        fit_upload(image, size)
    except RichMenuDesignError:
        return "画像を圧縮しても LINE の上限（1 MB）以下にできません。模様の少ない画像にしてください。"
    except OSError:
        return "画像のファイルを読めません。もう一度アップロードしてください。"
    return None


def tab_layout(tab: Any, tab_count: int) -> Layout | None:
    """The standard layout a tab chose, for a set of ``tab_count`` tabs (None: free layout)."""
    name = tab.get("layout") or "free"
    if name == "free":
        return None
    if name == "tabs_3x2" and tab_count < 2:
        name = "2x3"  # (one tab: no tab strip to leave room for)
    return LAYOUTS[name](tab.get("size") or "large", tab_count if tab_count > 1 else 0)


def layout_problems(tab: Any, tab_count: int) -> list[str]:
    """Place the tab's areas (a standard layout sets their bounds, in order) and say what is wrong:
    too many areas, areas outside the image, overlapping each other or the tab strip."""
    size = tab.get("size") or "large"
    areas = list(tab.get("areas") or [])
    strip = tab_rects(size, tab_count) if tab_count > 1 else ()
    problems = []
    if len(strip) + len(areas) > MAX_AREAS:
        problems.append(
            f"タブの見出し（{len(strip)}）とエリアを合わせて{MAX_AREAS}個までです"
            f"（現在 {len(strip) + len(areas)} 個）"
        )
    layout = tab_layout(tab, tab_count)
    if layout is not None:
        if len(areas) > len(layout.tiles):
            problems.append(
                f"このレイアウトのエリアは{len(layout.tiles)}個です（現在 {len(areas)} 個）。"
                "多い分を消すか、レイアウトを「自由」にしてください"
            )
        for area, rect in zip(areas, layout.tiles, strict=False):
            area["x"], area["y"], area["width"], area["height"] = rect.x, rect.y, rect.width, rect.height
        return problems
    try:
        rects = [area_rect(area) for area in areas]
    except (KeyError, TypeError, ValueError):
        return problems  # a field of an area is missing: its own error says which
    problems += check_layout(rects, size)
    for index, rect in enumerate(rects, start=1):
        if any(rect.overlaps(tab_rect) for tab_rect in strip):
            problems.append(f"エリア {index} がタブの見出しと重なっています")
    return problems


class TabStreamBlock(blocks.StreamBlock):
    """1 to 5 tabs. Checks what needs the whole set: the tab strip's room, tab switch targets."""

    tab = TabBlock()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_num=1, max_num=MAX_TABS, **kwargs)

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        tabs = [child.value for child in cleaned]
        messages = []
        for number, tab in enumerate(tabs, start=1):
            problems = layout_problems(tab, len(tabs))
            for area in tab["areas"]:
                target = area.get("tab")
                if area.get("action") == "tab" and target is not None and not 1 <= target <= len(tabs):
                    problems.append(f"「{area['label']}」の切り替え先のタブ {target} はありません")
            messages += [f"タブ {number}: {problem}。" for problem in problems]
        if messages:
            raise blocks.StreamBlockValidationError(non_block_errors=[ValidationError(m) for m in messages])
        return cleaned
