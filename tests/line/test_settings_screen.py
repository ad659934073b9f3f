"""LINE連携設定 over HTTP: saving (secrets encrypted, never shown back), the connection test and the
webhook registration against the emulator, who may use them, the operation log, configure_line and
the demo wiring of ``make run``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from emulator.client import EmulatorControl
from emulator.errors import UNAUTHORIZED
from emulator.server import RunningEmulator
from kairan.oplog.models import OperationLogEntry
from kairan.staff.roles import ADMIN, EDITOR, VIEWER
from line_channel import services_settings
from line_channel.models import LineChannelSettings
from tests.conftest import STAFF_PASSWORD, totp_code

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "Kairan+test/long-lived-token-" + "x" * 120
TEST_URL = "/admin/line/settings/connection-test/"
WEBHOOK_URL = "/admin/line/settings/webhook/"


def admin_client(make_staff: Any, client: Client, username: str = "kanri") -> User:
    admin: User = make_staff(username, ADMIN, superuser=True)
    TOTPDevice.objects.create(user=admin, name="認証アプリ", confirmed=True)
    client.post(reverse("wagtailadmin_login"), {"username": username, "password": STAFF_PASSWORD})
    client.post(reverse("kairan_mfa_verify"), {"token": totp_code(admin), "next": "/admin/"})
    return admin


def edit_url() -> str:
    return reverse(
        "wagtailsettings:edit", args=["line_channel", "linechannelsettings", LineChannelSettings.load().pk]
    )


def form_data(**values: str) -> dict[str, str]:
    data = {"channel_id": "", "channel_secret": "", "access_token": "", "login_channel_id": "", "liff_id": ""}
    data.update(values)
    return data


def raw_row() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT channel_id, channel_secret, access_token FROM line_channel_linechannelsettings"
        )
        channel_id, secret, token = cursor.fetchone()
    return {"channel_id": channel_id, "channel_secret": secret, "access_token": token}


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def entries(action: str) -> list[OperationLogEntry]:
    return list(OperationLogEntry.objects.filter(action=action).order_by("sequence"))


# --- Saving -----------------------------------------------------------------------------------


def test_admin_saves_settings_encrypted_and_secrets_are_never_shown(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    page = client.get(edit_url())
    assert page.status_code == 200
    body = page.content.decode()
    for text in (
        "Messaging API チャネル",
        "チャネルシークレット",
        "接続テスト",
        "Webhook URL を設定してテスト",
    ):
        assert text in body
    assert "http://testserver/line/webhook/" in body or "/line/webhook/" in body
    assert 'placeholder="未設定"' in body

    response = client.post(
        edit_url(),
        form_data(
            channel_id="1650000001",
            channel_secret=f" {SECRET}\n",
            access_token=TOKEN,
            login_channel_id="1650000002",
        ),
    )
    assert response.status_code == 302, messages_of(response)
    stored = LineChannelSettings.load()
    assert (stored.channel_id, stored.channel_secret, stored.access_token) == ("1650000001", SECRET, TOKEN)
    row = raw_row()
    assert row["channel_secret"].startswith("aesgcm:") and SECRET not in row["channel_secret"]
    assert row["access_token"].startswith("aesgcm:") and TOKEN not in row["access_token"]

    body = client.get(edit_url()).content.decode()
    assert SECRET not in body and TOKEN not in body
    assert row["access_token"] not in body and row["channel_secret"] not in body
    assert body.count("設定済み（変更するときだけ入力）") == 2 and "【設定済み】" in body
    assert 'value="1650000001"' in body

    # Saving with the secret fields left empty keeps them; the change is logged without the values.
    response = client.post(edit_url(), form_data(channel_id="1650000009", login_channel_id="1650000002"))
    assert response.status_code == 302
    stored = LineChannelSettings.load()
    assert (stored.channel_id, stored.channel_secret, stored.access_token) == ("1650000009", SECRET, TOKEN)
    logged = OperationLogEntry.objects.filter(object_type="line_channel.linechannelsettings")
    assert logged.filter(category="settings").exists()
    dumped = json.dumps([entry.data for entry in OperationLogEntry.objects.all()], ensure_ascii=False)
    assert SECRET not in dumped and TOKEN not in dumped


def test_the_liff_id_is_set_here_and_wins_over_the_server_setting(
    make_staff: Any, client: Client, settings: Any
) -> None:
    from line_channel.liff import liff_id

    settings.KAIRAN_LIFF_ID = "2000000002-fromenv1"
    assert liff_id() == "2000000002-fromenv1"
    admin_client(make_staff, client)
    refused = client.post(edit_url(), form_data(liff_id="https://liff.line.me/1657000000-AbCd"))
    assert refused.status_code == 200 and "LIFF ID は「数字-英数字」の形です" in refused.content.decode()
    assert client.post(edit_url(), form_data(liff_id=" 1657000000-AbCdEfGh ")).status_code == 302
    assert LineChannelSettings.load().liff_id == "1657000000-AbCdEfGh" == liff_id()
    page = client.get("/liff/").content.decode()  # My Page asks LIFF with this app's id
    assert 'data-liff-id="1657000000-AbCdEfGh"' in page


def test_bad_channel_id_is_refused_and_the_typed_secret_not_echoed(make_staff: Any, client: Client) -> None:
    admin_client(make_staff, client)
    response = client.post(edit_url(), form_data(channel_id="abc", channel_secret=SECRET, access_token=TOKEN))
    assert response.status_code == 200
    body = response.content.decode()
    assert "数字だけで入力してください" in body
    assert SECRET not in body and TOKEN not in body
    assert LineChannelSettings.load().channel_secret == ""


# --- Connection test --------------------------------------------------------------------------


def test_connection_test_against_the_emulator_succeeds_then_fails_with_lines_401(
    make_staff: Any, client: Client, line_channel: Any
) -> None:
    admin_client(make_staff, client)
    response = client.post(TEST_URL, follow=True)
    assert response.redirect_chain[-1][0] == edit_url()
    shown = " ".join(messages_of(response))
    assert "LINE に接続できました" in shown and "大船渡市" in shown and "@ofunato_city" in shown
    stored = LineChannelSettings.load()
    assert stored.basic_id == "@ofunato_city" and stored.bot_user_id.startswith("U") and stored.checked_at
    body = response.content.decode()
    assert "@ofunato_city" in body and "接続を確認しました" in body
    ok = entries("line.connection_test")[-1]
    assert ok.data["ok"] is True and ok.username == "kanri" and ok.category == "settings"

    stored.access_token = "wrong-token"
    stored.save()
    response = client.post(TEST_URL, follow=True)
    shown = " ".join(messages_of(response))
    assert "LINE に接続できませんでした" in shown
    assert "チャネルアクセストークンが正しくありません" in shown
    assert "401" in shown and UNAUTHORIZED in shown
    failed = entries("line.connection_test")[-1]
    assert failed.data["ok"] is False and failed.data["status"] == 401


def test_connection_test_reports_missing_token_and_unsaved_input(
    make_staff: Any, client: Client, line_channel: Any, emu: EmulatorControl
) -> None:
    admin_client(make_staff, client)
    # Values typed but not saved: nothing is sent to LINE.
    response = client.post(
        TEST_URL, form_data(channel_id=line_channel.channel_id, access_token="new"), follow=True
    )
    assert "まだ保存されていません" in " ".join(messages_of(response))
    assert not entries("line.connection_test")

    config = LineChannelSettings.load()
    config.access_token = ""
    config.save()
    response = client.post(TEST_URL, follow=True)
    assert "チャネルアクセストークンが未設定です" in " ".join(messages_of(response))


def test_the_buttons_need_the_settings_permission_and_a_csrf_token(
    make_staff: Any, client: Client, line_channel: Any
) -> None:
    for username, role in (("tanto", EDITOR), ("etsuran", VIEWER)):
        other = Client()
        other.force_login(make_staff(username, role))
        for url in (TEST_URL, WEBHOOK_URL, edit_url()):
            refused = other.post(url)  # Wagtail turns PermissionDenied into a redirect to the dashboard
            assert (refused.status_code, refused.get("Location")) == (302, "/admin/"), (username, url)
    assert not entries("line.connection_test") and not entries("line.webhook_register")

    admin_client(make_staff, client)
    client.handler.enforce_csrf_checks = True
    assert client.post(TEST_URL).status_code == 403
    assert client.get(TEST_URL).status_code == 405
    assert not entries("line.connection_test")
    # The settings form's own token (the buttons submit that form) is accepted.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(edit_url()).content.decode())
    assert token
    response = client.post(TEST_URL, {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302 and entries("line.connection_test")[-1].data["ok"] is True


# --- Webhook registration ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_webhook_registration_sets_the_url_and_reports_lines_test(
    make_staff: Any, client: Client, line_channel: Any, emu: EmulatorControl, live_server: Any, settings: Any
) -> None:
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    admin_client(make_staff, client)
    response = client.post(WEBHOOK_URL, follow=True)
    expected = live_server.url + "/line/webhook/"
    assert emu.channel()["webhookUrl"] == expected
    shown = " ".join(messages_of(response))
    assert f"Webhook URL を {expected} に設定しました" in shown
    assert "success=true、statusCode=200" in shown
    attempts = [a for a in emu.webhook_log() if a.get("url") == expected]
    assert attempts and attempts[-1].get("status") == 200
    entry = entries("line.webhook_register")[-1]
    assert entry.data["ok"] is True and entry.data["url"] == expected and entry.data["statusCode"] == 200

    # Kairan's stored secret differs from LINE's: the receiver refuses LINE's test, and staff learn why.
    config = LineChannelSettings.load()
    config.channel_secret = "not-the-channel-secret"
    config.save()
    shown = " ".join(messages_of(client.post(WEBHOOK_URL, follow=True)))
    assert "テスト送信は失敗しました" in shown and "チャネルシークレット" in shown
    assert re.search(r"statusCode=40[01]", shown)
    assert entries("line.webhook_register")[-1].data["ok"] is False


def test_webhook_registration_reports_an_unreachable_kairan(
    make_staff: Any, client: Client, line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    settings.WAGTAILADMIN_BASE_URL = "http://127.0.0.1:9/"  # discard port: nothing listens
    admin_client(make_staff, client)
    shown = " ".join(messages_of(client.post(WEBHOOK_URL, follow=True)))
    assert emu.channel()["webhookUrl"] == "http://127.0.0.1:9/line/webhook/"
    assert "LINE から Kairan に接続できませんでした" in shown and "statusCode=0" in shown
    entry = entries("line.webhook_register")[-1]
    assert entry.data["ok"] is False and entry.data["registered"] is True


def test_webhook_url_line_refuses_is_reported_with_lines_details(
    make_staff: Any, client: Client, line_channel: Any, emu: EmulatorControl, settings: Any
) -> None:
    settings.WAGTAILADMIN_BASE_URL = "http://kairan.city.example.jp"  # LINE wants https
    admin_client(make_staff, client)
    shown = " ".join(messages_of(client.post(WEBHOOK_URL, follow=True)))
    assert "を LINE に設定できませんでした" in shown
    assert "https://" in shown and "400" in shown and "endpoint: must be an HTTPS URL" in shown
    assert emu.channel()["webhookUrl"] == ""


def test_connection_test_warns_when_lines_webhook_is_elsewhere_or_off(
    make_staff: Any, client: Client, line_channel: Any, emu: EmulatorControl
) -> None:
    emu.channel(webhookUrl="https://old-bot.example.jp/callback", webhookActive=False)
    admin_client(make_staff, client)
    shown = " ".join(messages_of(client.post(TEST_URL, follow=True)))
    assert "https://old-bot.example.jp/callback" in shown and "異なります" in shown
    assert "「Webhookの利用」がオフ" in shown


# --- configure_line ---------------------------------------------------------------------------------


def test_configure_line_stores_the_emulators_channel_and_checks_it(
    line_emulator: RunningEmulator, emu: EmulatorControl, settings: Any, capsys: Any
) -> None:
    settings.KAIRAN_LINE_API_BASE = line_emulator.config.api_base
    settings.KAIRAN_LINE_DATA_BASE = line_emulator.config.data_base
    call_command("configure_line", "--emulator", "--check", "--wait", "5")
    out = capsys.readouterr().out
    spec = line_emulator.config.channels[0]
    stored = LineChannelSettings.load()
    assert (stored.channel_id, stored.channel_secret, stored.access_token, stored.login_channel_id) == (
        spec.channel_id,
        spec.channel_secret,
        spec.access_token,
        spec.login_channel_id,
    )
    assert raw_row()["access_token"].startswith("aesgcm:")
    assert stored.basic_id == spec.basic_id and "LINE に接続できました" in out
    assert spec.access_token not in out and spec.channel_secret not in out
    assert entries("kairan.settings.update")[-1].data["fields"] == [
        "channel_id",
        "channel_secret",
        "access_token",
        "login_channel_id",
    ]

    call_command("configure_line", "--access-token", "wrong")
    with pytest.raises(CommandError, match="401"):
        call_command("configure_line", "--check")
    settings.KAIRAN_DEMO = False
    with pytest.raises(CommandError, match="KAIRAN_DEMO"):
        call_command("configure_line", "--emulator")


def test_services_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        services_settings.register_webhook("http://127.0.0.1:8000")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        services_settings.test_connection(None)  # type: ignore[call-arg]


# --- make run wiring -----------------------------------------------------------------------------------


def test_make_run_points_web_and_cluster_at_the_emulator_and_its_webhook_at_kairan() -> None:
    run = (ROOT / "scripts" / "run.sh").read_text()
    exports = {
        "KAIRAN_LINE_API_BASE": "http://$HOST:$EMULATOR_PORT/api",
        "KAIRAN_LINE_DATA_BASE": "http://$HOST:$EMULATOR_PORT/api-data",
    }
    for name, value in exports.items():
        match = re.search(rf'^export {name}="\$\{{{name}:-([^}}]+)\}}"$', run, flags=re.M)
        assert match and match.group(1) == value, name
        # Exported before the web server and the cluster start, so both inherit it.
        assert match.start() < run.index("manage.py qcluster") and match.start() < run.index(
            "kairan.wsgi:application"
        )
    assert run.index("EMULATOR_PORT=") < run.index("export KAIRAN_LINE_API_BASE")
    # The emulator's channel is stored in LINE連携設定 before the processes start, then checked.
    assert re.search(r"manage\.py configure_line --emulator\b", run)
    assert run.index("configure_line --emulator") < run.index("manage.py qcluster")
    assert "configure_line --check" in run
    # LINE (the emulator) posts webhooks to Kairan's receiver.
    hook = re.search(r"--webhook-url \"?([^\s\"]+)", run)
    assert hook and hook.group(1) == "http://$HOST:$PORT" + services_settings.WEBHOOK_PATH
    assert reverse("line_webhook") == services_settings.WEBHOOK_PATH
    # And the phone simulator's address is printed.
    assert "http://$HOST:$EMULATOR_PORT/" in run.split("cat <<TXT", 1)[1]


def test_line_environment_variables_are_documented_and_read() -> None:
    example = (ROOT / ".env.example").read_text()
    values = {
        "KAIRAN_LINE_API_BASE": "http://127.0.0.1:8123/api",
        "KAIRAN_LINE_DATA_BASE": "http://127.0.0.1:8123/api-data",
        "KAIRAN_LINE_TIMEOUT": "7",
        "KAIRAN_LINE_ATTEMPTS": "3",
        "KAIRAN_LINE_BACKOFF_MS": "250",
        "KAIRAN_LINE_RATE_LIMITS": '{"multicast": [150, 1]}',
    }
    for name in values:
        assert re.search(rf"^#? ?{name}=", example, flags=re.M), name
    env = {**os.environ, **values, "KAIRAN_DEMO": "1", "DJANGO_SETTINGS_MODULE": "kairan.settings"}
    script = (
        "import json; from django.conf import settings as s; print(json.dumps([s.KAIRAN_LINE_API_BASE, "
        "s.KAIRAN_LINE_DATA_BASE, s.KAIRAN_LINE_TIMEOUT, s.KAIRAN_LINE_ATTEMPTS, s.KAIRAN_LINE_BACKOFF, "
        "s.KAIRAN_LINE_RATE_LIMITS['multicast'], s.KAIRAN_LINE_RATE_LIMITS['broadcast']]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [
        values["KAIRAN_LINE_API_BASE"],
        values["KAIRAN_LINE_DATA_BASE"],
        7,
        3,
        0.25,
        [150, 1],
        [60, 3600],
    ]
