"""チャットボット in the admin: the scenario map (シナリオマップ), with the helpers the other chatbot
screens share (``views_preview``, ``views_testers``, ``views_unanswered``, ``views_transfer``).

The map draws a subtree of answer pages as nested boxes (CSS lines, no script) with each page's
state, keywords and extra choices, and flags two mistakes the page editor cannot see:

- 行き止まり: the answer asks the resident to choose but offers no published choice, or one of its
  extra choices leads to a page that is gone or unpublished;
- 到達できない: a published page no resident can reach: nothing leads to it from the conversation's
  entrances (the top, greeting and fallback pages, keywords, rich menu areas, and, while the bot
  answers free text, pages written to be found by it: with phrasings, or imported from the city's
  website) through published pages' children and extra choices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView
from wagtail.admin.auth import user_has_any_page_permission
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.models import Page, Revision

from chatbot.models import AnswerKeyword, AnswerPage, ChatbotSettings
from kairan.manual.help import HelpLinkMixin

HOME_CRUMB = WagtailAdminTemplateMixin.breadcrumbs_items[0]
ASK_TO_CHOOSE = "選んでください"
_TRAILING = "。．.！!　 \n"
DEAD_END = "行き止まり"
UNREACHABLE = "到達できない"


# --- shared helpers ------------------------------------------------------------------------------------


def can_use_pages(user: Any) -> bool:
    """Staff who work with pages (any page permission): the map, the preview, import and export."""
    return bool(user_has_any_page_permission(user))


def live_top_id(config: ChatbotSettings) -> int | None:
    """The top page as the bot uses it (「最初に戻る」 only leads to a published top page)."""
    top = config.top_page
    return top.pk if top is not None and top.live else None


def map_url(page: Page | int | None = None) -> str:
    url = reverse("chatbot_admin:map")
    page_id = page.pk if isinstance(page, Page) else page
    return f"{url}?page={page_id}" if page_id else url


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go back to after an action: the ``next`` the form sent, if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def answer_page_or_404(pk: int) -> AnswerPage:
    page = AnswerPage.objects.filter(pk=pk).first()
    if page is None:
        raise Http404
    return page


# --- the analysis --------------------------------------------------------------------------------------


def _page_choice_ids(raw_choices: Iterable[Any]) -> Iterator[tuple[str, int | None]]:
    """(label, page id) of the extra choices that open a page (raw StreamField data)."""
    for item in raw_choices or []:
        if isinstance(item, dict) and item.get("type") == "page":
            value = item.get("value") or {}
            target = value.get("page")
            yield str(value.get("label") or ""), int(str(target)) if str(target or "").isdigit() else None


def rich_menu_page_ids() -> set[int]:
    """Pages that an area of a published rich menu set opens."""
    from richmenus.models import MenuSet

    found: set[int] = set()
    for menu_set in MenuSet.objects.filter(live=True).only("pk", "tabs"):
        for tab in menu_set.tabs.raw_data or []:
            for item in ((tab or {}).get("value") or {}).get("areas") or []:
                area = item.get("value") if isinstance(item, dict) and "value" in item else item
                if (
                    isinstance(area, dict)
                    and area.get("action") == "page"
                    and str(area.get("page")).isdigit()
                ):
                    found.add(int(area["page"]))
    return found


def reachable_page_ids(config: ChatbotSettings) -> set[int]:
    """The published answer pages a resident can reach: from the entrances, through the published
    children and extra choices of pages already reached."""
    live = {
        page.pk: page
        for page in AnswerPage.objects.live().only("pk", "path", "extra_choices", "phrasings", "source_url")
    }
    children: dict[str, list[int]] = defaultdict(list)
    for page in live.values():
        children[page.path[: -Page.steplen]].append(page.pk)
    entrances = {config.top_page_id, config.greeting_page_id, config.fallback_page_id}
    entrances |= set(AnswerKeyword.objects.filter(page__live=True).values_list("page_id", flat=True))
    entrances |= rich_menu_page_ids()
    if config.answer_free_text:  # (the search may answer with any page; these are meant for it)
        entrances |= {pk for pk, page in live.items() if page.phrasings.strip() or page.source_url}
    reached: set[int] = set()
    todo = [pk for pk in entrances if pk in live]
    while todo:
        pk = todo.pop()
        if pk in reached:
            continue
        reached.add(pk)
        page = live[pk]
        todo += children.get(page.path, [])
        todo += [target for _, target in _page_choice_ids(page.extra_choices.raw_data) if target in live]
    return reached


def _asks_to_choose(page: AnswerPage) -> bool:
    if (page.choice_prompt or "").strip():
        return True
    body = list(page.body.raw_data or [])
    last = body[-1] if body else None
    if not isinstance(last, dict) or last.get("type") != "text":
        return False
    return str(last.get("value") or "").rstrip(_TRAILING).endswith(ASK_TO_CHOOSE)


@dataclass
class Flag:
    label: str
    detail: str
    code: str


@dataclass
class Extra:
    label: str
    kind: str  # page, url, phone
    target: str
    href: str = ""
    problem: str = ""


@dataclass
class Node:
    page: AnswerPage
    shown: AnswerPage  # the latest revision
    state: str
    roles: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    can_edit: bool = False

    @property
    def badges(self) -> list[Flag]:
        """One flag per kind (a page may be a dead end for two reasons)."""
        first: dict[str, Flag] = {}
        for flag in self.flags:
            first.setdefault(flag.code, flag)
        return list(first.values())

    @property
    def label_differs(self) -> bool:
        return self.shown.choice_label != self.shown.title

    @property
    def style(self) -> str:
        style = self.shown.choice_style
        return "" if style == "auto" else str(self.shown.get_choice_style_display())


def state_label(page: AnswerPage) -> str:
    if page.expired:
        return "公開終了"
    if not page.live:
        return "下書き"
    return "公開中（未公開の変更あり）" if page.has_unpublished_changes else "公開中"


def _latest(pages: list[AnswerPage]) -> dict[int, AnswerPage]:
    """Each page's latest revision as a page (one query for the revisions)."""
    wanted = {page.latest_revision_id: page for page in pages if page.has_unpublished_changes}
    found = {page.pk: page for page in pages}
    for revision in Revision.objects.filter(pk__in=[pk for pk in wanted if pk]):
        page = wanted[revision.pk]
        found[page.pk] = page.with_content_json(revision.content)
    return found


@dataclass
class ScenarioMap:
    root: Node
    nodes: list[Node]

    @property
    def problems(self) -> list[Node]:
        return [node for node in self.nodes if node.flags]


def build_map(root: AnswerPage, *, user: Any) -> ScenarioMap:
    """The subtree under ``root`` with its flags."""
    config = ChatbotSettings.load()
    pages = list(
        AnswerPage.objects.descendant_of(root, inclusive=True).order_by("path").prefetch_related("keywords")
    )
    shown = _latest(pages)
    reached = reachable_page_ids(config)
    targets: dict[int, list[tuple[str, int | None]]] = {
        page.pk: list(_page_choice_ids(shown[page.pk].extra_choices.raw_data)) for page in pages
    }
    wanted = {target for found in targets.values() for _, target in found if target}
    target_pages = {page.pk: page for page in Page.objects.filter(pk__in=wanted).specific(defer=True)}
    in_map = {page.pk for page in pages}
    roles = {
        config.top_page_id: "最初のページ",
        config.greeting_page_id: "友だち追加のあいさつ",
        config.fallback_page_id: "答えが見つからないとき",
    }
    by_path: dict[str, Node] = {}
    nodes: list[Node] = []
    for page in pages:
        latest = shown[page.pk]
        node = Node(
            page=page,
            shown=latest,
            state=state_label(page),
            roles=[role for pk, role in roles.items() if pk == page.pk],
            keywords=[f"{word.text}（{word.get_match_display()}）" for word in latest.keywords.all()],
            can_edit=page.permissions_for_user(user).can_edit(),
        )
        node.extras = _extras(latest, targets[page.pk], target_pages, in_map)
        nodes.append(node)
        by_path[page.path] = node
        if parent := by_path.get(page.path[: -Page.steplen]):
            parent.children.append(node)
    for node in nodes:
        node.flags = _flags(node, reached)
    return ScenarioMap(root=nodes[0], nodes=nodes)


def _extras(
    page: AnswerPage, page_targets: list[tuple[str, int | None]], pages: dict[int, Page], in_map: set[int]
) -> list[Extra]:
    found = []
    targets = iter(page_targets)
    for item in page.extra_choices.raw_data or []:
        kind = item.get("type") if isinstance(item, dict) else None
        value = (item.get("value") if isinstance(item, dict) else None) or {}
        label = str(value.get("label") or "")
        if kind == "page":
            _, target_id = next(targets)
            target = pages.get(target_id) if target_id else None
            if target is None:
                found.append(
                    Extra(label, kind, "（ページがありません）", problem="行き先のページが削除されています。")
                )
                continue
            href = (
                f"#node-{target.pk}"
                if target.pk in in_map
                else (
                    map_url(target)
                    if isinstance(target, AnswerPage)
                    else reverse("wagtailadmin_pages:edit", args=[target.pk])
                )
            )
            problem = "" if target.live else "行き先のページが公開されていません。"
            found.append(Extra(label, kind, target.title, href=href, problem=problem))
        elif kind == "url":
            found.append(Extra(label, kind, str(value.get("url") or ""), href=str(value.get("url") or "")))
        elif kind == "phone":
            found.append(Extra(label, kind, f"電話 {value.get('number') or ''}"))
    return found


def _flags(node: Node, reached: set[int]) -> list[Flag]:
    flags = []
    live_children = [child for child in node.children if child.page.live]
    live_extras = [extra for extra in node.extras if not extra.problem]
    if _asks_to_choose(node.shown) and not live_children and not live_extras:
        flags.append(
            Flag(
                DEAD_END,
                "選ぶように案内していますが、公開中の選択肢（子ページ・追加の選択肢）がありません。",
                "dead-end",
            )
        )
    for extra in node.extras:
        if extra.problem:
            flags.append(Flag(DEAD_END, f"追加の選択肢「{extra.label}」: {extra.problem}", "dead-end"))
    if node.page.live and node.page.pk not in reached:
        flags.append(
            Flag(
                UNREACHABLE,
                "公開中ですが、住民がたどり着けません（最初のページから公開中のページでつながっておらず、"
                "キーワード・あいさつ・リッチメニュー・ほかのページの選択肢からも開けません）。",
                "unreachable",
            )
        )
    return flags


def scenario_roots() -> list[AnswerPage]:
    """The answer pages whose parent is not an answer page: where scenarios start."""
    pages = list(AnswerPage.objects.order_by("path").only("pk", "path", "title", "draft_title", "live"))
    paths = {page.path for page in pages}
    return [page for page in pages if page.path[: -Page.steplen] not in paths]


# --- the views -----------------------------------------------------------------------------------------


class ScenarioMapView(HelpLinkMixin, WagtailAdminTemplateMixin, TemplateView):
    """シナリオマップ: ``?page=<id>`` (default: the top page of the settings)."""

    template_name = "chatbot/map.html"
    page_title = "シナリオマップ"
    header_icon = "site"
    help_page = "chatbot"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not can_use_pages(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self) -> list[dict[str, str]]:
        return [HOME_CRUMB, {"url": "", "label": "シナリオマップ"}]

    def root(self) -> AnswerPage | None:
        wanted = self.request.GET.get("page", "")
        if wanted.isdigit():
            return answer_page_or_404(int(wanted))
        config = ChatbotSettings.load()
        if config.top_page is not None:
            return config.top_page
        roots = scenario_roots()
        return roots[0] if roots else None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from deliveries.models import Tester

        context = super().get_context_data(**kwargs)
        root = self.root()
        config = ChatbotSettings.load()
        context.update(
            root_page=root,
            scenario=build_map(root, user=self.request.user) if root is not None else None,
            roots=scenario_roots(),
            top_missing=live_top_id(config) is None,
            tester_count=len(Tester.line_user_ids()),
            settings_url=reverse("wagtailsettings:edit", args=["chatbot", "chatbotsettings"]),
            transfer_url=reverse("chatbot_admin:transfer"),
            here=self.request.get_full_path(),
        )
        if root is not None:
            context["ancestors"] = list(AnswerPage.objects.ancestor_of(root).order_by("path"))
        return context
