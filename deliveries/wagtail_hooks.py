"""Wagtail admin of 配信: the 配信 menu (配信, 配信グループ, 配信履歴, テスター, 承認のルール), the
delivery and segment snippets, the history screens, the approval guard and the dashboard panel."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import include, path, reverse
from django.utils import timezone
from wagtail import hooks
from wagtail.admin.menu import Menu, MenuItem, SubmenuMenuItem
from wagtail.admin.ui.components import Component
from wagtail.admin.ui.tables import Column, UpdatedAtColumn
from wagtail.snippets.action_menu import PublishMenuItem, SubmitForModerationMenuItem
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from deliveries import services, views_admin, views_history
from deliveries.models import Delivery, DeliveryRun, Segment
from deliveries.views_segments import admin_urls as segment_urls
from kairan.core.menu import PermissionMenuItem

history_urls = [
    path("", views_history.HistoryView.as_view(), name="index"),
    path("results/", views_history.HistoryView.as_view(results_only=True), name="results"),
    path("<int:pk>/", views_history.RunDetailView.as_view(), name="detail"),
    path("<int:pk>/progress/", views_history.run_progress, name="progress"),
    path("<int:pk>/cancel/", views_history.cancel, name="cancel"),
    path("<int:pk>/stop/", views_history.stop, name="stop"),
]


@hooks.register("register_admin_urls")
def register_delivery_urls() -> list[Any]:
    return [
        path("deliveries/history/", include((history_urls, "deliveries_history"))),
        path(
            "deliveries/testers/",
            include(([path("", views_admin.TestersView.as_view(), name="index")], "deliveries_testers")),
        ),
        path(
            "deliveries/delivery/",
            include(([path("<int:pk>/test/", views_admin.send_test, name="test")], "deliveries_admin")),
        ),
        *segment_urls,
    ]


# --- the snippets ---------------------------------------------------------------------------------


def delivery_status(delivery: Delivery) -> str:
    """下書き / 承認待ち / 予約済み / 配信中 / 配信完了 / 一部失敗 / 取消 … as staff say it."""
    if delivery.workflow_in_progress:
        return "承認待ち"
    run = DeliveryRun.objects.filter(delivery=delivery).exclude(kind=DeliveryRun.Kind.TEST).first()
    if not delivery.live:
        return f"下書き（{run.get_state_display()}）" if run is not None else "下書き"
    if run is None:
        return "承認済み"
    label = str(run.get_state_display())
    if delivery.has_unpublished_changes:
        label += "・変更あり"
    return label


def next_or_last_send(delivery: Delivery) -> str:
    run = DeliveryRun.objects.filter(delivery=delivery).exclude(kind=DeliveryRun.Kind.TEST).first()
    return timezone.localtime(run.scheduled_for).strftime("%Y-%m-%d %H:%M") if run else ""


class DeliveryViewSet(SnippetViewSet):
    model = Delivery
    icon = "mail"
    menu_label = "配信"
    list_display = [
        "title",
        Column("status", label="状態", accessor=delivery_status),
        Column("category", label="分類", accessor="get_category_display"),
        Column("department", label="部署"),
        Column("next", label="配信日時（最新）", accessor=next_or_last_send),
        UpdatedAtColumn(),
    ]
    list_filter = ["category", "department", "timing"]
    copy_view_enabled = True


class SegmentViewSet(SnippetViewSet):
    model = Segment
    icon = "group"
    menu_label = "配信グループ"
    list_display = ["name", "description", Column("count", label="いまの人数", accessor=lambda s: _count(s))]


def _count(segment: Segment) -> str:
    from deliveries import audience

    try:
        return f"{audience.count(segment.definition):,} 人"
    except audience.SegmentError:
        return "（条件に誤りがあります）"


delivery_viewset = DeliveryViewSet()
segment_viewset = SegmentViewSet()
register_snippet(delivery_viewset)
register_snippet(segment_viewset)


def _perms(model: str, *actions: str) -> tuple[str, ...]:
    return tuple(f"deliveries.{action}_{model}" for action in actions)


@hooks.register("register_admin_menu_item")
def register_deliveries_menu() -> MenuItem:
    items = [
        (
            "配信",
            reverse(delivery_viewset.get_url_name("list")),
            "mail",
            _perms("delivery", "view", "add", "change"),
        ),
        (
            "配信グループ",
            reverse(segment_viewset.get_url_name("list")),
            "group",
            _perms("segment", "view", "add", "change"),
        ),
        ("配信履歴", reverse("deliveries_history:index"), "history", _perms("deliveryrun", "view")),
        ("テスター", reverse("deliveries_testers:index"), "user", _perms("delivery", "change")),
        (
            "承認のルール",
            reverse("wagtailsettings:edit", args=["deliveries", "deliverysettings"]),
            "tasks",
            _perms("deliverysettings", "change"),
        ),
    ]
    menu = Menu(
        items=[
            PermissionMenuItem(
                label, url, name=f"deliveries-{i}", icon_name=icon, order=i * 10, permissions=perms
            )
            for i, (label, url, icon, perms) in enumerate(items, start=1)
        ]
    )
    return SubmenuMenuItem("配信", menu, name="deliveries", icon_name="mail", order=250)


# --- approval: publishing is approving ------------------------------------------------------------


@hooks.register("before_publish")
def require_approval(request: HttpRequest, instance: Any) -> HttpResponse | None:
    """「配信を確定」 (Wagtail's publish) by the editor: only for deliveries that need no approval.

    A delivery that needs approval is published by the workflow when a 承認者 other than its
    author approves it; the draft just saved stays a draft.
    """
    if not isinstance(instance, Delivery):
        return None
    if services.is_sent_once(instance):
        messages.error(
            request, "この配信は送信済みのため、もう一度確定できません。複製して新しい配信を作ってください。"
        )
        return HttpResponseRedirect(reverse(delivery_viewset.get_url_name("edit"), args=[instance.pk]))
    count = services.audience_count(instance)
    if services.requires_approval(instance, count=count):
        messages.warning(
            request,
            f"下書きを保存しました。この配信（対象 {count:,} 人）は承認が必要です。"
            "「承認を依頼」を押して、作成者以外の承認者に承認してもらってください。",
        )
        return HttpResponseRedirect(reverse(delivery_viewset.get_url_name("edit"), args=[instance.pk]))
    return None


class ConfirmMenuItem(PublishMenuItem):
    """「公開」 of a delivery is sending (or scheduling) it: 「配信を確定（公開）」."""

    label = "配信を確定（公開）"
    # (Wagtail's publish.html prints its own 「公開」, whatever the label)
    template_name = "wagtailsnippets/snippets/action_menu/menu_item.html"


class RequestApprovalMenuItem(SubmitForModerationMenuItem):
    """Wagtail's 「配信の承認に提出する」, named as the 配信の概要 panel and messages name it."""

    def get_context_data(self, parent_context: Any) -> Any:
        context = super().get_context_data(parent_context)
        context["label"] = "承認を依頼"
        return context


@hooks.register("construct_snippet_action_menu")
def rename_publish(menu_items: list[Any], request: HttpRequest, context: dict[str, Any]) -> None:
    """On a delivery, 「公開」 means sending (or scheduling) it, and submitting is 「承認を依頼」: say so.

    The items are replaced, not relabelled: Wagtail shares them between requests (and the submit
    item sets its label from the workflow's name when it renders).
    """
    if context.get("model") is not Delivery:
        return
    replacements = {"action-publish": ConfirmMenuItem, "action-submit": RequestApprovalMenuItem}
    for index, item in enumerate(menu_items):
        replacement = replacements.get(getattr(item, "name", ""))
        if replacement is not None:
            menu_items[index] = replacement(order=item.order)


# --- the dashboard --------------------------------------------------------------------------------


class DeliveriesPanel(Component):
    name = "deliveries"
    order = 120
    template_name = "deliveries/dashboard_panel.html"

    def get_context_data(self, parent_context: Any = None) -> dict[str, Any]:
        now = timezone.now()
        runs = DeliveryRun.objects.exclude(kind=DeliveryRun.Kind.TEST)
        return {
            "upcoming": list(
                runs.filter(state=DeliveryRun.State.SCHEDULED, scheduled_for__gte=now).order_by(
                    "scheduled_for"
                )[:5]
            ),
            "sending": list(runs.filter(state=DeliveryRun.State.SENDING).order_by("scheduled_for")[:5]),
            "recent": list(runs.exclude(finished_at=None).order_by("-finished_at")[:5]),
            "waiting": Delivery.objects.filter(workflow_states__status="in_progress").distinct().count(),
            "history_url": reverse("deliveries_history:index"),
            "list_url": reverse(delivery_viewset.get_url_name("list")),
        }


@hooks.register("construct_homepage_panels")
def add_deliveries_panel(request: HttpRequest, panels: list[Any]) -> None:
    if request.user.has_perm("deliveries.view_deliveryrun"):
        panels.append(DeliveriesPanel())
