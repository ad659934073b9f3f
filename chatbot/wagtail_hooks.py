"""チャットボット in the Wagtail admin: its menu (シナリオマップ, 未回答の質問, 取り込み・書き出し, 設定),
the screens' URLs, 「テスターに送る」 in an answer page's editor, and 「シナリオマップ」 among an
answer page's buttons in the page listing and header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest
from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.action_menu import ActionMenuItem
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.widgets import Button

from chatbot import views, views_preview, views_testers, views_transfer, views_unanswered
from chatbot.models import AnswerPage
from kairan.core.menu import PermissionMenuItem

urlpatterns = [
    path("map/", views.ScenarioMapView.as_view(), name="map"),
    path("preview/<int:pk>/", views_preview.PreviewView.as_view(), name="preview"),
    path("test/<int:pk>/", views_testers.send_test, name="test"),
    path("unanswered/", views_unanswered.UnansweredView.as_view(), name="unanswered"),
    path(
        "unanswered/results/",
        views_unanswered.UnansweredView.as_view(results_only=True),
        name="unanswered_results",
    ),
    path("unanswered/<int:pk>/answer/", views_unanswered.create_answer, name="unanswered_answer"),
    path(
        "unanswered/<int:pk>/parent/", views_unanswered.ChooseParentView.as_view(), name="unanswered_parent"
    ),
    path("unanswered/<int:pk>/resolve/", views_unanswered.ResolveView.as_view(), name="unanswered_resolve"),
    path("unanswered/<int:pk>/delete/", views_unanswered.DeleteView.as_view(), name="unanswered_delete"),
    path("transfer/", views_transfer.TransferView.as_view(), name="transfer"),
    path("transfer/export/", views_transfer.export, name="export"),
]


@hooks.register("register_admin_urls")
def register_chatbot_urls() -> list[Any]:
    return [path("chatbot/", include((urlpatterns, "chatbot_admin")))]


class PageWorkMenuItem(MenuItem):
    """Shown to staff who work with pages (any page permission)."""

    def is_shown(self, request: HttpRequest) -> bool:
        return views.can_use_pages(request.user)


@hooks.register("register_admin_menu_item")
def register_chatbot_menu() -> MenuItem:
    items: list[MenuItem] = [
        PageWorkMenuItem(
            "シナリオマップ", reverse("chatbot_admin:map"), name="chatbot-map", icon_name="site", order=10
        ),
        PermissionMenuItem(
            "未回答の質問",
            reverse("chatbot_admin:unanswered"),
            name="chatbot-unanswered",
            icon_name="help",
            order=20,
            permissions=(views_unanswered.VIEW,),
        ),
        PageWorkMenuItem(
            "シナリオの取り込み・書き出し",
            reverse("chatbot_admin:transfer"),
            name="chatbot-transfer",
            icon_name="download",
            order=30,
        ),
        PermissionMenuItem(
            "チャットボットの設定",
            reverse("wagtailsettings:edit", args=["chatbot", "chatbotsettings"]),
            name="chatbot-settings",
            icon_name="cog",
            order=40,
            permissions=("chatbot.change_chatbotsettings",),
        ),
    ]
    return SubmenuMenuItem(
        "チャットボット", Menu(items=items), name="chatbot", icon_name="comment", order=265
    )


# --- the page editor and the page listing --------------------------------------------------------------


class SendToTestersMenuItem(ActionMenuItem):
    """「テスターに送る」 in an answer page's action menu: posts the edit form to the test view, which
    sends the latest saved revision (so it says to save first)."""

    name = "action-chatbot-test"
    label = "テスターに送る（保存済みの内容）"
    icon_name = "mobile-alt"
    template_name = "chatbot/action_menu_test.html"

    def is_shown(self, context: Any) -> bool:
        page = context.get("page")
        if context.get("view") != "edit" or not isinstance(page, AnswerPage):
            return False
        return bool(self.get_user_page_permissions_tester(context).can_edit())

    def get_context_data(self, parent_context: Any) -> Any:
        context = super().get_context_data(parent_context)
        page = parent_context["page"]
        context["test_url"] = reverse("chatbot_admin:test", args=[page.pk])
        context["next"] = reverse("wagtailadmin_pages:edit", args=[page.pk])
        return context


@hooks.register("register_page_action_menu_item")
def register_send_to_testers() -> ActionMenuItem:
    return SendToTestersMenuItem(order=70)


def _is_answer_page(page: Any) -> bool:
    return bool(page is not None and issubclass(page.specific_class or type(page), AnswerPage))


@hooks.register("register_page_listing_more_buttons")
def map_listing_button(page: Any, user: Any, next_url: str | None = None) -> Iterator[Button]:
    if _is_answer_page(page):
        yield Button("シナリオマップ", views.map_url(page), icon_name="site", priority=70)


@hooks.register("register_page_header_buttons")
def map_header_button(page: Any, user: Any, view_name: str, next_url: str | None = None) -> Iterator[Button]:
    if _is_answer_page(page):
        yield Button("シナリオマップ", views.map_url(page), icon_name="site", priority=75)
