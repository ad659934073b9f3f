"""Staff roles, departments, two-factor authentication, lockout and idle timeout, over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from wagtail.models import GroupApprovalTask, Page

from home.models import StandardPage
from kairan.oplog.models import OperationLogEntry
from kairan.staff.middleware import LAST_ACTIVITY_KEY
from kairan.staff.models import SecuritySettings
from kairan.staff.permissions import create_department
from kairan.staff.roles import ADMIN, APPROVER, EDITOR, ROLES, VIEWER
from tests.conftest import STAFF_PASSWORD, totp_code

pytestmark = pytest.mark.django_db

ADMIN_HOME = "/admin/"


def login(client: Client, username: str, password: str = STAFF_PASSWORD) -> Any:
    return client.post(reverse("wagtailadmin_login"), {"username": username, "password": password})


def actions() -> list[str]:
    return list(OperationLogEntry.objects.order_by("pk").values_list("action", flat=True))


def test_roles_exist_and_wagtail_workflow_is_approved_by_approvers() -> None:
    names = set(Group.objects.values_list("name", flat=True))
    assert set(ROLES) <= names
    assert not {"Editors", "Moderators"} & names
    task = GroupApprovalTask.objects.first()
    assert task is not None
    assert list(task.groups.values_list("name", flat=True)) == [APPROVER]


def test_role_baseline_permissions(make_staff: Any) -> None:
    admin = make_staff("kanri", ADMIN)
    viewer = make_staff("etsuran", VIEWER)
    editor = make_staff("tanto", EDITOR)
    assert admin.has_perm("auth.add_user")
    assert admin.has_perm("oplog.view_operationlogentry")
    assert viewer.has_perm("wagtailadmin.access_admin")
    assert viewer.has_perm("wagtailimages.view_image") or viewer.has_perm("wagtaildocs.view_document")
    assert not viewer.has_perm("auth.view_user")
    assert not viewer.has_perm("oplog.view_operationlogentry")
    root = Page.objects.get(depth=2)
    assert not root.permissions_for_user(editor).can_edit()
    assert not root.permissions_for_user(viewer).can_edit()
    assert root.permissions_for_user(admin).can_publish()


def test_department_scopes_page_editing(make_staff: Any) -> None:
    home = Page.objects.get(depth=2)
    bousai = home.add_child(instance=StandardPage(title="防災・安全", slug="bousai"))
    kosodate = home.add_child(instance=StandardPage(title="子育て", slug="kosodate"))
    create_department(name="防災課", section=bousai)
    create_department(name="子育て支援課", section=kosodate)
    editor = make_staff("bousai-tanto", EDITOR, "防災課")
    approver = make_staff("shonin", APPROVER)
    assert bousai.permissions_for_user(editor).can_edit()
    assert not bousai.permissions_for_user(editor).can_publish()
    assert not kosodate.permissions_for_user(editor).can_edit()
    assert kosodate.permissions_for_user(approver).can_publish()
    assert editor.has_perm("wagtailimages.add_image")


def test_create_department_command_and_refusals(capsys: Any) -> None:
    home = Page.objects.get(depth=2)
    call_command("create_department", "建設課", "--page-id", str(home.pk))
    assert "建設課" in capsys.readouterr().out
    assert Group.objects.filter(name="建設課").exists()
    with pytest.raises(Exception, match="役割の名前"):
        call_command("create_department", EDITOR)
    with pytest.raises(Exception, match="見つかりません"):
        call_command("create_department", "水道課", "--page-id", "99999")


def test_system_admin_must_enrol_totp_then_verify_each_login(make_staff: Any, client: Client) -> None:
    make_staff("kanri", ADMIN, superuser=True)
    response = login(client, "kanri")
    assert response.status_code == 302
    response = client.get(ADMIN_HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("kairan_mfa_setup"))

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body and "data-kairan-secret" in body

    wrong = client.post(reverse("kairan_mfa_setup"), {"token": "000000", "next": ADMIN_HOME})
    assert "認証コードが正しくありません" in wrong.content.decode()
    device = TOTPDevice.objects.get(user__username="kanri")
    assert not device.confirmed

    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device.confirmed = True  # totp_code() reads confirmed devices; the form confirms it for real
    from django_otp.oath import TOTP

    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
    ok = client.post(reverse("kairan_mfa_setup"), {"token": code, "next": ADMIN_HOME})
    assert ok.status_code == 302 and ok["Location"] == ADMIN_HOME
    assert client.get(ADMIN_HOME).status_code == 200
    assert TOTPDevice.objects.get(pk=device.pk).confirmed

    client.post(reverse("wagtailadmin_logout"))
    login(client, "kairan")
    login(client, "kanri")
    response = client.get(ADMIN_HOME)
    assert response["Location"].startswith(reverse("kairan_mfa_verify"))
    # The code just used cannot be replayed; wait for the next one.
    time.sleep(max(0, device.step - (time.time() - device.t0) % device.step) + 0.5)
    user = User.objects.get(username="kanri")
    verified = client.post(reverse("kairan_mfa_verify"), {"token": totp_code(user), "next": ADMIN_HOME})
    assert verified.status_code == 302
    assert client.get(ADMIN_HOME).status_code == 200
    log = actions()
    for expected in (
        "kairan.login",
        "kairan.mfa.failed",
        "kairan.mfa.enrolled",
        "kairan.logout",
        "kairan.mfa.verified",
    ):
        assert expected in log


def test_mfa_optional_for_other_roles_unless_required(make_staff: Any, client: Client) -> None:
    make_staff("tanto", EDITOR)
    login(client, "tanto")
    assert client.get(ADMIN_HOME).status_code == 200
    settings = SecuritySettings.load()
    settings.mfa_required_for_all = True
    settings.save()
    response = client.get(ADMIN_HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("kairan_mfa_setup"))


def test_system_admin_can_reset_someone_elses_mfa(make_staff: Any, client: Client) -> None:
    admin = make_staff("kanri", ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="a", confirmed=True)
    target = make_staff("tanto", EDITOR)
    TOTPDevice.objects.create(user=target, name="b", confirmed=True)
    login(client, "kanri")
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(admin), "next": ADMIN_HOME})
    edit = client.get(reverse("wagtailusers_users:edit", args=[target.pk]))
    assert reverse("kairan_mfa_reset", args=[target.pk]) in edit.content.decode()
    response = client.post(reverse("kairan_mfa_reset", args=[target.pk]))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert "kairan.mfa.reset" in actions()


def test_reset_refused_to_non_admins(make_staff: Any, client: Client) -> None:
    make_staff("tanto", EDITOR)
    target = make_staff("other", EDITOR)
    TOTPDevice.objects.create(user=target, name="b", confirmed=True)
    login(client, "tanto")
    response = client.post(reverse("kairan_mfa_reset", args=[target.pk]))
    # Wagtail turns PermissionDenied in admin views into a redirect with an error message.
    assert response.status_code in (302, 403)
    assert response.get("Location", "") != reverse("wagtailusers_users:edit", args=[target.pk])
    assert TOTPDevice.objects.filter(user=target).exists()
    assert "kairan.mfa.reset" not in actions()


def test_lockout_after_repeated_failures(make_staff: Any, client: Client, settings: Any) -> None:
    make_staff("tanto", EDITOR)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, "tanto", "wrong-password-1")
    response = login(client, "tanto")  # the right password no longer helps
    assert response.status_code == 429
    assert "ログインが一時的に制限されています" in response.content.decode()
    assert client.get(ADMIN_HOME).status_code == 302
    assert actions().count("kairan.login_failed") >= settings.AXES_FAILURE_LIMIT


def test_idle_session_times_out(make_staff: Any, client: Client, settings: Any) -> None:
    make_staff("tanto", EDITOR)
    login(client, "tanto")
    assert client.get(ADMIN_HOME).status_code == 200
    session = client.session
    session[LAST_ACTIVITY_KEY] = time.time() - settings.KAIRAN_IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    response = client.get(ADMIN_HOME)
    assert response.status_code == 302
    assert "timeout=1" in response["Location"]
    notice = client.get(response["Location"])
    assert "自動的にログアウトしました" in notice.content.decode()
    assert client.get(ADMIN_HOME).status_code == 302
    assert "kairan.session_timeout" in actions()


def test_background_pings_do_not_keep_a_session_alive(make_staff: Any, client: Client) -> None:
    make_staff("tanto", EDITOR)
    login(client, "tanto")
    client.get(ADMIN_HOME)
    before = client.session[LAST_ACTIVITY_KEY]
    time.sleep(0.01)
    home_page = Page.objects.get(depth=2)
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(Page)
    client.post(reverse("wagtailadmin_editing_sessions:ping", args=["wagtailcore", "page", home_page.pk, 0]))
    assert client.session[LAST_ACTIVITY_KEY] == before
    assert ct is not None


def test_password_policy_and_argon2(make_staff: Any) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1A!", "abcdefghijklmn", "12345678901234", "alllowercase12"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("Ofunato-kamome-2026")
    user = make_staff("tanto", EDITOR)
    assert user.password.startswith("argon2")
