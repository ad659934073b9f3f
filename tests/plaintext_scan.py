"""Scanning a raw dump of the database for values that should not be there in clear.

Used by ``tests/test_database_dump.py``: every cell of every table through a raw cursor, each
value searched as typed and in the forms a column may hold it in (JSON escapes, percent-encoding,
base64/zlib/pickle wrappers).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from django.apps import apps
from django.db import connection

from kairan.core.crypto import PREFIX, EncryptedField

# Tables that hold residents' answers or what is derived from them: here even a bare 1987 must not
# appear in clear (see ``bare_year_cells``).
ANSWER_TABLES = {
    "home_formpagesubmission",
    "residents_residentattributes",
    "residents_attributechange",
    "residents_attributetoken",
    "residents_consent",
}


# --- the dump and the scan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    table: str
    column: str
    value: Any

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}"


def dump_database() -> list[Cell]:
    """Every cell of every table, as the database driver returns it (no model, no decryption).

    ``SELECT *`` through a raw cursor works alike on SQLite and PostgreSQL; the table list is the
    database's own (``introspection.table_names``), so tables no model of ours owns (sessions, the
    cache, Django-Q, Wagtail, django-otp, axes, ...) are read too.
    """
    cells: list[Cell] = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            names = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                cells.extend(Cell(table, name, value) for name, value in zip(names, row, strict=True))
    return cells


def as_bytes(value: Any) -> bytes:
    """A cell as raw bytes: text as UTF-8, binary as it is, anything else as ``str()``.

    ``str()`` covers numbers, dates and PostgreSQL's json/jsonb, which psycopg returns as Python
    objects (their repr keeps Japanese text as it is).
    """
    if value is None:
        return b""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")


_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


def unwrapped(data: bytes, depth: int = 0) -> list[bytes]:
    """``data`` and what each base64 run inside it decodes to (inflated when it is zlib data).

    Values the database holds wrapped: Django sessions (signed, zlib-compressed JSON), the
    database cache (base64 pickles), Django-Q's queue and results (signed or base64 pickles),
    JWTs. Ciphertexts decode too, to random bytes, which match no multi-byte needle.
    """
    found = [data]
    if depth >= 3:
        return found
    for run in _BASE64_RUN.findall(data):
        text = run.rstrip(b"=").replace(b"+", b"-").replace(b"/", b"_")
        if len(text) % 4 == 1:
            continue
        try:
            raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
        except ValueError:
            continue
        if raw[:1] == b"x":
            with contextlib.suppress(zlib.error):
                raw = zlib.decompress(raw)
        found.extend(unwrapped(raw, depth + 1))
    return found


def forms_of(value: str) -> set[bytes]:
    """The ways a text can sit in a column without being encrypted."""
    return {
        value.encode("utf-8"),  # as typed (text columns; PostgreSQL json; pickles hold UTF-8)
        json.dumps(value)[1:-1].encode("ascii"),  # JSON with \uXXXX escapes (JSONField on SQLite)
        quote(value, safe="").encode("ascii"),  # percent-encoded, as in a logged path or query
        quote_plus(value).encode("ascii"),
    }


@dataclass(frozen=True)
class Haystack:
    where: str
    texts: list[bytes]


def haystacks(cells: Iterable[Cell]) -> list[Haystack]:
    return [Haystack(cell.where, unwrapped(as_bytes(cell.value))) for cell in cells]


@dataclass(frozen=True)
class Finding:
    label: str
    needle: str
    where: str


def findings(stacks: list[Haystack], needles: dict[str, tuple[str, ...]]) -> list[Finding]:
    """Each (label, needle, column) where a needle is found, in any of its forms."""
    found = []
    for label, values in needles.items():
        for value in values:
            forms = forms_of(value)
            for stack in stacks:
                if any(form in text for form in forms for text in stack.texts):
                    found.append(Finding(label, value, stack.where))
    return found


def birth_year_pattern(field_key: str, year: int) -> re.Pattern[bytes]:
    """A birth-year answer: the field key next to the year, as JSON (``"f_…":1987``), a Python
    repr (``'f_…': 1987``), a form post (``f_…=1987``) or the blind index's preimage
    (``f_…=year:1987``). The key makes it impossible to match a year that is not an answer."""
    return re.compile(
        re.escape(field_key).encode()
        + rb"""["'\\]{0,2}\s*[:=]\s*["'\\]{0,2}(?:year:)?"""
        + str(year).encode()
    )


CIPHERTEXT = re.compile(re.escape(PREFIX) + r"[0-9a-f]{8}:[A-Za-z0-9_=-]+")
HEX_DIGEST = re.compile(r"[0-9a-fA-F]{32,}")


def bare_year_cells(cells: Iterable[Cell], year: int) -> list[str]:
    """Cells of the answer tables holding the year in clear, anywhere in a text or as a number.

    Ciphertexts (base64) and hex digests (keyed hashes, blind-index tokens) are masked first: a
    four-digit run inside them is chance, not a year. Dates and times are left out: their
    microseconds (``.198712``) hold four-digit runs too, and no answer is stored as a date. So are
    primary and foreign keys: sequences are not reset between tests (PostgreSQL), so an id may
    reach 1987 in a long run.
    """
    found = []
    for cell in cells:
        value = cell.value
        if cell.table not in ANSWER_TABLES or isinstance(value, bool) or is_key(cell.column):
            continue
        if isinstance(value, int):
            hit = value == year
        else:
            if isinstance(value, memoryview | bytes):
                value = bytes(value).decode("utf-8", "replace")
            elif isinstance(value, dict | list):  # json columns on PostgreSQL
                value = json.dumps(value)
            hit = isinstance(value, str) and str(year) in HEX_DIGEST.sub("-", CIPHERTEXT.sub("-", value))
        if hit:
            found.append(cell.where)
    return found


def is_key(column: str) -> bool:
    return column == "id" or column.endswith("_id")


def encrypted_columns() -> set[tuple[str, str]]:
    """(table, column) of every encrypted model field in the project."""
    return {
        (model._meta.db_table, field.column)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedField) and field.column is not None
    }
