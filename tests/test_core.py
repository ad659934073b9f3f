"""Security headers, /healthz, branding, exports, schedules, demo data and the Docker set-up."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule
from openpyxl import load_workbook

from kairan import __version__
from kairan.core.exports import UnencodableCharacters, csv_bytes, neutralise, xlsx_bytes
from kairan.core.models import Heartbeat
from kairan.core.schedules import SCHEDULES, ensure_schedules
from kairan.core.tasks import QCLUSTER_HEARTBEAT, heartbeat

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_security_headers(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response  # plain HTTP
    secure = client.get("/admin/login/", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_login_page_is_japanese_and_branded(client: Client, settings: Any) -> None:
    body = client.get("/admin/login/").content.decode()
    assert '<html lang="ja"' in body
    assert f"{settings.KAIRAN_CITY_NAME} Kairan 管理画面" in body
    assert "ログイン" in body
    assert "kairan/logo" in body


@pytest.mark.django_db
def test_healthz_reports_database_and_cluster(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is True
    assert response.json()["checks"]["qcluster"]["ok"] is False
    heartbeat()
    heartbeat()  # idempotent
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "checks": response.json()["checks"],
    }
    Heartbeat.objects.filter(name=QCLUSTER_HEARTBEAT).update(beat_at=timezone.now() - timedelta(minutes=10))
    assert client.get("/healthz").status_code == 503


@pytest.mark.django_db
def test_schedules_are_created_once() -> None:
    ensure_schedules()
    ensure_schedules()
    names = {spec.name for spec in SCHEDULES}
    assert set(Schedule.objects.filter(name__in=names).values_list("name", flat=True)) == names
    assert Schedule.objects.filter(name__in=names).count() == len(names)
    # Every scheduled function is importable.
    from django.utils.module_loading import import_string

    for spec in SCHEDULES:
        assert callable(import_string(spec.func))


def test_neutralise_formula_cells() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert neutralise(dangerous).startswith("'")
    assert neutralise("大船渡") == "大船渡"


def test_csv_utf8_bom_and_cp932() -> None:
    rows = [['=HYPERLINK("http://x")', "大船渡市", 3]]
    data = csv_bytes(["a", "b", "c"], rows)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed[1] == ['\'=HYPERLINK("http://x")', "大船渡市", "3"]
    sjis = csv_bytes(["a"], [["大船渡市"]], encoding="cp932")
    assert sjis.decode("cp932").splitlines()[1] == "大船渡市"
    with pytest.raises(UnencodableCharacters) as excinfo:
        csv_bytes(["氏名"], [["髙橋"], ["𠮷野"]], encoding="cp932")
    assert [p.character for p in excinfo.value.problems] == ["𠮷"]
    assert "3行目「氏名」の「𠮷」" in str(excinfo.value)


def test_xlsx_cells_are_values_not_formulas() -> None:
    data = xlsx_bytes(["a", "b"], [["=1+1", 5]])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert sheet["A2"].value == "=1+1"
    assert sheet["A2"].data_type == "s"
    assert sheet["B2"].value == 5


@pytest.mark.django_db
def test_demo_data_and_demo_otp(capsys: Any, settings: Any) -> None:
    from django.contrib.auth.models import User
    from wagtail.models import Site

    call_command("load_demo")
    call_command("load_demo")  # idempotent
    out = capsys.readouterr().out
    assert "admin / Ofunato-admin-2026" in out
    assert Site.objects.get(is_default_site=True).root_page.title == "大船渡市 LINE 公式アカウント"
    for username in ("admin", "approver", "editor", "viewer"):
        assert User.objects.filter(username=username).count() == 1
    assert User.objects.get(username="editor").groups.filter(name="防災課").exists()
    from deliveries import audience
    from deliveries.demo import SEGMENT_NAME
    from deliveries.models import Delivery, Segment

    segment = Segment.objects.get(name=SEGMENT_NAME)
    assert "年齢が60歳以上" in audience.describe(segment.definition)
    assert Delivery.objects.filter(segment=segment, live=False).count() == 1
    from richmenus.line_menus import line_tabs
    from richmenus.models import MenuSet

    sets = {s.name: s for s in MenuSet.objects.filter(live=True)}
    assert [s.purpose for s in sets.values()].count("emergency") == 1 and len(sets) == 2
    everyday = next(s for s in sets.values() if s.is_default)
    actions = [a["action"]["type"] for t in line_tabs(everyday) for a in t.menu["areas"]]
    assert {"uri", "message", "richmenuswitch"} <= set(actions)
    call_command("demo_otp", "admin")
    assert re.match(r"^\d{6} ", capsys.readouterr().out)
    settings.KAIRAN_DEMO = False
    with pytest.raises(Exception, match="KAIRAN_DEMO"):
        call_command("demo_otp", "admin")
    with pytest.raises(Exception, match="KAIRAN_DEMO"):
        call_command("load_demo")


@pytest.mark.django_db
def test_public_site_and_search(client: Client) -> None:
    call_command("load_demo")
    home = client.get("/")
    assert home.status_code == 200
    assert "大船渡市 LINE 公式アカウント" in home.content.decode()
    results = client.get("/search/", {"query": "防災"})
    assert results.status_code == 200
    assert "防災・安全" in results.content.decode()


def test_docker_uses_the_same_lock_and_commands_as_make_run() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = (ROOT / "compose.yaml").read_text()
    run = (ROOT / "scripts" / "run.sh").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "COPY requirements.lock" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "venv.sh runtime" in makefile
    assert "lock=requirements.lock" in (ROOT / "scripts" / "venv.sh").read_text()
    assert "--require-hashes" in (ROOT / "scripts" / "venv.sh").read_text()
    # The same preparation command in both.
    assert "manage.py prepare" in run
    assert '["python", "manage.py", "prepare"]' in compose
    assert '["python", "manage.py", "qcluster"]' in compose and "manage.py qcluster" in run
    server = "granian --interface wsgi kairan.wsgi:application"
    assert "kairan.wsgi:application" in dockerfile and server in run
    assert "PYTHONPATH=/app:/app/site" in dockerfile
    # Every runtime package of the lock is pinned with hashes.
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9_.-]+)==", lock, flags=re.M)
    assert {
        "wagtail",
        "django",
        "line-bot-sdk",
        "django-q2",
        "psycopg",
        "beautifulsoup4",
        "wagtail-modeladmin",
    } <= set(pins)
    assert lock.count("--hash=sha256:") >= len(pins)


def test_version_is_the_packages_version() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{__version__}"' in pyproject
