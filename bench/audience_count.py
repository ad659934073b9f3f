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

from django_setup import start_django
from friends import Town, time_count, write_friends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--friends", type=int, default=50000, help="friends with 受信設定 (default 50000)")
    parser.add_argument("--runs", type=int, default=5, help="timed counts (default 5)")
    args = parser.parse_args()

    start_django()
    from django.db import connection

    from deliveries.audience import validate
    from line_channel.models import Follower
    from residents.attributes import REGISTERED, birth_year_token, token_for
    from residents.models import AttributeToken, AudienceEntry, ResidentAttributes

    AudienceEntry.objects.all().delete()
    AttributeToken.objects.all().delete()
    ResidentAttributes.objects.all().delete()
    Follower.objects.all().delete()
    town = Town("example")
    key, gender, home, work, topics = town.key, town.gender, town.home, town.work, town.topics
    rng = random.Random(6)  # noqa: S311 - test data, not secrets

    def friends() -> Iterator[tuple[str, bool, list[str]]]:
        for n in range(1, args.friends + 1):
            following = rng.random() >= 0.1
            chosen = [
                REGISTERED,
                token_for(key["性別"], rng.choice(gender)),
                birth_year_token(key["生まれ年"], rng.randint(town.year - 95, town.year - 10)),
                token_for(key["お住まいの地区"], rng.choice(home)),
                *(token_for(key["勤務先・通学先の地区"], c) for c in rng.sample(work, rng.randint(0, 2))),
                *(token_for(key["受け取りたい情報"], c) for c in rng.sample(topics, rng.randint(1, 3))),
            ]
            yield f"U{n:032x}", following, chosen

    started = time.perf_counter()
    tokens_written = write_friends(friends())
    load_seconds = time.perf_counter() - started
    audience, timings = time_count(validate(town.definition()), args.runs)

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
