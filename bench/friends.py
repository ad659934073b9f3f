"""Friends with Ofunato's demo 受信設定, written in bulk, and a segment over them: for the audience
benches. Import it from a script in this folder once Django is set up."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

BATCH = 20000  # friends per load transaction


class Town:
    """Ofunato's demo 受信設定 form and the segment over it, with a Python reading of the segment."""

    def __init__(self, segment: str) -> None:
        from django.utils import timezone
        from wagtail.models import Page

        from residents.demo import seed_attribute_form

        page = seed_attribute_form(Page.objects.get(depth=2))
        specs = {spec.label: spec for spec in page.get_form_fields()}
        self.key = {label: spec.clean_name for label, spec in specs.items()}

        def codes(label: str) -> list[str]:
            return [code for code, _ in specs[label].choices]

        self.gender, self.home, self.work, self.topics = (
            codes(x) for x in ("性別", "お住まいの地区", "勤務先・通学先の地区", "受け取りたい情報")
        )
        self.year = timezone.localdate().year  # the year the segment's ages are evaluated in
        self.segment = segment

    def definition(self) -> dict[str, Any]:
        def choice(label: str, match: str, codes: list[str]) -> dict[str, Any]:
            return {"type": "choice", "field": self.key[label], "match": match, "codes": codes}

        def age(low: int) -> dict[str, Any]:
            return {"type": "age", "field": self.key["生まれ年"], "min": low, "max": None}

        if self.segment == "example":
            home_or_work = {
                "op": "or",
                "items": [
                    choice("お住まいの地区", "any", [self.home[0]]),
                    choice("勤務先・通学先の地区", "any", [self.work[0]]),
                ],
            }
            items = [home_or_work, age(60), choice("受け取りたい情報", "any", [self.topics[1]])]
        else:
            items = [
                age(18),
                choice("お住まいの地区", "none", [self.home[0]]),
                choice("受け取りたい情報", "any", self.topics[:6]),
            ]
        return {"op": "and", "items": items}

    def matches(self, born: int, home: str, work: list[str], topics: list[str]) -> bool:
        if self.segment == "example":
            return (
                (home == self.home[0] or self.work[0] in work)
                and born <= self.year - 60
                and self.topics[1] in topics
            )
        return born <= self.year - 18 and home != self.home[0] and any(t in topics for t in self.topics[:6])


def write_friends(friends: Iterable[tuple[str, bool, list[str]]]) -> int:
    """Write the friends (LINE user id, following or blocked, their answers' tokens with
    ``REGISTERED``), numbered from 1, their 受信設定 and both forms of the blind index in bulk (COPY
    on PostgreSQL), then analyse the tables. Return the number of tokens written."""
    from django.db import connection, transaction

    from kairan.core.crypto import encrypt, line_user_hash
    from line_channel.models import Follower
    from residents.attributes import REGISTERED, token_number
    from residents.models import AttributeToken, AudienceEntry, ResidentAttributes

    now = datetime.now(UTC)
    # Never decrypted while counting or sending: one ciphertext serves every row.
    empty_answers = encrypt("{}", context=b"residents.residentattributes.answers")
    tables = {
        "follower": (
            Follower._meta.db_table,
            "id, line_user_id, line_user_hash, display_name, picture_url, language, status, "
            "first_followed_at, followed_at, unfollowed_at, profile_fetched_at",
        ),
        "resident": (
            ResidentAttributes._meta.db_table,
            "id, line_user_hash, line_user_id, answers, created_at, updated_at",
        ),
        "token": (AttributeToken._meta.db_table, "resident_id, token, reachable"),
        "entry": (AudienceEntry._meta.db_table, "resident_id, reachable, tokens, follower_id"),
    }
    postgres = connection.vendor == "postgresql"
    numbered = enumerate(friends, start=1)
    tokens_written = 0
    while batch := list(islice(numbered, BATCH)):
        data: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}
        for n, (user_id, following, chosen) in batch:
            hashed = line_user_hash(user_id)
            status = "following" if following else "blocked"
            data["follower"].append(
                (n, user_id, hashed, "", "", "ja", status, now, now, None if following else now, now)
            )
            encrypted_id = encrypt(user_id, context=b"residents.residentattributes.line_user_id")
            data["resident"].append((n, hashed, encrypted_id, empty_answers, now, now))
            data["token"].extend((n, token, following) for token in chosen)
            numbers = sorted(token_number(t) for t in chosen if t != REGISTERED)
            data["entry"].append((n, following, numbers if postgres else json.dumps(numbers), n))
        tokens_written += len(data["token"])
        with transaction.atomic(), connection.cursor() as cursor:
            for name, (table, columns) in tables.items():
                if postgres:
                    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in data[name]:
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * len(columns.split(",")))
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data[name])  # noqa: S608
    with connection.cursor() as cursor:
        if postgres:
            for table, _ in list(tables.values())[:3]:  # (the entries' key is the resident's)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                )
            for table, _ in tables.values():
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    return tokens_written


def time_count(definition: dict[str, Any], runs: int) -> tuple[int, list[float]]:
    """The audience of the segment ``definition`` and, in ms, how long each of ``runs`` counts took."""
    from deliveries.audience import count

    timings = []
    audience = 0
    for _ in range(runs):
        started = time.perf_counter()
        audience = count(definition)
        timings.append((time.perf_counter() - started) * 1000)
    return audience, timings
