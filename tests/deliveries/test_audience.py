"""The audience selector against the database (SQLite and PostgreSQL alike): segments over
受信設定 answers, ages at the date of evaluation, friend-since dates, blocked friends never
included; a reference evaluator in Python agrees with the SQL on random residents and trees."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from deliveries import audience
from deliveries.audience import SegmentError, count, recipients, validate
from line_channel import followers
from residents.models import AttributeFormPage, AttributeToken
from residents.services import delete_attributes, save_attributes, sync_reachability
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, GENDER, TOPICS, WORK

pytestmark = pytest.mark.django_db
ON = date(2026, 12, 2)
MORI, OFUNATO, MASSAKI = "c3-0", "c3-1", "c3-2"
BOUSAI, KUMA, KOSODATE = "c5-0", "c5-1", "c5-2"


def resident(
    page: AttributeFormPage,
    user_id: str,
    *,
    home: str,
    work: list[str] | None = None,
    born: int = 1980,
    topics: list[str] | None = None,
    friend: bool = True,
    since: date = date(2025, 4, 1),
) -> None:
    if friend:
        at = timezone.make_aware(datetime.combine(since, time.min))
        followers.record_follow(line_user_id=user_id, at=at, event_id=f"follow-{user_id}")
    answers: dict[str, Any] = {GENDER: "c1-0", BIRTH_YEAR: born, DISTRICT: home, TOPICS: topics or [BOUSAI]}
    if work:
        answers[WORK] = work
    save_attributes(page=page, line_user_id=user_id, answers=answers, actor="resident")


def choice(field: str, *codes: str, match: str = "any") -> dict[str, Any]:
    return {"type": "choice", "field": field, "match": match, "codes": list(codes)}


def everyone(definition: dict[str, Any]) -> set[str]:
    return {user for chunk in recipients(definition, on=ON) for user in chunk}


# The segment of the acceptance test: lives or works in 盛町, aged 60 or over, wants クマ出没情報.
BEAR_ALERT = {
    "op": "and",
    "items": [
        {"op": "or", "items": [choice(DISTRICT, MORI), choice(WORK, "c4-0")]},
        {"type": "age", "field": BIRTH_YEAR, "min": 60, "max": None},
        choice(TOPICS, KUMA),
    ],
}


def test_the_bear_alert_segment_reaches_exactly_the_matching_friends(
    attribute_page: AttributeFormPage,
) -> None:
    page = attribute_page
    resident(page, "U-home", home=MORI, born=1950, topics=[KUMA])  # lives in 盛町, 76
    resident(page, "U-work", home=MASSAKI, work=["c4-0"], born=1966, topics=[KUMA, BOUSAI])  # works there, 60
    resident(page, "U-young", home=MORI, born=1967, topics=[KUMA])  # 59
    resident(page, "U-nobear", home=MORI, born=1950, topics=[BOUSAI])
    resident(page, "U-elsewhere", home=OFUNATO, work=["c4-1"], born=1950, topics=[KUMA])
    resident(page, "U-stranger", home=MORI, born=1950, topics=[KUMA], friend=False)  # never a friend
    resident(page, "U-blocked", home=MORI, born=1950, topics=[KUMA])
    followers.record_unfollow(line_user_id="U-blocked", at=timezone.now(), event_id="unfollow-U-blocked")
    sync_reachability(line_user_id="U-blocked")

    segment = validate(BEAR_ALERT)
    assert count(segment, on=ON) == 2
    assert everyone(segment) == {"U-home", "U-work"}
    # A year later the 59-year-old is 60.
    assert everyone(segment) | {"U-young"} == {
        u for chunk in recipients(segment, on=ON + timedelta(days=365)) for u in chunk
    }

    # The blocked friend comes back: reachable again.
    followers.record_follow(line_user_id="U-blocked", at=timezone.now(), event_id="refollow-U-blocked")
    sync_reachability(line_user_id="U-blocked")
    assert count(segment, on=ON) == 3


def test_follow_and_unfollow_events_move_residents_in_and_out(attribute_page: AttributeFormPage) -> None:
    from line_channel import events
    from tests.line.test_events import make_event

    resident(attribute_page, "U-ev", home=MORI, topics=[KUMA])
    segment = validate({"op": "and", "items": [choice(TOPICS, KUMA)]})
    assert count(segment) == 1
    events.store_events([make_event("U-ev", at=timezone.now(), event_type="unfollow")])
    events.process_pending()
    assert count(segment) == 0 and not AttributeToken.objects.filter(reachable=True).exists()
    events.store_events(
        [make_event("U-ev", at=timezone.now(), event_type="follow", follow={"isUnblocked": True})]
    )
    from line_channel.events import HandlerContext

    events.process_pending(context=HandlerContext(gateway_factory=_no_profile))
    assert count(segment) == 1


def _no_profile() -> Any:
    from line_channel.gateway import LineApiError

    raise LineApiError(0, "no LINE in this test")


def test_any_all_none_and_everyone(attribute_page: AttributeFormPage) -> None:
    page = attribute_page
    resident(page, "U-1", home=MORI, topics=[KUMA, BOUSAI])
    resident(page, "U-2", home=MORI, topics=[KUMA])
    resident(page, "U-3", home=OFUNATO, topics=[KOSODATE])
    resident(page, "U-4", home=MASSAKI, topics=[BOUSAI])
    delete_attributes(line_user_id="U-4", actor="resident")  # deleted: in no audience

    assert everyone(validate({"op": "and", "items": []})) == {"U-1", "U-2", "U-3"}
    assert everyone(validate(choice(TOPICS, KUMA, BOUSAI, match="all"))) == {"U-1"}
    assert everyone(validate(choice(TOPICS, KUMA, BOUSAI))) == {"U-1", "U-2"}
    assert everyone(validate(choice(TOPICS, KUMA, match="none"))) == {"U-3"}
    assert everyone(
        validate({"op": "or", "items": [choice(DISTRICT, OFUNATO), choice(TOPICS, KUMA, match="none")]})
    ) == {"U-3"}
    assert everyone(
        validate({"op": "and", "items": [choice(DISTRICT, MORI), choice(TOPICS, BOUSAI, match="none")]})
    ) == {"U-2"}


def test_friend_since(attribute_page: AttributeFormPage) -> None:
    resident(attribute_page, "U-old", home=MORI, since=date(2024, 5, 1))
    resident(attribute_page, "U-new", home=MORI, since=date(2026, 11, 30))
    recent = validate({"type": "friend_since", "after": "2026-11-01", "before": None})
    assert everyone(recent) == {"U-new"}
    early = validate(
        {"op": "and", "items": [{"type": "friend_since", "after": None, "before": "2024-05-01"}]}
    )
    assert everyone(early) == {"U-old"}, "the end date is included"


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"op": "xor", "items": []}, "まとめ方"),
        ({"op": "or", "items": []}, "条件がありません"),
        (choice("f_nope", "c1-0"), "受信設定にない項目"),
        (choice(DISTRICT, "c9-9"), "ない選択肢"),
        (choice(DISTRICT), "1つ以上"),
        (choice(DISTRICT, MORI, match="most"), "どれでもない"),
        ({"type": "age", "field": BIRTH_YEAR, "min": 70, "max": 60}, "下限が上限"),
        ({"type": "age", "field": BIRTH_YEAR, "min": None, "max": None}, "下限か上限"),
        ({"type": "age", "field": DISTRICT, "min": 60}, "受信設定にない項目"),
        ({"type": "friend_since", "after": "2026-13-01"}, "日付が正しくありません"),
        ({"type": "weather"}, "知らない種類"),
        (
            {
                "op": "and",
                "items": [
                    {
                        "op": "and",
                        "items": [
                            {"op": "and", "items": [{"op": "and", "items": [{"op": "and", "items": []}]}]}
                        ],
                    }
                ],
            },
            "段まで",
        ),
    ],
)
def test_bad_definitions_are_refused_in_japanese(
    attribute_page: AttributeFormPage, definition: dict[str, Any], message: str
) -> None:
    with pytest.raises(SegmentError, match=message):
        validate(definition)


# --- the SQL agrees with a plain reading of the tree -------------------------------------------------


def reference(node: dict[str, Any], person: dict[str, Any]) -> bool:
    if "op" in node:
        results = [reference(item, person) for item in node["items"]]
        return all(results) if node["op"] == "and" else any(results)
    if node["type"] == "choice":
        value = person[node["field"]]
        held = set(value) if isinstance(value, list) else {value}
        codes = set(node["codes"])
        return {"any": bool(held & codes), "all": codes <= held, "none": not held & codes}[node["match"]]
    age = ON.year - person[BIRTH_YEAR]
    return (node["min"] is None or age >= node["min"]) and (node["max"] is None or age <= node["max"])


def random_tree(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.4:
        return {
            "op": rng.choice(["and", "or"]),
            "items": [random_tree(rng, depth + 1) for _ in range(rng.randint(1, 3))],
        }
    kind = rng.choice(["home", "work", "topics", "age"])
    if kind == "age":
        low, high = rng.choice([(None, 30), (20, None), (40, 65), (60, None), (60, 80), (None, 80)])
        return {"type": "age", "field": BIRTH_YEAR, "min": low, "max": high}
    field, prefix = {"home": (DISTRICT, "c3"), "work": (WORK, "c4"), "topics": (TOPICS, "c5")}[kind]
    codes = rng.sample([f"{prefix}-{n}" for n in range(3)], rng.randint(1, 2))
    return choice(field, *codes, match=rng.choice(["any", "all", "none"]))


def test_random_segments_agree_with_a_reference_evaluator(attribute_page: AttributeFormPage) -> None:
    rng = random.Random(6)
    people: dict[str, dict[str, Any]] = {}
    for n in range(40):
        person: dict[str, Any] = {
            DISTRICT: f"c3-{rng.randint(0, 2)}",
            WORK: rng.sample(["c4-0", "c4-1", "c4-2"], rng.randint(0, 2)),
            TOPICS: rng.sample([BOUSAI, KUMA, KOSODATE], rng.randint(1, 3)),
            BIRTH_YEAR: rng.randint(1930, 2010),
        }
        user_id = f"U-{n}"
        resident(
            attribute_page,
            user_id,
            home=person[DISTRICT],
            work=person[WORK],
            born=person[BIRTH_YEAR],
            topics=person[TOPICS],
        )
        people[user_id] = person
    for _ in range(150):
        tree = random_tree(rng)
        tree = tree if "op" in tree else {"op": "and", "items": [tree]}
        if tree["op"] == "or" and not tree["items"]:
            continue
        expected = {user for user, person in people.items() if reference(tree, person)}
        segment = validate(tree)
        assert everyone(segment) == expected, tree
        assert count(segment, on=ON) == len(expected), tree


def test_the_count_is_one_query(attribute_page: AttributeFormPage, django_assert_num_queries: Any) -> None:
    resident(attribute_page, "U-q", home=MORI, topics=[KUMA])
    segment = validate(BEAR_ALERT)
    with django_assert_num_queries(1):
        audience.count(segment, on=ON)


def test_both_forms_of_the_index_follow_the_answers_and_the_friendship(
    attribute_page: AttributeFormPage,
) -> None:
    from residents.attributes import REGISTERED, token_number
    from residents.models import AudienceEntry

    def forms_agree() -> None:
        for entry in AudienceEntry.objects.all():
            rows = AttributeToken.objects.filter(resident_id=entry.pk)
            assert set(entry.tokens) == {
                token_number(t) for t in rows.values_list("token", flat=True) if t != REGISTERED
            }
            assert {entry.reachable} == set(rows.values_list("reachable", flat=True))
        assert AudienceEntry.objects.count() == AttributeToken.objects.filter(token=REGISTERED).count()

    resident(attribute_page, "U-a", home=MORI, topics=[KUMA])
    resident(attribute_page, "U-b", home=OFUNATO, topics=[BOUSAI], friend=False)
    forms_agree()
    assert AudienceEntry.objects.get(resident__line_user_hash__isnull=False, reachable=True)
    followers.record_unfollow(line_user_id="U-a", at=timezone.now(), event_id="unfollow-U-a")
    sync_reachability(line_user_id="U-a")
    forms_agree()
    assert not AudienceEntry.objects.filter(reachable=True).exists()
    delete_attributes(line_user_id="U-a", actor="resident")
    forms_agree()
    assert AudienceEntry.objects.count() == 1


def test_an_entry_knows_its_friend_once_they_follow(attribute_page: AttributeFormPage) -> None:
    """The fan-out reads LINE user ids through the entry's friend key: a resident who answered
    before following gets it when they follow, and keeps it while blocking."""
    from line_channel.models import Follower
    from residents.models import AudienceEntry

    resident(attribute_page, "U-late", home=MORI, topics=[KUMA], friend=False)
    entry = AudienceEntry.objects.get()
    assert (entry.follower_id, entry.reachable) == (None, False)
    segment = validate({"op": "and", "items": [choice(TOPICS, KUMA)]})
    assert everyone(segment) == set()
    followers.record_follow(line_user_id="U-late", at=timezone.now(), event_id="follow-U-late")
    sync_reachability(line_user_id="U-late")
    entry.refresh_from_db()
    friend = Follower.objects.get(line_user_id="U-late")
    assert (entry.follower_id, entry.reachable) == (friend.pk, True)
    assert everyone(segment) == {"U-late"}
    followers.record_unfollow(line_user_id="U-late", at=timezone.now(), event_id="unfollow-U-late")
    sync_reachability(line_user_id="U-late")
    entry.refresh_from_db()
    assert (entry.follower_id, entry.reachable) == (friend.pk, False)
    assert everyone(segment) == set()


def test_recipients_are_read_in_keyset_pages_and_resume_after_any_chunk(
    attribute_page: AttributeFormPage,
) -> None:
    for n in range(8):
        resident(attribute_page, f"U-p{n}", home=MORI, topics=[KUMA])
    # Blocked a moment ago, before the index heard of it: the last check beside the index drops them.
    followers.record_unfollow(line_user_id="U-p3", at=timezone.now(), event_id="unfollow-U-p3")
    segment = validate({"op": "and", "items": [choice(TOPICS, KUMA)]})
    chunks = list(audience.recipient_chunks(segment, on=ON, chunk=2, page=3))
    everybody = [user for _last, ids in chunks for user in ids]
    assert everybody == [f"U-p{n}" for n in range(8) if n != 3]  # in resident order, each once
    assert all(1 <= len(ids) <= 2 for _last, ids in chunks)
    lasts = [last for last, _ids in chunks]
    assert lasts == sorted(set(lasts))
    for position, (last, _ids) in enumerate(chunks):  # a fan-out stopped after any chunk goes on
        rest = audience.recipient_chunks(segment, on=ON, after=last, chunk=2, page=3)
        assert [u for _l, ids in rest for u in ids] == everybody[
            sum(len(i) for _l, i in chunks[: position + 1]) :
        ]
