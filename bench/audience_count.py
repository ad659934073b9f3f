"""Audience figures: how long counting a 3-condition segment takes over N friends with 受信設定.

Usage: .venv/bin/python bench/audience_count.py [--friends N] [--runs R]
Runs against a fresh SQLite file in a temporary directory (or DATABASE_URL's PostgreSQL, whose
friends and residents tables it empties first: use a scratch database). Every friend registered
Ofunato's demo 受信設定 (random answers, about seven index entries each); one in ten has blocked
the account. The segment is the delivery issue's example: lives or works in 盛町, aged 60 or over,
wants クマ出没情報. Rows (friends, 受信設定, both forms of the index) are loaded in bulk (COPY on
PostgreSQL), then the count is ``deliveries.audience.count``, the one the segment screen calls:
on PostgreSQL the GIN index of ``AudienceEntry``, on SQLite set operations on ``AttributeToken``.
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django_setup import start_django

BATCH = 20000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--friends", type=int, default=50000, help="friends with 受信設定 (default 50000)")
    parser.add_argument("--runs", type=int, default=5, help="timed counts (default 5)")
    args = parser.parse_args()

    start_django()
    from django.db import connection, transaction
    from wagtail.models import Page

    from deliveries.audience import count, validate
    from kairan.core.crypto import encrypt, line_user_hash
    from line_channel.models import Follower
    from residents.attributes import REGISTERED, birth_year_token, token_for, token_number
    from residents.demo import seed_attribute_form
    from residents.models import AttributeToken, AudienceEntry, ResidentAttributes

    AudienceEntry.objects.all().delete()
    AttributeToken.objects.all().delete()
    ResidentAttributes.objects.all().delete()
    Follower.objects.all().delete()
    page = seed_attribute_form(Page.objects.get(depth=2))
    specs = {spec.label: spec for spec in page.get_form_fields()}
    key = {label: spec.clean_name for label, spec in specs.items()}

    def codes(label: str) -> list[str]:
        return [code for code, _ in specs[label].choices]

    gender, home, work, topics = (
        codes(x) for x in ("性別", "お住まいの地区", "勤務先・通学先の地区", "受け取りたい情報")
    )
    rng = random.Random(6)  # noqa: S311 - test data, not secrets
    this_year = datetime.now(UTC).year
    now = datetime.now(UTC)
    # Never decrypted while counting: one ciphertext per column serves every row.
    empty_answers = encrypt("{}", context=b"residents.residentattributes.answers")

    def rows(
        first: int, last: int
    ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], list[tuple[Any, ...]], tuple[Any, ...]]]:
        for n in range(first, last):
            user_id = f"U{n:032x}"
            hashed = line_user_hash(user_id)
            following = rng.random() >= 0.1
            follower = (
                n,
                user_id,
                hashed,
                "",
                "",
                "ja",
                "following" if following else "blocked",
                now,
                now,
                None if following else now,
                now,
            )
            resident = (
                n,
                hashed,
                encrypt(user_id, context=b"residents.residentattributes.line_user_id"),
                empty_answers,
                now,
                now,
            )
            chosen = [
                REGISTERED,
                token_for(key["性別"], rng.choice(gender)),
                birth_year_token(key["生まれ年"], rng.randint(this_year - 95, this_year - 10)),
                token_for(key["お住まいの地区"], rng.choice(home)),
                *(token_for(key["勤務先・通学先の地区"], c) for c in rng.sample(work, rng.randint(0, 2))),
                *(token_for(key["受け取りたい情報"], c) for c in rng.sample(topics, rng.randint(1, 3))),
            ]
            entry = (n, following, sorted(token_number(t) for t in chosen if t != REGISTERED), n)
            yield follower, resident, [(n, token, following) for token in chosen], entry

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

    started = time.perf_counter()
    tokens_written = 0
    for first in range(1, args.friends + 1, BATCH):
        batch = list(rows(first, min(first + BATCH, args.friends + 1)))
        data = {
            "follower": [b[0] for b in batch],
            "resident": [b[1] for b in batch],
            "token": [t for b in batch for t in b[2]],
            "entry": [
                b[3] if connection.vendor == "postgresql" else (*b[3][:2], json.dumps(b[3][2]), b[3][3])
                for b in batch
            ],
        }
        tokens_written += len(data["token"])
        with transaction.atomic(), connection.cursor() as cursor:
            for name, (table, columns) in tables.items():
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in data[name]:
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * len(columns.split(",")))
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data[name])  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table, _ in list(tables.values())[:3]:  # (the entries' key is the resident's)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                )
            connection.set_autocommit(True)
            for table, _ in tables.values():
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")
    load_seconds = time.perf_counter() - started

    segment = validate(
        {
            "op": "and",
            "items": [
                {
                    "op": "or",
                    "items": [
                        {
                            "type": "choice",
                            "field": key["お住まいの地区"],
                            "match": "any",
                            "codes": [home[0]],
                        },
                        {
                            "type": "choice",
                            "field": key["勤務先・通学先の地区"],
                            "match": "any",
                            "codes": [work[0]],
                        },
                    ],
                },
                {"type": "age", "field": key["生まれ年"], "min": 60, "max": None},
                {"type": "choice", "field": key["受け取りたい情報"], "match": "any", "codes": [topics[1]]},
            ],
        }
    )
    timings = []
    audience = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        audience = count(segment)
        timings.append((time.perf_counter() - started) * 1000)

    print(
        json.dumps(
            {
                "db": connection.vendor,
                "friends": args.friends,
                "tokens": tokens_written,
                "load_seconds": round(load_seconds, 1),
                "audience": audience,
                "audience_count_ms_first": round(timings[0], 1),
                "audience_count_ms_median": round(statistics.median(timings), 1),
                "audience_count_ms_max": round(max(timings), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
