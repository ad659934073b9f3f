"""Dashboard figures: how long 受信設定の登録状況 takes to count N registered residents.

Usage: .venv/bin/python bench/attribute_distribution.py [--residents N] [--runs R]
Runs against a fresh SQLite file in a temporary directory (or DATABASE_URL's PostgreSQL, whose
residents tables it empties first: use a scratch database). Residents are written straight into
the blind index (about six tokens each, as Ofunato's demo form gives: gender, birth year, home
district, one or two work districts, one to three topics); the counting is the panel's own
``residents.dashboard.distribution``, uncached. Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from django_setup import start_django

BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=20000, help="registered residents (default 20000)")
    parser.add_argument("--runs", type=int, default=3, help="timed counts (default 3)")
    args = parser.parse_args()

    start_django()
    from django.db import connection
    from wagtail.models import Page

    from residents.attributes import REGISTERED, birth_year_token, token_for
    from residents.dashboard import distribution, registered_count
    from residents.demo import seed_attribute_form
    from residents.models import AttributeToken, ResidentAttributes

    AttributeToken.objects.all().delete()
    ResidentAttributes.objects.all().delete()
    page = seed_attribute_form(Page.objects.get(depth=2))
    specs = {spec.label: spec for spec in page.get_form_fields()}

    def codes(label: str) -> list[str]:
        return [code for code, _ in specs[label].choices]

    gender, home, work, topics = (
        codes("性別"),
        codes("お住まいの地区"),
        codes("勤務先・通学先の地区"),
        codes("受け取りたい情報"),
    )
    key = {label: spec.clean_name for label, spec in specs.items()}
    rng = random.Random(20261202)  # noqa: S311 - test data, not secrets
    this_year = time.localtime().tm_year

    started = time.perf_counter()
    tokens_written = 0
    for first in range(0, args.residents, BATCH):
        rows = ResidentAttributes.objects.bulk_create(
            ResidentAttributes(line_user_hash=f"{n:064x}", line_user_id=f"U{n:032x}", answers={})  # type: ignore[misc]
            for n in range(first, min(first + BATCH, args.residents))
        )
        tokens: list[AttributeToken] = []
        for row in rows:
            chosen = [
                REGISTERED,
                token_for(key["性別"], rng.choice(gender)),
                birth_year_token(key["生まれ年"], rng.randint(this_year - 95, this_year - 10)),
                token_for(key["お住まいの地区"], rng.choice(home)),
                *(token_for(key["勤務先・通学先の地区"], c) for c in rng.sample(work, rng.randint(1, 2))),
                *(token_for(key["受け取りたい情報"], c) for c in rng.sample(topics, rng.randint(1, 3))),
            ]
            tokens.extend(AttributeToken(resident=row, token=t) for t in chosen)
        AttributeToken.objects.bulk_create(tokens)
        tokens_written += len(tokens)
    load_seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE residents_attributetoken")

    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = distribution(page)
        timings.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    registered = registered_count()
    count_ms = (time.perf_counter() - started) * 1000
    assert result.registered == registered == args.residents, (result.registered, registered)

    print(
        json.dumps(
            {
                "database": connection.vendor,
                "residents": args.residents,
                "tokens": tokens_written,
                "load_seconds": round(load_seconds, 1),
                "distribution_ms_median": round(statistics.median(timings), 1),
                "distribution_ms_max": round(max(timings), 1),
                "registered_count_ms": round(count_ms, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
