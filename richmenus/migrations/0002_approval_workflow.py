"""The リッチメニューの承認 workflow: the same step as 配信の承認 (a 承認者 other than the author),
assigned to menu sets: what every friend sees changes only with a second person's approval."""

from typing import Any

from django.db import migrations

WORKFLOW = "リッチメニューの承認"
TASK = "承認者による承認（作成者以外）"


def create_workflow(apps: Any, schema_editor: Any) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    WorkflowContentType = apps.get_model("wagtailcore", "WorkflowContentType")
    DeliveryApprovalTask = apps.get_model("deliveries", "DeliveryApprovalTask")

    menu_set_type, _ = ContentType.objects.get_or_create(app_label="richmenus", model="menuset")
    task = DeliveryApprovalTask.objects.get(name=TASK)
    workflow, _ = Workflow.objects.get_or_create(name=WORKFLOW, defaults={"active": True})
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowContentType.objects.update_or_create(content_type=menu_set_type, defaults={"workflow": workflow})


class Migration(migrations.Migration):
    dependencies = [
        ("richmenus", "0001_initial"),
        ("deliveries", "0002_approval_workflow"),
    ]

    operations = [migrations.RunPython(create_workflow, migrations.RunPython.noop)]
