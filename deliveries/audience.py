"""The audience selector: who a segment (配信グループ) reaches, and how many they are.

A segment is a tree, stored as JSON in deliveries and 配信グループ::

    {"op": "and", "items": [                                   # a group: "and" / "or"
        {"op": "or", "items": [
            {"type": "choice", "field": "f_…", "match": "any", "codes": ["c…"]},   # home 盛町
            {"type": "choice", "field": "f_…", "match": "any", "codes": ["c…"]}]},  # works in 盛町
        {"type": "age", "field": "f_…", "min": 60, "max": null},                 # 60 and over
        {"type": "choice", "field": "f_…", "match": "any", "codes": ["c…"]}]}    # wants クマ出没情報

Conditions: ``choice`` (``match`` ``any`` / ``all`` / ``none`` of ``codes``; one code is
"equals"), ``age`` (from the birth-year field, at the date of evaluation: a recurring delivery
evaluates its segment at each occurrence), ``friend_since`` (``after`` / ``before`` dates of the
first follow). An empty ``and`` group is everyone who registered 受信設定.

How it is fast: residents' answers are encrypted; a segment reads the blind index only, and
only the entries of residents who are friends now (``reachable``, flipped on follow and
unfollow), so blocked and unfollowed friends are never included and no count joins the friends
table or touches the encrypted rows. The index has two forms, written together:

- PostgreSQL: ``AudienceEntry``, one row per resident whose index entries are 64-bit numbers in
  one ``bigint[]``, under a GIN index ``WHERE reachable``. A segment is one boolean expression
  (``&&`` any of, ``@>`` all of, ``NOT`` none of, AND/OR as written) that the GIN index answers
  with bitmap operations on compressed posting lists.
- SQLite: ``AttributeToken``, one row per (resident, entry), and one ``REGISTERED`` row per
  resident. A segment is one statement of set operations (INTERSECT for "and", UNION for "or",
  EXCEPT for "none of") over ``SELECT resident_id … WHERE reachable AND token IN (…)`` reads
  from a partial index on (token, resident).

Only ``friend_since`` and the final list of recipients join the friends table.

Segments read attributes only through ``residents.attributes`` (tokens) and the form's field
specs, never the answers themselves.
"""

# ruff: noqa: S608 - the SQL formatted here holds only quoted model table names, fixed keywords and
# %s placeholders; every value (tokens, dates) is a query parameter.

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from home.forms.blocks import CHOICE_TYPES
from residents.attributes import REGISTERED, birth_year_token, token_for, token_number

MATCHES = ("any", "all", "none")
MAX_DEPTH = 4
MAX_CONDITIONS = 30


class SegmentError(ValueError):
    """A segment definition that cannot be evaluated; the message is Japanese, for staff."""


# --- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    """What a segment may know about a 受信設定 item: its type and choice codes."""

    key: str
    label: str
    field_type: str
    codes: frozenset[str]
    choices: tuple[tuple[str, str], ...] = ()  # (code, label), in the form's order

    def choice_label(self, code: str) -> str:
        return dict(self.choices).get(code, code)


def attribute_fields() -> dict[str, FieldInfo]:
    """The 受信設定 items a segment can use: choice fields and the birth year, current or retired."""
    from home.forms.answers import columns_for_page
    from residents.models import AttributeFormPage

    page = AttributeFormPage.objects.first()
    if page is None:
        return {}
    return {
        column.key: FieldInfo(
            column.key,
            column.label,
            column.field_type,
            frozenset(column.choices),
            tuple(column.choices.items()),
        )
        for column in columns_for_page(page)
        if column.field_type in CHOICE_TYPES or column.field_type == "birth_year"
    }


def validate(definition: Any, fields: dict[str, FieldInfo] | None = None) -> dict[str, Any]:
    """Check a definition against the 受信設定 form; return it normalised or raise ``SegmentError``."""
    fields = attribute_fields() if fields is None else fields
    counter = [0]
    normalised = _validate_node(definition, fields, depth=0, counter=counter)
    if normalised.get("op") is None:  # a lone condition is an "and" of one
        normalised = {"op": "and", "items": [normalised]}
    return normalised


def _validate_node(
    node: Any, fields: dict[str, FieldInfo], *, depth: int, counter: list[int]
) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise SegmentError("条件の形が正しくありません。")
    if "op" in node:
        if node["op"] not in ("and", "or"):
            raise SegmentError("条件のまとめ方は「すべて満たす」か「どれかを満たす」です。")
        if depth >= MAX_DEPTH:
            raise SegmentError(f"条件のグループは{MAX_DEPTH}段までです。")
        items = node.get("items") or []
        if not isinstance(items, list):
            raise SegmentError("条件の形が正しくありません。")
        if node["op"] == "or" and not items:
            raise SegmentError("「どれかを満たす」のグループに条件がありません。")
        return {
            "op": node["op"],
            "items": [_validate_node(item, fields, depth=depth + 1, counter=counter) for item in items],
        }
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise SegmentError(f"条件は{MAX_CONDITIONS}個までです。")
    kind = node.get("type")
    if kind == "choice":
        return _validate_choice(node, fields)
    if kind == "age":
        return _validate_age(node, fields)
    if kind == "friend_since":
        return _validate_friend_since(node)
    raise SegmentError("知らない種類の条件です。")


def _field(node: dict[str, Any], fields: dict[str, FieldInfo], kinds: tuple[str, ...]) -> FieldInfo:
    info = fields.get(str(node.get("field", "")))
    if info is None or info.field_type not in kinds:
        raise SegmentError("受信設定にない項目が条件に使われています。受信設定フォームを確かめてください。")
    return info


def _validate_choice(node: dict[str, Any], fields: dict[str, FieldInfo]) -> dict[str, Any]:
    info = _field(node, fields, tuple(CHOICE_TYPES))
    match = node.get("match", "any")
    if match not in MATCHES:
        raise SegmentError("選択肢の条件は「どれか」「すべて」「どれでもない」のどれかです。")
    codes = node.get("codes") or []
    if not isinstance(codes, list) or not codes:
        raise SegmentError(f"「{info.label}」の条件で、選択肢を1つ以上選んでください。")
    unknown = [str(code) for code in codes if str(code) not in info.codes]
    if unknown:
        raise SegmentError(f"「{info.label}」にない選択肢が条件に使われています。")
    return {"type": "choice", "field": info.key, "match": match, "codes": sorted({str(c) for c in codes})}


def _age(value: Any, label: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        age = int(value)
    except (TypeError, ValueError):
        raise SegmentError(f"{label}は数字で入れてください。") from None
    if not 0 <= age <= 150:
        raise SegmentError(f"{label}は0から150までです。")
    return age


def _validate_age(node: dict[str, Any], fields: dict[str, FieldInfo]) -> dict[str, Any]:
    info = _field(node, fields, ("birth_year",))
    low, high = _age(node.get("min"), "年齢の下限"), _age(node.get("max"), "年齢の上限")
    if low is None and high is None:
        raise SegmentError("年齢の条件には、下限か上限を入れてください。")
    if low is not None and high is not None and low > high:
        raise SegmentError("年齢の下限が上限より大きくなっています。")
    return {"type": "age", "field": info.key, "min": low, "max": high}


def _date(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise SegmentError("友だち追加日の条件の日付が正しくありません。") from None


def _validate_friend_since(node: dict[str, Any]) -> dict[str, Any]:
    after, before = _date(node.get("after")), _date(node.get("before"))
    if after is None and before is None:
        raise SegmentError("友だち追加日の条件には、開始日か終了日を入れてください。")
    if after is not None and before is not None and after > before:
        raise SegmentError("友だち追加日の開始日が終了日より後になっています。")
    return {"type": "friend_since", "after": after, "before": before}


# --- compiling to SQL -------------------------------------------------------------------------


Fragment = tuple[str, list[Any]]  # SQL and its parameters, in the order the SQL reads them


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _birth_years(node: dict[str, Any], on: date) -> range:
    """The birth years of an age condition at ``on`` (the age reached in ``on``'s year)."""
    youngest = on.year - (node["min"] or 0)
    oldest = on.year - (node["max"] if node["max"] is not None else 150)
    return range(max(oldest, 1850), youngest + 1)


def _friend_since(node: dict[str, Any], *, registered: Fragment) -> Fragment:
    """Residents (of ``registered``) whose first follow falls in the condition's dates."""
    from line_channel.models import Follower
    from residents.models import ResidentAttributes

    where: list[str] = []
    params: list[Any] = []
    if node["after"]:
        where.append("f.first_followed_at >= %s")
        params.append(_local_midnight(date.fromisoformat(node["after"])))
    if node["before"]:
        where.append("f.first_followed_at < %s")
        params.append(_local_midnight(date.fromisoformat(node["before"]), next_day=True))
    where.append(f"r.id IN ({registered[0]})")
    sql = (
        f"SELECT r.id AS resident_id FROM {_table(ResidentAttributes)} r JOIN {_table(Follower)} f "
        f"ON f.line_user_hash = r.line_user_hash WHERE {' AND '.join(where)}"
    )
    return sql, params + registered[1]


class _SetCompiler:
    """SQLite: set operations on ``AttributeToken`` rows (its partial index on reachable entries).

    Every compound member is wrapped as a derived table so SQLite, which has no parentheses
    around compound members and no precedence between compound operators, reads it as meant.
    """

    def __init__(self, on: date) -> None:
        from residents.models import AttributeToken

        self.on = on
        self.table = _table(AttributeToken)
        self.aliases = 0

    def tokens(self, tokens: list[str]) -> Fragment:
        marks = ", ".join(["%s"] * len(tokens))
        return f"SELECT resident_id FROM {self.table} WHERE reachable AND token IN ({marks})", list(tokens)

    def universe(self) -> Fragment:
        return self.tokens([REGISTERED])

    def compound(self, operator: str, parts: list[Fragment]) -> Fragment:
        if len(parts) == 1:
            return parts[0]
        members, params = [], []
        for sql, part_params in parts:
            self.aliases += 1
            members.append(f"SELECT resident_id FROM ({sql}) AS s{self.aliases}")
            params.extend(part_params)
        return f" {operator} ".join(members), params

    def condition(self, node: dict[str, Any]) -> tuple[Fragment, bool]:
        """The residents a condition selects, and whether it is negative (none of)."""
        kind = node["type"]
        if kind == "choice":
            tokens = [token_for(node["field"], code) for code in node["codes"]]
            if node["match"] == "all":
                return self.compound("INTERSECT", [self.tokens([t]) for t in tokens]), False
            return self.tokens(tokens), node["match"] == "none"
        if kind == "age":
            years = _birth_years(node, self.on)
            return self.tokens([birth_year_token(node["field"], year) for year in years] or ["-"]), False
        return _friend_since(node, registered=self.universe()), False

    def group(self, node: dict[str, Any]) -> Fragment:
        positives: list[Fragment] = []
        negatives: list[Fragment] = []
        for item in node["items"]:
            fragment, negative = (self.group(item), False) if "op" in item else self.condition(item)
            (negatives if negative else positives).append(fragment)
        if node["op"] == "or":
            # A "none of" inside "or": everyone registered except those.
            others = [self.compound("EXCEPT", [self.universe(), fragment]) for fragment in negatives]
            return self.compound("UNION", positives + others)
        selected = self.compound("INTERSECT", positives or [self.universe()])
        if negatives:
            return self.compound("EXCEPT", [selected, self.compound("UNION", negatives)])
        return selected

    def select(self, definition: dict[str, Any]) -> Fragment:
        return self.group(definition)

    def page(self, definition: dict[str, Any], *, after: int, limit: int) -> Fragment:
        """The next ``limit`` residents after ``after``, each with their LINE user id when they
        follow now (else NULL: the page's last id still moves the reading on)."""
        from line_channel.models import Follower
        from residents.models import AudienceEntry

        sql, params = self.select(definition)
        return (
            f"SELECT page.resident_id, f.line_user_id FROM (SELECT DISTINCT resident_id FROM ({sql}) AS a "
            "WHERE resident_id > %s ORDER BY resident_id LIMIT %s) AS page "
            f"JOIN {_table(AudienceEntry)} e ON e.resident_id = page.resident_id "
            f"LEFT JOIN {_table(Follower)} f ON f.id = e.follower_id AND f.status = %s "
            "ORDER BY page.resident_id"
        ), [*params, after, limit, Follower.Status.FOLLOWING]


class _ArrayCompiler:
    """PostgreSQL: one boolean expression over ``AudienceEntry.tokens`` (64-bit numbers), which the
    GIN index answers with bitmap operations: ``&&`` any of, ``@>`` all of."""

    def __init__(self, on: date) -> None:
        from residents.models import AudienceEntry

        self.on = on
        self.table = _table(AudienceEntry)

    def overlap(self, operator: str, tokens: list[str]) -> Fragment:
        if not tokens:
            return "FALSE", []
        return f"e.tokens {operator} %s::bigint[]", [sorted({token_number(t) for t in tokens})]

    def tokens_of(self, node: dict[str, Any]) -> list[str]:
        if node["type"] == "age":
            return [birth_year_token(node["field"], year) for year in _birth_years(node, self.on)]
        return [token_for(node["field"], code) for code in node["codes"]]

    def expression(self, node: dict[str, Any]) -> Fragment:
        if "op" in node:
            return self.group(node)
        kind = node["type"]
        if kind == "choice":
            tokens = self.tokens_of(node)
            if node["match"] == "all":
                return self.overlap("@>", tokens)
            sql, params = self.overlap("&&", tokens)
            return (f"NOT ({sql})", params) if node["match"] == "none" else (sql, params)
        if kind == "age":
            return self.overlap("&&", self.tokens_of(node))
        registered: Fragment = (f"SELECT resident_id FROM {self.table} WHERE reachable", [])
        sql, params = _friend_since(node, registered=registered)
        return f"e.resident_id IN ({sql})", params

    def group(self, node: dict[str, Any]) -> Fragment:
        """AND/OR of the items, merging what one index condition can say: in "or", every "any of"
        (and age) into one ``&&``; in "and", every "all of" (and single-choice "any") into one
        ``@>``. The GIN index then answers the group with one bitmap scan instead of filtering."""
        if not node["items"]:
            return "TRUE", []
        merged: list[str] = []
        rest: list[dict[str, Any]] = []
        for item in node["items"]:
            if _mergeable(node["op"], item):
                merged.extend(self.tokens_of(item))
            else:
                rest.append(item)
        parts = [self.overlap("&&" if node["op"] == "or" else "@>", merged)] if merged else []
        parts += [self.expression(item) for item in rest]
        joined = f" {node['op'].upper()} ".join(f"({sql})" for sql, _ in parts)
        return joined, [param for _, params in parts for param in params]

    def select(self, definition: dict[str, Any]) -> Fragment:
        sql, params = self.expression(definition)
        return f"SELECT e.resident_id FROM {self.table} e WHERE e.reachable AND ({sql})", params

    def page(self, definition: dict[str, Any], *, after: int, limit: int) -> Fragment:
        """The next ``limit`` residents after ``after`` who follow now, with their LINE user ids:
        one walk of the entries' primary key (or a bitmap scan for a narrow segment) and a
        friend looked up by its integer key per row."""
        from line_channel.models import Follower

        sql, params = self.expression(definition)
        return (
            f"SELECT e.resident_id, f.line_user_id FROM {self.table} e "
            f"JOIN {_table(Follower)} f ON f.id = e.follower_id "
            f"WHERE e.reachable AND ({sql}) AND e.resident_id > %s AND f.status = %s "
            "ORDER BY e.resident_id LIMIT %s"
        ), [*params, after, Follower.Status.FOLLOWING, limit]


def _mergeable(op: str, item: dict[str, Any]) -> bool:
    """Whether an item of an ``op`` group is said by the group's one ``&&`` ("or") or ``@>`` ("and")."""
    kind, match, codes = item.get("type"), item.get("match"), item.get("codes") or []
    if op == "or":
        return kind == "age" or (kind == "choice" and match == "any")
    return kind == "choice" and (match == "all" or (match == "any" and len(codes) == 1))


def _local_midnight(day: date, *, next_day: bool = False) -> datetime:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start + timedelta(days=1) if next_day else start


def _compiler(on: date | None) -> _SetCompiler | _ArrayCompiler:
    compiler = _ArrayCompiler if connection.vendor == "postgresql" else _SetCompiler
    return compiler(on or timezone.localdate())


def compile_segment(definition: dict[str, Any], *, on: date | None = None) -> Fragment:
    """SQL selecting the resident ids of a validated definition (evaluated on ``on``), and its params."""
    return _compiler(on).select(definition)


def count(definition: dict[str, Any], *, on: date | None = None) -> int:
    """How many friends the segment reaches now (or on ``on``): one query."""
    sql, params = compile_segment(definition, on=on)
    with connection.cursor() as cursor:
        # (a single "any of" read lists a resident once per matching entry: count each once)
        cursor.execute(f"SELECT COUNT(DISTINCT resident_id) FROM ({sql}) AS audience", params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


RECIPIENT_PAGE = 10_000  # residents read per query while fanning out


def recipient_chunks(
    definition: dict[str, Any],
    *,
    on: date | None = None,
    after: int = 0,
    chunk: int = 500,
    page: int = RECIPIENT_PAGE,
) -> Iterator[tuple[int, list[str]]]:
    """The LINE user ids the segment reaches, in chunks of at most ``chunk``, each with the last
    resident id it holds: ordered by resident id, so a fan-out that stopped part-way continues
    ``after`` the last id it materialised.

    Read in keyset pages of ``page`` residents (``resident_id > last ORDER BY resident_id
    LIMIT page``), so the first chunk is out after one page whatever the audience's size, and no
    query holds the whole audience. Only friends following at this moment are returned (a last
    check beside the index).
    """
    compiler = _compiler(on)
    pending: list[str] = []
    last = after
    while True:
        sql, params = compiler.page(definition, after=last, limit=page)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for resident_id, user_id in rows:
            if user_id is None:
                continue  # no longer following
            pending.append(str(user_id))
            if len(pending) == chunk:
                yield int(resident_id), pending
                pending = []
        if rows:
            last = int(rows[-1][0])
        if len(rows) < page:
            break
    if pending:
        yield last, pending


def recipients(
    definition: dict[str, Any], *, on: date | None = None, chunk: int = 500
) -> Iterator[list[str]]:
    """The LINE user ids the segment reaches, in chunks of at most ``chunk`` (for the outbox)."""
    for _last, ids in recipient_chunks(definition, on=on, chunk=chunk):
        yield ids


# --- in words, for staff ---------------------------------------------------------------------

MATCH_WORDS = {"any": "のどれか", "all": "のすべて", "none": "のどれでもない"}


def _describe_condition(node: dict[str, Any], fields: dict[str, FieldInfo]) -> str:
    info = fields.get(node.get("field", ""))
    label = info.label if info else "（削除された項目）"
    if node["type"] == "choice":
        names = [info.choice_label(code) if info else code for code in node["codes"]]
        if len(names) == 1 and node["match"] != "none":
            return f"{label}が「{names[0]}」"
        quoted = "・".join(f"「{name}」" for name in names)
        return f"{label}が{quoted}{MATCH_WORDS[node['match']]}"
    if node["type"] == "age":
        low, high = node.get("min"), node.get("max")
        if low is not None and high is not None:
            return f"年齢が{low}歳〜{high}歳"
        if low is not None:
            return f"年齢が{low}歳以上"
        return f"年齢が{high}歳以下"
    after, before = node.get("after"), node.get("before")
    parts = [f"{after}以降" if after else "", f"{before}以前" if before else ""]
    return "友だち追加が" + "、".join(part for part in parts if part)


def describe(definition: dict[str, Any] | None, fields: dict[str, FieldInfo] | None = None) -> str:
    """A segment in Japanese: 「（居住地区が「盛町」 または 勤務先…）かつ 年齢が60歳以上」."""
    if definition is None:
        return "友だち全員"
    fields = attribute_fields() if fields is None else fields

    def node_text(node: dict[str, Any], *, nested: bool) -> str:
        if "op" not in node:
            return _describe_condition(node, fields)
        texts = [node_text(item, nested=True) for item in node["items"]]
        if not texts:
            return "受信設定を登録した友だち全員"
        joined = (" かつ " if node["op"] == "and" else " または ").join(texts)
        return f"（{joined}）" if nested and len(texts) > 1 else joined

    return node_text(definition, nested=False)
