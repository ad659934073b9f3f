"""The visual area editor of メニューセット tabs (richmenus/static/richmenus/area-*.js), in a
real browser: the canvas shows where a standard layout puts the areas (the server's own grid,
written into the numeric fields), dragging, resizing, typing and the arrow keys move the areas in
a free layout, overlaps are reported in red, and what is saved is what was drawn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from line_channel.richmenu_design.layouts import Rect, grid_3x3, tabs_3x2
from richmenus.models import MenuSet
from tests.conftest import sign_in_as_system_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


ADD_URL = "/admin/snippets/richmenus/menuset/add/"
BOUNDS = ("x", "y", "width", "height")
TOLERANCE = 5  # image px: one screen pixel is about 3.6 image pixels at this canvas size

# A rectangle's bounds in image pixels, measured from where the browser drew it.
MEASURE = """(el) => {
  const canvas = el.closest('.rm-editor__canvas');
  const c = canvas.getBoundingClientRect();
  const r = el.getBoundingClientRect();
  const scale = canvas.clientWidth / 2500;
  const left = c.left + canvas.clientLeft, top = c.top + canvas.clientTop;
  return [(r.left - left) / scale, (r.top - top) / scale, r.width / scale, r.height / scale];
}"""


def add_tab(page: Any) -> str:
    """Append a tab to the set; returns the prefix of its inputs."""
    index = page.locator("#tabs-root input[name$='-type'][name^='tabs-']:not([name*='-value-'])").count()
    page.locator("#tabs-root .c-sf-add-button").last.click()
    expect(page.locator(f"#tabs-{index}-value-layout")).to_be_attached()
    return f"tabs-{index}"


def add_area(page: Any, tab: str) -> str:
    """Append an area to the tab; returns the prefix of its inputs."""
    areas = page.locator(f"[data-contentpath='areas']:has(input[name='{tab}-value-areas-count'])")
    index = areas.locator("input[name$='-deleted']").count()
    areas.locator("[data-streamfield-list-add]").last.click()
    expect(page.locator(f"#{tab}-value-areas-{index}-value-x")).to_be_attached()
    return f"{tab}-value-areas-{index}"


def inputs_of(page: Any, area: str) -> tuple[int, ...]:
    return tuple(int(page.locator(f"#{area}-value-{name}").input_value()) for name in BOUNDS)


def drawn(rect: Any) -> list[float]:
    return list(rect.evaluate(MEASURE))


def assert_drawn_at(rect: Any, bounds: tuple[int, ...] | Rect) -> None:
    if isinstance(bounds, Rect):
        bounds = (bounds.x, bounds.y, bounds.width, bounds.height)
    measured = drawn(rect)
    assert all(abs(a - b) <= TOLERANCE for a, b in zip(measured, bounds, strict=True)), (measured, bounds)


def rect_bounds(rect: Rect) -> tuple[int, int, int, int]:
    return (rect.x, rect.y, rect.width, rect.height)


def drag(page: Any, handle: Any, dx: float, dy: float, *, at: str = "center") -> None:
    """Press on ``handle`` (its centre or its bottom-right corner), move by (dx, dy) screen px, release."""
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    if at == "center":
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    else:
        x, y = box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x + dx * step / 5, y + dy * step / 5)
    page.mouse.up()


def scale_of(canvas: Any) -> float:
    return float(canvas.evaluate("(el) => el.clientWidth / 2500"))


def test_layout_drag_resize_type_check_and_save(
    page: Any, make_staff: Callable[..., Any], settings: Any
) -> None:
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0  # no autosave racing the buttons
    sign_in_as_system_admin(page, make_staff)
    page.goto(ADD_URL)
    page.locator("#id_name").fill("通常メニュー")
    tab = add_tab(page)
    page.locator(f"#{tab}-value-title").fill("ホーム")
    areas = [f"{tab}-value-areas-0"] + [add_area(page, tab) for _ in range(8)]
    for number, area in enumerate(areas, start=1):
        page.locator(f"#{area}-value-label").fill(f"項目{number}")
        page.locator(f"#{area}-value-action").select_option("text")
        page.locator(f"#{area}-value-text").fill(f"項目{number}")

    # Layout 3×3 (the default): the areas are drawn where the server puts them, and the numeric
    # fields hold those bounds.
    canvas = page.get_by_role("group", name="タブ 1 の配置")
    expect(canvas).to_be_visible()
    rects = canvas.locator(".rm-editor__area")
    expect(rects).to_have_count(9)
    tiles = grid_3x3("large").tiles
    for number, (area, tile) in enumerate(zip(areas, tiles, strict=True), start=1):
        rect = canvas.locator(f"[data-area-number='{number}']")
        expect(rect).to_contain_text(f"項目{number}")
        expect(rect).to_contain_text(str(number))
        assert inputs_of(page, area) == rect_bounds(tile)
        assert_drawn_at(rect, tile)
    expect(canvas.locator(".rm-editor__tab")).to_have_count(0)  # one tab: no tab strip
    expect(canvas.locator("[data-area-number='5']")).to_have_attribute(
        "aria-label", "エリア 5「項目5」 左 833、上 562、幅 834、高さ 562（px）"
    )
    problems = page.locator(".rm-editor__problems")
    expect(problems).to_be_hidden()

    # 2段×3列 has room for 6: areas 7-9 turn red, with the server's message.
    layout = page.locator(f"#{tab}-value-layout")
    layout.select_option("2x3")
    expect(problems).to_contain_text("このレイアウトのエリアは6個です（現在 9 個）")
    expect(canvas.locator(".rm-editor__area--bad")).to_have_count(3)
    expect(canvas.locator("[data-area-number='7']")).to_have_class(
        "rm-editor__area rm-editor__area--bad rm-editor__area--extra"
    )
    layout.select_option("3x3")
    expect(problems).to_be_hidden()
    expect(canvas.locator(".rm-editor__area--bad")).to_have_count(0)

    # 自由: the areas stay where they are; typing a width resizes the rectangle.
    layout.select_option("free")
    first = canvas.locator("[data-area-number='1']")
    assert inputs_of(page, areas[0]) == rect_bounds(tiles[0])
    page.locator(f"#{areas[0]}-value-width").fill("500")
    assert_drawn_at(first, (0, 0, 500, 562))

    # Dragging area 1 moves it (in steps of 10 px) and updates its fields.
    scale = scale_of(canvas)
    drag(page, first, 203 * scale, 2 * scale)  # snapped: +200, +0
    assert inputs_of(page, areas[0]) == (200, 0, 500, 562)
    assert_drawn_at(first, (200, 0, 500, 562))

    # … its bottom-right handle resizes it.
    drag(page, first.locator(".rm-editor__handle"), 0, -97 * scale, at="corner")  # -100
    assert inputs_of(page, areas[0]) == (200, 0, 500, 462)
    assert_drawn_at(first, (200, 0, 500, 462))

    # … and the arrow keys move it (Shift: resize), 10 px a press.
    first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowUp")
    assert inputs_of(page, areas[0]) == (210, 0, 500, 452)
    expect(first).to_have_attribute("aria-label", "エリア 1「項目1」 左 210、上 0、幅 500、高さ 452（px）")
    assert_drawn_at(first, (210, 0, 500, 452))

    # Two areas overlapping: both outlined red, and the server's message under the canvas.
    second = canvas.locator("[data-area-number='2']")
    page.locator(f"#{areas[1]}-value-x").fill("600")
    expect(problems).to_contain_text("エリア 1 と 2 が重なっています")
    expect(first).to_have_class("rm-editor__area rm-editor__area--bad")
    expect(second).to_have_class("rm-editor__area rm-editor__area--bad")
    assert_drawn_at(second, (600, 0, 834, 562))
    # … and out of the image.
    page.locator(f"#{areas[2]}-value-width").fill("900")
    expect(problems).to_contain_text("エリア 3 が画像（2500×1686）からはみ出しています")
    page.locator(f"#{areas[2]}-value-width").fill("833")
    page.locator(f"#{areas[1]}-value-x").fill("833")
    expect(problems).to_be_hidden()
    expect(canvas.locator(".rm-editor__area--bad")).to_have_count(0)

    page.get_by_role("button", name="下書きを保存").click()
    page.wait_for_url("**/richmenus/menuset/edit/*/")
    draft = MenuSet.objects.get().get_latest_revision_as_object()
    saved = draft.tabs[0].value
    assert saved["layout"] == "free"
    assert [tuple(area[name] for name in BOUNDS) for area in saved["areas"]] == [
        (210, 0, 500, 452),
        *(rect_bounds(tile) for tile in tiles[1:]),
    ]

    # The edit page draws the saved areas.
    canvas = page.get_by_role("group", name="タブ 1 の配置")
    first = canvas.locator("[data-area-number='1']")
    expect(first).to_have_attribute("aria-label", "エリア 1「項目1」 左 210、上 0、幅 500、高さ 452（px）")
    assert_drawn_at(first, (210, 0, 500, 452))
    expect(canvas.locator(".rm-editor__area")).to_have_count(9)
    expect(page.locator(".rm-editor__problems")).to_be_hidden()
    assert page.csp_violations == []


def test_tabs_move_the_grid_and_the_editor_follows_the_form(
    page: Any, make_staff: Callable[..., Any], settings: Any
) -> None:
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0
    sign_in_as_system_admin(page, make_staff)
    page.goto(ADD_URL)
    first_tab = add_tab(page)
    page.locator(f"#{first_tab}-value-title").fill("くらし")
    a, b = f"{first_tab}-value-areas-0", add_area(page, first_tab)
    page.locator(f"#{a}-value-label").fill("A")
    page.locator(f"#{b}-value-label").fill("B")
    canvas = page.get_by_role("group", name="タブ 1 の配置")
    assert inputs_of(page, a) == rect_bounds(grid_3x3("large").tiles[0])
    expect(canvas.locator(".rm-editor__slot")).to_have_count(7)  # the layout's empty places

    # A second tab: the tab strip is drawn and the grid moves below it.
    second_tab = add_tab(page)
    page.locator(f"#{second_tab}-value-title").fill("防災")
    strip = canvas.locator(".rm-editor__tab")
    expect(strip).to_have_count(2)
    expect(strip.first).to_have_text("くらし")
    expect(strip.last).to_have_text("防災")
    tiles = grid_3x3("large", 2).tiles
    assert tiles[0].y == 200
    expect(page.locator(f"#{a}-value-y")).to_have_value("200")
    assert inputs_of(page, a) == rect_bounds(tiles[0])
    assert inputs_of(page, b) == rect_bounds(tiles[1])
    assert_drawn_at(canvas.locator("[data-area-number='1']"), tiles[0])
    assert_drawn_at(strip.first, (0, 0, 1250, 200))
    expect(page.get_by_role("group", name="タブ 2 の配置").locator(".rm-editor__tab")).to_have_count(2)

    # Compact, tab layout: the server's rounding (693 / 2 = 346.5 rounds to 346).
    page.locator(f"#{first_tab}-value-size").select_option("compact")
    page.locator(f"#{first_tab}-value-layout").select_option("tabs_3x2")
    compact = tabs_3x2("compact", 2).tiles
    expect(page.locator(f"#{a}-value-height")).to_have_value(str(compact[0].height))
    assert inputs_of(page, a) == rect_bounds(compact[0])
    assert inputs_of(page, b) == rect_bounds(compact[1])
    assert_drawn_at(canvas.locator("[data-area-number='2']"), compact[1])

    # Reordering the areas: the layout places them in their new order.
    area_b = page.locator(f"[data-streamfield-child]:has(> input[name='{b}-deleted'])")
    area_b.locator("[data-streamfield-action='MOVE_UP']").first.click()
    expect(canvas.locator("[data-area-number='1']")).to_contain_text("B")
    expect(page.locator(f"#{b}-value-x")).to_have_value("0")
    assert inputs_of(page, b) == rect_bounds(compact[0])
    assert inputs_of(page, a) == rect_bounds(compact[1])

    # Dragging an area of a standard layout switches the tab to 自由, keeping the other places.
    scale = scale_of(canvas)
    drag(page, canvas.locator("[data-area-number='2']"), 1 * scale, 48 * scale)  # +0, +50
    expect(page.locator(f"#{first_tab}-value-layout")).to_have_value("free")
    moved = inputs_of(page, a)
    assert (moved[0], moved[2], moved[3]) == (compact[1].x, compact[1].width, compact[1].height)
    assert moved[1] == compact[1].y + 50
    assert inputs_of(page, b) == rect_bounds(compact[0])

    # Over the tab strip: red, with the server's message.
    page.locator(f"#{b}-value-y").fill("100")
    problems = canvas.locator("xpath=..").locator(".rm-editor__problems")
    expect(problems).to_contain_text("エリア 1 がタブの見出しと重なっています")

    # Removing the second tab removes the strip (free layout: the areas stay).
    tab_two = page.locator(f"[data-streamfield-child]:has(> input[name='{second_tab}-deleted'])")
    tab_two.locator("[data-streamfield-action='DELETE']").first.click()
    expect(strip).to_have_count(0)
    expect(problems).to_be_hidden()
    expect(page.get_by_role("group", name="タブ 2 の配置")).to_have_count(0)
    assert inputs_of(page, b) == (0, 100, compact[0].width, compact[0].height)

    # Back to a standard layout (no strip now: the grid starts at the top); typing a bound then
    # switches to 自由 too, the typed value kept and the other area staying where it was.
    layout = page.locator(f"#{first_tab}-value-layout")
    layout.select_option("3x3")
    single = grid_3x3("compact").tiles
    expect(page.locator(f"#{b}-value-y")).to_have_value("0")
    assert inputs_of(page, b) == rect_bounds(single[0])
    assert inputs_of(page, a) == rect_bounds(single[1])
    page.locator(f"#{b}-value-height").fill("200")
    expect(layout).to_have_value("free")
    assert inputs_of(page, b) == (*rect_bounds(single[0])[:3], 200)
    assert inputs_of(page, a) == rect_bounds(single[1])
    assert_drawn_at(canvas.locator("[data-area-number='1']"), (*rect_bounds(single[0])[:3], 200))
    assert page.csp_violations == []
