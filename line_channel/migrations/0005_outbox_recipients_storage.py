"""PostgreSQL: store outbox recipient lists without compression.

A multicast item's recipients are 500 random LINE user ids (~17 KB of JSON): compressing them on
every insert cost a fan-out about a quarter of its write time and saves little space. SQLite has
no such setting.
"""

from django.db import migrations


def uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE line_channel_outboxitem ALTER COLUMN recipients SET STORAGE EXTERNAL"
        )


def compressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE line_channel_outboxitem ALTER COLUMN recipients SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [("line_channel", "0004_liff_id")]

    operations = [migrations.RunPython(uncompressed, compressed)]
