"""Field encryption (AES-256-GCM, legacy Fernet, key ids) and ``manage.py rotate_field_keys``."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from kairan.core import crypto
from line_channel.models import Follower, LineChannelSettings, OutboxItem

KEY_A = base64.urlsafe_b64encode(hashlib.sha256(b"kairan test key A").digest()).decode()
KEY_B = base64.urlsafe_b64encode(hashlib.sha256(b"kairan test key B").digest()).decode()
ID_A = hashlib.sha256(base64.urlsafe_b64decode(KEY_A)).hexdigest()[:8]
ID_B = hashlib.sha256(base64.urlsafe_b64decode(KEY_B)).hexdigest()[:8]
TEXT = "大船渡市 盛町 一丁目 山田 花子（やまだ はなこ）🌸"

NAME, PICTURE = "大船渡 太郎", "https://profile.line-scdn.net/太郎.jpg"
SECRET, TOKEN = "チャネルシークレット-0123456789abcdef", "長期トークン/abcdefghijklmnop+qrstu="
MESSAGES = [{"type": "text", "text": "おおふなと"}]
PLAINTEXTS = [NAME, PICTURE, SECRET, TOKEN, "おおふなと"]
COLUMNS = {
    "line_channel_follower": ["display_name", "picture_url"],
    "line_channel_linechannelsettings": ["channel_secret", "access_token"],
    "line_channel_outboxitem": ["messages"],
}


@pytest.fixture
def keys(settings: Any) -> Any:
    """Key A alone; tests put other keys in ``settings.KAIRAN_FIELD_KEYS``."""
    settings.KAIRAN_FIELD_KEYS = [KEY_A]
    return settings


def sealed_bytes(stored: str) -> bytes:
    return base64.urlsafe_b64decode(stored.split(":", 2)[2])


def with_sealed(stored: str, sealed: bytes) -> str:
    return stored.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(sealed).decode()


def raw_values() -> dict[str, list[str]]:
    """Every stored value of the encrypted columns, straight from the database."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for table, columns in COLUMNS.items():
            for column in columns:
                cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")
                found[f"{table}.{column}"] = [row[0] for row in cursor.fetchall()]
    return found


def table_dump() -> str:
    """``SELECT *`` of each table with encrypted columns, as one text."""
    rows: list[Any] = []
    with connection.cursor() as cursor:
        for table in COLUMNS:
            cursor.execute(f"SELECT * FROM {table}")
            rows += cursor.fetchall()
    return repr(rows)


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_field_keys", *args, stdout=out)
    return out.getvalue()


# --- values ------------------------------------------------------------------------------------------


def test_text_and_bytes_round_trip_with_context(keys: Any) -> None:
    stored = crypto.encrypt(TEXT, context=b"tests.place.address")
    assert stored.startswith(f"aesgcm:{ID_A}:") and TEXT not in stored
    assert len(sealed_bytes(stored)) == 12 + len(TEXT.encode()) + 16  # nonce, ciphertext, tag
    assert crypto.decrypt(stored, context=b"tests.place.address") == TEXT
    for other in (b"", b"tests.place.name"):
        with pytest.raises(crypto.DecryptionError, match="copied from another field"):
            crypto.decrypt(stored, context=other)
    assert crypto.decrypt(crypto.encrypt("")) == ""

    photo = TEXT.encode("utf-8") + bytes(range(256))
    blob = crypto.encrypt_bytes(photo, context=b"photo/1")
    assert blob[:4] == b"KRN\x01" and blob[4:8].hex() == ID_A and TEXT.encode() not in blob
    assert crypto.decrypt_bytes(blob, context=b"photo/1") == photo
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(blob, context=b"photo/2")
    assert crypto.decrypt_bytes(crypto.encrypt_bytes(b"")) == b""


def test_nonces_are_random(keys: Any) -> None:
    first, second = crypto.encrypt(TEXT), crypto.encrypt(TEXT)
    assert first != second and sealed_bytes(first)[:12] != sealed_bytes(second)[:12]
    assert crypto.decrypt(first) == crypto.decrypt(second) == TEXT
    assert crypto.encrypt_bytes(b"x")[8:20] != crypto.encrypt_bytes(b"x")[8:20]


def test_tampering_is_refused(keys: Any) -> None:
    stored = crypto.encrypt(TEXT)
    sealed = sealed_bytes(stored)
    for index in (0, 12, len(sealed) // 2, len(sealed) - 1):  # nonce, ciphertext, tag
        altered = bytearray(sealed)
        altered[index] ^= 0x01
        with pytest.raises(crypto.DecryptionError, match="wrong or missing key"):
            crypto.decrypt(with_sealed(stored, bytes(altered)))
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(with_sealed(stored, sealed[:20]))  # truncated
    with pytest.raises(crypto.DecryptionError, match="not in KAIRAN_FIELD_KEYS"):
        crypto.decrypt(stored.replace(ID_A, "00000000"))

    blob = crypto.encrypt_bytes(TEXT.encode())
    for index in (3, 4, 8, 20, len(blob) - 1):  # version, key id, nonce, ciphertext, tag
        altered = bytearray(blob)
        altered[index] ^= 0x01
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_bytes(bytes(altered))
    with pytest.raises(crypto.DecryptionError, match="Not an encrypted Kairan file"):
        crypto.decrypt_bytes(TEXT.encode())


def test_legacy_fernet_values_still_decrypt(keys: Any) -> None:
    keys.KAIRAN_FIELD_KEYS = [KEY_B, KEY_A]
    legacy = "fernet:" + Fernet(KEY_A).encrypt(TEXT.encode()).decode()
    assert crypto.decrypt(legacy) == TEXT
    assert crypto.decrypt(legacy, context=b"any.column") == TEXT  # Fernet values carry no context
    assert crypto.needs_rotation(legacy)
    keys.KAIRAN_FIELD_KEYS = [KEY_B]
    with pytest.raises(crypto.DecryptionError, match="wrong or missing key"):
        crypto.decrypt(legacy)


def test_old_key_decrypts_after_a_new_key_is_put_first(keys: Any) -> None:
    under_a, blob_a = crypto.encrypt(TEXT, context=b"c"), crypto.encrypt_bytes(b"data", context=b"c")
    assert not crypto.needs_rotation(under_a) and not crypto.needs_rotation(blob_a)
    keys.KAIRAN_FIELD_KEYS = [KEY_B, KEY_A]
    assert crypto.current_key_id() == ID_B
    assert crypto.decrypt(under_a, context=b"c") == TEXT
    assert crypto.decrypt_bytes(blob_a, context=b"c") == b"data"
    assert crypto.needs_rotation(under_a) and crypto.needs_rotation(blob_a)
    under_b = crypto.encrypt(TEXT)
    assert under_b.startswith(f"aesgcm:{ID_B}:") and not crypto.needs_rotation(under_b)
    assert crypto.needs_rotation("written before encryption") and not crypto.needs_rotation("")
    keys.KAIRAN_FIELD_KEYS = [KEY_B]
    with pytest.raises(crypto.DecryptionError, match=f"key id {ID_A}.*missing key"):
        crypto.decrypt(under_a, context=b"c")


def test_bad_keys_are_refused(keys: Any) -> None:
    for bad in ([], ["not a key"], [base64.urlsafe_b64encode(b"short").decode()]):
        keys.KAIRAN_FIELD_KEYS = bad
        with pytest.raises(ImproperlyConfigured, match="KAIRAN_FIELD_KEYS"):
            crypto.encrypt(TEXT)


# --- model fields and rotation -----------------------------------------------------------------------


def make_rows() -> tuple[Follower, LineChannelSettings, OutboxItem]:
    now = timezone.now()
    follower = Follower.objects.create(
        line_user_id="U" + "0" * 32,
        display_name=NAME,
        picture_url=PICTURE,
        status=Follower.Status.FOLLOWING,
        first_followed_at=now,
        followed_at=now,
    )
    channel = LineChannelSettings.objects.create(
        channel_id="1650000001", channel_secret=SECRET, access_token=TOKEN
    )
    messages: Any = MESSAGES  # an EncryptedJSONField: a text field to the type checker
    item = OutboxItem.objects.create(kind=OutboxItem.Kind.PUSH, messages=messages)
    return follower, channel, item


def assert_rows_read_back(follower: Follower, channel: LineChannelSettings, item: OutboxItem) -> None:
    follower = Follower.objects.get(pk=follower.pk)
    channel = LineChannelSettings.objects.get(pk=channel.pk)
    assert (follower.display_name, follower.picture_url) == (NAME, PICTURE)
    assert (channel.channel_secret, channel.access_token) == (SECRET, TOKEN)
    assert OutboxItem.objects.get(pk=item.pk).messages == MESSAGES


@pytest.mark.django_db
def test_fields_store_ciphertext_bound_to_their_column(keys: Any) -> None:
    rows = make_rows()
    assert all(value[0].startswith(f"aesgcm:{ID_A}:") for value in raw_values().values())
    assert not any(text in table_dump() for text in PLAINTEXTS)
    assert_rows_read_back(*rows)
    assert Follower.objects.values_list("display_name", flat=True).get() == NAME
    with connection.cursor() as cursor:  # a secret copied into a column shown in the admin
        cursor.execute(
            "UPDATE line_channel_follower SET display_name = (SELECT access_token FROM "
            "line_channel_linechannelsettings WHERE id = %s)",
            [rows[1].pk],
        )
    with pytest.raises(crypto.DecryptionError, match=r"line_channel\.follower\.display_name"):
        Follower.objects.get(pk=rows[0].pk)


@pytest.mark.django_db
def test_rotate_field_keys_re_encrypts_every_value(keys: Any) -> None:
    rows = make_rows()
    legacy = "fernet:" + Fernet(KEY_A).encrypt(NAME.encode()).decode()
    second = Follower.objects.create(
        line_user_id="U" + "1" * 32,
        status=Follower.Status.FOLLOWING,
        first_followed_at=timezone.now(),
        followed_at=timezone.now(),
    )
    with connection.cursor() as cursor:  # one value from before the switch to AES-GCM, one never encrypted
        cursor.execute(
            "UPDATE line_channel_follower SET display_name = %s, picture_url = %s WHERE id = %s",
            [legacy, "おおふなと", second.pk],
        )
    keys.KAIRAN_FIELD_KEYS = [KEY_B, KEY_A]
    before = raw_values()

    report = rotate("--dry-run", "--batch-size", "1")
    assert raw_values() == before
    assert "line_channel.Follower.display_name: would re-encrypt 2 (legacy Fernet 1, older key 1" in report
    assert "Encrypted files are not covered yet" in report

    report = rotate("--batch-size", "1")
    assert (
        "line_channel.Follower.picture_url: re-encrypted 2 (legacy Fernet 0, older key 1, unencrypted 1)"
        in report
    )
    assert "line_channel.OutboxItem.messages: re-encrypted 1 " in report
    after = raw_values()
    assert all(value.startswith(f"aesgcm:{ID_B}:") for values in after.values() for value in values if value)
    assert after["line_channel_follower.display_name"][1] != legacy
    assert not any(text in table_dump() for text in PLAINTEXTS)
    assert_rows_read_back(*rows)
    second.refresh_from_db()
    assert (second.display_name, second.picture_url) == (NAME, "おおふなと")

    report = rotate()  # idempotent: nothing left to do
    assert raw_values() == after and "re-encrypted 1" not in report and "re-encrypted 2" not in report

    keys.KAIRAN_FIELD_KEYS = [KEY_B]  # the old key can go
    assert_rows_read_back(*rows)


@pytest.mark.django_db
def test_rotate_field_keys_refuses_when_a_key_is_missing(keys: Any) -> None:
    make_rows()
    keys.KAIRAN_FIELD_KEYS = [KEY_B]
    before = raw_values()
    with pytest.raises(CommandError, match=r"line_channel.Follower.display_name pk \d+"):
        rotate()
    assert raw_values() == before
