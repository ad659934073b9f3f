"""Demo リッチメニュー: Ofunato's everyday 2-tab set (the friends' default) and the emergency set,
both published, so the phone simulator shows a menu as soon as ``make run`` is up (the cluster
publishes them to the emulator)."""

from __future__ import annotations

from typing import Any

from wagtail.models import Page

from richmenus.blocks import TabStreamBlock
from richmenus.models import MenuSet

EVERYDAY = "大船渡市 いつものメニュー"
EMERGENCY = "大船渡市 災害時メニュー"
CITY_URL = "https://www.city.ofunato.iwate.jp/"
CITY_PHONE = "0192-27-3111"


def _area(label: str, icon: str, action: str, **target: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "label": label,
        "icon": icon,
        "x": 0,
        "y": 0,
        "width": 1,
        "height": 1,
        "action": action,
        "page": None,
        "url": "",
        "text": "",
        "tab": None,
        "tel": "",
    }
    value.update(target)
    return value


def _tab(title: str, layout: str, areas: list[dict[str, Any]], chat_bar: str = "メニュー") -> dict[str, Any]:
    return {
        "title": title,
        "chat_bar_text": chat_bar,
        "size": "large",
        "layout": layout,
        "image_source": "generate",
        "image": None,
        "areas": areas,
    }


def _page(slug: str) -> int | None:
    page = Page.objects.filter(slug=slug, live=True).first()
    return page.pk if page is not None else None


def _link(label: str, icon: str, slug: str) -> dict[str, Any]:
    page = _page(slug)
    if page is None:
        return _area(label, icon, "url", url=CITY_URL)
    return _area(label, icon, "page", page=page)


def _chat(label: str, icon: str, slug: str, fallback: str) -> dict[str, Any]:
    """An area that starts a chatbot scenario (its answer page), or sends ``fallback`` as text."""
    from chatbot.demo import answer_page

    page = answer_page(slug)
    return _area(label, icon, "page", page=page) if page else _area(label, icon, "text", text=fallback)


def _everyday() -> list[dict[str, Any]]:
    living = [
        _chat("ごみ・リサイクル", "garbage", "gomi", "ごみの出し方"),
        _chat("子育て", "childcare", "kosodate", "子育て"),
        _chat("健康・検診", "health", "kenko", "健康"),
        _area("予約", "reservation", "text", text="予約"),
        _area("通報", "report", "text", text="道路や公園の不具合を通報する"),
        _area("防災", "disaster", "tab", tab=2),
        _area("観光", "tourism", "url", url=CITY_URL),
        _area("市ホームページ", "homepage", "url", url=CITY_URL),
        _link("受信設定", "settings", "jushin-settei"),
    ]
    safety = [
        _chat("避難所", "shelter", "hinanjo", "避難所"),
        _link("防災情報", "disaster", "bousai"),
        _area("クマ出没", "bear", "text", text="クマ出没情報"),
        _area("気象・河川", "weather", "text", text="気象・河川の情報"),
        _link("道路・公園", "roads", "douro"),
        _link("お知らせ", "notice", "oshirase"),
        _area("安否確認", "safety", "text", text="安否確認"),
        _chat("問い合わせ", "contact", "toiawase", "問い合わせ"),
        _area("アンケート", "survey", "text", text="アンケート"),
        _area("予約", "reservation", "text", text="予約"),
        _area("くらしへ", "homepage", "tab", tab=1),
        _area("市役所に電話", "phone", "tel", tel=CITY_PHONE),
    ]
    return [_tab("くらし", "3x3", living), _tab("防災", "4x3", safety)]


def _emergency() -> list[dict[str, Any]]:
    areas = [
        _chat("避難所", "shelter", "hinanjo", "避難所"),
        _link("防災情報", "disaster", "bousai"),
        _area("安否確認", "safety", "text", text="安否確認"),
        _area("気象・河川", "weather", "text", text="気象・河川の情報"),
        _link("市からのお知らせ", "notice", "oshirase"),
        _area("電話", "phone", "tel", tel=CITY_PHONE),
    ]
    return [_tab("災害", "2x3", areas, chat_bar="災害時メニュー")]


def seed_rich_menus(*, publisher: Any) -> list[MenuSet]:
    """Idempotent: the two sets, published by ``publisher`` (the demo's 承認者)."""
    result = []
    block = TabStreamBlock()
    specs = [
        (EVERYDAY, MenuSet.Purpose.NORMAL, "sea", True, _everyday()),
        (EMERGENCY, MenuSet.Purpose.EMERGENCY, "emergency", False, _emergency()),
    ]
    for name, purpose, theme, is_default, tabs in specs:
        menu_set = MenuSet.objects.filter(name=name).first()
        if menu_set is None:
            value = block.clean(block.to_python([{"type": "tab", "value": tab} for tab in tabs]))
            menu_set = MenuSet(
                name=name, purpose=purpose, theme=theme, is_default=is_default, tabs=value, live=False
            )
            menu_set.save()
            menu_set.save_revision(user=publisher).publish(user=publisher)
        result.append(menu_set)
    return result
