"""Demo data for `make run`: an Ofunato site, departments and one staff user per role.

Only allowed with KAIRAN_DEMO=1. Safe to run again: existing objects are kept
and the demo passwords are reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from wagtail.models import Page, Site

from home.models import HomePage, StandardPage
from kairan.staff.permissions import create_department
from kairan.staff.roles import ADMIN, APPROVER, EDITOR, VIEWER
from residents.demo import seed_attribute_form


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    departments: tuple[str, ...]
    mfa: bool


DEMO_LOGINS = (
    DemoLogin("admin", "Ofunato-admin-2026", ADMIN, (), True),
    DemoLogin("approver", "Ofunato-approver-2026", APPROVER, ("企画政策課",), False),
    DemoLogin("editor", "Ofunato-editor-2026", EDITOR, ("防災課",), False),
    DemoLogin("viewer", "Ofunato-viewer-2026", VIEWER, (), False),
)

# Department → (section title, slug, lead)
SECTIONS = {
    "防災課": ("防災・安全", "bousai", "避難所、ハザードマップ、防災メールなど、災害への備えの情報です。"),
    "子育て支援課": ("子育て", "kosodate", "妊娠・出産から子育て支援、保育所の情報です。"),
    "健康推進課": ("健康・医療", "kenkou", "健康診断、予防接種、休日当番医の情報です。"),
    "建設課": ("道路・公園", "douro", "道路や公園の不具合の連絡先、工事のお知らせです。"),
    "企画政策課": ("お知らせ", "oshirase", "市からのお知らせと LINE 公式アカウントの使い方です。"),
}

STAFF_NAMES = {
    "admin": ("管理", "太郎"),
    "approver": ("承認", "花子"),
    "editor": ("防災", "一郎"),
    "viewer": ("閲覧", "次郎"),
}


def _home() -> HomePage:
    existing = HomePage.objects.first()
    if existing is not None:
        return existing
    root = Page.get_first_root_node()
    home = root.add_child(
        instance=HomePage(
            title="大船渡市 LINE 公式アカウント",
            slug="ofunato",
            lead="大船渡市の LINE 公式アカウントから開くページです。",
        )
    )
    site = Site.objects.filter(is_default_site=True).first()
    old_root = site.root_page if site else None
    if site is None:
        Site.objects.create(
            hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="大船渡市"
        )
    else:
        site.root_page = home
        site.site_name = "大船渡市"
        site.save()
    if old_root is not None and old_root.specific_class is Page and old_root.depth == 2:
        old_root.delete()  # Wagtail's "Welcome to your new Wagtail site!" placeholder
    return home


def _section(home: HomePage, title: str, slug: str, lead: str) -> StandardPage:
    existing = StandardPage.objects.child_of(home).filter(slug=slug).first()
    if existing is not None:
        return existing
    page = home.add_child(instance=StandardPage(title=title, slug=slug, lead=lead))
    page.save_revision().publish()
    return page


def _user(login: DemoLogin) -> User:
    last, first = STAFF_NAMES[login.username]
    user, _ = User.objects.get_or_create(
        username=login.username,
        defaults={"email": f"{login.username}@demo.kairan.invalid", "last_name": last, "first_name": first},
    )
    user.set_password(login.password)
    user.is_active = True
    user.is_superuser = login.role == ADMIN
    user.save()
    user.groups.add(Group.objects.get(name=login.role), *Group.objects.filter(name__in=login.departments))
    return user


@transaction.atomic
def load_demo() -> list[tuple[DemoLogin, str]]:
    """Create the demo content and staff; return each login with its TOTP secret ('' when none)."""
    if not settings.KAIRAN_DEMO:
        raise ImproperlyConfigured("Demo data can only be loaded with KAIRAN_DEMO=1.")
    home = _home()
    home.save_revision().publish()
    for department, (title, slug, lead) in SECTIONS.items():
        create_department(name=department, section=_section(home, title, slug, lead))
    seed_attribute_form(home)
    result = []
    for login in DEMO_LOGINS:
        user = _user(login)
        secret = ""
        if login.mfa:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="デモ用認証アプリ", confirmed=True)
            from base64 import b32encode

            secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
        result.append((login, secret))
    from deliveries.demo import seed_deliveries

    seed_deliveries(author=User.objects.get(username="editor"))
    from chatbot.demo import seed_chatbot

    seed_chatbot(home=home, publisher=User.objects.get(username="approver"))
    from richmenus.demo import seed_rich_menus

    seed_rich_menus(publisher=User.objects.get(username="approver"))
    return result
