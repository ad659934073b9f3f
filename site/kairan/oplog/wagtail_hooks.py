from __future__ import annotations

from typing import Any

from django.urls import include, path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from kairan.oplog import views

urlpatterns = [
    path("operation-log/", views.OperationLogView.as_view(), name="operation_log"),
    path(
        "operation-log/results/",
        views.OperationLogView.as_view(results_only=True),
        name="operation_log_results",
    ),
    path("operation-log/verify/", views.verify_now, name="verify"),
    path("access-log/", views.AccessLogView.as_view(), name="access_log"),
    path("access-log/results/", views.AccessLogView.as_view(results_only=True), name="access_log_results"),
]


@hooks.register("register_admin_urls")
def register_oplog_urls() -> list[Any]:
    return [path("reports/", include((urlpatterns, "kairan_oplog"), namespace="kairan_oplog"))]


class _PermissionMenuItem(MenuItem):
    def __init__(self, *args: Any, permission: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.permission = permission

    def is_shown(self, request: Any) -> bool:
        return bool(request.user.has_perm(self.permission))


@hooks.register("register_reports_menu_item")
def operation_log_menu_item() -> MenuItem:
    return _PermissionMenuItem(
        "操作ログ",
        reverse("kairan_oplog:operation_log"),
        icon_name="history",
        order=900,
        permission="oplog.view_operationlogentry",
    )


@hooks.register("register_reports_menu_item")
def access_log_menu_item() -> MenuItem:
    return _PermissionMenuItem(
        "アクセスログ",
        reverse("kairan_oplog:access_log"),
        icon_name="list-ul",
        order=901,
        permission="oplog.view_accesslogentry",
    )
