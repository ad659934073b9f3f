"""Settings from the environment: typed readers, production refusals, database choice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from kairan.env import database_from_url, env_bool, env_choice, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent
FIELD_KEY = "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc="


def test_env_readers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("K_BOOL", "yes")
    monkeypatch.setenv("K_INT", "42")
    monkeypatch.setenv("K_LIST", "a.example.jp, b.example.jp,")
    assert env_bool("K_BOOL", False) is True
    assert env_int("K_INT", 1, minimum=1) == 42
    assert env_list("K_LIST", []) == ["a.example.jp", "b.example.jp"]
    assert env_str("K_MISSING", "default") == "default"
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("K_SECRET_FILE", str(secret))
    assert env_str("K_SECRET") == "from-a-file"


@pytest.mark.parametrize(
    ("name", "value", "call"),
    [
        ("K_BOOL", "maybe", lambda: env_bool("K_BOOL", False)),
        ("K_INT", "ten", lambda: env_int("K_INT", 1)),
        ("K_INT", "0", lambda: env_int("K_INT", 1, minimum=1)),
        ("K_CHOICE", "loud", lambda: env_choice("K_CHOICE", "info", ("info", "debug"))),
        ("K_SECRET_FILE", "/nonexistent/secret", lambda: env_str("K_SECRET")),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, call: object
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name.removesuffix("_FILE")):
        call()  # type: ignore[operator]


def test_required_value_missing() -> None:
    with pytest.raises(ImproperlyConfigured, match="K_REQUIRED is required"):
        env_str("K_REQUIRED")


def test_database_url() -> None:
    db = database_from_url("postgres://kairan:p%40ss@db.example.jp:6543/kairan?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "kairan",
        "p@ss",
        "db.example.jp",
        "6543",
        "kairan",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x@y/z")
    with pytest.raises(ImproperlyConfigured):
        database_from_url("postgres://x@y/")


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAIRAN_", "DATABASE_URL"))}
    clean.update(env)
    clean.setdefault("KAIRAN_FIELD_KEYS", FIELD_KEY)
    clean["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'site'}"
    clean["DJANGO_SETTINGS_MODULE"] = "kairan.settings"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_production_refuses_demo_key_and_open_hosts(tmp_path: Path) -> None:
    var = str(tmp_path)
    no_key = _load_settings(KAIRAN_VAR_DIR=var, KAIRAN_ALLOWED_HOSTS="kairan.example.jp")
    assert no_key.returncode != 0 and "KAIRAN_SECRET_KEY is required" in no_key.stderr
    demo_key = _load_settings(
        KAIRAN_VAR_DIR=var,
        KAIRAN_SECRET_KEY="kairan-demo-secret-key-do-not-use-in-production",
        KAIRAN_ALLOWED_HOSTS="kairan.example.jp",
    )
    assert demo_key.returncode != 0 and "demo key is refused" in demo_key.stderr
    open_hosts = _load_settings(KAIRAN_VAR_DIR=var, KAIRAN_SECRET_KEY="x" * 50, KAIRAN_ALLOWED_HOSTS="*")
    assert open_hosts.returncode != 0 and "'*' is refused" in open_hosts.stderr
    good = _load_settings(
        KAIRAN_VAR_DIR=var, KAIRAN_SECRET_KEY="x" * 50, KAIRAN_ALLOWED_HOSTS="kairan.example.jp"
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "False"  # DEBUG is off unless asked
    demo = _load_settings(KAIRAN_VAR_DIR=var, KAIRAN_DEMO="1")
    assert demo.returncode == 0, demo.stderr
    no_field_keys = _load_settings(
        KAIRAN_VAR_DIR=var,
        KAIRAN_SECRET_KEY="x" * 50,
        KAIRAN_ALLOWED_HOSTS="kairan.example.jp",
        KAIRAN_FIELD_KEYS="",
    )
    assert no_field_keys.returncode != 0 and "KAIRAN_FIELD_KEYS" in no_field_keys.stderr


def test_sqlite_is_tuned_for_concurrency(settings: object) -> None:
    from django.conf import settings as django_settings

    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite settings only")
    options = django_settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 1


@pytest.mark.django_db
def test_sqlite_file_database_uses_wal(tmp_path: Path) -> None:
    """A real SQLite file opened with our settings is in WAL mode with a busy timeout."""
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "mode = c.execute('PRAGMA journal_mode').fetchone()[0]\n"
        "print(mode, c.execute('PRAGMA busy_timeout').fetchone()[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIRAN_", "DATABASE_URL"))}
    env.update(
        KAIRAN_DEMO="1",
        KAIRAN_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="kairan.settings",
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'site'}",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    mode, timeout = out.stdout.split()
    assert mode == "wal"
    assert int(timeout) >= 1000
