"""Hashing and verification of the operation-log chain.

An entry's hash is SHA-256 over the previous entry's hash and a canonical JSON
form of the entry's own fields. Verification walks the entries in sequence
order and reports the first entry whose link, content or position is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from kairan.oplog.models import GENESIS_HASH, OperationLogChain, OperationLogEntry

HASHED_FIELDS = (
    "sequence",
    "timestamp",
    "category",
    "action",
    "actor_id",
    "username",
    "ip_address",
    "object_type",
    "object_id",
    "object_label",
    "path",
    "data",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def normalise_data(data: dict[str, Any] | None) -> dict[str, Any]:
    """The form ``data`` has after a round trip through the database's JSON column."""
    result: dict[str, Any] = json.loads(canonical_json(data or {}))
    return result


def _timestamp_text(value: datetime) -> str:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["timestamp"] = _timestamp_text(payload["timestamp"])
    payload["data"] = normalise_data(payload["data"])
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(payload).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Problem:
    entry_id: int | None
    sequence: int
    timestamp: datetime | None
    action: str
    reason: str

    def describe(self) -> str:
        when = timezone.localtime(self.timestamp).strftime("%Y-%m-%d %H:%M:%S") if self.timestamp else "-"
        where = (
            f"ID {self.entry_id}、通し番号 {self.sequence}" if self.entry_id else f"通し番号 {self.sequence}"
        )
        return f"{where}（{when} {self.action}）: {self.reason}"


@dataclass(frozen=True)
class Verification:
    checked: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is None:
            return f"操作ログ {self.checked}件のハッシュチェーンは正常です。"
        return f"操作ログのハッシュチェーンが壊れています。最初の異常: {self.problem.describe()}"


def _rows(chunk_size: int) -> Iterator[dict[str, Any]]:
    fields = ("id", *HASHED_FIELDS, "prev_hash", "hash")
    yield from OperationLogEntry.objects.order_by("sequence").values(*fields).iterator(chunk_size=chunk_size)


def verify_chain(*, chunk_size: int = 2000) -> Verification:
    """Walk the whole chain; return the first problem found, if any."""
    head = OperationLogChain.objects.get_or_create(pk=1)[0]
    expected_sequence = head.anchor_sequence + 1
    expected_prev = head.anchor_hash or GENESIS_HASH
    checked = 0
    for row in _rows(chunk_size):
        problem = None
        if row["sequence"] != expected_sequence:
            problem = (
                f"通し番号 {expected_sequence} から {row['sequence'] - 1} の記録が削除されています。"
                if row["sequence"] > expected_sequence
                else "通し番号が重複または逆転しています。"
            )
        elif row["prev_hash"] != expected_prev:
            problem = (
                "直前の記録とのつながり（直前のハッシュ）が一致しません。記録が削除・差し替えられています。"
            )
        elif entry_hash(row["prev_hash"], row) != row["hash"]:
            problem = "記録の内容がハッシュと一致しません。この記録は書き換えられています。"
        if problem:
            return Verification(
                checked, Problem(row["id"], row["sequence"], row["timestamp"], row["action"], problem)
            )
        checked += 1
        expected_sequence = row["sequence"] + 1
        expected_prev = row["hash"]
    if head.last_sequence != expected_sequence - 1 or head.last_hash != expected_prev:
        missing_from = expected_sequence
        return Verification(
            checked,
            Problem(
                None,
                missing_from,
                None,
                "-",
                f"最後の記録（通し番号 {head.last_sequence}）までがそろっていません。"
                "末尾の記録が削除されています。",
            ),
        )
    return Verification(checked, None)
