"""Re-encrypt stored values under the first key of ``KAIRAN_FIELD_KEYS``.

Run it after putting a new key first (and before removing the old one), and once
after upgrading from the Fernet format. It visits every concrete
``EncryptedTextField``/``EncryptedJSONField`` column of every installed model and
rewrites each value that ``crypto.needs_rotation`` flags (legacy Fernet, an
older key, or never encrypted). Values are read raw (cast to text, so the field
does not decrypt them on the way out) and written raw (a plain text value, so
the field does not encrypt them again). Each batch is its own transaction with
its rows locked, so a run can be stopped and started again; a second run finds
nothing left to do. Values that cannot be decrypted are left as they are and
reported; the command then fails so the old key is not dropped by mistake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast

from kairan.core import crypto

RAW = "kairan_raw_value"


@dataclass
class Tally:
    legacy: int = 0
    old_key: int = 0
    plain: int = 0
    failed: list[Any] = field(default_factory=list)  # primary keys

    @property
    def rotated(self) -> int:
        return self.legacy + self.old_key + self.plain


def encrypted_columns() -> Iterator[tuple[type[models.Model], crypto.EncryptedField]]:
    """Each concrete encrypted column once (proxies and inherited parents' columns skipped)."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, crypto.EncryptedTextField | crypto.EncryptedJSONField):
                yield model, model_field


def rotate_column(
    model: type[models.Model], column: crypto.EncryptedField, *, dry_run: bool, batch_size: int
) -> Tally:
    """Re-encrypt one column's values that need it, ``batch_size`` rows per transaction."""
    context = column.crypto_context()
    manager = model._base_manager
    raw = manager.annotate(**{RAW: Cast(column.name, output_field=models.TextField())})
    pending = raw.filter(**{f"{RAW}__isnull": False}).exclude(**{RAW: ""})
    pending = pending.exclude(**{f"{RAW}__startswith": f"{crypto.PREFIX}{crypto.current_key_id()}:"})
    tally, last_pk = Tally(), None
    while True:
        with transaction.atomic():
            batch = pending.order_by("pk").select_for_update()
            if last_pk is not None:
                batch = batch.filter(pk__gt=last_pk)
            rows = list(batch.values_list("pk", RAW)[:batch_size])
            for pk, stored in rows:
                if not crypto.needs_rotation(stored):
                    continue
                try:
                    text = crypto.decrypt(stored, context=context)
                except crypto.DecryptionError:
                    tally.failed.append(pk)
                    continue
                if stored.startswith(crypto.LEGACY_PREFIX):
                    tally.legacy += 1
                elif stored.startswith(crypto.PREFIX):
                    tally.old_key += 1
                else:
                    tally.plain += 1
                if not dry_run:
                    fresh = models.Value(
                        crypto.encrypt(text, context=context), output_field=models.TextField()
                    )
                    manager.filter(pk=pk).update(**{column.name: fresh})
        if len(rows) < batch_size:
            return tally
        last_pk = rows[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt encrypted model fields under the first key of KAIRAN_FIELD_KEYS (AES-256-GCM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (500)")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        batch_size = max(1, int(options["batch_size"]))
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"Current key id: {crypto.current_key_id()}{' (dry run)' if dry_run else ''}")
        failures: list[str] = []
        for model, column in encrypted_columns():
            tally = rotate_column(model, column, dry_run=dry_run, batch_size=batch_size)
            name = f"{model._meta.label}.{column.name}"
            self.stdout.write(
                f"{name}: {verb} {tally.rotated} (legacy Fernet {tally.legacy}, older key {tally.old_key}, "
                f"unencrypted {tally.plain}), undecryptable {len(tally.failed)}"
            )
            if tally.failed:
                failures.append(f"{name} pk {', '.join(map(str, tally.failed[:10]))}")
        self.stdout.write("Encrypted files are not covered yet: only model fields were checked.")
        if failures:
            raise CommandError(
                "Some values cannot be decrypted with KAIRAN_FIELD_KEYS (wrong or missing key); "
                f"keep the old key until they are fixed: {'; '.join(failures)}"
            )
