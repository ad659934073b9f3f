"""Japanese search: how long a resident's question takes against N answer-like pages.

Usage: .venv/bin/python bench/search_query.py [--pages N] [--queries Q]
Runs against a fresh SQLite file in a temporary directory (or DATABASE_URL's PostgreSQL: use a
scratch database). Creates N live StandardPages with generated city-information text (Wagtail's
signal handler indexes each as it is saved), then times Q questions the way the chatbot asks them
(``Page.objects.live().search(q).annotate_score(...)``, top 5), with the in-memory index warm.
``rebuild_ms`` is the time a process needs to rebuild its in-memory index after another process
changed it. Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from django_setup import start_django

TOPICS = [
    "粗大ごみ",
    "資源ごみ",
    "住民票",
    "印鑑登録",
    "マイナンバーカード",
    "戸籍謄本",
    "転入届",
    "国民健康保険",
    "児童手当",
    "予防接種",
    "子育て支援",
    "保育園",
    "避難所",
    "防災行政無線",
    "ハザードマップ",
    "クマ出没",
    "市民プール",
    "図書館",
    "水道料金",
    "下水道",
    "固定資産税",
    "軽自動車税",
    "ふるさと納税",
    "介護保険",
    "高齢者福祉",
    "障害者手帳",
    "成人式",
    "市営住宅",
    "バス路線",
    "空き家",
]
ACTIONS = ["申し込み", "手続き", "届け出", "受付", "利用", "支払い", "変更", "相談", "予約", "交付"]
PLACES = ["市民課", "窓口", "支所", "市役所本庁舎", "オンライン", "電話", "郵送", "コンビニ"]
QUESTIONS = [
    "粗大ごみの出し方を教えて",
    "住民票の写しはどこで取れますか",
    "マイナンバーカードを作りたい",
    "クマが出たらどうすればいい",
    "保育園に入りたいです",
    "水道料金を払いたい",
    "避難所はどこですか",
    "ふるさと納税の申し込み方法",
    "引っ越しの手続きを知りたい",
    "図書館の予約はできますか",
    "児童手当の申請",
    "予防接種の予約をしたい",
]


def page_text(rng: random.Random, n: int) -> tuple[str, str]:
    topic = TOPICS[n % len(TOPICS)]
    action = rng.choice(ACTIONS)
    title = f"{topic}の{action}（{n}）"
    sentences = []
    for _ in range(rng.randint(8, 20)):
        a, b = rng.choice(TOPICS), rng.choice(ACTIONS)
        sentences.append(
            f"{topic}の{action}は{rng.choice(PLACES)}でできます。{a}の{b}については別のページをご覧ください。"
        )
    return title, "<p>" + "".join(sentences) + "</p>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300, help="answer-like pages (default 300)")
    parser.add_argument("--queries", type=int, default=200, help="timed questions (default 200)")
    args = parser.parse_args()

    start_django()
    from django.db import connection
    from wagtail.models import Page
    from wagtail.search import index

    from home.models import StandardPage
    from search import backend as search_backend
    from search.models import SearchDocument

    # StandardPage searches only its title unless the model says more; the chatbot's answer pages
    # search their text, so the bench does too.
    StandardPage.search_fields = [
        *StandardPage.search_fields,
        index.SearchField("lead"),
        index.SearchField("body"),
    ]

    home = Page.objects.get(depth=2)
    rng = random.Random(20261208)  # noqa: S311 - test data, not secrets
    started = time.perf_counter()
    for n in range(args.pages):
        title, body = page_text(rng, n)
        home.add_child(instance=StandardPage(title=title, slug=f"bench-{n}", body=body))
    index_seconds = time.perf_counter() - started
    documents = SearchDocument.objects.filter(index_key="wagtailcore.page").count()

    search_backend.clear_cache()
    started = time.perf_counter()
    search_backend.get_bm25_index(Page)
    rebuild_ms = (time.perf_counter() - started) * 1000

    timings = []
    for q in range(args.queries):
        question = QUESTIONS[q % len(QUESTIONS)]
        started = time.perf_counter()
        results = Page.objects.live().search(question).annotate_score("_score")
        top = list(results[:5])
        timings.append((time.perf_counter() - started) * 1000)
        assert top, question
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]

    print(
        json.dumps(
            {
                "database": connection.vendor,
                "documents": documents,
                "queries": args.queries,
                "p50_ms": round(statistics.median(timings), 2),
                "p99_ms": round(p99, 2),
                "rebuild_ms": round(rebuild_ms, 1),
                "index_ms_per_page": round(index_seconds * 1000 / max(args.pages, 1), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
