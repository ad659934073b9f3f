"""Field encryption for personal and secret data at rest (spec §7(2)): AES-256-GCM.

Keys: ``KAIRAN_FIELD_KEYS`` lists url-safe base64 keys of 32 random bytes,
comma-separated; the first encrypts, all decrypt. A key's *key id* is the first
8 hex digits of SHA-256 of its bytes and is stored with every value, so
decryption picks its key directly and ``manage.py rotate_field_keys`` can find
the values still under an older key. The AES key is derived from the
configured key with HKDF-SHA256, so one configured key never serves two
algorithms (the same keys also decrypt the legacy Fernet values). The demo
uses a fixed key; production refuses to start without real keys.

Stored formats:

- text: ``aesgcm:<keyid>:`` + urlsafe_b64(nonce (12 random bytes) + ciphertext + tag);
- bytes (private files): ``KRN`` + version byte + key id (4 bytes) + nonce, then
  ciphertext + tag; the header is authenticated too;
- legacy text: ``fernet:`` + a Fernet token (MultiFernet over the same keys),
  read so existing databases keep working until ``rotate_field_keys`` rewrites it;
- anything else (no prefix) is returned as it is: written before encryption
  was switched on, or empty.

Associated data: ``context`` is authenticated but not stored, so a value only
decrypts with the context it was encrypted with. The model fields bind each
value to its column, ``app_label.model.field`` (e.g.
``line_channel.follower.display_name``): a value copied into another column
(a channel secret into a display name shown in the admin) is refused rather
than revealed. The price: renaming a model or field makes its values unreadable
unless the field keeps its old name (``EncryptedTextField(..., context=
"line_channel.follower.display_name")``) or a data migration re-encrypts them.
Legacy Fernet values carry no context.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

PREFIX = "aesgcm:"
LEGACY_PREFIX = "fernet:"
FILE_MAGIC = b"KRN"
FILE_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
_FILE_HEADER_BYTES = len(FILE_MAGIC) + 1 + 4 + NONCE_BYTES
_HKDF_INFO = b"kairan field encryption: AES-256-GCM v1"


class DecryptionError(ImproperlyConfigured):
    """A stored value cannot be decrypted: wrong or missing key, or the value was altered."""


@dataclass(frozen=True)
class _Keyring:
    current: str  # key id of the first key: the one that encrypts
    aead: dict[str, AESGCM]  # every key by its id
    legacy: MultiFernet


def key_id(key: bytes) -> str:
    """The short id stored with each value: 8 hex digits of SHA-256 of the key bytes."""
    return hashlib.sha256(key).hexdigest()[:8]


@cache
def _keyring() -> _Keyring:
    texts = [str(text).strip() for text in settings.KAIRAN_FIELD_KEYS if str(text).strip()]
    if not texts:
        raise ImproperlyConfigured("KAIRAN_FIELD_KEYS is empty: personal data cannot be encrypted.")
    keys: dict[str, bytes] = {}
    for text in texts:
        try:  # binascii.Error and UnicodeEncodeError are ValueErrors
            key = base64.urlsafe_b64decode(text.encode("ascii"))
            if len(key) != 32:
                raise ValueError(f"{len(key)} bytes")
        except ValueError as exc:
            raise ImproperlyConfigured(
                "KAIRAN_FIELD_KEYS must be url-safe base64 encodings of 32 random bytes, comma-separated."
            ) from exc
        if keys.setdefault(key_id(key), key) != key:
            raise ImproperlyConfigured("Two keys in KAIRAN_FIELD_KEYS share a key id: replace one of them.")
    aead = {
        kid: AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(key))
        for kid, key in keys.items()
    }
    legacy = MultiFernet([Fernet(base64.urlsafe_b64encode(key)) for key in keys.values()])
    return _Keyring(current=next(iter(keys)), aead=aead, legacy=legacy)


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs: Any) -> None:
    """Tests (and ``override_settings``) change the keys: build the keyring again."""
    if setting == "KAIRAN_FIELD_KEYS":
        _keyring.cache_clear()


def current_key_id() -> str:
    """The id of the key that encrypts (the first of ``KAIRAN_FIELD_KEYS``)."""
    return _keyring().current


def _seal(data: bytes, aad: bytes) -> tuple[str, bytes]:
    ring = _keyring()
    nonce = os.urandom(NONCE_BYTES)
    return ring.current, nonce + ring.aead[ring.current].encrypt(nonce, data, aad)


def _open(kid: str, sealed: bytes, aad: bytes, context: bytes) -> bytes:
    where = f" (context {context.decode('utf-8', 'replace')!r})" if context else ""
    aead = _keyring().aead.get(kid)
    if aead is None:
        raise DecryptionError(
            f"An encrypted value is under key id {kid}, which is not in KAIRAN_FIELD_KEYS "
            f"(wrong or missing key){where}."
        )
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError(f"An encrypted value is truncated{where}.")
    try:
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionError(
            "An encrypted value cannot be decrypted with KAIRAN_FIELD_KEYS (wrong or missing key, "
            f"or the value was altered or copied from another field){where}."
        ) from exc


def line_user_hash(line_user_id: str) -> str:
    """A keyed hash of a LINE user id: how a resident's rows (friend, 受信設定, agreements, form
    submissions) are found without looking them up by the id itself, which most of them hold
    only encrypted."""
    key = f"kairan.forms.line_user:{settings.SECRET_KEY}".encode()
    return hmac.new(key, line_user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def encrypt(text: str, *, context: bytes = b"") -> str:
    kid, sealed = _seal(text.encode("utf-8"), context)
    return f"{PREFIX}{kid}:" + base64.urlsafe_b64encode(sealed).decode("ascii")


def decrypt(stored: str, *, context: bytes = b"") -> str:
    if stored.startswith(LEGACY_PREFIX):
        try:
            return _keyring().legacy.decrypt(stored[len(LEGACY_PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError(
                "A legacy (Fernet) value cannot be decrypted with KAIRAN_FIELD_KEYS (wrong or missing key)."
            ) from exc
    if not stored.startswith(PREFIX):
        return stored  # written before encryption was switched on (or empty)
    kid, _, body = stored[len(PREFIX) :].partition(":")
    try:
        sealed = base64.urlsafe_b64decode(body.encode("ascii"))
    except ValueError as exc:  # binascii.Error, UnicodeEncodeError
        raise DecryptionError("An encrypted value is malformed (altered or truncated).") from exc
    return _open(kid, sealed, context, context).decode("utf-8")


def encrypt_bytes(data: bytes, *, context: bytes = b"") -> bytes:
    """Encrypt a private file's content; the header is authenticated with the context."""
    ring = _keyring()
    header = FILE_MAGIC + bytes([FILE_VERSION]) + bytes.fromhex(ring.current)
    return header + _seal(data, header + context)[1]


def decrypt_bytes(blob: bytes, *, context: bytes = b"") -> bytes:
    if blob[: len(FILE_MAGIC)] != FILE_MAGIC or len(blob) < _FILE_HEADER_BYTES + TAG_BYTES:
        raise DecryptionError("Not an encrypted Kairan file (or truncated).")
    version = blob[len(FILE_MAGIC)]
    if version != FILE_VERSION:
        raise DecryptionError(f"Encrypted file format version {version} is not known to this Kairan.")
    header = blob[: len(FILE_MAGIC) + 5]
    return _open(header[-4:].hex(), blob[len(header) :], header + context, context)


def needs_rotation(stored: str | bytes) -> bool:
    """Whether a stored value should be re-encrypted: legacy, under an older key, or unencrypted."""
    current = _keyring().current
    if isinstance(stored, bytes):
        return stored[: len(FILE_MAGIC) + 5] != FILE_MAGIC + bytes([FILE_VERSION]) + bytes.fromhex(current)
    return stored != "" and not stored.startswith(f"{PREFIX}{current}:")


class EncryptedField(models.TextField):
    """Base of the encrypted fields: each value is bound to its column (see the module docstring)."""

    def __init__(self, *args: Any, context: str | None = None, **kwargs: Any) -> None:
        self.context_name = context
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.context_name is not None:
            kwargs["context"] = self.context_name
        return name, path, args, kwargs

    def crypto_context(self) -> bytes:
        """``app_label.model.field`` unless the field pins another name (after a rename)."""
        if self.context_name is not None:
            return self.context_name.encode("utf-8")
        model = getattr(self, "model", None)
        if model is None:
            raise ImproperlyConfigured("An encrypted field is used outside a model: it has no context.")
        return f"{model._meta.label_lower}.{self.name}".encode()


class EncryptedTextField(EncryptedField):
    """Text stored encrypted. It cannot be searched or filtered on in the database."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value, context=self.crypto_context())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value), context=self.crypto_context())


class EncryptedJSONField(EncryptedField):
    """A JSON value stored encrypted (e.g. a webhook event with what a resident wrote)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else json.loads(decrypt(value, context=self.crypto_context()))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return encrypt(text, context=self.crypto_context())

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)
