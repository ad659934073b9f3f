"""The operation log: what is recorded, the hash chain and its verification,
retention, the report screens with their filters and exports, the access log."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from kairan.oplog.chain import verify_chain
from kairan.oplog.middleware import OperationContextMiddleware
from kairan.oplog.models import AccessLogEntry, OperationLogChain, OperationLogEntry
from kairan.oplog.services import purge_access_log, purge_operation_log, record
from kairan.staff.models import SecuritySettings
from kairan.staff.roles import ADMIN, EDITOR, VIEWER
from tests.conftest import STAFF_PASSWORD, totp_code

pytestmark = pytest.mark.django_db

OPLOG = "/admin/reports/operation-log/"
ACCESS_LOG = "/admin/reports/access-log/"


def admin_client(make_staff: Any, client: Client, username: str = "kanri") -> User:
    admin: User = make_staff(username, ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    client.post(reverse("wagtailadmin_login"), {"username": username, "password": STAFF_PASSWORD})
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(admin), "next": "/admin/"})
    return admin


def last(action: str) -> OperationLogEntry:
    return OperationLogEntry.objects.filter(action=action).order_by("-sequence").first()  # type: ignore[return-value]


def table_of(response: Any) -> str:
    """The results table of a report page (filters list every label too)."""
    body: str = response.content.decode()
    start = body.find('<table class="listing')
    return body[start : body.find("</table>", start)] if start >= 0 else ""


def sql_update(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- The chain -----------------------------------------------------------------


def test_entries_link_into_a_verifiable_chain() -> None:
    first = record(action="kairan.login", username="a", data={"note": "大船渡"})
    second = record(action="kairan.logout", username="a")
    assert second.prev_hash == first.hash
    assert second.sequence == first.sequence + 1
    result = verify_chain()
    assert result.ok, result.describe()
    head = OperationLogChain.objects.get(pk=1)
    assert (head.last_sequence, head.last_hash) == (second.sequence, second.hash)


def test_altered_row_is_named_by_the_verification_command(capsys: Any) -> None:
    for n in range(5):
        record(action="kairan.write.update", username="tanto", object_label=f"ページ{n}")
    call_command("verify_oplog")
    assert "正常" in capsys.readouterr().out
    victim = OperationLogEntry.objects.order_by("sequence")[2]
    table = OperationLogEntry._meta.db_table
    sql_update(f"UPDATE {table} SET username = %s WHERE id = %s", ["someone-else", victim.pk])
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_oplog")
    message = str(excinfo.value)
    assert f"ID {victim.pk}、通し番号 {victim.sequence}" in message
    assert "書き換えられています" in message
    head = OperationLogChain.objects.get(pk=1)
    assert head.verified_ok is False and f"ID {victim.pk}" in head.verified_message


def test_deleted_and_truncated_rows_are_detected() -> None:
    entries = [record(action="kairan.login", username=f"u{n}") for n in range(6)]
    OperationLogEntry.objects.filter(pk=entries[2].pk).delete()
    result = verify_chain()
    assert not result.ok and result.problem is not None
    assert result.problem.sequence == entries[3].sequence
    assert "削除" in result.problem.reason

    OperationLogEntry.objects.filter(pk__in=[e.pk for e in entries[:6]]).delete()
    record(action="kairan.login", username="fresh")  # links to the head, but the history is gone
    assert not verify_chain().ok


def test_replaced_row_with_recomputed_hash_breaks_the_next_link() -> None:
    from kairan.oplog.chain import HASHED_FIELDS, entry_hash

    entries = [record(action="kairan.login", username=f"u{n}") for n in range(3)]
    forged = OperationLogEntry.objects.get(pk=entries[1].pk)
    forged.username = "intruder"
    forged.hash = entry_hash(forged.prev_hash, {f: getattr(forged, f) for f in HASHED_FIELDS})
    forged.save()
    result = verify_chain()
    assert result.problem is not None and result.problem.entry_id == entries[2].pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_stay_linear() -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                record(action="kairan.write.update", username=f"w{n}", object_label=str(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(OperationLogEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert len(sequences) >= 40
    assert verify_chain().ok


def test_retention_purge_keeps_the_chain_verifiable(settings: Any) -> None:
    old = [record(action="kairan.login", username="old") for _ in range(3)]
    OperationLogEntry.objects.filter(pk__in=[e.pk for e in old]).update(
        timestamp=timezone.now() - timedelta(days=settings.KAIRAN_OPLOG_RETENTION_DAYS + 1)
    )
    # The timestamps were changed behind the chain's back: re-hash them as if written then.
    from kairan.oplog.chain import HASHED_FIELDS, entry_hash

    prev = OperationLogChain.objects.get(pk=1).anchor_hash
    for entry in OperationLogEntry.objects.order_by("sequence"):
        entry.prev_hash = prev
        entry.hash = entry_hash(prev, {f: getattr(entry, f) for f in HASHED_FIELDS})
        entry.save()
        prev = entry.hash
    OperationLogChain.objects.filter(pk=1).update(last_hash=prev)
    kept = record(action="kairan.login", username="recent")
    assert verify_chain().ok

    assert purge_operation_log() == 3
    assert purge_operation_log() == 0  # idempotent
    assert not OperationLogEntry.objects.filter(username="old").exists()
    assert OperationLogEntry.objects.filter(pk=kept.pk).exists()
    assert last("kairan.oplog.purged").data["deleted"] == 3
    assert verify_chain().ok
    assert OperationLogChain.objects.get(pk=1).anchor_sequence == old[-1].sequence


def test_access_log_purge(settings: Any) -> None:
    now = timezone.now()
    for days in (1, settings.KAIRAN_ACCESS_LOG_RETENTION_DAYS + 2):
        AccessLogEntry.objects.create(
            timestamp=now - timedelta(days=days), method="GET", path="/admin/", status=200, duration_ms=1
        )
    assert purge_access_log(batch=1) == 1
    assert AccessLogEntry.objects.count() == 1
    assert last("kairan.oplog.purged").object_label == "アクセスログ"


# --- What gets recorded ------------------------------------------------------------


def test_login_logout_and_failures_are_recorded_with_address(make_staff: Any, client: Client) -> None:
    make_staff("tanto", EDITOR)
    client.post(
        reverse("wagtailadmin_login"),
        {"username": "tanto", "password": "wrong-Password-1"},
        REMOTE_ADDR="10.1.2.3",
    )
    failed = last("kairan.login_failed")
    assert (failed.username, failed.ip_address, failed.category) == ("tanto", "10.1.2.3", "auth")
    assert failed.actor_id is None
    client.post(
        reverse("wagtailadmin_login"),
        {"username": "tanto", "password": STAFF_PASSWORD},
        REMOTE_ADDR="10.1.2.3",
    )
    login = last("kairan.login")
    assert login.username == "tanto" and login.actor_id is not None and login.ip_address == "10.1.2.3"
    client.post(reverse("wagtailadmin_logout"), REMOTE_ADDR="10.1.2.3")
    assert last("kairan.logout").username == "tanto"


def test_lockout_is_recorded(make_staff: Any, client: Client, settings: Any) -> None:
    make_staff("tanto", EDITOR)
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        client.post(reverse("wagtailadmin_login"), {"username": "tanto", "password": "wrong-Password-1"})
    assert last("kairan.locked_out").username == "tanto"


def test_staff_created_in_admin_is_logged_with_its_object(make_staff: Any, client: Client) -> None:
    admin = admin_client(make_staff, client)
    department = Group.objects.create(name="防災課")
    response = client.post(
        reverse("wagtailusers_users:add"),
        {
            "username": "sato",
            "email": "sato@city.example.jp",
            "first_name": "花子",
            "last_name": "佐藤",
            "password1": "Sanriku-umi-2026",
            "password2": "Sanriku-umi-2026",
            "is_active": "on",
            "groups": [Group.objects.get(name=EDITOR).pk, department.pk],
        },
        REMOTE_ADDR="192.0.2.10",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    sato = User.objects.get(username="sato")
    entry = OperationLogEntry.objects.filter(object_type="auth.user", object_id=str(sato.pk)).first()
    assert entry is not None
    assert entry.action == "wagtail.create"
    assert entry.username == admin.username and entry.ip_address == "192.0.2.10"
    assert entry.category == "write"
    assert "sato" in entry.object_label or "佐藤" in entry.object_label
    assert verify_chain().ok


def test_settings_change_is_a_settings_entry(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    settings_pk = SecuritySettings.load().pk
    url = reverse("wagtailsettings:edit", args=["staff", "securitysettings", settings_pk])
    response = client.post(url, {"mfa_required_for_all": "on"})
    assert response.status_code == 302
    assert SecuritySettings.load().mfa_required_for_all
    entry = OperationLogEntry.objects.filter(category="settings").order_by("-sequence").first()
    assert entry is not None and entry.object_type == "staff.securitysettings"
    assert entry.username == "kanri"


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # the collector waits for the write's commit
def test_writes_wagtail_does_not_log_are_caught_by_the_middleware(make_staff: Any) -> None:
    editor = make_staff("tanto", EDITOR)

    def view(request: HttpRequest) -> HttpResponse:
        Group.objects.create(name="臨時グループ")
        return HttpResponse("ok")

    request = RequestFactory().post("/admin/somewhere/", REMOTE_ADDR="198.51.100.7")
    request.user = editor
    request.session = {}  # type: ignore[assignment]
    OperationContextMiddleware(view)(request)
    entry = last("kairan.write.create")
    assert entry.object_type == "auth.group" and entry.object_label == "臨時グループ"
    assert (entry.username, entry.ip_address, entry.path) == ("tanto", "198.51.100.7", "/admin/somewhere/")

    def quiet_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    OperationContextMiddleware(quiet_view)(request)
    assert last("kairan.admin.post").data == {"status": 200}


# --- The report screens ------------------------------------------------------------


def test_report_filters_by_period_staff_kind_and_keyword(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    other = make_staff("tanaka", EDITOR)
    old = record(action="kairan.write.update", user=other, object_label="古い記事")
    OperationLogEntry.objects.filter(pk=old.pk).update(timestamp=timezone.now() - timedelta(days=40))
    record(action="kairan.write.update", user=other, object_label="新しい避難所情報")

    body = table_of(client.get(OPLOG))
    assert "新しい避難所情報" in body and "古い記事" in body
    today = timezone.localdate()
    period = {"period_from": (today - timedelta(days=7)).isoformat(), "period_to": today.isoformat()}
    recent = table_of(client.get(OPLOG, period))
    assert "新しい避難所情報" in recent and "古い記事" not in recent
    by_staff = table_of(client.get(OPLOG, {"staff": other.pk}))
    assert "新しい避難所情報" in by_staff and "二要素認証の成功" not in by_staff
    by_kind = table_of(client.get(OPLOG, {"category": "mfa"}))
    assert "二要素認証の成功" in by_kind and "新しい避難所情報" not in by_kind
    by_word = table_of(client.get(OPLOG, {"keyword": "避難所"}))
    assert "新しい避難所情報" in by_word and "古い記事" not in by_word


def test_exports_csv_utf8_bom_cp932_and_xlsx(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    record(action="kairan.write.update", username="x", object_label='=HYPERLINK("http://evil.example")')

    response = client.get(OPLOG, {"export": "csv", "encoding": "utf-8"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["通し番号", "日時", "職員"]
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)
    export = last("kairan.export")
    assert export.category == "export" and export.data["format"] == "csv-utf-8"
    assert export.object_label == "操作ログ"

    sjis = client.get(OPLOG, {"export": "csv", "encoding": "cp932", "keyword": "HYPERLINK"})
    assert sjis.status_code == 200 and "shift_jis" in sjis["Content-Type"]
    assert "HYPERLINK" in sjis.content.decode("cp932")

    record(action="kairan.write.update", username="x", object_label="𠮷野家のお知らせ")
    refused = client.get(OPLOG, {"export": "csv", "encoding": "cp932"}, follow=True)
    assert refused.redirect_chain and "export" not in refused.redirect_chain[-1][0]
    assert "「𠮷」" in refused.content.decode() and "UTF-8 で出力してください" in refused.content.decode()

    xlsx = client.get(OPLOG, {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet["A1"].value == "通し番号"


def test_reports_are_for_system_admins_only(make_staff: Any, client: Client) -> None:
    make_staff("etsuran", VIEWER)
    client.post(reverse("wagtailadmin_login"), {"username": "etsuran", "password": STAFF_PASSWORD})
    assert client.get("/admin/").status_code == 200
    for url in (OPLOG, ACCESS_LOG):
        response = client.get(url)
        assert response.status_code in (302, 403)
        assert client.get(url, {"export": "csv"}).status_code in (302, 403)
    assert "操作ログ" not in client.get("/admin/").content.decode()


def test_access_log_records_staff_requests(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    client.get("/admin/pages/", REMOTE_ADDR="203.0.113.9")
    client.get("/admin/does-not-exist/", REMOTE_ADDR="203.0.113.9")
    entry = AccessLogEntry.objects.filter(path="/admin/pages/").first()
    assert entry is not None and (entry.username, entry.status, entry.ip_address) == (
        "kanri",
        200,
        "203.0.113.9",
    )
    assert AccessLogEntry.objects.filter(path="/admin/does-not-exist/", status=404).exists()
    body = table_of(client.get(ACCESS_LOG, {"status": "client"}))
    assert "/admin/does-not-exist/" in body and "/admin/pages/" not in body
    response = client.get(ACCESS_LOG, {"export": "csv", "encoding": "utf-8"})
    assert "/admin/pages/" in b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]


def test_verify_button_shows_the_result(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    response = client.get(reverse("kairan_oplog:verify"), follow=True)
    assert "ハッシュチェーンは正常です" in response.content.decode()
    assert 'data-kairan-chain-status="ok"' in response.content.decode()
