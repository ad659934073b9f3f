"""Create the single chain-head row every append locks."""

from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("oplog", "OperationLogChain").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("oplog", "0001_initial")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
