"""Baseline permissions of the staff roles, and departments (部署).

Roles are Wagtail groups created by this app's data migration. Their baseline
permissions are (re)applied after every ``migrate`` so that models added by
later features are covered; permissions are only ever added, so what a
システム管理者 grants on top in the admin is kept.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

from kairan.staff.roles import ADMIN, APPROVER, EDITOR, ROLES, VIEWER

# Read access that 閲覧者 and 承認者 do not get: staff accounts, security
# records and the machinery behind them.
PRIVATE_APPS = ("auth", "axes", "otp_totp", "django_q", "oplog", "sessions", "contenttypes", "staff", "core")
# "view_" permissions that are not a plain read of a screen every reader may see: residents'
# personal data is for the システム管理者 and whom they grant it to.
PRIVATE_VIEW_CODENAMES = ("view_personal_data", "view_unanswered_text")

PAGE_PERMISSIONS = {
    ADMIN: ("add", "bulk_delete", "change", "lock", "publish", "unlock"),
    APPROVER: ("add", "change", "lock", "publish", "unlock"),
}
MEDIA_ACTIONS = {
    ADMIN: ("add", "change", "choose", "delete"),
    APPROVER: ("add", "change", "choose"),
}
DEPARTMENT_PAGE_PERMISSIONS = ("add", "change", "lock")
# Model permissions of product features per role, beyond the "view" every reader gets
# (app label → codenames). 担当者 compose deliveries and may confirm (publish) the ones that need
# no approval; whether one needs approval is decided per delivery (deliveries.services).
_DELIVERY_WORK = (
    "add_delivery",
    "change_delivery",
    "publish_delivery",
    "lock_delivery",
    "unlock_delivery",
    "view_delivery",
    "add_segment",
    "change_segment",
    "view_segment",
    "view_deliveryrun",
)
# リッチメニュー: 担当者 draft and submit menu sets; publishing (what every friend sees) is the
# 承認者' (through the リッチメニューの承認 workflow).
_MENU_DRAFTING = ("add_menuset", "change_menuset", "lock_menuset", "unlock_menuset", "view_menuset")
FEATURE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    APPROVER: {
        "deliveries": _DELIVERY_WORK,
        "richmenus": (*_MENU_DRAFTING, "publish_menuset", "switch_emergency", "view_emergencyswitch"),
        "scraper": ("change_scrapesource", "view_scrapesource"),
        "chatbot": ("view_unansweredquestion", "change_unansweredquestion"),
    },
    EDITOR: {
        "deliveries": _DELIVERY_WORK,
        "richmenus": _MENU_DRAFTING,
        "chatbot": ("view_unansweredquestion", "change_unansweredquestion"),
    },
}
DEPARTMENT_MEDIA_ACTIONS = ("add", "change", "choose", "delete")


def _media_permissions(actions: tuple[str, ...]) -> list[Permission]:
    codenames = [f"{action}_{model}" for action in actions for model in ("image", "document")]
    return list(
        Permission.objects.filter(
            content_type__app_label__in=("wagtailimages", "wagtaildocs"), codename__in=codenames
        )
    )


def _grant_pages(group: Group, page: Page, actions: tuple[str, ...]) -> None:
    for action in actions:
        permission = Permission.objects.get(content_type__app_label="wagtailcore", codename=f"{action}_page")
        GroupPagePermission.objects.get_or_create(group=group, page=page, permission=permission)


def _grant_collection(group: Group, collection: Collection, actions: tuple[str, ...]) -> None:
    for permission in _media_permissions(actions):
        GroupCollectionPermission.objects.get_or_create(
            group=group, collection=collection, permission=permission
        )


@transaction.atomic
def sync_role_permissions() -> None:
    """Give each role group its baseline permissions (idempotent, additive)."""
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    access_admin = Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    view = list(
        Permission.objects.filter(codename__startswith="view_")
        .exclude(content_type__app_label__in=PRIVATE_APPS)
        .exclude(codename__in=PRIVATE_VIEW_CODENAMES)
    )
    groups[ADMIN].permissions.add(*Permission.objects.all())
    groups[APPROVER].permissions.add(access_admin, *view)
    groups[EDITOR].permissions.add(access_admin)
    groups[VIEWER].permissions.add(access_admin, *view)
    for role, apps in FEATURE_PERMISSIONS.items():
        for app_label, codenames in apps.items():
            groups[role].permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )

    root_page = Page.get_first_root_node()
    root_collection = Collection.get_first_root_node()
    for role, actions in PAGE_PERMISSIONS.items():
        if root_page is not None:
            _grant_pages(groups[role], root_page, actions)
    for role, actions in MEDIA_ACTIONS.items():
        if root_collection is not None:
            _grant_collection(groups[role], root_collection, actions)


ACTION_WORDS = {"add": "追加", "change": "変更", "delete": "削除", "view": "閲覧"}


def japanese_permission_names() -> int:
    """Store permission names in Japanese.

    Django writes them in English ("Can add group") and Wagtail's group screen
    shows them as they are stored; return how many were renamed.
    """
    changed = []
    with translation.override("ja"):
        for permission in Permission.objects.select_related("content_type"):
            action, _, model_name = permission.codename.partition("_")
            model = permission.content_type.model_class()
            if action in ACTION_WORDS and model is not None and model_name == model._meta.model_name:
                name = f"{model._meta.verbose_name}の{ACTION_WORDS[action]}"
            else:
                name = gettext(permission.name)
            name = str(name)[:255]
            if name != permission.name:
                permission.name = name
                changed.append(permission)
    Permission.objects.bulk_update(changed, ["name"], batch_size=500)
    return len(changed)


@transaction.atomic
def create_department(*, name: str, section: Page | None = None) -> Group:
    """Create (or complete) a department group with its own collection.

    Members may add and edit pages below ``section`` (publishing goes through
    the 承認者 workflow) and manage images and documents in the collection
    named after the department.
    """
    name = name.strip()
    if not name:
        raise ValueError("部署名を入力してください。")
    if name in ROLES:
        raise ValueError(f"「{name}」は役割の名前です。部署には別の名前を付けてください。")
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    root_collection = Collection.get_first_root_node()
    collection = root_collection.get_children().filter(name=name).first()
    if collection is None:
        collection = root_collection.add_child(instance=Collection(name=name))
    _grant_collection(group, collection, DEPARTMENT_MEDIA_ACTIONS)
    if section is not None:
        _grant_pages(group, section, DEPARTMENT_PAGE_PERMISSIONS)
    return group


def departments() -> list[Group]:
    """Every group that is not a role is a department."""
    return list(Group.objects.exclude(name__in=ROLES).order_by("name"))
